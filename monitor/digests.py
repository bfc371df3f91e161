"""The digest job: which days are due -> claim -> build -> write files -> send.

``DigestService.run_due(now)`` is called every minute by the scheduler and
after every replay snapshot (so replay builds digests on simulated days):

1. :func:`monitor.digest.due_digest_dates` names the local dates due at
   ``now`` and not done yet (catching up missed days once);
2. each day is **claimed** in ``digest_run`` (unique name + local date: one
   worker, one build, whatever the cron trigger or other workers do);
3. the digest is **built** from the store and rendered to HTML and text;
4. the **file** output (``digest.dir/YYYY-MM-DD.html`` and ``.txt``) is
   written atomically (temporary file + rename);
5. it is **sent** on the other digest channels; a temporary failure leaves
   the run ``built`` and the next call retries it (for a day), a permanent one
   marks it ``failed`` with the error.
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Mapping

from sqlalchemy.engine import Engine
from sqlmodel import Session

from .config import Settings
from .digest import DigestSpec, due_digest_dates, latest_due_date, should_send
from .errors import DeliveryError
from .records import Digest
from .render import digest_message, render_digest
from .store import repo_digest

log = logging.getLogger("monitor.digests")

#: the built-in file output's name in ``digest.channels``
FILE_CHANNEL = "file"
#: a digest whose sending failed temporarily is retried for this long
RETRY_FOR = timedelta(hours=24)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class DigestService:
    def __init__(self, engine: Engine, settings: Settings, *, channels: Mapping[str, object], worker: str):
        self.engine = engine
        self.settings = settings
        self.spec = DigestSpec.from_settings(settings.digest)
        self.dir = settings.resolve(settings.digest.dir)
        self.priorities = {w.name: w.priority for w in settings.watches}
        self.channels = {n: channels[n] for n in settings.digest.channels if n != FILE_CHANNEL and n in channels}
        self.write_files = FILE_CHANNEL in settings.digest.channels
        self.worker = worker

    # ------------------------------------------------------------ scheduled

    def run_due(self, now: datetime) -> list[str]:
        """Build and send every digest due at ``now``.  Returns the local dates done."""
        with Session(self.engine) as s:
            last = repo_digest.last_digest_date(s, self.spec.name)
        done = []
        for day in due_digest_dates(last, now, self.spec.timezone, self.spec.time):
            with Session(self.engine) as s, s.begin():
                claimed = repo_digest.claim_digest_run(s, self.spec.name, day, self.worker, now)
            if not claimed:
                continue  # another worker has this day
            self._build_and_send(day, now)
            done.append(day.isoformat())
        self._retry_unsent(now)
        return done

    def _build_and_send(self, day: date, now: datetime) -> None:
        try:
            with Session(self.engine) as s:
                digest = repo_digest.load_digest(s, self.spec, day, watch_priorities=self.priorities)
            html_path = text_path = None
            # the file output follows skip_empty like every other channel
            if self.write_files and should_send(digest, self.settings.digest.skip_empty):
                html_path, text_path = self.write(digest)
            with Session(self.engine) as s, s.begin():
                repo_digest.mark_built(s, self.spec.name, day, now, story_count=_story_count(digest),
                                       html_path=html_path and str(html_path), text_path=text_path and str(text_path))
            log.info("digest %s %s: %d stories%s", self.spec.name, day, _story_count(digest),
                     f", written to {html_path}" if html_path else "")
        except Exception as e:
            log.exception("digest %s %s: could not be built", self.spec.name, day)
            with Session(self.engine) as s, s.begin():
                repo_digest.mark_failed(s, self.spec.name, day, f"digest: build failed: {e}")
            return
        self._send(digest, day, now)

    def _send(self, digest: Digest, day: date, now: datetime) -> None:
        if not should_send(digest, self.settings.digest.skip_empty) or not self.channels:
            with Session(self.engine) as s, s.begin():
                repo_digest.mark_sent(s, self.spec.name, day, now)
            return
        msg = digest_message(digest)
        temporary_error = None
        for name, channel in self.channels.items():
            try:
                channel.send_digest(msg)
                log.info("digest %s %s sent on %s", self.spec.name, day, name)
            except DeliveryError as e:
                if e.temporary:
                    temporary_error = str(e)
                    log.warning("%s; the digest is sent again later", e)
                else:
                    with Session(self.engine) as s, s.begin():
                        repo_digest.mark_failed(s, self.spec.name, day, str(e))
                    log.error("%s; the digest of %s is not sent on that channel", e, day)
                    return
        if temporary_error is None:
            with Session(self.engine) as s, s.begin():
                repo_digest.mark_sent(s, self.spec.name, day, now)

    def _retry_unsent(self, now: datetime) -> None:
        """Digests built but not sent (a receiver was down) are sent again."""
        if not self.channels:
            return
        with Session(self.engine) as s:
            days = repo_digest.unsent_days(s, self.spec.name, built_before=now - timedelta(minutes=1),
                                           built_after=now - RETRY_FOR)
        for day in days:
            with Session(self.engine) as s:
                digest = repo_digest.load_digest(s, self.spec, day, watch_priorities=self.priorities)
            self._send(digest, day, now)

    # ------------------------------------------------------------ on demand

    def write(self, digest: Digest, out: Path | None = None) -> tuple[Path, Path]:
        html, text = render_digest(digest)
        html_path = out or (self.dir / f"{digest.local_date}.html")
        text_path = html_path.with_suffix(".txt")
        write_atomic(html_path, html)
        write_atomic(text_path, text)
        return html_path, text_path

    def build(self, day: date) -> Digest:
        with Session(self.engine) as s:
            return repo_digest.load_digest(s, self.spec, day, watch_priorities=self.priorities)

    def build_on_demand(self, date_str: str | None, *, now: datetime, out: Path | None = None,
                        send: bool = False) -> str:
        """`monitor digest`: any day, written to ``out`` (or the digest dir),
        sent when asked, outside the exactly-once guard of the scheduled job."""
        try:
            day = date.fromisoformat(date_str) if date_str else latest_due_date(now, self.spec.timezone, self.spec.time)
        except ValueError:
            from .errors import ConfigError

            raise ConfigError(f"digest: --date {date_str!r}: expected YYYY-MM-DD") from None
        digest = self.build(day)
        html_path, text_path = self.write(digest, out)
        lines = [f"digest {self.spec.name} {day}: {_story_count(digest)} stories -> {html_path}, {text_path}"]
        if send:
            msg = digest_message(digest)
            for name, channel in self.channels.items():
                channel.send_digest(msg)
                lines.append(f"sent on {name}")
        return "\n".join(lines)


def _story_count(d: Digest) -> int:
    return sum(len(s.items) for s in d.sections)
