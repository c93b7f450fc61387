"""Database settings.

`DATABASE_URL` wins when it is set. Without it the project uses an embedded PostgreSQL that lives in
a git-ignored folder of the project and starts on the first connection (see
`taiga.base.db.embedded`).
"""

from typing import Any

from taiga.conf.env import BASE_DIR, env

EMBEDDED_DB_DIR = env.path("EMBEDDED_DB_DIR", default=str(BASE_DIR / ".data" / "postgres"))
EMBEDDED_DB_NAME = env.str("EMBEDDED_DB_NAME", default="taiga")


def _databases() -> dict[str, dict[str, Any]]:
    if "DATABASE_URL" in env:
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
