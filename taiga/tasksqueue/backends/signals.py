"""Sending Django's task signals from an event loop (the worker's, or an async enqueue's).

Django's `Signal.asend` runs sync receivers through `sync_to_async`, a thread hop that costs about
0.1 ms of CPU, because a sync receiver may use the ORM, which refuses to run on an event loop. The
receivers Django itself connects to the task signals only log; while they are the only ones, they
are called on the loop directly. Any other receiver gets Django's own `asend`.
"""

from typing import Any

from django.dispatch import Signal
from django.tasks.signals import log_task_enqueued, log_task_finished, log_task_started

# Django's receivers are kept under a lookup key whose first half is the receiver's id.
_LOGGING_ONLY = frozenset(map(id, (log_task_enqueued, log_task_started, log_task_finished)))


def loop_safe(signal: Signal) -> bool:
    """Whether every receiver of `signal` may run on an event loop: Django's logging ones only
    (any other, whatever its sender, is taken for one that may not)."""
    return all(lookup_key[0] in _LOGGING_ONLY for lookup_key, *_ in signal.receivers)


async def send_from_loop(signal: Signal, sender: type, **named: Any) -> None:
    if loop_safe(signal):
        signal.send(sender, **named)
    else:
        await signal.asend(sender, **named)
