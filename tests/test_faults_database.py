"""Database faults: the daemon reports clearly, keeps running what it can,
and loses no committed data.

* **read-only**: the directory holding the SQLite file is bind-mounted
  read-only (as root; ``chmod`` does not stop root, and ``?mode=ro`` or
  ``PRAGMA query_only`` would only simulate what the kernel does here).
  Writes fail with "store: <file>: the database is read-only ...; check the
  permissions ..."; readers (web, status) keep working; the real scheduler
  keeps ticking and logging; once the mount is writable again the daemon
  recovers by itself (no restart) and delivers what waited.
* **disk full**: the database lives on a small tmpfs filled with ballast.
  The feed that does not fit fails with "the disk is full" on that feed
  only: a small feed in the same poll is stored and its alert delivered;
  after space is freed the next poll stores the big feed.
* **locked**: another connection holds ``BEGIN IMMEDIATE`` longer than the
  busy timeout (lowered to 300 ms through ``SQLITE_BUSY_TIMEOUT_MS``, the
  configuration constant): "the database is locked ..."; a lock held for
  less than the busy timeout is waited out.
* **killed mid-transaction**: a subprocess polling 12 feeds is SIGKILLed
  while a write transaction is open (SQLite and PostgreSQL): every feed is
  either fully written (entries, articles, poll log, feed row) or untouched,
  and the next run completes the rest.

Mount-based cases need root (CAP_SYS_ADMIN) and skip with the reason
otherwise.
"""

from __future__ import annotations

import logging
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlmodel import Session

from monitor.app import App
from monitor.config import settings_from_dict
from monitor.errors import StorageError
from monitor.scheduler import Daemon
from monitor.status import collect_status
from monitor.store import db as store_db
from monitor.store.models import Alert, Article, Entry, Feed, PollLog
from tests.hostile.generate import item, rss
from tests.support.feedserver import FeedServer

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 12, 6, 9, 30, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)


def homs_feed(n: int = 1, *, prefix: str = "wire") -> bytes:
    return rss(
        [item(f"Report {i} from Homs: {prefix} desk", link=f"https://{prefix}.example/{i}", guid=f"{prefix}-{i}",
              description=f"The {prefix} desk reports event number {i} in Homs.") for i in range(n)],
        title=prefix,
    ).encode()


def big_feed(entries: int = 20, words: int = 1500) -> bytes:
    """About 20 KB of text per entry (stored three times: text, summary, HTML)."""
    rnd = random.Random(7)
    vocabulary = "river bridge market council harvest winter station school road hospital".split()
    return rss(
        [item(f"Long read {i}", link=f"https://big.example/{i}", guid=f"big-{i}",
              description=" ".join(f"{rnd.choice(vocabulary)}{rnd.randrange(10**6)}" for _ in range(words)))
         for i in range(entries)],
        title="Big",
    ).encode()


def settings(tmp_path: Path, db_url: str, feeds: dict[str, str], **extra):
    data = {
        "database": {"url": db_url},
        "network": {"allow": ["127.0.0.1/32"]},
        "feeds": [{"name": name, "url": url} for name, url in feeds.items()],
        "watches": [{"name": "Homs", "aliases": ["Homs"]}],
        "channels": {"out": {"type": "file", "path": str(tmp_path / "out" / "alerts.jsonl")}},
        "alerts": {"default_channels": ["out"]},
        "digest": {"enabled": False},
        "actors_file": str(REPO / "config" / "actors.toml"),
        **extra,
    }
    return settings_from_dict(data, source="test.toml", root=tmp_path, env={})


def count(engine, model, *where) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar()


def delivered(tmp_path: Path) -> list[str]:
    path = tmp_path / "out" / "alerts.jsonl"
    return path.read_text().splitlines() if path.exists() else []


# ------------------------------------------------------------------ mounts


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise OSError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")


