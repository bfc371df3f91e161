"""The daemon's life: start, signals, a second daemon on one SQLite file.

Real `monitor run` processes against a real feed server and webhook receiver:

* SIGTERM while fetches wait on slow servers: exit 0 well within the grace
  period, no lease left, every feed either fully written or untouched (and
  picked up by the next start);
* Ctrl-C on a terminal (SIGINT to the whole process group, parse processes
  included): the same clean stop, no traceback, no process left behind;
* SIGTERM while a delivery is stuck longer than the grace period: exit 0
  once the grace is over; a second signal exits at once; either way the
  database stays consistent and the alert goes out later with the same id;
* a second `monitor run` on the same SQLite file is refused, naming the file
  and pointing to PostgreSQL;
* start-up: migrate, recover leases of dead workers, one configuration
  summary, and no secret in any log line (database password, webhook token
  in the path and the query, a feed's api key), in the JSON log format with
  feed, alert and story ids bound to the lines about them.
"""

from __future__ import annotations

import base64
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from monitor.store import migrate
from monitor.store.db import make_engine
from monitor.store.models import Alert, Feed
from tests.support.feedserver import Route
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.workers import WorkerProcess, child_env, load_events, monitor_command, rss, wait_for, write_config

pytestmark = pytest.mark.timeout(120)

SECRET = "whsec_" + base64.b64encode(b"monitor-lifecycle-secret-000001").decode()
GRACE = 3.0
UTC = timezone.utc


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'monitor.db'}"
    return request.getfixturevalue("pg_url")


def open_engine(url: str):
    eng = make_engine(url)
    migrate.upgrade(eng)
    return eng


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def config_for(tmp: Path, feeds: list[dict], **sections) -> Path:
    data = {
        "poll": {"tick": "1s", "interval": "1h", "jitter": 0.0, "concurrency": 8, "per_host": 8, "timeout": "30s"},
        "workers": {"lease": "2s", "grace": f"{GRACE:g}s"},
        "digest": {"enabled": False},
        "feeds": feeds,
    }
    data.update(sections)
    return write_config(tmp / "monitor.toml", data)


def gated(gate: threading.Event, body: bytes) -> Route:
    """A route that answers only once ``gate`` is set (a slow server)."""

    def respond(_req) -> Route:
        gate.wait(30)
        return Route(body=body)

    return Route(responder=respond)


def feed_state(engine) -> dict[str, tuple[bool, int, int, str | None]]:
    """name -> (polled, poll_log rows, entries, lease owner)."""
    with engine.connect() as c:
        got = c.execute(text(
            "SELECT f.name, f.last_polled_at IS NOT NULL, "
            "(SELECT count(*) FROM poll_log p WHERE p.feed_id = f.id), "
            "(SELECT count(*) FROM entry e WHERE e.feed_id = f.id), f.lease_owner FROM feed f")).all()
    return {name: (bool(polled), logs, entries, owner) for name, polled, logs, entries, owner in got}


def assert_each_feed_whole_or_untouched(state: dict) -> None:
    for name, (polled, logs, entries, owner) in state.items():
        assert owner is None, f"{name}: lease still held by {owner}"
        assert (polled, logs > 0, entries > 0) in ((True, True, True), (False, False, False)), (name, state[name])


# ------------------------------------------------------------------ SIGTERM


def test_sigterm_during_slow_fetches_exits_0_within_the_grace_period(tmp_path, db_url, feed_server):
    gate = threading.Event()
    arts = load_events()
    feeds = [{"name": f"fast-{i}", "url": feed_server.route(f"/fast/{i}.xml", body=rss("a", [arts[i]]))}
             for i in range(10)]
    feeds += [{"name": f"slow-{i}", "url": feed_server.route(f"/slow/{i}.xml", gated(gate, rss("b", [arts[50 + i]])))}
              for i in range(4)]
    config = config_for(tmp_path, feeds)
    env = {"MONITOR_DATABASE_URL": db_url}
    engine = open_engine(db_url)
    try:
        with WorkerProcess(config, env=env, log=tmp_path / "run1.log") as w:
            wait_for(lambda: scalar(engine, "SELECT count(*) FROM feed WHERE last_polled_at IS NOT NULL") == 10
                     and sum(feed_server.hits[f"/slow/{i}.xml"] for i in range(4)) == 4,
                     timeout=30, what="fast feeds stored, slow ones in flight", processes=[w])
            t0 = time.monotonic()
            w.terminate()
            code = w.wait(GRACE + 10)
            took = time.monotonic() - t0
            out = w.output()
        assert code == 0, out[-3000:]
        assert took < GRACE + 2, f"exit took {took:.1f}s with a grace of {GRACE}s"
        assert w.leftovers == 0, "the worker left child processes running"
        assert "SIGTERM received" in out and "4 fetches abandoned" in out
        state = feed_state(engine)
        assert_each_feed_whole_or_untouched(state)
        assert sorted(n for n, (polled, *_ ) in state.items() if not polled) == [f"slow-{i}" for i in range(4)]
        assert scalar(engine, "SELECT count(*) FROM worker") == 0

        # the next start polls what was abandoned; nothing was lost
        gate.set()
        with WorkerProcess(config, env=env, log=tmp_path / "run2.log") as w:
            wait_for(lambda: scalar(engine, "SELECT count(*) FROM feed WHERE last_polled_at IS NOT NULL") == 14,
                     timeout=30, what="the abandoned feeds polled after a restart", processes=[w])
            w.terminate()
            assert w.wait(GRACE + 10) == 0
        state = feed_state(engine)
        assert_each_feed_whole_or_untouched(state)
        assert {logs for (_p, logs, _e, _o) in state.values()} == {1}
    finally:
        gate.set()
        engine.dispose()


