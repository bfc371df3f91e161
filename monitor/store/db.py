"""Engines and connection settings.

SQLite (the single-process default): WAL so readers never block the writer,
``busy_timeout`` so a briefly locked file waits instead of failing, and
``BEGIN IMMEDIATE`` for every transaction: pysqlite's default deferred
transactions let two read-modify-write transactions both read and then one
lose its update (verified on this stack; see the SQLAlchemy "pysqlite
serializable" recipe).  PostgreSQL (several workers) via psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

from ..errors import StorageError

#: milliseconds a writer waits for a lock before SQLite says "database is locked"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url_or_engine: str | Engine) -> bool:
    url = url_or_engine.url if isinstance(url_or_engine, Engine) else make_url(url_or_engine)
    return url.get_backend_name() == "sqlite"


def make_engine(url: str, *, echo: bool = False, read_only: bool = False) -> Engine:
    """Create an engine for ``url`` with the settings monitor relies on.

    ``read_only`` engines (the web site, reporting commands) begin SQLite
    transactions DEFERRED: a reader must not take the write lock that
    BEGIN IMMEDIATE takes, or every page view would stall the poller."""
    try:
        parsed = make_url(url)
    except Exception as e:  # sqlalchemy.exc.ArgumentError
        raise StorageError(
            f"store: cannot read the database URL {url!r}: {e}; expected e.g. "
            "sqlite:///data/monitor.db or postgresql+psycopg://user@host/dbname"
        ) from e
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _sqlite_pragmas(engine, immediate=not read_only)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)
    raise StorageError(f"store: unsupported database {backend!r} in {url!r}; use sqlite or postgresql")


def _sqlite_pragmas(engine: Engine, *, immediate: bool = True) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # take transaction control away from pysqlite so BEGIN IMMEDIATE is ours
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL is durable across application crashes (only an OS crash
        # may lose the last transactions): https://www.sqlite.org/pragma.html#pragma_synchronous
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