@lru_cache(maxsize=1)
def mount_problem() -> str | None:
    """None when this process may mount file systems, else why not."""
    if os.geteuid() != 0:
        return "mounting a read-only or a tiny file system needs root (CAP_SYS_ADMIN)"
    import tempfile

    probe = tempfile.mkdtemp(prefix="monitor-mount-")
    try:
        _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe)
        _run("umount", probe)
    except OSError as e:
        return f"cannot mount here ({e}); a container needs CAP_SYS_ADMIN"
    finally:
        os.rmdir(probe)
    return None


def need_mounts() -> None:
    reason = mount_problem()
    if reason:
        pytest.skip(reason)


def _unmount(path: Path) -> None:
    try:
        _run("umount", str(path))
    except OSError:
        _run("umount", "-l", str(path))  # a file still open: detach anyway


@contextmanager
def bind_mount(path: Path):
    """``path`` bind-mounted on itself, so its flags can change (remount)."""
    _run("mount", "--bind", str(path), str(path))
    try:
        yield
    finally:
        _unmount(path)


def set_read_only(path: Path, read_only: bool) -> None:
    _run("mount", "-o", f"remount,{'ro' if read_only else 'rw'},bind", str(path))


@contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        _unmount(path)


# --------------------------------------------------------------- read-only


def logged_errors(caplog) -> str:
    formatter = logging.Formatter()
    return "\n".join(
        r.getMessage() + (formatter.formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records if r.levelno >= logging.WARNING
    )


#: a process that keeps the database open for reading (a web worker, a
#: `monitor status`): SQLite's -wal and -shm files then stay in place
READER_SCRIPT = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("SELECT count(*) FROM feed").fetchall()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("other_reader", [False, True], ids=["alone", "another-reader-open"])
def test_read_only_database_is_reported_and_the_daemon_recovers(tmp_path, caplog, other_reader):
    """The database's directory turns read-only under a running daemon.

    Alone, SQLite cannot even open the file (a WAL database needs to create
    its -wal and -shm files); with another process holding it open for
    reading, reads work and writes fail as read-only.  Either way every job
    reports the database and the problem, the scheduler keeps ticking, and
    once the directory is writable again the daemon carries on by itself."""
    need_mounts()
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db_file = db_dir / "monitor.db"
    problem = READ_ONLY if other_reader else CANNOT_OPEN
    reader = None
    with FeedServer() as srv:
        url = srv.route("/wire.xml", body=homs_feed(1))
        app = App(settings(tmp_path, f"sqlite:///{db_file}", {"wire": url}))
        try:
            app.sync_feeds(NOW)
            [outcome] = app.pipeline.poll_due(now=NOW)
            assert outcome.status == "ok" and outcome.new == 1
            committed = (count(app.engine, Entry), count(app.engine, Article), count(app.engine, PollLog))
            assert count(app.engine, Alert, Alert.status == "pending") == 1
            srv.route("/wire.xml", body=homs_feed(2))  # the feed moves on meanwhile
            if other_reader:
                reader = subprocess.Popen([sys.executable, "-c", READER_SCRIPT, str(db_file)],
                                          stdout=subprocess.PIPE, text=True)
                assert reader.stdout.readline().strip() == "ready"

            # Linux refuses to make a mount read-only while files are open for
            # writing through it, and descriptors opened before keep writing:
            # the daemon's connections are closed first, as after a reconnect.
            app.engine.dispose()
            with bind_mount(db_dir):
                set_read_only(db_dir, True)
                daemon = _read_only_period(app, tmp_path, db_file, problem, committed, other_reader, caplog)
                set_read_only(db_dir, False)
                _recovery(app, daemon, tmp_path, committed)
                app.close()
                app.engine.dispose()
                if app._read_engine is not None:
                    app._read_engine.dispose()
        finally:
            if reader is not None:
                reader.kill()
                reader.wait()
            app.close()


READ_ONLY = r"the database is read-only .*check the permissions"
CANNOT_OPEN = r"the database file cannot be opened .*read-only directory or file system"


def _read_only_period(app, tmp_path, db_file, problem, committed, other_reader, caplog) -> Daemon:
    with pytest.raises(StorageError, match=problem) as raised:
        app.pipeline.poll_due(now=LATER)
    assert str(raised.value).startswith(f"store: {db_file}: ") and raised.value.temporary
    with pytest.raises(StorageError, match=problem):
        app.deliverer.run(LATER)
    assert delivered(tmp_path) == []  # nothing is sent without a claim
    if other_reader:
        # readers keep working: the web's engine, `monitor status`
        assert (count(app.read_engine, Entry), count(app.read_engine, Article),
                count(app.read_engine, PollLog)) == committed
        assert collect_status(app.read_engine, LATER).feeds == 1
    else:
        with pytest.raises(StorageError, match=problem):
            collect_status(app.read_engine, LATER)

    # the real scheduler keeps ticking and says what is wrong
    daemon = Daemon(
        poll=lambda: app.pipeline.poll_due(now=LATER),
        deliver=lambda: app.deliverer.run(LATER),
        digest=None,
        heartbeat=lambda: app.heartbeat(LATER),
        on_stop=lambda: None,
        request_stop=lambda: None,
        tick=timedelta(seconds=0.2),
        grace=timedelta(seconds=2),
        heartbeat_every=timedelta(seconds=0.5),
    )
    daemon.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
        f"the {job} job failed" in logged_errors(caplog) for job in ("poll", "deliver")
    ):
        time.sleep(0.05)
    log = logged_errors(caplog)
    assert "the poll job failed" in log and "the deliver job failed" in log
    assert re.search(f"store: {re.escape(str(db_file))}: {problem}", log)
    assert daemon.alive()
    return daemon


