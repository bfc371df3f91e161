"""What a digest and the web pages read, and the exactly-once guard of a day's digest.

Every function takes an open :class:`~sqlmodel.Session` (the caller owns the
transaction) and returns records from :mod:`monitor.records` or plain values.

Reads for one period ``[start, end)`` see the database as of ``end``: rows that
arrived later are left out, so a digest rebuilt for a past day (``monitor
digest --date``, the web archive) says what that day's digest said.  Arrival
means ``Article.first_seen`` (when monitor first saw it), not the publisher's
date, which feeds get wrong too often to bound a period with.

The guard: ``digest_run`` has a unique (name, local_date) key; a worker that
wants to build a day's digest first inserts that row (insert-if-absent with
``ON CONFLICT DO NOTHING`` on both SQLite and PostgreSQL) and only the worker
whose insert took effect builds and sends.  A claim whose builder died
(``building`` for longer than ``lease``) can be taken over with a conditional
UPDATE.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Iterator, Mapping, Sequence, TypeVar

from sqlalchemy import and_, case, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from ..digest import WATCH_SECTION_LIMIT, DigestSpec, build_digest, chart_periods, digest_period
from ..records import (
    Digest,
    DigestRunInfo,
    FeedActivity,
    FeedStatus,
    Match,
    MatchSighting,
    SourceLink,
    StoryActivity,
)
from .models import Alert, Article, DigestRun, Entry, Feed, PollLog, Story, WatchMatch

#: ids per IN (...) list: far below SQLite's 32766 bound-parameter limit and
#: PostgreSQL's 65535, and small enough to keep plans simple
_CHUNK = 500
#: how far back the poll log is read to find when a failure run started; a feed
#: failing for longer is reported as failing since this horizon at most
POLL_HISTORY = timedelta(days=30)

T = TypeVar("T")


def _chunks(items: Sequence[T], n: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _is_error():
    return PollLog.status == "error"


# ------------------------------------------------------------------ stories


def stories_in_period(session: Session, start: datetime, end: datetime) -> list[StoryActivity]:
    """Stories that gained at least one article in ``[start, end)``, with their
    sources and watch matches as of ``end``, in story id order."""
    ids = list(
        session.execute(
            select(Article.story_id)
            .where(Article.story_id.is_not(None), Article.first_seen >= start, Article.first_seen < end)
            .distinct()
            .order_by(Article.story_id)
        ).scalars()
    )
    out: list[StoryActivity] = []
    for chunk in _chunks(ids):
        out.extend(_story_activities(session, chunk, start=start, end=end))
    return out


def story_activity(session: Session, story_id: int, *, end: datetime | None = None) -> StoryActivity | None:
    """One story with all its articles (up to ``end`` when given): the story page."""
    acts = _story_activities(session, [story_id], start=None, end=end)
    return acts[0] if acts else None


def _story_activities(
    session: Session, story_ids: Sequence[int], *, start: datetime | None, end: datetime | None
) -> list[StoryActivity]:
    stories = {s.id: s for s in session.execute(select(Story).where(Story.id.in_(story_ids))).scalars()}
    q = (
        select(
            Article.story_id,
            Article.id,
            Article.source,
            Article.title,
            Article.first_seen,
            Article.canonical_url,
            Entry.url,
            Entry.content_html,
        )
        .outerjoin(Entry, Entry.id == Article.first_entry_id)
        .where(Article.story_id.in_(story_ids))
        .order_by(Article.story_id, Article.first_seen, Article.id)
    )
    if end is not None:
        q = q.where(Article.first_seen < end)
    articles: dict[int, list[tuple[SourceLink, str]]] = defaultdict(list)
    for story_id, _aid, source, title, first_seen, canonical, url, html in session.execute(q):
        link = SourceLink(source=source or "", title=title or "", url=url or canonical, when=first_seen)
        articles[story_id].append((link, html or ""))

    mq = select(WatchMatch).where(WatchMatch.story_id.in_(story_ids)).order_by(WatchMatch.story_id, WatchMatch.id)
    if end is not None:
        mq = mq.where(or_(WatchMatch.matched_at.is_(None), WatchMatch.matched_at < end))
    matches: dict[int, list[Match]] = defaultdict(list)
    for m in session.execute(mq).scalars():
        matches[m.story_id].append(
            Match(watch=m.watch, alias=m.alias, field=m.field_name, snippet=m.snippet, alias_source=m.alias_source)
        )

    out = []
    for sid in story_ids:
        s = stories.get(sid)
        arts = articles.get(sid)
        if s is None or not arts:
            continue
        first_by_source: dict[str, SourceLink] = {}
        for link, _ in arts:
            first_by_source.setdefault(link.source, link)
        new = sum(1 for link in first_by_source.values() if start is not None and link.when >= start)
        out.append(
            StoryActivity(
                story_id=sid,
                title=s.title or arts[0][0].title,
                lead=s.lead or "",
                first_seen=arts[0][0].when,
                last_updated=arts[-1][0].when,
                sources=tuple(first_by_source.values()),
                new_sources_in_period=new,
                matches=tuple(matches.get(sid, ())),
                articles=tuple(link for link, _ in arts),
                content_html=next((h for _, h in arts if h), ""),
            )
        )
    return out


def watch_sightings(session: Session, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """``(watch, matched_at)`` of every match in ``[start, end)``: the mentions chart."""
    return [
        (w, at)
        for w, at in session.execute(
            select(WatchMatch.watch, WatchMatch.matched_at).where(
                WatchMatch.matched_at >= start, WatchMatch.matched_at < end
            )
        )
    ]


def latest_matches(session: Session, watch: str, *, limit: int = 10) -> list[MatchSighting]:
    """A watch's most recent matches, newest first, one per story."""
    rows = session.execute(
        select(WatchMatch, Story.title)
        .join(Story, Story.id == WatchMatch.story_id)
        .where(WatchMatch.watch == watch)
        .order_by(WatchMatch.matched_at.desc().nulls_last(), WatchMatch.id.desc())
        .limit(limit * 5)
    ).all()
    out: list[MatchSighting] = []
    seen: set[int] = set()
    for m, title in rows:
        if m.story_id in seen:
            continue
        seen.add(m.story_id)
        out.append(
            MatchSighting(
                story_id=m.story_id,
                story_title=title,
                match=Match(watch=m.watch, alias=m.alias, field=m.field_name, snippet=m.snippet, alias_source=m.alias_source),
                at=m.matched_at,
            )
        )
        if len(out) >= limit:
            break
    return out


