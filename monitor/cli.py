"""The `monitor` command line.  Exit codes: 0 ok, 1 runtime failure, 2 usage or config error."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import click

from . import logs
from .config import ENV_CONFIG, Settings, load_config, parse_duration
from .errors import ConfigError, MonitorError

log = logging.getLogger("monitor.cli")

EPILOG_EXAMPLE = "Example:\n\n  {}"


def _example(text: str) -> str:
    # \b keeps click from re-wrapping the example line
    return f"\b\nExample:\n  {text}"


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_config(self.config_path)
        return self._settings

    def app(self, **kw: Any):
        from .app import App

        return App(self.settings, **kw)


_pass_context = click.make_pass_decorator(Context)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        obj = ctx.find_object(Context)
        obj.config_path = value
        obj._settings = None


def pass_ctx(fn: Callable) -> Callable:
    """Pass the Context, and accept --config after the command name too."""
    fn = _pass_context(fn)
    return click.option(
        "--config", type=click.Path(dir_okay=False), expose_value=False, is_eager=True,
        callback=_set_config, help="Configuration file (default: $MONITOR_CONFIG or config/monitor.toml).",
    )(fn)


def _fail(e: Exception) -> None:
    code = 2 if isinstance(e, ConfigError) else 1
    click.echo(str(e), err=True)
    sys.exit(code)


def _guard(fn: Callable) -> Callable:
    """Turn MonitorError into a clear message and the right exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except MonitorError as e:
            _fail(e)

    return wrapper


def _setup_logging(settings: Settings | None, verbose: bool) -> None:
    level = "DEBUG" if verbose else (settings.logging.level if settings else "INFO")
    logs.setup(level, settings.logging.format if settings else "text")
    if settings is not None:
        logs.mask_secrets(secrets_of(settings))


#: a path segment of a channel URL, or a query value, this long, or this
#: long with a digit in it, is taken for a token (Slack: /services/T0.../B0.../
#: 24 chars; Discord: /api/webhooks/<id>/<68 chars>; ntfy topics used as
#: secrets); words such as "services" or "english" stay readable
_TOKEN_SEGMENT = 16
_TOKEN_SEGMENT_WITH_DIGIT = 8
_SECRET_KEY_WORDS = ("key", "token", "secret", "pass", "pwd", "sig", "auth", "code")


def _token_shaped(value: str) -> bool:
    return len(value) >= _TOKEN_SEGMENT or (len(value) >= _TOKEN_SEGMENT_WITH_DIGIT and any(c.isdigit() for c in value))


