"""Articles, stories and watch matches: the persisted side of dedup and matching.

The decisions are made by :mod:`monitor.dedup` and :mod:`monitor.match`;
these functions only record them and read them back as records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import distinct, func, select, update
from sqlmodel import Session

from ..records import ArticleDoc, Match, SourceLink
from .models import Article, Entry, Feed, Story, WatchMatch


def _source_expr():
    return func.coalesce(Feed.source, Feed.name)


@dataclass(frozen=True, slots=True)
class ArticleRef:
    id: int
    first_entry_id: int | None
    story_id: int | None


def article_of_entry(session: Session, entry_id: int) -> ArticleRef | None:
    row = session.execute(
        select(Article.id, Article.first_entry_id, Article.story_id)
        .join(Entry, Entry.article_id == Article.id)
        .where(Entry.id == entry_id)
    ).first()
    return ArticleRef(*row) if row else None


def set_article_title(session: Session, article_id: int, title: str) -> None:
    session.execute(update(Article).where(Article.id == article_id).values(title=title))


def create_story(session: Session, *, title: str, lead: str, now: datetime) -> int:
    s = Story(title=title, lead=lead, first_seen=now, last_updated=now, article_count=0, source_count=0)
    session.add(s)
    session.flush()
    return s.id


def refresh_story(session: Session, story_id: int, *, now: datetime, title: str | None = None, lead: str | None = None) -> int:
    """Recount a story's articles and distinct sources (outlets, not feeds).
    Returns the source count."""
    articles = session.execute(select(func.count()).where(Article.story_id == story_id)).scalar()
    sources = session.execute(
        select(func.count(distinct(_source_expr())))
        .select_from(Entry)
        .join(Article, Article.id == Entry.article_id)
        .join(Feed, Feed.id == Entry.feed_id)
        .where(Article.story_id == story_id)
    ).scalar()
    values = dict(article_count=articles, source_count=sources, last_updated=now)
    if title is not None:
        values["title"] = title
    if lead is not None:
        values["lead"] = lead
    session.execute(update(Story).where(Story.id == story_id).values(**values))
    return sources


def story_titles(session: Session, story_id: int) -> list[tuple[str, str, int]]:
    """(title, source, text length) of a story's articles, for picking the best headline."""
    rows = session.execute(
        select(Article.title, Article.source, func.length(Entry.content_text) + func.length(Entry.summary))
        .join(Entry, Entry.id == Article.first_entry_id)
        .where(Article.story_id == story_id)
    ).all()
    return [(t, s, n or 0) for t, s, n in rows]


def active_articles(session: Session, since: datetime) -> list[tuple[ArticleDoc, int, float]]:
    """Articles of the time window with their story, oldest first: what the
    in-memory indexes are rebuilt from after a restart."""
    rows = session.execute(
        select(Article.id, Article.source, Article.title, Entry.content_text, Entry.summary, Article.when,
               Article.story_id, Article.story_similarity)
        .join(Entry, Entry.id == Article.first_entry_id)
        .where(Article.when >= since, Article.story_id.is_not(None))
        .order_by(Article.id)
    ).all()
    return [
        (ArticleDoc(article_id=i, source=src, title=t, text=ct or sm or "", when=w), sid, sim or 1.0)
        for i, src, t, ct, sm, w, sid, sim in rows
    ]


def articles_after(session: Session, last_id: int) -> list[tuple[ArticleDoc, int, float]]:
    """Articles created by other workers since ``last_id`` (multi-worker sync)."""
    rows = session.execute(
        select(Article.id, Article.source, Article.title, Entry.content_text, Entry.summary, Article.when,
               Article.story_id, Article.story_similarity)
        .join(Entry, Entry.id == Article.first_entry_id)
        .where(Article.id > last_id, Article.story_id.is_not(None))
        .order_by(Article.id)
    ).all()
    return [
        (ArticleDoc(article_id=i, source=src, title=t, text=ct or sm or "", when=w), sid, sim or 1.0)
        for i, src, t, ct, sm, w, sid, sim in rows
    ]


def max_article_id(session: Session) -> int:
    return session.execute(select(func.max(Article.id))).scalar() or 0


def record_match(session: Session, m: Match, *, story_id: int, article_id: int, now: datetime) -> bool:
    """Keep the first explanation of a watch per article.  Returns True if new."""
    exists = session.execute(
        select(WatchMatch.id).where(WatchMatch.watch == m.watch, WatchMatch.article_id == article_id)
    ).scalar()
    if exists:
        return False
    session.add(
        WatchMatch(
            watch=m.watch, story_id=story_id, article_id=article_id, alias=m.alias,
            alias_source=m.alias_source, field_name=m.field, snippet=m.snippet, matched_at=now,
        )
    )
    session.flush()
    return True


def story_matches(session: Session, story_id: int, watch: str | None = None) -> list[Match]:
    q = select(WatchMatch).where(WatchMatch.story_id == story_id).order_by(WatchMatch.id)
    if watch:
        q = q.where(WatchMatch.watch == watch)
    return [
        Match(watch=w.watch, alias=w.alias, field=w.field_name, snippet=w.snippet, alias_source=w.alias_source)
        for w in session.execute(q).scalars()
    ]


@dataclass(frozen=True, slots=True)
class StoryView:
    id: int
    title: str
    first_seen: datetime
    last_updated: datetime
    article_count: int
    source_count: int
    lead: str


@dataclass(frozen=True, slots=True)
class MemberView:
    """One entry of a story, for `monitor stories --json` and explain-story."""

    entry_id: int
    article_id: int
    url: str | None
    title: str
    feed: str
    source: str
    published: datetime | None
    first_seen: datetime
    similarity: float | None
    reason: str | None
    duplicate_of: int | None  # entry id of the article's first sighting
    dup_kind: str | None


def _story_view(s: Story) -> StoryView:
    return StoryView(s.id, s.title, s.first_seen, s.last_updated, s.article_count, s.source_count, s.lead)


def get_story(session: Session, story_id: int) -> StoryView | None:
    s = session.get(Story, story_id)
    return _story_view(s) if s else None


def list_stories(session: Session, *, since: datetime | None = None, limit: int | None = None) -> list[StoryView]:
    q = select(Story).where(Story.article_count > 0)
    if since:
        q = q.where(Story.last_updated >= since)
    q = q.order_by(Story.first_seen, Story.id)
    if limit:
        q = q.limit(limit)
    return [_story_view(s) for s in session.execute(q).scalars()]


def story_members(session: Session, story_id: int) -> list[MemberView]:
    rows = session.execute(
        select(Entry, Feed.name, _source_expr(), Article.story_similarity, Article.story_reason)
        .join(Article, Article.id == Entry.article_id)
        .join(Feed, Feed.id == Entry.feed_id)
        .where(Article.story_id == story_id)
        .order_by(Entry.first_seen, Entry.id)
    ).all()
    return [
        MemberView(
            entry_id=e.id, article_id=e.article_id, url=e.url, title=e.title, feed=fname, source=src,
            published=e.published, first_seen=e.first_seen,
            similarity=e.dup_similarity if e.dup_kind else sim, reason=reason,
            duplicate_of=e.dup_of_entry_id, dup_kind=e.dup_kind,
        )
        for e, fname, src, sim, reason in rows
    ]


def story_sources(session: Session, story_id: int) -> list[SourceLink]:
    """One link per outlet: its first sighting of the story."""
    seen: dict[str, SourceLink] = {}
    for m in story_members(session, story_id):
        if m.source not in seen:
            seen[m.source] = SourceLink(source=m.source, title=m.title, url=m.url, when=m.published or m.first_seen)
    return list(seen.values())