def matched_watches(session: Session) -> list[str]:
    """Every watch name that has matched something (configured or not any more)."""
    return list(session.execute(select(WatchMatch.watch).distinct().order_by(WatchMatch.watch)).scalars())


# -------------------------------------------------------------- feed health


def feed_activity(session: Session, end: datetime) -> list[FeedActivity]:
    """The poll history facts of every enabled feed, as of ``end``."""
    horizon = end - POLL_HISTORY
    in_window = and_(PollLog.at >= horizon, PollLog.at < end)
    last_err = (
        select(PollLog.feed_id, func.max(PollLog.at).label("at"))
        .where(in_window, _is_error())
        .group_by(PollLog.feed_id)
        .subquery()
    )
    last_ok = (
        select(PollLog.feed_id, func.max(PollLog.at).label("at"))
        .where(in_window, ~_is_error())
        .group_by(PollLog.feed_id)
        .subquery()
    )
    feeds = session.execute(
        select(Feed.id, Feed.name, Feed.url, Feed.created_at, last_err.c.at, last_ok.c.at)
        .outerjoin(last_err, last_err.c.feed_id == Feed.id)
        .outerjoin(last_ok, last_ok.c.feed_id == Feed.id)
        .where(Feed.enabled.is_(True))
        .order_by(Feed.id)
    ).all()

    # a failure run still going on at `end` starts at the first error after the last success
    failing_since = dict(
        session.execute(
            select(PollLog.feed_id, func.min(PollLog.at))
            .outerjoin(last_ok, last_ok.c.feed_id == PollLog.feed_id)
            .where(in_window, _is_error(), or_(last_ok.c.at.is_(None), PollLog.at > last_ok.c.at))
            .group_by(PollLog.feed_id)
        ).all()
    )
    # a run that ended: the first success after the last error
    recovered_at = dict(
        session.execute(
            select(PollLog.feed_id, func.min(PollLog.at))
            .join(last_err, last_err.c.feed_id == PollLog.feed_id)
            .where(in_window, ~_is_error(), PollLog.at > last_err.c.at)
            .group_by(PollLog.feed_id)
        ).all()
    )
    last_error = dict(
        session.execute(
            select(PollLog.feed_id, PollLog.error)
            .join(last_err, and_(last_err.c.feed_id == PollLog.feed_id, last_err.c.at == PollLog.at))
            .where(_is_error())
        ).all()
    )
    last_entry = dict(
        session.execute(
            select(Entry.feed_id, func.max(Entry.first_seen)).where(Entry.first_seen < end).group_by(Entry.feed_id)
        ).all()
    )
    out = []
    for fid, name, url, created, err_at, ok_at in feeds:
        failing = err_at is not None and (ok_at is None or err_at > ok_at)
        out.append(
            FeedActivity(
                feed_name=name,
                url=url,
                created_at=created,
                failing_since=failing_since.get(fid) if failing else None,
                last_error=last_error.get(fid),
                recovered_at=None if failing else recovered_at.get(fid),
                last_new_entry_at=last_entry.get(fid),
            )
        )
    return out


