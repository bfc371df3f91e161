"""The benchmark's feed server: a separate process on 127.0.0.1.

It runs in its own process so that its CPU time is not counted against the
client under test (and neither shares a GIL with it), and it is a minimal
asyncio HTTP/1.1 server with keep-alive and pre-built responses so it costs
far less per request than any client: the client is what gets measured.

    with ServerProcess(feeds=300, seed=1) as srv:
        urls = srv.urls()                      # one per feed
        srv.change(share=0.2, new=3)           # 20% of feeds gain 3 entries
        srv.validators(False)                  # 200 + same bytes, no ETag/Last-Modified
        srv.stats()                            # requests, 200s, 304s, bytes

Feeds (``GET /feeds/<n>.xml``) honour ``If-None-Match`` (RFC 9110 §13.1.2)
and ``If-Modified-Since`` (§13.1.3; If-None-Match wins when both are sent),
and are sent gzip-compressed when the feed is marked gzip and the request
accepts gzip.  Control requests (``/_ctl/...``) change the corpus between
cycles; ``/_ctl/body/<n>`` serves a feed's current bytes uncompressed (the
baselines parse exactly what the pipeline was served).

Run by hand: ``python -m benchmarks.server --feeds 300`` prints
``READY <port>`` and serves until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

from benchmarks.corpus import Corpus, CorpusSpec

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024


class FeedApp:
    """What the server answers; holds the corpus and the response cache."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus
        self.with_validators = True
        #: (index, version, gzip) -> (body bytes, etag, last-modified)
        self._bodies: dict[tuple[int, int, bool], tuple[bytes, str, str]] = {}
        self._modified: dict[int, datetime] = {}
        self._turn = 0  # which feeds change next: a rotating window
        self.counts = {"requests": 0, "200": 0, "304": 0, "bytes": 0}

    def _body(self, index: int, gz: bool) -> tuple[bytes, str, str]:
        feed = self.corpus.feeds[index]
        key = (index, feed.version, gz)
        got = self._bodies.get(key)
        if got is None:
            for old in [k for k in self._bodies if k[0] == index and k[1] != feed.version]:
                del self._bodies[old]
            raw = feed.render()
            body = gzip.compress(raw, compresslevel=6, mtime=0) if gz else raw
            modified = self._modified.setdefault(index, self.corpus.now)
            got = self._bodies[key] = (body, f'"{index}-{feed.version}"', format_datetime(modified, usegmt=True))
        return got

    def feed(self, index: int, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        feed = self.corpus.feeds[index]
        gz = feed.gzip and "gzip" in headers.get("accept-encoding", "")
        body, etag, modified = self._body(index, gz)
        ctype = "application/atom+xml; charset=utf-8" if feed.kind == "atom" else "application/rss+xml; charset=utf-8"
        hdrs = []
        if self.with_validators:
            hdrs += [("ETag", etag), ("Last-Modified", modified)]
            inm = headers.get("if-none-match")
            ims = headers.get("if-modified-since")
            # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
            if (inm is not None and etag in (t.strip() for t in inm.split(","))) or (inm is None and ims == modified):
                self.counts["304"] += 1
                return 304, hdrs, b""
        hdrs.append(("Content-Type", ctype))
        if gz:
            hdrs.append(("Content-Encoding", "gzip"))
        self.counts["200"] += 1
        self.counts["bytes"] += len(body)
        return 200, hdrs, body

    def change(self, share: float, new: int) -> list[int]:
        """``share`` of the feeds (the next ones in turn) gain ``new`` entries."""
        n = len(self.corpus.feeds)
        count = round(n * share)
        now = datetime.now(UTC).replace(microsecond=0)
        picked = [(self._turn + k) % n for k in range(count)]
        self._turn = (self._turn + count) % n
        for i in picked:
            self.corpus.add_entries(i, new, now)
            self._modified[i] = now
        return picked

    def control(self, path: str, query: dict[str, list[str]]) -> tuple[int, list[tuple[str, str]], bytes]:
        def arg(name: str, default: str) -> str:
            return query.get(name, [default])[0]

        out: object
        if path == "/_ctl/list":
            out = [{"path": f.path, "kind": f.kind, "gzip": f.gzip, "entries": len(f.entries)}
                   for f in self.corpus.feeds]
        elif path == "/_ctl/change":
            picked = self.change(float(arg("share", "0.2")), int(arg("new", "3")))
            out = {"changed": len(picked)}
        elif path == "/_ctl/validators":
            self.with_validators = arg("on", "1") == "1"
            out = {"validators": self.with_validators}
        elif path == "/_ctl/stats":
            out = dict(self.counts, entries=self.corpus.entry_count, pid=os.getpid(),
                       cpu=time.process_time())
        elif path == "/_ctl/reset-stats":
            self.counts = dict.fromkeys(self.counts, 0)
            out = {}
        elif path.startswith("/_ctl/body/"):
            body, _, _ = self._body(int(path.rsplit("/", 1)[1]), False)
            return 200, [("Content-Type", "application/xml")], body
        else:
            return 404, [], b"no such control\n"
        return 200, [("Content-Type", "application/json")], json.dumps(out).encode()

    def answer(self, target: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/feeds/") and path.endswith(".xml"):
            try:
                index = int(path[7:-4])
                if 0 <= index < len(self.corpus.feeds):
                    return self.feed(index, headers)
            except ValueError:
                pass
            return 404, [], b"no such feed\n"
        if path.startswith("/_ctl/"):
            return self.control(path, parse_qs(parts.query))
        return 404, [], b"not found\n"


_REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found", 400: "Bad Request"}


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; bodies of requests are not expected (GET)."""

    def __init__(self, app: FeedApp):
        self.app = app
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD:
                    self._send(400, [], b"head too large\n", close=True)
                return
            head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4:]
            lines = head.split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                self._send(400, [], b"bad request line\n", close=True)
                return
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.app.counts["requests"] += 1
            status, hdrs, body = self.app.answer(target, headers)
            close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
            self._send(status, hdrs, b"" if method == "HEAD" else body, close=close, length=len(body))
            if close:
                return

    def _send(self, status: int, hdrs: list[tuple[str, str]], body: bytes, *, close: bool = False,
              length: int | None = None) -> None:
        assert self.transport is not None
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
        lines += [f"{k}: {v}" for k, v in hdrs]
        if status != 304:
            lines.append(f"Content-Length: {len(body) if length is None else length}")
        if close:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if close:
            self.transport.close()


async def _serve(app: FeedApp, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(app), HOST, port, backlog=1024, reuse_address=True)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()

    async def orphaned() -> None:  # the benchmark died without stopping us
        while os.getppid() == parent:
            await asyncio.sleep(1)
        stop.set()

    watch = asyncio.ensure_future(orphaned())
    async with server:
        await stop.wait()
    watch.cancel()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Serve a generated feed corpus on 127.0.0.1.")
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--now", help="ISO time the corpus is dated up to (default: now)")
    args = ap.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else None
    corpus = Corpus(CorpusSpec(feeds=args.feeds, seed=args.seed), now=now)
    app = FeedApp(corpus)
    for f in corpus.feeds:  # build every response before the clients come
        app._body(f.index, f.gzip)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(app, args.port))


# ------------------------------------------------------------ client side


class ServerControl:
    """A client of the control API of a running server at ``base``."""

    def __init__(self, base: str):
        self.base = base

    def _get(self, path: str) -> bytes:
        with urlopen(self.base + path, timeout=120) as r:
            return r.read()

    def ctl(self, name: str, **params: object) -> object:
        q = "&".join(f"{k}={v}" for k, v in params.items())
        return json.loads(self._get(f"/_ctl/{name}" + (f"?{q}" if q else "")))

    def listing(self) -> list[dict]:
        return self.ctl("list")  # type: ignore[return-value]

    def urls(self) -> list[str]:
        return [self.base + f["path"] for f in self.listing()]

    def body(self, index: int) -> bytes:
        """Feed ``index``'s current bytes, uncompressed."""
        return self._get(f"/_ctl/body/{index}")

    def change(self, share: float, new: int = 3) -> int:
        """``share`` of the feeds gain ``new`` entries each (new ETag); returns how many."""
        return self.ctl("change", share=share, new=new)["changed"]  # type: ignore[index]

    def validators(self, on: bool) -> None:
        """Off: 200 with the same bytes, no ETag or Last-Modified, conditionals ignored."""
        self.ctl("validators", on=int(on))

    def stats(self) -> dict:
        return self.ctl("stats")  # type: ignore[return-value]

    def reset_stats(self) -> None:
        self.ctl("reset-stats")


class ServerProcess(ServerControl):
    """Start :func:`main` in a child process; control it while it runs."""

    def __init__(self, *, feeds: int, seed: int = 1, now: datetime | None = None):
        super().__init__("")
        self.feeds = feeds
        self.seed = seed
        self.now = now
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "benchmarks.server", "--feeds", str(self.feeds), "--seed", str(self.seed)]
        if self.now:
            cmd += ["--now", self.now.isoformat()]
        root = Path(__file__).resolve().parents[1]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=root)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"benchmark server did not start (said {line!r})")
        self.port = int(line.split()[1])
        self.base = f"http://{HOST}:{self.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


if __name__ == "__main__":
    main()
