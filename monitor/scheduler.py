"""The daemon's timers: the only module that imports APScheduler.

APScheduler 3.11 runs a few jobs, never one per feed (schedules are data in
the database, see ``monitor.schedule``):

* ``poll``: every ``poll.tick``, poll the feeds that are due;
* ``deliver``: every 10 s (or every tick when that is shorter), deliver due
  alerts from the outbox;
* ``digest``: every minute, build and send the digests that are due; the
  (digest, local date) key in the database makes each local day's digest
  happen exactly once, so no cron trigger (which misbehaves across DST
  changes in 3.11) is needed, and a missed day is caught up after downtime;
* ``heartbeat``: every ``heartbeat_every`` (30 s, or a third of the lease
  when that is shorter), tell the database this worker is alive and renew
  its leases, so only a dead worker's feeds and alerts are taken over.

Every job has ``coalesce=True`` (a backlog of missed runs is one run),
``max_instances=1`` (a slow poll is never overlapped by the next) and a
misfire grace time.  SIGTERM/SIGINT stop claiming new work, let in-flight
work finish within ``workers.grace`` and release leases; a second signal
exits at once (every write is a short transaction, so the database stays
consistent).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("monitor.scheduler")

#: a job whose previous run is still going is skipped (max_instances=1):
#: expected whenever a poll takes longer than a tick, and APScheduler would
#: log a WARNING about it every tick (seen with a 1 s tick and 500 feeds)
_EXPECTED = "maximum number of running instances reached"


class _QuietSkips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _EXPECTED not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_QuietSkips())


class Daemon:
    def __init__(
        self,
        *,
        poll: Callable[[], object],
        deliver: Callable[[], object],
        digest: Callable[[], object] | None,
        heartbeat: Callable[[], object],
        on_stop: Callable[[], None],
        request_stop: Callable[[], None],
        tick: timedelta,
        grace: timedelta,
        heartbeat_every: timedelta = timedelta(seconds=30),
        on_abort: Callable[[], object] | None = None,
    ):
        self._jobs = dict(poll=poll, deliver=deliver, digest=digest, heartbeat=heartbeat)
        self._on_stop = on_stop
        self._request_stop = request_stop
        self.tick = tick
        self.grace = grace
        self.heartbeat_every = heartbeat_every
        self._on_abort = on_abort
        self.stop_event = threading.Event()
        self._signals = 0
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
            timezone=timezone.utc,
        )
        self.last_tick: datetime | None = None

    def alive(self) -> bool:
        """For /healthz: the scheduler runs and its poll job ran recently."""
        if not self.scheduler.running or self.stop_event.is_set():
            return False
        if self.last_tick is None:
            return True
        return datetime.now(timezone.utc) - self.last_tick < max(self.tick * 3, timedelta(minutes=5))

    def _wrap(self, name: str, fn: Callable[[], object]) -> Callable[[], None]:
        def job() -> None:
            if self.stop_event.is_set():
                return
            if name == "poll":
                self.last_tick = datetime.now(timezone.utc)
            try:
                fn()
            except Exception:
                log.exception("scheduler: the %s job failed; it runs again at its next time", name)

        return job

    def start(self) -> None:
        now = datetime.now(timezone.utc)
        intervals = {"poll": self.tick, "deliver": min(self.tick, timedelta(seconds=10)),
                     "digest": timedelta(minutes=1), "heartbeat": self.heartbeat_every}
        for name, fn in self._jobs.items():
            if fn is None:
                continue
            self.scheduler.add_job(self._wrap(name, fn), "interval", id=name, name=name,
                                   seconds=intervals[name].total_seconds(), next_run_time=now)
        self.scheduler.start()
        log.info("scheduler: polling every %ss; Ctrl-C or SIGTERM stops", int(self.tick.total_seconds()))

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            self._signals += 1
            if self._signals > 1:
                log.warning("scheduler: second signal: exiting now (every write is its own transaction; "
                            "leases left behind expire after [workers] lease)")
                if self._on_abort is not None:
                    try:
                        self._on_abort()  # child processes: os._exit would orphan them
                    except Exception:  # noqa: BLE001 - exiting anyway
                        pass
                logging.shutdown()
                os._exit(1)
            log.info("scheduler: %s received: finishing in-flight work (up to %ss)",
                     signal.Signals(signum).name, int(self.grace.total_seconds()))
            self.stop_event.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run_forever(self) -> None:
        self.install_signal_handlers()
        # Only the main thread takes SIGINT and SIGTERM (Python runs signal
        # handlers there anyway).  Threads started from here on inherit a mask
        # with both blocked, and so do the processes they spawn (a blocked
        # signal stays blocked across exec): the parse processes, started from
        # fetch threads, cannot die of the Ctrl-C a terminal sends to the whole
        # process group while they are still importing, before their
        # initializer ignores it (seen: KeyboardInterrupt tracebacks, a broken
        # pool in the middle of the grace period).
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        try:
            self.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        try:
            while not self.stop_event.wait(1.0):
                pass
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.stop_event.set()
        self._request_stop()
        done = threading.Event()

        def wait_jobs() -> None:
            self.scheduler.shutdown(wait=True)
            done.set()

        threading.Thread(target=wait_jobs, daemon=True).start()
        # the scheduler runs no job once shut down, heartbeat included: beat
        # from here so in-flight work keeps its leases through the grace
        # period (a grace longer than the lease would otherwise let another
        # worker send an alert that is still being sent here)
        deadline = time.monotonic() + self.grace.total_seconds()
        beat = self._jobs.get("heartbeat")
        while not done.wait(max(0.0, min(self.heartbeat_every.total_seconds(), deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                log.warning("scheduler: in-flight work did not finish within %ss; its transactions roll back "
                            "and its leases expire", int(self.grace.total_seconds()))
                break
            if beat is not None:
                try:
                    beat()
                except Exception as e:  # the database may be what is stuck
                    log.warning("scheduler: heartbeat during shutdown failed: %s", e)
        self._on_stop()
        log.info("scheduler: stopped")
