"""The composition root: builds and owns every part from the settings.

Nothing else reads :class:`monitor.config.Settings` to construct parts; pure
modules receive plain values from here.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from sqlalchemy import delete, text
from sqlmodel import Session

from . import alerts as alert_rules
from .config import FeedSettings, Settings
from .dedup import StoryClusterer, canonical_url, content_fingerprint
from .dedup.neardup import NearDuplicateIndex
from .deliver import Deliverer
from .errors import ConfigError, DaemonAlreadyRunning
from .ingest import Ingestor, WatchRoute
from .pipeline import Pipeline, PollPolicy
from .records import FeedToPoll
from .store import migrate, repo, repo_alerts
from .store.db import is_sqlite, make_engine
from .store.models import Worker

log = logging.getLogger("monitor.app")

#: arbitrary constant naming the PostgreSQL advisory lock held while the
#: config's feeds are written (next to MIGRATION_LOCK_ID and STORY_LOCK_ID)
FEED_SYNC_LOCK_ID = 7_231_002
#: the heartbeat beats at most this far apart (and at least 3 times per lease,
#: so two missed beats, a database hiccup, still do not lose a lease)
HEARTBEAT_MAX = timedelta(seconds=30)
#: a worker row whose heartbeat is this many beats old belongs to a dead
#: worker (SIGKILL, power loss) and is removed, so `monitor status` lists live ones
WORKER_GONE_AFTER_BEATS = 10
#: feeds claimed per batch on PostgreSQL, per fetch thread: a worker claims
#: what it can fetch now and leaves the rest to the others.  With the whole
#: due list in one claim (the SQLite default of 500), the first worker to
#: tick took all 500 feeds and the other two idled.
CLAIM_PER_THREAD = 4


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def local_path(url: str, settings: Settings) -> Path | None:
    """The file a local feed URL names (``file://`` or a plain path), else None."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return settings.resolve(parts.path if not parts.netloc else f"/{parts.netloc}{parts.path}")
    if parts.scheme in ("", None) or (len(parts.scheme) == 1 and url[1:3] in (":\\", ":/")):
        return settings.resolve(url)
    return None


class App:
    """Everything monitor runs, built once from the settings."""

    def __init__(self, settings: Settings, *, migrate_db: bool = True, worker: str | None = None):
        self.settings = settings
        self.worker = worker or worker_id()
        self.engine = make_engine(settings.database_url, echo=settings.database.echo)
        if migrate_db:
            migrate.upgrade(self.engine)
        self._read_engine = None
        self._lock_file = None
        self._pipeline: Pipeline | None = None
        self._deliverer: Deliverer | None = None
        self._ingestor: Ingestor | None = None
        self._matcher = None
        self._digests = None
        self._guard = None
        self._channels = None

    # ------------------------------------------------------------ parts

    @property
    def read_engine(self):
        """For readers (web, reports): never takes SQLite's write lock."""
        if self._read_engine is None:
            if is_sqlite(self.engine):
                self._read_engine = make_engine(self.settings.database_url, read_only=True)
            else:
                self._read_engine = self.engine
        return self._read_engine

    @property
    def guard(self):
        if self._guard is None:
            from .netguard import NetGuard

            self._guard = NetGuard(self.settings.network.allow)
        return self._guard

    @property
    def matcher(self):
        if self._matcher is None and self.settings.watches:
            from .match import Matcher

            self._matcher = Matcher.from_settings(
                self.settings.watches, actors_path=self.settings.resolve(self.settings.actors_file)
            )
        return self._matcher

    def _new_indexes(self):
        d = self.settings.dedup
        near = NearDuplicateIndex(threshold=d.near_duplicate_threshold)
        clusterer = StoryClusterer(window=d.window)
        return near, clusterer

    @property
    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            near, clusterer = self._new_indexes()
            a = self.settings.alerts
            routes = {
                w.name: WatchRoute(
                    channels=tuple(c for c in (w.channels if w.channels is not None else a.default_channels)),
                    priority=w.priority,
                )
                for w in self.settings.watches
            }
            self._ingestor = Ingestor(
                near=near, clusterer=clusterer, matcher=self.matcher, routes=routes, policy=self.alert_policy,
                window=self.settings.dedup.window, rebuild=self._new_indexes,
            )
        return self._ingestor

    @property
    def alert_policy(self) -> alert_rules.AlertPolicy:
        a = self.settings.alerts
        return alert_rules.AlertPolicy(
            backlog_window=a.backlog_window, update_min_new_sources=a.update_min_new_sources,
            update_cooldown=a.update_cooldown, retry_for=a.retry_for, retry_base=a.retry_base,
        )

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            from .fetch import Fetcher
            from .parse import parse_feed

            p = self.settings.poll
            fetcher = Fetcher(
                timeout=p.timeout.total_seconds(), connect_timeout=p.connect_timeout.total_seconds(),
                max_body_bytes=p.max_body_bytes, max_redirects=p.max_redirects, user_agent=p.user_agent,
                guard=self.guard, max_connections=p.concurrency,
            )
            self._pipeline = Pipeline(
                self.engine, fetcher=fetcher, parse=parse_feed, ingestor=self.ingestor,
                canonical=canonical_url, fingerprint=content_fingerprint,
                policy=PollPolicy(
                    interval=p.interval, jitter=p.jitter, max_hint=p.max_hint, max_backoff=p.max_backoff,
                    concurrency=p.concurrency, per_host=p.per_host, max_entries=p.max_entries_per_feed,
                    lease=self.settings.workers.lease, **self._claim_batch(),
                ),
                worker=self.worker,
            )
            self._refresh_feed_maps()
        return self._pipeline

    def _claim_batch(self) -> dict:
        if is_sqlite(self.engine):
            return {}  # one process: the pipeline's default batch
        return {"batch": max(self.settings.poll.concurrency * CLAIM_PER_THREAD, 8)}

    def _refresh_feed_maps(self) -> None:
        """Per-feed interval overrides and outlet names, keyed by feed id."""
        with Session(self.engine) as s:
            feeds = repo.list_feeds(s)
        self.pipeline.intervals = {f.id: timedelta(seconds=f.interval_seconds) for f in feeds if f.interval_seconds}
        self.pipeline.sources = {f.id: f.source for f in feeds}

    @property
    def channels(self) -> dict:
        if self._channels is None:
            from .notify import build_channel

            chans = {"console": build_channel("console", None)}
            for name, cs in self.settings.channels.items():
                if cs.enabled:
                    chans[name] = build_channel(name, cs, guard=self.guard, root=self.settings.root)
            self._channels = chans
        return self._channels

    @property
    def deliverer(self) -> Deliverer:
        if self._deliverer is None:
            caps = {n: c.max_per_hour for n, c in self.settings.channels.items() if c.max_per_hour}
            self._deliverer = Deliverer(
                self.engine, self.channels, policy=self.alert_policy, caps=caps, worker=self.worker,
                lease=self.settings.workers.lease,
            )
        return self._deliverer

    @property
    def digests(self):
        if self._digests is None and self.settings.digest.enabled:
            from .digests import DigestService

            self._digests = DigestService(self.engine, self.settings, channels=self.channels, worker=self.worker)
        return self._digests

    # ---------------------------------------------------------- feeds

    def feed_values(self, f: FeedSettings) -> dict:
        path = local_path(f.url, self.settings)
        url = str(path) if path is not None else f.url
        return dict(name=f.name, url=url, source=f.source, tags=f.tags, enabled=f.enabled,
                    interval=f.interval, allow_local=path is not None)

    def sync_feeds(self, now: datetime | None = None) -> int:
        """Bring the feeds table in line with the config file.  Feeds that left
        the file are disabled, not deleted: their entries stay in stories."""
        now = now or utcnow()
        with Session(self.engine) as s, s.begin():
            if not is_sqlite(self.engine):
                # several workers start at once with the same file: without
                # this lock two of them insert the same new feed and the
                # loser dies on uq_feed_name (seen with 3 workers, 500 feeds)
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_SYNC_LOCK_ID})
            for f in self.settings.feeds:
                repo.upsert_feed(s, now=now, origin="config", **self.feed_values(f))
            names = [f.name for f in self.settings.feeds]
            repo.disable_config_feeds_except(s, names)
        if self._pipeline is not None:
            self._refresh_feed_maps()
        return len(self.settings.feeds)

    def replay_feed(self, name: str, path: Path, now: datetime) -> FeedToPoll:
        """The feed a replay file belongs to: the configured one of that name,
        else one created for the replay."""
        with Session(self.engine) as s, s.begin():
            feed = repo.feed_by_name(s, name)
            if feed is None:
                feed = repo.upsert_feed(s, name=name, url=str(path.resolve()), now=now, allow_local=True,
                                        origin="replay", enabled=False)
        return feed

    # ---------------------------------------------------------- daemon

    def acquire_daemon_lock(self) -> None:
        """One daemon per SQLite file: a second `monitor run` is refused."""
        if not is_sqlite(self.engine):
            return
        db = self.engine.url.database
        if not db or db == ":memory:":
            return
        lock_path = Path(db + ".lock")
        fh = open(lock_path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise DaemonAlreadyRunning(
                f"store: {db} is already used by a running monitor ({holder}). SQLite supports one daemon "
                "per database file: stop the other one, or use PostgreSQL (MONITOR_DATABASE_URL) to run "
                "several workers."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        fh.flush()
        self._lock_file = fh

    @property
    def heartbeat_every(self) -> timedelta:
        return min(HEARTBEAT_MAX, self.settings.workers.lease / 3)

    def recover_leases(self, now: datetime | None = None) -> tuple[int, int]:
        """At start: clear feed leases and alert claims left by dead workers.

        Expired ones only on PostgreSQL (other workers may be alive); all of
        them on SQLite once the daemon lock is held (no other daemon can be).
        Returns (feeds, alerts) recovered."""
        now = now or utcnow()
        everyone = is_sqlite(self.engine) and self._lock_file is not None
        with Session(self.engine) as s, s.begin():
            feeds = repo.recover_expired_leases(s, now, everyone=everyone)
            alerts = repo_alerts.recover_expired_claims(s, now, everyone=everyone)
        if feeds or alerts:
            log.info("store: recovered %d feed leases and %d alert claims left by stopped workers", feeds, alerts)
        return feeds, alerts

    def heartbeat(self, now: datetime | None = None) -> None:
        """Tell the database this worker is alive, and keep its leases."""
        now = now or utcnow()
        lease = self.settings.workers.lease
        with Session(self.engine) as s, s.begin():
            w = s.get(Worker, self.worker)
            if w is None:
                host, pid = socket.gethostname(), os.getpid()
                s.add(Worker(id=self.worker, hostname=host, pid=pid, started_at=now, heartbeat_at=now))
            else:
                w.heartbeat_at = now
            repo.renew_leases(s, self.worker, now=now, lease=lease)
            repo_alerts.renew_claims(s, self.worker, now=now, lease=lease)
            gone = now - self.heartbeat_every * WORKER_GONE_AFTER_BEATS
            s.execute(delete(Worker).where(Worker.id != self.worker, Worker.heartbeat_at < gone))

    def stop(self) -> None:
        if self._pipeline is not None:
            self._pipeline.stopping.set()
        if self._deliverer is not None:
            self._deliverer.stopping.set()

    def close(self) -> None:
        self.stop()
        if self._pipeline is not None:
            self._pipeline.close()
        try:
            with Session(self.engine) as s, s.begin():
                repo.release_leases(s, self.worker)
                w = s.get(Worker, self.worker)
                if w is not None:
                    s.delete(w)
        except Exception as e:  # the database may be gone at exit: nothing to lose
            log.warning("store: could not release leases at exit: %s", e)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        if self._read_engine is not None and self._read_engine is not self.engine:
            self._read_engine.dispose()
        self.engine.dispose()
