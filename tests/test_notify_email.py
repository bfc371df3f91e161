"""Email channel against a real SMTP server (aiosmtpd on 127.0.0.1).

Headers, both parts, a stable Message-ID, header injection from hostile feed
titles, SMTP replies and outages classified, STARTTLS / TLS / AUTH, and
hostile content that stays inert in the HTML part.
"""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta, timezone

import lxml.html
import pytest

from tests.support import payloads
from pydantic import SecretStr

from monitor.config import ChannelSettings
from monitor.errors import ConfigError, DeliveryError
from monitor.notify import build_channel
from monitor.notify.email import EmailChannel, check_headers, header_value, message_id
from monitor.notify.payload import HTML_STYLE_PROPERTIES, render_alert
from monitor.records import AlertPayload, DigestMessage, Match, SourceLink
from tests.support.smtpserver import SMTPServer, silent_server, tls_contexts, unused_port

# aiosmtpd's own AUTH code touches its deprecated Session.login_data
pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
SENDER = "monitor@example.org"
TO = ("desk@example.org", "editor@example.org")

ALERT_HEADERS = {
    "from", "to", "subject", "date", "message-id", "list-id", "auto-submitted", "x-auto-response-suppress",
    "references", "x-monitor-alert-id", "x-monitor-watch", "mime-version", "content-type",
}  # fmt: skip


def make_alert(**overrides: object) -> AlertPayload:
    return payloads.make_alert(**overrides)


@pytest.fixture
def smtp():
    with SMTPServer() as server:
        yield server


def plain_channel(server: SMTPServer | None = None, *, port: int | None = None, timeout: float = 5.0) -> EmailChannel:
    return EmailChannel(
        "desk-mail",
        host="127.0.0.1",
        port=port or (server.port if server else None),
        security="none",
        sender=SENDER,
        to=TO,
        timeout=timeout,
    )


