"""How fast is monitor's whole pipeline, against feedparser and `reader`?

Usage::

    python -m benchmarks.pipeline              # defaults: 150 feeds, 1M-entry load: about 8 minutes
    python -m benchmarks.pipeline --quick      # a smoke run in well under a minute
    python -m benchmarks.pipeline --feeds 500 --repeats 5 --preload 0
    python -m benchmarks.pipeline --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python -m benchmarks.pipeline --profile cold    # py-spy over monitor's cold ingest, top printed

A corpus of news feeds (:mod:`benchmarks.corpus`) is served by a separate
server process on 127.0.0.1 (:mod:`benchmarks.server`), and each system runs
in a child process of its own, one after the other, so CPU times and peak
RSS are each system's alone.  Measured, in one run:

1. **cold ingest** -- every feed new, a fresh database: entries/s through the
   whole pipeline (claim, fetch, parse, store, dedup, stories, matching a few
   watches, alerts into the outbox);
2. **steady state** -- 20% of the feeds gained 3 entries, the rest answer
   304: feeds/s;
3. **all unchanged** -- every feed answers 304: feeds/s and CPU ms per feed
   (monitor's process and its parse workers);
4. **unchanged without validators** -- the server sends no ETag or
   Last-Modified and answers 200 with the bytes of last time: feeds/s;
5. **baselines** on the same bytes: bare ``feedparser.parse`` with its
   defaults (entries/s, one process), and the ``reader`` library's
   ``update_feeds()`` against the same server (cold, 304, no validators);
6. **steady state at 1M entries** -- the same database after a bulk load of
   ``--preload`` old entries (with their articles and stories): the steady
   figure again, to show cost per feed does not grow with the database.

Every figure is the median with min-max over ``--repeats``; ratios are of
medians.  The projection is steady-state feeds/s x 900 s: feeds this machine
can poll every 15 minutes at that mix (loopback: network latency is hidden by
concurrency, not measured).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.corpus import WATCH_PLACES
from benchmarks.server import ServerControl, ServerProcess

#: the steady-state mix of the issue: this share of feeds changed, a few new entries each
CHANGED_SHARE = 0.2
NEW_PER_CHANGED = 3
#: simulated time between cycles: more than interval + jitter (15 min + 10%), so every feed is due
CYCLE = timedelta(hours=1)


@dataclass
class Options:
    feeds: int = 150
    #: cycles of each re-poll phase (steady, 304, no validators, loaded)
    repeats: int = 5
    #: cold runs (each a fresh database; the baselines take turns with it)
    cold_repeats: int | None = 3
    seed: int = 1
    db: str | None = None
    preload: int = 1_000_000
    concurrency: int = 16
    parse_workers: int | None = None  # None: the pipeline's default
    reader: bool = True
    reader_workers: int = 16
    #: reader re-parses every 200-same-bytes feed (~6 feeds/s): a subset keeps it short
    reader_novalid_feeds: int = 30
    profile: str | None = None
    workdir: str = ""
    quick: bool = False
    json: str | None = None


# ------------------------------------------------------------------- helpers


def median_range(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def tree_cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) of a process and its live descendants (Linux /proc)."""
    pid = pid or os.getpid()
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def thread_cpu(tid: int | None = None) -> float:
    """CPU seconds of one thread of this process (default: the main thread,
    where the pipeline's single writer runs)."""
    tid = tid or os.getpid()
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> tuple[float, list[float]]:
    """Peak RSS (VmHWM) in MB of this process and of each live child (the parse processes)."""

    def hwm(pid: int | str) -> float:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    children = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            for pid in f.read().split():
                try:
                    children.append(hwm(pid))
                except FileNotFoundError:
                    pass
    return hwm("self"), children


def run_in_child(fn_name: str, *args):
    """Run ``fn_name(*args)`` of this module in a fresh spawned process."""
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child_main, args=(fn_name, args, send))
    proc.start()
    send.close()
    try:
        ok, value = recv.recv()
    except EOFError:
        proc.join()
        raise RuntimeError(f"{fn_name}: the child process died (exit code {proc.exitcode})") from None
    proc.join()
    if not ok:
        raise RuntimeError(f"{fn_name} failed in its child process:\n{value}")
    return value


def _child_main(fn_name: str, args: tuple, send) -> None:
    try:
        send.send((True, globals()[fn_name](*args)))
    except BaseException:  # noqa: BLE001 - reported to the parent
        send.send((False, traceback.format_exc()))