def _recovery(app, daemon, tmp_path, committed) -> None:
    """The directory is writable again: no restart, the next ticks succeed."""
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
            count(app.read_engine, Entry) == committed[0] + 1
            and count(app.read_engine, Alert, Alert.status != "sent") == 0
        ):
            time.sleep(0.1)
        recovered_after = 15 - (deadline - time.monotonic())
        assert daemon.alive()
        assert recovered_after < 5, f"recovered after {recovered_after:.1f} s"
    finally:
        daemon.shutdown()
    # the new entry is stored, every alert sent once, nothing lost
    assert count(app.engine, Entry) == committed[0] + 1
    assert count(app.engine, Alert, Alert.status != "sent") == 0
    assert len(delivered(tmp_path)) == count(app.engine, Alert) >= 1
    with Session(app.engine) as s:
        assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"


# --------------------------------------------------------------- disk full


def test_disk_full_fails_the_feed_that_does_not_fit_and_the_rest_goes_on(tmp_path):
    need_mounts()
    with FeedServer() as srv, tmpfs(tmp_path / "small", "4m") as disk:
        db_file = disk / "monitor.db"
        feeds = {"small": srv.route("/small.xml", body=homs_feed(1, prefix="small")),
                 "big": srv.route("/big.xml", body=big_feed())}
        app = App(settings(tmp_path, f"sqlite:///{db_file}", feeds))
        try:
            app.sync_feeds(NOW)
            # start from an empty WAL, then leave 400 KiB: a few ordinary
            # transactions fit, the big feed (~1.2 MB of text) does not
            with sqlite3.connect(db_file) as raw:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            stat = os.statvfs(disk)
            (disk / "ballast").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 400 * 1024))

            outcomes = {o.feed_name: o for o in app.pipeline.poll_due(now=NOW)}
            assert outcomes["small"].status == "ok" and outcomes["small"].new == 1
            big = outcomes["big"]
            assert big.status == "error"
            assert f"{db_file}: the disk is full" in big.error and "free space" in big.error, big.error
            assert count(app.engine, Entry, Entry.feed_id == feed_id(app, "big")) == 0
            # delivery goes on: the small feed's alert is sent
            assert app.deliverer.run(NOW + timedelta(minutes=1)) == 1
            assert len(delivered(tmp_path)) == 1

            (disk / "ballast").unlink()
            outcomes = {o.feed_name: o for o in app.pipeline.poll_due(now=NOW + timedelta(minutes=2))}
            assert set(outcomes) == {"big"}  # still due: nothing of it was committed
            assert outcomes["big"].status == "ok" and outcomes["big"].new == 20
            assert count(app.engine, Entry) == 21
            with Session(app.engine) as s:
                assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        finally:
            app.close()
            app.engine.dispose()


