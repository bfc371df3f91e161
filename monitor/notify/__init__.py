"""Delivery channels: one module per channel type and a registry.

``build_channel(name, settings)`` turns a ``[channels.NAME]`` table into a
:class:`~monitor.notify.base.Channel`; the outbox (``monitor.deliver``) calls
``send_alert`` / ``send_digest`` and reads the :class:`DeliveryError` it may
raise.  Adding a channel type is one module and one line in
:data:`CHANNEL_TYPES`.

=========  ===========================================  ====================
type       module                                       idempotency key
=========  ===========================================  ====================
console    :mod:`monitor.notify.console` (stdout)       ``id`` line
file       :mod:`monitor.notify.file` (JSON lines)      ``id`` field
email      :mod:`monitor.notify.email` (SMTP)           Message-ID
webhook    :mod:`monitor.notify.webhook` (signed POST)  webhook-id header
apprise    :mod:`monitor.notify.apprise` (optional)     none (chat services)
=========  ===========================================  ====================
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ChannelSettings
from ..errors import ConfigError
from .apprise import AppriseChannel
from .base import Channel
from .console import ConsoleChannel
from .email import EmailChannel
from .file import FileChannel
from .webhook import WebhookChannel

if TYPE_CHECKING:
    from ..netguard import NetGuard

#: channel type (``type = "..."`` in the config) -> class with ``from_settings``
CHANNEL_TYPES: dict[str, Any] = {
    "console": ConsoleChannel,
    "file": FileChannel,
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "apprise": AppriseChannel,
}


def build_channel(
    name: str, settings: ChannelSettings | None, *, guard: "NetGuard | None" = None, root: Path | None = None
) -> Channel:
    """The channel a ``[channels.NAME]`` table describes.

    ``settings=None`` gives the built-in console channel (the config needs
    no table for it).  ``guard`` is the SSRF guard webhooks connect through
    (a default one that blocks private addresses when None); ``root``
    resolves a file channel's relative path (the project root).  Raises
    :class:`~monitor.errors.ConfigError` for a setting that cannot work.
    """
    if settings is None:
        if name != "console":
            raise ConfigError(f"config: channels.{name}: no settings given for this channel")
        return ConsoleChannel(name)
    try:
        cls = CHANNEL_TYPES[settings.type]
    except KeyError:
        known = ", ".join(sorted(CHANNEL_TYPES))
        raise ConfigError(f"config: channels.{name}.type: unknown channel type {settings.type!r} (known: {known})") from None
    return cls.from_settings(name, settings, guard=guard, root=root)


__all__ = [
    "CHANNEL_TYPES",
    "AppriseChannel",
    "Channel",
    "ConsoleChannel",
    "EmailChannel",
    "FileChannel",
    "WebhookChannel",
    "build_channel",
]
