"""`python -m taiga <command>` is the same entry point as `./manage.py <command>`."""

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taiga.conf.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    # Django prints "manage.py" or "__main__.py" as the program name in usage lines; keep it
    # stable so both entry points show the same help.
    args[0] = "manage.py"
    execute_from_command_line(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
