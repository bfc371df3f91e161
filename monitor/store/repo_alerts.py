"""The alert outbox.

Alerts are written in the same transaction as the story change that caused
them (``enqueue_alert``), then delivered by the delivery job, which claims a
row with a conditional UPDATE and checks the rowcount (healthchecks'
sendalerts does the same), sends, and records every attempt.  The claim is a
lease: a worker that dies between send and record leaves a claim that
expires, and the alert is sent again with the same idempotency key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlmodel import Session

from ..records import AlertPayload, Match, SourceLink
from .models import Alert, AlertState, DeliveryAttempt


# ------------------------------------------------------------- payload codec


def _dt(s: str) -> datetime:
    return datetime.fromisoformat(s)


def payload_to_json(p: AlertPayload) -> str:
    d = asdict(p)

    def conv(v):
        if isinstance(v, datetime):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return json.dumps(conv(d), ensure_ascii=False, sort_keys=True)


def payload_from_json(s: str) -> AlertPayload:
    d = json.loads(s)
    return AlertPayload(
        id=d["id"], kind=d["kind"], watch=d["watch"], story_id=d["story_id"], title=d["title"], url=d["url"],
        first_seen=_dt(d["first_seen"]), last_updated=_dt(d["last_updated"]), source_count=d["source_count"],
        sources=tuple(SourceLink(x["source"], x["title"], x["url"], _dt(x["when"])) for x in d["sources"]),
        matches=tuple(Match(**m) for m in d["matches"]), created_at=_dt(d["created_at"]),
        lead=d.get("lead", ""), priority=d.get("priority", 0),
    )


# -------------------------------------------------------------------- state


def prior_alert(session: Session, watch: str, story_id: int) -> AlertState | None:
    """Internal: the state row, used inside the store transaction only."""
    return session.execute(
        select(AlertState).where(AlertState.watch == watch, AlertState.story_id == story_id)
    ).scalars().first()


def watches_alerted_on(session: Session, story_id: int) -> list[str]:
    return list(session.execute(select(AlertState.watch).where(AlertState.story_id == story_id)).scalars())


@dataclass(frozen=True, slots=True)
class PriorInfo:
    last_alert_at: datetime
    sources_at_last_alert: int
    alerts_sent: int


def prior_info(session: Session, watch: str, story_id: int) -> PriorInfo | None:
    st = prior_alert(session, watch, story_id)
    return PriorInfo(st.last_alert_at, st.sources_at_last_alert, st.alerts_sent) if st else None


def enqueue_alert(
    session: Session,
    *,
    payloads: Sequence[tuple[str, AlertPayload]],
    watch: str,
    story_id: int,
    source_count: int,
    now: datetime,
) -> int:
    """Write one outbox row per (channel, payload) and move the (watch, story)
    state forward.  Keys are unique: enqueuing the same alert twice is a no-op."""
    st = prior_alert(session, watch, story_id)
    if st is None:
        st = AlertState(watch=watch, story_id=story_id, first_alert_at=now, alerts_sent=0)
        session.add(st)
    st.last_alert_at = now
    st.sources_at_last_alert = source_count
    st.alerts_sent += 1
    added = 0
    for channel, p in payloads:
        if session.execute(select(Alert.id).where(Alert.key == p.id)).scalar():
            continue
        session.add(
            Alert(
                key=p.id, watch=watch, story_id=story_id, channel=channel, kind=p.kind,
                payload=payload_to_json(p), status="pending", attempts=0, next_attempt_at=now, created_at=now,
            )
        )
        added += 1
    session.flush()
    return added


# ----------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    id: int
    key: str
    channel: str
    attempts: int
    created_at: datetime
    payload: AlertPayload


def pending_ids(session: Session, now: datetime, *, channel: str | None = None, limit: int = 100) -> list[int]:
    q = select(Alert.id).where(
        Alert.status == "pending",
        Alert.next_attempt_at <= now,
        or_(Alert.claim_until.is_(None), Alert.claim_until < now),
    )
    if channel:
        q = q.where(Alert.channel == channel)
    return list(session.execute(q.order_by(Alert.id).limit(limit)).scalars())


def claim_alert(session: Session, alert_id: int, *, worker: str, now: datetime, lease: timedelta) -> ClaimedAlert | None:
    """Conditional UPDATE: only one worker wins the row (rowcount 1)."""
    res = session.execute(
        update(Alert)
        .where(
            Alert.id == alert_id,
            Alert.status == "pending",
            or_(Alert.claim_until.is_(None), Alert.claim_until < now),
        )
        .values(claimed_by=worker, claim_until=now + lease)
    )
    if res.rowcount != 1:
        return None
    a = session.get(Alert, alert_id)
    session.refresh(a)
    return ClaimedAlert(a.id, a.key, a.channel, a.attempts, a.created_at, payload_from_json(a.payload))


def record_attempt(
    session: Session,
    alert_id: int,
    *,
    now: datetime,
    outcome: str,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    duration: float = 0.0,
) -> None:
    """outcome: "sent", "temporary" (retry at next_attempt_at, or give up when
    None), "permanent"."""
    a = session.get(Alert, alert_id)
    a.attempts += 1
    a.claimed_by = None
    a.claim_until = None
    a.last_error = error
    if outcome == "sent":
        a.status, a.sent_at = "sent", now
    elif outcome == "temporary" and next_attempt_at is not None:
        a.status, a.next_attempt_at = "pending", next_attempt_at
    else:
        a.status = "failed"
    session.add(DeliveryAttempt(alert_id=alert_id, channel=a.channel, at=now, outcome=outcome, error=error, duration=duration))
    session.flush()


def sent_in_last_hour(session: Session, channel: str, now: datetime) -> int:
    return session.execute(
        select(func.count()).select_from(Alert).where(
            Alert.channel == channel, Alert.status == "sent", Alert.sent_at > now - timedelta(hours=1)
        )
    ).scalar()


def fold_alerts(session: Session, alert_ids: Sequence[int], *, summary: AlertPayload, channel: str, now: datetime) -> int:
    """Replace alerts over a channel's hourly cap by one summary alert."""
    session.execute(
        update(Alert).where(Alert.id.in_(list(alert_ids)), Alert.status == "pending").values(
            status="folded", last_error=f"folded into {summary.id}"
        )
    )
    a = Alert(
        key=summary.id, watch=summary.watch, story_id=None, channel=channel, kind="summary",
        payload=payload_to_json(summary), status="pending", attempts=0, next_attempt_at=now, created_at=now,
    )
    session.add(a)
    session.flush()
    return a.id


