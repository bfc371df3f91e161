"""Settings: the TOML file, environment overrides, and validation.

``load_config(path)`` reads a TOML file with :mod:`tomllib`, applies the
environment (``MONITOR_DATABASE_URL``; secrets only ever come from the
environment), and validates with pydantic.  Every problem is reported at once,
each naming the file, the key and what is expected; unknown keys are errors.

Relative paths in the file (database file, seeds, digest dir, local feed
paths) are resolved against the directory that holds the config file's
project: the parent of ``config/`` when the file lives in a ``config/``
folder, else the file's own directory.  So ``monitor run`` works from any
working directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError

DEFAULT_CONFIG = Path("config/monitor.toml")
ENV_CONFIG = "MONITOR_CONFIG"
ENV_DATABASE_URL = "MONITOR_DATABASE_URL"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """``90``, ``"90s"``, ``"15m"``, ``"1.5h"``, ``"3d"`` -> timedelta.
    Numbers are seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 900, \"15m\", \"2h\" or \"3d\"")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    raise ValueError(f"expected a duration such as 900, \"15m\", \"2h\" or \"3d\", got {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class DatabaseSettings(_Section):
    #: SQLAlchemy URL. sqlite:///data/monitor.db (relative to the project) or
    #: postgresql+psycopg://user@host/db.  MONITOR_DATABASE_URL overrides it.
    url: str = "sqlite:///data/monitor.db"
    #: echo SQL (debugging)
    echo: bool = False


class PollSettings(_Section):
    interval: Duration = timedelta(minutes=15)
    #: +- share of the interval added at random so feeds on one host spread out
    jitter: float = Field(0.1, ge=0, le=0.5)
    #: total wall-clock deadline per fetch (httpx's own timeouts are per read)
    timeout: Duration = timedelta(seconds=30)
    connect_timeout: Duration = timedelta(seconds=10)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    max_entries_per_feed: int = Field(2000, gt=0)
    user_agent: str = "monitor/0.1 (news monitoring; +https://github.com/monitor-news/monitor)"
    #: how many fetches run at once, and at most how many against one host
    concurrency: int = Field(16, ge=1, le=1000)
    per_host: int = Field(2, ge=1, le=100)
    #: processes that parse changed feeds (unset: one per CPU when there are
    #: several; 0: parse in the fetch threads).  See benchmarks/README.md.
    parse_processes: int | None = Field(None, ge=0, le=64)
    #: server hints (ttl, max-age, Retry-After) may push a check later, up to this
    max_hint: Duration = timedelta(hours=24)
    #: the longest wait between two checks of a failing feed (never disabled forever)
    max_backoff: Duration = timedelta(hours=24)
    #: how often the scheduler looks for due feeds
    tick: Duration = timedelta(seconds=30)


class NetworkSettings(_Section):
    #: CIDR ranges or host names monitor may reach although they are private,
    #: loopback or link-local (the SSRF guard refuses them otherwise).
    allow: tuple[str, ...] = ()


class FeedSettings(_Section):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1)
    #: the outlet; feeds of one outlet count as one source in a story
    source: str | None = None
    interval: Duration | None = None
    tags: tuple[str, ...] = ()
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name_is_slug_friendly(cls, v: str) -> str:
        if v.strip() != v or "/" in v:
            raise ValueError("a feed name must not start or end with spaces or contain '/'")
        return v


class ReplaySettings(_Section):
    #: a replay directory played in simulated time when `monitor run` starts
    #: (the default config replays seeds/timeline so a new user sees results at once)
    on_start: str | None = None


class DedupSettings(_Section):
    #: stories stay open for new articles this long after their last update
    window: Duration = timedelta(hours=72)
    #: level 2: Jaccard similarity of word shingles at which two texts are one article
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1)
    #: level 3 thresholds; the clusterer scales between them by the amount of text
    story_threshold_full: float | None = Field(None, gt=0, le=1)
    story_threshold_headline: float | None = Field(None, gt=0, le=1)


class NearRule(_Section):
    terms: tuple[str, ...] = Field(min_length=1)
    within: int = Field(20, ge=1, le=500)


class WatchSettings(_Section):
    name: str = Field(min_length=1)
    kind: Literal["city", "actor", "topic"] = "topic"
    #: seed aliases from the gazetteer (city) or config/actors.toml (actor)
    city: str | None = None
    actor: str | None = None
    aliases: tuple[str, ...] = ()
    #: aliases to drop from what the gazetteer or actors file supplied
    exclude_aliases: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    near: NearRule | None = None
    #: a small rule expression, e.g. '"Homs" NEAR/20 (rebels OR offensive)'
    rule: str | None = None
    scope: Literal["title", "title+text"] = "title+text"
    priority: int = Field(1, ge=0, le=10)
    channels: tuple[str, ...] | None = None


