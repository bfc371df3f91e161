"""One polling cycle.

``Pipeline.poll_due(now)`` runs these stages:

1. **claim** the due feeds (one short transaction; on PostgreSQL a lease with
   ``FOR UPDATE SKIP LOCKED`` so several workers never take the same feed);
2. **fetch + parse**, in parallel on a thread pool (``concurrency`` threads,
   at most ``per_host`` requests to one host at a time); a changed body is
   parsed in a pool of processes (``parse_processes``, one per CPU: parsing
   holds the GIL, the writer needs it); a fetch or parse failure is a value,
   never an exception that sinks the cycle;
3. **store**, on the calling thread only (one writer), in one short
   transaction per feed, as results complete: save entries (new or changed),
   then :class:`monitor.ingest.Ingestor` (same-article dedup, near-duplicates,
   stories, watch matches, alerts into the outbox), then the feed's caching
   state, error count, next check time and a poll_log row.  Feeds that
   changed nothing (304, the same bytes) only need that last part: they are
   recorded ``quiet_batch`` to a transaction.

A crash anywhere leaves each feed either fully written or untouched: the next
cycle fetches it again.  ``Pipeline.ingest_document`` runs stage 3 for a body
that did not come over HTTP (replay, tests).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session

from . import schedule
from .errors import FeedGone, FetchError, MonitorError, ParseError, RateLimited
from .logs import bind
from .records import FeedToPoll, Fetched, FetchStatus, ParsedFeed, PollOutcome
from .store import repo

log = logging.getLogger("monitor.pipeline")


class FetcherLike(Protocol):
    def fetch(self, feed: FeedToPoll) -> Fetched: ...


ParseFn = Callable[..., ParsedFeed]


@dataclass(frozen=True, slots=True)
class PollPolicy:
    interval: timedelta = timedelta(minutes=15)
    jitter: float = 0.1
    max_hint: timedelta = timedelta(hours=24)
    max_backoff: timedelta = timedelta(hours=24)
    concurrency: int = 16
    per_host: int = 2
    max_entries: int = 2000
    lease: timedelta = timedelta(minutes=5)
    batch: int = 500
    #: processes that parse changed feeds; None: one per CPU when there are
    #: several (parsing holds the GIL: in the fetch threads it took the one
    #: core the writer needs; measured with ``python -m benchmarks.pipeline``),
    #: 0: parse in the fetch threads.
    parse_processes: int | None = None
    #: ...used for batches of at least this many feeds: starting the
    #: processes costs ~0.8 s (spawn + imports, measured), which a handful of
    #: feeds (a test, a small config) never earns back
    parse_processes_from: int = 16
    #: 304s and same-bytes answers are recorded together, this many to a
    #: transaction (each is a feed row update and a poll_log row: one
    #: transaction per feed cost more CPU than the 304 itself, issue 8)
    quiet_batch: int = 100


@dataclass(frozen=True, slots=True)
class _Result:
    feed: FeedToPoll
    fetched: Fetched | None
    parsed: ParsedFeed | None
    error: MonitorError | None
    duration: float


class Pipeline:
    def __init__(
        self,
        engine: Engine,
        *,
        fetcher: FetcherLike,
        parse: ParseFn,
        ingestor,
        canonical: Callable[[str | None], str | None],
        fingerprint: Callable[[str, str], str | None],
        policy: PollPolicy = PollPolicy(),
        worker: str = "local",
        intervals: dict[int, timedelta] | None = None,
        sources: dict[int, str] | None = None,
    ):
        self.engine = engine
        self.fetcher = fetcher
        self.parse = parse
        self.ingestor = ingestor
        self.canonical = canonical
        self.fingerprint = fingerprint
        self.policy = policy
        self.worker = worker
        #: per-feed interval overrides and outlet names, by feed id (from config)
        self.intervals = intervals or {}
        self.sources = sources or {}
        self.stopping = threading.Event()
        self._host_locks: dict[str, threading.BoundedSemaphore] = {}
        self._host_guard = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=policy.concurrency, thread_name_prefix="fetch")
        self._parse_n = self._parse_processes()
        self._parse_pool: ProcessPoolExecutor | None = None
        self._parse_guard = threading.Lock()

    def _parse_processes(self) -> int:
        n = self.policy.parse_processes
        if n is not None:
            return n
        # by default only monitor's own parser goes to processes: a fake one
        # (tests) may keep state in this process
        if getattr(self.parse, "__module__", None) != "monitor.parse":
            return 0
        cpus = os.cpu_count() or 1
        return cpus if cpus > 1 else 0

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._parse_guard:
            if self._parse_pool is not None:
                self._parse_pool.shutdown(wait=True, cancel_futures=True)
                self._parse_pool = None

    def _processes(self, broken: ProcessPoolExecutor | None = None) -> ProcessPoolExecutor | None:
        """The parse processes, started on first use (``spawn``: forking a
        process that runs threads can copy a lock some thread holds), replaced
        when ``broken``; None once they proved unable to start."""
        with self._parse_guard:
            if self._parse_pool is not None and self._parse_pool is broken:
                self._parse_pool.shutdown(wait=False, cancel_futures=True)
                self._parse_pool = None
            if self._parse_pool is None and self._parse_n:
                pool = ProcessPoolExecutor(self._parse_n, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=_parse_process_init, initargs=(os.getpid(),))
                try:
                    pool.submit(_ping).result(timeout=60)
                except Exception as e:  # e.g. a __main__ the children cannot import
                    log.warning("poll: parse processes would not start (%s: %s); parsing in threads",
                                type(e).__name__, e)
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._parse_n = 0
                    return None
                self._parse_pool = pool
            return self._parse_pool

    # ------------------------------------------------------------ stage 1

    def claim(self, now: datetime, limit: int | None = None) -> list[FeedToPoll]:
        with Session(self.engine) as s, s.begin():
            return repo.claim_due_feeds(s, now, worker=self.worker, lease=self.policy.lease,
                                        limit=limit or self.policy.batch)

    # ------------------------------------------------------------ stage 2

    def _host_lock(self, url: str) -> threading.BoundedSemaphore:
        host = urlsplit(url).hostname or ""
        with self._host_guard:
            lock = self._host_locks.get(host)
            if lock is None:
                lock = self._host_locks[host] = threading.BoundedSemaphore(self.policy.per_host)
            return lock

    def _fetch_parse(self, feed: FeedToPoll, now: datetime, processes: bool = False) -> _Result:
        t0 = time.monotonic()
        fetched = parsed = None
        try:
            with self._host_lock(feed.url):
                fetched = self.fetcher.fetch(feed)
            if fetched.status is FetchStatus.OK:
                parsed = self._parse_body(feed, fetched, now, processes)
            return _Result(feed, fetched, parsed, None, time.monotonic() - t0)
        except MonitorError as e:
            return _Result(feed, fetched, None, e, time.monotonic() - t0)
        except Exception as e:  # a bug or a library surprise: recorded on this feed only
            log.error("poll: %s: unexpected %s\n%s", feed.name, type(e).__name__, traceback.format_exc())
            err = ParseError(feed.url, f"unexpected {type(e).__name__}: {e}")
            return _Result(feed, fetched, None, err, time.monotonic() - t0)

    def _parse_body(self, feed: FeedToPoll, fetched: Fetched, now: datetime, processes: bool) -> ParsedFeed:
        kwargs = dict(url=fetched.final_url, headers=fetched.headers, now=now, max_entries=self.policy.max_entries)
        pool = self._processes() if processes else None
        if pool is None:
            return self.parse(fetched.body, **kwargs)
        for attempt in (1, 2):
            try:
                ok, value = pool.submit(_parse_job, self.parse, fetched.body, kwargs).result()
                break
            except BrokenProcessPool:
                # a parser process died (a crash in a C library on a hostile
                # body, the OOM killer): every feed it was parsing lands here;
                # each is tried once more on a fresh pool, then given up on
                pool = self._processes(broken=pool)
                if attempt == 2 or pool is None:
                    raise ParseError(feed.url, "the parser process died twice on this body; "
                                     "it is tried again at the next check") from None
        if ok:
            return value
        cls, args, state, tb = value
        if cls is None:
            log.error("poll: %s: unexpected error in the parser process\n%s", feed.name, tb)
            raise ParseError(feed.url, args[0])
        raise _rebuild_error(cls, args, state)

    # ------------------------------------------------------------ stage 3

    def _write(self, r: _Result, now: datetime) -> PollOutcome:
        # every line logged while this feed is stored (ingest, alerts) names it
        with bind(feed=r.feed.id):
            return self._write_feed(r, now)

    def _write_feed(self, r: _Result, now: datetime) -> PollOutcome:
        feed = r.feed
        interval = self.intervals.get(feed.id, self.policy.interval)
        ttl = r.parsed.ttl if r.parsed else None
        f = r.fetched
        if r.error is not None:
            errors = feed.error_count + 1
            hints = schedule.Hints(retry_after=getattr(r.error, "retry_after", None))
            nxt = schedule.next_check(
                now=now, interval=interval, error_count=errors, permanent_error=not r.error.temporary,
                hints=hints, jitter=self.policy.jitter, max_hint=self.policy.max_hint,
                max_backoff=self.policy.max_backoff,
            )
            with Session(self.engine) as s, s.begin():
                repo.record_poll(s, feed.id, now=now, status="error", next_check_at=nxt,
                                 http_status=getattr(r.error, "status", None), error=str(r.error),
                                 duration=r.duration, worker=self.worker)
            return PollOutcome(feed.id, feed.name, "error", error=str(r.error), next_check_at=nxt, duration=r.duration)

        return self._store(feed, f, r.parsed, now, self._next_ok(feed, f, ttl, now), r.duration)

    def _next_ok(self, feed: FeedToPoll, f: Fetched, ttl: timedelta | None, now: datetime) -> datetime:
        hints = schedule.Hints(ttl=ttl, max_age=f.max_age, expires=f.expires, retry_after=f.retry_after)
        return schedule.next_check(
            now=now, interval=self.intervals.get(feed.id, self.policy.interval), hints=hints,
            jitter=self.policy.jitter, max_hint=self.policy.max_hint, max_backoff=self.policy.max_backoff,
        )

    @staticmethod
    def _is_quiet(r: _Result) -> bool:
        """Nothing changed: only the feed row and poll_log are written."""
        f = r.fetched
        return (r.error is None and r.parsed is None and f is not None and not f.permanent_redirect
                and f.status in (FetchStatus.NOT_MODIFIED, FetchStatus.UNCHANGED))

    def _write_quiet(self, results: list[_Result], now: datetime) -> list[PollOutcome]:
        """Record many quiet polls in one transaction: what ``_write`` does
        for each, in three statements for the lot."""
        polls = [
            repo.QuietPoll(r.feed.id, r.fetched.status.value, self._next_ok(r.feed, r.fetched, None, now),
                           http_status=r.fetched.http_status, etag=r.fetched.etag,
                           last_modified=r.fetched.last_modified, body_hash=r.fetched.body_hash, duration=r.duration)
            for r in results
        ]
        with Session(self.engine) as s, s.begin():
            lost = set(repo.record_quiet_polls(s, polls, now=now, worker=self.worker))
        outcomes = []
        for r, p in zip(results, polls):
            if r.feed.id in lost:  # recorded alone, which reports the lost lease
                try:
                    outcomes.append(self._write(r, now))
                except Exception as e:
                    log.error("store: %s: could not record the poll: %s", r.feed.name, e)
                    outcomes.append(PollOutcome(r.feed.id, r.feed.name, "error", error=f"store: {e}"))
            else:
                outcomes.append(PollOutcome(r.feed.id, r.feed.name, p.status, next_check_at=p.next_check_at,
                                            duration=r.duration))
        return outcomes

    def _store(self, feed: FeedToPoll, f: Fetched, parsed: ParsedFeed | None, now: datetime,
               nxt: datetime, duration: float) -> PollOutcome:
        new = updated = 0
        try:
            with Session(self.engine) as s, s.begin():
                if parsed is not None:
                    saved = repo.save_entries(
                        s, feed, parsed.entries, now=now, source=self.sources.get(feed.id, feed.name),
                        canonical=self.canonical, fingerprint=self.fingerprint,
                    )
                    new, updated = len(saved.new), len(saved.updated)
                    self.ingestor.process(s, saved.new, saved.updated, now)
                    repo.mark_processed(s, [e.id for e in saved.new + saved.updated], now)
                repo.record_poll(
                    s, feed.id, now=now, status=f.status.value, next_check_at=nxt, http_status=f.http_status,
                    etag=f.etag, last_modified=f.last_modified, body_hash=f.body_hash,
                    new_url=f.permanent_redirect, title=parsed.title if parsed else None,
                    site_url=parsed.link if parsed else None, new=new, updated=updated, duration=duration,
                    worker=self.worker,
                )
        except Exception:
            self.ingestor.invalidate()
            raise
        return PollOutcome(feed.id, feed.name, f.status.value, new=new, updated=updated, next_check_at=nxt,
                           duration=duration)

    def ingest_document(self, feed: FeedToPoll, body: bytes, *, now: datetime,
                        headers: dict[str, str] | None = None) -> PollOutcome:
        """Stage 3 for a document that did not come from the fetcher (replay)."""
        import hashlib

        t0 = time.monotonic()
        digest = hashlib.sha256(body).hexdigest()
        if feed.body_hash == digest:
            fetched = Fetched(url=feed.url, final_url=feed.url, status=FetchStatus.UNCHANGED, http_status=None,
                              body=None, body_hash=digest)
            r = _Result(feed, fetched, None, None, 0.0)
        else:
            fetched = Fetched(url=feed.url, final_url=feed.url, status=FetchStatus.OK, http_status=None,
                              body=body, headers=headers or {}, body_hash=digest)
            try:
                parsed = self.parse(body, url=feed.url, headers=headers or {}, now=now,
                                    max_entries=self.policy.max_entries)
                r = _Result(feed, fetched, parsed, None, time.monotonic() - t0)
            except MonitorError as e:
                r = _Result(feed, fetched, None, e, time.monotonic() - t0)
        outcome = self._write(r, now)
        _log_outcome(outcome)
        return outcome

    # ------------------------------------------------------------- a cycle

    def poll_due(self, now: datetime | None = None, *, clock: Callable[[], datetime] | None = None,
                 limit: int | None = None) -> list[PollOutcome]:
        """Poll every due feed once.  ``now`` fixes the clock (tests, replay);
        otherwise ``clock`` is read as each feed is written."""
        clock = clock or (lambda: now)
        start = now or clock()
        outcomes: list[PollOutcome] = []
        polled: set[int] = set()
        while not self.stopping.is_set():
            # the lease runs from the claim, not from the cycle's start: a
            # later batch claimed at `start` could get a lease already expired
            feeds = self.claim(clock() or start, limit)
            # a feed whose write failed (disk full, a bug) is still due: once
            # per cycle, or this loop fetched it again and again (seen: 31
            # fetches of one feed on a full disk); its lease is released below
            fresh = [f for f in feeds if f.id not in polled]
            if not fresh:
                if feeds:
                    with Session(self.engine) as s, s.begin():
                        repo.release_leases(s, self.worker)
                break
            polled.update(f.id for f in fresh)
            outcomes.extend(self._run(fresh, start, clock))
            if limit:
                break
        return outcomes

    def _run(self, feeds: list[FeedToPoll], start: datetime, clock: Callable[[], datetime]) -> list[PollOutcome]:
        processes = self._parse_n > 0 and len(feeds) >= self.policy.parse_processes_from
        pending: set[Future] = {self._pool.submit(self._fetch_parse, f, start, processes) for f in feeds}
        outcomes = []
        quiet: list[_Result] = []

        def write_quiet() -> None:
            try:
                got = self._write_quiet(quiet, clock() or start)
            except Exception as e:  # the database refused: each feed on its own, as below
                log.warning("store: %d unchanged polls could not be recorded together (%s); one by one", len(quiet), e)
                got = []
                for r in quiet:
                    try:
                        got.append(self._write(r, clock() or start))
                    except Exception as e1:
                        log.error("store: %s: could not record the poll: %s", r.feed.name, e1)
                        got.append(PollOutcome(r.feed.id, r.feed.name, "error", error=f"store: {e1}"))
            for outcome in got:
                _log_outcome(outcome)
            outcomes.extend(got)
            quiet.clear()

        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    r = fut.result()
                    if self._is_quiet(r):
                        quiet.append(r)
                        continue
                    try:
                        outcome = self._write(r, clock() or start)
                    except Exception as e:  # the database refused: keep the others going
                        log.error("store: %s: could not record the poll: %s", r.feed.name, e)
                        outcome = PollOutcome(r.feed.id, r.feed.name, "error", error=f"store: {e}")
                    _log_outcome(outcome)
                    outcomes.append(outcome)
                if quiet and (len(quiet) >= self.policy.quiet_batch or not pending or self.stopping.is_set()):
                    write_quiet()
                if self.stopping.is_set() and pending:
                    for fut in pending:
                        fut.cancel()
                    log.info("poll: stopping; %d fetches abandoned, their feeds stay due", len(pending))
                    break
        finally:
            if quiet:
                write_quiet()
            with Session(self.engine) as s, s.begin():
                repo.release_leases(s, self.worker)
        return outcomes


def _log_outcome(o: PollOutcome) -> None:
    nxt = o.next_check_at.strftime("%Y-%m-%d %H:%M:%SZ") if o.next_check_at else "-"
    with bind(feed=o.feed_id):
        if o.status == "error":
            log.warning("poll %s: error: %s; next check %s", o.feed_name, o.error, nxt)
        else:
            log.info("poll %s: %s, %d new, %d updated; next check %s", o.feed_name, o.status, o.new, o.updated, nxt)


# ------------------------------------------------------------ parse processes

def _ping() -> bool:
    return True


def _parse_process_init(parent: int) -> None:
    """Runs first in each parse process (lifecycle, issue 6).  Shutting down
    is the parent's job: Ctrl-C on a terminal sends SIGINT to the whole
    process group, and each parse process printed a KeyboardInterrupt
    traceback and broke the pool in the middle of the grace period (seen).
    The daemon starts these processes with SIGINT and SIGTERM blocked (see
    monitor.scheduler); here SIGINT is ignored for good and SIGTERM given
    back (the executor terminates a broken pool's processes with it).  And a
    parent killed outright (SIGKILL, the OOM killer) left its parse
    processes running for ever (seen): a watchdog ends them once it is gone."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _parse_job(parse: ParseFn, body: bytes, kwargs: dict) -> tuple[bool, object]:
    """Runs in a parse process: the parsed feed, or the error as plain data
    (monitor's errors take keyword arguments, which unpickling cannot pass)."""
    try:
        return True, parse(body, **kwargs)
    except MonitorError as e:
        return False, (type(e), e.args, dict(e.__dict__), None)
    except Exception as e:  # a bug or a library surprise: reported as data, never raised across the pipe
        return False, (None, (f"unexpected {type(e).__name__}: {e}",), {}, traceback.format_exc())


def _rebuild_error(cls: type, args: tuple, state: dict) -> MonitorError:
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err
