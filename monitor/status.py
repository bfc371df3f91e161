"""`monitor status`: what the daemon is doing, read from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from .store.models import Alert, DigestRun, Feed, Worker


@dataclass(frozen=True, slots=True)
class Status:
    now: datetime
    feeds: int
    enabled: int
    due: int
    failing: list[tuple[str, int, str | None, datetime | None]]
    queue_depth: int
    failed_alerts: int
    last_digest: tuple[str, str, str] | None
    workers: list[tuple[str, datetime | None, int]]

    def render(self) -> str:
        lines = [f"feeds: {self.feeds} ({self.enabled} enabled), {self.due} due now"]
        if self.failing:
            lines.append(f"failing feeds: {len(self.failing)}")
            for name, n, err, since in self.failing:
                lines.append(f"  {name}: {n} errors since {since:%Y-%m-%d %H:%M}Z: {err}")
        else:
            lines.append("failing feeds: none")
        lines.append(f"alert queue: {self.queue_depth} waiting, {self.failed_alerts} failed")
        if self.last_digest:
            lines.append(f"last digest: {self.last_digest[0]} {self.last_digest[1]} ({self.last_digest[2]})")
        else:
            lines.append("last digest: none yet")
        lines.append(f"workers: {len(self.workers)}")
        for wid, beat, leases in self.workers:
            lines.append(f"  {wid}: heartbeat {beat:%Y-%m-%d %H:%M:%S}Z, {leases} feeds leased" if beat else f"  {wid}")
        return "\n".join(lines)


def collect_status(engine: Engine, now: datetime) -> Status:
    with Session(engine) as s:
        total = s.execute(select(func.count()).select_from(Feed)).scalar()
        enabled = s.execute(select(func.count()).select_from(Feed).where(Feed.enabled.is_(True))).scalar()
        due = s.execute(select(func.count()).select_from(Feed).where(
            Feed.enabled.is_(True), or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))).scalar()
        failing = [(f.name, f.error_count, f.last_error, f.failing_since) for f in s.execute(
            select(Feed).where(Feed.error_count > 0, Feed.enabled.is_(True)).order_by(Feed.name)).scalars()]
        depth = s.execute(select(func.count()).select_from(Alert).where(Alert.status == "pending")).scalar()
        failed = s.execute(select(func.count()).select_from(Alert).where(Alert.status == "failed")).scalar()
        d = s.execute(select(DigestRun).order_by(DigestRun.local_date.desc(), DigestRun.id.desc()).limit(1)).scalars().first()
        leases = dict(s.execute(select(Feed.lease_owner, func.count()).where(
            Feed.lease_owner.is_not(None), Feed.lease_until > now).group_by(Feed.lease_owner)).all())
        workers = [(w.id, w.heartbeat_at, leases.get(w.id, 0)) for w in s.execute(select(Worker).order_by(Worker.id)).scalars()]
    return Status(now, total, enabled, due, failing, depth, failed,
                  (d.name, d.local_date, d.status) if d else None, workers)
