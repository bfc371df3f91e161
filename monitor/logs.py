"""Logging: readable lines on a terminal, JSON lines for services.

Context (feed, story, alert ids, worker) is bound with :func:`bind` and
appears on every line logged inside the ``with`` block, in both formats.
httpx and httpcore log full request URLs at INFO; they are held at WARNING so
tokens in query strings never reach the log.  As a second line of defence,
every formatted line goes through :func:`redact`: the secrets registered
with :func:`mask_secrets` (database and SMTP passwords, webhook secrets and
token-shaped parts of channel URLs, the web token) become ``***``, and so do
URL passwords (``//user:pw@``) and the values of query parameters named like
credentials (``?token=``, ``&api_key=``), whoever wrote the message.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("monitor_log_context", default={})


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


MASK = "***"
#: registered secret values, longest first (so a secret containing another
#: one is masked whole)
_secrets: tuple[str, ...] = ()
#: shorter values are not masked: "***" in place of every "ab" would wreck
#: the log and such a value is no secret worth the name
MIN_SECRET_LENGTH = 4
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
_SECRET_PARAM = re.compile(
    r"(?P<head>[?&;](?:access_token|api[_-]?key|apikey|auth|code|key|password|passwd|pwd|secret|sig|signature|"
    r"token|x-amz-signature)=)[^&#\s\"'<>]+",
    re.IGNORECASE,
)


def mask_secrets(values: Iterable[str | None]) -> None:
    """Register values that must never appear in a log line (replaces any
    earlier registration: call once per configuration)."""
    global _secrets
    _secrets = tuple(sorted({v for v in values if v and len(v) >= MIN_SECRET_LENGTH}, key=len, reverse=True))


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + "@", text)
    return _SECRET_PARAM.sub(lambda m: m.group("head") + MASK, text)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.ctx = _context.get()
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, timezone.utc).strftime("%H:%M:%S")
        ctx = getattr(record, "ctx", {}) or {}
        extra = "".join(f" {k}={v}" for k, v in ctx.items())
        line = f"{ts} {record.levelname:<7} {record.getMessage()}{extra}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **(getattr(record, "ctx", {}) or {}),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        # masked field by field (a secret with a quote in it is escaped once
        # encoded), then the whole line: ctx values of any type included
        out = {k: redact(v) if isinstance(v, str) else v for k, v in out.items()}
        return redact(json.dumps(out, ensure_ascii=False, default=str))


def setup(level: str = "INFO", fmt: str = "text", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_monitor", False):
            root.removeHandler(h)
    handler._monitor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "alembic", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
