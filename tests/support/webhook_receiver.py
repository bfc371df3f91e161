"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 that
verifies Standard Webhooks signatures the way a receiver in the wild does.

    with WebhookReceiver(secret="whsec_...") as hook:
        ...POST to hook.url...
        hook.deliveries[0].payload["id"]

    hook.respond(500)                                   # every later request: 500
    hook.respond(429, headers={"Retry-After": "120"})
    hook.respond(302, headers={"Location": "http://169.254.169.254/"})
    hook.respond(200, delay=3.0)                        # answer after 3 s
    hook.respond(200, drip=0.2)                         # the response, one byte every 0.2 s
    hook.respond(204)                                   # back to normal

The signature check is written here from the specification
(https://www.standardwebhooks.com/, "Verifying webhooks"), independently of
monitor's signer: secret ``whsec_<base64>`` or raw, signed content
``{id}.{timestamp}.{body}``, several space-separated ``v1,`` signatures
allowed, timestamps more than ``tolerance`` seconds away from now refused.
A request that fails the check is answered 401 and kept in ``rejected``.
A ``webhook-id`` seen before is accepted again but flagged ``duplicate``:
that is how a receiver detects a resend.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    verified: bool
    duplicate: bool
    reason: str = ""  # why verification failed

    @property
    def id(self) -> str | None:
        return self.headers.get("webhook-id")

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


def verify(secret: str, headers: dict[str, str], body: bytes, *, now: float, tolerance: float = 300) -> str:
    """"" if the request is authentic, else the reason it is not."""
    msg_id, ts, sigs = (headers.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and ts and sigs):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        timestamp = int(ts)
    except ValueError:
        return "webhook-timestamp is not an integer"
    if abs(now - timestamp) > tolerance:
        return "timestamp outside the tolerance (replay?)"
    key = base64.b64decode(secret.removeprefix("whsec_")) if secret.startswith("whsec_") else secret.encode()
    expected = base64.b64encode(hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest())
    for candidate in sigs.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return ""
    return "no matching v1 signature"


@dataclass
class _Behaviour:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering
    drip: float = 0.0  # seconds between bytes of the response


class WebhookReceiver:
    """``secret=None`` accepts unsigned requests (verified stays False)."""

    def __init__(self, secret: str | None = None, *, tolerance: float = 300, path: str = "/hook", port: int = 0):
        self.secret = secret
        self.tolerance = tolerance
        self._path = path
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._rejected: list[Delivery] = []
        self._seen: set[str] = set()
        self._behaviour = _Behaviour()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                receiver._handle(self, body)

            do_PUT = do_GET = do_POST  # noqa: N815 - record whatever arrives

        # a fixed ``port`` brings a receiver back where a stopped one was
        # (delivery-fault tests: the receiver is down, then recovers)
        self._server = ThreadingHTTPServer((HOST, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self._path}"

    @property
    def deliveries(self) -> list[Delivery]:
        """Requests that passed the signature check (all requests when secret is None)."""
        with self._lock:
            return list(self._deliveries)

    @property
    def rejected(self) -> list[Delivery]:
        with self._lock:
            return list(self._rejected)

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self._deliveries) + len(self._rejected)

    def respond(
        self, status: int, *, headers: dict[str, str] | None = None, body: bytes = b"", delay: float = 0.0, drip: float = 0.0
    ) -> None:
        with self._lock:
            self._behaviour = _Behaviour(status, dict(headers or {}), body, delay, drip)

    def _handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        reason = "" if self.secret is None else verify(self.secret, headers, body, now=time.time(), tolerance=self.tolerance)
        with self._lock:
            behaviour = self._behaviour
            msg_id = headers.get("webhook-id", "")
            if reason:
                self._rejected.append(Delivery(handler.path, headers, body, False, False, reason))
            else:
                duplicate = msg_id in self._seen
                self._seen.add(msg_id)
                self._deliveries.append(Delivery(handler.path, headers, body, self.secret is not None, duplicate))
        if reason:
            self._write(handler, 401, {}, reason.encode(), 0.0)
            return
        if behaviour.delay and self._stopping.wait(behaviour.delay):
            return
        self._write(handler, behaviour.status, behaviour.headers, behaviour.body, behaviour.drip)

    def _write(self, handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes, drip: float) -> None:
        head = f"HTTP/1.1 {status} {handler.responses.get(status, ('',))[0]}\r\n"
        for k, v in {**headers, "Content-Length": str(len(body)), "Connection": "close"}.items():
            head += f"{k}: {v}\r\n"
        data = head.encode("latin-1") + b"\r\n" + body
        handler.close_connection = True
        try:
            if not drip:
                handler.wfile.write(data)
                return
            for i in range(len(data)):
                if self._stopping.wait(drip):
                    return
                handler.wfile.write(data[i : i + 1])
                handler.wfile.flush()
        except OSError:
            pass  # the client gave up: that is what the slow cases test

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
