"""The project's log formatter."""

import logging
import time


class Formatter(logging.Formatter):
    """`logging.Formatter`, with the text of `%(asctime)s` worked out once per second.

    The time text depends only on the second (the milliseconds are appended to it), and working it
    out for every line (`time.localtime`, `time.strftime`) was a seventh of the cost of a worker's
    job line (`python -m benchmarks.tools.micro`): a busy worker writes thousands a second. The
    output is the same as `logging.Formatter`'s.
    """

    # (second, date format, text), replaced as a whole: handlers in several threads may share a
    # formatter.
    _last: tuple[int, str | None, str] = (-1, None, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        last_second, last_format, text = self._last
        if second != last_second or datefmt != last_format:
            text = time.strftime(datefmt or self.default_time_format, self.converter(second))
            self._last = (second, datefmt, text)
        if datefmt or not self.default_msec_format:
            return text
        return self.default_msec_format % (text, record.msecs)
