"""`monitor status` against a prepared database, on SQLite and PostgreSQL.

The database below is a moment in a two-worker deployment: feeds due,
not due, disabled, failing, being polled by a live worker, and one whose
worker was killed (an expired lease, and a live lease whose owner's
heartbeat row is gone); alerts waiting, claimed, failed and sent; two days of
digests.  The report must say each of these, the same as text and as JSON,
from the `monitor status` command run as a user runs it.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone

from sqlmodel import Session

from monitor.status import DigestInfo, FailingFeed, WorkerInfo, collect_status
from monitor.store.models import Alert, DigestRun, Feed, Worker
from tests.support.workers import child_env, monitor_command, write_config

NOW = datetime.now(timezone.utc).replace(microsecond=0)
# long enough to stay live however late in a long test run the command runs
LIVE = NOW + timedelta(hours=2)
EXPIRED = NOW - timedelta(minutes=1)

#: name -> (enabled, next check, lease owner, lease until, errors)
FEEDS = {
    "due-1": (True, NOW - timedelta(minutes=5), None, None, 0),
    "due-2": (True, None, None, None, 0),  # never polled
    "later": (True, NOW + timedelta(minutes=10), None, None, 0),
    "disabled": (False, NOW - timedelta(hours=1), None, None, 0),
    "polling-1": (True, NOW - timedelta(seconds=30), "host-a:101:aaaaaa", LIVE, 0),
    "polling-2": (True, NOW - timedelta(seconds=30), "host-a:101:aaaaaa", LIVE, 0),
    "orphaned": (True, NOW - timedelta(minutes=3), "host-c:303:cccccc", EXPIRED, 0),  # its worker died
    "ghost": (True, NOW - timedelta(seconds=10), "host-d:404:dddddd", LIVE, 0),  # killed, row pruned
    "failing": (True, NOW + timedelta(minutes=30), None, None, 3),
}
#: key -> (status, claimed by, claim until)
ALERTS = {
    "a-waiting": ("pending", None, None),
    "a-sending": ("pending", "host-a:101:aaaaaa", LIVE),
    "a-stale": ("pending", "host-c:303:cccccc", EXPIRED),
    "a-failed": ("failed", None, None),
    "a-sent": ("sent", None, None),
}
WORKERS = {"host-a:101:aaaaaa": NOW - timedelta(seconds=5), "host-b:202:bbbbbb": NOW - timedelta(seconds=20)}


def prepare(engine) -> None:
    with Session(engine) as s, s.begin():
        for name, (enabled, nxt, owner, until, errors) in FEEDS.items():
            s.add(Feed(name=name, url=f"https://{name}.example/feed.xml", enabled=enabled, next_check_at=nxt,
                       lease_owner=owner, lease_until=until, error_count=errors, created_at=NOW - timedelta(days=2),
                       last_error="fetch: https://failing.example/feed.xml: HTTP 503" if errors else None,
                       failing_since=NOW - timedelta(hours=2) if errors else None))
        for key, (status, owner, until) in ALERTS.items():
            s.add(Alert(key=key, watch="Homs", channel="hook", payload="{}", status=status, claimed_by=owner,
                        claim_until=until, next_attempt_at=NOW, created_at=NOW - timedelta(minutes=10)))
        for day, status, stories in (((NOW - timedelta(days=1)).date(), "sent", 7), (NOW.date(), "built", 12)):
            s.add(DigestRun(name="daily", local_date=day.isoformat(), status=status, claimed_by="host-a:101:aaaaaa",
                            created_at=NOW - timedelta(hours=1), built_at=NOW - timedelta(minutes=50),
                            story_count=stories))
        for wid, beat in WORKERS.items():
            host, pid, _ = wid.split(":")
            s.add(Worker(id=wid, hostname=host, pid=int(pid), started_at=NOW - timedelta(hours=3), heartbeat_at=beat))


EXPECTED_WORKERS = [
    WorkerInfo("host-a:101:aaaaaa", "host-a", 101, WORKERS["host-a:101:aaaaaa"], feeds_leased=2, alerts_claimed=1),
    WorkerInfo("host-b:202:bbbbbb", "host-b", 202, WORKERS["host-b:202:bbbbbb"], feeds_leased=0, alerts_claimed=0),
    WorkerInfo("host-d:404:dddddd", None, None, None, feeds_leased=1, alerts_claimed=0, registered=False),
]


def test_collect_status_reports_the_prepared_moment(engine):
    prepare(engine)
    st = collect_status(engine, NOW)
    assert (st.feeds, st.enabled) == (9, 8)
    # due: enabled, next check passed, nobody polling it (an expired lease is free again)
    assert st.due == len(["due-1", "due-2", "orphaned"])
    assert st.polling == len(["polling-1", "polling-2", "ghost"])
    assert st.expired_leases == 1  # "orphaned"
    assert st.failing == [FailingFeed("failing", 3, "fetch: https://failing.example/feed.xml: HTTP 503",
                                      NOW - timedelta(hours=2))]
    assert (st.queue_depth, st.failed_alerts) == (3, 1)
    assert st.last_digest == DigestInfo("daily", NOW.date().isoformat(), "built", NOW - timedelta(minutes=50), 12)
    assert st.workers == EXPECTED_WORKERS


def test_render_says_it_in_words(engine):
    prepare(engine)
    lines = collect_status(engine, NOW).render().splitlines()
    assert lines == [
        "feeds: 9 (8 enabled), 3 due now, 3 being polled",
        "failing feeds: 1",
        f"  failing: 3 errors since {NOW - timedelta(hours=2):%Y-%m-%d %H:%M}Z: "
        "fetch: https://failing.example/feed.xml: HTTP 503",
        "alert queue: 3 waiting, 1 failed",
        f"last digest: daily {NOW.date().isoformat()} (built, 12 stories, built "
        f"{NOW - timedelta(minutes=50):%Y-%m-%d %H:%M}Z)",
        "workers: 2",
        "  host-a:101:aaaaaa: heartbeat 5s ago, 2 feeds leased, 1 alerts claimed",
        "  host-b:202:bbbbbb: heartbeat 20s ago, 0 feeds leased, 0 alerts claimed",
        "  host-d:404:dddddd: no heartbeat (stopped?), 1 feeds leased, 0 alerts claimed",
        "expired leases: 1 (their worker stopped; claimable again)",
    ]


def test_an_empty_database_reads_as_nothing_yet(engine):
    st = collect_status(engine, NOW)
    assert (st.feeds, st.due, st.polling, st.queue_depth, st.last_digest, st.workers) == (0, 0, 0, 0, None, [])
    assert "last digest: none yet" in st.render() and "failing feeds: none" in st.render()


# ------------------------------------------------------------- the command


def _status(tmp_path, db_url: str, *args: str) -> subprocess.CompletedProcess:
    config = write_config(tmp_path / "status.toml", {"digest": {"enabled": False}})
    return subprocess.run(monitor_command(config, "status", *args), env=child_env({"MONITOR_DATABASE_URL": db_url}),
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_monitor_status_command_text_and_json(tmp_path, engine, db_url):
    prepare(engine)
    before = collect_status(engine, NOW).to_dict()
    text_run = _status(tmp_path, db_url)
    assert text_run.returncode == 0, text_run.stderr
    out = text_run.stdout
    for expected in ("feeds: 9 (8 enabled)", "failing feeds: 1", "alert queue: 3 waiting, 1 failed",
                     f"last digest: daily {NOW.date().isoformat()} (built, 12 stories", "workers: 2",
                     "host-a:101:aaaaaa: heartbeat", "host-d:404:dddddd: no heartbeat", "expired leases: 1"):
        assert expected in out, out

    json_run = _status(tmp_path, db_url, "--json")
    assert json_run.returncode == 0, json_run.stderr
    report = json.loads(json_run.stdout)
    assert (report["feeds"], report["queue_depth"], report["failed_alerts"], report["expired_leases"]) == (9, 3, 1, 1)
    assert report["last_digest"]["local_date"] == NOW.date().isoformat()
    assert [(w["id"], w["feeds_leased"], w["alerts_claimed"], w["registered"]) for w in report["workers"]] == [
        (w.id, w.feeds_leased, w.alerts_claimed, w.registered) for w in EXPECTED_WORKERS]
    assert report["failing"][0]["name"] == "failing"
    # reading is all it does: no lease released, no worker row added or removed
    assert collect_status(engine, NOW).to_dict() == before


def test_status_answers_while_the_sqlite_daemon_holds_its_lock(tmp_path, make_app, feed_server):
    """A running daemon holds the SQLite file's lock; status is a reader, so
    it neither waits nor is refused."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    app = make_app({"database": {"url": url}, "feeds": [{"name": "one", "url": feed_server.route("/1", body=b"")}]})
    app.acquire_daemon_lock()
    app.sync_feeds()
    app.heartbeat()
    run = _status(tmp_path, url)
    assert run.returncode == 0, run.stderr
    assert "feeds: 1 (1 enabled), 1 due now" in run.stdout
    assert f"{app.worker}: heartbeat" in run.stdout


def test_status_on_a_database_without_tables_says_what_to_do(tmp_path):
    db = tmp_path / "new.db"
    run = _status(tmp_path, f"sqlite:///{db}")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[:2] == [
        "database: no tables yet; `monitor db upgrade` or `monitor run` creates them",
        "feeds: 0 (0 enabled), 0 due now, 0 being polled",
    ]
    # status only reads: it created no tables
    again = _status(tmp_path, f"sqlite:///{db}", "--json")
    assert json.loads(again.stdout)["note"].startswith("database: no tables yet")


def test_status_on_an_unreachable_database_fails_with_the_reason(tmp_path):
    run = _status(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    assert run.returncode == 1
    assert run.stderr.startswith("status: cannot read postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    assert "Traceback" not in run.stderr
