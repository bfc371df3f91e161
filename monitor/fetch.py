"""Fetch one feed politely and defensively: FeedToPoll -> Fetched.

What a fetch does, in order:

1. ``file://`` URLs and plain paths are read from disk, only for feeds marked
   ``allow_local`` (a feed URL from outside must never read local files).
2. For http(s), each hop is checked by the SSRF guard (:mod:`monitor.netguard`),
   whose transport checks the resolved address again at connect time.
3. A conditional GET (If-None-Match / If-Modified-Since, RFC 9110 §13.1):
   304 -> ``NOT_MODIFIED``.
4. Redirects are followed here, not by httpx: a hop limit, loop detection, no
   scheme but http(s), and a 301/308 chain reports the new permanent URL.
5. The body is read raw and decompressed here, chunk by chunk, so the byte
   cap applies *after* decompression: httpx itself applies no limit (662 bytes
   of ``Content-Encoding: gzip, gzip`` on the wire became a 315 MB chunk).
6. One wall-clock deadline covers DNS, connect, every hop and the body:
   httpx's timeouts are per read, so a server dripping a byte a second would
   never time out.  The guarded transport bounds each socket operation by the
   time left, and the body loop checks the deadline between chunks.
7. A body whose sha256 equals the last one is ``UNCHANGED``: many news sites
   send no validators, or ignore them.

Errors are the :class:`monitor.errors.FetchError` subclasses, each deciding
``temporary`` where it is raised.  URLs in messages and logs go through
:func:`redact_url` (no userinfo, no query values).

Throughput: one :class:`Fetcher` is shared by the worker threads; ``fetch`` is
thread-safe.  It holds ``clients`` sync httpx clients (each with its own
connection pool); a feed always uses the client of its origin, so keep-alive
connections are reused.  ``clients`` is there so the number can be measured:
an AsyncClient cost ~1.7 ms CPU per 304 at concurrency 10 on this machine and
got slower with more concurrency.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import httpx

from monitor.errors import (
    BlockedAddress,
    FeedGone,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    RateLimited,
    TooLarge,
    TooManyRedirects,
)
from monitor.netguard import NetGuard, guarded_client, io_deadline, redact_url
from monitor.records import Fetched, FeedToPoll, FetchStatus

__all__ = ["Fetcher", "redact_url", "parse_retry_after", "parse_max_age", "parse_http_date", "accept_encoding"]

log = logging.getLogger("monitor.fetch")

DEFAULT_USER_AGENT = "monitor/0.1 (news monitoring)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
#: response headers kept in Fetched.headers (lower-cased): what the parser and
#: the scheduler read, nothing that might carry a session (set-cookie)
KEPT_HEADERS = (
    "content-type",
    "content-location",
    "content-language",
    "content-length",
    "content-encoding",
    "date",
    "age",
    "cache-control",
    "expires",
    "retry-after",
    "etag",
    "last-modified",
    "link",
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})  # RFC 9110 §15.4.2, §15.4.9
#: decompressed output per step: bounds memory per decoding stage whatever the
#: compression ratio (deflate tops out near 1032:1, chains multiply it)
DECODE_CHUNK = 64 * 1024
#: more encodings than this in one Content-Encoding is an attack, not a feed
MAX_ENCODINGS = 3


# ------------------------------------------------------------ header parsing


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP-date (RFC 9110 §5.6.7) as aware UTC, or None if unparsable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as the
    time to wait from ``now``; a date in the past means zero.  None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    when = parse_http_date(value)
    if when is None:
        return None
    return max(when - now, timedelta(0))


def parse_max_age(cache_control: str | None, age: str | None = None) -> timedelta | None:
    """Freshness left from Cache-Control max-age minus Age (RFC 9111 §4.2)."""
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        name, _, arg = directive.strip().partition("=")
        if name.strip().lower() == "max-age":
            arg = arg.strip().strip('"')
            if not arg.isdigit():
                return None
            seconds = int(arg)
            if age and age.strip().isdigit():
                seconds = max(seconds - int(age.strip()), 0)
            return timedelta(seconds=seconds)
    return None


# ----------------------------------------------------------------- decoding


def _bounded_brotli() -> Any:
    """The brotli module if it can decompress with an output limit (brotli
    >= 1.2 has ``process(data, output_buffer_limit=)``); older ones return
    everything at once, which a brotli bomb would turn into gigabytes."""
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        return None
    if not hasattr(brotli, "Decompressor") or not hasattr(brotli.Decompressor, "can_accept_more_data"):
        return None
    return brotli


_BROTLI = _bounded_brotli()


def accept_encoding() -> str:
    """What we can decode with bounded memory."""
    return "gzip, deflate, br" if _BROTLI is not None else "gzip, deflate"


class _Stage:
    """One decoding step; ``run`` turns a stream of chunks into a stream of
    decoded chunks of at most DECODE_CHUNK bytes."""

    def __init__(self, url: str):
        self.url = url

    def run(self, upstream: Iterable[bytes]) -> Iterator[bytes]:
        for data in upstream:
            yield from self.feed(data)
        yield from self.finish()

    def feed(self, data: bytes) -> Iterator[bytes]:
        raise NotImplementedError

    def finish(self) -> Iterator[bytes]:
        return iter(())

    def _corrupt(self, encoding: str, e: Exception) -> FetchError:
        return FetchError(redact_url(self.url), f"the {encoding} body is corrupt: {e}", temporary=False)


class _Zlib(_Stage):
    """gzip (RFC 1952, several members allowed) and deflate (zlib-wrapped as
    RFC 9110 §8.4.1.2 says, or raw as some servers send it: the first two
    bytes tell which)."""

    def __init__(self, url: str, encoding: str):
        super().__init__(url)
        self.encoding = encoding
        self.gzip = encoding == "gzip"
        self._obj: Any = None  # made when the first two bytes of a stream/member are in
        self._pending = b""
        self._members = 0
        self._done = False

    def _start(self, head: bytes) -> Any:
        if self.gzip:
            if self._members and head != b"\x1f\x8b":
                return None  # not another member: trailing garbage, ignored as browsers do
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        zlib_wrapped = head[0] & 0x0F == 8 and ((head[0] << 8) | head[1]) % 31 == 0  # RFC 1950 §2.2
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        data, self._pending = self._pending + data, b""
        while data and not self._done:
            if self._obj is None:
                if len(data) < 2:
                    self._pending = data
                    return
                self._obj = self._start(data[:2])
                if self._obj is None:
                    self._done = True
                    return
            try:
                out = self._obj.decompress(data, DECODE_CHUNK)
            except zlib.error as e:
                raise self._corrupt(self.encoding, e) from e
            if out:
                yield out
            data = self._obj.unconsumed_tail
            if self._obj.eof:
                data = self._obj.unused_data + data
                self._members += 1
                self._obj = None
                self._done = not self.gzip

    def finish(self) -> Iterator[bytes]:
        if self._pending and not self._members:
            raise self._corrupt(self.encoding, ValueError(f"{len(self._pending)} byte(s) are not a stream"))
        if self._obj is None:
            return
        try:
            # the input is all consumed: what zlib still holds is small; a
            # stream cut short yields what it has, as browsers do
            out = self._obj.flush()
        except zlib.error as e:
            raise self._corrupt(self.encoding, e) from e
        if out:
            yield out


class _Brotli(_Stage):
    def __init__(self, url: str):
        super().__init__(url)
        self._obj = _BROTLI.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            out = self._obj.process(data, output_buffer_limit=DECODE_CHUNK)
            if out:
                yield out
            while not self._obj.can_accept_more_data():
                out = self._obj.process(b"", output_buffer_limit=DECODE_CHUNK)
                if not out:
                    break
                yield out
        except _BROTLI.error as e:
            raise self._corrupt("br", e) from e


def _stages(url: str, content_encoding: str | None) -> list[_Stage]:
    """Decoding stages for a Content-Encoding header, in decoding order
    (the last encoding applied is undone first, RFC 9110 §8.4)."""
    if not content_encoding:
        return []
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > MAX_ENCODINGS:
        raise FetchError(
            redact_url(url), f"Content-Encoding {content_encoding!r} stacks {len(codings)} encodings", temporary=False
        )
    stages: list[_Stage] = []
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):  # x-gzip: RFC 9110 §8.4.1.3
            stages.append(_Zlib(url, "gzip"))
        elif coding == "deflate":
            stages.append(_Zlib(url, "deflate"))
        elif coding == "br" and _BROTLI is not None:
            stages.append(_Brotli(url))
        else:
            raise FetchError(
                redact_url(url),
                f"unsupported Content-Encoding {coding!r} (we asked for {accept_encoding()})",
                temporary=False,
            )
    return stages


# ---------------------------------------------------------------- local files


def _local_path(url: str) -> Path | None:
    """The path a file:// URL or a plain path names, or None for other URLs."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(url2pathname(unquote(parts.path)))
    if parts.scheme == "" or (len(parts.scheme) == 1 and os.name == "nt"):  # C:\feeds\x.xml
        return Path(url).expanduser()
    return None


