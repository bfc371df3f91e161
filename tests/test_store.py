"""The store on every backend: migrations match the models, datetimes come
back UTC-aware, writers serialise, the SQLite daemon guard."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlmodel import Session

from monitor.errors import DaemonAlreadyRunning, StorageError
from monitor.store import migrate, repo
from monitor.store.db import make_engine
from monitor.store.models import Feed, metadata

NOW = datetime(2024, 12, 6, 9, 0, tzinfo=timezone.utc)


def test_migrations_build_exactly_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], "models changed: add a migration (alembic revision --autogenerate)"
    assert migrate.current_revision(engine) == migrate.head_revision(engine)


def test_upgrade_is_idempotent(engine):
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)


def test_datetimes_are_utc_aware_on_every_backend(engine):
    berlin = datetime(2024, 12, 6, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    with Session(engine) as s, s.begin():
        repo.upsert_feed(s, name="f", url="https://x.example/f", now=berlin)
    with Session(engine) as s:
        got = s.execute(select(Feed.created_at)).scalar()
    assert got == NOW and got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(engine):
    with pytest.raises(Exception, match="naive datetime"):
        with Session(engine) as s, s.begin():
            repo.upsert_feed(s, name="f", url="https://x.example/f", now=datetime(2024, 1, 1))


def test_concurrent_read_modify_write_loses_no_update(engine):
    """Without BEGIN IMMEDIATE on SQLite, two threads incrementing a counter
    lose updates (both read, both write)."""
    with Session(engine) as s, s.begin():
        feed = repo.upsert_feed(s, name="f", url="https://x.example/f", now=NOW)

    def bump(n: int) -> None:
        for _ in range(n):
            with Session(engine) as s, s.begin():
                row = s.execute(select(Feed).where(Feed.id == feed.id).with_for_update()).scalars().one()
                row.error_count = row.error_count + 1

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(engine) as s:
        assert s.execute(select(Feed.error_count)).scalar() == 100


def test_claims_hand_each_due_feed_to_one_worker(engine):
    with Session(engine) as s, s.begin():
        for i in range(10):
            repo.upsert_feed(s, name=f"f{i}", url=f"https://x.example/{i}", now=NOW)
    with Session(engine) as s, s.begin():
        a = repo.claim_due_feeds(s, NOW, worker="a", lease=timedelta(minutes=5), limit=6)
    with Session(engine) as s, s.begin():
        b = repo.claim_due_feeds(s, NOW, worker="b", lease=timedelta(minutes=5), limit=6)
    assert len(a) == 6 and len(b) == 4
    assert not {f.id for f in a} & {f.id for f in b}
    # an expired lease (a crashed worker) makes the feed claimable again
    with Session(engine) as s, s.begin():
        c = repo.claim_due_feeds(s, NOW + timedelta(minutes=6), worker="c", lease=timedelta(minutes=5), limit=20)
    assert len(c) == 10


def test_a_second_daemon_on_one_sqlite_file_is_refused(make_app, make_settings):
    settings = make_settings()
    first = make_app(settings)
    first.acquire_daemon_lock()
    second = make_app(settings)
    with pytest.raises(DaemonAlreadyRunning, match="already used by a running monitor.*PostgreSQL"):
        second.acquire_daemon_lock()
    first.close()
    second.acquire_daemon_lock()  # free again once the first has stopped


def test_bad_database_urls_are_explained():
    with pytest.raises(StorageError, match="cannot read the database URL"):
        make_engine("not a url")
    with pytest.raises(StorageError, match="unsupported database 'mysql'"):
        make_engine("mysql://u@h/db")
