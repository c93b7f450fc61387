"""Database settings.

`DATABASE_URL` wins when it is set. Without it the project uses an embedded PostgreSQL that lives in
a git-ignored folder of the project and starts on the first connection (see
`taiga.base.db.embedded`).

A URL may list several hosts, as libpq reads them: `postgres://u@db1:5432,db2:5432/app?
target_session_attrs=read-write` connects to the first that accepts writes, so web processes and
workers follow a failover to a standby without a configuration change (docs/deployment.md).
"""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from psycopg import ProgrammingError
from psycopg.conninfo import conninfo_to_dict

from taiga.conf.env import BASE_DIR, env

EMBEDDED_DB_DIR = env.path("EMBEDDED_DB_DIR", default=str(BASE_DIR / ".data" / "postgres"))
EMBEDDED_DB_NAME = env.str("EMBEDDED_DB_NAME", default="taiga")

POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")
URL_FIX = (
    "set it like postgres://user:password@host:5432/dbname, or unset it to use the embedded "
    "PostgreSQL"
)


def _libpq_hosts(url: str) -> dict[str, str]:
    """The HOST and PORT libpq reads from a URL's hosts: `a:5433,b` is a on 5433 and b on the
    default port (django-environ would give both 5433), `[::1]` is ::1."""
    parts = urlsplit(url)
    # Only the hosts matter here; libpq refuses the query parameters that are Django's.
    hosts = conninfo_to_dict(urlunsplit(("postgresql", parts.netloc, "", "", "")))
    ports = str(hosts.get("port") or "")
    for port in ports.split(","):
        if port and not port.isdigit():
            raise ValueError(f"port {port!r} is not a number")
    # One empty entry per host says "the default port" as well as none does.
    return {"HOST": str(hosts.get("host") or ""), "PORT": ports if ports.strip(",") else ""}


def _several_hosts(url: str) -> bool:
    return "," in urlsplit(url).netloc.rpartition("@")[2]  # a password may hold a comma


def url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        if _several_hosts(url):
            _libpq_hosts(url)
        else:
            parts.port  # noqa: B018 (raises ValueError on a port that is not a number)
    except (ValueError, ProgrammingError) as exc:
        return str(exc).replace(url, "...")
    if not parts.scheme:
        return "it has no scheme"
    if parts.scheme not in POSTGRES_SCHEMES:
        return f"scheme {parts.scheme!r} is not one of {', '.join(POSTGRES_SCHEMES)}"
    if not parts.path.strip("/"):
        return "it names no database"
    return None


def database_from_url(url: str) -> dict[str, Any]:
    config: dict[str, Any] = env.db_url_config(url)
    if _several_hosts(url):
        config.update(_libpq_hosts(url))
    flag = config.get("DISABLE_SERVER_SIDE_CURSORS")
    if isinstance(flag, str):
        # django-environ leaves the query's text, and Django reads "false" as true.
        config["DISABLE_SERVER_SIDE_CURSORS"] = flag.strip().lower() in ("true", "1", "yes", "on")
    return config


def _databases() -> dict[str, dict[str, Any]]:
    if "DATABASE_URL" in env:
        problem = url_problem(env.str("DATABASE_URL"))
        if problem is not None:
            # A settings module cannot raise an error Django reports in one line: exit with it.
            raise SystemExit(f"DATABASE_URL is not a usable PostgreSQL URL ({problem}); {URL_FIX}.")
        return {"default": database_from_url(env.str("DATABASE_URL"))}
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
