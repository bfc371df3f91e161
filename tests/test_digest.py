"""The digest: due days and periods across DST, ranking, feed health, and the
store's reads and exactly-once guard on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from monitor.digest import (
    OTHER_SECTION_TITLE,
    DigestSpec,
    build_digest,
    chart_periods,
    digest_period,
    due_digest_dates,
    feed_health,
    latest_due_date,
    local_instant,
    mentions_per_day,
    rank_sections,
    should_send,
    story_score,
)
from monitor.records import FeedActivity, Match, SourceLink, StoryActivity
from monitor.store import repo_digest
from tests.support import dbfill

UTC = timezone.utc
H = timedelta(hours=1)


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


# ------------------------------------------------------------ periods and DST

# (zone, local date, time, expected start UTC, expected end UTC, hours covered)
PERIODS = [
    # an ordinary day: 24 h
    ("Europe/Berlin", date(2024, 5, 14), "07:00", utc(2024, 5, 13, 5), utc(2024, 5, 14, 5), 24),
    # spring forward (2024-03-31 02:00 CET -> 03:00 CEST): the day has 23 h
    ("Europe/Berlin", date(2024, 3, 31), "07:00", utc(2024, 3, 30, 6), utc(2024, 3, 31, 5), 23),
    # fall back (2024-10-27 03:00 CEST -> 02:00 CET): 25 h
    ("Europe/Berlin", date(2024, 10, 27), "07:00", utc(2024, 10, 26, 5), utc(2024, 10, 27, 6), 25),
    # Los Angeles: 2024-03-10 and 2024-11-03
    ("America/Los_Angeles", date(2024, 3, 10), "07:00", utc(2024, 3, 9, 15), utc(2024, 3, 10, 14), 23),
    ("America/Los_Angeles", date(2024, 11, 3), "07:00", utc(2024, 11, 2, 14), utc(2024, 11, 3, 15), 25),
    # a digest time inside the spring gap runs one hour later on the clock (03:30 CEST)
    ("Europe/Berlin", date(2024, 3, 31), "02:30", utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 30), 24),
    # a digest time that happens twice in autumn takes the first occurrence (02:30 CEST)
    ("Europe/Berlin", date(2024, 10, 27), "02:30", utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), 24),
    ("America/Los_Angeles", date(2024, 11, 3), "01:30", utc(2024, 11, 2, 8, 30), utc(2024, 11, 3, 8, 30), 24),
    ("UTC", date(2024, 3, 31), "00:00", utc(2024, 3, 30), utc(2024, 3, 31), 24),
]


@pytest.mark.parametrize("zone,day,at,start,end,hours", PERIODS, ids=[f"{p[0]}-{p[1]}-{p[2]}" for p in PERIODS])
def test_digest_period(zone, day, at, start, end, hours):
    assert digest_period(day, zone, at) == (start, end)
    assert (end - start) == hours * H


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles", "Australia/Lord_Howe", "UTC"])
@pytest.mark.parametrize("at", ["07:00", "02:30", "00:00", "23:59"])
def test_daily_periods_tile_the_year_without_gap_or_overlap(zone, at):
    d = date(2024, 1, 1)
    for _ in range(366):
        assert digest_period(d, zone, at)[1] == digest_period(d + timedelta(days=1), zone, at)[0]
        d += timedelta(days=1)


def test_period_that_is_not_whole_days_counts_real_hours():
    start, end = digest_period(date(2024, 3, 31), "Europe/Berlin", "07:00", timedelta(hours=12))
    assert end == utc(2024, 3, 31, 5) and end - start == 12 * H
    start, end = digest_period(date(2024, 3, 31), "Europe/Berlin", "07:00", timedelta(days=7))
    assert start == local_instant(date(2024, 3, 24), "07:00", "Europe/Berlin")


# (zone, transition day, digest time) for the exactly-once simulation
TRANSITIONS = [
    (zone, day, at)
    for zone, days in [
        ("Europe/Berlin", [date(2024, 3, 31), date(2024, 10, 27)]),
        ("America/Los_Angeles", [date(2024, 3, 10), date(2024, 11, 3)]),
    ]
    for day in days
    for at in ["07:00", "02:30", "01:30", "00:00"]
]


@pytest.mark.parametrize("zone,day,at", TRANSITIONS, ids=[f"{z}-{d}-{a}" for z, d, a in TRANSITIONS])
def test_each_day_across_a_dst_change_gets_exactly_one_digest(zone, day, at):
    """A ticker every 10 minutes of real time, plus a cron-like trigger that
    fires at the wall-clock time in both folds (APScheduler's DST double fire),
    for three days around the change: every local day is produced once, at or
    after its digest time and at most one tick later."""
    ticks = []
    t = local_instant(day - timedelta(days=2), "00:00", zone)
    stop = local_instant(day + timedelta(days=2), "00:00", zone)
    while t < stop:
        ticks.append(t)
        t += timedelta(minutes=10)
    zi = ZoneInfo(zone)
    hh, mm = map(int, at.split(":"))
    for d in (day - timedelta(days=1), day, day + timedelta(days=1)):
        for fold in (0, 1):
            ticks.append(datetime(d.year, d.month, d.day, hh, mm, tzinfo=zi, fold=fold).astimezone(UTC))
    ticks.sort()

    done: dict[date, datetime] = {}
    last = day - timedelta(days=3)
    for now in ticks:
        for d in due_digest_dates(last, now, zone, at):
            assert d not in done, f"{d} produced twice (again at {now})"
            done[d] = now
            last = max(last, d)
    expected = [day - timedelta(days=2) + timedelta(days=i) for i in range(4)]
    expected = [d for d in expected if local_instant(d, at, zone) < stop]
    assert sorted(done) == expected
    for d, when in done.items():
        due = local_instant(d, at, zone)
        assert due <= when < due + timedelta(minutes=10), (d, due, when)


# (last done, now, expected) — Europe/Berlin, digest at 07:00
DUE = [
    ("fresh database: only the latest due day", None, utc(2024, 5, 14, 6), [date(2024, 5, 14)]),
    ("fresh database before digest time: yesterday", None, utc(2024, 5, 14, 4, 59), [date(2024, 5, 13)]),
    ("done today: nothing", date(2024, 5, 14), utc(2024, 5, 14, 9), []),
    ("restarted after digest time: today, once", date(2024, 5, 13), utc(2024, 5, 14, 9), [date(2024, 5, 14)]),
    ("before digest time: nothing yet", date(2024, 5, 13), utc(2024, 5, 14, 4, 59), []),
    ("exactly at digest time", date(2024, 5, 13), utc(2024, 5, 14, 5), [date(2024, 5, 14)]),
    ("two days down: both missed days",
     date(2024, 5, 11), utc(2024, 5, 14, 5, 30), [date(2024, 5, 12), date(2024, 5, 13), date(2024, 5, 14)]),
    ("a month down: the last seven days only",
     date(2024, 4, 1), utc(2024, 5, 14, 6), [date(2024, 5, 8) + timedelta(days=i) for i in range(7)]),
    ("clock behind the last run (restored backup): nothing", date(2024, 5, 20), utc(2024, 5, 14, 6), []),
]


@pytest.mark.parametrize("what,last,now,expected", DUE, ids=[d[0] for d in DUE])
def test_due_digest_dates(what, last, now, expected):
    assert due_digest_dates(last, now, "Europe/Berlin", "07:00") == expected


def test_missed_day_is_caught_up_once():
    zone, at = "America/Los_Angeles", "07:00"
    last = date(2024, 11, 1)
    # down from Nov 2 06:00 to Nov 4 09:00 (across the fall-back change)
    now = local_instant(date(2024, 11, 4), "09:00", zone)
    due = due_digest_dates(last, now, zone, at)
    assert due == [date(2024, 11, 2), date(2024, 11, 3), date(2024, 11, 4)]
    last = due[-1]
    for minutes in range(0, 600, 5):
        assert due_digest_dates(last, now + timedelta(minutes=minutes), zone, at) == []


def test_latest_due_date_needs_aware_now():
    with pytest.raises(ValueError, match="digest: now must be timezone-aware"):
        latest_due_date(datetime(2024, 5, 14, 7), "UTC", "07:00")


# ------------------------------------------------------------------- ranking


def story(sid: int, sources: int, new: int, watches=(), last=utc(2024, 5, 14, 4)) -> StoryActivity:
    links = tuple(SourceLink(f"S{i}", f"t{i}", f"https://s{i}.example/{sid}", last - i * H) for i in range(sources))
    return StoryActivity(
        story_id=sid,
        title=f"story {sid}",
        lead="",
        first_seen=last - 30 * H,
        last_updated=last,
        sources=links,
        new_sources_in_period=new,
        matches=tuple(Match(watch=w, alias=w.lower(), field="title", snippet=f"... {w} ...") for w in watches),
    )


PRIO = {"Homs": 5, "Aleppo": 2, "Idlib": 2, "Muted": 0}

# (story, expected score): sources + growth + 2 * highest watch priority
SCORES = [
    (story(1, sources=3, new=3), 6.0),
    (story(2, sources=5, new=0), 5.0),
    (story(3, sources=1, new=1, watches=["Homs"]), 12.0),
    (story(4, sources=2, new=1, watches=["Aleppo", "Homs"]), 13.0),
    (story(5, sources=2, new=2, watches=["Unknown"]), 4.0),
    (story(6, sources=1, new=0, watches=["Muted"]), 1.0),
]


@pytest.mark.parametrize("s,expected", SCORES, ids=[f"story{s.story_id}" for s, _ in SCORES])
def test_story_score(s, expected):
    assert story_score(s, PRIO) == expected


def test_sections_watches_by_priority_then_others_each_story_once():
    stories = [
        story(10, 2, 2),
        story(11, 6, 1),
        story(12, 1, 1, ["Aleppo"]),
        story(13, 4, 4, ["Idlib", "Aleppo"]),  # tie on priority: Aleppo by name
        story(14, 1, 0, ["Homs", "Idlib"]),
        story(15, 3, 3, ["Homs"]),
        story(16, 1, 1),
    ]
    sections = rank_sections(stories, PRIO, top_stories=2)
    assert [(s.title, s.watch, [i.story_id for i in s.items]) for s in sections] == [
        ("Homs", "Homs", [15, 14]),
        ("Aleppo", "Aleppo", [13, 12]),
        (OTHER_SECTION_TITLE, None, [11, 10]),  # 16 is beyond top_stories
    ]
    ids = [i.story_id for s in sections for i in s.items]
    assert len(ids) == len(set(ids))
    # the item still explains every watch it matched
    s14 = sections[0].items[1]
    assert {m.watch for m in s14.matches} == {"Homs", "Idlib"}


def test_ties_go_to_the_latest_update_then_lowest_id():
    a = story(1, 2, 0, last=utc(2024, 5, 14, 1))
    b = story(2, 2, 0, last=utc(2024, 5, 14, 3))
    c = story(3, 2, 0, last=utc(2024, 5, 14, 3))
    (section,) = rank_sections([a, c, b], {}, top_stories=10)
    assert [i.story_id for i in section.items] == [2, 3, 1]


def test_match_explanations_are_deduplicated_and_capped():
    m = [Match("Homs", alias, "title", f"snip {i}") for i, alias in enumerate(["Homs", "homs", "Hims", "Hums", "Emesa"])]
    s = StoryActivity(1, "t", "", utc(2024, 5, 14), utc(2024, 5, 14), (), 0, tuple(m))
    (section,) = rank_sections([s], {"Homs": 1}, top_stories=5)
    assert [x.alias for x in section.items[0].matches] == ["Homs", "Hims", "Hums"]


def test_top_stories_zero_keeps_watch_sections():
    sections = rank_sections([story(1, 3, 3), story(2, 1, 1, ["Homs"])], PRIO, top_stories=0)
    assert [s.title for s in sections] == ["Homs"]


# --------------------------------------------------------------- feed health

START, END = utc(2024, 5, 13, 5), utc(2024, 5, 14, 5)


def fa(name, **kw) -> FeedActivity:
    base = dict(feed_name=name, url=f"https://{name}.example/feed", created_at=utc(2024, 4, 1),
                failing_since=None, last_error=None, recovered_at=None, last_new_entry_at=END - H)
    base.update(kw)
    return FeedActivity(**base)


# (feed activity, expected (status, since) or None)
HEALTH = [
    (fa("healthy"), None),
    (fa("failing", failing_since=END - 50 * H, last_error="fetch: HTTP 503"), ("failing", END - 50 * H)),
    (fa("failing-new", failing_since=END - H, last_error="x"), ("failing", END - H)),
    (fa("recovered", recovered_at=START + 3 * H, last_error="timeout"), ("recovered", START + 3 * H)),
    (fa("recovered-long-ago", recovered_at=START - H), None),
    (fa("silent", last_new_entry_at=END - 49 * H), ("silent", END - 49 * H)),
    (fa("just-quiet", last_new_entry_at=END - 47 * H), None),
    (fa("never-had-entries", last_new_entry_at=None), ("silent", None)),
    (fa("new-feed", last_new_entry_at=None, created_at=END - H), None),
    (fa("failing-and-silent", failing_since=END - 5 * H, last_new_entry_at=END - 90 * H), ("failing", END - 5 * H)),
]


@pytest.mark.parametrize("activity,expected", HEALTH, ids=[a.feed_name for a, _ in HEALTH])
def test_feed_health(activity, expected):
    out = feed_health([activity], start=START, end=END, silent_after=timedelta(hours=48))
    assert [(h.status, h.since) for h in out] == ([expected] if expected else [])


def test_feed_health_order_failing_recovered_silent():
    acts = [a for a, _ in HEALTH]
    out = feed_health(acts, start=START, end=END, silent_after=timedelta(hours=48))
    assert [h.feed_name for h in out] == [
        "failing", "failing-and-silent", "failing-new", "recovered", "never-had-entries", "silent",
    ]
    assert out[0].last_error == "fetch: HTTP 503"


# -------------------------------------------------------------- chart bins


def test_mentions_bin_by_digest_period():
    periods = chart_periods(date(2024, 3, 31), "Europe/Berlin", "07:00")
    assert len(periods) == 14 and periods[-1][0] == date(2024, 3, 31)
    assert periods[-1][1:] == digest_period(date(2024, 3, 31), "Europe/Berlin", "07:00")
    sightings = [
        ("Homs", utc(2024, 3, 31, 4, 59)),  # just before the end: today
        ("Homs", utc(2024, 3, 31, 5)),  # at the end: outside
        ("Homs", utc(2024, 3, 30, 6)),  # at the start: today
        ("Homs", utc(2024, 3, 30, 5, 59)),  # yesterday
        ("Aleppo", utc(2024, 3, 17, 7)),  # first bar: 03-17 06:00Z to 03-18 06:00Z
        ("Aleppo", utc(2024, 3, 1)),  # too old
    ]
    out = dict(mentions_per_day(sightings, periods, {"Aleppo": 9}))
    assert list(dict(mentions_per_day(sightings, periods, {"Aleppo": 9}))) == ["Aleppo", "Homs"]
    assert out["Homs"][-1] == ("2024-03-31", 2) and out["Homs"][-2] == ("2024-03-30", 1)
    assert out["Aleppo"][0] == ("2024-03-18", 1) and sum(n for _, n in out["Aleppo"]) == 1


def test_empty_day_digest_and_should_send():
    spec = DigestSpec("daily", "Europe/Berlin", "07:00", timedelta(days=1), 20, timedelta(hours=48))
    d = build_digest(spec, date(2024, 5, 14), stories=[])
    assert d.is_empty and d.sections == () and d.local_date == "2024-05-14"
    assert should_send(d, skip_empty=False) and not should_send(d, skip_empty=True)
    failing = [fa("down", failing_since=END - 5 * H, last_error="x")]
    d2 = build_digest(spec, date(2024, 5, 14), stories=[], feeds=failing)
    assert should_send(d2, skip_empty=True)


# ------------------------------------------------------------------ the store

# `engine` (tests/conftest.py): a migrated database, SQLite file and PostgreSQL.


NOW = utc(2024, 5, 14, 5)  # 07:00 in Berlin
SPEC = DigestSpec("daily", "Europe/Berlin", "07:00", timedelta(days=1), 20, timedelta(hours=48))


def test_load_digest_from_the_store(engine):
    with Session(engine) as s:
        sample = dbfill.fill_sample(s, now=NOW)
        s.commit()
    with Session(engine) as s:
        d = repo_digest.load_digest(s, SPEC, date(2024, 5, 14), watch_priorities=sample.watch_priorities)
    assert (d.period_start, d.period_end) == (NOW - 24 * H, NOW)
    layout = [(sec.title, [(i.story_id, i.score) for i in sec.items]) for sec in d.sections]
    assert layout == [
        ("Homs", [(sample.homs.story_id, 3 + 3 + 10), (sample.arabic.story_id, 1 + 1 + 10)]),
        ("Tabqa Dam", [(sample.dam.story_id, 2 + 2 + 6)]),
        (OTHER_SECTION_TITLE, [(sample.quake.story_id, 4 + 4), (sample.market.story_id, 1 + 1)]),
    ]
    homs = d.sections[0].items[0]
    assert [x.source for x in homs.sources] == ["Reuters", "BBC", "AP"]
    assert homs.sources[0].url == "https://reuters.example/homs"
    assert homs.first_seen == NOW - 20 * H and homs.last_updated == NOW - 6 * H
    assert [(m.watch, m.alias) for m in homs.matches] == [("Homs", "Homs")]
    assert [(h.feed_name, h.status, h.since) for h in d.feed_health] == [
        ("broken-times", "failing", NOW - 50 * H),
        ("flaky-post", "recovered", NOW - 12 * H),
        ("quiet-gazette", "silent", NOW - timedelta(days=5)),
    ]
    assert d.feed_health[0].last_error == "fetch: HTTP 503 after 2h"
    assert d.feed_health[1].last_error == "fetch: connect timeout"
    chart = dict(d.mentions)
    assert list(chart) == ["Homs", "Tabqa Dam"]
    homs_days = dict(chart["Homs"])
    assert homs_days["2024-05-14"] == 4 and homs_days["2024-05-13"] == 1 and homs_days["2024-05-12"] == 2
    assert homs_days["2024-05-10"] == 4 and homs_days["2024-05-07"] == 1 and homs_days["2024-05-03"] == 3
    assert sum(homs_days.values()) == 4 + 1 + 2 + 4 + 1 + 3


def test_a_past_day_is_rebuilt_as_it_was(engine):
    """The digest of the day before sees only what had arrived by then."""
    with Session(engine) as s:
        sample = dbfill.fill_sample(s, now=NOW)
        s.commit()
    with Session(engine) as s:
        d = repo_digest.load_digest(s, SPEC, date(2024, 5, 13), watch_priorities=sample.watch_priorities)
        story = repo_digest.story_activity(s, sample.homs.story_id)
    ids = [i.story_id for sec in d.sections for i in sec.items]
    assert sample.old.story_id in ids and sample.homs.story_id not in ids
    assert [a.source for a in story.articles] == ["Reuters", "BBC", "AP"]


def test_claim_guard_second_claim_of_a_day_is_refused(engine):
    day = date(2024, 3, 31)
    with Session(engine) as s:
        assert repo_digest.claim_digest_run(s, "daily", day, "w1", NOW)
        s.commit()
    with Session(engine) as s:
        assert not repo_digest.claim_digest_run(s, "daily", day, "w2", NOW + timedelta(minutes=5))
        assert not repo_digest.claim_digest_run(s, "daily", "2024-03-31", "w1", NOW)
        assert not repo_digest.claim_digest_run(s, "daily", day, "w2", NOW + H, lease=None)
        assert repo_digest.claim_digest_run(s, "weekly", day, "w2", NOW)  # another digest name
        s.commit()
    with Session(engine) as s:
        repo_digest.mark_built(s, "daily", day, NOW + H, story_count=7, html_path="/tmp/x.html")
        repo_digest.mark_sent(s, "daily", day, NOW + 2 * H)
        s.commit()
        assert repo_digest.last_digest_date(s, "daily") == day
        (run,) = repo_digest.digest_runs(s, "daily")
        assert (run.status, run.story_count, run.sent_at) == ("sent", 7, NOW + 2 * H)
        # a sent day is never taken over, however old
        assert not repo_digest.claim_digest_run(s, "daily", day, "w3", NOW + timedelta(days=30))


def test_stale_claim_is_taken_over_once(engine):
    day = date(2024, 3, 31)
    with Session(engine) as s:
        assert repo_digest.claim_digest_run(s, "daily", day, "dead", NOW)
        s.commit()
    with Session(engine) as s:
        assert not repo_digest.claim_digest_run(s, "daily", day, "w2", NOW + timedelta(minutes=10))
        assert repo_digest.claim_digest_run(s, "daily", day, "w2", NOW + H)
        assert not repo_digest.claim_digest_run(s, "daily", day, "w3", NOW + H)
        s.commit()


def test_racing_schedulers_produce_each_day_once(engine):
    """Four workers tick through the Berlin autumn change at the same time,
    each asking due_digest_dates and claiming: every day is claimed once."""
    zone, at = "Europe/Berlin", "02:30"
    start = local_instant(date(2024, 10, 25), "00:00", zone)
    ticks = [start + timedelta(minutes=20 * i) for i in range(3 * 72)]
    won: list[tuple[str, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    with Session(engine) as s:
        repo_digest.claim_digest_run(s, "daily", date(2024, 10, 24), "seed", start)
        s.commit()

    def worker(name: str) -> None:
        try:
            for now in ticks:
                with Session(engine) as s:
                    last = repo_digest.last_digest_date(s, "daily")
                    for d in due_digest_dates(last, now, zone, at):
                        if repo_digest.claim_digest_run(s, "daily", d, name, now):
                            with lock:
                                won.append((d.isoformat(), name))
                    s.commit()
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    days = sorted(d for d, _ in won)
    assert days == ["2024-10-25", "2024-10-26", "2024-10-27"]


def test_watch_sections_are_capped_for_mail_and_say_how_many_more():
    many = [story(i, 1 + i % 4, 1, ["Homs"]) for i in range(30)] + [story(100 + i, 1, 1) for i in range(5)]
    homs, other = rank_sections(many, PRIO, top_stories=3, watch_limit=25)
    assert (len(homs.items), homs.omitted) == (25, 5)
    assert (len(other.items), other.omitted) == (3, 2)
    (homs_all, _) = rank_sections(many, PRIO, top_stories=3, watch_limit=None)
    assert (len(homs_all.items), homs_all.omitted) == (30, 0)
    assert homs_all.items[:25] == homs.items
