"""Replay recorded feed snapshots through the pipeline in simulated time.

A replay directory holds one folder per poll, named by its UTC timestamp
(``2024-12-05T14:30:00Z`` or ``20241205T143000Z``, optionally followed by
``_anything``); inside, one feed document per feed, ``<feed-name>.<ext>``.
Snapshots are played in timestamp order with the clock set to each one's
time, through the same store stage as live polling, so first_seen, alerts
and digests happen in simulated time.  Feeds the configuration does not name
are created from the file names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from .errors import ConfigError

_STAMP = re.compile(
    r"^(?P<y>\d{4})-?(?P<mo>\d{2})-?(?P<d>\d{2})T(?P<h>\d{2}):?(?P<mi>\d{2}):?(?P<s>\d{2})Z(?:_.*)?$"
)
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".json", ".feed"}
CONTENT_TYPES = {".json": "application/feed+json"}


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: datetime
    path: Path
    files: tuple[Path, ...]  # feed documents, sorted by name


def snapshot_time(name: str) -> datetime | None:
    m = _STAMP.match(name)
    if not m:
        return None
    try:
        return datetime(*(int(m.group(k)) for k in ("y", "mo", "d", "h", "mi", "s")), tzinfo=timezone.utc)
    except ValueError:
        return None


def feed_name_of(path: Path) -> str:
    return path.stem


def read_snapshots(root: Path) -> list[Snapshot]:
    """The snapshots under ``root`` in time order.  Raises ConfigError naming
    what is wrong when ``root`` is not a replay directory."""
    if not root.is_dir():
        raise ConfigError(f"replay: {root}: not a directory; expected a folder of snapshot folders named like 2024-12-05T14:30:00Z")
    snaps, ignored = [], []
    for d in root.iterdir():
        if not d.is_dir():
            continue
        at = snapshot_time(d.name)
        if at is None:
            ignored.append(d.name)
            continue
        files = tuple(sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in FEED_SUFFIXES))
        snaps.append(Snapshot(at, d, files))
    if not snaps:
        hint = f" (ignored: {', '.join(sorted(ignored)[:5])})" if ignored else ""
        raise ConfigError(
            f"replay: {root}: no snapshot folders found{hint}; name each folder by its UTC time, "
            "e.g. 2024-12-05T14:30:00Z or 20241205T143000Z"
        )
    snaps.sort(key=lambda s: (s.at, s.path.name))
    return snaps


def iter_documents(snaps: list[Snapshot]) -> Iterator[tuple[Snapshot, Path]]:
    for snap in snaps:
        for f in snap.files:
            yield snap, f


def replay(
    root: Path,
    *,
    ingest: Callable[[str, Path, datetime], object],
    after_snapshot: Callable[[datetime], None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> int:
    """Play every snapshot.  ``ingest(feed_name, path, now)`` stores one
    document; ``after_snapshot(now)`` runs delivery and digests at that
    simulated time.  Returns the number of documents played."""
    snaps = read_snapshots(root)
    total = sum(len(s.files) for s in snaps)
    done = 0
    for snap in snaps:
        for f in snap.files:
            ingest(feed_name_of(f), f, snap.at)
            done += 1
            if progress:
                progress(done, total, f"{snap.path.name}/{f.name}")
        if after_snapshot:
            after_snapshot(snap.at)
    return done
