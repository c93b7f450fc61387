"""Django settings of the project, assembled from one module per concern."""

from taiga.conf.database import *  # noqa: F403
from taiga.conf.env import BASE_DIR, env
from taiga.conf.tasksqueue import *  # noqa: F403

# A known development key: `manage.py check --deploy` refuses it (taiga.E001).
DEVELOPMENT_SECRET_KEY = "django-insecure-taiga-development-key-do-not-use-in-production"

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "procrastinate.contrib.django",
    "taiga.base",
    "taiga.tasksqueue",
    "taiga.emails",
    "taiga.users",
]

# taiga.tasksqueue imports task modules itself, in a fixed order, and reports failures as system
# checks; Procrastinate's own autodiscovery would import them earlier and crash on the first error.
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "taiga.urls"
WSGI_APPLICATION = "taiga.wsgi.application"
ASGI_APPLICATION = "taiga.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"

_email_backend = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
MAILERS = {
    "default": {
        "BACKEND": _email_backend,
        "OPTIONS": (
            {"host": env.str("EMAIL_HOST", default="localhost"), "port": env.int("EMAIL_PORT", 25)}
            if _email_backend.endswith("smtp.EmailBackend")
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="taiga@localhost")

# TASKSQUEUE_LOG_FORMAT=json: one JSON object per line, for log aggregation (docs/observability.md).
_log_formatters = {"text": "plain", "json": "json"}
_log_format = env.str("TASKSQUEUE_LOG_FORMAT", default="text")
if _log_format not in _log_formatters:
    raise SystemExit(
        f"TASKSQUEUE_LOG_FORMAT must be text or json, got {_log_format!r}; unset it for text lines."
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "taiga.base.log_format.Formatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
        "json": {"()": "taiga.tasksqueue.observability.json_logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": _log_formatters[_log_format]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    "loggers": {
        "taiga": {"level": env.str("TAIGA_LOG_LEVEL", default="INFO"), "propagate": True},
        # Django's receivers of the task signals log every job's start and end at INFO, which
        # the worker's own `job started` / `job ended` lines already say (with the traceback of a
        # failure): by default only their failures (ERROR) are shown.
        "django.tasks": {"level": env.str("DJANGO_TASKS_LOG_LEVEL", default="WARNING")},
    },
}