def feed_statuses(session: Session) -> list[FeedStatus]:
    """Every feed's current state, failing feeds first, then by name."""
    counts = dict(session.execute(select(Entry.feed_id, func.count()).group_by(Entry.feed_id)).all())
    rows = session.execute(
        select(Feed).order_by(case((Feed.failing_since.is_(None), 1), else_=0), Feed.name)
    ).scalars()
    return [
        FeedStatus(
            feed_id=f.id,
            name=f.name,
            url=f.url,
            source=f.source,
            enabled=f.enabled,
            last_status=f.last_status,
            error_count=f.error_count,
            last_error=f.last_error,
            failing_since=f.failing_since,
            last_polled_at=f.last_polled_at,
            last_success_at=f.last_success_at,
            last_new_entry_at=f.last_new_entry_at,
            next_check_at=f.next_check_at,
            entries=counts.get(f.id, 0),
        )
        for f in rows
    ]


# ------------------------------------------------------------------- digest


def load_digest(
    session: Session,
    spec: DigestSpec,
    local_date: date,
    *,
    watch_priorities: Mapping[str, int] | None = None,
    watch_limit: int | None = WATCH_SECTION_LIMIT,
    now: datetime | None = None,
) -> Digest:
    """Read what the digest of ``local_date`` needs and build it (the one
    call the digest job, ``monitor digest`` and the web archive share).
    ``watch_limit``: stories per watch section, None for all (the web).
    ``now``: when given and before the period end (a digest in progress),
    feed health is judged at ``now``."""
    start, end = digest_period(local_date, spec.timezone, spec.time, spec.period)
    health_at = min(end, now) if now is not None else end
    periods = chart_periods(local_date, spec.timezone, spec.time)
    return build_digest(
        spec,
        local_date,
        stories=stories_in_period(session, start, end),
        feeds=feed_activity(session, health_at),
        sightings=watch_sightings(session, min(periods[0][1], start), end),
        watch_priorities=watch_priorities,
        watch_limit=watch_limit,
        now=now,
    )


# ------------------------------------------------------- the exactly-once guard


def _insert_ignore(session: Session):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(DigestRun)
    if dialect == "sqlite":
        return sqlite.insert(DigestRun)
    raise NotImplementedError(f"store: no insert-if-absent for {dialect}")


def claim_digest_run(
    session: Session,
    name: str,
    local_date: date | str,
    worker: str,
    now: datetime,
    *,
    lease: timedelta | None = timedelta(minutes=30),
) -> bool:
    """Claim the right to build and send ``name``'s digest of ``local_date``.

    True for exactly one caller per (name, local_date), however many
    schedulers or workers ask, and whatever their transactions interleave
    (the unique key decides).  A claim left ``building`` for longer than
    ``lease`` (its worker died) is taken over; ``lease=None`` never takes over.
    The caller commits.
    """
    day = local_date.isoformat() if isinstance(local_date, date) else local_date
    stmt = (
        _insert_ignore(session)
        .values(name=name, local_date=day, status="building", claimed_by=worker, created_at=now)
        .on_conflict_do_nothing(index_elements=["name", "local_date"])
        # RETURNING, not rowcount: an ORM session adds its own RETURNING to
        # inserts, and then psycopg reports rowcount -1
        .returning(DigestRun.id)
    )
    if session.execute(stmt).first() is not None:
        return True
    if lease is None:
        return False
    res = session.execute(
        update(DigestRun)
        .where(
            DigestRun.name == name,
            DigestRun.local_date == day,
            DigestRun.status == "building",
            DigestRun.created_at < now - lease,
        )
        .values(claimed_by=worker, created_at=now)
    )
    return res.rowcount == 1


