"""From stored entries to articles, stories, matches and queued alerts.

Runs inside the caller's transaction (one per feed), so a crash leaves either
all of a feed's changes or none, and alerts are in the outbox exactly when
the story change that caused them is committed.  The stages, in order:

1. **same article** (dedup level 1): canonical URL, then normalised-text hash,
   looked up in the database (these identities are global, not windowed);
2. **near-duplicate** (level 2): shingle similarity against the in-memory
   index of the window's articles: syndicated wire copy, light edits;
3. **story** (level 3): the streaming clusterer assigns a new article to an
   active story or starts one; story counts and best title are refreshed;
4. **match**: the watches are matched against the article (title + text);
5. **alert**: first match of a (watch, story) -> alert rows in the outbox; a
   story that gained enough sources -> an update alert (see ``monitor.alerts``).

Steps 1-3 decide entry by entry, in order, but write a feed's decisions
together (:mod:`monitor.store.repo_ingest`: level-1 lookups for the whole
feed, then executemany writes and one recount of the touched stories); steps
4-5 then run on the stories as the feed leaves them.  Statement by statement
this cost about half of the ingest time of a new article (issue 8,
``python -m benchmarks.pipeline``).

The in-memory indexes mirror the database.  On PostgreSQL with several
workers, steps 2-3 run under a transaction-scoped advisory lock and first
catch up with articles other workers committed, so two workers cannot start
two stories for one event.  If a transaction rolls back, the indexes are
rebuilt from the database before the next use.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Protocol, Sequence

from sqlalchemy import text
from sqlmodel import Session

from . import alerts as alert_rules
from .records import AlertPayload, ArticleDoc, DupKind, Match, StoredEntry, StoryAssignment
from .store import repo_alerts, repo_ingest, repo_stories

log = logging.getLogger("monitor.ingest")

#: arbitrary constant naming the PostgreSQL advisory lock of story assignment
STORY_LOCK_ID = 7_231_001


class NearIndex(Protocol):
    def find(self, doc_id: int, text: str, when: datetime) -> tuple[int, float] | None: ...
    def add(self, doc_id: int, text: str, when: datetime) -> None: ...
    def expire(self, before: datetime) -> None: ...


class Clusterer(Protocol):
    def assign(self, doc: ArticleDoc, now: datetime) -> StoryAssignment: ...
    def add(self, doc: ArticleDoc, story_id: int, similarity: float) -> None: ...
    def expire(self, now: datetime) -> None: ...


class WatchMatcher(Protocol):
    def match(self, title: str, text: str) -> list[Match]: ...


@dataclass(frozen=True, slots=True)
class WatchRoute:
    """Where a watch's alerts go, and how much they weigh."""

    channels: tuple[str, ...]
    priority: int = 1


@dataclass
class IngestStats:
    articles: int = 0
    duplicates: int = 0
    stories: int = 0
    matches: int = 0
    alerts: int = 0
    touched_stories: set[int] = field(default_factory=set)


@dataclass
class _Batch:
    """A feed's decisions waiting to be written together (see
    :mod:`monitor.store.repo_ingest`): decided entry by entry, in order,
    written before anything reads them back (story counts, alerts)."""

    by_url: dict[str, repo_ingest.ArticleLink]
    by_content: dict[str, repo_ingest.ArticleLink]
    #: articles made or looked up in this batch, by id
    links: dict[int, repo_ingest.ArticleLink] = field(default_factory=dict)
    sightings: list[repo_ingest.Sighting] = field(default_factory=list)
    attachments: list[repo_ingest.Attachment] = field(default_factory=list)
    #: touched stories (in order) -> whether their title is picked again
    stories: dict[int, bool] = field(default_factory=dict)
    #: new articles to match against the watches once their story is written
    to_match: list[tuple[StoredEntry, int, int]] = field(default_factory=list)

    def link(self, session: Session, article_id: int) -> repo_ingest.ArticleLink:
        got = self.links.get(article_id)
        if got is None:
            got = self.links[article_id] = repo_ingest.article_link(session, article_id)
        return got

    def touch(self, story_id: int, *, retitle: bool) -> None:
        self.stories[story_id] = self.stories.get(story_id, False) or retitle


_WORD = re.compile(r"\w+", re.UNICODE)


def best_title(candidates: Sequence[tuple[str, str, int]]) -> str:
    """The most representative headline: the one sharing most words with the
    others (centrality), ties to the one with more text, then the first."""
    if not candidates:
        return ""
    # Each headline's words as a bit set over the story's vocabulary: the
    # centrality below is quadratic in the story's articles, and AND +
    # bit_count on ints is several times cheaper than set & and | (measured
    # with benchmarks/pipeline.py: big stories put this at the top of the
    # steady-state profile).  |a | b| = |a| + |b| - |a & b|: the same figures.
    vocab: dict[str, int] = {}
    masks, sizes = [], []
    for t, _, _ in candidates:
        words = {w.casefold() for w in _WORD.findall(t)}
        mask = 0
        for w in words:
            mask |= 1 << vocab.setdefault(w, len(vocab))
        masks.append(mask)
        sizes.append(len(words))
    others = [(j, masks[j], sizes[j]) for j in range(len(candidates)) if sizes[j]]
    best, best_key = 0, None
    for i, (t, _s, n) in enumerate(candidates):
        if not sizes[i]:
            continue
        mi, si = masks[i], sizes[i]
        central = 0.0
        for j, mj, sj in others:
            if j != i:
                inter = (mi & mj).bit_count()
                central += inter / (si + sj - inter)
        key = (round(central, 6), min(n, 2000), -i)
        if best_key is None or key > best_key:
            best, best_key = i, key
    return candidates[best][0]