def payloads_of(session: Session, alert_ids: Sequence[int]) -> list[AlertPayload]:
    return [payload_from_json(p) for p in session.execute(
        select(Alert.payload).where(Alert.id.in_(list(alert_ids))).order_by(Alert.id)).scalars()]


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    key: str
    watch: str
    story_id: int | None
    channel: str
    kind: str
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    title: str


def list_alerts(session: Session, *, status: str | None = None, limit: int = 100) -> list[AlertRow]:
    q = select(Alert).order_by(Alert.id)
    if status:
        q = q.where(Alert.status == status)
    out = []
    for a in session.execute(q.limit(limit)).scalars():
        out.append(AlertRow(a.id, a.key, a.watch, a.story_id, a.channel, a.kind, a.status, a.attempts,
                            a.created_at, a.sent_at, a.last_error, json.loads(a.payload).get("title", "")))
    return out


def queue_depth(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Alert).where(Alert.status == "pending")).scalar()


def recover_expired_claims(session: Session, now: datetime, *, everyone: bool = False) -> int:
    """Clear claims that ran out (their worker died).  ``everyone`` clears
    all claims: for SQLite, where the daemon lock proves no one else sends."""
    cond = Alert.claimed_by.is_not(None) if everyone else Alert.claim_until < now
    res = session.execute(
        update(Alert).where(and_(Alert.status == "pending", cond)).values(claimed_by=None, claim_until=None)
    )
    return res.rowcount


def renew_claims(session: Session, worker: str, *, now: datetime, lease: timedelta) -> int:
    """Extend the claims ``worker`` holds (an alert being sent) to ``now + lease``.

    Called by the heartbeat, more often than the lease runs out: a slow
    receiver never lets the claim expire under a live worker, which would let
    a second worker send the same alert."""
    res = session.execute(
        update(Alert).where(Alert.claimed_by == worker, Alert.status == "pending").values(claim_until=now + lease)
    )
    return res.rowcount