def failure(channel: EmailChannel, alert: AlertPayload | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        channel.send_alert(alert or make_alert())
    return info.value


def header_lines(block: bytes) -> list[str]:
    """Names of the header lines of a raw header block (continuations skipped)."""
    return [line.split(b":", 1)[0].decode().lower() for line in block.split(b"\r\n") if line and line[:1] not in b" \t"]


# ------------------------------------------------------------------ delivery


def test_alert_is_delivered_with_headers_and_both_parts(smtp):
    plain_channel(smtp).send_alert(make_alert())

    [mail] = smtp.messages
    assert mail.mail_from == SENDER and mail.rcpt_tos == TO
    msg = mail.message
    assert msg["Subject"] == "[monitor] Homs: Shelling reported near Homs"
    assert msg["From"] == SENDER and msg["To"] == ", ".join(TO)
    assert msg["Message-ID"] == "<alert-7-homs-1@monitor>"
    assert msg["References"] == "<story-7@monitor>"
    assert msg["List-Id"] == "monitor alerts <alerts.desk-mail.localhost>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime == make_alert().created_at
    assert set(header_lines(mail.header_block)) == ALERT_HEADERS

    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Shelling reported near Homs" in part
        assert "https://news.example/homs-shelling" in part
        assert "Hims" in part and "gazetteer" in part  # why it matched
        assert "Reuters" in part and "AFP" in part
    assert 'style="' in html  # inline CSS: mail clients drop <style>
    assert "<style" not in html


def test_message_id_is_stable_across_retries(smtp):
    channel = plain_channel(smtp)
    channel.send_alert(make_alert())
    channel.send_alert(make_alert())
    first, second = (m.message for m in smtp.messages)
    assert first["Message-ID"] == second["Message-ID"] == "<alert-7-homs-1@monitor>"


def test_update_alert_subject_says_so(smtp):
    plain_channel(smtp).send_alert(make_alert(kind="update", id="alert-7-homs-2", source_count=5))
    assert smtp.messages[0].message["Subject"] == "[monitor] Homs (update, 5 sources): Shelling reported near Homs"


def test_digest_is_delivered_with_its_own_message_id(smtp):
    digest = DigestMessage("daily", "2024-05-01", "Daily digest, 1 May", "Top stories\n- one", "<p>Top stories</p>", {})
    plain_channel(smtp).send_digest(digest)
    msg = smtp.messages[0].message
    assert msg["Message-ID"] == "<digest-daily-2024-05-01@monitor>"
    assert msg["List-Id"] == "monitor digest <digest.desk-mail.localhost>"
    assert msg.get_body(("plain",)).get_content().startswith("Top stories")
    assert msg.get_body(("html",)).get_content().strip() == "<p>Top stories</p>"


def test_build_channel_reads_settings_and_the_password_from_the_environment(tmp_path, monkeypatch):
    pytest.importorskip("cryptography")
    server_ctx, _client_ctx = tls_contexts(tmp_path)
    # how an operator trusts a private CA: OpenSSL's SSL_CERT_FILE
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    with SMTPServer(starttls=server_ctx, users={"monitor": "s3cret"}) as server:
        settings = ChannelSettings(
            type="email", host="127.0.0.1", port=server.port, security="starttls", sender=SENDER, to=TO,
            username="monitor", password_env="SMTP_PASSWORD", password=SecretStr("s3cret"),
        )  # fmt: skip
        channel = build_channel("desk-mail", settings)
        assert isinstance(channel, EmailChannel)
        assert "s3cret" not in repr(vars(channel))  # held as a SecretStr
        channel.send_alert(make_alert())
        [mail] = server.messages
        assert mail.peer_tls and mail.auth_login == "monitor"


# ----------------------------------------------------------- header injection

HOSTILE_TITLES = [
    pytest.param("Homs\r\nBcc: victim@evil.example", id="CRLF"),
    pytest.param("Homs\nBcc: victim@evil.example\n\nbody", id="LF and a blank line"),
    # the Python 3.11 bug (CVE-2024-6923): an encoded word whose decoded text
    # holds a newline was written out raw and became a real header
    pytest.param("Homs =?utf-8?q?x=0D=0ABcc=3A_victim@evil.example?=", id="encoded-word q"),
    pytest.param("=?utf-8?b?" + base64.b64encode(b"\r\nBcc: victim@evil.example").decode() + "?=", id="encoded-word b"),
    pytest.param("\u1e24im\u1e63 =?utf-8?q?=0ABcc:_victim@evil.example?= \u062d\u0645\u0635", id="encoded-word + non-ASCII"),
    pytest.param("Homs\u2028Bcc: victim@evil.example\x85Cc: other@evil.example", id="Unicode line separators"),
    pytest.param("Homs\x00\x0b\x0c\x1b[31m\rBcc: victim@evil.example", id="C0 controls"),
    pytest.param("x" * 990 + "\r\nBcc: victim@evil.example", id="at the folding limit"),
    pytest.param("Homs \ud800 lone surrogate\r\nBcc: victim@evil.example", id="lone surrogate"),
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_hostile_title_cannot_add_a_header_or_a_recipient(smtp, title):
    plain_channel(smtp).send_alert(make_alert(title=title, watch="Homs\r\nX-Injected: 1"))

    [mail] = smtp.messages
    assert mail.rcpt_tos == TO
    assert set(header_lines(mail.header_block)) == ALERT_HEADERS
    assert b"\nbcc:" not in mail.header_block.lower() and b"\nx-injected" not in mail.header_block.lower()
    msg = mail.message
    assert msg["Bcc"] is None and msg["Cc"] is None and msg["X-Injected"] is None
    subject = str(msg["Subject"])
    assert "\r" not in subject and "\n" not in subject and "\x1b" not in subject
    assert subject.startswith("[monitor] Homs X-Injected: 1: ")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("plain title", "plain title"),
        ("a\r\nb", "a b"),
        ("a\tb\x00c\x7fd", "a bcd"),
        ("=?utf-8?q?x?=", "=\u2060?utf-8?q?x?="),  # the encoded-word opener is broken
        ("x" * 500, "x" * 299 + "\u2026"),
        ("\u202eevil\u202c", "evil"),  # bidi override
    ],
)
def test_header_value(raw, expected):
    assert header_value(raw) == expected


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"Subject: a\r\nTo: b\r\n\r\nbody", None),
        (b"Subject: a\r\n folded\r\nTo: b\r\n\r\nbody", None),
        (b"Subject: a\r\nBcc: x@evil\r\nTo: b\r\n\r\nbody", "differ from those set"),
        (b"Subject: a\nBcc: x@evil\r\nTo: b\r\n\r\nbody", "bare CR or LF"),
        (b"Subject: a\rTo: b\r\n\r\nbody", "bare CR or LF"),
        (b"Subject: a\r\nTo: b\r\n", "no header/body separator"),
    ],
)
def test_the_serialised_header_block_is_checked_before_sending(data, problem):
    if problem is None:
        check_headers(data, ["Subject", "To"], channel="m")
        return
    with pytest.raises(DeliveryError, match=problem) as info:
        check_headers(data, ["Subject", "To"], channel="m")
    assert not info.value.temporary