def test_ctrl_c_on_a_terminal_stops_the_whole_process_group_cleanly(tmp_path, feed_server):
    """Ctrl-C sends SIGINT to every process of the foreground group: the
    daemon and its parse processes.  The daemon shuts down as on SIGTERM; the
    parse processes leave that to it (no KeyboardInterrupt tracebacks, no
    broken pool in the middle of the grace period), and none is left over."""
    import os
    import signal

    arts = load_events()
    feeds = [{"name": f"f{i}", "url": feed_server.route(f"/f{i}.xml", body=rss(f"f{i}", [arts[i]]))} for i in range(20)]
    config = config_for(tmp_path, feeds, database={"url": f"sqlite:///{tmp_path / 'monitor.db'}"})
    with WorkerProcess(config, log=tmp_path / "run.log") as w:
        wait_for(lambda: w.output().count("poll f") == 20, timeout=30, what="the feeds polled", processes=[w])
        os.killpg(w.pid, signal.SIGINT)
        code = w.wait(GRACE + 10)
        out = w.output()
    assert code == 0, out[-3000:]
    assert "SIGINT received" in out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out[-3000:]
    assert w.leftovers == 0


@pytest.fixture
def stuck_hook():
    """A webhook receiver that takes 30 s to answer (longer than the grace)."""
    with WebhookReceiver(secret=SECRET) as hook:
        hook.respond(204, delay=30)
        yield hook


