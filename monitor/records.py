"""Frozen records passed between the stages of monitor.

No ORM row ever leaves ``monitor.store``: the store converts rows to these
records and back.  Every datetime here is timezone-aware UTC.

Stage by stage::

    FeedToPoll --fetch--> Fetched --parse--> ParsedFeed(EntryData...)
      --store--> StoredEntry --dedup--> ArticleDoc / StoryAssignment
      --match--> Match --alerts--> AlertPayload --notify--> (sent | DeliveryError)
    stories --digest--> Digest(DigestSection(DigestItem...))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum


# --------------------------------------------------------------------- fetch


@dataclass(frozen=True, slots=True)
class FeedToPoll:
    """What the fetcher needs to know about a feed, read from the store."""

    id: int
    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    #: sha256 hex of the last body we parsed; a 200 with the same bytes is a no-op
    body_hash: str | None = None
    error_count: int = 0
    #: file:// and plain paths are only allowed for feeds configured as local
    allow_local: bool = False


class FetchStatus(str, Enum):
    OK = "ok"  # 200 with a new body: parse it
    NOT_MODIFIED = "not_modified"  # 304
    UNCHANGED = "unchanged"  # 200 with the same bytes as last time: treated like 304


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful fetch (errors are raised as :class:`monitor.errors.FetchError`)."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: FetchStatus
    http_status: int | None  # None for local files
    body: bytes | None  # None unless status is OK
    #: lower-cased response header names -> values (content-type, content-location...)
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    #: set when a 301/308 chain ended somewhere else: the stored URL should change
    permanent_redirect: str | None = None
    # server scheduling hints (RFC 9111 Cache-Control max-age, Expires; RFC 9110 Retry-After)
    max_age: timedelta | None = None
    expires: datetime | None = None
    retry_after: timedelta | None = None
    elapsed: float = 0.0  # seconds


# --------------------------------------------------------------------- parse


@dataclass(frozen=True, slots=True)
class EntryData:
    """One feed entry, normalised.

    ``key`` is stable across polls: guid; guid+link when the guid repeats in
    the feed; else link; else a hash of title+content.
    Text fields are plain text (HTML reduced) for matching and clustering;
    ``content_html`` is already sanitised with nh3 (see ``monitor.sanitize``).
    """

    key: str
    url: str | None
    title: str
    summary: str = ""  # plain text
    content_text: str = ""  # plain text of the fullest content
    content_html: str = ""  # sanitised HTML of the fullest content (may be "")
    author: str | None = None
    published: datetime | None = None  # None when missing or absurd
    updated: datetime | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    format: str  # "rss20", "atom10", "rss10", "json11", ...
    entries: tuple[EntryData, ...]
    #: the feed's own <ttl> (RSS 2.0) or similar refresh hint
    ttl: timedelta | None = None
    #: non-fatal problems (feedparser bozo on a feed we could still read, dropped entries)
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------- poll result


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """The result of polling one feed, logged and kept in poll_log."""

    feed_id: int
    feed_name: str
    status: str  # "ok" | "not_modified" | "unchanged" | "error"
    new: int = 0
    updated: int = 0
    error: str | None = None
    next_check_at: datetime | None = None
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as stored, what dedup and matching see."""

    id: int
    feed_id: int
    feed_name: str
    source: str  # the outlet (several feeds may belong to one outlet)
    key: str
    url: str | None
    canonical_url: str | None
    title: str
    summary: str
    content_text: str
    published: datetime | None
    first_seen: datetime
    content_hash: str | None = None

    @property
    def when(self) -> datetime:
        """The time the clusterer uses: published if sane, else first_seen."""
        return self.published or self.first_seen


# --------------------------------------------------------------------- dedup


class DupKind(str, Enum):
    """Why an entry was joined to an existing article (level 1 and 2 dedup)."""

    URL = "url"  # same canonical URL
    CONTENT = "content"  # same normalised text hash
    NEAR = "near"  # near-duplicate text (shingles)


@dataclass(frozen=True, slots=True)
class ArticleDoc:
    """An article as the story clusterer sees it."""

    article_id: int
    source: str
    title: str
    text: str  # lead / body text; may be empty for headline-only feeds
    when: datetime


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """The clusterer's decision for one article."""

    story_id: int | None  # None: start a new story
    similarity: float  # similarity to the story it joined (1.0 for a new story)
    reason: str = ""  # human-readable: features that decided, or the veto that split


# --------------------------------------------------------------------- match


@dataclass(frozen=True, slots=True)
class Match:
    """One watch matching one text, explained."""

    watch: str
    alias: str  # the alias as the user (or gazetteer) wrote it
    field: str  # "title" | "text"
    snippet: str  # some words around the match, plain text
    start: int = 0  # offsets in the field's original text
    end: int = 0
    alias_source: str = "config"  # "config" | "gazetteer" | "actors" | "rule"


