"""Alert delivery: claim -> send -> record.

``Deliverer.run(now)`` delivers every due alert in the outbox:

1. for each channel, count what it sent in the last hour; alerts over the
   channel's ``max_per_hour`` are folded into one summary alert (never dropped);
2. claim each due alert with a conditional UPDATE (a lease: see
   ``monitor.store.repo_alerts``) in its own short transaction;
3. send it outside any transaction (a slow receiver never holds a lock);
4. record the attempt: sent; temporary failure -> retry with exponential
   backoff (``monitor.alerts.next_retry``) until ``retry_for`` runs out;
   permanent failure -> failed and reported.  A receiver that answered 410
   disables the channel until restart, and its alerts wait.

A crash between 3 and 4 leaves a claim that expires after the lease; the
alert is then sent again with the same idempotency key (webhook-id,
Message-ID), so the receiver can drop the duplicate.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Callable, Mapping, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session

from . import alerts as alert_rules
from .errors import DeliveryError
from .logs import bind
from .records import AlertPayload
from .store import repo_alerts

log = logging.getLogger("monitor.deliver")


class AlertChannel(Protocol):
    name: str

    def send_alert(self, payload: AlertPayload) -> None: ...


class Deliverer:
    def __init__(
        self,
        engine: Engine,
        channels: Mapping[str, AlertChannel],
        *,
        policy: alert_rules.AlertPolicy,
        caps: Mapping[str, int | None] | None = None,
        worker: str = "local",
        lease: timedelta = timedelta(minutes=5),
    ):
        self.engine = engine
        self.channels = dict(channels)
        self.policy = policy
        self.caps = dict(caps or {})
        self.worker = worker
        self.lease = lease
        self.disabled: set[str] = set()
        self.stopping = threading.Event()
        self.sent = 0
        self.failed = 0

    def run(self, now: datetime | None = None, *, clock: Callable[[], datetime] | None = None) -> int:
        """Deliver what is due.  Returns the number of alerts sent."""
        from datetime import timezone

        clock = clock or (lambda: now or datetime.now(timezone.utc))
        start = clock()
        for channel, cap in self.caps.items():
            if cap:
                self._fold_over_cap(channel, cap, start)
        sent = 0
        with Session(self.engine) as s:
            ids = repo_alerts.pending_ids(s, start, limit=1000)
        for alert_id in ids:
            if self.stopping.is_set():
                break
            sent += self._deliver_one(alert_id, clock)
        return sent

    def _fold_over_cap(self, channel: str, cap: int, now: datetime) -> None:
        with Session(self.engine) as s, s.begin():
            room = cap - repo_alerts.sent_in_last_hour(s, channel, now)
            ids = repo_alerts.pending_ids(s, now, channel=channel, limit=10_000)
            if len(ids) <= max(room, 0) or len(ids) < 2:
                return
            # keep room-1 alerts as they are, fold the rest into one summary
            keep = max(room - 1, 0)
            folded = ids[keep:]
            payloads = repo_alerts.payloads_of(s, folded)
            summary = AlertPayload(
                id=f"msg_summary_{channel}_{folded[0]}_{folded[-1]}",
                kind="summary",
                watch=", ".join(sorted({p.watch for p in payloads})),
                story_id=0,
                title=f"{len(payloads)} more alerts (over the limit of {cap} an hour for {channel})",
                url=None,
                first_seen=min(p.first_seen for p in payloads),
                last_updated=max(p.last_updated for p in payloads),
                source_count=sum(p.source_count for p in payloads),
                sources=tuple(src for p in payloads for src in p.sources[:1]),
                matches=tuple(m for p in payloads for m in p.matches[:1]),
                created_at=now,
                lead="\n".join(f"- [{p.watch}] {p.title}" for p in payloads),
            )
            repo_alerts.fold_alerts(s, folded, summary=summary, channel=channel, now=now)
            log.warning("deliver: %s: %d alerts over the hourly cap folded into one summary", channel, len(folded))

    def _deliver_one(self, alert_id: int, clock: Callable[[], datetime]) -> int:
        now = clock()
        with Session(self.engine) as s, s.begin():
            claimed = repo_alerts.claim_alert(s, alert_id, worker=self.worker, now=now, lease=self.lease)
        if claimed is None:
            return 0  # another worker has it, or it was folded
        # every line logged about this delivery names the alert and its story
        with bind(alert=claimed.id, story=claimed.payload.story_id, channel=claimed.channel):
            return self._send_claimed(claimed, clock, now)

    def _send_claimed(self, claimed: repo_alerts.ClaimedAlert, clock: Callable[[], datetime], now: datetime) -> int:
        channel = self.channels.get(claimed.channel)
        t0 = time.monotonic()
        outcome, error, retry_at = "sent", None, None
        if channel is None or claimed.channel in self.disabled:
            why = "is not configured" if channel is None else "was disabled by the receiver (HTTP 410)"
            outcome, error = "temporary", f"deliver: {claimed.channel}: the channel {why}; the alert waits"
            retry_at = alert_rules.next_retry(attempts=claimed.attempts + 1, created_at=claimed.created_at,
                                              now=now, policy=self.policy)
        else:
            try:
                channel.send_alert(claimed.payload)
            except DeliveryError as e:
                error = str(e)
                if e.disable_channel:
                    self.disabled.add(claimed.channel)
                if e.temporary or e.disable_channel:
                    # 410 refuses the channel, not this alert: it waits with the
                    # channel's other alerts (marked failed, it was lost for good)
                    outcome = "temporary"
                    retry_at = alert_rules.next_retry(attempts=claimed.attempts + 1, created_at=claimed.created_at,
                                                      now=clock(), policy=self.policy, retry_after=e.retry_after)
                else:
                    outcome = "permanent"
            except Exception as e:  # a bug in a channel: retry, do not lose the alert
                outcome, error = "temporary", f"deliver: {claimed.channel}: unexpected {type(e).__name__}: {e}"
                retry_at = alert_rules.next_retry(attempts=claimed.attempts + 1, created_at=claimed.created_at,
                                                  now=clock(), policy=self.policy)
                log.exception("deliver: %s: unexpected error", claimed.channel)
        with Session(self.engine) as s, s.begin():
            repo_alerts.record_attempt(s, claimed.id, now=clock(), outcome=outcome, error=error,
                                       next_attempt_at=retry_at, duration=time.monotonic() - t0)
        if outcome == "sent":
            self.sent += 1
            log.info("alert %s sent on %s: [%s] %s", claimed.key, claimed.channel, claimed.payload.watch,
                     claimed.payload.title)
            return 1
        self.failed += 1
        if outcome == "temporary" and retry_at is not None:
            log.warning("%s; retry at %s", error, retry_at.strftime("%Y-%m-%d %H:%M:%SZ"))
        else:
            log.error("%s; alert %s %s", error, claimed.key, "given up after retrying" if outcome == "temporary" else "failed permanently")
        return 0