def secrets_of(settings: Settings) -> list[str]:
    """Every value of ``settings`` that must never reach a log line."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    from sqlalchemy.engine import make_url

    out: list[str] = []

    def url_parts(url: str | None, *, token_path: bool) -> None:
        if not url:
            return
        try:
            parts = urlsplit(url)
            if parts.password:
                out.extend([parts.password, unquote(parts.password)])
        except ValueError:
            return
        out.extend(v for k, v in parse_qsl(parts.query)
                   if _token_shaped(v) or any(w in k.lower() for w in _SECRET_KEY_WORDS))
        if token_path:
            out.extend(seg for seg in parts.path.split("/") if _token_shaped(seg))

    try:
        out.append(make_url(settings.database_url).password or "")
    except Exception:  # an unreadable URL is reported by the store, unmasked parts stay out of it
        pass
    for ch in settings.channels.values():
        for secret in (ch.password, ch.secret):
            if secret is not None:
                out.append(secret.get_secret_value())
        url_parts(ch.url, token_path=ch.type in ("webhook", "apprise"))
    if settings.web.token is not None:
        out.append(settings.web.token.get_secret_value())
    for f in settings.feeds:
        url_parts(f.url, token_path=False)
    return [v for v in out if v]


def _progress(label: str) -> Callable[[int, int, str], None]:
    """A progress bar on a terminal, plain log lines (every 10%) otherwise."""
    if sys.stderr.isatty():
        state: dict[str, Any] = {}

        def show(done: int, total: int, item: str) -> None:
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = click.progressbar(length=total, label=label, file=sys.stderr)
                bar.__enter__()
            bar.update(1)
            if done >= total:
                bar.__exit__(None, None, None)

        return show
    marks: set[int] = set()

    def log_line(done: int, total: int, item: str) -> None:
        pct = done * 10 // max(total, 1)
        if pct not in marks or done == total:
            marks.add(pct)
            log.info("%s: %d/%d (%s)", label, done, total, item)

    return log_line


def _dt(v: datetime | None) -> str:
    return v.strftime("%Y-%m-%d %H:%M") if v else "-"


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_example("monitor run            # poll the configured feeds until Ctrl-C"),
)
@click.option("--config", "config_path", envvar=ENV_CONFIG, type=click.Path(dir_okay=False),
              help="Configuration file (default: $MONITOR_CONFIG or config/monitor.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(package_name="monitor")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """monitor: watch news feeds, merge reports of one event into stories,
    alert on watch lists and publish a daily digest."""
    ctx.obj = Context(config_path)
    ctx.obj.verbose = verbose


# ------------------------------------------------------------------ run


@main.command(epilog=_example("monitor run --once     # one poll of every due feed, then exit"))
@click.option("--once", is_flag=True, help="Poll the due feeds once, deliver alerts and digests, then exit.")
@click.option("--no-replay", is_flag=True, help="Skip the replay.on_start directory.")
@pass_ctx
@_guard
def run(c: Context, once: bool, no_replay: bool) -> None:
    """Run the daemon: poll feeds on schedule, deliver alerts, build digests."""
    from .app import App, utcnow
    from .scheduler import Daemon

    s = c.settings
    _setup_logging(s, getattr(c, "verbose", False))
    app = App(s)  # migrates
    try:
        # --once too: on SQLite a second process polling beside a daemon is
        # refused, which is what lets the daemon clear every lease at start
        app.acquire_daemon_lock()
        app.recover_leases()
        _startup_summary(app)
        # feeds first, so a replay of configured feeds records their outlet names
        app.sync_feeds()
        if s.replay.on_start and not no_replay:
            _replay(app, s.resolve(s.replay.on_start))
        if once:
            outcomes = app.pipeline.poll_due(clock=utcnow)
            app.deliverer.run(clock=utcnow)
            if app.digests:
                app.digests.run_due(utcnow())
            _print_poll_summary(outcomes)
            return
        web = _start_web(app) if s.web.enabled else None
        daemon = Daemon(
            poll=lambda: app.pipeline.poll_due(clock=utcnow),
            deliver=lambda: app.deliverer.run(clock=utcnow),
            digest=(lambda: app.digests.run_due(utcnow())) if app.digests else None,
            heartbeat=app.heartbeat,
            on_stop=lambda: None,
            request_stop=app.stop,
            tick=s.poll.tick,
            grace=s.workers.grace,
            heartbeat_every=app.heartbeat_every,
            on_abort=end_child_processes,
        )
        app.scheduler_alive = daemon.alive
        daemon.run_forever()
        if web:
            web.should_exit = True
    finally:
        app.close()
    if not once:
        _exit_leaving_abandoned_fetches()


def end_child_processes(timeout: float = 2.0) -> int:
    """Stop the processes this one started (the parse processes): before an
    ``os._exit``, which skips the executor's own shutdown and would leave them
    running with no parent (seen: two orphans per stopped worker).  They only
    parse bodies, so there is nothing of theirs to save.  Returns how many."""
    import multiprocessing
    import multiprocessing.util
    import time

    children = multiprocessing.active_children()
    for p in children:
        p.kill()  # SIGKILL: parse processes ignore SIGINT, and have nothing to finish
    deadline = time.monotonic() + timeout
    for p in children:
        p.join(max(0.0, deadline - time.monotonic()))
    # what multiprocessing's own atexit hook does once the children are gone:
    # release the pool's semaphores (else the resource tracker prints a
    # "leaked semaphore objects" warning into our log after os._exit)
    multiprocessing.util._run_finalizers()
    return len(children)


def _exit_leaving_abandoned_fetches() -> None:
    """Exit 0 now, even if fetch threads still wait on slow servers.

    At this point the grace period is over, leases are released and every
    transaction is committed or rolled back: an abandoned fetch has nothing
    left to write.  But the interpreter joins the fetch pool's threads at
    exit, so a server that answers in 20 s kept the process alive 20 s after
    a 3 s grace (measured).  os._exit skips that join; the parse processes
    are ended and the logs flushed first."""
    import os
    import threading

    # daemon or not: the fetch pool's threads are daemon threads when the
    # pool was started from a scheduler thread, and concurrent.futures joins
    # them at exit all the same
    left = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    if not left:
        return
    end_child_processes()
    log.info("monitor: exiting; %d idle or abandoned threads (fetches waiting on slow servers) are not waited for",
             len(left))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _channel_target(cs) -> str:
    """Where a channel sends, without anything secret: host only for URLs."""
    from urllib.parse import urlsplit

    if cs.type == "file":
        return f"file {cs.path}"
    if cs.type == "email":
        return f"email via {cs.host}:{cs.port or 'default port'} to {len(cs.to)} recipient(s)"
    try:
        parts = urlsplit(cs.url or "")
        return f"{cs.type} to {parts.scheme}://{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}/..."
    except ValueError:
        return f"{cs.type} (unreadable url)"


def _startup_summary(app) -> None:
    """One log record (one JSON line) describing what this worker runs."""
    s = app.settings
    chans = ["console"] + [
        f"{name} ({_channel_target(cs)}{'' if cs.enabled else ', disabled'})" for name, cs in s.channels.items()
    ]
    db = app.engine.url.render_as_string(hide_password=True)
    enabled = sum(1 for f in s.feeds if f.enabled)
    log.info(
        "monitor starting: worker %s\n  database: %s\n  feeds: %d configured (%d enabled)\n  watches: %s\n"
        "  channels: %s\n  digest: %s\n  poll: every %ss, %d at once; lease %ss, grace %ss",
        app.worker, db, len(s.feeds), enabled, ", ".join(w.name for w in s.watches) or "none", ", ".join(chans),
        f"{s.digest.name} at {s.digest.time} {s.digest.timezone}" if s.digest.enabled else "off",
        f"{s.poll.tick.total_seconds():g}", s.poll.concurrency, f"{s.workers.lease.total_seconds():g}",
        f"{s.workers.grace.total_seconds():g}",
    )


def _print_poll_summary(outcomes) -> None:
    if not outcomes:
        click.echo("No feed was due.")
        return
    width = max(len(o.feed_name) for o in outcomes)
    click.echo(f"{'feed':<{width}}  {'status':<12} {'new':>5} {'upd':>5}  next check")
    for o in sorted(outcomes, key=lambda o: o.feed_name):
        click.echo(f"{o.feed_name:<{width}}  {o.status:<12} {o.new:>5} {o.updated:>5}  {_dt(o.next_check_at)}"
                   + (f"  {o.error}" if o.error else ""))
    click.echo(f"{len(outcomes)} feeds polled, {sum(o.new for o in outcomes)} new entries, "
               f"{sum(1 for o in outcomes if o.status == 'error')} errors")


def _start_web(app):
    import threading

    import uvicorn

    from .web import create_app

    s = app.settings
    web_app = create_app(app.read_engine, s, scheduler_alive=lambda: getattr(app, "scheduler_alive", lambda: True)())
    server = uvicorn.Server(uvicorn.Config(web_app, host=s.web.host, port=s.web.port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True, name="web").start()
    log.info("web: serving on http://%s:%s/", s.web.host, s.web.port)
    return server


# --------------------------------------------------------------- replay


def _replay(app, root: Path) -> int:
    from .replay import CONTENT_TYPES

    def ingest(name: str, path: Path, now: datetime) -> None:
        feed = app.replay_feed(name, path, now)
        headers = {"content-type": CONTENT_TYPES[path.suffix.lower()]} if path.suffix.lower() in CONTENT_TYPES else {}
        app.pipeline.ingest_document(feed, path.read_bytes(), now=now, headers=headers)

    def after(now: datetime) -> None:
        app.deliverer.run(now)
        if app.digests:
            app.digests.run_due(now)

    from .replay import replay

    log.info("replay: %s", root)
    n = replay(root, ingest=ingest, after_snapshot=after, progress=_progress("replay"))
    log.info("replay: %d documents played", n)
    return n


@main.command("replay", epilog=_example("monitor replay seeds/timeline"))
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_ctx
@_guard
def replay_cmd(c: Context, directory: Path) -> None:
    """Play recorded snapshots (one folder per poll, named by UTC time) in simulated time."""
    _setup_logging(c.settings, getattr(c, "verbose", False))
    app = c.app()
    try:
        app.sync_feeds()
        _replay(app, directory)
        _print_story_count(app)
    finally:
        app.close()


def _print_story_count(app) -> None:
    from sqlmodel import Session

    from .store import repo, repo_alerts, repo_stories

    with Session(app.engine) as s:
        n_entries = repo.count_entries(s)
        n_stories = len(repo_stories.list_stories(s))
        pending = repo_alerts.queue_depth(s)
    click.echo(f"{n_entries} entries, {n_stories} stories, {pending} alerts waiting")


# --------------------------------------------------------------- config


@main.command("check-config", epilog=_example("monitor check-config --config config/example.toml"))
@pass_ctx
def check_config(c: Context) -> None:
    """Validate the configuration and explain every problem (file, key, what is expected)."""
    try:
        s = c.settings
    except ConfigError as e:
        _fail(e)
    problems: list[str] = []
    from .watches import validate_watches

    problems += validate_watches(s)
    for w in s.warnings:
        click.echo(f"warning: {w}", err=True)
    if problems:
        click.echo(f"config: {s.source}: {len(problems)} problem(s):", err=True)
        for p in problems:
            click.echo(f"  {p}", err=True)
        sys.exit(2)
    click.echo(f"{s.source}: OK ({len(s.feeds)} feeds, {len(s.watches)} watches, "
               f"{len(s.channels)} channels, database {s.database_url.split('@')[-1]})")


# ------------------------------------------------------------------ db


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade", epilog=_example("monitor db upgrade"))
@pass_ctx
@_guard
def db_upgrade(c: Context) -> None:
    """Migrate the database schema to the latest version (also done at `monitor run`)."""
    from .store import migrate

    app = c.app(migrate_db=False)
    try:
        before = migrate.current_revision(app.engine)
        migrate.upgrade(app.engine)
        click.echo(f"database at revision {migrate.current_revision(app.engine)} (was {before or 'empty'})")
    finally:
        app.close()


# ---------------------------------------------------------------- feeds


@main.group()
def feeds() -> None:
    """List and manage feeds (config-file feeds are synced at `monitor run`)."""


@feeds.command("list", epilog=_example("monitor feeds list"))
@pass_ctx
@_guard
def feeds_list(c: Context) -> None:
    """List feeds with their health and next check."""
    from sqlmodel import Session

    from .store import repo

    app = c.app()
    try:
        app.sync_feeds()
        with Session(app.engine) as s:
            rows = repo.list_feeds(s)
    finally:
        app.close()
    for f in rows:
        state = "disabled" if not f.enabled else (f"failing x{f.error_count}" if f.error_count else (f.last_status or "new"))
        click.echo(f"{f.name:<24} {state:<14} {f.entries:>6} entries  next {_dt(f.next_check_at)}  {f.url}")
        if f.last_error and f.error_count:
            click.echo(f"{'':<24} last error: {f.last_error}")


@feeds.command("add", epilog=_example("monitor feeds add https://news.example/world --name world"))
@click.argument("url")
@click.option("--name", help="Feed name (default: from the feed's host).")
@click.option("--source", help="Outlet name (feeds of one outlet count as one source).")
@click.option("--yes", is_flag=True, help="When a page links several feeds, add the first without asking.")
@pass_ctx
@_guard
def feeds_add(c: Context, url: str, name: str | None, source: str | None, yes: bool) -> None:
    """Add a feed by its URL, or by a web page URL whose feeds are discovered."""
    from sqlmodel import Session

    from .app import utcnow
    from .discover import discover_feeds
    from .store import repo

    app = c.app()
    try:
        found = discover_feeds(url, fetcher=app.pipeline.fetcher)
        if len(found) > 1 and not yes:
            for i, (u, title) in enumerate(found, 1):
                click.echo(f"  {i}. {title or '(untitled)'}  {u}")
            idx = click.prompt("Which feed?", type=click.IntRange(1, len(found)), default=1)
            chosen = found[idx - 1]
        else:
            chosen = found[0]
        feed_url = chosen[0]
        name = name or _name_from_url(feed_url)
        with Session(app.engine) as s, s.begin():
            repo.upsert_feed(s, name=name, url=feed_url, source=source, now=utcnow(), origin="cli")
        click.echo(f"added feed {name!r}: {feed_url}")
    finally:
        app.close()


def _name_from_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.hostname or "feed").removeprefix("www.") + parts.path.rstrip("/").replace("/", "-")


def _feed_toggle(c: Context, name: str, enabled: bool) -> None:
    from sqlmodel import Session

    from .app import utcnow
    from .store import repo

    app = c.app()
    try:
        with Session(app.engine) as s, s.begin():
            ok = repo.set_feed_enabled(s, name, enabled, utcnow())
    finally:
        app.close()
    if not ok:
        click.echo(f"feeds: no feed named {name!r}; see `monitor feeds list`", err=True)
        sys.exit(2)
    click.echo(f"feed {name!r} {'enabled' if enabled else 'disabled'}")


@feeds.command("enable", epilog=_example("monitor feeds enable world"))
@click.argument("name")
@pass_ctx
@_guard
def feeds_enable(c: Context, name: str) -> None:
    """Enable a feed (it is polled at the next tick)."""
    _feed_toggle(c, name, True)


@feeds.command("disable", epilog=_example("monitor feeds disable world"))
@click.argument("name")
@pass_ctx
@_guard
def feeds_disable(c: Context, name: str) -> None:
    """Disable a feed (its entries stay)."""
    _feed_toggle(c, name, False)


@feeds.command("remove", epilog=_example("monitor feeds remove world"))
@click.argument("name")
@pass_ctx
@_guard
def feeds_remove(c: Context, name: str) -> None:
    """Remove a feed added with `feeds add` (its entries stay in their stories)."""
    from sqlmodel import Session

    from .store import repo

    if any(f.name == name for f in c.settings.feeds):
        click.echo(f"feeds: {name!r} is defined in {c.settings.source}; remove it there", err=True)
        sys.exit(2)
    app = c.app()
    try:
        with Session(app.engine) as s, s.begin():
            ok = repo.remove_feed(s, name)
    finally:
        app.close()
    if not ok:
        click.echo(f"feeds: no feed named {name!r}", err=True)
        sys.exit(2)
    click.echo(f"feed {name!r} removed")


@main.command("import-opml", epilog=_example("monitor import-opml subscriptions.opml"))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@_guard
def import_opml(c: Context, path: Path) -> None:
    """Add every feed of an OPML file."""
    from sqlmodel import Session

    from .app import utcnow
    from .opml import read_opml
    from .store import repo

    items = read_opml(path.read_bytes(), source=str(path))
    app = c.app()
    progress = _progress("import")
    try:
        with Session(app.engine) as s, s.begin():
            for i, (name, url, tags) in enumerate(items, 1):
                repo.upsert_feed(s, name=name, url=url, tags=tags, now=utcnow(), origin="cli")
                progress(i, len(items), name)
    finally:
        app.close()
    click.echo(f"imported {len(items)} feeds from {path}")


@main.command("export-opml", epilog=_example("monitor export-opml > feeds.opml"))
@pass_ctx
@_guard
def export_opml(c: Context) -> None:
    """Print every enabled feed as OPML."""
    from sqlmodel import Session

    from .opml import write_opml
    from .store import repo

    app = c.app()
    try:
        app.sync_feeds()
        with Session(app.engine) as s:
            rows = [f for f in repo.list_feeds(s) if f.enabled]
    finally:
        app.close()
    click.echo(write_opml([(f.name, f.url, f.tags) for f in rows]))


# -------------------------------------------------------- entries, stories


@main.command(epilog=_example("monitor entries --limit 5 --feed levant-wire"))
@click.option("--limit", default=20, show_default=True)
@click.option("--feed", help="Only this feed.")
@pass_ctx
@_guard
def entries(c: Context, limit: int, feed: str | None) -> None:
    """Show the most recent entries."""
    from sqlmodel import Session

    from .store import repo

    app = c.app()
    try:
        with Session(app.engine) as s:
            rows = repo.recent_entries(s, limit=limit, feed=feed)
    finally:
        app.close()
    for r in rows:
        dup = f" [dup:{r.dup_kind}]" if r.dup_kind else ""
        click.echo(f"{_dt(r.published or r.first_seen)}  {r.feed:<18} {r.title}{dup}")


def _story_json(s, members) -> dict:
    first_entry_of = {}
    for m in members:
        first_entry_of.setdefault(m.article_id, m.entry_id)
    return {
        "id": s.id,
        "title": s.title,
        "first_seen": s.first_seen.isoformat(),
        "last_updated": s.last_updated.isoformat(),
        "sources": s.source_count,
        "articles": [
            {
                "url": m.url,
                "title": m.title,
                "feed": m.feed,
                "source": m.source,
                "published": m.published.isoformat() if m.published else None,
                "first_seen": m.first_seen.isoformat(),
                "similarity": round(m.similarity, 3) if m.similarity is not None else None,
                "duplicate_of": m.duplicate_of if m.dup_kind else None,
                "duplicate_kind": m.dup_kind,
                "entry_id": m.entry_id,
            }
            for m in members
        ],
    }


@main.command(epilog=_example("monitor stories --since 2024-12-05 --json"))
@click.option("--since", help="Only stories updated since this date/time (ISO) or this long ago (e.g. 24h).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (the format is documented in README).")
@click.option("--limit", type=int, help="At most this many stories.")
@pass_ctx
@_guard
def stories(c: Context, since: str | None, as_json: bool, limit: int | None) -> None:
    """List stories: one event, all its sources."""
    from sqlmodel import Session

    from .app import utcnow
    from .store import repo_stories

    since_dt = _parse_since(since, utcnow()) if since else None
    app = c.app()
    try:
        with Session(app.engine) as s:
            views = repo_stories.list_stories(s, since=since_dt, limit=limit)
            for v in views:
                members = repo_stories.story_members(s, v.id)
                if as_json:
                    click.echo(json.dumps(_story_json(v, members), ensure_ascii=False))
                else:
                    click.echo(f"#{v.id:<5} {_dt(v.first_seen)}  {v.source_count} sources, "
                               f"{len(members)} entries  {v.title}")
    finally:
        app.close()


def _parse_since(value: str, now: datetime) -> datetime:
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected an ISO date (2024-12-05) or a duration (24h)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@main.command("explain-story", epilog=_example("monitor explain-story 12"))
@click.argument("story_id", type=int)
@pass_ctx
@_guard
def explain_story(c: Context, story_id: int) -> None:
    """Show why each article joined a story, and which watches matched it."""
    from sqlmodel import Session

    from .store import repo_stories

    app = c.app()
    try:
        with Session(app.engine) as s:
            v = repo_stories.get_story(s, story_id)
            if v is None:
                click.echo(f"stories: no story #{story_id}", err=True)
                sys.exit(2)
            members = repo_stories.story_members(s, story_id)
            matches = repo_stories.story_matches(s, story_id)
    finally:
        app.close()
    click.echo(f"Story #{v.id}: {v.title}\n  first seen {_dt(v.first_seen)}, updated {_dt(v.last_updated)}, "
               f"{v.source_count} sources, {v.article_count} articles")
    for m in members:
        if m.dup_kind:
            why = f"same article as entry {m.duplicate_of} ({m.dup_kind}" + (
                f", similarity {m.similarity:.2f})" if m.similarity is not None else ")")
        else:
            why = f"similarity {m.similarity:.2f}: {m.reason}" if m.similarity is not None else (m.reason or "")
        click.echo(f"  - [{m.source}] {m.title}\n      {m.url or ''}\n      {why}")
    for mt in matches:
        click.echo(f"  watch {mt.watch}: alias {mt.alias!r} ({mt.alias_source}) in {mt.field}: …{mt.snippet}…")


# -------------------------------------------------------------- watches


@main.group()
def watches() -> None:
    """Watch lists: cities, actors, topics."""


@watches.command("list", epilog=_example("monitor watches list"))
@pass_ctx
@_guard
def watches_list(c: Context) -> None:
    """List the configured watches with how many aliases each uses."""
    from .watches import compile_watches

    s = c.settings
    for cw in compile_watches(s.watches, actors_path=s.resolve(s.actors_file)):
        w = next(x for x in s.watches if x.name == cw.spec.name)
        used = sum(1 for d in cw.decisions if d.used)
        chans = ", ".join(w.channels if w.channels is not None else s.alerts.default_channels)
        click.echo(f"{w.name:<28} {w.kind:<6} priority {w.priority}  {used} aliases  -> {chans}")


@watches.command("show", epilog=_example('monitor watches show Homs'))
@click.argument("name")
@pass_ctx
@_guard
def watches_show(c: Context, name: str) -> None:
    """Show exactly which aliases a watch uses and where each came from."""
    from .watches import compile_watches, format_explanation

    s = c.settings
    chosen = [w for w in s.watches if w.name == name]
    if not chosen:
        click.echo(f"watches: no watch named {name!r} (known: {', '.join(w.name for w in s.watches)})", err=True)
        sys.exit(2)
    click.echo(format_explanation(compile_watches(chosen, actors_path=s.resolve(s.actors_file))[0]))


@watches.command("test", epilog=_example('monitor watches test "Rebels advance on Hims"'))
@click.argument("text")
@click.option("--title", default="", help="A headline to match as the title field.")
@pass_ctx
@_guard
def watches_test(c: Context, text: str, title: str) -> None:
    """Match a text against every watch and explain each match (exit 1: no match)."""
    from .match import Matcher

    s = c.settings
    matcher = Matcher.from_settings(s.watches, actors_path=s.resolve(s.actors_file))
    found = matcher.match_all(title, text)
    if not found:
        click.echo("no watch matches")
        sys.exit(1)
    for m in found:
        click.echo(f"{m.watch}: alias {m.alias!r} ({m.alias_source}) in {m.field}: …{m.snippet}…")


# --------------------------------------------------------------- alerts


@main.command("alerts", epilog=_example("monitor alerts --status failed"))
@click.option("--status", type=click.Choice(["pending", "sent", "failed", "folded"]))
@click.option("--limit", default=50, show_default=True)
@pass_ctx
@_guard
def alerts_cmd(c: Context, status: str | None, limit: int) -> None:
    """Show the alert outbox."""
    from sqlmodel import Session

    from .store import repo_alerts

    app = c.app()
    try:
        with Session(app.engine) as s:
            rows = repo_alerts.list_alerts(s, status=status, limit=limit)
    finally:
        app.close()
    for a in rows:
        click.echo(f"{a.id:>5} {a.status:<8} {a.channel:<10} [{a.watch}] {a.kind:<7} {a.title}"
                   + (f"  ({a.last_error})" if a.last_error and a.status != "sent" else ""))


# --------------------------------------------------------------- digest


@main.command(epilog=_example("monitor digest --date 2024-12-06 --out /tmp/digest.html"))
@click.option("--date", "date_", help="Local date YYYY-MM-DD (default: the last complete period).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write HTML here (and .txt beside it).")
@click.option("--send", is_flag=True, help="Also send it on the digest's channels.")
@pass_ctx
@_guard
def digest(c: Context, date_: str | None, out: Path | None, send: bool) -> None:
    """Build any day's digest on demand."""
    from .app import utcnow

    _setup_logging(c.settings, getattr(c, "verbose", False))
    app = c.app()
    try:
        if app.digests is None:
            click.echo("digest: disabled in the configuration ([digest] enabled = false)", err=True)
            sys.exit(2)
        result = app.digests.build_on_demand(date_, now=utcnow(), out=out, send=send)
        click.echo(result)
    finally:
        app.close()


