"""Email channel: multipart/alternative (text + HTML) over SMTP with smtplib.

Security ``none`` (port 25), ``starttls`` (587, RFC 3207) or ``tls`` (465,
implicit TLS, RFC 8314).  Certificates are verified with the system trust
store.  The password comes from the environment (``password_env``) and is
only held as a SecretStr.

Header injection.  Python 3.11's email serialisation (before 3.11.10,
CVE-2024-6923) decodes an RFC 2047 encoded word inside a header value and
writes a newline in it out raw: a feed title
``=?utf-8?q?x=0ABcc=3A_a@evil?=`` became a real ``Bcc:`` line.  So every
header value is built by :func:`header_value`: control characters and line
separators go, and the encoded-word opener ``=?`` is broken with an
invisible WORD JOINER so the parser never decodes feed text.  The policy is
``email.policy.SMTP`` (CRLF, strict, and with ``verify_generated_headers``
where Python has it), and before anything is sent the serialised header
block is parsed back and must hold exactly the headers we set.

SMTP failures are classified (RFC 5321 section 4.2.1): no connection,
timeouts, a dropped connection and 4yz replies are temporary; 5yz replies
are permanent; an authentication failure is permanent and says which
setting to check.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from pathlib import Path

from pydantic import SecretStr

from ..config import ChannelSettings
from ..errors import ConfigError, DeliveryError
from ..records import AlertPayload, DigestMessage
from .payload import one_line, render_alert

log = logging.getLogger(__name__)

#: RFC 6409 (submission, 587), RFC 8314 (implicit TLS, 465), RFC 5321 (relay, 25)
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}

_WORD_JOINER = "\u2060"


def _policy(utf8: bool) -> email_policy.EmailPolicy:
    pol = email_policy.SMTP.clone(raise_on_defect=True, utf8=utf8)
    if hasattr(pol, "verify_generated_headers"):  # Python >= 3.11.10 / 3.12.5
        pol = pol.clone(verify_generated_headers=True)
    return pol


def header_value(text: str | None, max_len: int = 300) -> str:
    """A string that is safe as a header value whatever the feed put in it:
    one line, no control characters, and no RFC 2047 encoded word for the
    header parser to decode into a newline (see the module docstring)."""
    return one_line(text, max_len).replace("=?", "=" + _WORD_JOINER + "?")


# RFC 5322 section 3.2.3 atext: what a msg-id's left part may hold without quoting
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]")


def message_id(key: str) -> str:
    """``<key@monitor>``, stable for one alert across retries, so a mail
    system or a person can spot a resend.  Characters a msg-id cannot carry
    are written as ``=XX`` (hex), which keeps distinct keys distinct."""
    left = _NOT_ATEXT.sub(lambda m: "".join(f"={b:02X}" for b in m.group().encode()), key.replace("=", "=3D"))
    left = re.sub(r"\.{2,}", lambda m: "=2E" * len(m.group()), left).strip(".") or "empty"
    return f"<{left}@monitor>"


def _list_label(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-").lower() or "channel"


class EmailChannel:
    """Sends each alert as one message to every address in ``to``.

    One SMTP connection per message: alerts are a few an hour, and a fresh
    connection never trips over a server's idle timeout.
    """

    def __init__(
        self,
        name: str,
        *,
        host: str,
        sender: str,
        to: Sequence[str],
        port: int | None = None,
        security: str = "starttls",
        username: str | None = None,
        password: SecretStr | str | None = None,
        password_env: str | None = None,
        timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if security not in DEFAULT_PORTS:
            raise ConfigError(f"config: channels.{name}.security: expected none, starttls or tls, got {security!r}")
        if not to:
            raise ConfigError(f"config: channels.{name}.to: an email channel needs at least one recipient")
        self.name = name
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self.sender = sender
        self.to = tuple(to)
        self.username = username
        self._password = password if isinstance(password, SecretStr) or password is None else SecretStr(password)
        self._password_env = password_env
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._clock = clock
        if username and self._password is None:
            where = f"the environment variable {password_env}" if password_env else "password_env"
            raise ConfigError(f"config: channels.{name}: username {username!r} is set but no password: set {where}")
        addresses = (sender, *self.to)
        self._utf8 = any(not a.isascii() for a in addresses)  # RFC 6531 SMTPUTF8
        for a in addresses:
            if one_line(a, 998) != a or "," in a or "<" in a:
                raise ConfigError(f"config: channels.{name}: {a!r} is not a plain email address (user@example.org)")

    @classmethod
    def from_settings(
        cls, name: str, settings: ChannelSettings, *, guard: object = None, root: Path | None = None
    ) -> "EmailChannel":
        if not settings.host or not settings.sender or not settings.to:
            raise ConfigError(f"config: channels.{name}: an email channel needs host, sender and to")
        return cls(
            name,
            host=settings.host,
            port=settings.port,
            security=settings.security,
            sender=settings.sender,
            to=settings.to,
            username=settings.username,
            password=settings.password,
            password_env=settings.password_env,
            timeout=settings.timeout.total_seconds(),
        )

    # ----------------------------------------------------------- messages

    def _base_message(self, subject: str, *, msg_id: str, date: datetime, list_kind: str) -> EmailMessage:
        msg = EmailMessage(policy=_policy(self._utf8))
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to)
        msg["Subject"] = header_value(subject, 200)
        msg["Date"] = format_datetime(date if date.tzinfo else date.replace(tzinfo=timezone.utc))
        msg["Message-ID"] = msg_id
        # RFC 2919: lets people filter; "localhost" is the namespace the RFC
        # reserves for lists without a registered domain.
        msg["List-Id"] = f"monitor {list_kind} <{list_kind}.{_list_label(self.name)}.localhost>"
        # RFC 3834: no vacation auto-replies to machine mail; Exchange reads its own header.
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        return msg

    def build_alert_message(self, payload: AlertPayload) -> EmailMessage:
        rendered = render_alert(payload)
        msg = self._base_message(
            rendered.subject, msg_id=message_id(payload.id), date=payload.created_at, list_kind="alerts"
        )
        # every alert of one story threads together in a mail client
        msg["References"] = message_id(f"story-{payload.story_id}")
        msg["X-Monitor-Alert-Id"] = header_value(payload.id, 200)
        msg["X-Monitor-Watch"] = header_value(payload.watch, 200)
        msg.set_content(rendered.text, subtype="plain", charset="utf-8")
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
        return msg

    def build_digest_message(self, digest: DigestMessage) -> EmailMessage:
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        msg = self._base_message(digest.subject, msg_id=message_id(digest.id), date=now, list_kind="digest")
        msg.set_content(digest.text, subtype="plain", charset="utf-8")
        if digest.html:
            msg.add_alternative(digest.html, subtype="html", charset="utf-8")
        return msg

    # ------------------------------------------------------------ sending

    def _serialise(self, msg: EmailMessage) -> bytes:
        try:
            data = msg.as_bytes()
        except Exception as e:  # HeaderWriteError, defects under raise_on_defect
            raise DeliveryError(self.name, f"refusing to send: the message does not serialise cleanly: {e}", temporary=False) from e
        check_headers(data, list(msg.keys()), channel=self.name)
        return data

    def _connect(self) -> smtplib.SMTP:
        context = self._ssl_context or ssl.create_default_context()
        if self.security == "tls":
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if self.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        self.name,
                        f"{self.host}:{self.port} does not offer STARTTLS; use security = \"tls\" with port 465, "
                        "or \"none\" only on a trusted network",
                        temporary=False,
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send(self, msg: EmailMessage) -> None:
        data = self._serialise(msg)
        mail_options = ["SMTPUTF8"] if self._utf8 else []
        started = time.monotonic()
        try:
            smtp = self._connect()
            try:
                if self.username:
                    assert self._password is not None
                    smtp.login(self.username, self._password.get_secret_value())
                refused = smtp.sendmail(self.sender, list(self.to), data, mail_options=mail_options)
            finally:
                try:
                    smtp.quit()
                except (smtplib.SMTPException, OSError):
                    smtp.close()  # the message was already accepted (or not): QUIT does not change that
        except DeliveryError:
            raise
        except (smtplib.SMTPException, OSError) as e:
            raise self.classify(e) from e
        if refused:
            # Some recipients took it; resending would duplicate it for them.
            log.warning(
                "deliver: %s: %s refused recipients %s; the others received it",
                self.name, self.host, ", ".join(f"{r} ({c})" for r, (c, _m) in refused.items()),
            )
        log.debug("deliver: %s: sent %s in %.3fs", self.name, msg["Message-ID"], time.monotonic() - started)

    def classify(self, exc: BaseException) -> DeliveryError:
        """The DeliveryError for an smtplib or socket failure."""
        where = f"{self.host}:{self.port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            temporary = 400 <= exc.smtp_code < 500  # 454: temporary authentication failure (RFC 4954)
            secret = f"the password in ${self._password_env}" if self._password_env else "the password"
            return DeliveryError(
                self.name,
                f"SMTP authentication as {self.username!r} failed on {where}: {exc.smtp_code} "
                f"{_reply_text(exc.smtp_error)}; check the username and {secret}",
                temporary=temporary,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return DeliveryError(self.name, f"{where} does not support a command monitor needs: {exc}", temporary=False)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _m in exc.recipients.values()]
            detail = "; ".join(f"{r}: {c} {_reply_text(m)}" for r, (c, m) in exc.recipients.items())
            temporary = any(not 500 <= c < 600 for c in codes)
            return DeliveryError(self.name, f"{where} refused every recipient: {detail}", temporary=temporary)
        if isinstance(exc, smtplib.SMTPResponseException):
            # SenderRefused, DataError, ConnectError, HeloError: the reply code decides
            code = exc.smtp_code
            temporary = not 500 <= code < 600  # 4yz, and -1 for a reply that never came
            return DeliveryError(self.name, f"{where} answered {code} {_reply_text(exc.smtp_error)}", temporary=temporary)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            if isinstance(exc.__context__, (TimeoutError, socket.timeout)):  # smtplib wraps a read timeout
                return DeliveryError(self.name, f"{where} did not answer within {self.timeout:g}s", temporary=True)
            return DeliveryError(self.name, f"{where} closed the connection: {exc}", temporary=True)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DeliveryError(
                self.name, f"the TLS certificate of {where} could not be verified: {exc.verify_message}", temporary=False
            )
        if isinstance(exc, ssl.SSLError):
            return DeliveryError(
                self.name,
                f"TLS with {where} failed ({exc.reason or exc}); check that security = \"{self.security}\" "
                f"matches the port (465 is tls, 587 is starttls)",
                temporary=False,
            )
        if isinstance(exc, (TimeoutError, socket.timeout)):
            return DeliveryError(self.name, f"{where} did not answer within {self.timeout:g}s", temporary=True)
        if isinstance(exc, ConnectionRefusedError):
            return DeliveryError(self.name, f"{where} refused the connection (is the SMTP server running?)", temporary=True)
        if isinstance(exc, socket.gaierror):
            return DeliveryError(self.name, f"cannot resolve {self.host}: {exc}", temporary=True)
        return DeliveryError(self.name, f"{where}: {type(exc).__name__}: {exc}", temporary=True)

    def send_alert(self, payload: AlertPayload) -> None:
        self._send(self.build_alert_message(payload))

    def send_digest(self, digest_message: DigestMessage) -> None:
        self._send(self.build_digest_message(digest_message))

    def close(self) -> None:
        pass


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return one_line(text, 200)


_HEADER_NAME = re.compile(rb"^([!-9;-~]+):", re.MULTILINE)


def check_headers(data: bytes, expected: list[str], *, channel: str) -> None:
    """Raise a permanent DeliveryError unless the serialised header block of
    ``data`` holds exactly the ``expected`` top-level headers, each once as
    set, and no bare CR or LF.  The last line of defence against header
    injection: whatever a library bug lets through, it is not sent."""
    head, sep, _body = data.partition(b"\r\n\r\n")
    if not sep:
        raise DeliveryError(channel, "refusing to send: the message has no header/body separator", temporary=False)
    if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
        raise DeliveryError(channel, "refusing to send: a header holds a bare CR or LF", temporary=False)
    parsed = BytesHeaderParser(policy=email_policy.compat32).parsebytes(head + b"\r\n\r\n")
    found = sorted(k.lower() for k in parsed.keys())
    want = sorted(k.lower() for k in expected)
    if found != want:
        extra = sorted(set(found) - set(want)) or found
        raise DeliveryError(
            channel,
            f"refusing to send: the serialised headers {extra} differ from those set (header injection?)",
            temporary=False,
        )
