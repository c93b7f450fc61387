"""Tasks for the bad-input tests; names with quotes, unicode and SQL must be taken literally."""

from django.db import transaction

from taiga.tasksqueue.manager import manager as tqmanager

WEIRD = "q'\"ü; DROP TABLE procrastinate_jobs; --"


@tqmanager.task(name=f"tests.{WEIRD}", queue=WEIRD, lock=WEIRD)
def weird(value: int) -> int:
    return value


@tqmanager.task
def noted(label: str) -> str:
    return label


@tqmanager.task
def defer_then_roll_back(label: str) -> None:
    with transaction.atomic():
        noted.defer_sync(f"{label}: rolled back")
        transaction.set_rollback(True)
    noted.defer_sync(f"{label}: committed")


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.callback = lambda: None  # lambdas cannot be pickled


@tqmanager.task
def raise_unpicklable() -> None:
    raise Unpicklable("cannot be pickled")


@tqmanager.task
def raise_huge() -> None:
    raise ValueError("x" * 5_000_000)