@pytest.mark.parametrize(
    "key, expected",
    [
        ("alert-7-homs-1", "<alert-7-homs-1@monitor>"),
        ("7:homs:1", "<7=3Ahoms=3A1@monitor>"),
        ("a b", "<a=20b@monitor>"),
        ("a=3Ab", "<a=3D3Ab@monitor>"),  # distinct from "a:b"
        ("..x..y", "<=2E=2Ex=2E=2Ey@monitor>"),
        ("\u062d\u0645\u0635", "<=D8=AD=D9=85=D8=B5@monitor>"),
        ("<x>\r\n", "<=3Cx=3E=0D=0A@monitor>"),
    ],
)
def test_message_id(key, expected):
    assert message_id(key) == expected


# --------------------------------------------------------------- HTML safety

HOSTILE = dict(
    title='<script>alert("t")</script><img src=x onerror=alert(1)> Homs',
    url="javascript:alert(document.cookie)",
    lead='<a href="javascript:alert(2)" onclick="steal()">click</a> <svg onload=alert(3)>',
    matches=(Match("Homs", "Homs", "text", '"><script>alert(4)</script><b onmouseover=x>Homs', 0, 4),),
    sources=(
        SourceLink("<i onmouseover=alert(5)>Evil</i>", "</a><a href=javascript:alert(6)>x", "data:text/html,<script>", T0),
        SourceLink("Good", 'A "quoted" & <b>bold</b> title', "https://good.example/a?x=1&y=2", T0),
    ),
)


def test_hostile_content_is_inert_in_the_html_part(smtp):
    plain_channel(smtp).send_alert(make_alert(**HOSTILE))
    html = smtp.messages[0].message.get_body(("html",)).get_content()
    doc = lxml.html.document_fromstring(html)

    assert doc.xpath("//script | //img | //svg | //iframe | //object | //style") == []
    for el in doc.iter():
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            if name in ("href", "src"):
                assert value.startswith(("http://", "https://")), value
            if name == "style":
                props = {decl.split(":", 1)[0].strip() for decl in value.split(";") if decl.strip()}
                assert props <= HTML_STYLE_PROPERTIES
    assert [a.get("href") for a in doc.iter("a")] == ["https://good.example/a?x=1&y=2"]
    assert all(a.get("rel") == "noopener noreferrer" for a in doc.iter("a"))
    # the hostile text is still shown, as text: the reader sees what the feed said
    body_text = doc.text_content()
    assert '<script>alert("t")</script>' in body_text
    assert 'A "quoted" & <b>bold</b> title' in body_text


def test_hostile_content_in_the_text_part_has_no_control_characters():
    rendered = render_alert(make_alert(title="a\x1b[2Jb\x07", lead="line1\r\nline2\x1b]0;pwned\x07", **{}))
    assert "\x1b" not in rendered.text and "\x07" not in rendered.text and "\r" not in rendered.text
    assert "line1\nline2" in rendered.text


# -------------------------------------------------------------- SMTP faults

SMTP_REPLIES = [
    pytest.param("MAIL", "421 4.3.2 Service shutting down", True, id="421 at MAIL"),
    pytest.param("RCPT", "451 4.3.0 Try again later", True, id="451 at RCPT"),
    pytest.param("DATA", "451 4.7.1 Greylisted", True, id="451 at DATA"),
    pytest.param("RCPT", "452 4.2.2 Mailbox full", True, id="452 at RCPT"),
    pytest.param("MAIL", "550 5.7.1 Sender rejected", False, id="550 at MAIL"),
    pytest.param("RCPT", "550 5.1.1 No such user", False, id="550 at RCPT"),
    pytest.param("DATA", "554 5.7.1 Message rejected as spam", False, id="554 at DATA"),
]