def feed_id(app: App, name: str) -> int:
    with Session(app.engine) as s:
        return s.execute(select(Feed.id).where(Feed.name == name)).scalar_one()


# ------------------------------------------------------------------ locked


def test_locked_database_is_reported_and_a_short_lock_is_waited_out(tmp_path, monkeypatch):
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    db_file = tmp_path / "monitor.db"
    with FeedServer() as srv:
        feeds = {"one": srv.route("/one.xml", body=homs_feed(1, prefix="one")),
                 "two": srv.route("/two.xml", body=homs_feed(2, prefix="two"))}
        app = App(settings(tmp_path, f"sqlite:///{db_file}", feeds))
        holder = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
        try:
            app.sync_feeds(NOW)
            holder.execute("BEGIN IMMEDIATE")  # a sqlite3 shell left inside a transaction
            started = time.monotonic()
            with pytest.raises(StorageError, match=r"the database is locked by another connection \(waited 0\.3s\)") as e:
                app.pipeline.poll_due(now=NOW)
            assert 0.25 < time.monotonic() - started < 5
            assert str(db_file) in str(e.value) and "sqlite3 shell inside BEGIN" in str(e.value)
            assert count(app.read_engine, Feed) == 2  # readers are not blocked (WAL)
            holder.execute("ROLLBACK")

            outcomes = {o.feed_name: o for o in app.pipeline.poll_due(now=NOW)}
            assert {n: (o.status, o.new) for n, o in outcomes.items()} == {"one": ("ok", 1), "two": ("ok", 2)}

            # a lock shorter than the busy timeout is waited out, not an error
            holder.execute("BEGIN IMMEDIATE")
            threading.Timer(0.1, holder.execute, ("ROLLBACK",)).start()
            assert app.deliverer.run(NOW + timedelta(minutes=1)) == count(app.engine, Alert)
            assert count(app.engine, Alert, Alert.status == "sent") >= 1
            assert count(app.engine, Entry) == 3
        finally:
            holder.close()
            app.close()


# ------------------------------------------------- killed mid-transaction

#: poll everything due at argv[2]; log each transaction's begin/commit to argv[3]
POLL_SCRIPT = """
import sys
from datetime import datetime
from sqlalchemy import event
from monitor.app import App
from monitor.config import load_config
app = App(load_config(sys.argv[1]), migrate_db=False, worker="doomed")
marks = open(sys.argv[3], "a", buffering=1)
event.listen(app.engine, "begin", lambda conn: marks.write("BEGIN\\n"))
event.listen(app.engine, "commit", lambda conn: marks.write("COMMIT\\n"))
event.listen(app.engine, "rollback", lambda conn: marks.write("ROLLBACK\\n"))
app.pipeline.poll_due(now=datetime.fromisoformat(sys.argv[2]))
marks.write("DONE\\n")
"""

FEEDS = 12
ENTRIES = 12
#: the killed poll's clock, and the next run's (the 1 s leases have expired)
POLL_TIMES = (NOW, NOW + timedelta(seconds=5))


