"""The read-only site through Starlette's TestClient, on SQLite and PostgreSQL:
pages, security headers, the access token, /healthz and /metrics."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from monitor.digest import DigestSpec
from monitor.errors import ConfigError
from monitor.store import migrate, repo_digest
from monitor.store.db import make_engine
from monitor.web import CSP, POLL_BUCKETS, TOKEN_COOKIE, create_app
from tests.support import dbfill
from tests.support.htmlcheck import assert_inert

UTC = timezone.utc
H = timedelta(hours=1)
NOW = datetime(2024, 5, 14, 5, tzinfo=UTC)  # the 07:00 Berlin digest time of 2024-05-14
CLOCK = NOW + 10 * timedelta(minutes=1)
TOKEN = "s3cret-token-for-tests"

WATCHES = [
    {"name": "Homs", "priority": 5, "aliases": ["Homs"]},
    {"name": "Tabqa Dam", "priority": 3, "aliases": ["Tabqa dam"]},
    {"name": "Quiet watch", "priority": 1, "aliases": ["nothing matches this"]},
]


@pytest.fixture
def sample(engine):
    with Session(engine) as s:
        smp = dbfill.fill_sample(s, now=NOW)
        assert repo_digest.claim_digest_run(s, "daily", date(2024, 5, 13), "w", NOW - 24 * H)
        repo_digest.mark_built(s, "daily", date(2024, 5, 13), NOW - 24 * H, story_count=1)
        repo_digest.mark_sent(s, "daily", date(2024, 5, 13), NOW - 24 * H)
        s.commit()
    return smp


@pytest.fixture
def settings(make_settings):
    def make(**web):
        return make_settings(
            {"digest": {"timezone": "Europe/Berlin", "time": "07:00"}, "watches": WATCHES, "web": web}
        )

    return make


@pytest.fixture
def client(engine, sample, settings):
    app = create_app(engine, settings(), scheduler_alive=lambda: True, clock=lambda: CLOCK)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


def check_headers(r) -> None:
    assert r.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "script-src" not in CSP and "img-src http: https: data:" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_front_page_is_the_latest_digest_with_the_archive(client, sample):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    check_headers(r)
    doc = assert_inert(r.text)
    ids = [int(x) for x in doc.xpath("//div[@class='story']/@data-story-id")]
    assert ids == [sample.homs.story_id, sample.arabic.story_id, sample.dam.story_id,
                   sample.quake.story_id, sample.market.story_id]
    assert doc.xpath("//h3/a/@href")[0] == f"/story/{sample.homs.story_id}"
    assert doc.xpath('//ul[@id="archive"]//a/@href') == ["/digest/2024-05-13"]
    assert doc.xpath('//p[@id="next"]/a/@href') == ["/digest/2024-05-15"]
    assert "in progress" not in doc.text_content()


def test_digest_archive_by_day(client, sample):
    r = client.get("/digest/2024-05-13")
    assert r.status_code == 200
    doc = assert_inert(r.text)
    # the day before: the Homs report of two days before NOW, then yesterday's storm
    assert [h.text_content() for h in doc.xpath("//h3")] == ["Homs report 2 days ago", "Yesterday's storm"]
    assert int(doc.xpath("//div[@class='story']/@data-story-id")[1]) == sample.old.story_id
    r = client.get("/digest/2024-05-15")  # the one being collected
    assert r.status_code == 200 and "in progress" in r.text and 'id="empty-day"' in r.text


@pytest.mark.parametrize("path", ["/digest/2024-05-16", "/digest/2024-13-01", "/digest/yesterday",
                                  "/digest/2024-5-1", "/story/999999", "/nothing-here"])
def test_not_found(client, path):
    r = client.get(path)
    assert r.status_code == 404
    check_headers(r)
    assert_inert(r.text)


def test_story_page(client, sample):
    r = client.get(f"/story/{sample.dam.story_id}")
    assert r.status_code == 200
    check_headers(r)
    doc = assert_inert(r.text)
    assert doc.xpath("//h1")[0].get("dir") == "auto"
    assert [td.text_content() for td in doc.xpath('//table[@id="reports"]//tr/td[2]')] == ["Hostile Daily", "AFP"]
    assert len(doc.xpath('//div[@id="timeline"]//circle')) == 2
    assert "Eyewitnesses report fighting." in doc.xpath('//div[@class="content"]')[0].text_content()


def test_watches_page(client, sample):
    r = client.get("/watches")
    assert r.status_code == 200
    doc = assert_inert(r.text)
    assert [h.xpath("span")[0].text_content() for h in doc.xpath('//h2[@class="watch"]')] == [
        "Homs", "Tabqa Dam", "Quiet watch"]
    homs_links = doc.xpath('//h2[@class="watch"][1]/following-sibling::ul[1]/li/a/@href')
    assert homs_links[0] == f"/story/{sample.homs.story_id}"
    assert "No matches yet." in r.text
    assert doc.xpath("//svg//rect")


def test_feeds_page(client):
    r = client.get("/feeds")
    assert r.status_code == 200
    doc = assert_inert(r.text)
    status = {tr.get("data-feed"): tr.xpath("td[2]")[0].text_content() for tr in doc.xpath('//table[@id="feeds"]//tr[td]')}
    assert len(status) == 9
    assert status.pop("broken-times") == "failingsince Sun 12 May 05:00"
    assert status.pop("flaky-post") == "recoveredat Mon 13 May 19:00"
    assert status.pop("quiet-gazette") == "silentlast new entry Thu 09 May 07:00"
    assert set(status.values()) == {"ok"}
    # failing feeds first, with their error
    first = doc.xpath('//table[@id="feeds"]//tr[td]')[0]
    assert first.get("data-feed") == "broken-times" and "fetch: HTTP 503 after 2h" in first.text_content()


def test_healthz(engine, sample, settings):
    for alive, code, status in [(True, 200, "ok"), (False, 503, "unavailable")]:
        app = create_app(engine, settings(), scheduler_alive=lambda a=alive: a, clock=lambda: CLOCK)
        with TestClient(app) as c:
            r = c.get("/healthz")
        assert r.status_code == code
        body = r.json()
        assert body["status"] == status and body["scheduler"] == {"alive": alive}
        assert body["database"] == {"reachable": True, "error": None}
        # every feed but broken-times last succeeded an hour before NOW
        assert body["last_successful_poll_age_seconds"] == (CLOCK - (NOW - H)).total_seconds()
        check_headers(r)


def test_healthz_without_scheduler_and_with_a_broken_probe(engine, sample, settings):
    with TestClient(create_app(engine, settings(), clock=lambda: CLOCK)) as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["scheduler"] == {"alive": None}

    def broken() -> bool:
        raise RuntimeError("probe failed")

    with TestClient(create_app(engine, settings(), scheduler_alive=broken, clock=lambda: CLOCK)) as c:
        assert c.get("/healthz").status_code == 503


def test_healthz_when_the_database_is_unreachable(settings):
    # port 1 on loopback: nothing listens, the connection is refused at once
    dead = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    with TestClient(create_app(dead, settings(), scheduler_alive=lambda: True)) as c:
        r = c.get("/healthz")
        m = c.get("/metrics")
    assert r.status_code == 503
    assert r.json()["database"]["reachable"] is False and r.json()["database"]["error"].startswith("store: ")
    assert m.status_code == 200 and "monitor_database_up 0" in m.text
    dead.dispose()


# the Prometheus text exposition format, version 0.0.4
_SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})?'
    r" (?P<value>[-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|Inf|NaN))$"
)


def parse_metrics(text: str) -> dict[str, float]:
    """Check every line's syntax and the HELP/TYPE order; return
    'name{labels}' -> value."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped") and name not in types
            types[name] = kind
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name = m.group("name")
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no TYPE line before it"
        key = name + (m.group("labels") or "")
        assert key not in out, f"duplicate sample {key}"
        out[key] = float(m.group("value"))
    return out


