"""The daily digest: which days are due, what period a day covers, and what
goes in it, in which order.  Pure: every function takes values (``now``
included) and returns values; the store reads the inputs
(:mod:`monitor.store.repo_digest`), :mod:`monitor.render` draws the result.

Days and periods
----------------
A digest is named by the local date on which it is due: the "daily" digest of
2024-03-31 at 07:00 Europe/Berlin is due at 2024-03-31T07:00+02:00 and covers
the period before it.  When the period is a whole number of days it is counted
on the wall clock (from 07:00 the day before), not in hours: consecutive
digests then tile time with no gap and no overlap although the days of the DST
changes last 23 and 25 hours.  Other periods are counted back in real hours.

A digest time that does not exist on a spring-forward day (02:30 in Berlin on
the last Sunday of March) resolves as PEP 495 ``fold=0`` does: with the offset
before the change, i.e. one hour later on the wall clock (03:30 CEST).  A time
that happens twice on the autumn day resolves to its first occurrence.

:func:`due_digest_dates` decides from the last day done (kept in the
``digest_run`` table, one row per name and local date) which days are due at
``now``; it never returns a day twice once that day is recorded, so a cron
trigger that fires twice, or not at all, around a DST change does no harm, and
a daemon that was down at digest time catches the missed days up once.

Ranking
-------
Each story active in the period gets::

    score = sources + growth + WATCH_WEIGHT * priority

- ``sources``: distinct sources (outlets, not feeds) that reported it by the end
  of the period;
- ``growth``: distinct sources whose first report came during the period, so a
  story that is still spreading outranks an equally large one that stopped;
- ``priority``: the highest ``priority`` (0..10) among the watches it matched,
  0 for none; ``WATCH_WEIGHT`` = 2 makes one priority step worth two sources.

Ties go to the most recently updated story, then to the lower story id, so the
order is stable.

Sections: stories that matched a watch come first, grouped by watch (the
highest-priority watch first, then by name).  A story that matched several
watches appears once, under its highest-priority watch; its item lists every
match (alias and snippet) so the reader sees why.  Then "Other top stories":
the best ``top_stories`` of the rest.  A sent digest lists at most
``WATCH_SECTION_LIMIT`` stories per watch and says how many more there are
(the web archive lists them all).  A day with no story is still a digest
(it says so, and keeps the feed-health section and the chart); the caller
decides with :func:`should_send` whether to send it.

Feed health
-----------
``failing``: the last poll before the period end failed (since: the first
failure of that run).  ``recovered``: a run of failures ended during the period.
``silent``: not failing, but nothing new for ``silent_after`` (since: the last
new entry, or the feed's creation when it never had one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from .records import (
    Digest,
    DigestItem,
    DigestSection,
    FeedActivity,
    FeedHealth,
    Match,
    StoryActivity,
)

#: one watch priority step is worth this many distinct sources (see the module docstring)
WATCH_WEIGHT = 2.0
#: how many days the mentions chart covers (the issue asks for two weeks)
CHART_DAYS = 14
#: at most this many missed days are caught up after downtime; older ones are
#: dropped so a daemon restarted after a month does not mail thirty digests
MAX_CATCH_UP_DAYS = 7
#: "why it matched" lines kept per watch on one story; the rest add nothing new
MATCHES_PER_WATCH = 3
#: stories shown per watch section in a sent digest.  An item is about 1.6 kB
#: of HTML (measured on the test corpus) and Gmail clips HTML mail above
#: 102 kB; the web archive shows every story (limit None).
WATCH_SECTION_LIMIT = 25
OTHER_SECTION_TITLE = "Other top stories"

DAY = timedelta(days=1)


# ------------------------------------------------------------ days and periods


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _clock(at: str | time) -> time:
    if isinstance(at, time):
        return at.replace(tzinfo=None)
    hh, mm = at.split(":")
    return time(int(hh), int(mm))


def local_instant(local_date: date, at: str | time, tz: str | ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``local_date`` in ``tz``.

    Non-existent times (spring forward) move forward by the gap; repeated
    times (fall back) take their first occurrence (PEP 495, ``fold=0``).
    """
    zone = _zone(tz)
    naive = datetime.combine(local_date, _clock(at))
    # A round trip through UTC normalises a time inside the spring gap: fold=0
    # gives it the pre-change offset, which lands one hour later on the clock.
    return naive.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)


def digest_period(
    local_date: date, tz: str | ZoneInfo, at: str | time, period: timedelta = DAY
) -> tuple[datetime, datetime]:
    """``(start_utc, end_utc)`` of the digest due on ``local_date`` at ``at``.

    A whole number of days is counted on the wall clock (see the module
    docstring), anything else in real time back from the digest time.
    """
    end = local_instant(local_date, at, tz)
    if period > timedelta(0) and period % DAY == timedelta(0):
        start = local_instant(local_date - period, at, tz)
    else:
        start = end - period
    return start, end


