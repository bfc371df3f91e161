"""Shared fixtures.

* ``db_url`` / ``engine``: one database fixture parametrised over SQLite (a
  file under tmp_path) and the real PostgreSQL server on 127.0.0.1:5432.
  PostgreSQL cases skip with the reason when no server answers, except under
  CI=true, where they fail: CI must test both backends.
* ``feed_server``: a real threaded HTTP server on 127.0.0.1 (tests/support/feedserver.py).
* ``make_settings`` / ``make_app``: a configuration rooted in tmp_path.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from monitor.config import Settings, settings_from_dict

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds" / "timeline"
PG_ADMIN_URL = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, connect_timeout=3):
            return None
    except Exception as e:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {e}"


_PG_REASON = _pg_available()


def require_postgres() -> None:
    if _PG_REASON:
        if IN_CI:
            pytest.fail(f"CI=true but {_PG_REASON}; the PostgreSQL tests must run in CI")
        pytest.skip(_PG_REASON)


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL schema for one test (dropped afterwards)."""
    require_postgres()
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:10]}"
    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    yield f"{PG_ADMIN_URL}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The same test on every backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url):
    from monitor.store import migrate
    from monitor.store.db import make_engine

    eng = make_engine(db_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def feed_server():
    from tests.support.feedserver import FeedServer

    with FeedServer() as srv:
        yield srv


LOOPBACK_ALLOW = ["127.0.0.1/32", "::1/128"]


@pytest.fixture
def make_settings(tmp_path, sqlite_url):
    """Build Settings from a dict, rooted in tmp_path, with a SQLite file there
    (override ``database.url`` for PostgreSQL) and loopback allowed."""

    def make(data: dict | None = None, **sections) -> Settings:
        data = dict(data or {})
        data.update(sections)
        data.setdefault("database", {"url": sqlite_url})
        data.setdefault("network", {"allow": LOOPBACK_ALLOW})
        data.setdefault("actors_file", str(REPO / "config" / "actors.toml"))
        data.setdefault("digest", {"dir": str(tmp_path / "digests")})
        return settings_from_dict(data, source="test.toml", root=tmp_path, env={})

    return make


@pytest.fixture
def make_app(make_settings):
    """An App built from settings; closed at the end of the test."""
    from monitor.app import App

    apps = []

    def make(data: dict | None = None, **kw) -> "App":
        settings = data if isinstance(data, Settings) else make_settings(data)
        app = App(settings, **kw)
        apps.append(app)
        return app

    yield make
    for a in apps:
        a.close()
