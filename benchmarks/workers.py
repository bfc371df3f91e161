"""Feeds per second with 1, 2 and 3 `monitor run` workers on one PostgreSQL.

Usage::

    python -m benchmarks.workers                      # 120 feeds, 1, 2 and 3 workers (~5 min)
    python -m benchmarks.workers --feeds 300 --workers 1,3 --rounds 5
    python -m benchmarks.workers --quick              # 30 feeds, 1 and 2 workers: the smoke run
    python -m benchmarks.workers --db postgresql+psycopg://postgres@127.0.0.1:5432/test

The feeds are the pipeline benchmark's corpus (:mod:`benchmarks.corpus`:
20-100 entries of 0.5-3 KB HTML each, a share gzipped, wire copy shared
between outlets), served by its server in a process of its own on
127.0.0.1 (:mod:`benchmarks.server`).  For each worker count: a fresh
PostgreSQL schema and a fresh server (same seed, same bytes), the workers
started as real processes (``python -m monitor.cli run``) and left to start
up, then cycles, each begun by making every feed due at once:

1. **cold** (once) -- every feed new: every entry stored, deduplicated,
   clustered, matched;
2. **steady** (``--rounds`` times) -- 20% of the feeds gained 3 entries, the
   rest answer 304;
3. **unchanged** (``--rounds`` times) -- every feed answers 304.

A cycle ends when every feed has its poll_log row; its time runs from the
moment the feeds are made due (the workers' ``poll.tick`` is 0.25 s: up to
that much waiting is included).  Printed per cycle kind: feeds/s (the median
round, with min-max), entries stored, how the feeds split between the
workers, and the server's request count per round, which must equal the
feed count: each feed fetched exactly once per cycle, whatever the number of
workers.

Everything shares this machine's cores: the workers, their parse
processes, PostgreSQL and the server.  On loopback more workers only help
while a core is idle; across machines each worker brings its own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import text

from benchmarks.server import ServerProcess
from monitor.app import App
from monitor.config import load_config
from monitor.store.db import make_engine
from tests.support.workers import WorkerProcess, wait_for, write_config

DEFAULT_DB = os.environ.get("MONITOR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CYCLES = ("cold", "steady", "unchanged")


@contextmanager
def fresh_schema(admin_url: str) -> Iterator[str]:
    """A new schema for one run, dropped afterwards; yields its URL."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in admin_url else "?"
    try:
        yield f"{admin_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def q(engine, sql: str, **params):
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def run_workers(n: int, feeds: int, admin_url: str, tmp: Path, rounds: int) -> list[dict]:
    with ServerProcess(feeds=feeds, seed=1) as srv, fresh_schema(admin_url) as url:
        urls = srv.urls()
        config = write_config(tmp / f"w{n}.toml", {
            "database": {"url": url},
            # per_host: every feed is on 127.0.0.1 here; a real list spreads over many hosts
            "poll": {"tick": "0.25s", "interval": "1h", "jitter": 0.0, "concurrency": 16, "per_host": 16},
            "workers": {"lease": "30s", "grace": "10s"},
            "logging": {"level": "WARNING"},
            "digest": {"enabled": False},
            "feeds": [{"name": f"feed-{i:04d}", "url": u} for i, u in enumerate(urls)],
        })
        # the feeds exist before the workers start, and are not due yet
        app = App(load_config(config, env={}))
        app.sync_feeds()
        app.close()
        engine = make_engine(url)
        far = (datetime.now(timezone.utc) + timedelta(days=1)).replace(tzinfo=None)
        with engine.begin() as c:
            c.execute(text("UPDATE feed SET next_check_at = :t"), {"t": far})
        workers = [WorkerProcess(config, log=tmp / f"w{n}-{i}.log").start() for i in range(n)]
        results = []
        try:
            wait_for(lambda: q(engine, "SELECT count(*) FROM worker") == n, timeout=60,
                     what="every worker up", processes=workers)
            for cycle in CYCLES:
                times, entries, splits, requests, errors = [], 0, [], [], 0
                for _ in range(1 if cycle == "cold" else rounds):
                    if cycle == "steady":
                        srv.change(share=0.2, new=3)
                    srv.reset_stats()
                    done_before = q(engine, "SELECT count(*) FROM poll_log")
                    last_id = q(engine, "SELECT coalesce(max(id), 0) FROM poll_log")
                    entries_before = q(engine, "SELECT count(*) FROM entry")
                    t0 = time.monotonic()
                    with engine.begin() as c:
                        c.execute(text("UPDATE feed SET next_check_at = :t"),
                                  {"t": datetime.now(timezone.utc).replace(tzinfo=None)})
                    wait_for(lambda: q(engine, "SELECT count(*) FROM poll_log") >= done_before + feeds,
                             timeout=1800, interval=0.02, what=f"the {cycle} cycle", processes=workers)
                    times.append(time.monotonic() - t0)
                    entries += q(engine, "SELECT count(*) FROM entry") - entries_before
                    with engine.connect() as c:
                        splits.append(sorted(c.execute(text(
                            "SELECT count(*) FROM poll_log WHERE id > :i GROUP BY worker"), {"i": last_id}).scalars(),
                            reverse=True))
                        errors += c.execute(text("SELECT count(*) FROM poll_log WHERE id > :i AND status = 'error'"),
                                            {"i": last_id}).scalar()
                    requests.append(srv.stats()["requests"] - 1)  # less the stats request itself
                rates = sorted(feeds / t for t in times)
                results.append(dict(workers=n, cycle=cycle, feeds=feeds, rate=statistics.median(rates),
                                    low=rates[0], high=rates[-1], entries=entries, split=splits[len(splits) // 2],
                                    requests=requests, errors=errors))
        finally:
            for w in workers:
                w.terminate()
            codes = [w.stop(30) for w in workers]
            engine.dispose()
        if any(codes):
            print(f"warning: worker exit codes {codes}", file=sys.stderr)
        return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feeds", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the steady and unchanged cycles")
    ap.add_argument("--workers", default="1,2,3", help="comma-separated worker counts")
    ap.add_argument("--db", default=DEFAULT_DB, help="PostgreSQL URL (a schema is created and dropped in it)")
    ap.add_argument("--quick", action="store_true", help="30 feeds, 1 and 2 workers, 2 rounds")
    args = ap.parse_args(argv)
    if args.quick:
        args.feeds, args.workers, args.rounds = 30, "1,2", 2
    counts = [int(x) for x in args.workers.split(",")]
    print(f"{args.feeds} feeds on 127.0.0.1, PostgreSQL, {os.cpu_count()} CPUs; poll.concurrency 16 per worker")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        for n in counts:
            rows += run_workers(n, args.feeds, args.db, Path(tmp), args.rounds)
    print(f"\n{'workers':>7} {'cycle':<10} {'feeds/s':>8} {'min-max':>13} {'entries':>8} {'errors':>6}  "
          "split (median round)  requests per round")
    for r in rows:
        print(f"{r['workers']:>7} {r['cycle']:<10} {r['rate']:>8.1f} {r['low']:>6.1f}-{r['high']:<6.1f} "
              f"{r['entries']:>8} {r['errors']:>6}  {'/'.join(map(str, r['split'])):<20} "
              f"{','.join(map(str, r['requests']))}")
    bad = [r for r in rows if any(n != r["feeds"] for n in r["requests"])]
    if bad:
        print(f"\nFAILED: a feed was fetched more or less than once in {len(bad)} cycles", file=sys.stderr)
        sys.exit(1)
    base = {r["cycle"]: r["rate"] for r in rows if r["workers"] == counts[0]}
    print(f"\nspeed-up over {counts[0]} worker(s): " + "; ".join(
        f"{r['workers']} workers {r['cycle']} x{r['rate'] / base[r['cycle']]:.2f}"
        for r in rows if r["workers"] != counts[0]))


if __name__ == "__main__":
    main()
