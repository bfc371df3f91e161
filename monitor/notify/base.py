"""The contract every delivery channel keeps.

A channel sends one alert or one digest, or raises
:class:`monitor.errors.DeliveryError`.  It never returns False: the outbox
(``monitor.deliver``) decides from the error alone what happens next:

* ``temporary=True``: keep the alert, retry with backoff; ``retry_after`` is
  the receiver's own hint and should be honoured as a minimum.
* ``temporary=False``: stop retrying this alert and report it.
* ``disable_channel=True``: the receiver said it will never accept again
  (HTTP 410); stop using the channel until the configuration changes.

Every alert carries a stable ``id`` that channels pass on as the receiver's
idempotency key (webhook-id header, Message-ID, the ``id`` field), so a
resend after a crash between send and record is detectable.

Channels are used from one thread at a time; ``close()`` releases pooled
connections and is safe to call twice.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..records import AlertPayload, DigestMessage


@runtime_checkable
class Channel(Protocol):
    #: the channel's name in the configuration ("ops-mail"), used in errors and logs
    name: str

    def send_alert(self, payload: AlertPayload) -> None:
        """Deliver one alert or raise DeliveryError."""
        ...

    def send_digest(self, digest_message: DigestMessage) -> None:
        """Deliver one rendered digest or raise DeliveryError."""
        ...

    def close(self) -> None:
        """Release connections; the channel may not be used afterwards."""
        ...
