"""Alert decisions: first alert, backlog, updates with cooldown, retry backoff, keys."""

from datetime import datetime, timedelta, timezone

import pytest

from monitor.alerts import AlertPolicy, PriorAlert, alert_key, first_alert_due, next_retry, update_due

NOW = datetime(2024, 12, 6, 9, 0, tzinfo=timezone.utc)
P = AlertPolicy(backlog_window=timedelta(hours=48), update_min_new_sources=3,
                update_cooldown=timedelta(hours=6), retry_for=timedelta(hours=12), retry_base=timedelta(seconds=30))


@pytest.mark.parametrize("age, due", [(timedelta(0), True), (timedelta(hours=47), True),
                                      (timedelta(hours=49), False), (timedelta(days=30), False)])
def test_backlog_entries_do_not_alert(age, due):
    assert first_alert_due(article_when=NOW - age, now=NOW, policy=P) is due


@pytest.mark.parametrize(
    "sources_then, sources_now, ago, due",
    [
        (2, 5, timedelta(hours=7), True),  # 3 new sources, cooldown over
        (2, 4, timedelta(hours=7), False),  # only 2 new sources
        (2, 9, timedelta(hours=1), False),  # within the cooldown
    ],
)
def test_update_needs_new_sources_and_cooldown(sources_then, sources_now, ago, due):
    prior = PriorAlert(last_alert_at=NOW - ago, sources_at_last_alert=sources_then, alerts_sent=1)
    assert update_due(prior=prior, source_count=sources_now, now=NOW, policy=P) is due


def test_retry_backs_off_exponentially_then_gives_up():
    created = NOW
    delays = [next_retry(attempts=a, created_at=created, now=NOW, policy=P) - NOW for a in range(1, 9)]
    assert delays[:4] == [timedelta(seconds=30 * 2**i) for i in range(4)]
    assert all(d <= timedelta(hours=1) for d in delays)
    assert next_retry(attempts=3, created_at=NOW - timedelta(hours=12), now=NOW, policy=P) is None


def test_retry_honours_retry_after():
    at = next_retry(attempts=1, created_at=NOW, now=NOW, policy=P, retry_after=timedelta(minutes=10))
    assert at - NOW == timedelta(minutes=10)


def test_alert_keys_are_stable_and_distinct():
    k = alert_key(watch="Homs", story_id=7, kind="new", seq=0, channel="mail")
    assert k == alert_key(watch="Homs", story_id=7, kind="new", seq=0, channel="mail")
    others = {alert_key(watch=w, story_id=s, kind=kd, seq=q, channel=c)
              for w, s, kd, q, c in [("Hama", 7, "new", 0, "mail"), ("Homs", 8, "new", 0, "mail"),
                                     ("Homs", 7, "update", 1, "mail"), ("Homs", 7, "new", 0, "hook")]}
    assert k not in others and len(others) == 4
    assert k.startswith("msg_7_homs_new0_")