def test_metrics(client, sample):
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    m = parse_metrics(r.text)
    healthy_polls = 7 * 8
    assert m['monitor_polls_total{status="error"}'] == 5 == m["monitor_poll_errors_total"]
    assert m['monitor_polls_total{status="ok"}'] == healthy_polls + 2 + 1
    assert m['monitor_polls_total{status="not_modified"}'] == 0
    total = healthy_polls + 1 + 4 + 3
    buckets = [m[f'monitor_poll_duration_seconds_bucket{{le="{b}"}}'] for b in POLL_BUCKETS]
    assert buckets == sorted(buckets), "buckets must be cumulative"
    assert m['monitor_poll_duration_seconds_bucket{le="+Inf"}'] == m["monitor_poll_duration_seconds_count"] == total
    assert m['monitor_poll_duration_seconds_bucket{le="0.05"}'] == 14  # k = 0 and 30 of the healthy feeds
    assert m['monitor_poll_duration_seconds_bucket{le="10.0"}'] == total - 4  # the 30 s failures
    assert m["monitor_poll_duration_seconds_sum"] == pytest.approx(
        sum(0.05 * (1 + k % 5) for k in range(0, 48, 6)) * 7 + 0.3 + 4 * 30.0 + 1.2 + 10.0 + 0.8
    )
    assert m["monitor_alerts_sent_total"] == 1 and m["monitor_alerts_failed_total"] == 1
    assert m["monitor_alert_queue_depth"] == 1
    assert m["monitor_feeds"] == 9 and m["monitor_feeds_failing"] == 1
    assert m["monitor_stories_total"] >= 6 and m["monitor_entries_total"] == m["monitor_articles_total"]
    assert m['monitor_digests{status="sent"}'] == 1
    assert m["monitor_scheduler_up"] == 1 and m["monitor_database_up"] == 1
    assert m["monitor_last_successful_poll_age_seconds"] == (CLOCK - (NOW - H)).total_seconds()


