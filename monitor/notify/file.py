"""File channel: one JSON line per alert or digest, the webhook's payload.

Each line is written with one ``write(2)`` on a descriptor opened with
``O_APPEND`` and then ``fsync``-ed before the send counts as delivered; a
write that fails half way (a full disk) is truncated away, so a retry never
leaves a broken line before the good one.  Appends of one write are atomic
with respect to the file offset (POSIX), so two writers never interleave
within a line.  A consumer tails the file and deduplicates on ``id``.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..config import ChannelSettings
from ..errors import ConfigError, DeliveryError
from ..records import AlertPayload, DigestMessage
from .payload import alert_to_json, digest_to_json, encode_json

# Failures that a person has to fix (permissions, a read-only mount, a path
# that is a directory): retrying will not help, so they are permanent.
# Everything else (ENOSPC, EIO, EDQUOT...) may clear up and is retried.
# EEXIST comes from mkdir when a parent of the path is a file.
_PERMANENT_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG}
)


class FileChannel:
    def __init__(self, name: str, path: str | os.PathLike[str], *, clock: Callable[[], float] = time.time):
        self.name = name
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, name: str, settings: ChannelSettings, *, guard: object = None, root: Path | None = None
    ) -> "FileChannel":
        if not settings.path:
            raise ConfigError(f"config: channels.{name}.path: a file channel needs a path")
        path = Path(settings.path).expanduser()
        if not path.is_absolute() and root is not None:
            path = root / path
        return cls(name, path)

    def _append(self, line: bytes) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    start = os.fstat(fd).st_size
                    try:
                        view = memoryview(line)
                        while view:  # a short write (a full disk mid-line) is retried, then raises
                            view = view[os.write(fd, view):]
                        os.fsync(fd)
                    except OSError:
                        # leave no half line behind: the retry appends the whole line again
                        try:
                            os.ftruncate(fd, start)
                        except OSError:
                            pass
                        raise
                finally:
                    os.close(fd)
        except OSError as e:
            temporary = e.errno not in _PERMANENT_ERRNOS
            hint = "" if temporary else "; check the path and its permissions"
            raise DeliveryError(
                self.name, f"cannot append to {self.path}: {e.strerror or e}{hint}", temporary=temporary
            ) from e

    def send_alert(self, payload: AlertPayload) -> None:
        self._append(encode_json(alert_to_json(payload)) + b"\n")

    def send_digest(self, digest_message: DigestMessage) -> None:
        now = datetime.fromtimestamp(self._clock(), timezone.utc)
        self._append(encode_json(digest_to_json(digest_message, now)) + b"\n")

    def close(self) -> None:
        pass
