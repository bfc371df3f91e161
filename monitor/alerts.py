"""When a watch match becomes an alert: pure decisions, ``now`` passed in.

* one alert per (watch, story), when the story first matches;
* nothing for a story whose matching article is older than the backlog
  window (a first poll of a new feed must not flood);
* an update only when it matters: the story gained ``update_min_new_sources``
  distinct sources since the last alert, and not within ``update_cooldown``
  of it;
* retries of temporary delivery failures back off exponentially
  (``retry_base * 2**attempts``, capped at one hour, never sooner than the
  receiver's Retry-After) until ``retry_for`` has passed since the alert was
  created.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    backlog_window: timedelta = timedelta(hours=48)
    update_min_new_sources: int = 3
    update_cooldown: timedelta = timedelta(hours=6)
    retry_for: timedelta = timedelta(hours=12)
    retry_base: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class PriorAlert:
    last_alert_at: datetime
    sources_at_last_alert: int
    alerts_sent: int


def first_alert_due(*, article_when: datetime, now: datetime, policy: AlertPolicy) -> bool:
    """A story's first match alerts unless the matching article is backlog."""
    return article_when >= now - policy.backlog_window


def update_due(*, prior: PriorAlert, source_count: int, now: datetime, policy: AlertPolicy) -> bool:
    return (
        source_count - prior.sources_at_last_alert >= policy.update_min_new_sources
        and now - prior.last_alert_at >= policy.update_cooldown
    )


#: a retry is never scheduled more than this far ahead (a receiver that is back
#: should not wait for hours)
MAX_RETRY_DELAY = timedelta(hours=1)


def next_retry(
    *, attempts: int, created_at: datetime, now: datetime, policy: AlertPolicy, retry_after: timedelta | None = None
) -> datetime | None:
    """When to try a temporarily failed delivery again; None when it is time to give up."""
    delay = min(policy.retry_base * (2 ** min(attempts - 1, 20)), MAX_RETRY_DELAY)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_DELAY * 6))
    at = now + delay
    if at - created_at > policy.retry_for:
        return None
    return at


def alert_key(*, watch: str, story_id: int, kind: str, seq: int, channel: str) -> str:
    """The idempotency key: stable for the same alert on the same channel, so a
    resend after a crash carries the same id (webhook-id, Message-ID)."""
    slug = re.sub(r"[^a-z0-9]+", "-", watch.casefold()).strip("-")[:40] or "watch"
    digest = hashlib.sha256(f"{watch}\x1f{story_id}\x1f{kind}\x1f{seq}\x1f{channel}".encode()).hexdigest()[:12]
    return f"msg_{story_id}_{slug}_{kind}{seq}_{digest}"
