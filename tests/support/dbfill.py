"""Insert feeds, entries, articles, stories, matches and poll rows directly
through SQLModel, for the digest, render and web tests.

These helpers bypass the pipeline on purpose: a test states the database it
needs in a few lines and checks what the digest and the pages make of it.
Content is stored exactly as given (hostile HTML included), so the renderer's
own sanitising is what the tests exercise.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Sequence

from sqlmodel import Session

from monitor.store.models import Alert, Article, Entry, Feed, PollLog, Story, WatchMatch

UTC = timezone.utc

# ------------------------------------------------------------ hostile content

#: what the hostile content would do if any of it ran: set the page title or
#: mark the body.  The browser test asserts neither happened.
PWNED = "pwned"
_MARK = "document.body.setAttribute('data-pwned','1')"

#: a headline as a hostile feed could deliver it after HTML reduction: markup
#: as literal text, a terminal escape, a bidi override
HOSTILE_TITLE = (
    f"<script>document.title='{PWNED}'</script>Rebels advance"
    f' <img src=x onerror="{_MARK}"> \x1b[31mnear the dam\u202e'
)
HOSTILE_HTML = (
    "<p>Eyewitnesses report fighting.</p>"
    f"<script>document.title='{PWNED}';{_MARK}</script>"
    f'<img src="x" onerror="{_MARK}" alt="photo">'
    f'<a href="javascript:{_MARK}">details</a>'
    f'<a href="https://example.org/ok" onclick="{_MARK}">source</a>'
    "<style>body{display:none!important}</style>"
    '<p style="position:fixed;top:0;left:0;width:100%;height:100%;background:red">overlay</p>'
    '<iframe src="javascript:alert(1)"></iframe>'
    f'<svg onload="{_MARK}"><circle r="5"/></svg>'
    '<form action="https://evil.example/"><input name="q"></form>'
    f'<div onmouseover="{_MARK}">hover</div>'
)
HOSTILE_URL = f"javascript:{_MARK}"
ARABIC_TITLE = "القوات الحكومية تستعيد السيطرة على حمص"


# ---------------------------------------------------------------------- rows


def add_feed(
    session: Session,
    name: str,
    *,
    url: str | None = None,
    source: str | None = None,
    created_at: datetime,
    enabled: bool = True,
    **state: object,
) -> int:
    f = Feed(
        name=name,
        url=url or f"https://{name.lower().replace(' ', '-')}.example/feed.xml",
        source=source,
        enabled=enabled,
        created_at=created_at,
        **state,
    )
    session.add(f)
    session.flush()
    return f.id


def add_poll(
    session: Session,
    feed_id: int,
    *,
    at: datetime,
    status: str = "ok",
    duration: float = 0.2,
    error: str | None = None,
    new: int = 0,
) -> None:
    session.add(PollLog(feed_id=feed_id, at=at, status=status, duration=duration, error=error, new=new))
    session.flush()


@dataclass(frozen=True)
class A:
    """One article of a story: which feed reported it, when it arrived."""

    feed_id: int
    source: str
    title: str
    at: datetime
    url: str | None = None
    content_html: str = ""


@dataclass
class StoryRows:
    story_id: int
    article_ids: list[int] = field(default_factory=list)
    entry_ids: list[int] = field(default_factory=list)


def add_story(session: Session, *, title: str, articles: Sequence[A], lead: str = "") -> StoryRows:
    """A story with one entry + article per :class:`A` (arrival = ``A.at``)."""
    ats = [a.at for a in articles]
    s = Story(
        title=title,
        lead=lead,
        first_seen=min(ats),
        last_updated=max(ats),
        article_count=len(articles),
        source_count=len({a.source for a in articles}),
    )
    session.add(s)
    session.flush()
    rows = StoryRows(s.id)
    for i, a in enumerate(articles):
        e = Entry(
            feed_id=a.feed_id,
            key=f"story{s.id}-{i}-{secrets.token_hex(4)}",
            url=a.url,
            canonical_url=a.url,
            title=a.title,
            summary="",
            content_text="",
            content_html=a.content_html,
            first_seen=a.at,
            last_seen=a.at,
            published=a.at,
            processed_at=a.at,
        )
        session.add(e)
        session.flush()
        art = Article(
            first_entry_id=e.id,
            canonical_url=a.url,
            title=a.title,
            source=a.source,
            first_seen=a.at,
            when=a.at,
            story_id=s.id,
            story_similarity=1.0,
        )
        session.add(art)
        session.flush()
        e.article_id = art.id
        session.add(e)
        rows.article_ids.append(art.id)
        rows.entry_ids.append(e.id)
    session.flush()
    return rows


def add_match(
    session: Session,
    *,
    watch: str,
    story_id: int,
    article_id: int,
    alias: str,
    snippet: str,
    at: datetime,
    field_name: str = "title",
) -> None:
    session.add(
        WatchMatch(
            watch=watch,
            story_id=story_id,
            article_id=article_id,
            alias=alias,
            field_name=field_name,
            snippet=snippet,
            matched_at=at,
        )
    )
    session.flush()


def add_alert(session: Session, *, key: str, watch: str, status: str, at: datetime, story_id: int | None = None) -> None:
    session.add(
        Alert(key=key, watch=watch, story_id=story_id, channel="console", payload="{}", status=status, created_at=at)
    )
    session.flush()


# ------------------------------------------------------------ a sample day


@dataclass
class Sample:
    """Ids and facts of :func:`fill_sample`'s database, for assertions."""

    now: datetime
    homs: StoryRows
    dam: StoryRows  # the hostile one
    arabic: StoryRows
    quake: StoryRows  # unwatched, many sources
    market: StoryRows  # unwatched, one source
    old: StoryRows  # before the period: must not appear
    feeds: dict[str, int]
    watch_priorities: dict[str, int]