class Profiler:
    """py-spy sampling this process (all threads and its child processes)."""

    def __init__(self, out: Path | None):
        self.out = out
        self.proc = None

    def __enter__(self):
        if self.out is not None and shutil.which("py-spy"):
            import subprocess

            self.proc = subprocess.Popen(
                ["py-spy", "record", "--pid", str(os.getpid()), "--subprocesses", "--threads", "--format", "raw",
                 "--rate", "250", "-o", str(self.out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # py-spy attaches
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            import signal

            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)


#: libraries whose share of a profile is shown as one line, "[sqlalchemy]"
LIBRARIES = ("sqlalchemy", "sqlmodel", "httpx", "httpcore", "feedparser", "lxml", "h11")


def profile_top(path: Path, limit: int = 16, main_pid: int | None = None) -> str:
    """The top of a py-spy raw profile (``--threads``), per thread group:
    the writer (main thread), the fetch threads, and child processes.  For
    each, monitor's functions and a few libraries ("[sqlalchemy]": samples
    anywhere inside it) with the largest inclusive share, then the largest
    self times, as % of all busy samples."""
    from collections import Counter

    groups: dict[str, tuple[Counter[str], Counter[str], list[int]]] = {}
    main = f"process {main_pid}" if main_pid else None
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count = int(n)
        total += count
        proc = "?"
        if stack.startswith("process "):  # 'process PID:"command line";...': the command line may hold ';'
            end = stack.find('";')
            proc, stack = stack.split(":", 1)[0], stack[end + 2:] if end >= 0 else ""
        frames = stack.split(";")
        main = main or proc
        thread = next((f for f in frames[:3] if f.startswith("thread (")), "thread (?): ?")
        tname = thread.split(": ", 1)[-1]
        if proc != main:
            group = "parse worker processes"
        elif tname == "MainThread":
            group = "writer (main thread)"
        else:
            group = "fetch threads"
        names = []
        for f in frames:
            if f.startswith(("process ", "thread (")):
                continue
            fn, _, where = f.rpartition(" (")
            filename = where.rstrip(")").rsplit(":", 1)[0]
            mod = filename.split("site-packages/")[-1].split("python3.11/")[-1].removesuffix(".py")
            names.append(f"{mod}:{fn}")
        if names and names[-1] == "concurrent/futures/thread:_worker":
            total -= count  # an idle pool thread waiting for work (py-spy cannot always tell)
            continue
        incl, own, cnt = groups.setdefault(group, (Counter(), Counter(), [0]))
        cnt[0] += count
        if names:
            own[names[-1]] += count
            for name in set(names):
                incl[name] += count
            for lib in {n.split("/", 1)[0].split(":", 1)[0] for n in names if not n.startswith("monitor/")}:
                if lib in LIBRARIES:
                    incl[f"[{lib}]"] += count
    if not total:
        return "(no samples)"
    skip = ("multiprocessing/", "benchmarks/", "<string>", "threading:", "concurrent/futures/", "monitor/pipeline:")
    out = [f"{total} busy samples (py-spy, 250 Hz, idle pool threads left out); % of them, inclusive | self"]
    for group, (incl, own, cnt) in sorted(groups.items(), key=lambda g: -g[1][2][0]):
        out.append(f"[{group}] {100 * cnt[0] / total:.1f}%")
        shown = 0
        for name, k in incl.most_common():
            if name.startswith(skip) or not name.startswith(("monitor/", "[")):
                continue
            out.append(f"  {100 * k / total:5.1f} {100 * own[name] / total:5.1f}  {name}")
            shown += 1
            if shown >= limit:
                break
        selfs = ", ".join(f"{name} {100 * k / total:.1f}" for name, k in own.most_common(6))
        out.append(f"  self: {selfs}")
    return "\n".join(out)


# ------------------------------------------------------------- the baselines
#
# Each cold run is a child process of its own, and the three systems take
# turns (feedparser, reader, monitor, then again): on a machine shared with
# other work, a ratio of two figures measured minutes apart measures the
# neighbours as much as the code.


def feedparser_once(base: str) -> dict:
    """Bare ``feedparser.parse`` with its defaults over every feed's bytes, once."""
    import feedparser

    ctl = ServerControl(base)
    bodies = [ctl.body(i) for i in range(len(ctl.listing()))]
    t0 = time.perf_counter()
    entries = sum(len(feedparser.parse(io.BytesIO(b)).entries) for b in bodies)
    return {"entries": entries, "bytes": sum(map(len, bodies)), "eps": entries / (time.perf_counter() - t0)}


def _reader_or_reason():
    try:
        from reader import make_reader
    except ImportError as e:
        return None, f"reader is not installed ({e}); pip install reader"
    import logging

    logging.getLogger("reader").setLevel(logging.CRITICAL)  # it logs every feed's outcome
    return make_reader, None


def reader_cold(base: str, opts: Options, workdir: str, k: int) -> dict:
    """``reader``'s update_feeds() into a new database: entries/s."""
    make_reader, why = _reader_or_reason()
    if make_reader is None:
        return {"skipped": why}
    urls = ServerControl(base).urls()
    path = os.path.join(workdir, f"reader-cold-{k}.sqlite")
    r = make_reader(path)
    for u in urls:
        r.add_feed(u)
    t0 = time.perf_counter()
    r.update_feeds(workers=opts.reader_workers, scheduled=False)
    elapsed = time.perf_counter() - t0
    n = r.get_entry_counts().total
    r.close()
    return {"eps": n / elapsed, "entries": n, "db": path}


def reader_rest(base: str, opts: Options, workdir: str, db: str) -> dict:
    """``reader`` again over its last cold database: every feed 304; then,
    on a subset, 200 with the same bytes (it parses each such feed again)."""
    make_reader, why = _reader_or_reason()
    if make_reader is None:
        return {"skipped": why}
    ctl = ServerControl(base)
    urls = ctl.urls()
    out: dict = {"notmod_fps": [], "novalid_fps": [], "workers": opts.reader_workers}
    r = make_reader(db)
    for _ in range(opts.repeats):
        t0 = time.perf_counter()
        r.update_feeds(workers=opts.reader_workers, scheduled=False)
        out["notmod_fps"].append(len(urls) / (time.perf_counter() - t0))
    r.close()
    subset = urls[: opts.reader_novalid_feeds]
    r = make_reader(os.path.join(workdir, "reader-novalid.sqlite"))
    for u in subset:
        r.add_feed(u)
    r.update_feeds(workers=opts.reader_workers, scheduled=False)
    ctl.validators(False)
    try:
        for _ in range(opts.repeats):
            t0 = time.perf_counter()
            r.update_feeds(workers=opts.reader_workers, scheduled=False)
            out["novalid_fps"].append(len(subset) / (time.perf_counter() - t0))
    finally:
        ctl.validators(True)
    out["novalid_feeds"] = len(subset)
    r.close()
    return out


# ------------------------------------------------------------------- monitor


WATCHES = [
    {"name": "homs", "kind": "city", "city": "Homs"},
    {"name": "mosul", "kind": "city", "city": "Mosul"},
    {"name": "cholera", "aliases": ["cholera"]},
    {"name": "benghazi-floods", "rule": '"Benghazi" NEAR/20 (flood OR floods OR dam)'},
    {"name": "taiz", "aliases": [WATCH_PLACES[3]]},
]


def _fresh_db(opts: Options, workdir: str, tag: str) -> str:
    if not opts.db:
        path = Path(workdir) / f"monitor-{tag}.db"
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
        return f"sqlite:///{path}"
    if opts.db.startswith("postgresql"):
        import psycopg

        schema = f"bench_{tag.replace('-', '_')}_{os.getpid()}"
        dsn = opts.db.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in opts.db else "?"
        return f"{opts.db}{sep}options=-csearch_path%3D{schema}"
    raise SystemExit(f"benchmark: --db must be a postgresql URL (SQLite is the default): {opts.db}")


def _drop_db(opts: Options, url: str) -> None:
    if opts.db and "search_path%3D" in url:
        import psycopg

        schema = url.rsplit("search_path%3D", 1)[1]
        with psycopg.connect(opts.db.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _make_app(opts: Options, workdir: str, db_url: str, urls: list[str]):
    from monitor.app import App
    from monitor.config import settings_from_dict

    repo_root = Path(__file__).resolve().parents[1]
    poll = {
        "concurrency": opts.concurrency,
        # every benchmark feed is on one host (127.0.0.1); real feeds are spread over
        # thousands, where the per-host cap does not bind
        "per_host": opts.concurrency,
    }
    if opts.parse_workers is not None:
        poll["parse_processes"] = opts.parse_workers
    settings = settings_from_dict(
        {
            "database": {"url": db_url},
            "network": {"allow": ["127.0.0.1/32"]},
            "poll": poll,
            "feeds": [{"name": f"feed-{i}", "url": u, "source": f"outlet-{i}"} for i, u in enumerate(urls)],
            "watches": WATCHES,
            "actors_file": str(repo_root / "config" / "actors.toml"),
            "digest": {"enabled": False},
        },
        source="benchmark", root=Path(workdir), env={},
    )
    app = App(settings)
    pipeline = app.pipeline
    if opts.parse_workers is not None and pipeline.policy.parse_processes != opts.parse_workers:
        # until the App passes poll.parse_processes on to the pipeline
        import dataclasses

        pipeline.policy = dataclasses.replace(pipeline.policy, parse_processes=opts.parse_workers)
        pipeline._parse_n = pipeline._parse_processes()
    return app


def _cycle(app, now: datetime) -> tuple[float, dict[str, int], int]:
    t0 = time.perf_counter()
    outcomes = app.pipeline.poll_due(now)
    elapsed = time.perf_counter() - t0
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    return elapsed, statuses, sum(o.new for o in outcomes)


class _Tracker:
    """Statuses, errors and peak RSS over a child's cycles."""

    def __init__(self, out: dict):
        self.out = out
        out.setdefault("statuses", {})
        out.setdefault("errors", [])
        out["rss_mb"], out["rss_children_mb"], out["parse_processes"] = 0.0, 0.0, 0

    def note(self, phase: str, statuses: dict[str, int]) -> None:
        out = self.out
        out["statuses"].setdefault(phase, []).append(statuses)
        if statuses.get("error"):
            out["errors"].append(f"{phase}: {statuses['error']} feed(s) failed")
        own, children = peak_rss_mb()  # the parse processes are alive until app.close()
        out["rss_mb"] = max(out["rss_mb"], own)
        out["rss_children_mb"] = max(out["rss_children_mb"], sum(children))
        out["parse_processes"] = max(out["parse_processes"], len(children))


def monitor_cold(base: str, opts: Options, workdir: str, k: int, now_iso: str, keep: bool) -> dict:
    """Phase 1: every feed new, into a fresh database: entries/s through the
    whole pipeline.  ``keep``: leave the database for :func:`monitor_phases`."""
    import logging

    from sqlalchemy import func, select
    from sqlmodel import Session

    from monitor.store import repo
    from monitor.store.models import Alert, Article, Story, WatchMatch

    logging.basicConfig(level=logging.WARNING)
    now = datetime.fromisoformat(now_iso)
    urls = ServerControl(base).urls()
    out: dict = {}
    track = _Tracker(out)
    db_url = _fresh_db(opts, workdir, f"cold-{k}")
    app = _make_app(opts, workdir, db_url, urls)
    app.sync_feeds(now)
    prof = Path(workdir) / "profile-cold.txt" if opts.profile == "cold" and keep else None
    with Profiler(prof):
        cpu0, main0 = tree_cpu(), thread_cpu()
        elapsed, statuses, _new = _cycle(app, now)
        cpu, main = tree_cpu() - cpu0, thread_cpu() - main0
    track.note("cold", statuses)
    with Session(app.engine) as s:
        out["entries"] = repo.count_entries(s)
        for key, model in (("articles", Article), ("stories", Story), ("matches", WatchMatch), ("alerts", Alert)):
            out[key] = s.execute(select(func.count()).select_from(model)).scalar()
    out["eps"] = out["entries"] / elapsed
    out["cpu_ms"], out["main_ms"] = 1000 * cpu / out["entries"], 1000 * main / out["entries"]
    if prof is not None and prof.exists():
        out["profile"] = profile_top(prof, main_pid=os.getpid())
    app.close()
    out["db"] = db_url
    if not keep:
        _drop_db(opts, db_url)
    return out


def monitor_phases(base: str, opts: Options, workdir: str, db_url: str, now_iso: str) -> dict:
    """Phases 2-4 and 6 on the database the last cold run left."""
    import logging

    from sqlmodel import Session

    from monitor.store import repo

    logging.basicConfig(level=logging.WARNING)
    ctl = ServerControl(base)
    urls = ctl.urls()
    n = len(urls)
    out: dict = {"steady_fps": [], "notmod_fps": [], "notmod_cpu_ms": [], "novalid_fps": [], "loaded_fps": [],
                 "steady_cpu_ms": [], "steady_main_ms": [], "loaded_cpu_ms": [], "loaded_main_ms": []}
    track = _Tracker(out)
    now = datetime.fromisoformat(now_iso)
    prof_dir = Path(workdir)

    def warm_up(app) -> None:
        # a new App warms its dedup indexes from the database on its first
        # changed feed: a start-up cost, kept out of the figures
        nonlocal now
        ctl.change(CHANGED_SHARE, NEW_PER_CHANGED)
        now += CYCLE
        _cycle(app, now)

    def steady(app, key: str, phase: str) -> None:
        nonlocal now
        for k in range(opts.repeats):
            changed = ctl.change(CHANGED_SHARE, NEW_PER_CHANGED)
            now += CYCLE
            prof = (prof_dir / f"profile-{phase}.txt" if opts.profile == phase and k == opts.repeats - 1 else None)
            with Profiler(prof):
                cpu0, main0 = tree_cpu(), thread_cpu()
                elapsed, statuses, _new = _cycle(app, now)
                cpu, main = tree_cpu() - cpu0, thread_cpu() - main0
            track.note(phase, statuses)
            out[key].append(n / elapsed)
            out[f"{phase}_cpu_ms"].append(1000 * cpu / n)
            out[f"{phase}_main_ms"].append(1000 * main / n)
            out[f"{phase}_changed"] = changed
            if prof is not None and prof.exists():
                out["profile"] = profile_top(prof, main_pid=os.getpid())

    app = _make_app(opts, workdir, db_url, urls)
    warm_up(app)

    # 2. steady state: 20% changed, the rest 304
    steady(app, "steady_fps", "steady")

    # 3. all unchanged: 304 everywhere
    for k in range(opts.repeats):
        now += CYCLE
        prof = prof_dir / "profile-notmod.txt" if opts.profile == "notmod" and k == opts.repeats - 1 else None
        with Profiler(prof):
            cpu0 = tree_cpu()
            elapsed, statuses, _new = _cycle(app, now)
            cpu = tree_cpu() - cpu0
        if prof is not None and prof.exists():
            out["profile"] = profile_top(prof, main_pid=os.getpid())
        track.note("notmod", statuses)
        out["notmod_fps"].append(n / elapsed)
        out["notmod_cpu_ms"].append(1000 * cpu / n)

    # 4. no validators: 200 with the same bytes
    ctl.validators(False)
    try:
        for _ in range(opts.repeats):
            now += CYCLE
            elapsed, statuses, _new = _cycle(app, now)
            track.note("novalid", statuses)
            out["novalid_fps"].append(n / elapsed)
    finally:
        ctl.validators(True)

    # 6. the same steady state with a big database
    if opts.preload:
        app.close()
        t0 = time.perf_counter()
        loaded = run_in_child("bulk_load", db_url, opts.preload, opts.seed)
        out["preload"] = {"entries": loaded, "seconds": time.perf_counter() - t0}
        # a daemon meeting a big database: started on it, warmed up (it
        # reads the dedup window only), then measured
        app = _make_app(opts, workdir, db_url, urls)
        with Session(app.engine) as s:
            out["preload"]["total_entries"] = repo.count_entries(s)
        warm_up(app)
        steady(app, "loaded_fps", "loaded")
    app.close()
    _drop_db(opts, db_url)
    return out


# -------------------------------------------------------------- the 1M load


def bulk_load(db_url: str, count: int, seed: int) -> int:
    """Insert ``count`` old entries (each its own article; four articles a
    story) spread over the benchmark's feeds, in bulk: what a database looks
    like after months of polling.  Dated before the dedup window, so they
    weigh on the indexes and tables, not on the in-memory window."""
    import hashlib
    import random

    from sqlalchemy import func, select
    from sqlmodel import Session

    from monitor.store.db import is_sqlite, make_engine
    from monitor.store.models import Article, Entry, Feed, PollLog, Story

    engine = make_engine(db_url)
    with Session(engine) as s:
        feed_ids = list(s.execute(select(Feed.id)).scalars())
        base_article = (s.execute(select(func.max(Article.id))).scalar() or 0) + 1
        base_story = (s.execute(select(func.max(Story.id))).scalar() or 0) + 1
        base_entry = (s.execute(select(func.max(Entry.id))).scalar() or 0) + 1
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=400)
    words = "council said water power market talks border court road report city police week minister".split()

    def when(i: int) -> datetime:  # spread evenly over a year, up to 30 days ago
        return start + timedelta(seconds=i * (370 * 86400 / count))

    def stories(lo: int, hi: int):
        for j in range(lo, hi, 4):
            w = when(j)
            yield dict(id=base_story + j // 4, title=f"story {j // 4}", first_seen=w, last_updated=w,
                       article_count=4, source_count=3, lead="")

    def articles(lo: int, hi: int):
        for i in range(lo, hi):
            w = when(i)
            h = hashlib.sha256(i.to_bytes(8, "little")).hexdigest()
            yield dict(id=base_article + i, first_entry_id=base_entry + i, title=f"old headline {i}",
                       canonical_url=f"https://old{i % 997}.example/a/{i}", content_hash=h, source=f"outlet-{i % 997}",
                       first_seen=w, when=w, story_id=base_story + i // 4, story_similarity=0.5, story_reason="bulk",
                       sightings=1)

    def entries(lo: int, hi: int):
        for i in range(lo, hi):
            w = when(i)
            text = " ".join(rng.choice(words) for _ in range(40))
            yield dict(id=base_entry + i, feed_id=feed_ids[i % len(feed_ids)], key=f"bulk:{i}",
                       url=f"https://old{i % 997}.example/a/{i}", canonical_url=f"https://old{i % 997}.example/a/{i}",
                       title=f"old headline {i}", summary=text[:120], content_text=text, content_html="",
                       author=None, published=w, updated=None, first_seen=w, last_seen=w,
                       entry_hash=hashlib.sha256(f"e{i}".encode()).hexdigest(),
                       content_hash=hashlib.sha256(i.to_bytes(8, "little")).hexdigest(),
                       article_id=base_article + i, dup_kind=None, dup_of_entry_id=None, dup_similarity=None,
                       processed_at=w)

    def polls(lo: int, hi: int):
        for i in range(lo, hi, 5):  # one poll row per five entries
            yield dict(feed_id=feed_ids[i % len(feed_ids)], at=when(i), status="ok", http_status=200, new=5,
                       updated=0, error=None, duration=0.05, worker="bulk")

    tables = [(Story.__table__, stories), (Article.__table__, articles), (Entry.__table__, entries),
              (PollLog.__table__, polls)]
    step = 50_000
    if is_sqlite(engine):
        _sqlite_bulk(engine, tables, count, step)
    else:
        _postgres_bulk(engine, tables, count, step)
    engine.dispose()
    return count


def _utc_naive(v):
    """Values as monitor's UTCDateTime stores them: naive UTC."""
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def _postgres_bulk(engine, tables, count: int, step: int) -> None:
    """COPY, the fastest way into PostgreSQL; then the id sequences are moved
    past the ids written, as inserts through the sequence would have."""
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            for lo in range(0, count, step):
                for table, gen in tables:
                    rows = gen(lo, min(lo + step, count))
                    first = next(rows, None)
                    if first is None:
                        continue
                    cols = list(first)
                    names = ", ".join(f'"{c}"' for c in cols)
                    with cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                        for r in _chain(first, rows):
                            copy.write_row([_utc_naive(r[c]) for c in cols])
                conn.commit()
            for t in ("story", "article", "entry", "poll_log"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
            cur.execute("ANALYZE")
        conn.commit()
    finally:
        raw.close()


def _sqlite_bulk(engine, tables, count: int, step: int) -> None:
    """Raw sqlite3 executemany: the ORM and even Core cost 30-110 us a row
    (issue 8); the DB-API with values already in SQLAlchemy's storage format
    (naive UTC as 'YYYY-MM-DD HH:MM:SS.ffffff') is several times cheaper."""

    def conv(v):
        if isinstance(v, datetime):
            return _utc_naive(v).strftime("%Y-%m-%d %H:%M:%S.%f")
        return v

    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA cache_size=-200000")  # 200 MB of page cache for the index builds
        for lo in range(0, count, step):
            cur.execute("BEGIN")
            for table, gen in tables:
                rows = gen(lo, min(lo + step, count))
                first = next(rows, None)
                if first is None:
                    continue
                cols = list(first)
                names = ", ".join(f'"{c}"' for c in cols)  # "when" is an SQL keyword
                sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' * len(cols))})"
                cur.executemany(sql, ([conv(r[c]) for c in cols] for r in _chain(first, rows)))
            cur.execute("COMMIT")
        cur.execute("ANALYZE")
        cur.close()
    finally:
        raw.close()


def _chain(first, rest):
    yield first
    yield from rest


# -------------------------------------------------------------------- report


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _figure(label: str, values: list[float], unit: str) -> str:
    med, lo, hi = median_range(values)
    return f"  {label:<44} {_fmt(med):>10}  ({_fmt(lo)}-{_fmt(hi)})  {unit}"


def report(opts: Options, corpus: dict, fp: dict, rd: dict, mon: dict, total_seconds: float) -> str:
    lines = []
    med = lambda xs: statistics.median(xs)  # noqa: E731
    lines.append(
        f"corpus: {corpus['feeds']} feeds ({corpus['rss']} RSS 2.0, {corpus['atom']} Atom 1.0, {corpus['gzip']} "
        f"gzip), {corpus['entries']:,} entries, {corpus['bytes'] / 2**20:.1f} MiB; repeats {opts.repeats} "
        f"(cold {opts.cold_repeats or opts.repeats}); "
        f"database {'PostgreSQL' if opts.db else 'SQLite'}; {os.cpu_count()} CPUs"
    )
    lines.append("figures: median (min-max)")
    lines.append(_figure("1. cold ingest, monitor", mon["cold_eps"], "entries/s"))
    lines.append(_figure("   CPU, all monitor processes", mon["cold_cpu_ms"], "ms/entry"))
    lines.append(_figure("   CPU, writer thread", mon["cold_main_ms"], "ms/entry"))
    lines.append(_figure("2. steady state (20% changed, 80% 304), monitor", mon["steady_fps"], "feeds/s"))
    lines.append(_figure("   CPU, all monitor processes", mon["steady_cpu_ms"], "ms/feed"))
    lines.append(_figure("   CPU, writer thread", mon["steady_main_ms"], "ms/feed"))
    lines.append(_figure("3. all unchanged (304), monitor", mon["notmod_fps"], "feeds/s"))
    lines.append(_figure("3. all unchanged (304), monitor CPU", mon["notmod_cpu_ms"], "ms/feed"))
    lines.append(_figure("4. no validators (200, same bytes), monitor", mon["novalid_fps"], "feeds/s"))
    lines.append(_figure("5. bare feedparser.parse (defaults)", fp["eps"], "entries/s"))
    if "skipped" in rd:
        lines.append(f"  5. reader: skipped: {rd['skipped']}")
    else:
        lines.append(_figure(f"5. reader cold update_feeds(workers={rd['workers']})", rd["cold_eps"], "entries/s"))
        lines.append(_figure("5. reader all unchanged (304)", rd["notmod_fps"], "feeds/s"))
        lines.append(_figure(f"5. reader no validators ({rd['novalid_feeds']} feeds)", rd["novalid_fps"], "feeds/s"))
    if mon.get("loaded_fps"):
        pre = mon["preload"]
        lines.append(_figure(f"6. steady state after loading {pre['entries']:,} entries", mon["loaded_fps"],
                             "feeds/s"))
        lines.append(_figure("   CPU, all monitor processes", mon["loaded_cpu_ms"], "ms/feed"))
        lines.append(_figure("   CPU, writer thread", mon["loaded_main_ms"], "ms/feed"))
        lines.append(f"     (bulk load took {pre['seconds']:.0f} s; {pre['total_entries']:,} entries in the database)")
    lines.append(
        f"cold ingest stored {mon['entries']:,} entries -> {mon['articles']:,} articles, {mon['stories']:,} stories, "
        f"{mon['matches']:,} watch matches, {mon['alerts']:,} alerts queued"
    )
    # what the server answered, cycle by cycle: the phases are what they say
    for phase, label in (("steady", "steady state"), ("notmod", "all unchanged"), ("novalid", "no validators"),
                         ("loaded", "after the load")):
        cycles = mon["statuses"].get(phase)
        if cycles:
            shown = "; ".join(", ".join(f"{k} {v}" for k, v in sorted(c.items())) for c in cycles)
            lines.append(f"  outcomes, {label}: {shown}")
    lines.append("ratios (of medians) against the targets:")

    def ratio(label: str, num: float, den: float, target: float, more: str = "") -> None:
        r = num / den if den else float("inf")
        lines.append(f"  {label:<44} {r:8.2f}x  target >= {target:g}x  {'met' if r >= target else 'NOT MET'}{more}")

    cold = med(mon["cold_eps"])
    ratio("cold ingest / bare feedparser", cold, med(fp["eps"]), 1.0)
    if "skipped" not in rd:
        ratio("cold ingest / reader", cold, med(rd["cold_eps"]), 2.0)
        ratio("all unchanged (304) / reader", med(mon["notmod_fps"]), med(rd["notmod_fps"]), 2.0)
        ratio("no validators / reader", med(mon["novalid_fps"]), med(rd["novalid_fps"]), 20.0)
    if mon.get("loaded_fps"):
        r = med(mon["steady_fps"]) / med(mon["loaded_fps"])
        size = format(mon["preload"]["total_entries"], ",")
        lines.append(f"  {'steady empty / steady at ' + size + ' entries':<44} "
                     f"{r:8.2f}x  target <= 1.5x  {'met' if r <= 1.5 else 'NOT MET'}")
        r = med(mon["loaded_main_ms"]) / med(mon["steady_main_ms"])
        lines.append(f"  {'  same, writer CPU per feed (loaded / empty)':<44} {r:8.2f}x")
    proj = med(mon["steady_fps"]) * 900
    rss_total = mon["rss_mb"] + mon["rss_children_mb"]
    lines.append(
        f"projection: {proj:,.0f} feeds per 15 min at the steady-state mix (target >= 100,000: "
        f"{'met' if proj >= 100_000 else 'NOT MET'})"
    )
    # what the CPU figures allow when monitor has the machine to itself: all
    # cores busy, or the writer thread busy, whichever comes first
    cpus = os.cpu_count() or 1
    by_cores = cpus * 1000 / med(mon["steady_cpu_ms"])
    by_writer = 1000 / med(mon["steady_main_ms"])
    lines.append(
        f"  CPU-bound estimate for an idle machine: {900 * min(by_cores, by_writer):,.0f} feeds per 15 min "
        f"({by_cores:,.0f} feeds/s on {cpus} cores, {by_writer:,.0f} feeds/s on the writer thread: the lower counts)"
    )
    lines.append(
        f"peak RSS: {rss_total:.0f} MB = monitor process {mon['rss_mb']:.0f} MB + {mon['parse_processes']} parse "
        f"process(es) {mon['rss_children_mb']:.0f} MB (target < 1 GB: {'met' if rss_total < 1024 else 'NOT MET'})"
    )
    for e in mon["errors"]:
        lines.append(f"warning: {e}")
    if mon.get("profile"):
        lines.append(f"profile ({opts.profile}):")
        lines.append(mon["profile"])
    lines.append(f"total run time {total_seconds:.0f} s; load average (1 min) at the end {mon['load_average']:.1f} "
                 f"on {os.cpu_count()} CPUs (other work on the machine slows every figure)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: 24 feeds, 2 repeats, no 1M load")
    ap.add_argument("--feeds", type=int)
    ap.add_argument("--repeats", type=int, help="cycles of each re-poll phase (default 5)")
    ap.add_argument("--cold-repeats", type=int, help="cold ingest runs, each with the baselines (default 3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", help="a PostgreSQL URL (default: a SQLite file in a temporary directory)")
    ap.add_argument("--preload", type=int, help="entries bulk-loaded before the last steady-state figure "
                                                "(default 1,000,000; 0 skips)")
    ap.add_argument("--concurrency", type=int, default=16, help="poll.concurrency (fetch threads)")
    ap.add_argument("--parse-workers", type=int, help="parse processes (default: the pipeline's choice)")
    ap.add_argument("--reader-workers", type=int, default=16)
    ap.add_argument("--no-reader", action="store_true", help="skip the reader baseline")
    ap.add_argument("--profile", choices=["cold", "steady", "notmod", "loaded"], help="py-spy over that monitor phase")
    ap.add_argument("--json", help="also write the raw figures to this file")
    ap.add_argument("--keep", help="work in this directory and keep it (databases, profiles)")
    args = ap.parse_args(argv)

    opts = Options(seed=args.seed, db=args.db, concurrency=args.concurrency, parse_workers=args.parse_workers,
                   reader=not args.no_reader, reader_workers=args.reader_workers, profile=args.profile,
                   quick=args.quick, json=args.json)
    if args.quick:
        opts.feeds, opts.repeats, opts.cold_repeats, opts.preload, opts.reader_novalid_feeds = 24, 2, 1, 0, 4
    opts.feeds = args.feeds or opts.feeds
    opts.repeats = args.repeats or opts.repeats
    opts.cold_repeats = args.cold_repeats or opts.cold_repeats
    if args.preload is not None:
        opts.preload = args.preload

    t_start = time.perf_counter()
    workdir = args.keep or tempfile.mkdtemp(prefix="monitor-bench-")
    os.makedirs(workdir, exist_ok=True)
    opts.workdir = workdir
    try:
        with ServerProcess(feeds=opts.feeds, seed=opts.seed) as srv:
            listing = srv.listing()
            corpus = {
                "feeds": len(listing),
                "rss": sum(f["kind"] != "atom" for f in listing),
                "atom": sum(f["kind"] == "atom" for f in listing),
                "gzip": sum(f["gzip"] for f in listing),
                "entries": sum(f["entries"] for f in listing),
            }
            print(f"server: pid {srv.proc.pid} on {srv.base}; working in {workdir}; "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            # the clock of the simulated cycles: the corpus is dated up to the server's start
            now_iso = (datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)).isoformat()
            fp: dict = {"eps": []}
            rd: dict = {"cold_eps": []} if opts.reader else {"skipped": "--no-reader"}
            colds: list[dict] = []
            cold_repeats = opts.cold_repeats or opts.repeats
            for k in range(cold_repeats):  # the systems take turns: see "the baselines"
                one = run_in_child("feedparser_once", srv.base)
                fp["eps"].append(one["eps"])
                fp["entries"], corpus["bytes"] = one["entries"], one["bytes"]
                if opts.reader:
                    got = run_in_child("reader_cold", srv.base, opts, workdir, k)
                    if "skipped" in got:
                        rd = got
                    else:
                        rd["cold_eps"].append(got["eps"])
                        rd["entries"], rd["db"] = got["entries"], got["db"]
                colds.append(run_in_child("monitor_cold", srv.base, opts, workdir, k, now_iso,
                                          k == cold_repeats - 1))
                print(f"cold run {k + 1}/{cold_repeats} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
            if opts.reader and "skipped" not in rd:
                rd.update(run_in_child("reader_rest", srv.base, opts, workdir, rd["db"]))
                print(f"reader re-polls done ({time.perf_counter() - t_start:.0f} s)", flush=True)
            mon = run_in_child("monitor_phases", srv.base, opts, workdir, colds[-1]["db"], now_iso)
            last = colds[-1]
            mon["cold_eps"] = [c["eps"] for c in colds]
            mon["cold_cpu_ms"] = [c["cpu_ms"] for c in colds]
            mon["cold_main_ms"] = [c["main_ms"] for c in colds]
            for key in ("entries", "articles", "stories", "matches", "alerts"):
                mon[key] = last[key]
            for key in ("rss_mb", "rss_children_mb", "parse_processes"):
                mon[key] = max([mon[key]] + [c[key] for c in colds])
            mon["errors"] = [e for c in colds for e in c["errors"]] + mon["errors"]
            if "profile" in last:
                mon["profile"] = last["profile"]
            mon["load_average"] = os.getloadavg()[0]
        text = report(opts, corpus, fp, rd, mon, time.perf_counter() - t_start)
        print(text)
        if opts.json:
            Path(opts.json).write_text(json.dumps({"options": asdict(opts), "corpus": corpus, "feedparser": fp,
                                                   "reader": rd, "monitor": mon}, indent=1, default=str))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
