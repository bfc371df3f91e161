"""One polling cycle.

``Pipeline.poll_due(now)`` runs these stages:

1. **claim** the due feeds (one short transaction; on PostgreSQL a lease with
   ``FOR UPDATE SKIP LOCKED`` so several workers never take the same feed);
2. **fetch + parse**, in parallel on a thread pool (``concurrency`` threads,
   at most ``per_host`` requests to one host at a time); a fetch or parse
   failure is a value, never an exception that sinks the cycle;
3. **store**, on the calling thread only (one writer), in one short
   transaction per feed, as results complete: save entries (new or changed),
   then :class:`monitor.ingest.Ingestor` (same-article dedup, near-duplicates,
   stories, watch matches, alerts into the outbox), then the feed's caching
   state, error count, next check time and a poll_log row.

A crash anywhere leaves each feed either fully written or untouched: the next
cycle fetches it again.  ``Pipeline.ingest_document`` runs stage 3 for a body
that did not come over HTTP (replay, tests).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Protocol
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session

from . import schedule
from .errors import FeedGone, FetchError, MonitorError, ParseError, RateLimited
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

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

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

    def _fetch_parse(self, feed: FeedToPoll, now: datetime) -> _Result:
        t0 = time.monotonic()
        fetched = parsed = None
        try:
            with self._host_lock(feed.url):
                fetched = self.fetcher.fetch(feed)
            if fetched.status is FetchStatus.OK:
                parsed = self.parse(fetched.body, url=fetched.final_url, headers=fetched.headers, now=now,
                                    max_entries=self.policy.max_entries)
            return _Result(feed, fetched, parsed, None, time.monotonic() - t0)
        except MonitorError as e:
            return _Result(feed, fetched, None, e, time.monotonic() - t0)
        except Exception as e:  # a bug or a library surprise: recorded on this feed only
            log.error("poll: %s: unexpected %s\n%s", feed.name, type(e).__name__, traceback.format_exc())
            err = ParseError(feed.url, f"unexpected {type(e).__name__}: {e}")
            return _Result(feed, fetched, None, err, time.monotonic() - t0)

    # ------------------------------------------------------------ stage 3

    def _write(self, r: _Result, now: datetime) -> PollOutcome:
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

        hints = schedule.Hints(ttl=ttl, max_age=f.max_age, expires=f.expires, retry_after=f.retry_after)
        nxt = schedule.next_check(
            now=now, interval=interval, hints=hints, jitter=self.policy.jitter,
            max_hint=self.policy.max_hint, max_backoff=self.policy.max_backoff,
        )
        return self._store(feed, f, r.parsed, now, nxt, r.duration)

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
        while not self.stopping.is_set():
            feeds = self.claim(start, limit)
            if not feeds:
                break
            outcomes.extend(self._run(feeds, start, clock))
            if limit:
                break
        return outcomes

    def _run(self, feeds: list[FeedToPoll], start: datetime, clock: Callable[[], datetime]) -> list[PollOutcome]:
        pending: set[Future] = {self._pool.submit(self._fetch_parse, f, start) for f in feeds}
        outcomes = []
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    r = fut.result()
                    try:
                        outcome = self._write(r, clock() or start)
                    except Exception as e:  # the database refused: keep the others going
                        log.error("store: %s: could not record the poll: %s", r.feed.name, e)
                        outcome = PollOutcome(r.feed.id, r.feed.name, "error", error=f"store: {e}")
                    _log_outcome(outcome)
                    outcomes.append(outcome)
                if self.stopping.is_set() and pending:
                    for fut in pending:
                        fut.cancel()
                    log.info("poll: stopping; %d fetches abandoned, their feeds stay due", len(pending))
                    break
        finally:
            with Session(self.engine) as s, s.begin():
                repo.release_leases(s, self.worker)
        return outcomes


def _log_outcome(o: PollOutcome) -> None:
    nxt = o.next_check_at.strftime("%Y-%m-%d %H:%M:%SZ") if o.next_check_at else "-"
    if o.status == "error":
        log.warning("poll %s: error: %s; next check %s", o.feed_name, o.error, nxt)
    else:
        log.info("poll %s: %s, %d new, %d updated; next check %s", o.feed_name, o.status, o.new, o.updated, nxt)
