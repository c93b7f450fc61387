"""Database settings.

`DATABASE_URL` wins when it is set. Without it the project uses an embedded PostgreSQL that lives in
a git-ignored folder of the project and starts on the first connection (see
`taiga.base.db.embedded`).
"""

from typing import Any
from urllib.parse import urlsplit

from taiga.conf.env import BASE_DIR, env

EMBEDDED_DB_DIR = env.path("EMBEDDED_DB_DIR", default=str(BASE_DIR / ".data" / "postgres"))
EMBEDDED_DB_NAME = env.str("EMBEDDED_DB_NAME", default="taiga")

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
URL_FIX = (
    "set it like postgres://user:password@host:5432/dbname, or unset it to use the embedded "
    "PostgreSQL"
)


def _url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except ValueError as exc:
        return str(exc)
    if not parts.scheme:
        return "it has no scheme"
    if parts.scheme not in POSTGRES_SCHEMES:
        return f"scheme {parts.scheme!r} is not one of {', '.join(POSTGRES_SCHEMES)}"
    if not parts.path.strip("/"):
        return "it names no database"
    return None


def _databases() -> dict[str, dict[str, Any]]:
    if "DATABASE_URL" in env:
        problem = _url_problem(env.str("DATABASE_URL"))
        if problem is not None:
            # A settings module cannot raise an error Django reports in one line: exit with it.
            raise SystemExit(f"DATABASE_URL is not a usable PostgreSQL URL ({problem}); {URL_FIX}.")
        return {"default": env.db_url("DATABASE_URL")}
    return {
        "default": {
            "ENGINE": "taiga.base.db.embedded",
            "NAME": EMBEDDED_DB_NAME,
            "USER": "postgres",
            # HOST and PORT are filled in by the backend once the server runs.
            "HOST": "",
            "PORT": "",
        }
    }


DATABASES = _databases()