# ---------------------------------------------------------------- serve


@main.command(epilog=_example("monitor serve --port 8080"))
@click.option("--host", help="Bind address (default from [web], 127.0.0.1).")
@click.option("--port", type=int, help="Port (default from [web], 8080).")
@pass_ctx
@_guard
def serve(c: Context, host: str | None, port: int | None) -> None:
    """Serve the read-only web site: digests, stories, watches, feed health, /healthz, /metrics."""
    import uvicorn

    from .web import create_app

    s = c.settings
    _setup_logging(s, getattr(c, "verbose", False))
    host = host or s.web.host
    port = port if port is not None else s.web.port
    s = s.model_copy(update={"web": s.web.model_copy(update={"host": host, "port": port})})
    app = c.app()
    try:
        web_app = create_app(app.read_engine, s)  # refuses a non-loopback host without a token
        click.echo(f"serving on http://{host}:{port}/ (Ctrl-C stops)")
        uvicorn.run(web_app, host=host, port=port, log_level="warning")
    finally:
        app.close()


# --------------------------------------------------------------- status


@main.command(epilog=_example("monitor status --json"))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for scripts and monitoring).")
@pass_ctx
@_guard
def status(c: Context, as_json: bool) -> None:
    """Feeds due, failing feeds, alert queue depth, last digest, workers and their leases."""
    from .app import utcnow
    from .status import collect_status
    from .store.db import make_engine

    # a reader: no migration, and on SQLite no write lock (a running daemon
    # holds the daemon lock; status must still answer)
    engine = make_engine(c.settings.database_url, read_only=True)
    try:
        st = collect_status(engine, utcnow())
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(st.to_dict(), default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
                              indent=2))
    else:
        click.echo(st.render())


if __name__ == "__main__":  # pragma: no cover
    main()
