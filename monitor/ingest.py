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
from .store import repo_alerts, repo_stories

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


_WORD = re.compile(r"\w+", re.UNICODE)


def best_title(candidates: Sequence[tuple[str, str, int]]) -> str:
    """The most representative headline: the one sharing most words with the
    others (centrality), ties to the one with more text, then the first."""
    if not candidates:
        return ""
    toks = [set(w.casefold() for w in _WORD.findall(t)) for t, _, _ in candidates]
    best, best_key = 0, None
    for i, (t, _s, n) in enumerate(candidates):
        if not toks[i]:
            continue
        central = sum(len(toks[i] & toks[j]) / len(toks[i] | toks[j]) for j in range(len(toks)) if j != i and toks[j])
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
        for e in new:
            self._new_entry(session, e, now, stats)
        for e in updated:
            self._updated_entry(session, e, now, stats)
        for story_id in stats.touched_stories:
            self._maybe_update_alerts(session, story_id, now, stats)
        return stats

    def _new_entry(self, session: Session, e: StoredEntry, now: datetime, stats: IngestStats) -> None:
        # level 1: same URL, same text
        article_id, kind, sim = None, None, 1.0
        if e.canonical_url:
            article_id = repo_stories.article_by_url(session, e.canonical_url)
            kind = DupKind.URL if article_id else None
        if article_id is None and e.content_hash:
            article_id = repo_stories.article_by_content(session, e.content_hash)
            kind = DupKind.CONTENT if article_id else None
        # level 2: near-duplicate text in the window
        text_for_near = _near_text(e.title, e.content_text or e.summary)
        if article_id is None:
            hit = self.near.find(e.id, text_for_near, e.when)
            if hit is not None:
                article_id, sim = hit
                kind = DupKind.NEAR
        if article_id is not None:
            story_id = repo_stories.join_article(
                session, entry_id=e.id, article_id=article_id, kind=kind.value, similarity=sim
            )
            stats.duplicates += 1
            if story_id is not None:
                repo_stories.refresh_story(session, story_id, now=now)
                stats.touched_stories.add(story_id)
            log.debug("ingest: entry %s is a %s duplicate of article %s", e.id, kind.value, article_id)
            return

        article_id = repo_stories.create_article(
            session, entry_id=e.id, canonical_url=e.canonical_url, content_hash=e.content_hash,
            title=e.title, source=e.source, first_seen=now, when=e.when,
        )
        stats.articles += 1
        self._synced_article_id = max(self._synced_article_id, article_id)
        doc = ArticleDoc(article_id=article_id, source=e.source, title=e.title,
                         text=e.content_text or e.summary, when=e.when)

        # level 3: the story
        decision = self.clusterer.assign(doc, now)
        if decision.story_id is None:
            story_id = repo_stories.create_story(session, title=e.title, lead=lead_of(e), now=now)
            stats.stories += 1
        else:
            story_id = decision.story_id
        repo_stories.attach_article(session, article_id, story_id, decision.similarity, decision.reason)
        self.near.add(article_id, text_for_near, e.when)
        self.clusterer.add(doc, story_id, decision.similarity)
        title = best_title(repo_stories.story_titles(session, story_id))
        repo_stories.refresh_story(session, story_id, now=now, title=title)
        stats.touched_stories.add(story_id)

        self._match(session, e, article_id, story_id, now, stats)

    def _updated_entry(self, session: Session, e: StoredEntry, now: datetime, stats: IngestStats) -> None:
        """A corrected entry: refresh its article's title and match it again."""
        art = repo_stories.article_of_entry(session, e.id)
        if art is None:
            return self._new_entry(session, e, now, stats)
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
