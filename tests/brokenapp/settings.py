from taiga.conf.settings import *  # noqa: F403
from taiga.conf.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.brokenapp"]