def mark_built(
    session: Session,
    name: str,
    local_date: date | str,
    now: datetime,
    *,
    story_count: int,
    html_path: str | None = None,
    text_path: str | None = None,
) -> None:
    day = local_date.isoformat() if isinstance(local_date, date) else local_date
    session.execute(
        update(DigestRun)
        .where(DigestRun.name == name, DigestRun.local_date == day)
        .values(status="built", built_at=now, story_count=story_count, html_path=html_path, text_path=text_path)
    )


def mark_sent(session: Session, name: str, local_date: date | str, now: datetime) -> None:
    day = local_date.isoformat() if isinstance(local_date, date) else local_date
    session.execute(
        update(DigestRun)
        .where(DigestRun.name == name, DigestRun.local_date == day)
        .values(status="sent", sent_at=now, last_error=None)
    )


def mark_failed(session: Session, name: str, local_date: date | str, error: str) -> None:
    day = local_date.isoformat() if isinstance(local_date, date) else local_date
    session.execute(
        update(DigestRun)
        .where(DigestRun.name == name, DigestRun.local_date == day)
        .values(status="failed", last_error=error)
    )


def unsent_days(session: Session, name: str, *, built_before: datetime, built_after: datetime) -> list[date]:
    """Days built but not sent (a receiver was down), to send again."""
    rows = session.execute(
        select(DigestRun.local_date).where(
            DigestRun.name == name, DigestRun.status == "built",
            DigestRun.built_at < built_before, DigestRun.built_at > built_after,
        )
    ).scalars().all()
    return [date.fromisoformat(d) for d in rows]


def last_digest_date(session: Session, name: str) -> date | None:
    """The latest local date claimed for ``name`` (any status): what
    :func:`monitor.digest.due_digest_dates` takes as ``last_done``."""
    day = session.execute(select(func.max(DigestRun.local_date)).where(DigestRun.name == name)).scalar()
    return date.fromisoformat(day) if day else None


def digest_runs(session: Session, name: str, *, limit: int = 60) -> list[DigestRunInfo]:
    """The archive: the latest ``limit`` runs of ``name``, newest first."""
    rows = session.execute(
        select(DigestRun).where(DigestRun.name == name).order_by(DigestRun.local_date.desc()).limit(limit)
    ).scalars()
    return [DigestRunInfo(r.name, r.local_date, r.status, r.story_count, r.built_at, r.sent_at) for r in rows]


# ------------------------------------------------------------- health, metrics


def ping(session: Session) -> None:
    """Raise if the database does not answer."""
    session.execute(text("SELECT 1")).scalar()


def last_successful_poll(session: Session) -> datetime | None:
    return session.execute(select(func.max(Feed.last_success_at))).scalar()


def polls_by_status(session: Session) -> dict[str, int]:
    return dict(session.execute(select(PollLog.status, func.count()).group_by(PollLog.status)).all())


def poll_duration_histogram(session: Session, bounds: Sequence[float]) -> tuple[list[int], int, float]:
    """Cumulative counts of ``PollLog.duration <= b`` for each bound, the total
    count and the sum: a Prometheus histogram in one scan of the poll log."""
    cols = [func.sum(case((PollLog.duration <= b, 1), else_=0)) for b in bounds]
    row = session.execute(select(*cols, func.count(), func.coalesce(func.sum(PollLog.duration), 0.0))).one()
    return [int(v or 0) for v in row[: len(bounds)]], int(row[-2] or 0), float(row[-1] or 0.0)


def table_counts(session: Session) -> dict[str, int]:
    """Row counts of the tables /metrics reports."""
    return {
        "feeds": session.execute(select(func.count()).select_from(Feed)).scalar() or 0,
        "feeds_failing": session.execute(
            select(func.count()).select_from(Feed).where(Feed.failing_since.is_not(None))
        ).scalar()
        or 0,
        "entries": session.execute(select(func.count()).select_from(Entry)).scalar() or 0,
        "articles": session.execute(select(func.count()).select_from(Article)).scalar() or 0,
        "stories": session.execute(select(func.count()).select_from(Story)).scalar() or 0,
    }


def alerts_by_status(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all())


def digests_by_status(session: Session) -> dict[str, int]:
    return dict(session.execute(select(DigestRun.status, func.count()).group_by(DigestRun.status)).all())
