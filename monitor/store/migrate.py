"""Schema migrations (Alembic), run by `monitor db upgrade` and at `monitor run` start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from ..errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
#: arbitrary constant naming the PostgreSQL advisory lock held while migrating
MIGRATION_LOCK_ID = 7_231_000


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision``.  Safe to run at every start."""
    cfg = alembic_config(engine)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # several workers starting at once on a fresh database must
                # not race to create the tables: one migrates, the others wait
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except Exception as e:
        raise StorageError(f"store: migrating {engine.url.render_as_string(hide_password=True)} failed: {e}") from e


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
