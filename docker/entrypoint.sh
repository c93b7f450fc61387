#!/bin/sh
# Entry point of the taiga.tasksqueue image: refuse unsafe production settings, then run the
# container's command (CMD, or `command:` in docker-compose.yml) in place of this shell.
set -eu

if [ -z "${DATABASE_URL:-}" ]; then
    echo "taiga-entrypoint: DATABASE_URL is not set." >&2
    echo "  The embedded PostgreSQL is for local development only; in a container, point" >&2
    echo "  DATABASE_URL at a PostgreSQL server, e.g. postgres://user:password@host:5432/name" >&2
    exit 1
fi

# Errors fail (e.g. taiga.E001: SECRET_KEY is the built-in development key); warnings are
# printed but do not stop the container.
if ! python manage.py check --deploy --fail-level ERROR; then
    echo "taiga-entrypoint: refusing to start: fix the errors above." >&2
    echo "  For SECRET_KEY, set it to a long random value, for example the output of" >&2
    echo "  python3 -c 'import secrets; print(secrets.token_urlsafe(50))'" >&2
    exit 1
fi

exec "$@"
