"""Webhook channel against a real receiver on 127.0.0.1 that verifies the
Standard Webhooks signature; payload schema; Apprise.

Every case below sends real HTTP through monitor's SSRF-guarded client
(allow-listed for 127.0.0.1, as a user would allow an internal receiver).
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.support import payloads
from pydantic import SecretStr

from monitor.config import ChannelSettings
from monitor.errors import ConfigError, DeliveryError
from monitor.netguard import NetGuard
from monitor.notify import build_channel
from monitor.notify.apprise import AppriseChannel
from monitor.notify.payload import ALERT_SCHEMA, alert_to_json, digest_to_json, encode_json
from monitor.notify.webhook import MAX_RETRY_AFTER, WebhookChannel, parse_retry_after, sign, signing_key
from monitor.records import AlertPayload, DigestMessage, Match, SourceLink
from tests.support.smtpserver import unused_port
from tests.support.webhook_receiver import WebhookReceiver

REPO = Path(__file__).resolve().parents[1]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
LOOPBACK = NetGuard(allow=["127.0.0.1/32"])


def make_alert(**overrides: object) -> AlertPayload:
    title_match = Match("Homs", "Homs", "title", "Shelling reported near Homs", 26, 30, "gazetteer")
    return payloads.make_alert(**{"matches": (title_match,), "priority": 2, **overrides})


@pytest.fixture
def receiver():
    with WebhookReceiver(secret=SECRET) as r:
        yield r


def channel_for(url: str, *, secret: str | None = SECRET, timeout: float = 5.0, clock=time.time) -> WebhookChannel:
    return WebhookChannel("hooks", url, secret=secret, timeout=timeout, guard=LOOPBACK, clock=clock)


def failure(channel: WebhookChannel, alert: AlertPayload | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        channel.send_alert(alert or make_alert())
    return info.value


# ------------------------------------------------------------------ signing


def test_signature_reproduces_the_standard_webhooks_test_vector():
    # the vector published with the Standard Webhooks specification: any of
    # its libraries verifies what monitor signs
    key = signing_key(SECRET)
    assert sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}') == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize(
    "secret, key",
    [
        ("whsec_c2VjcmV0", b"secret"),  # the spec's format: base64 after the prefix
        ("plain-text-secret", b"plain-text-secret"),  # a raw secret: its UTF-8 bytes
        ("s\u00e9cret", "s\u00e9cret".encode()),
    ],
)
def test_signing_key_accepts_whsec_and_raw_secrets(secret, key):
    assert signing_key(secret) == key


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_", ""])
def test_a_bad_secret_is_a_config_error_naming_the_channel(secret):
    with pytest.raises(ConfigError, match=r"channels\.hooks\.secret_env"):
        WebhookChannel("hooks", "http://127.0.0.1:9/", secret=secret, guard=LOOPBACK)


# ------------------------------------------------------------------ delivery


def test_alert_is_delivered_signed_with_the_documented_payload(receiver):
    jsonschema = pytest.importorskip("jsonschema")
    channel = build_channel(
        "hooks",
        ChannelSettings(type="webhook", url=receiver.url, secret=SecretStr(SECRET), secret_env="HOOK_SECRET"),
        guard=LOOPBACK,
    )
    alert = make_alert()
    channel.send_alert(alert)
    channel.close()

    [got] = receiver.deliveries
    assert got.verified and not got.duplicate
    assert got.headers["webhook-id"] == alert.id
    assert got.headers["content-type"] == "application/json"
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.payload == alert_to_json(alert)
    jsonschema.validate(got.payload, ALERT_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert got.payload["type"] == "alert.new" and got.payload["version"] == 1
    assert got.payload["data"]["story"]["url"] == "https://news.example/homs-shelling"


@pytest.mark.parametrize("secret, library_secret", [(SECRET, SECRET), ("a raw secret", b"a raw secret")])
def test_the_reference_standard_webhooks_library_verifies_a_delivery(secret, library_secret):
    webhooks = pytest.importorskip("standardwebhooks.webhooks")
    with WebhookReceiver(secret=secret) as r:
        alert = make_alert()
        channel_for(r.url, secret=secret).send_alert(alert)
        [got] = r.deliveries
    assert webhooks.Webhook(library_secret).verify(got.body, got.headers) == alert_to_json(alert)


def test_the_timestamp_header_is_the_send_time_from_the_injected_clock(receiver):
    now = time.time()
    channel_for(receiver.url, clock=lambda: now).send_alert(make_alert())
    assert receiver.deliveries[0].headers["webhook-timestamp"] == str(int(now))


def test_a_receiver_with_another_secret_rejects_the_delivery(receiver):
    with WebhookReceiver(secret="whsec_" + "b3RoZXItc2VjcmV0") as other:
        err = failure(channel_for(other.url))
        assert not err.temporary  # 401: a configuration problem, retrying will not help
        assert "401" in str(err)
        assert other.deliveries == []
        assert [r.reason for r in other.rejected] == ["no matching v1 signature"]


def test_a_retry_carries_the_same_webhook_id_so_the_receiver_spots_the_duplicate(receiver):
    channel = channel_for(receiver.url)
    alert = make_alert()
    channel.send_alert(alert)
    channel.send_alert(alert)  # e.g. a crash between send and record, then a resend
    first, second = receiver.deliveries
    assert first.id == second.id == alert.id
    assert (first.duplicate, second.duplicate) == (False, True)
    assert first.body == second.body


def test_without_a_secret_the_webhook_goes_unsigned(caplog):
    with WebhookReceiver(secret=None) as open_receiver:
        channel_for(open_receiver.url, secret=None).send_alert(make_alert())
        [got] = open_receiver.deliveries
        assert "webhook-signature" not in got.headers
        assert got.headers["webhook-id"] == "alert-7-homs-1"
    assert "unsigned" in caplog.text


def test_a_configured_secret_variable_that_is_not_set_is_a_config_error():
    settings = ChannelSettings(type="webhook", url="http://127.0.0.1:9/", secret_env="HOOK_SECRET")
    with pytest.raises(ConfigError, match="HOOK_SECRET is not set"):
        build_channel("hooks", settings, guard=LOOPBACK)


def test_digest_is_delivered_with_its_own_id(receiver):
    jsonschema = pytest.importorskip("jsonschema")
    digest = DigestMessage("daily", "2024-05-01", "Daily digest", "text", "<p>html</p>", {"sections": []})
    channel_for(receiver.url).send_digest(digest)
    [got] = receiver.deliveries
    assert got.id == "digest-daily-2024-05-01"
    assert got.payload["type"] == "digest"
    assert got.payload["data"] == {
        "name": "daily", "local_date": "2024-05-01", "subject": "Daily digest", "digest": {"sections": []},
    }  # fmt: skip
    jsonschema.validate(got.payload, ALERT_SCHEMA, format_checker=jsonschema.FormatChecker())


# ------------------------------------------------------------ receiver faults

NOW = datetime.now(timezone.utc).replace(microsecond=0)

# (what the receiver answers, temporary?, retry_after, disable_channel?, message part)
RESPONSES = [
    pytest.param(dict(status=200), None, None, False, "", id="200 delivered"),
    pytest.param(dict(status=202), None, None, False, "", id="202 delivered"),
    pytest.param(dict(status=500, body=b"boom"), True, None, False, "answered 500: boom", id="500 retry"),
    pytest.param(dict(status=503, headers={"Retry-After": "120"}), True, timedelta(seconds=120), False, "retry after 120s",
                 id="503 Retry-After seconds"),
    pytest.param(dict(status=429, headers={"Retry-After": "30"}), True, timedelta(seconds=30), False, "429", id="429 retry"),
    pytest.param(dict(status=429, headers={"Retry-After": "999999999"}), True, MAX_RETRY_AFTER, False, "429",
                 id="429 absurd Retry-After capped"),
    pytest.param(dict(status=408), True, None, False, "408", id="408 retry"),
    pytest.param(dict(status=410), False, None, True, "410 Gone", id="410 disables the channel"),
    pytest.param(dict(status=400), False, None, False, "400", id="400 permanent"),
    pytest.param(dict(status=404), False, None, False, "404", id="404 permanent"),
    pytest.param(dict(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}), False, None, False,
                 "redirects are not followed", id="302 to cloud metadata refused"),
    pytest.param(dict(status=307, headers={"Location": "https://elsewhere.example/hook?token=abc"}), False, None, False,
                 "token=***", id="307 refused, token in Location redacted"),
    pytest.param(dict(status=308), False, None, False, "(no Location)", id="308 without Location"),
]  # fmt: skip


@pytest.mark.parametrize("answer, temporary, retry_after, disable, says", RESPONSES)
def test_receiver_answers_are_classified(receiver, answer, temporary, retry_after, disable, says):
    receiver.respond(**answer)
    channel = channel_for(receiver.url)
    if temporary is None:
        channel.send_alert(make_alert())
        assert len(receiver.deliveries) == 1
        return
    err = failure(channel)
    assert (err.temporary, err.retry_after, err.disable_channel) == (temporary, retry_after, disable)
    assert says in str(err)
    assert str(err).startswith("deliver: hooks: ")


def test_retry_after_as_an_http_date(receiver):
    sent_at = time.time()
    receiver.respond(429, headers={"Retry-After": format_datetime(datetime.fromtimestamp(sent_at, timezone.utc) + timedelta(seconds=90), usegmt=True)})
    err = failure(channel_for(receiver.url, clock=lambda: sent_at))
    assert err.temporary
    assert timedelta(seconds=89) <= err.retry_after <= timedelta(seconds=90)


def test_a_redirect_is_not_followed_even_to_an_allowed_address(receiver):
    with WebhookReceiver(secret=SECRET) as elsewhere:
        receiver.respond(302, headers={"Location": elsewhere.url})
        err = failure(channel_for(receiver.url))
        assert not err.temporary and "redirects are not followed" in str(err)
        assert elsewhere.requests == 0


def test_receiver_down_is_temporary():
    err = failure(channel_for(f"http://127.0.0.1:{unused_port()}/hook"))
    assert err.temporary
    assert "cannot reach" in str(err)


def test_a_slow_receiver_times_out_as_temporary(receiver):
    receiver.respond(200, delay=5.0)
    started = time.monotonic()
    err = failure(channel_for(receiver.url, timeout=0.5))
    assert err.temporary and "within 0.5s" in str(err)
    assert time.monotonic() - started < 2.0


def test_a_receiver_dripping_its_answer_hits_the_total_deadline(receiver):
    # one byte every 0.1 s: every single read is quick, so only a total
    # deadline (netguard.io_deadline) ends it; the answer would take ~8 s
    receiver.respond(200, drip=0.1)
    started = time.monotonic()
    err = failure(channel_for(receiver.url, timeout=0.8))
    assert err.temporary
    assert time.monotonic() - started < 2.5


def test_the_default_guard_refuses_a_loopback_url_at_build_time():
    with pytest.raises(ConfigError, match=r"channels\.hooks\.url: .*loopback"):
        build_channel("hooks", ChannelSettings(type="webhook", url="http://127.0.0.1:8080/hook"))


def test_a_name_resolving_to_a_private_address_is_refused_at_connect_time(receiver):
    # "hooks.internal" passes the pre-flight check (a name), then resolves to
    # 127.0.0.1, which the guard refuses when connecting: DNS cannot sneak past
    guard = NetGuard(resolver=lambda host, port: ["127.0.0.1"])
    channel = WebhookChannel("hooks", f"http://hooks.internal:{receiver.port}/hook", secret=SECRET, guard=guard)
    err = failure(channel)
    assert not err.temporary and "loopback" in str(err)
    assert receiver.requests == 0


def test_an_injected_client_is_used_and_not_closed(receiver):
    import httpx

    with httpx.Client() as client:
        channel = WebhookChannel("hooks", receiver.url, secret=SECRET, client=client)
        channel.send_alert(make_alert())
        channel.close()
        assert not client.is_closed
    assert len(receiver.deliveries) == 1


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ("", None),
        ("0", timedelta(0)),
        ("120", timedelta(seconds=120)),
        ("  45 ", timedelta(seconds=45)),
        ("99999999999999999999999", MAX_RETRY_AFTER),
        (format_datetime(NOW + timedelta(minutes=5), usegmt=True), timedelta(minutes=5)),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), timedelta(0)),  # in the past: now
        ("tomorrow-ish", None),
        ("-5", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


# ------------------------------------------------------------------- payload


def test_payload_validates_and_hostile_urls_become_null():
    jsonschema = pytest.importorskip("jsonschema")
    alert = make_alert(
        url="javascript:alert(document.cookie)",
        sources=(SourceLink("Evil", "<script>x</script>", "data:text/html,<script>alert(1)</script>", T0),),
        title='Quote " backslash \\ newline \n and \u2028 separator',
    )
    doc = alert_to_json(alert)
    jsonschema.validate(doc, ALERT_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert doc["data"]["story"]["url"] is None
    assert doc["data"]["sources"][0]["url"] is None
    body = encode_json(doc)
    assert b"\n" not in body and "\u2028".encode() not in body  # one JSON line, whatever the title holds
    assert json.loads(body) == doc  # the serializer escaped, nothing was formatted by hand


def test_schema_rejects_a_payload_missing_its_story():
    jsonschema = pytest.importorskip("jsonschema")
    doc = alert_to_json(make_alert())
    del doc["data"]["story"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, ALERT_SCHEMA)


def test_docs_publish_the_same_schema_and_a_working_receiver_example(receiver):
    text = (REPO / "docs" / "webhooks.md").read_text()
    [schema] = re.findall(r"```json\n(.*?)```", text, re.S)
    assert json.loads(schema) == ALERT_SCHEMA
    [example_payload] = re.findall(r"```json-example\n(.*?)```", text, re.S)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(json.loads(example_payload), ALERT_SCHEMA, format_checker=jsonschema.FormatChecker())
    # the receiver example in the docs, run as written against a real delivery
    example = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 - our own docs
    alert = make_alert()
    channel_for(receiver.url).send_alert(alert)
    [got] = receiver.deliveries
    verify = namespace["verify_webhook"]
    assert verify(SECRET, got.headers, got.body) == alert_to_json(alert)
    with pytest.raises(ValueError):
        verify(SECRET, got.headers, got.body + b" ")


def test_digest_payload_shape():
    digest = DigestMessage("daily", "2024-05-01", "s", "t", "h", {"k": [1, 2]})
    assert digest_to_json(digest, T0) == {
        "version": 1, "type": "digest", "id": "digest-daily-2024-05-01", "timestamp": "2024-05-01T12:00:00Z",
        "data": {"name": "daily", "local_date": "2024-05-01", "subject": "s", "digest": {"k": [1, 2]}},
    }  # fmt: skip


# ------------------------------------------------------------------- apprise


class FakeApprise:
    """Apprise's surface: add() a URL, notify() returns success."""

    def __init__(self, ok: bool = True):
        self.ok = ok
        self.urls: list[str] = []
        self.sent: list[dict[str, object]] = []

    def add(self, url: str) -> bool:
        self.urls.append(url)
        return url.startswith("fake://")

    def notify(self, body: str, title: str = "", **kwargs: object) -> bool:
        self.sent.append({"title": title, "body": body, **kwargs})
        return self.ok


