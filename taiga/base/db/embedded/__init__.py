"""Django database backend for the embedded PostgreSQL (`ENGINE = "taiga.base.db.embedded"`)."""
