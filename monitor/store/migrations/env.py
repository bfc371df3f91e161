"""Alembic environment: runs against the engine monitor passes in
(``config.attributes["connection"]``) or the URL in ``sqlalchemy.url``."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from monitor.store import models  # noqa: F401  (registers the tables)
from monitor.store.models import metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode copies the table
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool, url=config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
