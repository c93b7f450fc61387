"""The one place the environment is read from.

Every settings module takes its values from `env`, so a variable's type and default live next to
the setting that uses it.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