def lead_of(entry: StoredEntry, limit: int = 400) -> str:
    text = entry.summary or entry.content_text
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


class Ingestor:
    def __init__(
        self,
        *,
        near: NearIndex,
        clusterer: Clusterer,
        matcher: WatchMatcher | None,
        routes: dict[str, WatchRoute],
        policy: alert_rules.AlertPolicy,
        window: timedelta,
        rebuild: Callable[[], tuple[NearIndex, Clusterer]],
    ):
        self.near = near
        self.clusterer = clusterer
        self.matcher = matcher
        self.routes = routes
        self.policy = policy
        self.window = window
        self._rebuild = rebuild
        self._synced_article_id = 0
        self._dirty = True  # warm from the database before first use

    # ---------------------------------------------------------- index state

    def invalidate(self) -> None:
        """The transaction rolled back: the indexes may hold phantom articles."""
        self._dirty = True

    def _warm(self, session: Session, now: datetime) -> None:
        self.near, self.clusterer = self._rebuild()
        for doc, story_id, sim in repo_stories.active_articles(session, now - self.window):
            self._index(doc, story_id, sim)
        self._synced_article_id = repo_stories.max_article_id(session)
        self._dirty = False

    def _index(self, doc: ArticleDoc, story_id: int, sim: float) -> None:
        self.near.add(doc.article_id, _near_text(doc.title, doc.text), doc.when)
        self.clusterer.add(doc, story_id, sim)

    def _sync(self, session: Session, now: datetime) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORY_LOCK_ID})
        if self._dirty:
            self._warm(session, now)
            return
        for doc, story_id, sim in repo_stories.articles_after(session, self._synced_article_id):
            self._index(doc, story_id, sim)
            self._synced_article_id = max(self._synced_article_id, doc.article_id)

    def expire(self, now: datetime) -> None:
        self.near.expire(now - self.window)
        self.clusterer.expire(now)

    # ---------------------------------------------------------------- stages

    def process(
        self, session: Session, new: Sequence[StoredEntry], updated: Sequence[StoredEntry], now: datetime
    ) -> IngestStats:
        stats = IngestStats()
        if not new and not updated:
            return stats
        self._sync(session, now)
        # level 1 for the whole feed in two queries, not two per entry
        everything = [*new, *updated]
        by_url, by_content = repo_ingest.articles_by_identity(
            session, (e.canonical_url for e in everything if e.canonical_url),
            (e.content_hash for e in everything if e.content_hash),
        )
        batch = _Batch(by_url, by_content)
        for e in new:
            self._new_entry(session, e, now, stats, batch)
        self._write_batch(session, batch, now, stats)
        for e in updated:
            self._updated_entry(session, e, now, stats, batch)
        self._write_batch(session, batch, now, stats)
        # update alerts concern stories that alerted before: one query finds them
        for story_id in repo_ingest.alerted_stories(session, stats.touched_stories):
            self._maybe_update_alerts(session, story_id, now, stats)
        return stats

    def _write_batch(self, session: Session, b: _Batch, now: datetime, stats: IngestStats) -> None:
        """Write the batch's decisions, refresh its stories, then match its
        new articles: alerts see the stories as this feed leaves them."""
        repo_ingest.write_sightings(session, b.sightings, b.attachments)
        repo_ingest.refresh_stories(session, b.stories, now=now, pick_title=best_title)
        to_match = b.to_match
        b.sightings, b.attachments, b.stories, b.to_match = [], [], {}, []
        for e, article_id, story_id in to_match:
            self._match(session, e, article_id, story_id, now, stats)

    def _new_entry(self, session: Session, e: StoredEntry, now: datetime, stats: IngestStats, b: _Batch) -> None:
        # level 1: same URL, same text (the lowest article id, as looked up for the batch)
        link, kind, sim = None, None, 1.0
        if e.canonical_url:
            link = b.by_url.get(e.canonical_url)
            kind = DupKind.URL if link else None
        if link is None and e.content_hash:
            link = b.by_content.get(e.content_hash)
            kind = DupKind.CONTENT if link else None
        # level 2: near-duplicate text in the window
        text_for_near = _near_text(e.title, e.content_text or e.summary)
        if link is None:
            hit = self.near.find(e.id, text_for_near, e.when)
            if hit is not None:
                link, sim = b.link(session, hit[0]), hit[1]
                kind = DupKind.NEAR
        if link is not None:
            link = b.links.get(link.id, link)  # an article of this batch: its story is known here
            b.sightings.append(repo_ingest.Sighting(e.id, link.id, kind.value, link.first_entry_id, sim))
            stats.duplicates += 1
            if link.story_id is not None:
                b.touch(link.story_id, retitle=False)
                stats.touched_stories.add(link.story_id)
            log.debug("ingest: entry %s is a %s duplicate of article %s", e.id, kind.value, link.id)
            return

        article_id = repo_ingest.insert_article(
            session, entry_id=e.id, canonical_url=e.canonical_url, content_hash=e.content_hash,
            title=e.title, source=e.source, first_seen=now, when=e.when,
        )
        b.sightings.append(repo_ingest.Sighting(e.id, article_id))
        stats.articles += 1
        self._synced_article_id = max(self._synced_article_id, article_id)
        doc = ArticleDoc(article_id=article_id, source=e.source, title=e.title,
                         text=e.content_text or e.summary, when=e.when)

        # level 3: the story
        decision = self.clusterer.assign(doc, now)
        if decision.story_id is None:
            story_id = repo_ingest.insert_story(session, title=e.title, lead=lead_of(e), now=now)
            stats.stories += 1
        else:
            story_id = decision.story_id
        b.attachments.append(repo_ingest.Attachment(article_id, story_id, decision.similarity, decision.reason))
        # later entries of this feed that are copies of this one join it
        link = b.links[article_id] = repo_ingest.ArticleLink(article_id, e.id, story_id)
        if e.canonical_url:
            b.by_url.setdefault(e.canonical_url, link)
        if e.content_hash:
            b.by_content.setdefault(e.content_hash, link)
        self.near.add(article_id, text_for_near, e.when)
        self.clusterer.add(doc, story_id, decision.similarity)
        b.touch(story_id, retitle=True)
        stats.touched_stories.add(story_id)
        b.to_match.append((e, article_id, story_id))

    def _updated_entry(self, session: Session, e: StoredEntry, now: datetime, stats: IngestStats, b: _Batch) -> None:
        """A corrected entry: refresh its article's title and match it again."""
        art = repo_stories.article_of_entry(session, e.id)
        if art is None:
            return self._new_entry(session, e, now, stats, b)
        if art.first_entry_id == e.id and art.story_id is not None:
            repo_stories.set_article_title(session, art.id, e.title)
            title = best_title(repo_stories.story_titles(session, art.story_id))
            repo_stories.refresh_story(session, art.story_id, now=now, title=title)
            stats.touched_stories.add(art.story_id)
            self._match(session, e, art.id, art.story_id, now, stats)

    def _match(self, session: Session, e: StoredEntry, article_id: int, story_id: int, now: datetime,
               stats: IngestStats) -> None:
        if self.matcher is None:
            return
        for m in self.matcher.match(e.title, e.content_text or e.summary):
            if not repo_stories.record_match(session, m, story_id=story_id, article_id=article_id, now=now):
                continue
            stats.matches += 1
            if repo_alerts.prior_info(session, m.watch, story_id) is not None:
                continue  # the (watch, story) already alerted; updates are decided per story
            if not alert_rules.first_alert_due(article_when=e.when, now=now, policy=self.policy):
                log.debug("alert: %s on story %s is backlog (article from %s)", m.watch, story_id, e.when)
                continue
            stats.alerts += self._enqueue(session, m.watch, story_id, "new", now)

    def _maybe_update_alerts(self, session: Session, story_id: int, now: datetime, stats: IngestStats) -> None:
        view = repo_stories.get_story(session, story_id)
        for watch in repo_alerts.watches_alerted_on(session, story_id):
            prior = repo_alerts.prior_info(session, watch, story_id)
            if prior and alert_rules.update_due(
                prior=alert_rules.PriorAlert(prior.last_alert_at, prior.sources_at_last_alert, prior.alerts_sent),
                source_count=view.source_count, now=now, policy=self.policy,
            ):
                stats.alerts += self._enqueue(session, watch, story_id, "update", now, seq=prior.alerts_sent)

    def _enqueue(self, session: Session, watch: str, story_id: int, kind: str, now: datetime, seq: int = 0) -> int:
        route = self.routes.get(watch)
        if route is None or not route.channels:
            return 0
        story = repo_stories.get_story(session, story_id)
        sources = tuple(repo_stories.story_sources(session, story_id))
        matches = tuple(repo_stories.story_matches(session, story_id, watch))
        payloads = []
        for channel in route.channels:
            key = alert_rules.alert_key(watch=watch, story_id=story_id, kind=kind, seq=seq, channel=channel)
            payloads.append((channel, AlertPayload(
                id=key, kind=kind, watch=watch, story_id=story_id, title=story.title,
                url=sources[0].url if sources else None, first_seen=story.first_seen,
                last_updated=story.last_updated, source_count=story.source_count, sources=sources,
                matches=matches, created_at=now, lead=story.lead, priority=route.priority,
            )))
        return repo_alerts.enqueue_alert(
            session, payloads=payloads, watch=watch, story_id=story_id, source_count=story.source_count, now=now
        )


def _near_text(title: str, text: str) -> str:
    # the headline is left out when there is body text: syndicated copies keep
    # the wire's body but often rewrite the headline
    return text if len(text) >= 200 else f"{title}\n{text}"
