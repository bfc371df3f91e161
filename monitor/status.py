"""`monitor status`: what the daemon is doing, read from the database.

Everything comes from the database, so the report is the same from any
machine and for any number of workers: feeds due now, failing feeds, the
alert queue, the last digest, and which workers hold leases (a lease held by
a worker that stopped beating is shown as such: it expires by itself).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session

from .errors import StorageError
from .store.models import Alert, DigestRun, Feed, Worker


@dataclass(frozen=True, slots=True)
class FailingFeed:
    name: str
    errors: int
    last_error: str | None
    since: datetime | None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    hostname: str | None
    pid: int | None
    heartbeat_at: datetime | None
    feeds_leased: int
    alerts_claimed: int
    #: False for a lease owner with no heartbeat row (a worker that was killed)
    registered: bool = True


@dataclass(frozen=True, slots=True)
class DigestInfo:
    name: str
    local_date: str
    status: str
    built_at: datetime | None
    stories: int


@dataclass(frozen=True, slots=True)
class Status:
    now: datetime
    feeds: int
    enabled: int
    #: enabled feeds whose next check has come and that nobody is polling
    due: int
    #: feeds a worker is polling right now (a live lease)
    polling: int
    failing: list[FailingFeed]
    #: alerts waiting in the outbox (pending), and given up on (failed)
    queue_depth: int
    failed_alerts: int
    last_digest: DigestInfo | None
    workers: list[WorkerInfo]
    #: leases whose time ran out (their worker died); claimable again
    expired_leases: int
    #: set when there is nothing to report yet, and why
    note: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        lines = [self.note] if self.note else []
        lines.append(f"feeds: {self.feeds} ({self.enabled} enabled), {self.due} due now, {self.polling} being polled")
        if self.failing:
            lines.append(f"failing feeds: {len(self.failing)}")
            for f in self.failing:
                since = f" since {f.since:%Y-%m-%d %H:%M}Z" if f.since else ""
                lines.append(f"  {f.name}: {f.errors} errors{since}: {f.last_error or '-'}")
        else:
            lines.append("failing feeds: none")
        lines.append(f"alert queue: {self.queue_depth} waiting, {self.failed_alerts} failed")
        d = self.last_digest
        if d:
            built = f", built {d.built_at:%Y-%m-%d %H:%M}Z" if d.built_at else ""
            lines.append(f"last digest: {d.name} {d.local_date} ({d.status}, {d.stories} stories{built})")
        else:
            lines.append("last digest: none yet")
        lines.append(f"workers: {sum(1 for w in self.workers if w.registered)}")
        for w in self.workers:
            held = f"{w.feeds_leased} feeds leased, {w.alerts_claimed} alerts claimed"
            if not w.registered:
                lines.append(f"  {w.id}: no heartbeat (stopped?), {held}")
            elif w.heartbeat_at is not None:
                age = max(0, int((self.now - w.heartbeat_at).total_seconds()))
                lines.append(f"  {w.id}: heartbeat {age}s ago, {held}")
            else:
                lines.append(f"  {w.id}: {held}")
        if self.expired_leases:
            lines.append(f"expired leases: {self.expired_leases} (their worker stopped; claimable again)")
        return "\n".join(lines)


#: what an empty report says when the database has no tables yet
NO_TABLES = "database: no tables yet; `monitor db upgrade` or `monitor run` creates them"


def collect_status(engine: Engine, now: datetime) -> Status:
    """Read the report at ``now``: only reads, never migrates (a reader must
    not wait for, or take, the write lock of a running daemon).  A database
    without tables is reported as such; one that cannot be read raises
    :class:`StorageError`."""
    try:
        if not inspect(engine).has_table(Feed.__tablename__):
            return Status(now, 0, 0, 0, 0, [], 0, 0, None, [], 0, note=NO_TABLES)
        return _collect(engine, now)
    except (OperationalError, ProgrammingError) as e:
        where = engine.url.render_as_string(hide_password=True)
        raise StorageError(
            f"status: cannot read {where}: {e.orig or e}; a new database gets its tables from "
            "`monitor db upgrade` or `monitor run`"
        ) from e


def _count(s: Session, q) -> int:
    return int(s.execute(q).scalar() or 0)


def _collect(engine: Engine, now: datetime) -> Status:
    live = Feed.lease_until >= now
    with Session(engine) as s:
        total = _count(s, select(func.count()).select_from(Feed))
        enabled = _count(s, select(func.count()).select_from(Feed).where(Feed.enabled.is_(True)))
        due = _count(s, select(func.count()).select_from(Feed).where(
            Feed.enabled.is_(True), or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now),
            or_(Feed.lease_owner.is_(None), Feed.lease_until.is_(None), Feed.lease_until < now)))
        polling = _count(s, select(func.count()).select_from(Feed).where(Feed.lease_owner.is_not(None), live))
        expired = _count(s, select(func.count()).select_from(Feed).where(
            Feed.lease_owner.is_not(None), or_(Feed.lease_until.is_(None), Feed.lease_until < now)))
        failing = [FailingFeed(f.name, f.error_count, f.last_error, f.failing_since) for f in s.execute(
            select(Feed).where(Feed.error_count > 0, Feed.enabled.is_(True)).order_by(Feed.name)).scalars()]
        depth = _count(s, select(func.count()).select_from(Alert).where(Alert.status == "pending"))
        failed = _count(s, select(func.count()).select_from(Alert).where(Alert.status == "failed"))
        d = s.execute(select(DigestRun).order_by(DigestRun.local_date.desc(), DigestRun.id.desc()).limit(1)).scalars().first()
        feed_leases = dict(s.execute(select(Feed.lease_owner, func.count()).where(
            Feed.lease_owner.is_not(None), live).group_by(Feed.lease_owner)).all())
        alert_claims = dict(s.execute(select(Alert.claimed_by, func.count()).where(
            Alert.claimed_by.is_not(None), Alert.claim_until >= now).group_by(Alert.claimed_by)).all())
        workers = [
            WorkerInfo(w.id, w.hostname, w.pid, w.heartbeat_at, feed_leases.get(w.id, 0), alert_claims.get(w.id, 0))
            for w in s.execute(select(Worker).order_by(Worker.id)).scalars()
        ]
    known = {w.id for w in workers}
    for owner in sorted((set(feed_leases) | set(alert_claims)) - known):
        workers.append(WorkerInfo(owner, None, None, None, feed_leases.get(owner, 0), alert_claims.get(owner, 0),
                                  registered=False))
    digest = DigestInfo(d.name, d.local_date, d.status, d.built_at, d.story_count) if d else None
    return Status(now, total, enabled, due, polling, failing, depth, failed, digest, workers, expired)
