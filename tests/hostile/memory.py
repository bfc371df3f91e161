"""Peak memory of one operation, in this process and in its child processes.

monitor parses feeds in a pool of child processes (``monitor.pipeline``), so
a parser blowing up on a hostile body shows in a child, not here: measuring
only this process would let an entity expansion pass unseen.  Three numbers:

* ``traced_mib``: tracemalloc's peak in this process (Python allocations);
* ``rss_mib``: how far this process's resident set rose above where it was
  (Linux: the peak-RSS mark is reset by writing "5" to /proc/self/clear_refs,
  kernel >= 4.0), counting C allocations (lxml, zlib, nh3) too;
* ``child_rss_mib``: the same for each child process, the largest rise; a
  child started during the operation counts its whole peak (interpreter
  included), which overstates it, never understates.

Where /proc is not writable (not Linux, not allowed) the RSS numbers are None.
"""

from __future__ import annotations

import os
import tracemalloc
from dataclasses import dataclass


def _status_kib(pid: int | str, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _reset_peak(pid: int | str) -> bool:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def children(pid: int | None = None) -> list[int]:
    """The direct child processes of ``pid`` (default: this one)."""
    me = pid or os.getpid()
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                after_comm = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(after_comm[1]) == me:
            found.append(int(name))
    return found


@dataclass
class Peak:
    traced_mib: float = 0.0
    rss_mib: float | None = None
    child_rss_mib: float | None = None

    def __str__(self) -> str:
        def mib(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.1f} MiB"

        return f"tracemalloc {mib(self.traced_mib)}, RSS +{mib(self.rss_mib)}, child RSS +{mib(self.child_rss_mib)}"


class MemoryProbe:
    """``with MemoryProbe() as probe: ...`` then ``probe.peak``."""

    def __init__(self) -> None:
        self.peak = Peak()
        self._rss0: int | None = None
        self._children0: dict[int, int | None] = {}

    def __enter__(self) -> "MemoryProbe":
        self._rss0 = _status_kib("self", "VmRSS") if _reset_peak("self") else None
        self._children0 = {
            pid: (_status_kib(pid, "VmRSS") if _reset_peak(pid) else None) for pid in children()
        }
        tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _, traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.peak.traced_mib = traced / (1 << 20)
        hwm = _status_kib("self", "VmHWM")
        if self._rss0 is not None and hwm is not None:
            self.peak.rss_mib = max(hwm - self._rss0, 0) / 1024
        rises = []
        for pid in children():
            peak = _status_kib(pid, "VmHWM")
            if peak is None:
                continue
            before = self._children0.get(pid, 0)
            if before is None:
                continue  # could not reset this child's mark: its peak is from before
            rises.append(max(peak - before, 0) / 1024)
        if rises:
            self.peak.child_rss_mib = max(rises)
