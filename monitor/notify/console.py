"""Console channel: a readable block per alert on standard output.

The default offline configuration routes alerts here, so ``monitor run`` on
the seeds shows what it found with no server at all.  Feed text is cleaned
of control characters first: a title carrying ANSI escapes must not repaint
the operator's terminal.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO

from ..config import ChannelSettings
from ..errors import DeliveryError
from ..records import AlertPayload, DigestMessage
from .payload import clean_text, format_when, one_line, safe_url


def format_alert_block(payload: AlertPayload) -> str:
    """The console rendering of one alert: a few short lines, no colours."""
    kind = {"new": "new story", "update": "update", "summary": "summary"}.get(payload.kind, one_line(payload.kind, 20))
    lines = [
        f"=== ALERT {one_line(payload.watch, 80)} | {kind} | {format_when(payload.created_at)} ===",
        f"  {one_line(payload.title, 300) or '(no title)'}",
    ]
    url = safe_url(payload.url)
    if url:
        lines.append(f"  {url}")
    names = ", ".join(one_line(s.source, 60) for s in payload.sources[:8])
    more = f" and {len(payload.sources) - 8} more" if len(payload.sources) > 8 else ""
    plural = "" if payload.source_count == 1 else "s"
    lines.append(f"  {payload.source_count} source{plural}" + (f": {names}{more}" if names else ""))
    for m in payload.matches[:5]:
        lines.append(
            f"  matched \"{one_line(m.alias, 80)}\" ({one_line(m.alias_source, 20)}) in {one_line(m.field, 10)}: "
            f"{one_line(m.snippet, 200)}"
        )
    lines.append(f"  id {one_line(payload.id, 120)}")
    return "\n".join(lines) + "\n"


class ConsoleChannel:
    """Writes alerts and digests to ``stream`` (standard output by default,
    looked up at send time so redirection and test capture work)."""

    def __init__(self, name: str = "console", *, stream: TextIO | None = None):
        self.name = name
        self._stream = stream
        self._lock = threading.Lock()  # one block is never interleaved with another

    @classmethod
    def from_settings(
        cls, name: str, settings: ChannelSettings, *, guard: object = None, root: Path | None = None
    ) -> "ConsoleChannel":
        return cls(name)

    def _write(self, text: str) -> None:
        stream = self._stream or sys.stdout
        try:
            with self._lock:
                stream.write(text)
                stream.flush()
        except (OSError, ValueError) as e:  # closed pipe, closed stream
            raise DeliveryError(self.name, f"cannot write to the console: {e}", temporary=True) from e

    def send_alert(self, payload: AlertPayload) -> None:
        self._write(format_alert_block(payload))

    def send_digest(self, digest_message: DigestMessage) -> None:
        title = one_line(digest_message.subject, 200)
        self._write(f"=== DIGEST {title} ===\n{clean_text(digest_message.text).rstrip()}\n")

    def close(self) -> None:
        pass
