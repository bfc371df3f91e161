"""The daemon's timers: the only module that imports APScheduler.

APScheduler 3.11 runs a few jobs, never one per feed (schedules are data in
the database, see ``monitor.schedule``):

* ``poll``: every ``poll.tick``, poll the feeds that are due;
* ``deliver``: every 10 s, deliver due alerts from the outbox;
* ``digest``: every minute, build and send the digests that are due; the
  (digest, local date) key in the database makes each local day's digest
  happen exactly once, so no cron trigger (which misbehaves across DST
  changes in 3.11) is needed, and a missed day is caught up after downtime;
* ``heartbeat``: every 30 s, tell the database this worker is alive.

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
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("monitor.scheduler")


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
    ):
        self._jobs = dict(poll=poll, deliver=deliver, digest=digest, heartbeat=heartbeat)
        self._on_stop = on_stop
        self._request_stop = request_stop
        self.tick = tick
        self.grace = grace
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
        intervals = {"poll": self.tick, "deliver": timedelta(seconds=10), "digest": timedelta(minutes=1),
                     "heartbeat": timedelta(seconds=30)}
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
                log.warning("scheduler: second signal: exiting now (every write is its own transaction)")
                os._exit(1)
            log.info("scheduler: %s received: finishing in-flight work (up to %ss)",
                     signal.Signals(signum).name, int(self.grace.total_seconds()))
            self.stop_event.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run_forever(self) -> None:
        self.install_signal_handlers()
        self.start()
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
        if not done.wait(self.grace.total_seconds()):
            log.warning("scheduler: in-flight work did not finish within %ss; its transactions roll back",
                        int(self.grace.total_seconds()))
        self._on_stop()
        log.info("scheduler: stopped")
