"""When to check a feed next: pure decisions, ``now`` passed in.

Schedules are data: each feed has ``next_check_at`` in the database and one
ticker asks which feeds are due (miniflux and reader do the same).  The rules:

* a healthy feed is checked every ``interval`` +- ``jitter`` (so feeds of one
  host do not all fire in the same second);
* server hints only ever push the next check *later*, never earlier, and are
  capped by ``max_hint`` so a hostile ``ttl`` or ``max-age`` cannot silence a
  feed: RSS ``<ttl>`` (RSS 2.0 spec), ``Cache-Control: max-age`` and
  ``Expires`` (RFC 9111 sections 5.2.2.1 and 5.3), ``Retry-After`` (RFC 9110
  section 10.2.3);
* a failing feed backs off exponentially, ``interval * 2**(errors-1)``, up to
  ``max_backoff``; it is never disabled, so it recovers by itself when the
  server comes back (the first success resets the error count);
* a permanent failure (404, 410, blocked address) waits ``max_backoff`` at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Hints:
    """Server scheduling hints gathered from one poll."""

    ttl: timedelta | None = None
    max_age: timedelta | None = None
    expires: datetime | None = None
    retry_after: timedelta | None = None


def next_check(
    *,
    now: datetime,
    interval: timedelta,
    error_count: int = 0,
    permanent_error: bool = False,
    hints: Hints = Hints(),
    jitter: float = 0.1,
    max_hint: timedelta = timedelta(hours=24),
    max_backoff: timedelta = timedelta(hours=24),
    rng: random.Random | None = None,
) -> datetime:
    """The time of the next check of a feed, after a poll that ended at ``now``.

    ``error_count`` counts consecutive failures including the one just seen
    (0 after a success).
    """
    rng = rng or random
    if permanent_error:
        delay = max_backoff
    elif error_count > 0:
        # cap the exponent first: 2**64 seconds would overflow timedelta
        delay = min(interval * (2 ** min(error_count - 1, 32)), max_backoff)
        delay = max(delay, interval)
    else:
        delay = interval
    if jitter:
        delay = delay * (1 + rng.uniform(-jitter, jitter))

    hinted = timedelta(0)
    for h in (hints.ttl, hints.max_age, hints.retry_after):
        if h is not None and h > hinted:
            hinted = h
    if hints.expires is not None and hints.expires - now > hinted:
        hinted = hints.expires - now
    delay = max(delay, min(hinted, max_hint))
    return now + delay


def is_due(next_check_at: datetime | None, now: datetime) -> bool:
    return next_check_at is None or next_check_at <= now