#: an unread body up to this size is drained so the connection can be reused
#: (closing a response mid-body closes its connection: measured, every 304
#: reconnected before this); larger ones are not worth the wait
DRAIN_LIMIT = 64 * 1024


def _release(response: httpx.Response) -> None:
    """Finish a response whose body we do not want, keeping the connection
    alive when the body is empty or small.  Errors here change nothing."""
    length = response.headers.get("content-length", "")
    if response.status_code == 304 or (length.isdigit() and int(length) <= DRAIN_LIMIT):
        try:
            for _ in response.iter_raw():
                pass
        except (httpx.HTTPError, httpx.StreamError):
            pass
    response.close()


class _NoCookies(CookieJar):
    """Feeds share one client: a cookie one feed sets must not travel with
    another feed's request (nor across threads)."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Any) -> None:
        return None


# ------------------------------------------------------------------ fetcher


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class Fetcher:
    """Fetches feeds; one instance shared by every worker thread.

    Built from plain values (``Fetcher(timeout=settings.poll.timeout, ...)``).
    ``clients`` sync httpx clients each hold a pool of at most
    ``max_connections`` connections; a feed's origin picks its client.
    """

    def __init__(
        self,
        *,
        guard: NetGuard,
        timeout: float | timedelta = 30.0,
        connect_timeout: float | timedelta = 10.0,
        max_body_bytes: int = 10 * 1024 * 1024,
        max_redirects: int = 5,
        user_agent: str = DEFAULT_USER_AGENT,
        clients: int = 1,
        max_connections: int = 32,
        verify: Any = True,
    ):
        if clients < 1:
            raise ValueError("fetch: clients must be at least 1")
        self.guard = guard
        self.timeout = _seconds(timeout)
        self.connect_timeout = _seconds(connect_timeout)
        self.max_body_bytes = max_body_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        headers = {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": accept_encoding()}
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._clients = tuple(
            guarded_client(guard, limits=limits, verify=verify, headers=headers, cookies=_NoCookies())
            for _ in range(clients)
        )

    # -- lifecycle

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the one public operation

    def fetch(self, feed: FeedToPoll, *, now: datetime | None = None) -> Fetched:
        """Fetch ``feed``; raise a :class:`FetchError` subclass on failure.

        ``now`` (aware UTC) turns a Retry-After date into a wait.
        """
        now = now or datetime.now(timezone.utc)
        started = time.monotonic()
        path = _local_path(feed.url)
        if path is not None:
            result = self._read_local(feed, path, started)
        elif urlsplit(feed.url).scheme == "file":
            raise BlockedAddress(redact_url(feed.url), "file:// URLs with a remote host are never read")
        else:
            result = self._fetch_http(feed, started, now)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "fetch: %s -> %s (%s) in %.3fs",
                redact_url(feed.url),
                result.status.value,
                result.http_status,
                result.elapsed,
            )
        return result

    # -- local files

    def _read_local(self, feed: FeedToPoll, path: Path, started: float) -> Fetched:
        shown = redact_url(feed.url)
        if not feed.allow_local:
            hint = " (for a web address, write it with http:// or https://)" if "://" not in feed.url else ""
            raise BlockedAddress(
                shown,
                "reading local files is off for this feed (a feed URL must not read files from this machine); "
                f"only feeds set up as local (allow_local, e.g. a path in the config file) may read files{hint}",
            )
        try:
            with open(path, "rb") as f:
                data = f.read(self.max_body_bytes + 1)
        except FileNotFoundError as e:
            raise FetchError(shown, f"no such file: {path}", temporary=False) from e
        except (IsADirectoryError, PermissionError) as e:
            raise FetchError(shown, f"cannot read {path}: {e.strerror}", temporary=False) from e
        except OSError as e:
            raise FetchError(shown, f"cannot read {path}: {e}") from e
        if len(data) > self.max_body_bytes:
            raise TooLarge(shown, f"file is over the {self.max_body_bytes}-byte cap (poll max_body_bytes)")
        digest = hashlib.sha256(data).hexdigest()
        unchanged = digest == feed.body_hash
        return Fetched(
            url=feed.url,
            final_url=feed.url,
            status=FetchStatus.UNCHANGED if unchanged else FetchStatus.OK,
            http_status=None,
            body=None if unchanged else data,
            body_hash=digest,
            elapsed=time.monotonic() - started,
        )

    # -- HTTP

    def _client_for(self, url: httpx.URL) -> httpx.Client:
        if len(self._clients) == 1:
            return self._clients[0]
        return self._clients[hash((url.scheme, url.host, url.port)) % len(self._clients)]

    def _fetch_http(self, feed: FeedToPoll, started: float, now: datetime) -> Fetched:
        deadline = started + self.timeout
        conditional: dict[str, str] = {}
        if feed.etag:
            conditional["If-None-Match"] = feed.etag
        if feed.last_modified:
            conditional["If-Modified-Since"] = feed.last_modified

        url = feed.url
        chain: list[str] = [url]
        permanent_redirect: str | None = None
        permanent_so_far = True
        with io_deadline(deadline):
            while True:
                try:
                    parsed = httpx.URL(url)
                except (httpx.InvalidURL, ValueError):
                    parsed = None  # check_url names the problem
                # scheme and IP literals here; the transport checks resolved names
                self.guard.check_url(parsed or url, resolve=False)
                assert parsed is not None
                response = self._send(parsed, conditional, deadline)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        _release(response)
                        target = self._redirect_target(response, location)
                        if response.status_code in PERMANENT_REDIRECTS and permanent_so_far:
                            permanent_redirect = target
                        else:
                            permanent_so_far = False
                        looped = target in chain
                        chain.append(target)
                        if looped:
                            raise TooManyRedirects(redact_url(feed.url), "redirect loop: " + _show_chain(chain))
                        if len(chain) - 1 > self.max_redirects:
                            raise TooManyRedirects(
                                redact_url(feed.url),
                                f"more than {self.max_redirects} redirects (poll max_redirects): " + _show_chain(chain),
                            )
                        url = target
                        continue
                    return self._finish(feed, url, response, deadline, started, now, permanent_redirect)
                finally:
                    response.close()

    def _redirect_target(self, response: httpx.Response, location: str) -> str:
        try:
            target = response.url.join(location.strip())
        except (httpx.InvalidURL, ValueError) as e:
            raise FetchError(
                redact_url(str(response.url)), f"redirect to an invalid Location ({e})", temporary=False
            ) from e
        if target.scheme not in ("http", "https"):
            raise BlockedAddress(
                redact_url(str(response.url)),
                f"redirect to a {target.scheme}: URL refused: a remote feed may only redirect to http or https",
            )
        return str(target)

    def _send(self, url: httpx.URL, conditional: dict[str, str], deadline: float) -> httpx.Response:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchTimeout(redact_url(str(url)), f"total deadline of {self.timeout:g}s passed (poll timeout)")
        timeout = httpx.Timeout(connect=min(self.connect_timeout, left), read=left, write=left, pool=left)
        try:
            client = self._client_for(url)
            request = client.build_request("GET", url, headers=conditional, timeout=timeout)
            return client.send(request, stream=True, follow_redirects=False)
        except BlockedAddress as e:
            raise BlockedAddress(redact_url(str(url)), getattr(e, "reason", str(e))) from e
        except Exception as e:
            mapped = self._map_error(e, str(url), deadline)
            if mapped is e:
                raise
            raise mapped from e

    def _map_error(self, e: Exception, url: str, deadline: float) -> Exception:
        """httpx exceptions -> FetchError subclasses (anything else passes)."""
        if isinstance(e, FetchError):
            return e
        shown = redact_url(url)
        if isinstance(e, httpx.TimeoutException) and time.monotonic() >= deadline - 0.01:
            return FetchTimeout(shown, f"total deadline of {self.timeout:g}s passed (poll timeout)")
        if isinstance(e, httpx.TimeoutException):
            kind = {
                httpx.ConnectTimeout: "connecting",
                httpx.ReadTimeout: "reading",
                httpx.WriteTimeout: "sending",
                httpx.PoolTimeout: "waiting for a free connection",
            }.get(type(e), "waiting")
            return FetchTimeout(shown, f"timed out {kind} ({e}; poll connect_timeout {self.connect_timeout:g}s)")
        if isinstance(e, httpx.ConnectError):
            return FetchError(shown, f"could not connect: {e}", temporary=True)
        if isinstance(e, (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.CloseError)):
            return FetchError(shown, f"connection failed: {e}", temporary=True)
        if isinstance(e, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
            return FetchError(shown, f"invalid request: {e}", temporary=False)
        if isinstance(e, httpx.HTTPError):
            return FetchError(shown, f"HTTP error: {e}", temporary=True)
        return e

    def _finish(
        self,
        feed: FeedToPoll,
        url: str,
        response: httpx.Response,
        deadline: float,
        started: float,
        now: datetime,
        permanent_redirect: str | None,
    ) -> Fetched:
        status = response.status_code
        h = response.headers
        retry_after = parse_retry_after(h.get("retry-after"), now)
        if status == 304 or status >= 300:
            _release(response)  # keep the connection for the next feed on this host
        if status in (404, 410):
            raise FeedGone(redact_url(url), f"HTTP {status}: the feed is not there", status=status)
        if status in (429, 503):
            wait = f"; retry after {retry_after}" if retry_after is not None else ""
            raise RateLimited(
                redact_url(url), f"HTTP {status}: the server asks us to slow down{wait}", retry_after=retry_after
            )
        if status >= 400 or status < 200 or (300 <= status < 400 and status != 304):
            raise HTTPStatusError(redact_url(url), f"HTTP {status} {response.reason_phrase}".rstrip(), status=status)

        common: dict[str, Any] = dict(
            url=feed.url,
            final_url=url,
            http_status=status,
            headers={name: h[name] for name in KEPT_HEADERS if name in h},
            permanent_redirect=permanent_redirect,
            max_age=parse_max_age(h.get("cache-control"), h.get("age")),
            expires=parse_http_date(h.get("expires")),
            retry_after=retry_after,
        )
        if status == 304:
            return Fetched(
                status=FetchStatus.NOT_MODIFIED,
                body=None,
                etag=h.get("etag") or feed.etag,
                last_modified=h.get("last-modified") or feed.last_modified,
                body_hash=feed.body_hash,
                elapsed=time.monotonic() - started,
                **common,
            )

        body = self._read_body(response, deadline, url)
        digest = hashlib.sha256(body).hexdigest()
        unchanged = digest == feed.body_hash
        return Fetched(
            status=FetchStatus.UNCHANGED if unchanged else FetchStatus.OK,
            body=None if unchanged else body,
            etag=h.get("etag"),
            last_modified=h.get("last-modified"),
            body_hash=digest,
            elapsed=time.monotonic() - started,
            **common,
        )

    def _read_body(self, response: httpx.Response, deadline: float, url: str) -> bytes:
        cap = self.max_body_bytes
        stages = _stages(url, response.headers.get("content-encoding"))
        length = response.headers.get("content-length", "")
        if not stages and length.isdigit() and int(length) > cap:
            raise TooLarge(redact_url(url), f"Content-Length {length} is over the {cap}-byte cap (poll max_body_bytes)")

        def too_late() -> FetchTimeout:
            return FetchTimeout(redact_url(url), f"total deadline of {self.timeout:g}s passed while reading the body")

        def raw() -> Iterator[bytes]:
            for chunk in response.iter_raw():
                if time.monotonic() > deadline:
                    raise too_late()
                yield chunk

        stream: Iterable[bytes] = raw()
        for stage in stages:
            stream = stage.run(stream)
        body = bytearray()
        try:
            for piece in stream:
                if len(body) + len(piece) > cap:
                    raise TooLarge(
                        redact_url(url), f"body is over the {cap}-byte cap after decompression (poll max_body_bytes)"
                    )
                body += piece
                if time.monotonic() > deadline:
                    raise too_late()
        except FetchError:
            raise
        except Exception as e:
            mapped = self._map_error(e, url, deadline)
            if mapped is e:
                raise
            raise mapped from e
        return bytes(body)


def _show_chain(chain: list[str]) -> str:
    return " -> ".join(redact_url(u) for u in chain)
