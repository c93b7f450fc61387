"""Encoding of task arguments.

Arguments are stored as JSON. Values Django's JSON encoder knows (datetime, date, time, timedelta,
UUID, Decimal, lazy strings) are encoded as strings, exactly as Django encodes them elsewhere; the
task receives those strings back. Anything else is refused at defer time with an error naming the
task and the argument, so a job is never half-written or written with a lossy repr.
"""

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from taiga.tasksqueue.exceptions import ArgumentNotSerializable, ArgumentsTooLarge


def _refusal(task_name: str, arguments: dict[str, Any]) -> ArgumentNotSerializable:
    """The error naming the first argument that JSON cannot hold (looked for only on failure)."""
    for name, value in arguments.items():
        try:
            json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return ArgumentNotSerializable(
                f"Task {task_name!r}: argument {name!r} ({type(value).__name__}) cannot be "
                f"stored as JSON ({exc}). Pass plain values instead, e.g. an id rather than "
                "an object."
            )
    return ArgumentNotSerializable(f"Task {task_name!r}: the arguments cannot be stored as JSON.")


def dump_arguments(task_name: str, arguments: dict[str, Any], max_bytes: int) -> str:
    """Return `arguments` as a JSON document, or raise naming the argument that does not fit."""
    try:
        document = json.dumps(
            arguments, cls=DjangoJSONEncoder, allow_nan=False, separators=(",", ":")
        )
    except (TypeError, ValueError):
        raise _refusal(task_name, arguments) from None
    # ensure_ascii (json's default) makes the length in characters the length in bytes.
    if len(document) > max_bytes:
        raise ArgumentsTooLarge(
            f"Task {task_name!r}: arguments are {len(document)} bytes of JSON, over the "
            f"{max_bytes} byte limit (TASKSQUEUE_MAX_ARGS_BYTES). Store the data and pass its id."
        )
    return document
