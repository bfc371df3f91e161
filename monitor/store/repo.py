"""Feeds, entries and poll results: one function per use case.

Every function takes an open :class:`~sqlmodel.Session` (the caller owns the
transaction: one short transaction per feed) and returns records from
:mod:`monitor.records` or plain values, never ORM rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlmodel import Session

from ..errors import LeaseLost
from ..records import EntryData, FeedToPoll, StoredEntry
from .models import Entry, Feed, PollLog


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """A feed as `monitor feeds list` and the status command show it."""

    id: int
    name: str
    url: str
    source: str
    enabled: bool
    origin: str
    tags: tuple[str, ...]
    interval_seconds: int | None
    last_status: str | None
    error_count: int
    last_error: str | None
    failing_since: datetime | None
    last_success_at: datetime | None
    next_check_at: datetime | None
    lease_owner: str | None
    entries: int = 0


def _to_poll(f: Feed) -> FeedToPoll:
    return FeedToPoll(
        id=f.id,
        name=f.name,
        url=f.url,
        etag=f.etag,
        last_modified=f.last_modified,
        body_hash=f.body_hash,
        error_count=f.error_count,
        allow_local=f.allow_local,
    )


def _to_info(f: Feed, entries: int = 0) -> FeedInfo:
    return FeedInfo(
        id=f.id,
        name=f.name,
        url=f.url,
        source=f.source or f.name,
        enabled=f.enabled,
        origin=f.origin,
        tags=tuple(t for t in f.tags.split(",") if t),
        interval_seconds=f.interval_seconds,
        last_status=f.last_status,
        error_count=f.error_count,
        last_error=f.last_error,
        failing_since=f.failing_since,
        last_success_at=f.last_success_at,
        next_check_at=f.next_check_at,
        lease_owner=f.lease_owner,
        entries=entries,
    )


# ---------------------------------------------------------------- feeds


def upsert_feed(
    session: Session,
    *,
    name: str,
    url: str,
    now: datetime,
    source: str | None = None,
    tags: Sequence[str] = (),
    enabled: bool = True,
    interval: timedelta | None = None,
    allow_local: bool = False,
    origin: str = "config",
) -> FeedToPoll:
    """Create the feed, or bring an existing one (by name) in line."""
    feed = session.execute(select(Feed).where(Feed.name == name)).scalars().first()
    if feed is None:
        feed = Feed(name=name, url=url, created_at=now, next_check_at=now)
        session.add(feed)
    elif feed.url != url:
        # a new URL is a new resource: forget the old validators
        feed.url, feed.etag, feed.last_modified, feed.body_hash = url, None, None, None
    feed.source = source
    feed.tags = ",".join(tags)
    feed.enabled = enabled
    feed.interval_seconds = int(interval.total_seconds()) if interval else None
    feed.allow_local = allow_local
    feed.origin = origin
    session.flush()
    return _to_poll(feed)


def disable_config_feeds_except(session: Session, names: Sequence[str]) -> int:
    """Feeds that left the config file are disabled, not deleted: their
    entries stay in their stories."""
    res = session.execute(
        update(Feed).where(Feed.origin == "config", Feed.name.not_in(list(names))).values(enabled=False)
    )
    return res.rowcount


def feed_by_name(session: Session, name: str) -> FeedToPoll | None:
    f = session.execute(select(Feed).where(Feed.name == name)).scalars().first()
    return _to_poll(f) if f else None


def list_feeds(session: Session) -> list[FeedInfo]:
    counts = dict(session.execute(select(Entry.feed_id, func.count()).group_by(Entry.feed_id)).all())
    return [_to_info(f, counts.get(f.id, 0)) for f in session.execute(select(Feed).order_by(Feed.name)).scalars()]


def set_feed_enabled(session: Session, name: str, enabled: bool, now: datetime) -> bool:
    res = session.execute(
        update(Feed).where(Feed.name == name).values(enabled=enabled, next_check_at=now)
    )
    return res.rowcount == 1


def remove_feed(session: Session, name: str) -> bool:
    """Delete a feed.  Its entries stay (stories keep their sources) but lose the feed."""
    feed = session.execute(select(Feed).where(Feed.name == name)).scalars().first()
    if feed is None:
        return False
    from .models import PollLog as _PL

    session.execute(_PL.__table__.delete().where(_PL.feed_id == feed.id))
    feed.enabled = False
    feed.origin = "removed"
    return True


def due_feeds(session: Session, now: datetime, *, limit: int | None = None) -> list[FeedToPoll]:
    """Enabled feeds whose next check has come, earliest first (single process)."""
    q = (
        select(Feed)
        .where(Feed.enabled.is_(True), or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))
        .order_by(Feed.next_check_at)
    )
    if limit:
        q = q.limit(limit)
    return [_to_poll(f) for f in session.execute(q).scalars()]


def claim_due_feeds(
    session: Session, now: datetime, *, worker: str, lease: timedelta, limit: int
) -> list[FeedToPoll]:
    """Claim due feeds for ``worker`` until ``now + lease``.

    Works for several workers on PostgreSQL: candidates are locked with
    ``FOR UPDATE SKIP LOCKED`` so two workers never pick the same feed, and
    the lease makes a crashed worker's feeds due again once it expires.
    On SQLite (one process) the same statement runs without the lock clause.
    """
    free = or_(Feed.lease_until.is_(None), Feed.lease_until < now)
    q = (
        select(Feed)
        .where(
            Feed.enabled.is_(True),
            or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now),
            free,
        )
        .order_by(Feed.next_check_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    feeds = list(session.execute(q).scalars())
    for f in feeds:
        f.lease_owner = worker
        f.lease_until = now + lease
    session.flush()
    return [_to_poll(f) for f in feeds]


def release_leases(session: Session, worker: str) -> int:
    res = session.execute(
        update(Feed).where(Feed.lease_owner == worker).values(lease_owner=None, lease_until=None)
    )
    return res.rowcount


def renew_leases(session: Session, worker: str, *, now: datetime, lease: timedelta) -> int:
    """Extend every feed lease ``worker`` holds to ``now + lease``.

    Called by the heartbeat more often than the lease runs out, so a live
    worker keeps a feed however slow its fetch is, and only a dead (or
    frozen) worker's feeds are taken over.  Without it, a batch that takes
    longer than the lease is polled again by the other workers (measured: 3
    workers, 500 feeds, a 2 s lease: 1409 fetches instead of 500)."""
    res = session.execute(
        update(Feed)
        .where(Feed.lease_owner == worker)
        .values(lease_until=now + lease)
    )
    return res.rowcount


def recover_expired_leases(session: Session, now: datetime, *, everyone: bool = False) -> int:
    """Clear leases that ran out (their worker died): at daemon start.

    Expired leases are claimable anyway (``claim_due_feeds`` treats them as
    free); clearing them keeps ``monitor status`` honest.  ``everyone``
    clears live-looking leases too: right for SQLite, where the daemon lock
    proves no other daemon runs."""
    q = update(Feed).where(Feed.lease_owner.is_not(None))
    if not everyone:
        q = q.where(or_(Feed.lease_until.is_(None), Feed.lease_until < now))
    return session.execute(q.values(lease_owner=None, lease_until=None)).rowcount


def take_back_lease(session: Session, feed_id: int, worker: str | None) -> None:
    """Clear ``worker``'s lease on a feed as its poll is recorded; raise
    :class:`LeaseLost` when another worker holds the feed now.

    A conditional UPDATE (row locked until commit): if another worker claimed
    the feed after our lease expired, the WHERE matches nothing and this
    transaction (entries, stories, alerts of the poll) rolls back, so one
    poll of a feed is recorded, never two.  A feed nobody holds (replay, or a
    lease released at shutdown) is ours to record."""
    q = update(Feed).where(Feed.id == feed_id)
    if worker is not None:
        q = q.where(or_(Feed.lease_owner.is_(None), Feed.lease_owner == worker))
    res = session.execute(q.values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False))
    if res.rowcount != 1:
        owner = session.execute(select(Feed.lease_owner).where(Feed.id == feed_id)).scalar()
        raise LeaseLost(
            f"store: feed {feed_id}: {worker}'s lease expired and {owner or 'another worker'} holds it now; "
            "this poll is dropped and theirs counts (raise [workers] lease if fetches are slow)"
        )


def record_poll(
    session: Session,
    feed_id: int,
    *,
    now: datetime,
    status: str,
    next_check_at: datetime,
    http_status: int | None = None,
    error: str | None = None,
    permanent: bool = False,
    etag: str | None = None,
    last_modified: str | None = None,
    body_hash: str | None = None,
    new_url: str | None = None,
    title: str | None = None,
    site_url: str | None = None,
    new: int = 0,
    updated: int = 0,
    duration: float = 0.0,
    worker: str | None = None,
) -> int:
    """Store the outcome of one poll on the feed and in poll_log.

    Returns the feed's consecutive error count after this poll.  Raises
    :class:`LeaseLost` when ``worker`` no longer holds the feed."""
    take_back_lease(session, feed_id, worker)
    feed = session.get(Feed, feed_id)
    feed.last_polled_at = now
    feed.last_status = status
    feed.next_check_at = next_check_at
    feed.lease_owner = None
    feed.lease_until = None
    if status == "error":
        feed.error_count += 1
        feed.last_error = error
        if feed.failing_since is None:
            feed.failing_since = now
    else:
        feed.error_count = 0
        feed.failing_since = None
        feed.last_success_at = now
        if etag is not None or last_modified is not None or status == "ok":
            feed.etag, feed.last_modified = etag, last_modified
        if body_hash is not None:
            feed.body_hash = body_hash
        if new_url:
            feed.url = new_url
        if title:
            feed.title = title[:1000]
        if site_url:
            feed.site_url = site_url[:2000]
        if new:
            feed.last_new_entry_at = now
    session.add(
        PollLog(
            feed_id=feed_id,
            at=now,
            status=status,
            http_status=http_status,
            new=new,
            updated=updated,
            error=error,
            duration=duration,
            worker=worker,
        )
    )
    session.flush()
    return feed.error_count


@dataclass(frozen=True, slots=True)
class QuietPoll:
    """A poll that changed nothing: 304, or 200 with the bytes of last time."""

    feed_id: int
    status: str  # "not_modified" | "unchanged"
    next_check_at: datetime
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    duration: float = 0.0


def record_quiet_polls(
    session: Session, polls: Sequence[QuietPoll], *, now: datetime, worker: str | None
) -> list[int]:
    """What :func:`record_poll` does for many unchanged feeds, in three
    statements instead of four per feed (most polls are 304s: measured, the
    per-feed transaction cost more CPU than the 304 itself; issue 8).

    Returns the ids of the feeds ``worker`` no longer holds: nothing is
    written for those (the caller records them one by one, which raises
    :class:`LeaseLost`, as :func:`record_poll` would)."""
    if not polls:
        return []
    table = Feed.__table__
    ids = [p.feed_id for p in polls]
    # take back our leases first; on PostgreSQL the rows stay locked until commit
    take = update(table).where(table.c.id.in_(ids))
    if worker is not None:
        take = take.where(or_(table.c.lease_owner.is_(None), table.c.lease_owner == worker))
    held = set(session.execute(take.values(lease_owner=None, lease_until=None).returning(table.c.id)).scalars())
    mine = [p for p in polls if p.feed_id in held]
    if mine:
        when = table.c.next_check_at.type
        common = dict(
            last_polled_at=now, last_status=bindparam("b_status"), next_check_at=bindparam("b_next", type_=when),
            error_count=0, failing_since=None, last_success_at=now,
            body_hash=func.coalesce(bindparam("b_hash", type_=table.c.body_hash.type), table.c.body_hash),
        )
        # record_poll keeps the stored validators when the answer carried none
        for keep, group in ((False, [p for p in mine if p.etag is not None or p.last_modified is not None]),
                            (True, [p for p in mine if p.etag is None and p.last_modified is None])):
            if not group:
                continue
            values = dict(common) if keep else dict(common, etag=bindparam("b_etag"), last_modified=bindparam("b_lm"))
            session.execute(
                update(table).where(table.c.id == bindparam("b_id")).values(**values),
                [dict(b_id=p.feed_id, b_status=p.status, b_next=p.next_check_at, b_hash=p.body_hash,
                      b_etag=p.etag, b_lm=p.last_modified) for p in group],
            )
        session.execute(
            PollLog.__table__.insert(),
            [dict(feed_id=p.feed_id, at=now, status=p.status, http_status=p.http_status, new=0, updated=0,
                  error=None, duration=p.duration, worker=worker) for p in mine],
        )
    return [i for i in ids if i not in held]


# -------------------------------------------------------------- entries


def entry_hash(e: EntryData) -> str:
    """A hash of what the user sees of an entry: a change is an update."""
    h = hashlib.sha256()
    for part in (e.title, e.url or "", e.summary, e.content_text, e.author or "",
                 e.published.isoformat() if e.published else "", e.updated.isoformat() if e.updated else ""):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class SavedEntries:
    new: list[StoredEntry]
    updated: list[StoredEntry]


def save_entries(
    session: Session,
    feed: FeedToPoll,
    entries: Iterable[EntryData],
    *,
    now: datetime,
    source: str,
    canonical: "callable[[str | None], str | None]",
    fingerprint: "callable[[str, str], str | None]",
) -> SavedEntries:
    """Insert new entries and update changed ones (a corrected title), in bulk.

    Unchanged entries only get ``last_seen``.  Returns what is new or changed,
    for dedup and matching.  ``canonical`` and ``fingerprint`` come from
    :mod:`monitor.dedup` (passed in so the store stays free of that logic).
    """
    entries = list({e.key: e for e in entries}.values())  # last wins on repeated keys
    if not entries:
        return SavedEntries([], [])
    existing: dict[str, tuple[int, str | None, datetime, datetime | None]] = {}
    keys = [e.key for e in entries]
    # chunk the IN list: SQLite allows 32766 variables, PostgreSQL 65535
    for i in range(0, len(keys), 5000):
        rows = session.execute(
            select(Entry.key, Entry.id, Entry.entry_hash, Entry.first_seen, Entry.updated).where(
                Entry.feed_id == feed.id, Entry.key.in_(keys[i : i + 5000])
            )
        ).all()
        existing.update({k: (i_, h, fs, up) for k, i_, h, fs, up in rows})

    _adopt_repeated_guid_keys(session, feed.id, entries, existing)

    to_insert, to_update, changed_ids = [], [], {}
    for e in entries:
        h = entry_hash(e)
        old = existing.get(e.key)
        if old is not None and old[1] == h:
            # unchanged (most entries of a changed feed): skip canonicalising
            # and fingerprinting it, the costly part of this loop
            continue
        curl = canonical(e.url) if e.url else None
        values = dict(
            url=e.url,
            canonical_url=curl,
            title=e.title,
            summary=e.summary,
            content_text=e.content_text,
            content_html=e.content_html,
            author=e.author,
            published=e.published,
            updated=e.updated,
            last_seen=now,
            entry_hash=h,
            content_hash=fingerprint(e.title, e.content_text or e.summary),
        )
        old = existing.get(e.key)
        if old is None:
            to_insert.append(dict(feed_id=feed.id, key=e.key, first_seen=now, **values))
        elif old[1] != h and not (old[3] and e.updated and e.updated < old[3]):
            # a changed entry is an update, unless it says it is older than
            # the version stored (a stale cache or a replayed old snapshot)
            to_update.append((old[0], values))
            changed_ids[old[0]] = old[2]

    table = Entry.__table__
    if to_insert:
        session.execute(table.insert(), to_insert)
    for entry_id, values in to_update:
        session.execute(update(Entry).where(Entry.id == entry_id).values(processed_at=None, **values))
    if to_insert or to_update:
        new_keys = [r["key"] for r in to_insert]
        ids = dict(
            session.execute(
                select(Entry.key, Entry.id).where(Entry.feed_id == feed.id, Entry.key.in_(new_keys))
            ).all()
        ) if new_keys else {}
    else:
        return SavedEntries([], [])

    def stored(entry_id: int, key: str, v: dict, first_seen: datetime) -> StoredEntry:
        return StoredEntry(
            id=entry_id,
            feed_id=feed.id,
            feed_name=feed.name,
            source=source,
            key=key,
            url=v["url"],
            canonical_url=v["canonical_url"],
            title=v["title"],
            summary=v["summary"],
            content_text=v["content_text"],
            published=v["published"],
            first_seen=first_seen,
            content_hash=v["content_hash"],
        )

    new = [stored(ids[r["key"]], r["key"], r, now) for r in to_insert]
    by_id = {v: k for k, v in ((e.key, existing[e.key][0]) for e in entries if e.key in existing)}
    upd = [stored(i, by_id[i], v, changed_ids[i]) for i, v in to_update]
    return SavedEntries(new, upd)


def _adopt_repeated_guid_keys(
    session: Session, feed_id: int, entries: list[EntryData], existing: dict[str, tuple[int, str | None, datetime, datetime | None]]
) -> None:
    """Keep an entry's identity when its guid starts repeating.

    The parser keys an entry by its guid, but by "guid link" once a later
    document reuses that guid for another item (seen on real CMSs).  The
    entry stored earlier under the bare guid is the one with the same link:
    it takes the new key instead of being stored a second time."""
    bare = [e for e in entries if e.key not in existing and " " not in e.key]
    composite: dict[tuple[str, str | None], tuple] = {}
    if bare:
        # the other way round: an older document (a replay, a stale cache)
        # still shows the bare guid of an entry stored as "guid link".  One
        # query per poll, and only when something is new.
        for i_, h, fs, up, url, key in _composite_keys(session, feed_id, sorted({e.key for e in bare})):
            composite[(key.split(" ", 1)[0], url)] = (i_, h, fs, up)
        for e in bare:
            if (e.key, e.url) in composite:
                existing[e.key] = composite[(e.key, e.url)]
    for e in entries:
        if e.key in existing or " " not in e.key:
            continue
        guid = e.key.split(" ", 1)[0]
        row = session.execute(
            select(Entry.id, Entry.entry_hash, Entry.first_seen, Entry.updated, Entry.url).where(
                Entry.feed_id == feed_id, Entry.key == guid
            )
        ).first()
        if row is not None and row[4] == e.url:
            session.execute(update(Entry).where(Entry.id == row[0]).values(key=e.key))
            existing[e.key] = (row[0], row[1], row[2], row[3])
            existing.pop(guid, None)


def _composite_keys(session: Session, feed_id: int, guids: Sequence[str]) -> list[tuple]:
    """The feed's entries keyed "<guid> <link>" for any of ``guids`` (which
    hold no space), found by key prefix.

    ``key LIKE '% %'`` read every entry of the feed, a cost that grew with
    its history (``python -m benchmarks.pipeline`` after a 1M-entry load: a
    quarter of the writer thread).  Each prefix is its own OR term with the
    feed id, so SQLite looks each up on the (feed_id, key) index; the range
    is exact there (keys compare bytewise: "<guid> " <= key < "<guid>!"), and
    only on SQLite: a PostgreSQL collation may not sort bytewise, so there
    the LIKE alone decides (an index scan of the feed unless the collation
    is C)."""
    ranges = session.get_bind().dialect.name == "sqlite"
    rows: list[tuple] = []
    for i in range(0, len(guids), 100):  # SQLite caps expression depth at 1,000
        terms = []
        for g in guids[i : i + 100]:
            term = and_(Entry.feed_id == feed_id, Entry.key.startswith(g + " ", autoescape=True))
            terms.append(and_(term, Entry.key >= g + " ", Entry.key < g + "!") if ranges else term)
        rows += session.execute(
            select(Entry.id, Entry.entry_hash, Entry.first_seen, Entry.updated, Entry.url, Entry.key).where(or_(*terms))
        ).all()
    return rows


def mark_processed(session: Session, entry_ids: Sequence[int], now: datetime) -> None:
    if entry_ids:
        session.execute(update(Entry).where(Entry.id.in_(list(entry_ids))).values(processed_at=now))


@dataclass(frozen=True, slots=True)
class EntryRow:
    id: int
    feed: str
    title: str
    url: str | None
    published: datetime | None
    first_seen: datetime
    article_id: int | None
    dup_kind: str | None


def recent_entries(session: Session, *, limit: int = 20, feed: str | None = None) -> list[EntryRow]:
    q = select(Entry, Feed.name).join(Feed, Feed.id == Entry.feed_id)
    if feed:
        q = q.where(Feed.name == feed)
    q = q.order_by(Entry.first_seen.desc(), Entry.id.desc()).limit(limit)
    return [
        EntryRow(e.id, name, e.title, e.url, e.published, e.first_seen, e.article_id, e.dup_kind)
        for e, name in session.execute(q).all()
    ]


def count_entries(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Entry)).one()[0]


def poll_log_between(session: Session, start: datetime, end: datetime) -> list[tuple[str, str, str | None]]:
    rows = session.execute(
        select(Feed.name, PollLog.status, PollLog.error)
        .join(Feed, Feed.id == PollLog.feed_id)
        .where(and_(PollLog.at >= start, PollLog.at < end))
        .order_by(PollLog.at)
    ).all()
    return [tuple(r) for r in rows]