def _alerting_config(tmp: Path, feed_server, hook: WebhookReceiver) -> Path:
    a = next(x for x in load_events() if x.event == "syria-aleppo-captured-by-hts")
    url = feed_server.route("/aleppo.xml", body=rss(a.source, [a], published=datetime.now(UTC) - timedelta(hours=1)))
    return config_for(
        tmp, [{"name": "aleppo", "url": url, "source": a.source}],
        watches=[{"name": "Aleppo", "any_of": ["Aleppo"]}],
        alerts={"default_channels": ["hook"]},
        channels={"hook": {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET", "timeout": "40s"}},
    )


@pytest.mark.postgres
def test_delivery_stuck_past_the_grace_then_a_second_signal(tmp_path, pg_url, feed_server, stuck_hook):
    """First run: SIGTERM while a webhook hangs: exit 0 once the grace is
    over.  Second run: SIGTERM then SIGTERM: exit at once.  Third run: the
    receiver is back and the alert, claimed by the runs that were stopped,
    goes out with the same webhook-id once their claims expire."""
    config = _alerting_config(tmp_path, feed_server, stuck_hook)
    env = {"MONITOR_DATABASE_URL": pg_url, "HOOK_SECRET": SECRET}
    engine = open_engine(pg_url)
    try:
        with WorkerProcess(config, env=env, log=tmp_path / "run1.log") as w:
            wait_for(lambda: stuck_hook.requests == 1, timeout=30, what="the webhook in flight", processes=[w])
            t0 = time.monotonic()
            w.terminate()
            code = w.wait(GRACE + 10)
            took = time.monotonic() - t0
            out = w.output()
        assert code == 0, out[-3000:]
        assert GRACE - 0.5 < took < GRACE + 3, f"exit after {took:.1f}s with a grace of {GRACE}s"
        assert w.leftovers == 0, "the worker left child processes running"
        assert "did not finish within" in out
        # the alert is still pending, its claim left to expire (it may have been sent)
        assert scalar(engine, "SELECT status FROM alert") == "pending"
        assert_each_feed_whole_or_untouched(feed_state(engine))

        time.sleep(2.2)  # the first run's claim expires (lease 2 s)
        with WorkerProcess(config, env=env, log=tmp_path / "run2.log") as w:
            wait_for(lambda: stuck_hook.requests == 2, timeout=30, what="the webhook in flight again", processes=[w])
            w.terminate()
            time.sleep(0.3)
            t0 = time.monotonic()
            w.terminate()  # the second signal
            code = w.wait(5)
            took = time.monotonic() - t0
            out = w.output()
        assert code == 1 and took < 1.5, (code, took, out[-2000:])
        assert w.leftovers == 0, "the worker left child processes running"
        assert "second signal" in out
        assert scalar(engine, "SELECT status FROM alert") == "pending"
        assert_each_feed_whole_or_untouched(feed_state(engine))

        stuck_hook.respond(204)
        time.sleep(2.2)
        with WorkerProcess(config, env=env, log=tmp_path / "run3.log") as w:
            wait_for(lambda: scalar(engine, "SELECT status FROM alert") == "sent", timeout=30,
                     what="the alert sent after the restarts", processes=[w])
            w.terminate()
            assert w.wait(GRACE + 10) == 0
        ids = {d.id for d in stuck_hook.deliveries}
        assert len(ids) == 1 and len(stuck_hook.deliveries) == 3  # one alert, at least once, one idempotency key
        assert [d.duplicate for d in stuck_hook.deliveries] == [False, True, True]
        assert scalar(engine, "SELECT count(*) FROM alert WHERE claimed_by IS NOT NULL") == 0
    finally:
        engine.dispose()


# ------------------------------------------------------------ SQLite guard


def test_a_second_daemon_on_one_sqlite_file_is_refused(tmp_path, feed_server):
    db = tmp_path / "data" / "monitor.db"
    config = config_for(tmp_path, [{"name": "one", "url": feed_server.route("/one.xml", body=rss("one", []))}],
                        database={"url": f"sqlite:///{db}"})
    with WorkerProcess(config, log=tmp_path / "first.log") as first:
        wait_for(lambda: "scheduler: polling" in first.output(), timeout=30, what="the first daemon up",
                 processes=[first])
        for args in (["run"], ["run", "--once"]):
            second = subprocess.run(monitor_command(config, *args), env=child_env(), capture_output=True, text=True,
                                    timeout=60, cwd=tmp_path)
            assert second.returncode in (1, 2), second.stderr
            assert str(db) in second.stderr
            assert "PostgreSQL" in second.stderr and "several workers" in second.stderr
            assert "Traceback" not in second.stderr
        assert first.running()
        first.terminate()
        assert first.wait(GRACE + 10) == 0
    # once the first is gone, the file is free again
    again = subprocess.run(monitor_command(config, "run", "--once"), env=child_env(), capture_output=True, text=True,
                           timeout=60, cwd=tmp_path)
    assert again.returncode == 0, again.stderr


# ---------------------------------------------------------------- start-up


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_recover_leases_at_start(backend, tmp_path, request, make_app):
    """A feed and an alert whose leases expired with their dead worker are
    freed; a live lease of another worker stays on PostgreSQL, and goes on
    SQLite, where holding the daemon lock proves nobody else runs."""
    url = f"sqlite:///{tmp_path / 'monitor.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    now = datetime.now(UTC)
    app = make_app({"database": {"url": url}})
    with Session(app.engine) as s, s.begin():
        for name, owner, until in (("expired", "dead:1:aaaaaa", now - timedelta(minutes=1)),
                                   ("live", "other:2:bbbbbb", now + timedelta(minutes=5)),
                                   ("free", None, None)):
            s.add(Feed(name=name, url=f"http://127.0.0.1:9/{name}", lease_owner=owner, lease_until=until,
                       next_check_at=now, created_at=now))
        for key, owner, until in (("a-expired", "dead:1:aaaaaa", now - timedelta(minutes=1)),
                                  ("a-live", "other:2:bbbbbb", now + timedelta(minutes=5))):
            s.add(Alert(key=key, watch="w", channel="console", payload="{}", status="pending", claimed_by=owner,
                        claim_until=until, next_attempt_at=now, created_at=now))
    app.acquire_daemon_lock()
    feeds, alerts = app.recover_leases(now)
    with Session(app.engine) as s:
        owners = dict(s.execute(text("SELECT name, lease_owner FROM feed")).all())
        claims = dict(s.execute(text("SELECT key, claimed_by FROM alert")).all())
    if backend == "sqlite":
        assert (feeds, alerts) == (2, 2)
        assert owners == {"expired": None, "live": None, "free": None}
        assert claims == {"a-expired": None, "a-live": None}
    else:
        assert (feeds, alerts) == (1, 1)
        assert owners == {"expired": None, "live": "other:2:bbbbbb", "free": None}
        assert claims == {"a-expired": None, "a-live": "other:2:bbbbbb"}


@pytest.mark.postgres
def test_startup_summary_json_logs_and_no_secret_in_any_line(tmp_path, pg_url, feed_server):
    """One run with a password in the database URL, a webhook URL with a token
    in its path and its query, and a feed URL with an api key; the receiver
    fails the first delivery and the keyed feed answers 404, so the lines that
    carry those URLs are written.  None of the secrets may appear."""
    password = "Pw-db-8c41f0e2aa"
    path_token = "T0KEN9f8e7d6c5b4a"
    query_token = "qTok-51d0c3e2b1a9"
    feed_key = "fk-7Ae2c91d03b4"
    db_url = pg_url.replace("postgres@", f"postgres:{password}@")
    assert password in db_url  # trust authentication on the test server ignores it
    with WebhookReceiver(secret=SECRET, path=f"/hooks/{path_token}?token={query_token}") as hook:
        hook.respond(500)
        a = next(x for x in load_events() if x.event == "syria-aleppo-captured-by-hts")
        good = feed_server.route("/aleppo.xml", body=rss(a.source, [a], published=datetime.now(UTC) - timedelta(hours=1)))
        keyed = feed_server.route("/private.xml", status=404, body=b"no") + f"?apikey={feed_key}&page=1"
        config = config_for(
            tmp_path, [{"name": "aleppo", "url": good, "source": a.source}, {"name": "private", "url": keyed}],
            logging={"format": "json"},
            watches=[{"name": "Aleppo", "any_of": ["Aleppo"]}],
            alerts={"default_channels": ["hook"], "retry_base": "1s"},
            channels={"hook": {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET"}},
        )
        engine = open_engine(pg_url)
        # a lease a dead worker left behind: recovered at start
        with engine.begin() as c:
            c.execute(text("INSERT INTO feed (name, url, tags, enabled, origin, allow_local, error_count, "
                           "lease_owner, lease_until, next_check_at, created_at) VALUES ('orphan', "
                           "'http://127.0.0.1:9/x', '', false, 'cli', false, 0, 'dead:1:abcdef', :t, :t, :t)"),
                      {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)})
        env = {"MONITOR_DATABASE_URL": db_url, "HOOK_SECRET": SECRET}
        try:
            with WorkerProcess(config, env=env, log=tmp_path / "run.log") as w:
                wait_for(lambda: len(hook.deliveries) >= 1, timeout=30, what="the first (failing) webhook",
                         processes=[w])
                hook.respond(204)
                wait_for(lambda: scalar(engine, "SELECT count(*) FROM alert WHERE status = 'sent'") == 1,
                         timeout=30, what="the alert sent on retry", processes=[w])
                w.terminate()
                assert w.wait(GRACE + 10) == 0
                output = w.output()
                lines = w.json_lines()
        finally:
            engine.dispose()

    # every line is JSON (nothing printed around the logger)
    assert len(lines) == len(output.splitlines()), [x for x in output.splitlines() if not x.startswith("{")]
    for secret in (password, path_token, query_token, feed_key, SECRET, SECRET.removeprefix("whsec_")):
        assert secret not in output, f"{secret!r} leaked into the log"

    # one summary record, with what a reader needs and the password hidden
    summaries = [x for x in lines if x["msg"].startswith("monitor starting")]
    assert len(summaries) == 1
    summary = summaries[0]["msg"]
    for expected in ("database: postgresql+psycopg://postgres:***@127.0.0.1:5432/test", "feeds: 2 configured",
                     "watches: Aleppo", "channels: console, hook (webhook to http://127.0.0.1:", "lease 2s"):
        assert expected in summary, summary
    assert any("recovered 1 feed leases" in x["msg"] for x in lines)

    # ids bound to the lines about them
    engine = make_engine(pg_url)
    try:
        aleppo_id = scalar(engine, "SELECT id FROM feed WHERE name = 'aleppo'")
        private_id = scalar(engine, "SELECT id FROM feed WHERE name = 'private'")
        alert_id = scalar(engine, "SELECT id FROM alert")
        story_id = scalar(engine, "SELECT story_id FROM alert")
    finally:
        engine.dispose()
    polls = [x for x in lines if x["msg"].startswith("poll aleppo:")]
    assert polls and all(x.get("feed") == aleppo_id for x in polls)
    errors = [x for x in lines if x["msg"].startswith("poll private: error")]
    assert errors and all(x.get("feed") == private_id and x["level"] == "warning" for x in errors)
    assert "apikey=***" in errors[0]["msg"]
    delivery = [x for x in lines if x["logger"] == "monitor.deliver"]
    assert {x["msg"].split(" ")[0] for x in delivery} >= {"deliver:", "alert"}  # the failure, then the send
    assert all(x.get("alert") == alert_id and x.get("story") == story_id and x.get("channel") == "hook"
               for x in delivery), delivery
