"""The polling cycle against a real HTTP server on 127.0.0.1: outcomes per
feed, caching state, backoff, isolation of failures, idempotence."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from monitor.store.models import Entry, Feed, PollLog

SEEDS = Path(__file__).resolve().parents[1] / "seeds" / "timeline"
T0 = datetime(2024, 12, 6, 9, 0, tzinfo=timezone.utc)
RSS = (SEEDS / "2024-12-06T09:00:00Z" / "levant-wire.xml").read_bytes()
ATOM = (SEEDS / "2024-12-06T09:00:00Z" / "northern-post.xml").read_bytes()
JSONFEED = (SEEDS / "2024-12-06T09:00:00Z" / "gulf-observer.json").read_bytes()


@pytest.fixture
def world(feed_server, make_app, make_settings, db_url):
    """An app polling five feeds of a real local server: three healthy
    (RSS with an ETag, Atom without validators, JSON Feed), one failing with
    500 and one gone (410)."""
    srv = feed_server
    srv.route("/rss", body=RSS, etag='"v1"')
    srv.route("/atom", body=ATOM, content_type="application/atom+xml")
    srv.route("/json", body=JSONFEED, content_type="application/feed+json")
    srv.route("/broken", status=500, body=b"oops")
    srv.route("/gone", status=410)
    feeds = [
        {"name": n, "url": srv.url(p)}
        for n, p in [("rss", "/rss"), ("atom", "/atom"), ("json", "/json"), ("broken", "/broken"), ("gone", "/gone")]
    ]
    settings = make_settings({"feeds": feeds, "database": {"url": db_url}, "poll": {"jitter": 0}})
    app = make_app(settings)
    app.sync_feeds(T0)
    return app, srv


def outcomes_by_name(outcomes):
    return {o.feed_name: o for o in outcomes}


def test_first_poll_stores_every_healthy_feed_and_records_failures(world):
    app, srv = world
    out = outcomes_by_name(app.pipeline.poll_due(T0))
    assert set(out) == {"rss", "atom", "json", "broken", "gone"}
    for name in ("rss", "atom", "json"):
        assert out[name].status == "ok" and out[name].new > 0, out[name]
    assert out["broken"].status == "error" and "500" in out["broken"].error
    assert out["gone"].status == "error" and "410" in out["gone"].error
    # a permanent failure waits the longest backoff; a temporary one the interval
    assert out["gone"].next_check_at - T0 == timedelta(hours=24)
    assert out["broken"].next_check_at - T0 == timedelta(minutes=15)
    with Session(app.engine) as s:
        stored = s.execute(select(func.count()).select_from(Entry)).scalar()
        assert stored == sum(o.new for o in out.values())
        broken = s.execute(select(Feed).where(Feed.name == "broken")).scalars().one()
        assert broken.error_count == 1 and broken.failing_since == T0 and "500" in broken.last_error


def test_second_poll_is_conditional_and_parses_nothing(world):
    app, srv = world
    app.pipeline.poll_due(T0)
    later = T0 + timedelta(hours=1)
    out = outcomes_by_name(app.pipeline.poll_due(later))
    # the ETag went back to the server, which answered 304
    assert srv.requests["/rss"][-1].headers.get("if-none-match") == '"v1"'
    assert out["rss"].status == "not_modified"
    # no validators, but the same bytes: treated like a 304, no parse
    assert out["atom"].status == "unchanged"
    assert out["json"].status == "unchanged"
    assert all(o.new == 0 and o.updated == 0 for o in out.values())


def test_failing_feed_backs_off_and_recovers(world):
    app, srv = world
    t = T0
    delays = []
    for _ in range(4):
        out = outcomes_by_name(app.pipeline.poll_due(t))
        delays.append(out["broken"].next_check_at - t)
        t = out["broken"].next_check_at
    assert delays == [timedelta(minutes=15 * 2**i) for i in range(4)]
    srv.route("/broken", body=RSS)  # the server comes back
    out = outcomes_by_name(app.pipeline.poll_due(t))
    assert out["broken"].status == "ok"
    with Session(app.engine) as s:
        f = s.execute(select(Feed).where(Feed.name == "broken")).scalars().one()
        assert f.error_count == 0 and f.failing_since is None and f.last_success_at == t


def test_only_due_feeds_are_polled(world):
    app, srv = world
    app.pipeline.poll_due(T0)
    srv.reset_counts()
    assert app.pipeline.poll_due(T0 + timedelta(minutes=1)) == []
    assert sum(srv.hits.values()) == 0


def test_permanent_redirect_updates_the_stored_url(feed_server, make_app, make_settings):
    feed_server.route("/new", body=RSS)
    feed_server.route("/old", status=301, location="/new")
    app = make_app(make_settings({"feeds": [{"name": "moved", "url": feed_server.url("/old")}]}))
    app.sync_feeds(T0)
    (o,) = app.pipeline.poll_due(T0)
    assert o.status == "ok"
    with Session(app.engine) as s:
        assert s.execute(select(Feed.url).where(Feed.name == "moved")).scalar() == feed_server.url("/new")


def test_poll_log_keeps_every_poll(world):
    app, _ = world
    app.pipeline.poll_due(T0)
    app.pipeline.poll_due(T0 + timedelta(hours=1))
    with Session(app.engine) as s:
        rows = s.execute(select(PollLog.status, func.count()).group_by(PollLog.status)).all()
    counts = dict(rows)
    assert counts["error"] == 3  # broken twice (15 min backoff), gone once (24 h)
    assert counts["ok"] == 3 and counts["not_modified"] == 1 and counts["unchanged"] == 2


def test_a_corrected_entry_updates_instead_of_duplicating(feed_server, make_app, make_settings):
    v1 = RSS
    # the same items, one title corrected (same guid)
    import re

    first_title = re.search(rb"<item>.*?<title>(.*?)</title>", RSS, re.S).group(1)
    v2 = RSS.replace(first_title, first_title + b" (updated)", 1)
    feed_server.route("/f", body=v1)
    app = make_app(make_settings({"feeds": [{"name": "f", "url": feed_server.url("/f")}]}))
    app.sync_feeds(T0)
    (o1,) = app.pipeline.poll_due(T0)
    feed_server.route("/f", body=v2)
    (o2,) = app.pipeline.poll_due(T0 + timedelta(hours=1))
    assert o2.new == 0 and o2.updated == 1
    with Session(app.engine) as s:
        assert s.execute(select(func.count()).select_from(Entry)).scalar() == o1.new
        titles = s.execute(select(Entry.title)).scalars().all()
    assert sum(t.endswith("(updated)") for t in titles) == 1
