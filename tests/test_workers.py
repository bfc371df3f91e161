"""Several `monitor run` processes, one PostgreSQL database.

Real processes (``python -m monitor.cli run``), a real HTTP server on
127.0.0.1 serving the feeds and counting requests per path, a real webhook
receiver that verifies signatures and flags a webhook-id it has seen before,
and a fresh PostgreSQL schema per test.  What the issue promises:

* every due feed is fetched exactly once per cycle (the server's counts),
  the work is shared, no alert is sent twice, exactly one digest a day;
* a worker killed with SIGKILL in the middle of fetches: its feeds are taken
  over once its lease expires, and nothing is lost or recorded twice;
* two processes storing reports of the same events at the same moment make
  one story per event (the advisory lock in monitor.ingest).

Timings: poll.tick 1 s and a 2 s lease keep each test to seconds; feeds
have a 1 h interval so one cycle is one fetch of each.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.store import migrate
from monitor.store.db import make_engine
from tests.support.feedserver import Route
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.workers import (
    REPO,
    Article,
    WorkerProcess,
    child_env,
    group_members,
    load_events,
    rss,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

SECRET = "whsec_" + base64.b64encode(b"monitor-workers-test-secret-0001").decode()
LEASE = 2.0  # seconds: short so a takeover happens within the test
WATCHES = [
    {"name": "Aleppo", "any_of": ["Aleppo"]},
    {"name": "Damascus", "any_of": ["Damascus"]},
    {"name": "Earthquake", "any_of": ["earthquake", "quake"]},
]
#: the events the news feeds report: one feed per article, so several
#: outlets report each event (stories, update alerts) across workers
NEWS_EVENTS = (
    "syria-aleppo-captured-by-hts", "syria-damascus-falls-assad-flees", "peru-arequipa-earthquake",
    "turkey-malatya-earthquake", "indonesia-sulawesi-earthquake", "syria-homs-captured-by-hts",
    "ireland-general-election-2024", "france-barnier-government-falls", "nimbus-cloud-outage",
    "ecb-cuts-deposit-rate-to-3-00", "cyclone-chido-mayotte", "south-korea-yoon-martial-law",
    "syria-hama-captured-by-hts", "germany-scholz-loses-confidence-vote",
)


def worker_config(tmp: Path, feeds: list[dict], *, hook_url: str | None = None, **sections) -> Path:
    data = {
        "poll": {"tick": "1s", "interval": "1h", "jitter": 0.0, "concurrency": 8, "per_host": 8, "timeout": "15s"},
        "workers": {"lease": f"{LEASE:g}s", "grace": "5s"},
        "logging": {"format": "json"},
        "digest": {"dir": str(tmp / "digests"), "time": "00:00", "timezone": "UTC", "channels": ["file"]},
        "feeds": feeds,
    }
    if hook_url:
        data["watches"] = WATCHES
        data["alerts"] = {"default_channels": ["hook"]}
        data["channels"] = {"hook": {"type": "webhook", "url": hook_url, "secret_env": "HOOK_SECRET"}}
    data.update(sections)
    return write_config(tmp / "monitor.toml", data)


def start_workers(n: int, config: Path, url: str, tmp: Path) -> list[WorkerProcess]:
    env = {"MONITOR_DATABASE_URL": url, "HOOK_SECRET": SECRET}
    return [WorkerProcess(config, env=env, log=tmp / f"worker{i}.log").start() for i in range(n)]


def stop_all(workers: list[WorkerProcess]) -> list[int | None]:
    for w in workers:
        w.terminate()  # all at once: they shut down in parallel
    return [w.stop(timeout=15) for w in workers]


def scalar(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def rows(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).all()


def worker_id_pid(worker_id: str) -> int:
    return int(worker_id.split(":")[-2])  # host:pid:random (monitor.app.worker_id)


@pytest.fixture
def engine(pg_url):
    eng = make_engine(pg_url)
    migrate.upgrade(eng)  # the workers migrate too; this one just gets there first
    yield eng
    eng.dispose()


@pytest.fixture
def hook():
    with WebhookReceiver(secret=SECRET) as receiver:
        yield receiver


def news_articles() -> list[Article]:
    wanted = set(NEWS_EVENTS)
    return [a for a in load_events() if a.event in wanted]


# ------------------------------------------------------------------ sharing


def test_three_workers_fetch_every_feed_once_per_cycle_and_alert_once(tmp_path, engine, pg_url, feed_server, hook):
    """500 feeds, 3 workers: cycle 1 stores every feed once, sends every alert
    once and builds one digest; cycle 2 (every feed due again) fetches each
    feed exactly once more."""
    now = datetime.now(timezone.utc)
    news = news_articles()
    feeds = []
    for i, a in enumerate(news):  # recent: inside the alert backlog window
        url = feed_server.route(f"/news/{i}.xml", body=rss(a.source, [a], published=now - timedelta(hours=1)),
                                etag=f'"n{i}"')
        feeds.append({"name": f"news-{i:03d}", "url": url, "source": a.source})
    for i in range(500 - len(feeds)):  # quiet feeds: nothing new today
        url = feed_server.route(f"/quiet/{i}.xml", body=rss(f"quiet{i}", []), etag=f'"q{i}"')
        feeds.append({"name": f"quiet-{i:03d}", "url": url})
    assert len(feeds) == 500 and len(news) >= 80
    config = worker_config(tmp_path, feeds, hook_url=hook.url)
    workers = start_workers(3, config, pg_url, tmp_path)
    try:
        # ---- cycle 1
        wait_for(lambda: scalar(engine, "SELECT count(DISTINCT feed_id) FROM poll_log") == 500,
                 timeout=60, what="every feed polled once", processes=workers)
        wait_for(lambda: scalar(engine, "SELECT count(*) FROM alert WHERE status = 'pending'") == 0
                 and scalar(engine, "SELECT count(*) FROM alert") > 0,
                 timeout=30, what="the alert outbox drained", processes=workers)
        paths = [f"/news/{i}.xml" for i in range(len(news))] + [f"/quiet/{i}.xml" for i in range(500 - len(news))]
        assert {p: feed_server.hits[p] for p in paths} == {p: 1 for p in paths}
        assert sum(feed_server.hits.values()) == 500  # nothing else was asked for either
        per_feed = Counter(r[0] for r in rows(engine, "SELECT feed_id FROM poll_log"))
        assert set(per_feed.values()) == {1}
        # the work was shared: every worker recorded polls
        by_worker = dict(rows(engine, "SELECT worker, count(*) FROM poll_log GROUP BY worker"))
        assert len(by_worker) == 3, by_worker
        assert scalar(engine, "SELECT count(*) FROM entry") == len(news)

        # no alert twice: every outbox row sent once, each id received once
        sent = {r[0] for r in rows(engine, "SELECT key FROM alert WHERE status = 'sent'")}
        assert scalar(engine, "SELECT count(*) FROM alert WHERE status <> 'sent'") == 0
        wait_for(lambda: len(hook.deliveries) >= len(sent), timeout=10, what="webhooks received")
        received = [d.id for d in hook.deliveries]
        assert not [d.id for d in hook.deliveries if d.duplicate], "an alert was delivered twice"
        assert sorted(received) == sorted(sent)
        assert hook.rejected == []
        assert {d.payload["data"]["watch"] for d in hook.deliveries} == {"Aleppo", "Damascus", "Earthquake"}
        # one alert per (watch, story, kind): however many workers saw the story
        assert scalar(engine, "SELECT count(*) FROM (SELECT watch, story_id, kind, count(*) AS n FROM alert "
                              "WHERE kind = 'new' GROUP BY watch, story_id, kind HAVING count(*) > 1) AS d") == 0

        # one digest for the day, built by one worker, one file pair
        runs = rows(engine, "SELECT name, local_date, claimed_by FROM digest_run")
        assert len(runs) == 1 and runs[0][1] == now.date().isoformat()
        assert sorted(p.name for p in (tmp_path / "digests").iterdir()) == [f"{runs[0][1]}.html", f"{runs[0][1]}.txt"]

        # ---- cycle 2: every feed due again (as an hour later); 304s this time
        with engine.begin() as c:
            c.execute(text("UPDATE feed SET next_check_at = :t"), {"t": datetime.now(timezone.utc).replace(tzinfo=None)})
        wait_for(lambda: scalar(engine, "SELECT count(*) FROM poll_log") == 1000,
                 timeout=40, what="every feed polled a second time", processes=workers)
        assert {p: feed_server.hits[p] for p in paths} == {p: 2 for p in paths}
        assert set(Counter(r[0] for r in rows(engine, "SELECT feed_id FROM poll_log")).values()) == {2}
        # the ETag went back to the server, which answered 304
        second = rows(engine, "SELECT DISTINCT ON (feed_id) status FROM poll_log ORDER BY feed_id, at DESC")
        assert Counter(s for (s,) in second) == {"not_modified": 500}
        time.sleep(1.5)  # a tick or two more: nothing else is fetched or sent
        assert sum(feed_server.hits.values()) == 1000
        assert len(hook.deliveries) == len(sent)
    finally:
        codes = stop_all(workers)
    assert codes == [0, 0, 0], [w.output()[-2000:] for w in workers]
    assert [w.leftovers for w in workers] == [0, 0, 0], "a worker left child processes running"
    assert scalar(engine, "SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL") == 0
    assert scalar(engine, "SELECT count(*) FROM worker") == 0  # each removed its heartbeat row
    for w in workers:
        errors = [line for line in w.json_lines() if line["level"] in ("error", "critical")]
        assert errors == [], errors


# ----------------------------------------------------------------- takeover


def test_killed_worker_feeds_are_taken_over_after_its_lease_expires(tmp_path, engine, pg_url, feed_server):
    """SIGKILL a worker while it waits on slow feeds: the other two take its
    feeds over once the lease has run out; every feed ends up stored once."""
    gate = threading.Event()  # the slow feeds answer once this is set

    def slow(article: Article, i: int) -> Route:
        body = rss(article.source, [article])

        def respond(_req) -> Route:
            gate.wait(20)
            return Route(body=body)

        return Route(responder=respond)

    arts = load_events()
    feeds = []
    for i in range(40):
        a = arts[i]
        feeds.append({"name": f"fast-{i:02d}", "url": feed_server.route(f"/fast/{i}.xml", body=rss(a.source, [a])),
                      "source": a.source})
    for i in range(12):
        a = arts[100 + i]
        feeds.append({"name": f"slow-{i:02d}", "url": feed_server.route(f"/slow/{i}.xml", slow(a, i)),
                      "source": a.source})
    config = worker_config(tmp_path, feeds)
    workers = start_workers(3, config, pg_url, tmp_path)
    try:
        # every fast feed stored, every slow one in flight or queued under a lease
        def settled():
            done = scalar(engine, "SELECT count(*) FROM feed WHERE last_polled_at IS NOT NULL")
            leased = scalar(engine, "SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL")
            return done == 40 and leased == 12 and sum(feed_server.hits[f"/slow/{i}.xml"] for i in range(12)) >= 1

        wait_for(settled, timeout=40, what="fast feeds stored, slow ones leased", processes=workers)
        in_flight = [i for i in range(12) if feed_server.hits[f"/slow/{i}.xml"] == 1]
        owner = scalar(engine, "SELECT lease_owner FROM feed WHERE name = :n", n=f"slow-{in_flight[0]:02d}")
        victim = next(w for w in workers if w.pid == worker_id_pid(owner))
        victim.signal(signal.SIGKILL)  # the worker process alone, as the OOM killer does
        assert victim.wait(5) == -9
        # its parse processes notice and end by themselves (no orphans)
        wait_for(lambda: not group_members(victim.pid), timeout=5, what="the victim's child processes gone")
        killed_at = datetime.now(timezone.utc)
        held = {name: until for name, until in rows(
            engine, "SELECT name, lease_until FROM feed WHERE lease_owner = :o", o=owner)}
        assert f"slow-{in_flight[0]:02d}" in held
        survivors = [w for w in workers if w is not victim]
        gate.set()  # the slow server recovers; what the victim held must now be done by the others

        wait_for(lambda: scalar(engine, "SELECT count(DISTINCT feed_id) FROM poll_log") == 52,
                 timeout=30, what="every feed stored after the takeover", processes=survivors)
        time.sleep(1.0)  # a tick more: nothing is polled again
        per_feed = dict(rows(engine, "SELECT f.name, count(*) FROM poll_log p JOIN feed f ON f.id = p.feed_id "
                                     "GROUP BY f.name"))
        assert set(per_feed.values()) == {1}, "a feed was recorded twice or not at all"
        taken = {name: (worker, at) for name, worker, at in rows(
            engine, "SELECT f.name, p.worker, p.at FROM poll_log p JOIN feed f ON f.id = p.feed_id")}
        for name, until in held.items():
            worker, at = taken[name]
            assert worker != owner and at.replace(tzinfo=timezone.utc) > until.replace(tzinfo=timezone.utc), (
                f"{name} was recorded by {worker} at {at}, before {owner}'s lease ran out at {until}")
        # each feed's article stored once; the ones fetched twice are exactly the victim's in-flight ones
        assert scalar(engine, "SELECT count(*) FROM entry") == 52
        assert scalar(engine, "SELECT count(*) FROM (SELECT feed_id, key FROM entry GROUP BY feed_id, key "
                              "HAVING count(*) > 1) AS d") == 0
        twice = {p for p, n in feed_server.hits.items() if n > 1}
        assert twice and all(feed_server.hits[p] == 2 for p in twice)
        assert {f"slow-{int(p.split('/')[-1].split('.')[0]):02d}" for p in twice} <= set(held)
        assert f"/slow/{in_flight[0]}.xml" in twice
        assert (datetime.now(timezone.utc) - killed_at).total_seconds() < 30
    finally:
        gate.set()
        codes = stop_all(workers)
    assert [c for w, c in zip(workers, codes) if w is not victim] == [0, 0]
    assert [w.leftovers for w in workers if w is not victim] == [0, 0]
    assert scalar(engine, "SELECT count(*) FROM feed WHERE lease_owner IS NOT NULL") == 0


# ------------------------------------------------------------------ stories


#: events whose first two full-text reports (two outlets) are one story when
#: stored one after the other; checked by the sequential run below
STORY_EVENTS = (
    "syria-aleppo-captured-by-hts", "syria-damascus-falls-assad-flees", "peru-arequipa-earthquake",
    "france-barnier-government-falls", "south-korea-yoon-martial-law", "malaysia-kelantan-floods",
    "veltrix-motors-cuts-4000-jobs", "bank-of-canada-cuts-to-3-25", "nimbus-cloud-outage",
    "cyclone-chido-mayotte", "ghana-presidential-election-2024", "poland-poznan-train-derailment",
)


def _story_documents(tmp: Path) -> tuple[list[list[str]], list[list[str]]]:
    """Two writers' documents: event k's first full report for writer A, its
    second for writer B, in the same event order (so they race on each event)."""
    by_event: dict[str, list[Article]] = {}
    for a in load_events():
        if a.event in STORY_EVENTS and a.text and len(a.text) > 400:
            by_event.setdefault(a.event, []).append(a)
    now = datetime.now(timezone.utc)
    docs_a, docs_b = [], []
    for k, event in enumerate(STORY_EVENTS):
        first, second = by_event[event][:2]
        for writer, a, out in (("a", first, docs_a), ("b", second, docs_b)):
            path = tmp / f"{writer}-{k:02d}.xml"
            path.write_bytes(rss(a.source, [a], published=now - timedelta(hours=2)))
            out.append([f"{writer}-{k:02d}", str(path)])
    return docs_a, docs_b


def _run_writers(tmp: Path, config: Path, url: str, groups: list[list[list[str]]], *,
                 together: bool) -> list[tuple[float, float]]:
    """Run one driver process per group; return when each stored its first
    document and finished its last (wall-clock seconds)."""
    start = time.time() + 4.0  # both processes are up by then
    procs, outputs = [], []
    for i, docs in enumerate(groups):
        spec = tmp / f"spec-{i}.json"
        spec.write_text(json.dumps({"config": str(config), "start_at": start if together else 0,
                                    "now": datetime.now(timezone.utc).isoformat(), "documents": docs}))
        cmd = [sys.executable, "-m", "tests.support.ingest_driver", str(spec)]
        p = subprocess.Popen(cmd, env=child_env({"MONITOR_DATABASE_URL": url}), cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not together:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err[-3000:]
            outputs.append(out)
        procs.append(p)
    for p in procs:
        if together:
            out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err[-3000:]
            outputs.append(out)
    spans = []
    for out in outputs:
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert len(lines) == len(STORY_EVENTS) and all(x["new"] == 1 for x in lines), out
        spans.append((lines[0]["started"], lines[-1]["finished"]))
    return spans


def _stories_by_writer_pair(engine) -> list[tuple[str, int]]:
    return rows(engine, "SELECT f.name, a.story_id FROM entry e JOIN feed f ON f.id = e.feed_id "
                        "JOIN article a ON a.id = e.article_id ORDER BY f.name")


def test_two_writers_reporting_the_same_events_at_once_make_one_story_each(tmp_path, engine, pg_url):
    docs_a, docs_b = _story_documents(tmp_path)
    config = worker_config(tmp_path, [], logging={"format": "text", "level": "WARNING"},
                           digest={"enabled": False})
    # the same documents one writer after the other, on SQLite: the clusterer
    # puts each pair in one story (so a split below is the race, not the data)
    sqlite_url = f"sqlite:///{tmp_path / 'sequential.db'}"
    _run_writers(tmp_path, config, sqlite_url, [docs_a, docs_b], together=False)
    seq = make_engine(sqlite_url)
    try:
        pairs = dict(_stories_by_writer_pair(seq))
        assert len(pairs) == 2 * len(STORY_EVENTS)
        assert all(pairs[f"a-{k:02d}"] == pairs[f"b-{k:02d}"] for k in range(len(STORY_EVENTS))), pairs
        assert scalar(seq, "SELECT count(*) FROM story") == len(STORY_EVENTS)
    finally:
        seq.dispose()

    # both writers at the same instant on PostgreSQL
    spans = _run_writers(tmp_path, config, pg_url, [docs_a, docs_b], together=True)
    pairs = dict(_stories_by_writer_pair(engine))
    assert len(pairs) == 2 * len(STORY_EVENTS)
    split = [k for k in range(len(STORY_EVENTS)) if pairs[f"a-{k:02d}"] != pairs[f"b-{k:02d}"]]
    assert split == [], f"events split into two stories by the race: {[STORY_EVENTS[k] for k in split]}"
    assert scalar(engine, "SELECT count(*) FROM story") == len(STORY_EVENTS)
    # and the writers did run at the same time (else the test proves nothing)
    (a_start, a_end), (b_start, b_end) = spans
    assert max(a_start, b_start) < min(a_end, b_end), spans
