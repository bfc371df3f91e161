"""Webhook channel: a signed JSON POST per alert, per Standard Webhooks.

The body is :func:`monitor.notify.payload.alert_to_json` (schema in
docs/webhooks.md).  Headers, per the Standard Webhooks specification
(https://www.standardwebhooks.com/, "Signature scheme"):

* ``webhook-id``: the alert id, the same on every retry, so the receiver can
  drop a duplicate after monitor crashed between sending and recording;
* ``webhook-timestamp``: unix seconds of this attempt;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.

The secret comes from the environment.  ``whsec_<base64>`` secrets (the
spec's format) are base64-decoded to the key; any other string is used as
its UTF-8 bytes, so a receiver that was given a raw secret works too.

Responses (healthchecks' transports.py draws the same lines):

=========================  ==========================================
2xx                        delivered
3xx                        permanent: redirects are not followed (a
                           redirect is how a receiver could point us
                           at an internal address)
408, 425, 429, 5xx         temporary, with Retry-After when given
410 Gone                   permanent, and the channel is disabled
any other 4xx              permanent
no connection, timeout     temporary
address refused by guard   permanent (SSRF guard, monitor.netguard)
=========================  ==========================================

Connections go through :func:`monitor.netguard.guarded_client` unless a client
is injected: every resolved address is checked at connect time, and the whole
exchange has a total deadline (httpx's own timeouts are per read).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from ..config import ChannelSettings
from ..errors import BlockedAddress, ConfigError, DeliveryError, MonitorError
from ..netguard import NetGuard, guarded_client, io_deadline, redact_url
from ..records import AlertPayload, DigestMessage
from .payload import alert_to_json, digest_to_json, encode_json, one_line

log = logging.getLogger(__name__)

USER_AGENT = "monitor/0.1 (webhook; +https://github.com/monitor-news/monitor)"

#: A receiver's Retry-After is honoured up to this; beyond, the outbox's own
#: backoff takes over (the same 24 h cap the fetcher puts on server hints,
#: PollSettings.max_hint).  Also keeps a hostile "Retry-After: 1e30" from
#: overflowing timedelta.
MAX_RETRY_AFTER = timedelta(hours=24)

#: Bytes of an error response kept for the message; the rest is never read.
ERROR_BODY_BYTES = 512

_TEMPORARY_4XX = frozenset({408, 425, 429})  # RFC 9110 15.5.9, RFC 8470, RFC 6585


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret: ``whsec_<base64>`` decoded, else the raw
    string's UTF-8 bytes.  ValueError when it is empty or not base64."""
    if secret.startswith("whsec_"):
        try:
            key = base64.b64decode(secret[len("whsec_"):], validate=True)
        except (binascii.Error, ValueError) as e:
            raise ValueError("the secret starts with whsec_ but the rest is not base64") from e
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ValueError("the secret is empty")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64(HMAC-SHA256)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """RFC 9110 section 10.2.3: delay-seconds or an HTTP-date; None when
    absent or unreadable; capped at :data:`MAX_RETRY_AFTER`, never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = int(value[:12])  # 12 digits already exceed the cap
        delay = timedelta(seconds=min(seconds, MAX_RETRY_AFTER.total_seconds()))
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


class WebhookChannel:
    """POSTs alerts and digests to ``url``.

    Give either ``client`` (used as is, not closed by the channel) or
    ``client_factory`` (called once, the client is owned and closed); with
    neither, a client guarded by ``guard`` (or a default NetGuard that blocks
    every private address) is made.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: SecretStr | str | None = None,
        timeout: float = 20.0,
        client: httpx.Client | None = None,
        client_factory: Callable[[], httpx.Client] | None = None,
        guard: NetGuard | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.name = name
        self.url = url
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        try:
            self._key: bytes | None = signing_key(raw) if raw is not None else None
        except ValueError as e:
            raise ConfigError(f"config: channels.{name}.secret_env: {e}; expected whsec_<base64> or a raw secret") from e
        self.timeout = timeout
        self._clock = clock
        self._client = client
        self._owns_client = client is None
        self._client_factory = client_factory
        self._guard = guard
        if client is None and client_factory is None:
            if self._guard is None:
                self._guard = NetGuard()
            try:
                # scheme and IP-literal checks now, so a bad URL fails at start-up;
                # names are checked at connect time, where rebinding cannot dodge it
                self._guard.check_url(url, resolve=False)
            except MonitorError as e:
                raise ConfigError(f"config: channels.{name}.url: {getattr(e, 'reason', e)}") from e
        if self._key is None:
            log.warning("deliver: %s: no secret configured; webhooks are sent unsigned", name)

    @classmethod
    def from_settings(
        cls, name: str, settings: ChannelSettings, *, guard: NetGuard | None = None, root: Path | None = None
    ) -> "WebhookChannel":
        if not settings.url:
            raise ConfigError(f"config: channels.{name}.url: a webhook channel needs a url")
        if settings.secret_env and settings.secret is None:
            raise ConfigError(
                f"config: channels.{name}.secret_env: the environment variable {settings.secret_env} is not set; "
                "it must hold the signing secret (whsec_<base64>)"
            )
        return cls(name, settings.url, secret=settings.secret, timeout=settings.timeout.total_seconds(), guard=guard)

    # ------------------------------------------------------------ client

    def _get_client(self) -> httpx.Client:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                assert self._guard is not None
                self._client = guarded_client(
                    self._guard,
                    timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                    follow_redirects=False,
                    headers={"user-agent": USER_AGENT},
                )
        return self._client

    # ----------------------------------------------------------- sending

    def headers_for(self, msg_id: str, body: bytes, timestamp: int) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
        }
        if self._key is not None:
            headers["webhook-signature"] = sign(self._key, msg_id, timestamp, body)
        return headers

    def post(self, msg_id: str, body: bytes) -> None:
        """POST one signed body; return on 2xx, else raise DeliveryError."""
        now = self._clock()
        headers = self.headers_for(msg_id, body, int(now))
        started = time.monotonic()
        try:
            # a total deadline for the guarded transport (no effect on an injected client)
            with io_deadline(time.monotonic() + self.timeout):
                with self._get_client().stream(
                    "POST", self.url, content=body, headers=headers, follow_redirects=False, timeout=self.timeout
                ) as response:
                    status = response.status_code
                    snippet = b""
                    if not 200 <= status < 300:
                        for chunk in response.iter_raw():
                            snippet += chunk
                            if len(snippet) >= ERROR_BODY_BYTES:
                                break
        except BlockedAddress as e:
            raise DeliveryError(self.name, f"{getattr(e, 'reason', e)}", temporary=False) from e
        except MonitorError as e:
            raise DeliveryError(self.name, str(e), temporary=e.temporary) from e
        except httpx.TimeoutException as e:
            raise DeliveryError(
                self.name, f"no answer from {self._shown_url()} within {self.timeout:g}s ({e or 'timeout'})", temporary=True
            ) from e
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            raise DeliveryError(self.name, f"cannot POST to {self._shown_url()}: {e}", temporary=False) from e
        except (httpx.TransportError, OSError) as e:
            raise DeliveryError(
                self.name, f"cannot reach {self._shown_url()}: {type(e).__name__}: {e}", temporary=True
            ) from e
        elapsed = time.monotonic() - started
        if 200 <= status < 300:
            log.debug("deliver: %s: %s accepted %s in %.3fs", self.name, status, msg_id, elapsed)
            return
        raise self.classify(status, response.headers, snippet, now=datetime.fromtimestamp(now, timezone.utc))

    def classify(self, status: int, headers: httpx.Headers, body: bytes, *, now: datetime) -> DeliveryError:
        """The DeliveryError for a non-2xx response."""
        said = one_line(body.decode("utf-8", "replace"), 200)
        said = f": {said}" if said else ""
        where = self._shown_url()
        if 300 <= status < 400:
            location = redact_url(one_line(headers.get("location"), 300)) if headers.get("location") else "(no Location)"
            return DeliveryError(
                self.name,
                f"{where} answered {status} to {location}; redirects are not followed: "
                "configure the final URL",
                temporary=False,
            )
        if status == 410:
            return DeliveryError(
                self.name,
                f"{where} answered 410 Gone{said}; the receiver will not accept again, the channel is disabled",
                temporary=False,
                disable_channel=True,
            )
        if status in _TEMPORARY_4XX or 500 <= status < 600:
            retry_after = parse_retry_after(headers.get("retry-after"), now)
            hint = f", retry after {int(retry_after.total_seconds())}s" if retry_after is not None else ""
            return DeliveryError(
                self.name, f"{where} answered {status}{said}{hint}", temporary=True, retry_after=retry_after
            )
        return DeliveryError(self.name, f"{where} answered {status}{said}", temporary=False)

    def _shown_url(self) -> str:
        return redact_url(self.url)

    def send_alert(self, payload: AlertPayload) -> None:
        self.post(payload.id, encode_json(alert_to_json(payload)))

    def send_digest(self, digest_message: DigestMessage) -> None:
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        self.post(digest_message.id, encode_json(digest_to_json(digest_message, now)))

    def close(self) -> None:
        if self._client is not None and self._owns_client:
            self._client.close()
            self._client = None