# -------------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class SourceLink:
    source: str  # outlet name
    title: str
    url: str | None
    when: datetime


@dataclass(frozen=True, slots=True)
class AlertPayload:
    """What a channel sends.  ``id`` is the idempotency key: stable across
    retries, so a receiver can drop a duplicate after a crash between send and
    record."""

    id: str
    kind: str  # "new" | "update" | "summary"
    watch: str
    story_id: int
    title: str
    url: str | None
    first_seen: datetime
    last_updated: datetime
    source_count: int
    sources: tuple[SourceLink, ...]
    matches: tuple[Match, ...]
    created_at: datetime
    lead: str = ""
    priority: int = 0


# -------------------------------------------------------------------- digest


@dataclass(frozen=True, slots=True)
class DigestItem:
    story_id: int
    title: str
    first_seen: datetime
    last_updated: datetime
    sources: tuple[SourceLink, ...]
    lead: str
    score: float
    matches: tuple[Match, ...] = ()
    new_sources_in_period: int = 0


@dataclass(frozen=True, slots=True)
class DigestSection:
    title: str  # "Homs" (a watch) or "Other top stories"
    items: tuple[DigestItem, ...]
    watch: str | None = None
    #: stories of this section left out by a length limit (shown as "N more")
    omitted: int = 0


@dataclass(frozen=True, slots=True)
class FeedHealth:
    feed_name: str
    url: str
    status: str  # "failing" | "silent" | "recovered"
    since: datetime | None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    name: str
    local_date: str  # YYYY-MM-DD in the digest's time zone
    timezone: str
    period_start: datetime
    period_end: datetime
    sections: tuple[DigestSection, ...]
    feed_health: tuple[FeedHealth, ...] = ()
    #: watch -> ((local date, mentions), ...) over the last 14 days, for the chart
    mentions: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()

    @property
    def is_empty(self) -> bool:
        return not any(s.items for s in self.sections)


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """A digest rendered for delivery: what a channel's ``send_digest`` gets.

    ``payload`` is JSON-ready (str/int/float/bool/None/list/dict only) for the
    webhook and file channels; ``text`` and ``html`` (already sanitised) are
    for email and console.  ``id`` is the idempotency key a receiver sees.
    """

    digest_name: str
    local_date: str  # YYYY-MM-DD in the digest's time zone
    subject: str
    text: str
    html: str
    payload: dict[str, object] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"digest-{self.digest_name}-{self.local_date}"


# ------------------------------------------------- digest inputs (store -> digest)


@dataclass(frozen=True, slots=True)
class StoryActivity:
    """A story as one digest period saw it (read by ``store.repo_digest``).

    Everything is as of the period end, so a digest rebuilt later for a past
    day shows what was known then (titles and leads are the story's current ones).
    """

    story_id: int
    title: str
    lead: str
    first_seen: datetime
    last_updated: datetime  # latest article arrival before the period end
    #: one link per distinct source (outlet), its earliest article, oldest first
    sources: tuple[SourceLink, ...]
    #: distinct sources whose first article on this story arrived in the period
    new_sources_in_period: int
    matches: tuple[Match, ...] = ()
    #: every article before the period end, oldest first (story page, timeline)
    articles: tuple[SourceLink, ...] = ()
    #: sanitised HTML of the first article's content, "" when the feed gave none
    content_html: str = ""


@dataclass(frozen=True, slots=True)
class FeedActivity:
    """What the poll log says about one enabled feed up to a period end."""

    feed_name: str
    url: str
    created_at: datetime | None
    #: start of the run of failed polls still going on at the period end
    failing_since: datetime | None
    last_error: str | None
    #: first successful poll after the latest run of failures (None: none yet)
    recovered_at: datetime | None
    #: the latest entry first seen before the period end
    last_new_entry_at: datetime | None


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A feed's current state for the web page's feed-health table."""

    feed_id: int
    name: str
    url: str
    source: str | None
    enabled: bool
    last_status: str | None
    error_count: int
    last_error: str | None
    failing_since: datetime | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    last_new_entry_at: datetime | None
    next_check_at: datetime | None
    entries: int = 0


@dataclass(frozen=True, slots=True)
class MatchSighting:
    """A watch match with the story it belongs to (the web's watches page)."""

    story_id: int
    story_title: str
    match: Match
    at: datetime | None


@dataclass(frozen=True, slots=True)
class DigestRunInfo:
    name: str
    local_date: str
    status: str  # building | built | sent | failed
    story_count: int
    built_at: datetime | None
    sent_at: datetime | None
