"""The ingest stage's writes, batched per feed.

:mod:`monitor.ingest` decides, entry by entry, what each new entry is (a
sighting of a known article, or a new article in a new or existing story);
the functions here look up and write those decisions a feed at a time, in a
handful of statements instead of a dozen per entry.  Measured with
``python -m benchmarks.pipeline`` (issue 8): each ORM statement cost
0.3-1 ms on the single writer thread, about half of the ingest time of a new
article.  They use Core statements on the tables (no ORM identity map to
keep in step) inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, distinct, func, insert, select, update
from sqlmodel import Session

from .models import AlertState, Article, Entry, Feed, Story

_A = Article.__table__
_E = Entry.__table__
_S = Story.__table__
_F = Feed.__table__
_AS = AlertState.__table__
#: IN lists are cut to this length (SQLite allows 32,766 variables, PostgreSQL 65,535)
CHUNK = 5000


@dataclass(frozen=True, slots=True)
class ArticleLink:
    """What a new sighting of an article needs to know about it."""

    id: int
    first_entry_id: int | None
    story_id: int | None


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def articles_by_identity(
    session: Session, urls: Iterable[str], hashes: Iterable[str]
) -> tuple[dict[str, ArticleLink], dict[str, ArticleLink]]:
    """The first article (lowest id) of each canonical URL and of each
    content hash: level-1 dedup of a whole feed in two queries."""
    found: list[dict[str, ArticleLink]] = []
    for column, keys in ((_A.c.canonical_url, sorted(set(urls))), (_A.c.content_hash, sorted(set(hashes)))):
        out: dict[str, ArticleLink] = {}
        for part in _chunks(keys):
            rows = session.execute(
                select(column, _A.c.id, _A.c.first_entry_id, _A.c.story_id).where(column.in_(part)).order_by(_A.c.id)
            ).all()
            for key, i, first, story in rows:
                out.setdefault(key, ArticleLink(i, first, story))
        found.append(out)
    return found[0], found[1]


def article_link(session: Session, article_id: int) -> ArticleLink:
    first, story = session.execute(
        select(_A.c.first_entry_id, _A.c.story_id).where(_A.c.id == article_id)
    ).one()
    return ArticleLink(article_id, first, story)


def insert_article(
    session: Session,
    *,
    entry_id: int,
    canonical_url: str | None,
    content_hash: str | None,
    title: str,
    source: str,
    first_seen: datetime,
    when: datetime,
) -> int:
    """A new article first seen as ``entry_id``; its story and the entry's
    link to it are written by :func:`write_sightings`."""
    return session.execute(
        insert(_A).returning(_A.c.id),
        dict(first_entry_id=entry_id, canonical_url=canonical_url, content_hash=content_hash, title=title,
             source=source, first_seen=first_seen, when=when, sightings=1),
    ).scalar_one()


def insert_story(session: Session, *, title: str, lead: str, now: datetime) -> int:
    return session.execute(
        insert(_S).returning(_S.c.id),
        dict(title=title, lead=lead, first_seen=now, last_updated=now, article_count=0, source_count=0),
    ).scalar_one()


@dataclass(frozen=True, slots=True)
class Sighting:
    """An entry's place: the first sighting of ``article_id`` (``kind`` None)
    or a duplicate of it (``kind`` url | content | near)."""

    entry_id: int
    article_id: int
    kind: str | None = None
    dup_of_entry_id: int | None = None
    similarity: float | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    article_id: int
    story_id: int
    similarity: float
    reason: str


def write_sightings(session: Session, sightings: Sequence[Sighting], attachments: Sequence[Attachment]) -> None:
    """Entries -> articles, duplicate counts, articles -> stories: three
    executemany statements for a feed's worth of decisions."""
    firsts = [s for s in sightings if s.kind is None]
    dups = [s for s in sightings if s.kind is not None]
    if firsts:
        session.execute(
            update(_E).where(_E.c.id == bindparam("b_id")).values(article_id=bindparam("b_article"), dup_kind=None),
            [dict(b_id=s.entry_id, b_article=s.article_id) for s in firsts],
        )
    if dups:
        session.execute(
            update(_E).where(_E.c.id == bindparam("b_id")).values(
                article_id=bindparam("b_article"), dup_kind=bindparam("b_kind"),
                dup_of_entry_id=bindparam("b_of"), dup_similarity=bindparam("b_sim"),
            ),
            [dict(b_id=s.entry_id, b_article=s.article_id, b_kind=s.kind, b_of=s.dup_of_entry_id,
                  b_sim=s.similarity) for s in dups],
        )
        # one statement per sighting, run in order: two copies of one article add two
        session.execute(
            update(_A).where(_A.c.id == bindparam("b_id")).values(sightings=_A.c.sightings + 1),
            [dict(b_id=s.article_id) for s in dups],
        )
    if attachments:
        session.execute(
            update(_A).where(_A.c.id == bindparam("b_id")).values(
                story_id=bindparam("b_story"), story_similarity=bindparam("b_sim"), story_reason=bindparam("b_why")
            ),
            [dict(b_id=a.article_id, b_story=a.story_id, b_sim=a.similarity, b_why=a.reason[:2000])
             for a in attachments],
        )