class AlertSettings(_Section):
    default_channels: tuple[str, ...] = ("console",)
    #: entries first seen longer ago than this (against the pipeline clock) do not alert
    backlog_window: Duration = timedelta(hours=48)
    #: an update alert when a story gains this many new distinct sources...
    update_min_new_sources: int = Field(3, ge=1)
    #: ...and not sooner than this after the previous alert for the same story+watch
    update_cooldown: Duration = timedelta(hours=6)
    #: retry temporary delivery failures with exponential backoff for this long
    retry_for: Duration = timedelta(hours=12)
    retry_base: Duration = timedelta(seconds=30)


class ChannelSettings(_Section):
    type: Literal["console", "file", "email", "webhook", "apprise"]
    enabled: bool = True
    #: at most this many alerts an hour; the overflow is folded into one summary
    max_per_hour: int | None = Field(None, ge=1)
    timeout: Duration = timedelta(seconds=20)
    # file
    path: str | None = None
    # email
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str | None = None
    #: name of the environment variable holding the password (never the password)
    password_env: str | None = None
    sender: str | None = None
    to: tuple[str, ...] = ()
    # webhook / apprise
    url: str | None = None
    #: name of the environment variable holding the webhook signing secret
    secret_env: str | None = None
    #: secret values found in the environment at load time (never in the file)
    password: SecretStr | None = None
    secret: SecretStr | None = None

    @model_validator(mode="after")
    def _required_fields(self) -> "ChannelSettings":
        need = {"file": ["path"], "email": ["host", "sender", "to"], "webhook": ["url"], "apprise": ["url"]}
        missing = [f for f in need.get(self.type, []) if not getattr(self, f)]
        if missing:
            article = "an" if self.type[0] in "aeiou" else "a"
            raise ValueError(f"{article} {self.type} channel needs {', '.join(missing)}")
        return self


class DigestSettings(_Section):
    enabled: bool = True
    name: str = "daily"
    #: local time of day, HH:MM, in `timezone`
    time: str = "07:00"
    timezone: str = "UTC"
    period: Duration = timedelta(hours=24)
    channels: tuple[str, ...] = ("file",)
    #: where the file channel writes YYYY-MM-DD.html and .txt
    dir: str = "data/digests"
    top_stories: int = Field(20, ge=0, le=500)
    skip_empty: bool = False
    #: a feed with no new entry for this long is reported as silent
    silent_after: Duration = timedelta(hours=48)

    @field_validator("time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError("expected a local time as HH:MM, e.g. \"07:00\"")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r}; expected e.g. \"Europe/Berlin\"") from None
        return v


