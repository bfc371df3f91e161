"""Apprise channel: Slack, Telegram, Matrix, Discord, ntfy and ~100 other
services through one Apprise URL (https://github.com/caronc/apprise/wiki).

Optional: ``pip install 'monitor[apprise]'``.  The library is imported when
the channel is built, so monitor runs without it and a configured apprise
channel fails at start-up with an error that says what to install.

Service URLs usually embed a token (``tgram://BOT_TOKEN/CHAT_ID``).  Keep it
out of the file: write ``{secret}`` where the token goes and name the
environment variable that holds it with ``secret_env``.

Apprise makes its own connections, so monitor's SSRF guard does not apply:
the URL comes from the operator's config, never from a feed.  Apprise reports
failure as a bare False without a reason it exposes, so a failure is
temporary (retried with backoff, then reported) and the details are in
Apprise's own log lines.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from ..config import ChannelSettings
from ..errors import ConfigError, DeliveryError
from ..records import AlertPayload, DigestMessage
from .payload import clean_text, one_line, render_alert

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'monitor[apprise]'"


class AppriseLike(Protocol):
    """The part of :class:`apprise.Apprise` the channel uses."""

    def add(self, servers: Any) -> bool: ...

    def notify(self, body: str, title: str = "", **kwargs: Any) -> Any: ...


def load_apprise() -> Any:
    """The apprise module, or a ConfigError saying how to install it."""
    try:
        import apprise
    except ImportError as e:
        raise ConfigError(
            f"config: an apprise channel needs the optional Apprise library, which is not installed: {INSTALL_HINT}"
        ) from e
    return apprise


class AppriseChannel:
    def __init__(self, name: str, url: str, *, apprise_obj: AppriseLike | None = None, secret: str | None = None):
        self.name = name
        if "{secret}" in url:
            if not secret:
                raise ConfigError(
                    f"config: channels.{name}.url: holds {{secret}} but no secret is set; name its environment "
                    "variable with secret_env"
                )
            url = url.replace("{secret}", secret)
        self._text_format: Any = "text"
        if apprise_obj is None:
            module = load_apprise()
            apprise_obj = module.Apprise()
            self._text_format = module.NotifyFormat.TEXT
        if not apprise_obj.add(url):
            scheme = url.split("://", 1)[0] if "://" in url else "(none)"
            raise ConfigError(
                f"config: channels.{name}.url: Apprise does not accept this URL (scheme {scheme!r}); "
                "see the Apprise wiki for the service's URL format"
            )
        self._apprise = apprise_obj

    @classmethod
    def from_settings(
        cls, name: str, settings: ChannelSettings, *, guard: object = None, root: Path | None = None
    ) -> "AppriseChannel":
        if not settings.url:
            raise ConfigError(f"config: channels.{name}.url: an apprise channel needs an Apprise URL")
        secret = settings.secret.get_secret_value() if settings.secret else None
        return cls(name, settings.url, secret=secret)

    def _notify(self, title: str, body: str) -> None:
        try:
            ok = self._apprise.notify(body=body, title=title, body_format=self._text_format)
        except Exception as e:  # a plugin bug must not take the outbox down
            raise DeliveryError(self.name, f"apprise raised {type(e).__name__}: {e}", temporary=True) from e
        if not ok:
            raise DeliveryError(
                self.name,
                "apprise could not notify the configured service (its log lines above say why); will retry",
                temporary=True,
            )

    def send_alert(self, payload: AlertPayload) -> None:
        rendered = render_alert(payload)
        self._notify(rendered.subject, rendered.text)

    def send_digest(self, digest_message: DigestMessage) -> None:
        self._notify(one_line(digest_message.subject, 200), clean_text(digest_message.text))

    def close(self) -> None:
        pass
