"""A task's calls as the JSON documents its jobs store.

Positional and keyword arguments are bound to the function's signature, as a call would bind them,
so a call that would fail in the worker fails where it is made, with the task's name in the error.
Values are encoded as Django encodes JSON (datetime, date, time, timedelta, UUID, Decimal and lazy
strings become strings, which the task receives back); anything else is refused with an error
naming the task and the argument, so a job is never half-written or written with a lossy repr.
"""

import inspect
import json
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from django.core.serializers.json import DjangoJSONEncoder

from taiga.tasksqueue.defer.options import storable_text
from taiga.tasksqueue.exceptions import ArgumentNotSerializable, ArgumentsTooLarge

# One item of `defer_many`: a dict of keyword arguments, or a tuple of positional arguments.
CallArguments = Mapping[str, Any] | tuple[Any, ...]

# json.dumps(cls=...) builds an encoder per call; an encoder keeps no state between calls.
_ENCODER = DjangoJSONEncoder(allow_nan=False, separators=(",", ":"))


class Batch(NamedTuple):
    document: str  # a JSON array of the calls' arguments, one object per job, in order
    size: int


class TaskArguments:
    def __init__(self, task_name: str, signature: inspect.Signature) -> None:
        self.task_name = task_name
        self.signature = signature
        parameters = signature.parameters.values()
        self._var_keyword = next((p.name for p in parameters if p.kind is p.VAR_KEYWORD), None)
        # Most tasks take plain parameters (no *args, **kwargs, positional- or keyword-only):
        # calls to them with positional or with keyword arguments alone are bound here, several
        # times faster than Signature.bind, which still binds (and words the errors of) the rest.
        plain = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters)
        self._names = tuple(signature.parameters) if plain else None
        self._known = frozenset(signature.parameters)
        self._required = frozenset(p.name for p in parameters if p.default is p.empty)

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Map a call's arguments to parameter names, as the worker will pass them."""
        names = self._names
        if names is not None:
            if not kwargs and len(self._required) <= len(args) <= len(names):
                return dict(zip(names, args, strict=False))
            if not args and self._required <= kwargs.keys() <= self._known:
                return {name: kwargs[name] for name in names if name in kwargs}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"Task {self.task_name!r} cannot be deferred with these arguments: {exc} "
                f"(its parameters are {self.signature})."
            ) from None
        arguments = dict(bound.arguments)
        if self._var_keyword in arguments:
            arguments.update(arguments.pop(self._var_keyword))
        return arguments

    def encode(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], max_bytes: int) -> str:
        return dump_arguments(self.task_name, self.bind(args, kwargs), max_bytes)

    def encode_many(self, calls: Iterable[CallArguments], max_bytes: int) -> Batch:
        """The calls' arguments in one document; every call is checked before any is kept.

        One encoding of the whole list costs a fraction of one per call. A call's object is part
        of the array, so when the array is within `max_bytes` and holds no text PostgreSQL would
        refuse, so is each call's; otherwise each call is encoded alone to find the one at fault.
        """
        arguments = [self._bind_call(call) for call in calls]
        try:
            document = _ENCODER.encode(arguments)
        except (TypeError, ValueError):
            document = ""
        if not document or _may_hold_unstorable_text(document) or len(document) > max_bytes:
            each = [dump_arguments(self.task_name, call, max_bytes) for call in arguments]
            document = f"[{','.join(each)}]"
        return Batch(document, len(arguments))

    def _bind_call(self, call: CallArguments) -> dict[str, Any]:
        if isinstance(call, tuple):
            return self.bind(call, {})
        if isinstance(call, Mapping):
            return self.bind((), call)
        raise TypeError(
            f"Task {self.task_name!r}: defer_many() takes dicts of keyword arguments or "
            f"tuples of positional arguments, not {type(call).__name__}."
        )


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


def _unstorable(value: Any) -> bool:
    """Whether PostgreSQL's jsonb would refuse text in `value` (a NUL, a lone surrogate)."""
    if isinstance(value, str):
        return not storable_text(value)
    if isinstance(value, dict):
        return any(_unstorable(key) or _unstorable(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_unstorable(item) for item in value)
    return False


def _refuse_unstorable_text(task_name: str, arguments: dict[str, Any]) -> None:
    for name, value in arguments.items():
        if _unstorable(value):
            raise ArgumentNotSerializable(
                f"Task {task_name!r}: argument {name!r} holds a NUL character or a lone "
                "surrogate, which PostgreSQL cannot store. Remove it (or encode the data, e.g. "
                "as base64) before deferring."
            )


def _may_hold_unstorable_text(document: str) -> bool:
    # ensure_ascii (json's default) writes NUL as \u0000 and surrogates as \udXXX (characters
    # beyond the BMP too, as pairs): only then is there anything to look for.
    return "\\u0000" in document or "\\ud" in document


def dump_arguments(task_name: str, arguments: dict[str, Any], max_bytes: int) -> str:
    """Return `arguments` as a JSON document, or raise naming the argument that does not fit."""
    try:
        document = _ENCODER.encode(arguments)
    except (TypeError, ValueError):
        raise _refusal(task_name, arguments) from None
    if _may_hold_unstorable_text(document):
        _refuse_unstorable_text(task_name, arguments)
    # ensure_ascii also makes the length in characters the length in bytes.
    if len(document) > max_bytes:
        raise ArgumentsTooLarge(
            f"Task {task_name!r}: arguments are {len(document)} bytes of JSON, over the "
            f"{max_bytes} byte limit (TASKSQUEUE_MAX_ARGS_BYTES). Store the data and pass its id."
        )
    return document
