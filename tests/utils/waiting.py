"""Waiting for something another process or thread does, bounded in time."""

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

from tests.utils.processes import TIMEOUT


def _turns(what: str, timeout: float, details: Callable[[], str] | None) -> Iterator[None]:
    """One turn per look at the condition, until `timeout` seconds have passed; then fail, naming
    `what` and adding `details()` (a worker's log, say). No test asserts on how long it took."""
    deadline = time.monotonic() + timeout
    while time.monotonic() <= deadline:
        yield
    extra = f"\n{details()}" if details is not None else ""
    raise AssertionError(f"gave up waiting for {what}{extra}")


def wait_until(
    condition: Callable[[], Any],
    what: str,
    *,
    timeout: float = TIMEOUT,
    interval: float = 0.02,
    details: Callable[[], str] | None = None,
) -> None:
    """Poll until `condition()` is true."""
    for _ in _turns(what, timeout, details):
        if condition():
            return
        time.sleep(interval)


async def wait_until_async(condition: Callable[[], Any], what: str, interval: float = 0.02) -> None:
    """`wait_until` from async code: the loop goes on (and the wait can be cancelled)."""
    for _ in _turns(what, TIMEOUT, None):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(interval)