def fill_sample(session: Session, *, now: datetime) -> Sample:
    """A day of news before ``now``: two watches, five stories in the period
    (one hostile, one Arabic), one story from the day before, a failing feed,
    a silent feed, a recovered feed, polls and alerts for the metrics."""
    h = timedelta(hours=1)
    day0 = now - timedelta(days=20)
    feeds = {
        name: add_feed(session, name, source=src, created_at=day0)
        for name, src in [
            ("reuters-world", "Reuters"),
            ("bbc-world", "BBC"),
            ("aljazeera-ar", "Al Jazeera"),
            ("ap-top", "AP"),
            ("hostile", "Hostile Daily"),
            ("afp", "AFP"),
            ("quiet-gazette", "Quiet Gazette"),
            ("broken-times", "Broken Times"),
            ("flaky-post", "Flaky Post"),
        ]
    }
    F = feeds
    homs = add_story(
        session,
        title="Government offensive near Homs",
        lead="Government troops advanced on rebel positions north of Homs, residents said.",
        articles=[
            A(F["reuters-world"], "Reuters", "Government offensive near Homs", now - 20 * h, "https://reuters.example/homs"),
            A(F["bbc-world"], "BBC", "Syrian army pushes towards Homs", now - 15 * h, "https://bbc.example/homs"),
            A(F["ap-top"], "AP", "Fighting reported near Homs", now - 6 * h, "https://ap.example/homs"),
        ],
    )
    for aid, at in zip(homs.article_ids, (20, 15, 6)):
        add_match(session, watch="Homs", story_id=homs.story_id, article_id=aid, alias="Homs",
                  snippet="offensive near Homs as", at=now - at * h)
    arabic = add_story(
        session,
        title=ARABIC_TITLE,
        lead="تقارير عن معارك في حمص",
        articles=[A(F["aljazeera-ar"], "Al Jazeera", ARABIC_TITLE, now - 10 * h, "https://aljazeera.example/homs-ar")],
    )
    add_match(session, watch="Homs", story_id=arabic.story_id, article_id=arabic.article_ids[0], alias="حمص",
              snippet="السيطرة على حمص", at=now - 10 * h)
    dam = add_story(
        session,
        title=HOSTILE_TITLE,
        lead="Rebels advance near the dam <b>bold</b>",
        articles=[
            A(F["hostile"], "Hostile Daily", HOSTILE_TITLE, now - 8 * h, HOSTILE_URL, HOSTILE_HTML),
            A(F["afp"], "AFP", "Rebels advance near Tabqa dam", now - 7 * h, "https://afp.example/dam"),
        ],
    )
    add_match(session, watch="Tabqa Dam", story_id=dam.story_id, article_id=dam.article_ids[1], alias="Tabqa dam",
              snippet="advance near Tabqa dam", at=now - 7 * h)
    quake = add_story(
        session,
        title="Earthquake shakes the coast",
        lead="A magnitude 6.1 earthquake struck offshore.",
        articles=[
            A(F["reuters-world"], "Reuters", "Earthquake shakes the coast", now - 5 * h, "https://reuters.example/quake"),
            A(F["bbc-world"], "BBC", "Strong quake hits coast", now - 4 * h, "https://bbc.example/quake"),
            A(F["ap-top"], "AP", "Quake hits coastal towns", now - 4 * h, "https://ap.example/quake"),
            A(F["afp"], "AFP", "Séisme sur la côte", now - 3 * h, "https://afp.example/quake"),
        ],
    )
    market = add_story(
        session,
        title="Central bank holds rates",
        lead="No change, as expected.",
        articles=[A(F["reuters-world"], "Reuters", "Central bank holds rates", now - 2 * h, "https://reuters.example/rates")],
    )
    old = add_story(
        session,
        title="Yesterday's storm",
        lead="",
        articles=[A(F["bbc-world"], "BBC", "Yesterday's storm", now - 30 * h, "https://bbc.example/storm")],
    )
    # mentions on earlier days, for the chart (stories before the period)
    for d, n in ((2, 1), (3, 2), (5, 4), (8, 1), (12, 3)):
        past = add_story(
            session,
            title=f"Homs report {d} days ago",
            articles=[A(F["reuters-world"], "Reuters", f"Homs report {d}/{i}", now - timedelta(days=d, hours=i))
                      for i in range(n)],
        )
        for aid in past.article_ids:
            add_match(session, watch="Homs", story_id=past.story_id, article_id=aid, alias="Homs",
                      snippet="report from Homs", at=now - timedelta(days=d))
    add_story(session, title="Gazette's last item",
              articles=[A(F["quiet-gazette"], "Quiet Gazette", "Gazette's last item", now - timedelta(days=5))])

    # polls: healthy feeds ok every few hours; broken-times failing for two
    # days; flaky-post failed yesterday evening and recovered this morning
    for name, fid in feeds.items():
        if name in ("broken-times", "flaky-post"):
            continue
        for k in range(0, 48, 6):
            add_poll(session, fid, at=now - (k + 1) * h, duration=0.05 * (1 + k % 5), new=1 if k == 0 else 0)
    broken = feeds["broken-times"]
    add_poll(session, broken, at=now - 72 * h, status="ok", duration=0.3)
    for k in (50, 30, 10, 2):
        add_poll(session, broken, at=now - k * h, status="error", duration=30.0, error=f"fetch: HTTP 503 after {k}h")
    flaky = feeds["flaky-post"]
    add_poll(session, flaky, at=now - 40 * h, status="ok", duration=1.2)
    add_poll(session, flaky, at=now - 16 * h, status="error", duration=10.0, error="fetch: connect timeout")
    add_poll(session, flaky, at=now - 12 * h, status="ok", duration=0.8)
    for fid in (broken, flaky):
        add_story(session, title=f"older item {fid}", articles=[A(fid, "x", "older item", now - 3 * timedelta(days=1))])
    f = session.get(Feed, broken)
    f.failing_since, f.last_error, f.last_status, f.error_count = now - 50 * h, "fetch: HTTP 503 after 2h", "error", 4
    session.add(f)
    last_entry = {"reuters-world": 2, "bbc-world": 4, "ap-top": 4, "afp": 3, "aljazeera-ar": 10, "hostile": 8,
                  "quiet-gazette": 5 * 24, "broken-times": 72, "flaky-post": 72}
    for name, fid in feeds.items():
        f = session.get(Feed, fid)
        f.last_polled_at = now - (2 if name == "broken-times" else 1) * h
        f.last_new_entry_at = now - last_entry[name] * h
        if name != "broken-times":
            f.last_success_at, f.last_status = now - h, "ok"
        session.add(f)

    add_alert(session, key="a1", watch="Homs", status="sent", at=now - 10 * h, story_id=homs.story_id)
    add_alert(session, key="a2", watch="Homs", status="pending", at=now - h, story_id=arabic.story_id)
    add_alert(session, key="a3", watch="Tabqa Dam", status="failed", at=now - 5 * h, story_id=dam.story_id)
    session.flush()
    return Sample(
        now=now,
        homs=homs,
        dam=dam,
        arabic=arabic,
        quake=quake,
        market=market,
        old=old,
        feeds=feeds,
        watch_priorities={"Homs": 5, "Tabqa Dam": 3},
    )
