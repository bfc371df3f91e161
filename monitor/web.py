"""The read-only web site: server-rendered pages over the database.

Routes::

    GET /                   the latest digest due, a link to the next one so far, the archive of days
    GET /digest/YYYY-MM-DD  any day's digest, built from the database as it was then
    GET /story/ID           a story: every report, its timeline, why it matched
    GET /watches            each watch with its latest matches, and the mentions chart
    GET /feeds              feed health
    GET /healthz            JSON: scheduler alive, database reachable, last successful poll age
    GET /metrics            Prometheus text format, computed from the database

Nothing here writes.  Pages carry no script at all, so the Content-Security-
Policy forbids every script, frame, form and plugin; styles are inline (mail-
style templates) so ``style-src 'unsafe-inline'`` is the one allowance, and
images may come from feeds (``img-src http: https: data:``).

Access: bound to a loopback address the site is open to local users.  Bound
anywhere else it needs ``web.token`` (MONITOR_WEB_TOKEN), given as
``Authorization: Bearer TOKEN`` or ``?token=TOKEN``; a page opened with
``?token=`` sets an HttpOnly, SameSite=Strict cookie so its links work without
repeating the token.  ``/healthz`` stays open so liveness probes need no
secret (it says nothing about the content).  Tokens are compared in constant
time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import render
from .config import Settings
from .digest import (
    DigestSpec,
    chart_periods,
    feed_health,
    latest_due_date,
    mentions_per_day,
)
from .errors import ConfigError
from .store import repo_digest

log = logging.getLogger("monitor.web")

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src http: https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
TOKEN_COOKIE = "monitor_token"
OPEN_PATHS = frozenset({"/healthz"})

#: Prometheus histogram buckets for poll durations, in seconds: most polls of a
#: healthy feed take 50 ms to 2 s; the top buckets catch the 30 s fetch deadline
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: /metrics counts whole tables; a scrape every few seconds must not become a
#: scan every few seconds, so the numbers are reused for this long
METRICS_TTL_SECONDS = 10.0
#: matches listed per watch on /watches
WATCH_MATCHES = 10

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -------------------------------------------------------------- middleware


class SecurityHeaders:
    """Adds the security headers to every response (pure ASGI: no buffering)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TokenAuth:
    """Requires the access token on every path but :data:`OPEN_PATHS`."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.token = token.encode()

    def _ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        auth = request.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        query = request.query_params.get("token")
        cookie = request.cookies.get(TOKEN_COOKIE)
        # evaluate all three: the time taken must not tell which one was tried
        results = [self._ok(bearer), self._ok(query), self._ok(cookie)]
        if not any(results):
            response = PlainTextResponse(
                "web: an access token is required: send 'Authorization: Bearer TOKEN' or add ?token=TOKEN\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="monitor"'},
            )
            await response(scope, receive, send)
            return
        if not results[1]:
            await self.app(scope, receive, send)
            return

        cookie_value = (
            f"{TOKEN_COOKIE}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict"
        ).encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [(b"set-cookie", cookie_value)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


# -------------------------------------------------------------------- app


def create_app(
    engine: Engine,
    settings: Settings,
    *,
    scheduler_alive: Callable[[], bool] | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> Starlette:
    """The site over ``engine``.

    ``scheduler_alive`` answers /healthz's scheduler check (None: no scheduler
    runs in this process, e.g. ``monitor serve``; it is then left out of the
    status).  ``clock`` is the time the pages and ages are computed at.
    Raises :class:`ConfigError` when bound to a non-loopback host without a token.
    """
    web = settings.web
    token = web.token.get_secret_value() if web.token is not None else None
    if token is not None and not token.strip():
        token = None
    if token is None and not is_loopback(web.host):
        raise ConfigError(
            f"web: bound to {web.host}, which is not a loopback address, without an access token; "
            "set MONITOR_WEB_TOKEN (or bind web.host to 127.0.0.1)"
        )
    ds = settings.digest
    spec = DigestSpec.from_settings(ds)
    priorities = {w.name: w.priority for w in settings.watches}
    tz = ds.timezone
    metrics_cache: dict[str, Any] = {"at": -1e9, "body": ""}
    metrics_lock = threading.Lock()

    def html(body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def not_found(what: str) -> HTMLResponse:
        return html(render.render_error_page(404, what), 404)

    def current_date(now: datetime) -> date:
        """The digest in progress: the next one due after ``now``."""
        return latest_due_date(now, tz, ds.time) + timedelta(days=1)

    def digest_page(request: Request, day: date, *, index: bool) -> HTMLResponse:
        now = clock()
        with Session(engine) as s:
            # the web lists every watched story; only mail needs a length limit
            digest = repo_digest.load_digest(s, spec, day, watch_priorities=priorities, watch_limit=None, now=now)
            archive = repo_digest.digest_runs(s, ds.name)
        if index:
            return html(render.render_index(digest, archive, now=now, next_date=current_date(now)))
        return html(render.render_digest_html(digest, web=True, archive=archive, now=now))

    def index(request: Request) -> Response:
        return digest_page(request, latest_due_date(clock(), tz, ds.time), index=True)

    def digest_day(request: Request) -> Response:
        raw = request.path_params["day"]
        try:
            if not _DATE.match(raw):
                raise ValueError(raw)
            day = date.fromisoformat(raw)
        except ValueError:
            return not_found(f"No digest for {raw!r}: expected a date as YYYY-MM-DD.")
        if day > current_date(clock()):
            return not_found(f"The digest of {day.isoformat()} does not exist yet.")
        return digest_page(request, day, index=False)

    def story(request: Request) -> Response:
        story_id = request.path_params["story_id"]
        with Session(engine) as s:
            st = repo_digest.story_activity(s, story_id)
        if st is None:
            return not_found(f"There is no story {story_id}.")
        return html(render.render_story_page(st, tz=tz))

    def watches(request: Request) -> Response:
        now = clock()
        day = current_date(now)
        periods = chart_periods(day, tz, ds.time)
        with Session(engine) as s:
            names = [w.name for w in sorted(settings.watches, key=lambda w: (-w.priority, w.name))]
            names += [w for w in repo_digest.matched_watches(s) if w not in priorities]
            rows = [(n, priorities.get(n, 0), repo_digest.latest_matches(s, n, limit=WATCH_MATCHES)) for n in names]
            sightings = repo_digest.watch_sightings(s, periods[0][1], periods[-1][2])
        mentions = mentions_per_day(sightings, periods, priorities)
        return html(render.render_watches_page(rows, mentions, tz=tz))

    def feeds(request: Request) -> Response:
        now = clock()
        with Session(engine) as s:
            statuses = repo_digest.feed_statuses(s)
            activity = repo_digest.feed_activity(s, now)
        health = feed_health(activity, start=now - timedelta(days=1), end=now, silent_after=ds.silent_after)
        return html(render.render_feeds_page(statuses, health, tz=tz, now=now))

    def healthz(request: Request) -> Response:
        now = clock()
        body: dict[str, Any] = {"status": "ok"}
        alive: bool | None = None
        if scheduler_alive is not None:
            try:
                alive = bool(scheduler_alive())
            except Exception as e:  # a broken probe is a dead scheduler, not a 500
                log.warning("web: scheduler_alive raised: %s", e)
                alive = False
        body["scheduler"] = {"alive": alive}
        db_ok, db_error, last_poll = True, None, None
        try:
            with Session(engine) as s:
                repo_digest.ping(s)
                last_poll = repo_digest.last_successful_poll(s)
        except Exception as e:  # any driver error means "not reachable" to a probe
            db_ok, db_error = False, f"store: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        body["database"] = {"reachable": db_ok, "error": db_error}
        body["last_successful_poll"] = last_poll.isoformat() if last_poll else None
        body["last_successful_poll_age_seconds"] = round((now - last_poll).total_seconds(), 3) if last_poll else None
        healthy = db_ok and alive is not False
        body["status"] = "ok" if healthy else "unavailable"
        return JSONResponse(body, status_code=200 if healthy else 503, headers={"Cache-Control": "no-store"})

    def metrics(request: Request) -> Response:
        with metrics_lock:
            if time.monotonic() - metrics_cache["at"] >= METRICS_TTL_SECONDS:
                metrics_cache["body"] = _metrics_text(engine, scheduler_alive, clock())
                metrics_cache["at"] = time.monotonic()
            body = metrics_cache["body"]
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/digest/{day}", digest_day),
            Route("/story/{story_id:int}", story),
            Route("/watches", watches),
            Route("/feeds", feeds),
            Route("/healthz", healthz),
            Route("/metrics", metrics),
        ],
    )

    async def not_found_handler(request: Request, exc: Exception) -> Response:
        return not_found("There is no such page.")

    app.add_exception_handler(404, not_found_handler)
    if token is not None:
        app.add_middleware(TokenAuth, token=token)
    # added last = outermost: even a 401 carries the security headers
    app.add_middleware(SecurityHeaders)
    return app


# ------------------------------------------------------------------ metrics


def _label(v: object) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(x: float) -> str:
    if x == float("inf"):
        return "+Inf"
    return repr(float(x)) if isinstance(x, float) and not float(x).is_integer() else str(int(x))


def _metrics_text(engine: Engine, scheduler_alive: Callable[[], bool] | None, now: datetime) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[dict[str, object], float]] | float) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        if not isinstance(samples, list):
            samples = [({}, samples)]
        for labels, value in samples:
            ls = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{name}{{{ls}}} {_num(value)}" if ls else f"{name} {_num(value)}")

    if scheduler_alive is not None:
        try:
            up = 1 if scheduler_alive() else 0
        except Exception:
            up = 0
        metric("monitor_scheduler_up", "gauge", "1 when the scheduler in this process is alive.", up)
    try:
        with Session(engine) as s:
            polls = repo_digest.polls_by_status(s)
            buckets, count, total = repo_digest.poll_duration_histogram(s, POLL_BUCKETS)
            counts = repo_digest.table_counts(s)
            alerts = repo_digest.alerts_by_status(s)
            digests = repo_digest.digests_by_status(s)
            last_poll = repo_digest.last_successful_poll(s)
    except Exception as e:  # the database being down is itself the metric
        log.warning("web: metrics: database unreachable: %s", e)
        metric("monitor_database_up", "gauge", "1 when the database answered this scrape.", 0)
        return "\n".join(out) + "\n"
    metric("monitor_database_up", "gauge", "1 when the database answered this scrape.", 1)
    statuses = sorted(set(polls) | {"ok", "not_modified", "unchanged", "error"})
    metric("monitor_polls_total", "counter", "Feed polls in the poll log, by outcome.",
           [({"status": st}, polls.get(st, 0)) for st in statuses])
    metric("monitor_poll_errors_total", "counter", "Feed polls that failed.", polls.get("error", 0))
    out.append("# HELP monitor_poll_duration_seconds Time taken by feed polls (fetch, parse and store).")
    out.append("# TYPE monitor_poll_duration_seconds histogram")
    for bound, n in zip(POLL_BUCKETS, buckets):
        out.append(f'monitor_poll_duration_seconds_bucket{{le="{bound}"}} {n}')
    out.append(f'monitor_poll_duration_seconds_bucket{{le="+Inf"}} {count}')
    out.append(f"monitor_poll_duration_seconds_sum {_num(total)}")
    out.append(f"monitor_poll_duration_seconds_count {count}")
    metric("monitor_feeds", "gauge", "Feeds in the database.", counts["feeds"])
    metric("monitor_feeds_failing", "gauge", "Feeds whose latest poll failed.", counts["feeds_failing"])
    metric("monitor_entries_total", "counter", "Feed entries stored.", counts["entries"])
    metric("monitor_articles_total", "counter", "Distinct articles after deduplication.", counts["articles"])
    metric("monitor_stories_total", "counter", "Stories (clusters of articles about one event).", counts["stories"])
    metric("monitor_alerts_sent_total", "counter", "Alerts delivered.", alerts.get("sent", 0))
    metric("monitor_alerts_failed_total", "counter", "Alerts that failed for good.", alerts.get("failed", 0))
    metric("monitor_alert_queue_depth", "gauge", "Alerts waiting in the outbox.", alerts.get("pending", 0))
    metric("monitor_alerts", "gauge", "Alerts in the outbox, by status.",
           [({"status": st}, n) for st, n in sorted(alerts.items())])
    metric("monitor_digests", "gauge", "Digest runs, by status.",
           [({"status": st}, n) for st, n in sorted(digests.items())])
    if last_poll is not None:
        metric("monitor_last_successful_poll_timestamp_seconds", "gauge",
               "Unix time of the latest successful poll.", last_poll.timestamp())
        metric("monitor_last_successful_poll_age_seconds", "gauge",
               "Seconds since the latest successful poll.", max((now - last_poll).total_seconds(), 0.0))
    return "\n".join(out) + "\n"