def refresh_stories(
    session: Session, stories: dict[int, bool], *, now: datetime,
    pick_title: Callable[[Sequence[tuple[str, str, int]]], str],
) -> dict[int, int]:
    """What :func:`monitor.store.repo_stories.refresh_story` does, for many
    stories at once: recount articles and distinct sources (outlets), and
    for the stories marked True pick the title again from their articles'
    (title, source, text length) with ``pick_title``.  Returns the source
    count of each story."""
    if not stories:
        return {}
    ids = sorted(stories)
    articles: dict[int, int] = {}
    sources: dict[int, int] = {}
    titles: dict[int, list[tuple[str, str, int]]] = {i: [] for i in ids if stories[i]}
    for part in _chunks(ids):
        articles.update(session.execute(
            select(_A.c.story_id, func.count()).where(_A.c.story_id.in_(part)).group_by(_A.c.story_id)
        ).all())
        sources.update(session.execute(
            select(_A.c.story_id, func.count(distinct(func.coalesce(_F.c.source, _F.c.name))))
            .select_from(_E.join(_A, _A.c.id == _E.c.article_id).join(_F, _F.c.id == _E.c.feed_id))
            .where(_A.c.story_id.in_(part))
            .group_by(_A.c.story_id)
        ).all())
        retitle = [i for i in part if stories[i]]
        if retitle:
            rows = session.execute(
                select(_A.c.story_id, _A.c.title, _A.c.source,
                       func.length(_E.c.content_text) + func.length(_E.c.summary))
                .select_from(_A.join(_E, _E.c.id == _A.c.first_entry_id))
                .where(_A.c.story_id.in_(retitle))
                .order_by(_A.c.story_id, _A.c.id)
            ).all()
            for sid, t, s, n in rows:
                titles[sid].append((t, s, n or 0))
    plain = [dict(b_id=i, b_articles=articles.get(i, 0), b_sources=sources.get(i, 0)) for i in ids if not stories[i]]
    named = [dict(b_id=i, b_articles=articles.get(i, 0), b_sources=sources.get(i, 0), b_title=pick_title(titles[i]))
             for i in ids if stories[i]]
    base = dict(article_count=bindparam("b_articles"), source_count=bindparam("b_sources"), last_updated=now)
    if plain:
        session.execute(update(_S).where(_S.c.id == bindparam("b_id")).values(**base), plain)
    if named:
        session.execute(update(_S).where(_S.c.id == bindparam("b_id")).values(title=bindparam("b_title"), **base), named)
    return {i: sources.get(i, 0) for i in ids}


def alerted_stories(session: Session, story_ids: Iterable[int]) -> list[int]:
    """Those of ``story_ids`` some watch alerted on, in the order given (the
    only ones an update alert can concern)."""
    ids = list(story_ids)
    found: set[int] = set()
    for part in _chunks(sorted(set(ids))):
        found.update(session.execute(select(_AS.c.story_id).where(_AS.c.story_id.in_(part)).distinct()).scalars())
    return [i for i in ids if i in found]
