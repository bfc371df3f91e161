"""Delivery faults end to end, through the outbox: nothing is lost.

Each test builds the real App: a feed on a real HTTP server, a watch, and a
webhook or email channel pointing at a real receiver on 127.0.0.1
(tests/support/webhook_receiver.py verifies Standard Webhooks signatures;
tests/support/smtpserver.py is aiosmtpd).  One poll puts a real alert in the
outbox; ``app.deliverer.run(now)`` then meets the fault, in simulated time:

* temporary faults (receiver down, slow, 500, 429 with Retry-After; SMTP
  refused, silent, 4xx): the alert stays ``pending`` with ``next_attempt_at``
  in the future (Retry-After honoured), the attempt is in delivery_attempt
  with an error naming the problem, nothing is resent before it is due, and
  once the receiver recovers the alert is delivered with its id;
* permanent faults (a 3xx, even to a private address, which is never
  followed; SMTP 5xx): the alert is ``failed`` and reported with the reason
  (what ``monitor alerts --status failed`` lists); the receiver saw one try;
* 410: the channel is disabled and the alert waits until monitor restarts;
* SIGKILL of a delivering process after the receiver got the request and
  before the attempt was recorded: after the claim's lease expires the
  restarted deliverer sends it again with the same webhook-id (the receiver
  flags the duplicate), everything else is delivered once, nothing is lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from monitor.app import App
from monitor.config import settings_from_dict
from monitor.errors import ConfigError
from monitor.notify.email import message_id
from monitor.store import repo_alerts
from monitor.store.models import Alert, DeliveryAttempt
from tests.hostile.generate import item, rss
from tests.support.feedserver import FeedServer
from tests.support.smtpserver import SMTPServer, silent_server, unused_port
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parents[1]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENV = {"HOOK_SECRET": SECRET}
NOW = datetime(2024, 12, 6, 9, 30, tzinfo=timezone.utc)
#: first delivery attempt, a minute after the alert was queued
T1 = NOW + timedelta(minutes=1)

#: one Homs report per entry; they may or may not end up in one story
REPORTS = [
    ("Power cuts leave much of Homs in the dark",
     "The electricity company said a damaged transformer north of Homs cut supply to forty thousand homes."),
    ("Homs football club wins the national cup final",
     "Al-Karamah of Homs beat their rivals two goals to one in a final played in front of a full stadium."),
    ("Wheat harvest near Homs falls short after a dry winter",
     "Farmers around Homs say the harvest is a third smaller than last year because the winter rains failed."),
]


def wire_feed(n: int = 1) -> bytes:
    return rss(
        [item(t, link=f"https://wire.example/{i}", guid=f"wire-{i}", description=d) for i, (t, d) in enumerate(REPORTS[:n])],
        title="Wire",
    ).encode()


def config(tmp_path: Path, db_url: str, feed_url: str, channels: dict, *, watches: list | None = None,
           lease: str = "5m") -> dict:
    return {
        "database": {"url": db_url},
        "network": {"allow": ["127.0.0.1/32"]},
        "feeds": [{"name": "wire", "url": feed_url}],
        "watches": watches or [{"name": "Homs", "aliases": ["Homs"]}],
        "channels": channels,
        "alerts": {"default_channels": list(channels), "retry_base": "30s", "retry_for": "12h"},
        "workers": {"lease": lease},
        "actors_file": str(REPO / "config" / "actors.toml"),
        "digest": {"enabled": False},
    }


def build_app(tmp_path: Path, data: dict) -> App:
    return App(settings_from_dict(data, source="test.toml", root=tmp_path, env=ENV))


@pytest.fixture
def feed(feed_server: FeedServer) -> str:
    return feed_server.route("/wire.xml", body=wire_feed(1))


def queue_alert(app: App) -> Alert:
    """Poll once: the one entry matches the watch and its alert is queued."""
    app.sync_feeds(NOW)
    [outcome] = app.pipeline.poll_due(now=NOW)
    assert outcome.status == "ok" and outcome.new == 1, outcome
    [alert] = alerts(app)
    assert alert.status == "pending" and alert.attempts == 0
    return alert


def alerts(app: App) -> list[Alert]:
    with Session(app.engine) as s:
        rows = list(s.execute(select(Alert).order_by(Alert.id)).scalars())
        s.expunge_all()
    return rows


def attempts(app: App, alert_id: int) -> list[DeliveryAttempt]:
    with Session(app.engine) as s:
        rows = list(s.execute(select(DeliveryAttempt).where(DeliveryAttempt.alert_id == alert_id)
                              .order_by(DeliveryAttempt.id)).scalars())
        s.expunge_all()
    return rows


def assert_waiting(app: App, *, at: datetime, error: str, not_before: datetime | None = None) -> Alert:
    """One temporary attempt recorded; the alert waits for a later time."""
    [alert] = alerts(app)
    assert alert.status == "pending", (alert.status, alert.last_error)
    assert alert.attempts == 1
    assert alert.next_attempt_at > at, alert.next_attempt_at
    if not_before is not None:
        assert alert.next_attempt_at >= not_before, (alert.next_attempt_at, not_before)
    assert alert.claimed_by is None and alert.claim_until is None
    [attempt] = attempts(app, alert.id)
    assert attempt.outcome == "temporary" and error in attempt.error, attempt.error
    assert attempt.error == alert.last_error and attempt.error.startswith("deliver: ")
    return alert


def assert_delivered(app: App, *, tries: int) -> Alert:
    [alert] = alerts(app)
    assert alert.status == "sent" and alert.sent_at is not None and alert.attempts == tries
    assert [a.outcome for a in attempts(app, alert.id)][-1] == "sent"
    return alert


# ----------------------------------------------------------------- webhook


WEBHOOK_TEMPORARY = [
    # (id, how the receiver misbehaves, words of the recorded error, Retry-After seconds)
    ("down", None, "cannot reach", None),  # stopped: nothing listens on its port
    ("slow", lambda h: h.respond(204, delay=3.0), "no answer", None),
    ("slow-body", lambda h: h.respond(200, body=b"x" * 40, drip=0.1), "no answer", None),
    ("500", lambda h: h.respond(500, body=b"internal error"), "answered 500: internal error", None),
    ("503", lambda h: h.respond(503), "answered 503", None),
    ("429-retry-after", lambda h: h.respond(429, headers={"Retry-After": "600"}), "answered 429, retry after 600s", 600),
]


@pytest.mark.parametrize("fault, error, retry_after", [w[1:] for w in WEBHOOK_TEMPORARY],
                         ids=[w[0] for w in WEBHOOK_TEMPORARY])
def test_webhook_temporary_fault_then_recovery(tmp_path, sqlite_url, feed, fault, error, retry_after):
    hook = WebhookReceiver(secret=SECRET).start()
    port, down = hook.port, fault is None
    try:
        data = config(tmp_path, sqlite_url, feed,
                      {"hook": {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET", "timeout": "1s"}})
        app = build_app(tmp_path, data)
        queued = queue_alert(app)
        if down:
            hook.stop()
        else:
            fault(hook)

        assert app.deliverer.run(T1) == 0
        not_before = T1 + timedelta(seconds=retry_after) if retry_after else None
        waiting = assert_waiting(app, at=T1, error=error, not_before=not_before)
        tried = 0 if down else hook.requests
        assert tried == (0 if down else 1)

        # not due yet: nothing is sent again, nothing new is recorded
        assert app.deliverer.run(waiting.next_attempt_at - timedelta(seconds=1)) == 0
        assert len(attempts(app, queued.id)) == 1
        assert down or hook.requests == tried

        # the receiver recovers (the stopped one comes back on its port)
        if down:
            hook = WebhookReceiver(secret=SECRET, port=port).start()
        hook.respond(204)
        assert app.deliverer.run(waiting.next_attempt_at) == 1
        sent = assert_delivered(app, tries=2)
        last = hook.deliveries[-1]
        assert last.verified and last.id == sent.key == queued.key
        assert last.payload["id"] == sent.key and last.payload["data"]["watch"] == "Homs"
        app.close()
    finally:
        hook.stop()


@pytest.mark.parametrize("location", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://10.0.0.1/hook",
    "/hook/elsewhere",  # the receiver itself: observable that it is not followed
])
def test_webhook_redirect_is_refused_and_reported(tmp_path, sqlite_url, feed, location):
    with WebhookReceiver(secret=SECRET) as hook:
        hook.respond(302, headers={"Location": location})
        data = config(tmp_path, sqlite_url, feed,
                      {"hook": {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET", "timeout": "2s"}})
        app = build_app(tmp_path, data)
        queue_alert(app)
        assert app.deliverer.run(T1) == 0
        [alert] = alerts(app)
        assert alert.status == "failed"
        assert "answered 302" in alert.last_error and "redirects are not followed" in alert.last_error
        assert [a.outcome for a in attempts(app, alert.id)] == ["permanent"]
        assert hook.requests == 1  # the redirect was not followed, not even to the receiver itself
        # reported: `monitor alerts --status failed` lists it with the reason
        with Session(app.engine) as s:
            [row] = repo_alerts.list_alerts(s, status="failed")
        assert row.key == alert.key and row.last_error == alert.last_error
        # a permanent failure is not retried
        assert app.deliverer.run(T1 + timedelta(hours=2)) == 0 and hook.requests == 1
        app.close()


@pytest.mark.parametrize("url", ["http://169.254.169.254/hook", "http://10.0.0.1/hook", "http://[::1]:9/hook",
                                 "http://2130706434/hook"])
def test_webhook_url_at_a_private_address_is_refused_at_start(tmp_path, sqlite_url, feed, url):
    data = config(tmp_path, sqlite_url, feed, {"hook": {"type": "webhook", "url": url}})
    app = build_app(tmp_path, data)
    with pytest.raises(ConfigError, match=r"channels\.hook\.url: .*SSRF guard"):
        app.channels
    app.close()


def test_webhook_410_disables_the_channel_and_the_alert_waits(tmp_path, sqlite_url, feed):
    with WebhookReceiver(secret=SECRET) as hook:
        hook.respond(410, body=b"this hook was deleted")
        data = config(tmp_path, sqlite_url, feed,
                      {"hook": {"type": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET", "timeout": "2s"}})
        app = build_app(tmp_path, data)
        queued = queue_alert(app)
        assert app.deliverer.run(T1) == 0
        waiting = assert_waiting(app, at=T1, error="410 Gone")
        assert "hook" in app.deliverer.disabled
        assert hook.requests == 1

        # due again, but the channel stays disabled until restart: no request
        assert app.deliverer.run(waiting.next_attempt_at) == 0
        assert hook.requests == 1
        [alert] = alerts(app)
        assert alert.status == "pending" and "disabled by the receiver (HTTP 410)" in alert.last_error
        app.close()

        # the receiver is set up again and monitor restarts: delivered
        hook.respond(204)
        app = build_app(tmp_path, data)
        assert app.deliverer.run(alert.next_attempt_at) == 1
        [alert] = alerts(app)
        assert alert.status == "sent" and alert.attempts == 3
        assert hook.deliveries[-1].id == queued.key
        app.close()


# ------------------------------------------------------------------- email


def mail_channel(port: int) -> dict:
    return {"mail": {"type": "email", "host": "127.0.0.1", "port": port, "security": "none",
                     "sender": "monitor@example.org", "to": ["desk@example.org"], "timeout": "1s"}}


def test_smtp_refused_then_recovers(tmp_path, sqlite_url, feed):
    port = unused_port()
    app = build_app(tmp_path, config(tmp_path, sqlite_url, feed, mail_channel(port)))
    queued = queue_alert(app)
    assert app.deliverer.run(T1) == 0
    waiting = assert_waiting(app, at=T1, error="refused the connection")
    with SMTPServer(port=port) as smtp:
        assert app.deliverer.run(waiting.next_attempt_at) == 1
        assert_delivered(app, tries=2)
        [mail] = smtp.messages
        assert mail.message["Message-ID"] == message_id(queued.key)
        assert mail.rcpt_tos == ("desk@example.org",)
    app.close()


def test_smtp_timing_out_then_recovers(tmp_path, sqlite_url, feed):
    with silent_server() as port:  # accepts the connection, never greets
        app = build_app(tmp_path, config(tmp_path, sqlite_url, feed, mail_channel(port)))
        queue_alert(app)
        started = time.monotonic()
        assert app.deliverer.run(T1) == 0
        assert time.monotonic() - started < 5
        waiting = assert_waiting(app, at=T1, error="did not answer within 1s")
    with SMTPServer(port=port) as smtp:
        assert app.deliverer.run(waiting.next_attempt_at) == 1
        assert_delivered(app, tries=2)
        assert len(smtp.messages) == 1
    app.close()


@pytest.mark.parametrize("verb, reply", [
    ("RCPT", "451 4.3.0 mailbox temporarily unavailable"),
    ("MAIL", "421 4.7.0 try again later"),
    ("DATA", "452 4.3.1 insufficient system storage"),
])
def test_smtp_4xx_is_retried_later(tmp_path, sqlite_url, feed, verb, reply):
    with SMTPServer() as smtp:
        app = build_app(tmp_path, config(tmp_path, sqlite_url, feed, mail_channel(smtp.port)))
        queued = queue_alert(app)
        smtp.reply(verb, reply)
        assert app.deliverer.run(T1) == 0
        waiting = assert_waiting(app, at=T1, error=reply.split()[0])
        assert smtp.messages == []
        smtp.reply(verb, None)
        assert app.deliverer.run(waiting.next_attempt_at) == 1
        assert_delivered(app, tries=2)
        [mail] = smtp.messages
        assert mail.message["Message-ID"] == message_id(queued.key)
        app.close()


@pytest.mark.parametrize("verb, reply", [
    ("MAIL", "550 5.7.1 relaying denied"),
    ("RCPT", "550 5.1.1 no such user"),
    ("DATA", "554 5.6.0 message refused"),
])
def test_smtp_5xx_is_permanent_and_reported(tmp_path, sqlite_url, feed, verb, reply):
    with SMTPServer() as smtp:
        smtp.reply(verb, reply)
        app = build_app(tmp_path, config(tmp_path, sqlite_url, feed, mail_channel(smtp.port)))
        queue_alert(app)
        assert app.deliverer.run(T1) == 0
        [alert] = alerts(app)
        assert alert.status == "failed" and reply.split()[0] in alert.last_error, alert.last_error
        assert [a.outcome for a in attempts(app, alert.id)] == ["permanent"]
        with Session(app.engine) as s:
            [row] = repo_alerts.list_alerts(s, status="failed")
        assert row.last_error == alert.last_error
        smtp.reply(verb, None)
        assert app.deliverer.run(T1 + timedelta(hours=2)) == 0  # not retried
        assert smtp.messages == []
        app.close()


# ------------------------------------------------------- killed mid-delivery

#: the delivering process: deliver what is due at argv[2], with the config at argv[1]
DELIVER_SCRIPT = """
import sys
from datetime import datetime
from monitor.app import App
from monitor.config import load_config
app = App(load_config(sys.argv[1]), migrate_db=False)
app.deliverer.run(datetime.fromisoformat(sys.argv[2]))
print("finished", flush=True)
"""


def toml(data: dict) -> str:
    """The small subset of TOML this test's config needs (JSON strings are
    valid TOML basic strings)."""
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    for key, value in data.items():
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()) and value:
            tables += [(f"{key}.{name}", sub) for name, sub in value.items()]
        elif isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for entry in value:
                lines.append(f"[[{key}]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in entry.items()]
        else:
            lines.insert(0, f"{key} = {json.dumps(value)}")
    for name, table in tables:
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def test_sigkill_during_delivery_loses_nothing_and_resends_with_the_same_id(tmp_path, db_url, feed_server):
    """Two channels; the first alert goes out on "a", then its copy for "b"
    reaches the receiver, which records it and holds the answer; the
    delivering process is killed then, before the attempt is recorded."""
    feed_url = feed_server.route("/wire.xml", body=wire_feed(3))
    watches = [{"name": "Homs", "aliases": ["Homs"]}, {"name": "Sport", "aliases": ["football"]},
               {"name": "Farming", "aliases": ["harvest"]}]
    with WebhookReceiver(secret=SECRET) as hook_a, WebhookReceiver(secret=SECRET) as hook_b:
        channels = {name: {"type": "webhook", "url": h.url, "secret_env": "HOOK_SECRET", "timeout": "30s"}
                    for name, h in (("a", hook_a), ("b", hook_b))}
        data = config(tmp_path, db_url, feed_url, channels, watches=watches, lease="1s")
        app = build_app(tmp_path, data)
        app.sync_feeds(NOW)
        [outcome] = app.pipeline.poll_due(now=NOW)
        assert outcome.status == "ok" and outcome.new == 3
        queued = alerts(app)
        app.close()
        assert len(queued) >= 6 and {a.channel for a in queued} == {"a", "b"}
        first_b = next(a for a in queued if a.channel == "b")

        hook_b.respond(204, delay=30)  # record the request, then hold the answer
        path = tmp_path / "monitor.toml"
        path.write_text(toml(data))
        proc = subprocess.Popen(
            [sys.executable, "-c", DELIVER_SCRIPT, str(path), T1.isoformat()],
            cwd=REPO, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while hook_b.requests == 0 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            assert hook_b.requests == 1, proc.communicate(timeout=5) if proc.poll() is not None else "no request"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]

        # what the killed process left: everything before the kill recorded,
        # the alert in flight claimed (until its lease ends) and not recorded
        app = build_app(tmp_path, data)
        left = {a.key: a for a in alerts(app)}
        before = [a for a in queued if a.id < first_b.id]
        assert all(left[a.key].status == "sent" for a in before)
        assert {d.id for d in hook_a.deliveries} == {a.key for a in before}
        in_flight = left[first_b.key]
        assert in_flight.status == "pending" and in_flight.attempts == 0 and in_flight.claim_until is not None
        assert attempts(app, in_flight.id) == []
        assert hook_b.deliveries[0].id == first_b.key

        # a restarted deliverer sends the rest but leaves the claimed alert
        # alone until its lease ends...
        hook_b.respond(204)
        assert app.deliverer.run(T1 + timedelta(milliseconds=500)) == len(queued) - len(before) - 1
        assert [d.id for d in hook_b.deliveries].count(first_b.key) == 1
        # ...then sends it again, with the same id
        assert app.deliverer.run(T1 + timedelta(seconds=2)) == 1
        final = alerts(app)
        assert all(a.status == "sent" and a.attempts == 1 for a in final), [(a.key, a.status) for a in final]
        app.close()

    assert sorted(d.id for d in hook_a.deliveries) == sorted(a.key for a in queued if a.channel == "a")
    assert all(not d.duplicate for d in hook_a.deliveries)
    b_ids = [d.id for d in hook_b.deliveries]
    assert sorted(set(b_ids)) == sorted(a.key for a in queued if a.channel == "b")
    assert b_ids.count(first_b.key) == 2 and b_ids[0] == first_b.key
    assert [d.id for d in hook_b.deliveries if d.duplicate] == [first_b.key]  # the receiver can drop it
    assert all(d.verified for d in hook_a.deliveries + hook_b.deliveries)
