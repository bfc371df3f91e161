"""The exception tree of monitor, drawn once.

::

    MonitorError
     ├── ConfigError                 bad configuration (file, key, what is expected)
     ├── FetchError                  a feed could not be fetched          (.url, .temporary)
     │    ├── FetchTimeout           total deadline or connect/read timeout  temporary
     │    ├── TooLarge               body over the cap after decompression  permanent-ish (temporary=False)
     │    ├── TooManyRedirects       redirect loop or over the hop limit     permanent
     │    ├── BlockedAddress         SSRF guard: private/loopback/... target permanent
     │    ├── FeedGone               404 / 410                               permanent
     │    ├── RateLimited            429 / 503 with Retry-After              temporary (.retry_after)
     │    └── HTTPStatusError        any other non-2xx status                5xx temporary, 4xx permanent
     ├── ParseError                  the body is not a feed we can read    (.url)
     ├── StorageError                the database refused                  (.temporary)
     │    ├── DaemonAlreadyRunning   second daemon on one SQLite file
     │    └── LeaseLost              a feed's lease passed to another worker
     └── DeliveryError               an alert or digest could not be sent  (.channel, .temporary)
          └── RateLimited...         (delivery reuses .retry_after on DeliveryError)

``NotModified`` is deliberately *not* an error: a 304 (or a body identical to the
last one) is a normal outcome, reported in :class:`monitor.records.Fetched`.

Every message starts with the component ("fetch: ...", "config: ...") and says
what is wrong, where, and how to fix it.  Causes are chained with ``from e``.
"""

from __future__ import annotations

from datetime import timedelta


class MonitorError(Exception):
    """Base class of every error monitor raises on purpose."""

    #: Whether retrying later may succeed.  Decided where the error is raised,
    #: so retry logic never has to guess from a message.
    temporary: bool = False


class ConfigError(MonitorError):
    """The configuration is invalid.  ``problems`` lists every problem found."""

    def __init__(self, message: str, *, path: str | None = None, problems: list[str] | None = None):
        self.path = path
        self.problems = problems or [message]
        super().__init__(message)


class FetchError(MonitorError):
    """A feed could not be fetched."""

    temporary = True

    def __init__(self, url: str, message: str, *, temporary: bool | None = None):
        self.url = url
        if temporary is not None:
            self.temporary = temporary
        super().__init__(f"fetch: {url}: {message}")


class FetchTimeout(FetchError):
    temporary = True


class TooLarge(FetchError):
    temporary = False


class TooManyRedirects(FetchError):
    temporary = False


class BlockedAddress(FetchError):
    """The URL or a redirect hop resolves to an address monitor must not reach."""

    temporary = False


class FeedGone(FetchError):
    """404 or 410: the feed is not there.  Permanent, but the feed is still
    re-checked on the longest backoff: feeds come back."""

    temporary = False

    def __init__(self, url: str, message: str, *, status: int):
        self.status = status
        super().__init__(url, message)


class RateLimited(FetchError):
    temporary = True

    def __init__(self, url: str, message: str, *, retry_after: timedelta | None = None):
        self.retry_after = retry_after
        super().__init__(url, message)


class HTTPStatusError(FetchError):
    def __init__(self, url: str, message: str, *, status: int):
        self.status = status
        super().__init__(url, message, temporary=status >= 500)


class ParseError(MonitorError):
    """The body is not a feed monitor can read."""

    temporary = False

    def __init__(self, url: str, message: str):
        self.url = url
        super().__init__(f"parse: {url}: {message}")


class StorageError(MonitorError):
    temporary = True


class DaemonAlreadyRunning(StorageError):
    temporary = False


class LeaseLost(StorageError):
    """A worker went to record a feed it no longer holds: its lease expired
    and another worker claimed the feed.  The transaction rolls back and the
    other worker's poll counts (several workers on PostgreSQL)."""

    temporary = True


class DeliveryError(MonitorError):
    """An alert or digest could not be delivered on a channel.

    ``temporary`` errors are retried with backoff stored in the outbox;
    permanent ones stop and are reported.  ``retry_after`` is the receiver's
    own hint (HTTP Retry-After, SMTP 4xx gives none).  ``disable_channel`` is
    set when the receiver says it will never accept again (HTTP 410).
    """

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        temporary: bool,
        retry_after: timedelta | None = None,
        disable_channel: bool = False,
    ):
        self.channel = channel
        self.temporary = temporary
        self.retry_after = retry_after
        self.disable_channel = disable_channel
        super().__init__(f"deliver: {channel}: {message}")