@pytest.mark.parametrize("verb, reply, temporary", SMTP_REPLIES)
def test_smtp_replies_are_classified(smtp, verb, reply, temporary):
    smtp.reply(verb, reply)
    err = failure(plain_channel(smtp))
    assert err.temporary is temporary
    assert reply.split(" ", 1)[1] in str(err)  # the server's words reach the report
    assert str(err).startswith("deliver: desk-mail: ")
    assert smtp.messages == []


def test_delivered_once_the_server_recovers(smtp):
    channel = plain_channel(smtp)
    smtp.reply("RCPT", "451 4.3.0 Try again later")
    assert failure(channel).temporary
    smtp.reply("RCPT", None)
    channel.send_alert(make_alert())
    assert len(smtp.messages) == 1


def test_server_down_is_temporary():
    err = failure(plain_channel(port=unused_port()))
    assert err.temporary and "refused the connection" in str(err)


def test_a_server_that_never_answers_times_out_as_temporary():
    with silent_server() as port:
        started = time.monotonic()
        err = failure(plain_channel(port=port, timeout=0.3))
    assert err.temporary and "did not answer within 0.3s" in str(err)
    assert time.monotonic() - started < 2


# --------------------------------------------------------------- TLS and AUTH


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    pytest.importorskip("cryptography")
    return tls_contexts(tmp_path_factory.mktemp("tls"))


def tls_channel(server: SMTPServer, client_ctx, security: str, **kwargs: object) -> EmailChannel:
    options: dict[str, object] = {"timeout": 5, **kwargs}
    return EmailChannel(
        "desk-mail", host="127.0.0.1", port=server.port, security=security, sender=SENDER, to=TO,
        ssl_context=client_ctx, **options,  # type: ignore[arg-type]
    )  # fmt: skip


def test_starttls_with_auth(tls):
    server_ctx, client_ctx = tls
    with SMTPServer(starttls=server_ctx, users={"monitor": "s3cret"}) as server:
        tls_channel(server, client_ctx, "starttls", username="monitor", password=SecretStr("s3cret")).send_alert(make_alert())
        [mail] = server.messages
        assert mail.peer_tls and mail.auth_login == "monitor"


def test_implicit_tls(tls):
    server_ctx, client_ctx = tls
    with SMTPServer(tls=server_ctx) as server:
        tls_channel(server, client_ctx, "tls").send_alert(make_alert())
        assert server.messages[0].peer_tls


def test_authentication_failure_is_permanent_and_says_what_to_check(tls):
    server_ctx, client_ctx = tls
    with SMTPServer(starttls=server_ctx, users={"monitor": "s3cret"}) as server:
        channel = tls_channel(server, client_ctx, "starttls", username="monitor", password="wrong", password_env="SMTP_PASSWORD")
        err = failure(channel)
        assert not err.temporary
        assert "authentication as 'monitor' failed" in str(err) and "$SMTP_PASSWORD" in str(err)
        assert "wrong" not in str(err)
        assert server.messages == []


@pytest.mark.parametrize(
    "server_kind, security, trust, says",
    [
        ("plain", "starttls", True, "does not offer STARTTLS"),
        ("tls", "tls", False, "could not be verified"),
        ("plain", "tls", True, "TLS with"),
    ],
)
def test_tls_problems_are_permanent(tls, server_kind, security, trust, says):
    server_ctx, client_ctx = tls
    server = SMTPServer(tls=server_ctx) if server_kind == "tls" else SMTPServer()
    with server:
        channel = tls_channel(server, client_ctx if trust else None, security, timeout=2)
        err = failure(channel)
        assert not err.temporary and says in str(err)
        assert server.messages == []


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(security="ssl"), "expected none, starttls or tls"),
        (dict(to=()), "at least one recipient"),
        (dict(username="u", password_env="SMTP_PW"), "SMTP_PW"),
        (dict(to=("a@example.org\r\nBcc: b@evil",)), "not a plain email address"),
        (dict(to=("Name <a@example.org>, b@evil",)), "not a plain email address"),
    ],
)
def test_configuration_errors(kwargs, error):
    base: dict[str, object] = dict(host="127.0.0.1", sender=SENDER, to=TO)
    with pytest.raises(ConfigError, match=error):
        EmailChannel("desk-mail", **{**base, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize("security, port", [("none", 25), ("starttls", 587), ("tls", 465)])
def test_default_ports(security, port):
    assert EmailChannel("m", host="mail.example", sender=SENDER, to=TO, security=security).port == port