class WebSettings(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    #: required when host is not a loopback address; read from MONITOR_WEB_TOKEN
    token: SecretStr | None = None


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class WorkerSettings(_Section):
    #: how long a claimed feed or alert stays with a worker before another may take it
    lease: Duration = timedelta(minutes=5)
    #: on SIGTERM, in-flight work gets this long to finish before it is rolled back
    grace: Duration = timedelta(seconds=20)


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    poll: PollSettings = PollSettings()
    network: NetworkSettings = NetworkSettings()
    replay: ReplaySettings = ReplaySettings()
    dedup: DedupSettings = DedupSettings()
    alerts: AlertSettings = AlertSettings()
    digest: DigestSettings = DigestSettings()
    web: WebSettings = WebSettings()
    logging: LoggingSettings = LoggingSettings()
    workers: WorkerSettings = WorkerSettings()
    feeds: tuple[FeedSettings, ...] = ()
    watches: tuple[WatchSettings, ...] = ()
    channels: dict[str, ChannelSettings] = {}
    #: the actors alias file (relative to the project root)
    actors_file: str = "config/actors.toml"

    #: where relative paths are resolved; set by load_config, not by the file
    root: Path = Path(".")
    #: the file this came from (for messages)
    source: str = "<defaults>"
    #: non-fatal remarks for check-config (secrets written in the file...)
    warnings: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _cross_checks(self) -> "Settings":
        problems = []
        names = [f.name for f in self.feeds]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"feeds: the name {dup!r} is used by more than one feed; names must be unique")
        wnames = [w.name for w in self.watches]
        for dup in sorted({n for n in wnames if wnames.count(n) > 1}):
            problems.append(f"watches: the name {dup!r} is used by more than one watch")
        # console is always there, so the default offline config needs no channel table
        known = set(self.channels) | {"console"}
        for i, w in enumerate(self.watches):
            for c in w.channels or ():
                if c not in known:
                    problems.append(f"watches[{i}].channels: no channel named {c!r} (known: {', '.join(sorted(known)) or 'none'})")
        for c in self.alerts.default_channels:
            if c not in known:
                problems.append(f"alerts.default_channels: no channel named {c!r} (known: {', '.join(sorted(known)) or 'none'})")
        for c in self.digest.channels:
            if c not in known and c != "file":
                problems.append(f"digest.channels: no channel named {c!r} (known: {', '.join(sorted(known | {'file'}))})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """A path from the config, made absolute against the project root."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.root / p)

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made absolute."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve(url[len(prefix):]))
        return url


def project_root_for(config_path: Path) -> Path:
    config_path = config_path.resolve()
    parent = config_path.parent
    return parent.parent if parent.name == "config" else parent


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _format_errors(path: str, err: ValidationError, data: dict[str, Any]) -> list[str]:
    problems = []
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        key = _loc(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the configuration reference in README.md)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        # name feeds and watches by their name, not only by index
        if loc and loc[0] in ("feeds", "watches") and len(loc) > 1 and isinstance(loc[1], int):
            items = data.get(loc[0]) or []
            if loc[1] < len(items) and isinstance(items[loc[1]], dict) and items[loc[1]].get("name"):
                key += f" (name = {items[loc[1]]['name']!r})"
        problems.append(f"{path}: {key}: {msg}")
    return problems


def _apply_environment(data: dict[str, Any], env: dict[str, str], warnings: list[str], path: str) -> None:
    if env.get(ENV_DATABASE_URL):
        data.setdefault("database", {})["url"] = env[ENV_DATABASE_URL]
    if env.get("MONITOR_WEB_TOKEN"):
        data.setdefault("web", {})["token"] = env["MONITOR_WEB_TOKEN"]
    elif isinstance(data.get("web"), dict) and "token" in data["web"]:
        warnings.append(f"{path}: web.token: a secret is written in the file; set MONITOR_WEB_TOKEN instead")
    for name, ch in (data.get("channels") or {}).items():
        if not isinstance(ch, dict):
            continue
        for secret_key, env_key in (("password", "password_env"), ("secret", "secret_env")):
            if secret_key in ch:
                warnings.append(
                    f"{path}: channels.{name}.{secret_key}: a secret is written in the file; "
                    f"put it in an environment variable and name it with {env_key}"
                )
            var = ch.get(env_key)
            if var and env.get(var):
                ch[secret_key] = env[var]
            elif var:
                warnings.append(f"{path}: channels.{name}.{env_key}: the environment variable {var} is not set")


def load_config(path: str | os.PathLike[str] | None = None, *, env: dict[str, str] | None = None) -> Settings:
    """Read, override from the environment and validate a configuration file.

    ``path`` defaults to $MONITOR_CONFIG, else config/monitor.toml.
    Raises :class:`ConfigError` listing every problem.
    """
    env = dict(os.environ) if env is None else env
    p = Path(path or env.get(ENV_CONFIG) or DEFAULT_CONFIG)
    shown = str(p)
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(
            f"config: {shown}: file not found; pass --config PATH or set {ENV_CONFIG}",
            path=shown,
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config: {shown}: not valid TOML: {e}", path=shown) from e
    return settings_from_dict(data, source=shown, root=project_root_for(p), env=env)


def settings_from_dict(
    data: dict[str, Any], *, source: str = "<dict>", root: Path | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Validate already-parsed configuration data (tests, `feeds add`)."""
    data = _deep_copy(data)
    for forbidden in ("root", "source", "warnings"):
        if forbidden in data:
            raise ConfigError(f"config: {source}: {forbidden}: unknown key", path=source)
    warnings: list[str] = []
    _apply_environment(data, env if env is not None else dict(os.environ), warnings, source)
    try:
        settings = Settings.model_validate(
            {**data, "root": root or Path("."), "source": source, "warnings": tuple(warnings)}
        )
    except ValidationError as e:
        problems = _format_errors(source, e, data)
        raise ConfigError(
            f"config: {source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems),
            path=source,
            problems=problems,
        ) from None
    return settings


def _deep_copy(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _deep_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_deep_copy(x) for x in v]
    return v
