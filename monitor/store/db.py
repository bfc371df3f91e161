"""Engines and connection settings.

SQLite (the single-process default): WAL so readers never block the writer,
``busy_timeout`` so a briefly locked file waits instead of failing, and
``BEGIN IMMEDIATE`` for every transaction: pysqlite's default deferred
transactions let two read-modify-write transactions both read and then one
lose its update (verified on this stack; see the SQLAlchemy "pysqlite
serializable" recipe).  PostgreSQL (several workers) via psycopg 3.
"""

from __future__ import annotations

import threading
import weakref
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
        _report_storage_problems(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)
        _report_storage_problems(engine)
        return engine
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


# ------------------------------------------------------- storage problems
#
# A read-only, full, locked or damaged database is not a bug in a query: the
# user has to act, and the driver's message ("attempt to write a readonly
# database [SQL: BEGIN IMMEDIATE]") names neither the database nor the fix.
# These are re-raised as StorageError("store: <database>: <problem> (...);
# <what to do>") so the scheduler's log line, a feed's poll outcome and
# `monitor status` say it plainly (tests/test_faults_database.py).  Matched by
# SQLite result code name (Python >= 3.11) and PostgreSQL SQLSTATE, never by
# message text; anything else passes through unchanged.

_SQLITE_PROBLEMS: tuple[tuple[str, str, str, bool], ...] = (
    # (result code prefix, problem, what to do, temporary)
    ("SQLITE_READONLY", "the database is read-only",
     "check the permissions of the file and its directory and that the filesystem is mounted read-write", True),
    ("SQLITE_FULL", "the disk is full", "free space on the disk that holds the database", True),
    ("SQLITE_BUSY", "the database is locked by another connection",
     "another process holds a write transaction open (a second monitor on the same file, or a sqlite3 "
     "shell inside BEGIN); stop it", True),
    ("SQLITE_LOCKED", "the database is locked by another connection", "retry; if it persists, restart monitor", True),
    ("SQLITE_CANTOPEN", "the database file cannot be opened",
     "check that the file and its directory exist and that monitor may write to both (SQLite creates "
     "-wal and -shm files beside it: a read-only directory or file system stops it)", True),
    ("SQLITE_IOERR", "a disk I/O error", "check the disk and the filesystem (dmesg)", True),
    ("SQLITE_CORRUPT", "the database file is damaged", "restore a backup (sqlite3's .recover saves most data)", False),
    ("SQLITE_NOTADB", "the file is not an SQLite database", "check database.url", False),
)
_POSTGRES_PROBLEMS: dict[str, tuple[str, str, bool]] = {
    "25006": ("the database is read-only (a read-only transaction or a hot standby)",
              "point database.url at the primary server", True),
    "53100": ("the database server's disk is full", "free space on the server", True),
    "53200": ("the database server is out of memory", "check the server", True),
    "55P03": ("a lock could not be taken in time", "another session holds it; retry", True),
    "57P03": ("the database server is starting up or shutting down", "wait for it", True),
    "XX001": ("the database is damaged", "restore a backup", False),
    "XX002": ("an index is damaged", "REINDEX it", False),
}


#: the SQLite engines of this process by database file (the daemon's writer,
#: the web's reader): they share SQLite's per-file state
_sqlite_engines: dict[str, "weakref.WeakSet[Engine]"] = {}
_sqlite_engines_lock = threading.Lock()


def _close_idle_connections(engine: Engine) -> None:
    path = engine.url.database
    with _sqlite_engines_lock:
        engines = list(_sqlite_engines.get(path or "", ()))
    for other in engines or [engine]:
        other.dispose()  # idle connections close now, busy ones when returned


def _report_storage_problems(engine: Engine) -> None:
    if engine.url.get_backend_name() == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with _sqlite_engines_lock:
            _sqlite_engines.setdefault(engine.url.database, weakref.WeakSet()).add(engine)

    @event.listens_for(engine, "handle_error")
    def _translate(ctx: Any) -> StorageError | None:
        if ctx.is_pre_ping or ctx.is_disconnect:
            return None  # the pool's reconnect logic needs the original
        orig = ctx.original_exception
        found: tuple[str, str, bool] | None = None
        code = getattr(orig, "sqlite_errorname", None)
        if isinstance(code, str):
            found = next(((what, fix, temp) for prefix, what, fix, temp in _SQLITE_PROBLEMS
                          if code.startswith(prefix)), None)
            if found and code.startswith("SQLITE_BUSY"):
                found = (f"{found[0]} (waited {SQLITE_BUSY_TIMEOUT_MS / 1000:g}s)", found[1], found[2])
        state = getattr(orig, "sqlstate", None)
        if found is None and isinstance(state, str):
            found = _POSTGRES_PROBLEMS.get(state)
        if found is None:
            return None
        what, fix, temporary = found
        if isinstance(code, str) and code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR")):
            # SQLite opens a file it may not write read-only, and every
            # connection of this process to that file shares its WAL index:
            # while one connection made during the fault stayed open, writes
            # failed even after the file was fixed (seen; the daemon needed a
            # restart).  Close them all so the next transaction starts afresh.
            ctx.is_disconnect = True
            # SQLAlchemy leaves a "disconnected" cursor open, and its statement
            # keeps the SQLite connection alive (sqlite3_close_v2 waits for it)
            # for as long as the traceback lives
            # (ExceptionContext.cursor is declared but never set in 2.1)
            cursor = getattr(ctx.execution_context, "cursor", None)
            if cursor is not None:
                try:
                    cursor.close()
                except Exception:  # noqa: BLE001 - closing what already failed
                    pass
            _close_idle_connections(engine)
        where = engine.url.render_as_string(hide_password=True)
        if engine.url.get_backend_name() == "sqlite" and engine.url.database:
            where = engine.url.database
        err = StorageError(f"store: {where}: {what} ({type(orig).__name__}: {orig}); {fix}")
        err.temporary = temporary
        return err
