"""Logging: bound context, the two formats, and secrets kept out.

Table cases for the pure parts (redaction, the secrets a configuration
holds), then the real thing in-process: a poll against the feed server and a
delivery to a real webhook receiver, logged as JSON into a buffer, each line
naming the feed, alert and story it is about and none carrying a secret.
(The subprocess side, a whole `monitor run` in JSON, is in test_lifecycle.)
"""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest

from monitor import logs
from monitor.cli import secrets_of
from monitor.config import settings_from_dict
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.workers import load_events, rss


@pytest.fixture
def capture():
    """The monitor handler writing into a buffer; the previous set-up and
    secrets restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level, saved_secrets = list(root.handlers), root.level, logs._secrets
    buf = io.StringIO()

    def setup(fmt: str = "json", level: str = "INFO") -> io.StringIO:
        logs.setup(level, fmt, stream=buf)
        return buf

    yield setup
    for h in list(root.handlers):
        if getattr(h, "_monitor", False):
            root.removeHandler(h)
    for h in saved_handlers:
        if h not in root.handlers:
            root.addHandler(h)
    root.setLevel(saved_level)
    logs._secrets = saved_secrets


def json_lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buf.getvalue().splitlines()]


# ---------------------------------------------------------------- context


def test_bind_nests_restores_and_stays_in_its_thread(capture):
    buf = capture("json")
    log = logging.getLogger("monitor.test")
    seen_in_thread = []
    with logs.bind(feed=7):
        with logs.bind(alert=3, feed=8):
            log.info("inner")
        log.info("outer")

        def other() -> None:  # a fetch thread: must not inherit this feed
            log.info("thread")
            seen_in_thread.append(True)

        t = threading.Thread(target=other)
        t.start()
        t.join()
    log.info("after")
    got = {x["msg"]: {k: x[k] for k in ("feed", "alert") if k in x} for x in json_lines(buf)}
    assert got == {"inner": {"feed": 8, "alert": 3}, "outer": {"feed": 7}, "thread": {}, "after": {}}
    assert seen_in_thread == [True]


def test_text_format_is_one_readable_line_with_the_context(capture):
    buf = capture("text")
    with logs.bind(feed=12, worker="host:1:abc"):
        logging.getLogger("monitor.pipeline").warning("poll %s: error: %s", "world", "fetch: timed out")
    (line,) = buf.getvalue().splitlines()
    assert line[8:] == " WARNING poll world: error: fetch: timed out feed=12 worker=host:1:abc"
    datetime.strptime(line[:8], "%H:%M:%S")


def test_json_format_one_object_per_record_exceptions_included(capture):
    buf = capture("json")
    log = logging.getLogger("monitor.deliver")
    with logs.bind(alert=5, story=9):
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            log.exception("deliver: hook: unexpected error «ünïcode»")
    (line,) = buf.getvalue().splitlines()  # the traceback stays inside the one JSON line
    rec = json.loads(line)
    assert (rec["level"], rec["logger"], rec["alert"], rec["story"]) == ("error", "monitor.deliver", 5, 9)
    assert rec["msg"] == "deliver: hook: unexpected error «ünïcode»"
    assert "ValueError: bad" in rec["exc"]
    datetime.fromisoformat(rec["ts"])


def test_setup_twice_keeps_one_handler_and_holds_httpx_at_warning(capture):
    capture("text")
    buf = capture("json")
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_monitor", False)]
    assert len(ours) == 1
    logging.getLogger("httpx").info("HTTP Request: GET https://x.example/feed?token=abc")
    logging.getLogger("monitor.x").info("kept")
    assert [x["msg"] for x in json_lines(buf)] == ["kept"]


def test_apscheduler_skip_warning_is_quiet_other_warnings_stay(capture):
    import monitor.scheduler  # noqa: F401  (installs the filter)

    buf = capture("json")
    aps = logging.getLogger("apscheduler.scheduler")
    aps.warning('Execution of job "poll" skipped: maximum number of running instances reached (1)')
    aps.warning('Run time of job "digest" was missed by 0:05:00')
    assert [x["msg"] for x in json_lines(buf)] == ['Run time of job "digest" was missed by 0:05:00']


# ---------------------------------------------------------------- secrets

REDACT_CASES = [
    # (registered secrets, text, expected)
    ((), "postgresql+psycopg://monitor:hunter2pw@db:5432/monitor", "postgresql+psycopg://monitor:***@db:5432/monitor"),
    ((), "GET https://feeds.example/rss?token=abc123&page=2", "GET https://feeds.example/rss?token=***&page=2"),
    ((), "https://x.example/a?api_key=K1&apikey=K2&sig=S3&code=C4", "https://x.example/a?api_key=***&apikey=***&sig=***&code=***"),
    ((), "https://x.example/a?q=homs&page=2", "https://x.example/a?q=homs&page=2"),  # nothing secret: unchanged
    ((), "user:pass in prose, not a URL", "user:pass in prose, not a URL"),
    (("T0KEN9f8e7d6c5b4a",), "POST http://127.0.0.1:80/hooks/T0KEN9f8e7d6c5b4a answered 500",
     "POST http://127.0.0.1:80/hooks/*** answered 500"),
    (("s3cr3t", "s3cr3t-and-more"), "s3cr3t-and-more then s3cr3t", "*** then ***"),  # longest first
    (("abc",), "abc is too short to mask", "abc is too short to mask"),
]


@pytest.mark.parametrize("secrets,text,expected", REDACT_CASES)
def test_redact(capture, secrets, text, expected):
    logs.mask_secrets(secrets)
    assert logs.redact(text) == expected


def test_a_secret_is_masked_in_every_field_of_both_formats(capture):
    for fmt in ("json", "text"):
        buf = capture(fmt)
        logs.mask_secrets(["Pw-8c41f0e2aa"])
        with logs.bind(url="postgresql://u:Pw-8c41f0e2aa@h/db"):
            try:
                raise RuntimeError("connect failed for Pw-8c41f0e2aa")
            except RuntimeError:
                logging.getLogger("monitor.x").exception("store: %s", "Pw-8c41f0e2aa")
        assert "Pw-8c41f0e2aa" not in buf.getvalue()
        assert buf.getvalue().count("***") >= 3


def test_secrets_of_a_configuration():
    env = {
        "MONITOR_DATABASE_URL": "postgresql+psycopg://monitor:db-Pass-1234@db/monitor",
        "SMTP_PASSWORD": "smtp-pass-5678", "HOOK_SECRET": "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
        "MONITOR_WEB_TOKEN": "web-token-9012",
    }
    settings = settings_from_dict({
        "channels": {
            "mail": {"type": "email", "host": "smtp.example", "sender": "m@example.org", "to": ["a@example.org"],
                     "username": "monitor", "password_env": "SMTP_PASSWORD"},
            "slack": {"type": "webhook", "url": "https://hooks.example/services/T0AB12CD/B0EF34GH/xYz123AbC456dEf789gHi",
                      "secret_env": "HOOK_SECRET"},
            "ntfy": {"type": "apprise", "url": "ntfys://ntfy.example/alerts-7f3a9c2e1b"},
            "log": {"type": "file", "path": "data/alerts.jsonl"},
        },
        "feeds": [{"name": "private", "url": "https://reader:feedpw99@feeds.example/rss?key=feed-key-3456&lang=en"}],
    }, source="t.toml", env=env)
    got = set(secrets_of(settings))
    assert {"db-Pass-1234", "smtp-pass-5678", "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=", "web-token-9012",
            "T0AB12CD", "B0EF34GH", "xYz123AbC456dEf789gHi", "alerts-7f3a9c2e1b",
            "feedpw99", "feed-key-3456"} <= got
    # names a reader needs stay readable
    assert not got & {"services", "hooks.example", "alerts.jsonl", "monitor", "reader", "en", "rss"}


# ------------------------------------------------------- the real pipeline


def test_a_poll_and_a_delivery_log_their_ids_and_no_secret(capture, make_app, feed_server):
    token = "tok-4b8e1f0c9d2a7e63"
    buf = capture("json")
    with WebhookReceiver(path=f"/hook/{token}?token={token}") as hook:
        hook.respond(503)
        a = next(x for x in load_events() if x.event == "syria-homs-captured-by-hts")
        body = rss(a.source, [a], published=datetime.now(timezone.utc) - timedelta(hours=1))
        app = make_app({
            "feeds": [{"name": "homs", "url": feed_server.route("/homs.xml", body=body), "source": a.source},
                      {"name": "gone", "url": feed_server.route("/gone.xml", status=410) + f"?token={token}"}],
            "watches": [{"name": "Homs", "any_of": ["Homs"]}],
            "alerts": {"default_channels": ["hook"]},
            "channels": {"hook": {"type": "webhook", "url": hook.url}},
        })
        logs.mask_secrets(secrets_of(app.settings))
        app.sync_feeds()
        outcomes = {o.feed_name: o for o in app.pipeline.poll_due(clock=lambda: datetime.now(timezone.utc))}
        app.deliverer.run(clock=lambda: datetime.now(timezone.utc))
        assert hook.requests == 1

    lines = json_lines(buf)
    assert token not in buf.getvalue()
    ids = {name: o.feed_id for name, o in outcomes.items()}
    by_msg = {x["msg"].split(":")[0]: x for x in lines if x["logger"] == "monitor.pipeline"}
    assert by_msg["poll homs"]["feed"] == ids["homs"]
    assert by_msg["poll gone"]["feed"] == ids["gone"] and by_msg["poll gone"]["level"] == "warning"
    delivery = [x for x in lines if x["logger"] == "monitor.deliver"]
    assert delivery and all(set(x) >= {"alert", "story", "channel"} and x["channel"] == "hook" for x in delivery)
    assert "/hook/***?token=***" in delivery[0]["msg"]
