"""Counting without counting everything: the jobs list on a table of millions of rows.

A full `COUNT(*)` of `procrastinate_jobs` reads every row (seconds on millions); the list needs to
know only whether there are more rows than it can page through. The count stops at `COUNT_CAP + 1`
rows, and the page says "more than" past it, as Oban's and Solid Queue's dashboards do.
"""

from typing import Any, cast

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 10_000

# Procrastinate's job statuses, in the order the pages show them.
STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborted")


class CappedPaginator(Paginator):  # type: ignore[type-arg]  # generic in django-stubs only
    @cached_property
    def count(self) -> int:
        """The rows, up to COUNT_CAP + 1 (`capped` says whether the count stopped there)."""
        rows = cast(QuerySet[Any], self.object_list)
        return int(rows[: COUNT_CAP + 1].count())

    @property
    def capped(self) -> bool:
        return self.count > COUNT_CAP
