"""SQLModel tables.  These rows never leave ``monitor.store``: repositories
convert them to the frozen records of :mod:`monitor.records`.

Every datetime column is :class:`UTCDateTime`: SQLite keeps no offset, so
values are stored as naive UTC and come back UTC-aware on every backend.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import Column, DateTime, Index, MetaData, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# A constraint naming convention, so Alembic batch migrations on SQLite can
# find constraints by name.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store: naive datetime given; monitor stores UTC-aware datetimes only")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utc_col(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def text_col(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=nullable))


class Feed(SQLModel, table=True):
    __tablename__ = "feed"

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    url: str = Field(max_length=2000)
    source: Optional[str] = Field(default=None, max_length=200)  # the outlet
    title: Optional[str] = text_col()
    site_url: Optional[str] = Field(default=None, max_length=2000)
    tags: str = Field(default="")  # comma-separated
    enabled: bool = Field(default=True)
    #: from the config file ("config"), `feeds add`, or created by replay
    origin: str = Field(default="config", max_length=20)
    interval_seconds: Optional[int] = None
    allow_local: bool = Field(default=False)
    # HTTP caching state
    etag: Optional[str] = Field(default=None, max_length=1000)
    last_modified: Optional[str] = Field(default=None, max_length=200)
    body_hash: Optional[str] = Field(default=None, max_length=64)
    # health
    last_status: Optional[str] = Field(default=None, max_length=20)
    error_count: int = Field(default=0)
    last_error: Optional[str] = text_col()
    failing_since: Optional[datetime] = utc_col()
    last_polled_at: Optional[datetime] = utc_col()
    last_success_at: Optional[datetime] = utc_col()
    last_new_entry_at: Optional[datetime] = utc_col()
    next_check_at: Optional[datetime] = utc_col(index=True)
    # multi-worker lease (PostgreSQL): who is polling this feed, until when
    lease_owner: Optional[str] = Field(default=None, max_length=200)
    lease_until: Optional[datetime] = utc_col()
    created_at: Optional[datetime] = utc_col()


class Entry(SQLModel, table=True):
    """One entry of one feed (a sighting).  Several entries may be one
    :class:`Article` (same URL, same text, syndicated copy)."""

    __tablename__ = "entry"
    __table_args__ = (UniqueConstraint("feed_id", "key", name="uq_entry_feed_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    key: str = Field(max_length=2000)
    url: Optional[str] = Field(default=None, max_length=4000)
    canonical_url: Optional[str] = Field(default=None, max_length=4000, index=True)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    content_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    content_html: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    author: Optional[str] = Field(default=None, max_length=500)
    published: Optional[datetime] = utc_col()
    updated: Optional[datetime] = utc_col()
    first_seen: Optional[datetime] = utc_col(index=True)
    last_seen: Optional[datetime] = utc_col()
    #: sha256 of the entry's stored fields: a changed hash is an update
    entry_hash: Optional[str] = Field(default=None, max_length=64)
    #: sha256 of the normalised text, for same-content dedup (level 1)
    content_hash: Optional[str] = Field(default=None, max_length=64, index=True)
    # dedup results
    article_id: Optional[int] = Field(default=None, foreign_key="article.id", index=True)
    dup_kind: Optional[str] = Field(default=None, max_length=20)  # None: the article's first sighting
    dup_of_entry_id: Optional[int] = None
    dup_similarity: Optional[float] = None
    #: set once dedup+matching processed this version of the entry
    processed_at: Optional[datetime] = utc_col(index=True)


class Article(SQLModel, table=True):
    """One article: the same text however many times and wherever it was seen."""

    __tablename__ = "article"

    id: Optional[int] = Field(default=None, primary_key=True)
    first_entry_id: Optional[int] = None
    canonical_url: Optional[str] = Field(default=None, max_length=4000, index=True)
    content_hash: Optional[str] = Field(default=None, max_length=64, index=True)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source: str = Field(default="", max_length=200)
    first_seen: Optional[datetime] = utc_col(index=True)
    when: Optional[datetime] = utc_col(index=True)  # published if sane, else first_seen
    story_id: Optional[int] = Field(default=None, foreign_key="story.id", index=True)
    story_similarity: Optional[float] = None
    story_reason: Optional[str] = text_col()
    sightings: int = Field(default=1)


class Story(SQLModel, table=True):
    __tablename__ = "story"

    id: Optional[int] = Field(default=None, primary_key=True)
    title: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    first_seen: Optional[datetime] = utc_col(index=True)
    last_updated: Optional[datetime] = utc_col(index=True)
    article_count: int = Field(default=0)
    source_count: int = Field(default=0)
    lead: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class WatchMatch(SQLModel, table=True):
    """Why a story matched a watch (first match per article kept)."""

    __tablename__ = "watch_match"
    __table_args__ = (UniqueConstraint("watch", "article_id", name="uq_watch_match_watch_article"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    watch: str = Field(max_length=200, index=True)
    story_id: int = Field(foreign_key="story.id", index=True)
    article_id: int = Field(foreign_key="article.id")
    alias: str = Field(max_length=500)
    alias_source: str = Field(default="config", max_length=20)
    field_name: str = Field(max_length=20)
    snippet: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    matched_at: Optional[datetime] = utc_col(index=True)


class AlertState(SQLModel, table=True):
    """One row per (watch, story) that alerted: what was sent last, for updates."""

    __tablename__ = "alert_state"
    __table_args__ = (UniqueConstraint("watch", "story_id", name="uq_alert_state_watch_story"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    watch: str = Field(max_length=200)
    story_id: int = Field(foreign_key="story.id", index=True)
    first_alert_at: Optional[datetime] = utc_col()
    last_alert_at: Optional[datetime] = utc_col()
    sources_at_last_alert: int = Field(default=0)
    alerts_sent: int = Field(default=0)


class Alert(SQLModel, table=True):
    """The outbox: one row per (alert, channel).  Written in the same
    transaction as the story change that caused it; delivered by the
    delivery job (claim -> send -> record)."""

    __tablename__ = "alert"

    id: Optional[int] = Field(default=None, primary_key=True)
    #: idempotency key, also sent to receivers (webhook-id, Message-ID)
    key: str = Field(max_length=200, unique=True)
    watch: str = Field(max_length=200, index=True)
    story_id: Optional[int] = Field(default=None, foreign_key="story.id", index=True)
    channel: str = Field(max_length=200, index=True)
    kind: str = Field(default="new", max_length=20)  # new | update | summary
    payload: str = Field(sa_column=Column(Text, nullable=False))  # JSON of AlertPayload
    status: str = Field(default="pending", max_length=20, index=True)  # pending | sent | failed | folded
    attempts: int = Field(default=0)
    next_attempt_at: Optional[datetime] = utc_col(index=True)
    claimed_by: Optional[str] = Field(default=None, max_length=200)
    claim_until: Optional[datetime] = utc_col()
    created_at: Optional[datetime] = utc_col(index=True)
    sent_at: Optional[datetime] = utc_col()
    last_error: Optional[str] = text_col()


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempt"

    id: Optional[int] = Field(default=None, primary_key=True)
    alert_id: Optional[int] = Field(default=None, foreign_key="alert.id", index=True)
    digest_id: Optional[int] = Field(default=None, foreign_key="digest_run.id", index=True)
    channel: str = Field(max_length=200)
    at: Optional[datetime] = utc_col()
    outcome: str = Field(max_length=20)  # sent | temporary | permanent
    error: Optional[str] = text_col()
    duration: float = Field(default=0.0)


class DigestRun(SQLModel, table=True):
    """One row per (digest, local date): the guard that makes a day's digest
    happen exactly once whatever the cron trigger does around DST."""

    __tablename__ = "digest_run"
    __table_args__ = (UniqueConstraint("name", "local_date", name="uq_digest_run_name_date"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    local_date: str = Field(max_length=10)
    status: str = Field(default="building", max_length=20)  # building | built | sent | failed
    claimed_by: Optional[str] = Field(default=None, max_length=200)
    created_at: Optional[datetime] = utc_col()
    built_at: Optional[datetime] = utc_col()
    sent_at: Optional[datetime] = utc_col()
    story_count: int = Field(default=0)
    html_path: Optional[str] = Field(default=None, max_length=2000)
    text_path: Optional[str] = Field(default=None, max_length=2000)
    last_error: Optional[str] = text_col()


class PollLog(SQLModel, table=True):
    """One row per poll of a feed: feed health, metrics, `monitor status`."""

    __tablename__ = "poll_log"
    __table_args__ = (Index("ix_poll_log_feed_at", "feed_id", "at"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id")
    at: Optional[datetime] = utc_col(index=True)
    status: str = Field(max_length=20)
    http_status: Optional[int] = None
    new: int = Field(default=0)
    updated: int = Field(default=0)
    error: Optional[str] = text_col()
    duration: float = Field(default=0.0)
    worker: Optional[str] = Field(default=None, max_length=200)


class Worker(SQLModel, table=True):
    """Live workers (heartbeat), for `monitor status` and the SQLite single-daemon guard."""

    __tablename__ = "worker"

    id: str = Field(primary_key=True, max_length=200)
    hostname: str = Field(max_length=200)
    pid: int
    started_at: Optional[datetime] = utc_col()
    heartbeat_at: Optional[datetime] = utc_col()
