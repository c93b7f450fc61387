"""Argument types and the parser of the `tasksqueue` command: one line per usage error."""

import argparse
from typing import NoReturn

from django.core.management.base import CommandParser


class OneLineErrorParser(CommandParser):
    """argparse prints its whole usage block before a usage error; one line naming the problem
    and pointing at --help is easier to read in a terminal or a container's log."""

    def error(self, message: str) -> NoReturn:
        if not self.called_from_command_line:
            super().error(message)  # raises CommandError, as call_command expects
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {value!r}")
    return number


def positive_seconds(value: str) -> float:
    number = seconds(value)
    if number == 0:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds, more than 0, got {value!r}"
        )
    return number


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1
    if not number >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got {value!r}")
    return number


def port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(
            f"expected a TCP port from 1 to 65535 (0: any free one), got {value!r}"
        )
    return number
