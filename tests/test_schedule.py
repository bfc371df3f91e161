"""Next-check decisions: interval, jitter, server hints (only later, capped), backoff."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from monitor.schedule import Hints, is_due, next_check

NOW = datetime(2024, 12, 5, 12, 0, tzinfo=timezone.utc)
M15 = timedelta(minutes=15)


def nc(**kw):
    kw.setdefault("jitter", 0)
    return next_check(now=NOW, interval=M15, **kw) - NOW


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({}, M15),
        # backoff doubles per consecutive error, capped
        ({"error_count": 1}, M15),
        ({"error_count": 2}, 2 * M15),
        ({"error_count": 3}, 4 * M15),
        ({"error_count": 40}, timedelta(hours=24)),
        ({"error_count": 10_000}, timedelta(hours=24)),
        ({"permanent_error": True, "error_count": 1}, timedelta(hours=24)),
        # hints push later ...
        ({"hints": Hints(ttl=timedelta(hours=1))}, timedelta(hours=1)),
        ({"hints": Hints(max_age=timedelta(minutes=30))}, timedelta(minutes=30)),
        ({"hints": Hints(expires=NOW + timedelta(hours=2))}, timedelta(hours=2)),
        ({"hints": Hints(retry_after=timedelta(minutes=40)), "error_count": 1}, timedelta(minutes=40)),
        # ... never earlier ...
        ({"hints": Hints(ttl=timedelta(minutes=1))}, M15),
        ({"hints": Hints(expires=NOW - timedelta(hours=2))}, M15),
        # ... and are capped so a hostile hint cannot silence a feed
        ({"hints": Hints(ttl=timedelta(days=365))}, timedelta(hours=24)),
        ({"hints": Hints(retry_after=timedelta(days=30)), "max_hint": timedelta(hours=6)}, timedelta(hours=6)),
    ],
)
def test_next_check(kw, expected):
    assert nc(**kw) == expected


def test_jitter_spreads_checks_within_bounds():
    rng = random.Random(1)
    delays = {next_check(now=NOW, interval=M15, jitter=0.1, rng=rng) - NOW for _ in range(200)}
    assert len(delays) > 100
    assert all(M15 * 0.9 <= d <= M15 * 1.1 for d in delays)


def test_a_failing_feed_is_never_disabled():
    # even after a year of errors the feed is checked again within max_backoff
    assert nc(error_count=35_000) <= timedelta(hours=24)


@pytest.mark.parametrize("at, due", [(None, True), (NOW, True), (NOW - M15, True), (NOW + M15, False)])
def test_is_due(at, due):
    assert is_due(at, NOW) is due
