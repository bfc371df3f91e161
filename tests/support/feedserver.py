"""A real threaded HTTP server on loopback that serves feeds the way real (and
hostile) servers do.  Plain classes, no pytest: tests, benchmarks and manual
runs all use it.

    with FeedServer() as srv:
        url = srv.route("/feed.xml", body=b"<rss/>", etag='"v1"')
        srv.route("/old", status=301, location="/feed.xml")
        srv.route("/bomb", raw_body=gzip_bomb(100 << 20, layers=2), headers={"Content-Encoding": "gzip, gzip"})
        srv.route("/drip", body=b"x" * 100, drip=0.2)           # one byte every 0.2 s
        srv.route("/endless", endless=True)                     # chunked, never ends
        ... fetch url ...
        assert srv.hits["/feed.xml"] == 1
        assert srv.requests["/feed.xml"][0]["if-none-match"] == '"v1"'

Routes answer GET and HEAD.  ETag / Last-Modified validators are honoured
with 304 (If-None-Match wins over If-Modified-Since, RFC 9110 §13.2.2).
Everything that streams stops by itself after ``max_stream_seconds`` and when
the server stops, so a test that forgets a client cannot hang the suite.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate, parsedate_to_datetime
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Route:
    """What one path answers.

    ``encoding`` lists the content codings to apply to ``body`` in order
    ("gzip", "deflate", "deflate-raw" (labelled deflate), "br"); the
    Content-Encoding header says them all.  ``raw_body`` is sent as it is
    (pre-encoded bombs: set the Content-Encoding header yourself).
    """

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    encoding: tuple[str, ...] = ()
    raw_body: bytes | None = None
    location: str | None = None
    #: seconds to wait before sending the status line
    delay: float = 0.0
    #: seconds between pieces of ``drip_size`` bytes of the body
    drip: float = 0.0
    drip_size: int = 1
    #: a chunked body that never ends (``endless_chunk`` repeated)
    endless: bool = False
    endless_chunk: bytes = b"<item><title>again</title></item>\n" * 1000
    #: close the connection after answering (with a Content-Length header
    #: larger than the body: a body cut short)
    close: bool = False
    #: when set, called with the request and returns the Route to answer with
    responder: Callable[[Request], Route] | None = None


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    target: str  # as sent, with the query
    headers: dict[str, str]  # lower-cased names
    hit: int  # 1 for the first request to this path
    client: tuple[str, int]


def encode(body: bytes, codings: Iterable[str]) -> tuple[bytes, str]:
    """Apply content codings in order; return the bytes and the header value."""
    labels = []
    for coding in codings:
        if coding == "gzip":
            body = gzip.compress(body, mtime=0)
            labels.append("gzip")
        elif coding == "deflate":
            body = zlib.compress(body)
            labels.append("deflate")
        elif coding == "deflate-raw":  # what some servers send as "deflate"
            c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body = c.compress(body) + c.flush()
            labels.append("deflate")
        elif coding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.compress(body)
            labels.append("br")
        else:
            raise ValueError(f"feedserver: unknown coding {coding!r}")
    return body, ", ".join(labels)


@lru_cache(maxsize=8)
def gzip_bomb(size: int, layers: int = 2) -> bytes:
    """``size`` zero bytes gzipped ``layers`` times; 100 MB in two layers is
    a few hundred bytes.  Built in 1 MiB steps so making it stays small too."""
    data: bytes | None = None
    step = b"\0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = []
    left = size
    while left > 0:
        parts.append(c.compress(step[: min(left, len(step))]))
        left -= len(step)
    parts.append(c.flush())
    data = b"".join(parts)
    for _ in range(layers - 1):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    return data


def http_date(ts: float | None = None) -> str:
    return formatdate(time.time() if ts is None else ts, usegmt=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 (or ``host="::1"``).

    ``hits`` counts requests per path; ``requests`` keeps each request's
    headers per path.  Unknown paths answer 404.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_stream_seconds: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ):
        self.host = host
        self.port = port
        #: a server-side SSLContext makes this an https server (see trustme)
        self.tls = tls
        self.max_stream_seconds = max_stream_seconds
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: dict[str, list[Request]] = defaultdict(list)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FeedServer:
        cls = _Server6 if ":" in self.host else _Server
        self._server = cls((self.host, self.port), _make_handler(self))
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="feedserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- set-up

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, route: Route | None = None, **fields: object) -> str:
        """Serve ``path`` (a Route, or Route fields as keywords); return its URL."""
        self.routes[path] = replace(route or Route(), **fields)  # type: ignore[arg-type]
        return self.url(path)

    def reset_counts(self) -> None:
        with self._lock:
            self.hits.clear()
            self.requests.clear()

    # -- used by the handler

    def _record(self, method: str, target: str, headers: dict[str, str], client: tuple[str, int]) -> Request:
        path = urlsplit(target).path or "/"
        with self._lock:
            self.hits[path] += 1
            req = Request(method, path, target, headers, self.hits[path], client)
            self.requests[path].append(req)
        return req

    def _streaming_allowed(self, started: float) -> bool:
        return not self._stopping.is_set() and time.monotonic() - started < self.max_stream_seconds


def _not_modified(route: Route, headers: Mapping[str, str]) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None and route.etag is not None:
        tags = [t.strip() for t in inm.split(",")]
        weakless = route.etag.removeprefix("W/")
        return "*" in tags or any(t.removeprefix("W/") == weakless for t in tags)
    ims = headers.get("if-modified-since")
    if inm is None and ims and route.last_modified:
        try:
            return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "feedserver/1"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in separate writes: without NODELAY,
            # Nagle + the client's delayed ACK add ~40 ms to every response
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
            return None

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, *, head: bool) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            req = server._record(self.command, self.path, headers, self.client_address[:2])
            route = server.routes.get(req.path)
            if route is None:
                route = Route(status=404, body=b"not found", content_type="text/plain")
            if route.responder is not None:
                route = route.responder(req)
            if route.delay:
                time.sleep(route.delay)
            try:
                self._send(route, headers, head)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, socket.timeout):
                self.close_connection = True

        def _start(self, status: int, route: Route, extra: Mapping[str, str]) -> None:
            self.send_response(status)
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            for name, value in {**extra, **route.headers}.items():
                self.send_header(name, value)

        def _send(self, route: Route, headers: Mapping[str, str], head: bool) -> None:
            started = time.monotonic()
            if route.status == 200 and _not_modified(route, headers):
                self._start(304, route, {})
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            extra: dict[str, str] = {}
            if route.content_type:
                extra["Content-Type"] = route.content_type
            if route.location is not None:
                extra["Location"] = route.location
            if route.endless:
                self._start(route.status, route, {**extra, "Transfer-Encoding": "chunked"})
                self.end_headers()
                if head:
                    return
                chunk = route.endless_chunk
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                while server._streaming_allowed(started):
                    self.wfile.write(frame)
                self.close_connection = True
                return
            if route.raw_body is not None:
                body = route.raw_body
            else:
                body, label = encode(route.body, route.encoding)
                if label:
                    extra["Content-Encoding"] = label
            extra.setdefault("Content-Length", str(len(body)))
            self._start(route.status, route, extra)
            self.end_headers()
            if head:
                return
            if route.close:
                self.close_connection = True
            if not route.drip:
                self.wfile.write(body)
                return
            for i in range(0, len(body), route.drip_size):
                if not server._streaming_allowed(started):
                    self.close_connection = True
                    return
                self.wfile.write(body[i : i + route.drip_size])
                self.wfile.flush()
                time.sleep(route.drip)

    return Handler
