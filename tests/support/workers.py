"""Real `monitor run` processes for the multi-worker and lifecycle tests and
the workers benchmark.  Plain functions and classes, no pytest.

    write_config(tmp / "monitor.toml", {"poll": {"tick": "1s"}, "feeds": [...]})
    with WorkerProcess(config, env={"MONITOR_DATABASE_URL": url}, log=tmp / "w1.log") as w:
        wait_for(lambda: polled(engine) == 500, timeout=30, what="every feed polled")
        w.terminate()
        assert w.wait(10) == 0

Feeds are RSS documents built from the labelled event set
(benchmarks/data/events.jsonl): real headlines and bodies, so ingest does the
work it does in production (dedup, clustering, matching), and articles of one
event reported by several outlets make one story.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "benchmarks" / "data" / "events.jsonl"
LOOPBACK_ALLOW = ["127.0.0.1/32", "::1/128"]


# ------------------------------------------------------------------ content


@dataclass(frozen=True)
class Article:
    id: str
    event: str
    source: str
    url: str
    title: str
    text: str
    published: datetime


@lru_cache(maxsize=1)
def load_events() -> tuple[Article, ...]:
    out = []
    for line in EVENTS.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        published = datetime.fromisoformat(d["published"].replace("Z", "+00:00"))
        out.append(Article(d["id"], d["event"], d["source"], d["url"], d["title"], d["text"], published))
    return tuple(out)


def rss(title: str, items: Iterable[Article], *, published: datetime | None = None) -> bytes:
    """An RSS 2.0 document; every text is escaped.  ``published`` overrides
    the articles' dates (recent dates make alerts due, old ones are backlog)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://{escape(title)}.example/</link>",
    ]
    for a in items:
        when = format_datetime(published or a.published)
        parts.append(
            f"<item><guid>{escape(a.url)}</guid><link>{escape(a.url)}</link><title>{escape(a.title)}</title>"
            f"<description>{escape(a.text)}</description><pubDate>{when}</pubDate></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


# ------------------------------------------------------------------- config


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        # JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes
        return json.dumps(v, ensure_ascii=True)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"workers: cannot write {type(v).__name__} as TOML")


def to_toml(data: Mapping[str, Any]) -> str:
    """Enough TOML for monitor's config: scalars, tables, arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, list[Mapping[str, Any]]]] = []
    for k, v in data.items():
        if isinstance(v, Mapping):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            arrays.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")

    def emit_table(prefix: str, table: Mapping[str, Any]) -> None:
        lines.append(f"\n[{prefix}]")
        nested = []
        for k, v in table.items():
            if isinstance(v, Mapping):
                nested.append((f"{prefix}.{json.dumps(k)}", v))
            else:
                lines.append(f"{k} = {_toml_value(v)}")
        for p, t in nested:
            emit_table(p, t)

    for k, t in tables:
        emit_table(k, t)
    for k, items in arrays:
        for item in items:
            lines.append(f"\n[[{k}]]")
            for ik, iv in item.items():
                lines.append(f"{ik} = {_toml_value(iv)}")
    return "\n".join(lines) + "\n"


def write_config(path: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as the TOML file ``path``, with loopback allowed and the
    actors file of the repository unless ``data`` says otherwise."""
    data = dict(data)
    data.setdefault("network", {"allow": LOOPBACK_ALLOW})
    data.setdefault("actors_file", str(REPO / "config" / "actors.toml"))
    path.write_text(to_toml(data), encoding="utf-8")
    return path


# ---------------------------------------------------------------- processes


def monitor_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", "--config", str(config), *args]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child monitor: ours, minus anything that could
    point it elsewhere, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


class WorkerProcess:
    """One `monitor run` in its own process, its output in ``log``."""

    def __init__(self, config: Path, *, env: Mapping[str, str] | None = None, log: Path,
                 args: Iterable[str] = ("run", "--no-replay")):
        self.config = config
        self.log = log
        self._env = child_env(env)
        self._args = tuple(args)
        self.proc: subprocess.Popen[bytes] | None = None
        self._out = None
        #: processes of the worker's group still alive after it exited
        self.leftovers = 0
        #: SIGTERMs sent: a second one means "exit at once" to monitor
        self.terms = 0

    def start(self) -> "WorkerProcess":
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            monitor_command(self.config, *self._args), env=self._env, stdout=self._out,
            stderr=subprocess.STDOUT, cwd=self.config.parent, start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.running():
            self.proc.send_signal(sig)  # type: ignore[union-attr]

    def terminate(self) -> None:
        self.terms += 1
        self.signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL the worker and every process it started (its parse
        processes share its process group): a machine or container dying."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def output(self) -> str:
        if self._out is not None:
            self._out.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def json_lines(self) -> list[dict[str, Any]]:
        """The log lines of a ``[logging] format = "json"`` run (others skipped)."""
        out = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM (unless one was sent already), then SIGKILL if it does not
        exit within ``timeout``.  Returns the exit code."""
        if self.proc is None:
            return None
        if self.running():
            if not self.terms:
                self.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.proc.wait(5)
        self.leftovers = self._end_group()
        if self._out is not None:
            self._out.close()
            self._out = None
        return self.proc.returncode

    def _end_group(self) -> int:
        """Kill whatever is left of the worker's process group once it has
        exited (its own children: a clean exit leaves none).  Returns how many
        there were."""
        assert self.proc is not None
        # multiprocessing's resource tracker exits once its parent's end of
        # the pipe closes, a moment after the parent: give it that moment
        deadline = time.monotonic() + 3.0
        while (left := group_members(self.proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        if left:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(left)

    def __enter__(self) -> "WorkerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_members(pgid: int) -> list[int]:
    """Live processes in process group ``pgid`` (Linux /proc; zombies left out)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state ppid pgrp ...
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry))
    return out


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1,
             processes: Iterable[WorkerProcess] = ()) -> Any:
    """Poll ``predicate`` until it is truthy; fail with ``what`` (and the
    output of any worker that died) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    procs = list(processes)
    while True:
        value = predicate()
        if value:
            return value
        for p in procs:
            if p.proc is not None and p.proc.poll() is not None and p.proc.returncode not in (0, -9):
                raise AssertionError(f"{what}: worker {p.pid} exited with {p.proc.returncode}:\n{p.output()[-3000:]}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- worker {p.pid}:\n{p.output()[-2000:]}" for p in procs)
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tails}")
        time.sleep(interval)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
