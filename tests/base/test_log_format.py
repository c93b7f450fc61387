"""The project's formatter writes what logging's own writes, with the time text reused within a
second."""

import logging
import time

import pytest

from taiga.base.log_format import Formatter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def record_at(created: float) -> logging.LogRecord:
    record = logging.LogRecord("taiga.x", logging.INFO, __file__, 1, "at %s", (created,), None)
    record.created = created
    record.msecs = (created - int(created)) * 1000 // 1 + 0.0
    return record


# Within one second, across seconds (and a minute and an hour), then back to an earlier second.
MOMENTS = [1_790_000_000.001, 1_790_000_000.999, 1_790_000_001.5, 1_790_003_600.25, 1_790_000_000.5]


@pytest.mark.parametrize(
    ("datefmt", "converter"),
    [(None, time.localtime), ("%Y-%m-%dT%H:%M:%S", time.localtime), (None, time.gmtime)],
)
def test_it_formats_every_record_as_loggings_own_formatter_does(datefmt, converter):
    ours, reference = Formatter(FORMAT, datefmt), logging.Formatter(FORMAT, datefmt)
    ours.converter = reference.converter = converter

    lines = [(ours.format(record_at(t)), reference.format(record_at(t))) for t in MOMENTS]

    assert [mine for mine, _ in lines] == [theirs for _, theirs in lines]
    # The date and time to the second: three seconds among the five records.
    assert len({mine[:19] for mine, _ in lines}) == 3


def test_the_projects_logging_uses_it():
    # The project's console handler (pytest adds handlers of its own next to it).
    formatters = [type(handler.formatter) for handler in logging.getLogger().handlers]

    assert Formatter in formatters