# ------------------------------------------------------------------- access


def test_non_loopback_host_needs_a_token(sqlite_engine, settings):
    for host in ("0.0.0.0", "192.0.2.10", "::", "example.org"):
        with pytest.raises(ConfigError, match=f"web: bound to {re.escape(host)},.*MONITOR_WEB_TOKEN"):
            create_app(sqlite_engine, settings(host=host))
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        create_app(sqlite_engine, settings(host=host))


@pytest.fixture
def sqlite_engine(sqlite_url):
    """Access control does not depend on the backend: SQLite only."""
    eng = make_engine(sqlite_url)
    migrate.upgrade(eng)
    with Session(eng) as s:
        dbfill.fill_sample(s, now=NOW)
        s.commit()
    yield eng
    eng.dispose()


@pytest.fixture
def locked(sqlite_engine, settings):
    app = create_app(sqlite_engine, settings(host="0.0.0.0", token=TOKEN), scheduler_alive=lambda: True,
                     clock=lambda: CLOCK)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


# (how the token is given, expected status)
ACCESS = [
    ({}, 401),
    ({"headers": {"Authorization": "Bearer wrong"}}, 401),
    ({"headers": {"Authorization": f"Bearer {TOKEN}x"}}, 401),
    ({"headers": {"Authorization": f"Basic {TOKEN}"}}, 401),
    ({"params": {"token": TOKEN[:-1]}}, 401),
    ({"headers": {"Authorization": f"Bearer {TOKEN}"}}, 200),
    ({"headers": {"Authorization": f"bearer  {TOKEN}"}}, 200),
    ({"params": {"token": TOKEN}}, 200),
]


@pytest.mark.parametrize("how,status", ACCESS)
def test_token(locked, how, status):
    for path in ("/", "/metrics", "/watches", "/story/1", "/nothing-here"):
        r = locked.get(path, **how)
        assert r.status_code == (404 if path == "/nothing-here" and status == 200 else status), path
        check_headers(r)
        locked.cookies.clear()
        if status == 401:
            assert r.headers["www-authenticate"] == 'Bearer realm="monitor"'
            assert "Homs" not in r.text and "monitor_polls_total" not in r.text


def test_token_in_the_query_sets_a_cookie_for_the_links(locked):
    r = locked.get("/", params={"token": TOKEN})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{TOKEN_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # TestClient keeps the cookie: the page's links now work without the token
    assert locked.get("/feeds").status_code == 200
    locked.cookies.clear()
    assert locked.get("/feeds").status_code == 401


def test_healthz_is_open_without_the_token(locked):
    r = locked.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_digest_in_progress_judges_feed_health_now(client, engine):
    """The period of 2024-05-15 ends a day after the clock: a feed quiet for
    30 hours is not silent yet (48 h), although it would be at the period end."""
    with Session(engine) as s:
        fid = dbfill.add_feed(s, "daily-bulletin", created_at=NOW - 30 * 24 * H)
        dbfill.add_story(s, title="Bulletin", articles=[dbfill.A(fid, "Bulletin", "Bulletin", NOW - 30 * H)])
        s.commit()
    doc = assert_inert(client.get("/digest/2024-05-15").text)
    health = {tr.xpath("td[1]")[0].text_content(): tr.get("class") for tr in doc.xpath("//tr[starts-with(@class, 'feed-')]")}
    assert health == {"broken-times": "feed-failing", "quiet-gazette": "feed-silent", "flaky-post": "feed-silent"}
    # the same day's digest built after its end does call it silent
    with Session(engine) as s:
        done = repo_digest.load_digest(s, SPEC_0515, date(2024, 5, 15))
    assert "daily-bulletin" in {h.feed_name for h in done.feed_health if h.status == "silent"}


SPEC_0515 = DigestSpec("daily", "Europe/Berlin", "07:00", timedelta(days=1), 20, timedelta(hours=48))
