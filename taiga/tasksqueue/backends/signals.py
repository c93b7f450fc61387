"""Sending Django's task signals from the worker and from async enqueues, cheaply.

A signal whose receivers are Django's logging ones only, while the `django.tasks` logger drops
what they would log, has nothing to do: the worker then neither builds the run's `TaskResult` nor
sends it (`observed`); what any receiver can see is the same.

Django's `Signal.send` resolves its receivers on every call (about 8 us with Django's own two),
and `Signal.asend` runs sync receivers through `sync_to_async`, a thread hop of about 0.1 ms of
CPU, because a sync receiver may use the ORM, which refuses to run on an event loop. The receivers
Django itself connects to the task signals only log: while they are the only ones, they are called
directly, from a thread or an event loop alike. Any other receiver gets Django's own `send` or
`asend`.
"""

import logging
import weakref
from typing import Any

from django.dispatch import Signal
from django.tasks.signals import log_task_enqueued, log_task_finished, log_task_started

# Django keeps a receiver under a lookup key whose first half is the receiver's id.
_LOGGING_ONLY = frozenset(map(id, (log_task_enqueued, log_task_started, log_task_finished)))


# The logger Django's receivers write to (INFO for a start or a success, ERROR for a failure).
_DJANGO_TASKS_LOGGER = logging.getLogger("django.tasks")


def _logging_only(signal: Signal) -> bool:
    return all(lookup_key[0] in _LOGGING_ONLY for lookup_key, *_ in signal.receivers)


def observed(signal: Signal, level: int) -> bool:
    """Whether sending `signal`, which Django's receivers would log at `level`, can have any
    effect."""
    return not _logging_only(signal) or _DJANGO_TASKS_LOGGER.isEnabledFor(level)


def send_directly(signal: Signal, sender: type, **named: Any) -> bool:
    """Call the receivers if they are Django's logging ones only; False: not sent, because some
    other receiver (whatever its sender) is connected."""
    if not _logging_only(signal):
        return False
    for _, receiver, _, _ in signal.receivers:
        # Kept as a weak reference unless connected with weak=False.
        function = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        if function is not None:
            function(signal=signal, sender=sender, **named)
    return True


def send(signal: Signal, sender: type, **named: Any) -> None:
    """`Signal.send`, for a caller where the ORM may run (a thread)."""
    if not send_directly(signal, sender, **named):
        signal.send(sender, **named)


async def send_from_loop(signal: Signal, sender: type, **named: Any) -> None:
    """`Signal.asend`, for a caller on an event loop."""
    if not send_directly(signal, sender, **named):
        await signal.asend(sender, **named)