def latest_due_date(now: datetime, tz: str | ZoneInfo, at: str | time) -> date:
    """The most recent local date whose digest time is at or before ``now``."""
    if now.tzinfo is None:
        raise ValueError("digest: now must be timezone-aware")
    today = now.astimezone(_zone(tz)).date()
    # Compare instants, not wall clocks: on a fall-back day 02:30 happens
    # twice, and only the first one is the digest time.
    return today if local_instant(today, at, tz) <= now else today - DAY


def due_digest_dates(
    last_done: date | None,
    now: datetime,
    tz: str | ZoneInfo,
    at: str | time,
    *,
    max_catch_up: int = MAX_CATCH_UP_DAYS,
) -> list[date]:
    """Local dates whose digest is due at ``now`` and not done yet, oldest first.

    ``last_done`` is the latest date already claimed (None on a fresh
    database: only the latest due day is built, the past is not back-filled).
    Days missed while the daemon was down come back once each, at most
    ``max_catch_up`` of them (the most recent ones).
    """
    latest = latest_due_date(now, tz, at)
    if last_done is None:
        return [latest]
    first = max(last_done + DAY, latest - (max_catch_up - 1) * DAY)
    out = []
    d = first
    while d <= latest:
        out.append(d)
        d += DAY
    return out


def chart_periods(local_date: date, tz: str | ZoneInfo, at: str | time, days: int = CHART_DAYS) -> list[tuple[date, datetime, datetime]]:
    """The ``days`` daily digest periods ending with ``local_date``'s, oldest first.

    The chart bins mentions by digest period (not by calendar day) so its last
    bar is exactly the period the digest reports on.
    """
    out = []
    for i in range(days - 1, -1, -1):
        d = local_date - i * DAY
        start, end = digest_period(d, tz, at, DAY)
        out.append((d, start, end))
    return out


def mentions_per_day(
    sightings: Iterable[tuple[str, datetime]],
    periods: Sequence[tuple[date, datetime, datetime]],
    watch_priorities: Mapping[str, int],
) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """Count ``(watch, matched_at)`` sightings into the given periods.

    Watches with at least one mention are kept, highest priority first, then
    by name; every watch gets one count per period (zeros included).
    """
    counts: dict[str, Counter[date]] = defaultdict(Counter)
    for watch, at in sightings:
        for d, start, end in periods:
            if start <= at < end:
                counts[watch][d] += 1
                break
    order = sorted(counts, key=lambda w: (-watch_priorities.get(w, 0), w))
    return tuple(
        (w, tuple((d.isoformat(), counts[w][d]) for d, _, _ in periods)) for w in order if sum(counts[w].values())
    )


# ----------------------------------------------------------------- ranking


def story_score(story: StoryActivity, watch_priorities: Mapping[str, int]) -> float:
    """The ranking formula of the module docstring."""
    priority = max((watch_priorities.get(m.watch, 0) for m in story.matches), default=0)
    return float(len(story.sources) + story.new_sources_in_period + WATCH_WEIGHT * priority)


def _home_watch(story: StoryActivity, watch_priorities: Mapping[str, int]) -> str | None:
    watches = {m.watch for m in story.matches}
    if not watches:
        return None
    return min(watches, key=lambda w: (-watch_priorities.get(w, 0), w))


def _explain(matches: Sequence[Match]) -> tuple[Match, ...]:
    """One line per (watch, alias), at most MATCHES_PER_WATCH per watch, in input order."""
    seen: set[tuple[str, str]] = set()
    per_watch: Counter[str] = Counter()
    out = []
    for m in matches:
        key = (m.watch, m.alias.casefold())
        if key in seen or per_watch[m.watch] >= MATCHES_PER_WATCH:
            continue
        seen.add(key)
        per_watch[m.watch] += 1
        out.append(m)
    return tuple(out)


def digest_item(story: StoryActivity, score: float) -> DigestItem:
    return DigestItem(
        story_id=story.story_id,
        title=story.title,
        first_seen=story.first_seen,
        last_updated=story.last_updated,
        sources=story.sources,
        lead=story.lead,
        score=score,
        matches=_explain(story.matches),
        new_sources_in_period=story.new_sources_in_period,
    )