def _kill_config(tmp_path: Path, db_url: str, feeds: dict[str, str]) -> Path:
    import json

    lines = [f"actors_file = {json.dumps(str(REPO / 'config' / 'actors.toml'))}",
             "[database]", f"url = {json.dumps(db_url)}",
             "[network]", 'allow = ["127.0.0.1/32"]',
             "[poll]", "concurrency = 4",
             "[workers]", 'lease = "1s"',
             "[digest]", "enabled = false",
             "[[watches]]", 'name = "Homs"', 'aliases = ["Homs"]']
    for name, url in feeds.items():
        lines += ["[[feeds]]", f"name = {json.dumps(name)}", f"url = {json.dumps(url)}"]
    path = tmp_path / "monitor.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sigkill_mid_transaction_leaves_every_feed_whole_or_untouched(tmp_path, db_url):
    with FeedServer() as srv:
        feeds = {f"f{i:02d}": srv.route(f"/f{i}.xml", body=homs_feed(ENTRIES, prefix=f"desk{i}"))
                 for i in range(FEEDS)}
        config = _kill_config(tmp_path, db_url, feeds)
        from monitor.config import load_config

        app = App(load_config(config))
        app.sync_feeds(NOW)
        app.close()

        marks = tmp_path / "marks.log"
        # output to a file, not a pipe: the poller's parse processes inherit
        # it and outlive a SIGKILL by up to a second (their watchdog)
        output = open(tmp_path / "poller.log", "wb")
        proc = subprocess.Popen([sys.executable, "-c", POLL_SCRIPT, str(config), NOW.isoformat(), str(marks)],
                                cwd=REPO, stdout=output, stderr=subprocess.STDOUT)
        inside = False
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                seen = marks.read_text().split() if marks.exists() else []
                # a few feeds committed (the first commit is the claim), and a
                # write transaction open right now
                if seen.count("COMMIT") >= 4 and seen[-1] == "BEGIN":
                    os.kill(proc.pid, signal.SIGKILL)
                    inside = True
                    break
                time.sleep(0.002)
        finally:
            if proc.poll() is None and not inside:
                proc.kill()
            proc.wait(timeout=10)
            output.close()
        err = (tmp_path / "poller.log").read_text(errors="replace")[-3000:]
        assert inside, f"the poll ended before it could be killed: {err}"
        assert proc.returncode == -signal.SIGKILL
        assert "DONE" not in marks.read_text()

        app = App(load_config(config))
        try:
            if app.engine.dialect.name == "sqlite":
                with Session(app.engine) as s:
                    assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            whole, untouched = check_whole_or_untouched(app)
            assert whole and untouched, (len(whole), len(untouched))  # killed mid-poll

            # the next run (after the dead worker's leases expire) does the rest
            outcomes = app.pipeline.poll_due(now=POLL_TIMES[1])
            assert sorted(o.feed_name for o in outcomes) == sorted(untouched)
            assert all(o.status == "ok" and o.new == ENTRIES for o in outcomes), outcomes
            whole, untouched = check_whole_or_untouched(app)
            assert len(whole) == FEEDS and not untouched
            assert count(app.engine, Entry) == FEEDS * ENTRIES
        finally:
            app.close()


def check_whole_or_untouched(app: App) -> tuple[list[str], list[str]]:
    """Every feed: all its entries, each processed into an article, with its
    poll logged and its feed row updated -- or none of it."""
    whole, untouched = [], []
    with Session(app.engine) as s:
        for f in s.execute(select(Feed)).scalars():
            entries = s.execute(select(func.count()).select_from(Entry).where(Entry.feed_id == f.id)).scalar()
            processed = s.execute(select(func.count()).select_from(Entry).where(
                Entry.feed_id == f.id, Entry.processed_at.is_not(None), Entry.article_id.is_not(None))).scalar()
            logged = s.execute(select(func.count()).select_from(PollLog).where(PollLog.feed_id == f.id)).scalar()
            if entries == 0:
                assert (logged, f.last_polled_at, f.body_hash) == (0, None, None), f.name
                untouched.append(f.name)
            else:
                assert (entries, processed, logged) == (ENTRIES, ENTRIES, 1), (f.name, entries, processed, logged)
                assert f.last_status == "ok" and f.last_polled_at in POLL_TIMES and f.body_hash, f.name
                whole.append(f.name)
    return whole, untouched