def test_apprise_not_installed_is_a_clear_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # what `import apprise` sees without the extra
    with pytest.raises(ConfigError, match=r"pip install 'monitor\[apprise\]'"):
        build_channel("chat", ChannelSettings(type="apprise", url="tgram://token/chat"))


def test_apprise_channel_sends_the_rendered_alert_and_fills_the_secret():
    fake = FakeApprise()
    channel = AppriseChannel("chat", "fake://{secret}/room", apprise_obj=fake, secret="tok123")
    channel.send_alert(make_alert(title="Homs \x1b[31mred\x1b[0m"))
    assert fake.urls == ["fake://tok123/room"]
    [sent] = fake.sent
    assert sent["title"] == "[monitor] Homs: Homs [31mred[0m"  # ESC removed: no terminal escapes
    assert "https://news.example/homs-shelling" in sent["body"]


@pytest.mark.parametrize(
    "fake, url, error",
    [
        (FakeApprise(), "nonsense://x", "Apprise does not accept this URL"),
        (FakeApprise(), "fake://{secret}/room", "no secret is set"),
    ],
)
def test_apprise_config_errors(fake, url, error):
    with pytest.raises(ConfigError, match=error):
        AppriseChannel("chat", url, apprise_obj=fake)


def test_apprise_failure_is_temporary():
    channel = AppriseChannel("chat", "fake://x", apprise_obj=FakeApprise(ok=False))
    err = failure(channel)  # type: ignore[arg-type]
    assert err.temporary and "apprise could not notify" in str(err)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # apprise imports imghdr
def test_real_apprise_posts_to_a_local_receiver():
    pytest.importorskip("apprise")
    with WebhookReceiver(secret=None) as plain:
        channel = build_channel("chat", ChannelSettings(type="apprise", url=f"json://127.0.0.1:{plain.port}/hook"))
        channel.send_alert(make_alert())
        [got] = plain.deliveries
        assert got.payload["title"] == "[monitor] Homs: Shelling reported near Homs"
        assert "Why it matched" in got.payload["message"]