def rank_sections(
    stories: Iterable[StoryActivity],
    watch_priorities: Mapping[str, int],
    top_stories: int,
    *,
    watch_limit: int | None = WATCH_SECTION_LIMIT,
) -> tuple[DigestSection, ...]:
    """Watch sections (highest priority first, at most ``watch_limit`` stories
    each, None for all), then the ``top_stories`` best other stories."""
    by_watch: dict[str, list[DigestItem]] = defaultdict(list)
    others: list[DigestItem] = []
    for story in stories:
        item = digest_item(story, story_score(story, watch_priorities))
        home = _home_watch(story, watch_priorities)
        (by_watch[home] if home is not None else others).append(item)

    def order(items: list[DigestItem]) -> tuple[DigestItem, ...]:
        items.sort(key=lambda i: (-i.score, -i.last_updated.timestamp(), i.story_id))
        return tuple(items)

    def section(title: str, items: list[DigestItem], limit: int | None, watch: str | None = None) -> DigestSection:
        ranked = order(items)
        kept = ranked if limit is None else ranked[:limit]
        return DigestSection(title=title, items=kept, watch=watch, omitted=len(ranked) - len(kept))

    sections = [
        section(w, by_watch[w], watch_limit, w)
        for w in sorted(by_watch, key=lambda w: (-watch_priorities.get(w, 0), w))
    ]
    if others and top_stories > 0:
        sections.append(section(OTHER_SECTION_TITLE, others, top_stories))
    return tuple(sections)


# -------------------------------------------------------------- feed health


def feed_health(
    feeds: Iterable[FeedActivity], *, start: datetime, end: datetime, silent_after: timedelta
) -> tuple[FeedHealth, ...]:
    """Failing feeds (longest failing first), recoveries in the period, then silent feeds."""
    failing, recovered, silent = [], [], []
    for f in feeds:
        if f.failing_since is not None:
            failing.append(FeedHealth(f.feed_name, f.url, "failing", f.failing_since, f.last_error))
        elif f.recovered_at is not None and start <= f.recovered_at < end:
            recovered.append(FeedHealth(f.feed_name, f.url, "recovered", f.recovered_at, f.last_error))
        else:
            quiet_since = f.last_new_entry_at or f.created_at
            if quiet_since is not None and quiet_since <= end - silent_after:
                silent.append(FeedHealth(f.feed_name, f.url, "silent", f.last_new_entry_at))

    def oldest_first(h: FeedHealth) -> tuple[datetime, str]:
        return (h.since or datetime.min.replace(tzinfo=timezone.utc), h.feed_name)

    return tuple(sorted(failing, key=oldest_first) + sorted(recovered, key=oldest_first) + sorted(silent, key=oldest_first))


# -------------------------------------------------------------------- build


@dataclass(frozen=True, slots=True)
class DigestSpec:
    """The digest settings :func:`build_digest` needs, as plain values."""

    name: str
    timezone: str
    time: str
    period: timedelta
    top_stories: int
    silent_after: timedelta

    @classmethod
    def from_settings(cls, s: object) -> "DigestSpec":
        """From a :class:`monitor.config.DigestSettings` (duck-typed: this module imports no config)."""
        return cls(
            name=s.name,  # type: ignore[attr-defined]
            timezone=s.timezone,  # type: ignore[attr-defined]
            time=s.time,  # type: ignore[attr-defined]
            period=s.period,  # type: ignore[attr-defined]
            top_stories=s.top_stories,  # type: ignore[attr-defined]
            silent_after=s.silent_after,  # type: ignore[attr-defined]
        )


def build_digest(
    spec: DigestSpec,
    local_date: date,
    *,
    stories: Iterable[StoryActivity],
    feeds: Iterable[FeedActivity] = (),
    sightings: Iterable[tuple[str, datetime]] = (),
    watch_priorities: Mapping[str, int] | None = None,
    watch_limit: int | None = WATCH_SECTION_LIMIT,
    now: datetime | None = None,
) -> Digest:
    """Assemble the :class:`Digest` of ``local_date`` from what the store read.

    ``stories`` are the stories active in the period, ``feeds`` the enabled
    feeds' poll history, ``sightings`` the ``(watch, matched_at)`` pairs of the
    chart's fourteen days.  ``watch_limit``: stories per watch section (None: all).
    ``now``: for a period not over yet, feed health is judged at ``now``
    (``feeds`` must then be read as of ``now`` too), not at the period end.
    """
    prio = dict(watch_priorities or {})
    start, end = digest_period(local_date, spec.timezone, spec.time, spec.period)
    health_at = min(end, now) if now is not None else end
    return Digest(
        name=spec.name,
        local_date=local_date.isoformat(),
        timezone=spec.timezone,
        period_start=start,
        period_end=end,
        sections=rank_sections(stories, prio, spec.top_stories, watch_limit=watch_limit),
        feed_health=feed_health(feeds, start=start, end=health_at, silent_after=spec.silent_after),
        mentions=mentions_per_day(sightings, chart_periods(local_date, spec.timezone, spec.time), prio),
    )


def should_send(digest: Digest, skip_empty: bool) -> bool:
    """Whether to deliver: an empty day is sent unless ``skip_empty``, and a
    day with feed problems is never "empty" (the user needs to hear about them)."""
    return not skip_empty or not digest.is_empty or any(h.status == "failing" for h in digest.feed_health)
