"""Level 3: reports of one event from different outlets become one story.

A streaming, single-pass centroid clusterer.  For each new article:

1. **Features.**  A TF-IDF vector of its words (title words count
   ``title_weight`` times and lead words ``lead_weight`` times, words of the
   names it mentions ``name_boost`` times more, sublinear term frequency, IDF
   learnt online over the articles in the window) and of its figures ("5.6",
   "$160 million": :func:`monitor.dedup.features.figures`); the names it
   mentions (capitalised n-grams, :func:`monitor.dedup.features.names`) and
   its two *key names*, the ones it mentions most in its headline and lead;
   the calendar dates its headline and lead give.
2. **Candidates.**  Its ``query_terms`` highest-weighted terms are looked up
   in an inverted index (term -> stories active in the window) and only the
   ``max_candidates`` stories sharing most of that weight are scored.  The
   index holds only stories updated within ``window``, so the cost per article
   does not grow with history (benchmarks/cluster_scale.py).
3. **Score.**  ``(1 - name_weight) * text cosine + name_weight * name
   cosine`` against the story's centroid (the sum of its members' unit
   vectors); a full article whose names share less than ``name_floor`` with
   the story's scores 0.  The score halves for every ``half_life_hours``
   between the article's time and the span of the story's reports: two
   events of one kind in one place (a city captured, then bombed the next
   day) are mostly told apart by when they are reported.
4. **Threshold by amount of text.**  The threshold falls from
   ``threshold_full`` (150 words and more) to ``threshold_headline`` (12 words
   and fewer), interpolated on log(word count): a headline has a handful of
   terms, so its cosine with a full-text centroid is a fraction of what a
   full report of the same event scores.  It is relaxed by ``key_relief``
   when the article's key name is one most of the story's members are about.
5. **Vetoes.**  Whatever the score, no merge when (a) the article is about
   someone or somewhere the story never mentions while the story's key name
   is absent from the article (two deaths of two people; two cities captured),
   or (b) the article and the story date the event on different days (explicit
   dates; weekday words resolved against the article time).  On full text
   about 90% of wrong merges joined two events of the same kind (issue 3),
   which shared vocabulary cannot separate; names and dates can.

Every default below was chosen with ``python -m benchmarks.eval_stories``
(figures and an ablation table in benchmarks/README.md); one configuration
serves every dataset.

What was measured and left out (benchmarks/README.md has the figures):
comparing with a story's best single member as well as its centroid
(single link) and average-link scoring, both no better on ECB+; merging two
stories once their centroids meet, +0.01 B-cubed F1 on ECB+ for a new
pipeline step, not worth it; sentence embeddings of the headline (the
all-MiniLM-L6-v2 model), +0.015 on ECB+ headlines and +0.008 on ours, with
torch as the price, so there is no ``embeddings`` extra.

The caller owns story ids: :meth:`StoryClusterer.assign` proposes, the caller
allocates an id for a new story (in the database) and reports the decision
with :meth:`StoryClusterer.add`.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from monitor.records import ArticleDoc, StoryAssignment

from .features import _NAME_JOINERS as _JOINERS
from .features import DEMONYMS, CaseStats, Gazetteer, dates, day_distance, figures, names, stem, terms, word_count

__all__ = ["ClusterParams", "StoryClusterer", "best_title"]

#: words sharing this many first letters are one word to the name veto
#: ("Somalia"/"Somali", "India"/"Indian")
_PREFIX = 5
_SPLIT = re.compile(r"[\s\-]+")


@dataclass(frozen=True, slots=True)
class ClusterParams:
    """Tuning of the clusterer.

    The defaults are the one configuration measured with
    benchmarks/eval_stories.py on ECB+ (time-free) and benchmarks/data/events.jsonl;
    each comment says what moving the number did there.
    """

    window: timedelta = timedelta(hours=72)
    #: cosine for a full article (>= ``full_words`` words).  0.25 raised
    #: ECB+ B-cubed recall by 0.08 but let its precision fall to 0.89 and
    #: mixed two events of the seeds world
    threshold_full: float = 0.35
    #: cosine for a headline alone (<= ``headline_words`` words).  One shared
    #: threshold of 0.35 cost 0.25 B-cubed F1 on events headlines; 0.15
    #: (before the time decay) cost 0.02 there
    threshold_headline: float = 0.12
    headline_words: int = 12
    full_words: int = 150
    title_weight: float = 3.0
    lead_weight: float = 2.0
    #: words of a name (people, places, organisations) weigh this many times
    #: more in the text vector: on ECB+ the events of one topic share their
    #: vocabulary and differ in who and where (B-cubed F1 +0.013 there, +0.010
    #: on events full text)
    name_boost: float = 2.0
    #: figures ("5.6", "$2.6 million") are terms of the text vector; they
    #: helped events headlines (+0.003) and changed little elsewhere
    use_figures: bool = True
    #: words of text counted as the lead (and searched for key names and dates)
    lead_words: int = 60
    #: terms of the article used to find candidate stories; 30 let in more
    #: wrong candidates (events full-text precision 0.95 -> 0.85)
    query_terms: int = 12
    #: stories scored per article, those sharing most query weight first
    max_candidates: int = 20
    #: a query term found in more active stories than this is not used to find
    #: candidates: it bounds the work per article whatever the window holds
    max_posting: int = 300
    #: centroid terms kept per story (the rest carry little weight)
    max_story_terms: int = 400
    #: share of the score that is the name cosine
    name_weight: float = 0.3
    #: a full article (>= ``name_floor_words``) sharing less name weight than this never joins
    name_floor: float = 0.1
    name_floor_words: int = 40
    #: key names per article (most mentioned names of the headline and lead);
    #: 4 (with threshold_full 0.25) scored 0.912 on ECB+ in file order but
    #: 0.859 on average over shuffled orders (2: 0.876): it fits one order,
    #: not the data
    key_names: int = 2
    #: a story's key name is core when at least this share of its members have it
    core_name_share: float = 0.5
    #: the threshold is multiplied by this when the article shares a core key name
    key_relief: float = 0.75
    use_name_veto: bool = True
    use_date_veto: bool = True
    #: explicit dates further apart than this veto a merge
    date_tolerance_days: int = 1
    #: explicit dates further than this from the article's time are background, not its event
    date_horizon_days: int = 14
    #: weekday words resolved to dates further apart than this veto a merge
    weekday_tolerance_days: int = 1
    #: resolve weekday words against the article time
    use_weekdays: bool = True
    #: the score halves for each this many hours between the article and the
    #: story's reports (0: no decay).  Events full text 0.954 -> 0.976 and
    #: headlines 0.799 -> 0.870 B-cubed F1, and the seeds world went from three
    #: mixed stories to none; 12 h cost events headline recall, 36-48 h let
    #: same-place events merge again
    half_life_hours: float = 24.0
    #: the articles' times are when they were reported.  Off for data without
    #: timestamps (ECB+ in benchmarks/eval_stories.py's time-free mode): no
    #: time decay, and no dates, since which dates belong to the event is
    #: judged from the article's time (ECB+ full text +0.006 B-cubed F1: its
    #: date lines of one event differ by days)
    real_times: bool = True


@dataclass(frozen=True, slots=True)
class _DocFeatures:
    article_id: int
    when: datetime
    n_words: int
    tf: dict[str, float]  # field-weighted, sublinear term frequency (no IDF)
    term_set: frozenset[str]  # stemmed words of title and text
    prefixes: frozenset[str]  # their first _PREFIX letters
    head_names: frozenset[str]  # names in title + lead
    name_tokens: frozenset[str]  # stemmed words of every name mentioned
    key_names: tuple[str, ...]  # the most mentioned names: who or where the article is about
    dates: frozenset[tuple[int, int, int]]  # explicit dates in title + lead: (year or 0, month, day)
    weekdays: frozenset[date]  # weekday words in title + lead, resolved against ``when``


@dataclass(slots=True)
class _Story:
    id: int
    first_seen: datetime
    last_updated: datetime
    size: int = 0
    centroid: dict[str, float] = field(default_factory=dict)
    norm2: float = 0.0
    indexed: set[str] = field(default_factory=set)  # centroid terms in the inverted index
    doc_freq: Counter = field(default_factory=Counter)  # term -> members containing it
    prefixes: Counter = field(default_factory=Counter)
    head_names: Counter = field(default_factory=Counter)
    name_tokens: Counter = field(default_factory=Counter)  # name word -> members mentioning it
    key_names: Counter = field(default_factory=Counter)  # name -> members whose key it is
    dates: Counter = field(default_factory=Counter)
    weekdays: Counter = field(default_factory=Counter)


class StoryClusterer:
    """Incremental story clustering over a sliding time window (pure, in memory).

    Names are matched by spelling (prefix, demonym and one-edit variants).
    ``gazetteer``, optional, maps a case-folded name to a canonical place key
    (the watch-list gazetteer of the alerts issue); with it, two spellings of
    one place listed in the gazetteer never veto a merge.
    """

    def __init__(
        self,
        window: timedelta | None = None,
        params: ClusterParams | None = None,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        params = params or ClusterParams()
        if window is not None:
            params = dataclasses.replace(params, window=window)
        if params.window <= timedelta(0):
            raise ValueError("dedup: the story window must be positive, e.g. 72h")
        self.params = params
        self.gazetteer = gazetteer
        self.case = CaseStats()
        self._stories: dict[int, _Story] = {}
        self._index: dict[str, set[int]] = {}
        self._df: Counter = Counter()
        self._name_df: Counter = Counter()
        self._n_docs = 0
        self._expiry: list[tuple[datetime, int]] = []  # heap of (last_updated, story id), stale entries skipped
        self._pending: _DocFeatures | None = None
        # stems of stories' key names -> stories, and one-deletion variants -> stems,
        # to find a story whose key name another outlet spells differently
        self._key_index: dict[str, set[int]] = {}
        self._key_variants: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ API

    def assign(self, doc: ArticleDoc, now: datetime) -> StoryAssignment:
        """Propose the story ``doc`` belongs to (``story_id`` None: a new story).

        Stories not updated within the window before ``now`` are expired first.
        """
        self.expire(now)
        f = self._features(doc)
        self._pending = f
        vec = self._weigh(f.tf)
        threshold = self.threshold(f.n_words)
        best: tuple[float, float, _Story] | None = None
        vetoed: list[str] = []
        nearest: tuple[float, int] | None = None
        for story in self._candidates(vec, f):
            sim = self._score(vec, f, story)
            if nearest is None or sim > nearest[0]:
                nearest = (sim, story.id)
            need = threshold
            if sim < need and self.params.key_relief < 1 and self._shares_core_key(f, story):
                need *= self.params.key_relief
            if sim < need:
                continue
            veto = self._veto(f, story)
            if veto:
                vetoed.append(f"story {story.id} ({sim:.2f}) vetoed: {veto}")
                continue
            if best is None or sim > best[0]:
                best = (sim, need, story)
        if best is None:
            why = f"new story: no active story scored {threshold:.2f} or more ({f.n_words} words)"
            if nearest is not None:
                why += f"; nearest story {nearest[1]} scored {nearest[0]:.2f}"
            if vetoed:
                why += "; " + "; ".join(vetoed[:3])
            return StoryAssignment(story_id=None, similarity=1.0, reason=why)
        sim, need, story = best
        shared = sorted(set(vec) & set(story.centroid), key=lambda t: -vec[t] * story.centroid[t])[:6]
        why = f"joined story {story.id}: score {sim:.2f} >= {need:.2f} ({f.n_words} words)"
        if need < threshold:
            why += " (threshold relaxed: same key name)"
        gap = _gap_hours(f.when, story)
        if gap >= 1 and self._decay(f.when, story) < 1:
            why += f" (x{self._decay(f.when, story):.2f}: {gap:.0f} h from the story's reports)"
        why += f"; shared terms {', '.join(shared)}"
        common = sorted(f.head_names & set(story.head_names))[:4]
        if common:
            why += f"; shared names {', '.join(common)}"
        if vetoed:
            why += "; " + "; ".join(vetoed[:2])
        return StoryAssignment(story_id=story.id, similarity=round(min(sim, 1.0), 4), reason=why)

    def add(self, doc: ArticleDoc, story_id: int, similarity: float = 1.0) -> None:
        """Record that ``doc`` is a member of ``story_id`` (new or existing).

        ``similarity`` is the caller's record of the decision; the clusterer
        keeps no per-member state beyond the story's aggregates.
        """
        pending = self._pending
        f = pending if pending is not None and pending.article_id == doc.article_id else self._features(doc)
        self._pending = None
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(id=story_id, first_seen=doc.when, last_updated=doc.when)
            heapq.heappush(self._expiry, (story.last_updated, story.id))
        story.first_seen = min(story.first_seen, doc.when)
        if doc.when > story.last_updated:
            story.last_updated = doc.when
            heapq.heappush(self._expiry, (story.last_updated, story.id))
        # document frequencies are learnt from every article in the window
        self._n_docs += 1
        self._df.update(f.term_set)
        self._name_df.update(f.name_tokens)
        vec = self._weigh(f.tf)
        for t, w in vec.items():
            story.centroid[t] = story.centroid.get(t, 0.0) + w
        if len(story.centroid) > self.params.max_story_terms:
            # prune to 3/4 so that the sort runs once per many additions, not on each
            keep = sorted(story.centroid.items(), key=lambda kv: -kv[1])[: self.params.max_story_terms * 3 // 4]
            story.centroid = dict(keep)
        story.norm2 = sum(w * w for w in story.centroid.values())
        story.size += 1
        story.doc_freq.update(f.term_set)
        story.prefixes.update(f.prefixes)
        story.head_names.update(f.head_names)
        story.name_tokens.update(f.name_tokens)
        for n in f.key_names:
            if n not in story.key_names:
                for t in _key_words(n):
                    self._index_key(t, story.id)
        story.key_names.update(f.key_names)
        story.dates.update(f.dates)
        story.weekdays.update(f.weekdays)
        self._reindex(story)

    def expire(self, now: datetime) -> int:
        """Forget stories not updated within the window before ``now``; returns how many.

        The cost is proportional to what expires, not to the stories in the window.
        """
        cutoff = now - self.params.window
        gone = 0
        while self._expiry and self._expiry[0][0] < cutoff:
            when, sid = heapq.heappop(self._expiry)
            story = self._stories.get(sid)
            if story is None or story.last_updated != when:
                continue  # a stale entry: the story was updated since
            self._forget(story)
            gone += 1
        return gone

    @property
    def active_stories(self) -> int:
        """Stories in the window."""
        return len(self._stories)

    # ------------------------------------------------------------ internals

    def _index_key(self, word: str, sid: int) -> None:
        stories = self._key_index.setdefault(word, set())
        if not stories:
            for v in _deletions(word):
                self._key_variants.setdefault(v, set()).add(word)
        stories.add(sid)

    def _unindex_key(self, word: str, sid: int) -> None:
        stories = self._key_index.get(word)
        if stories is None:
            return
        stories.discard(sid)
        if not stories:
            del self._key_index[word]
            for v in _deletions(word):
                words = self._key_variants.get(v)
                if words is not None:
                    words.discard(word)
                    if not words:
                        del self._key_variants[v]

    def _key_spellings(self, word: str) -> set[str]:
        """Indexed key-name stems one edit away from ``word`` (itself excluded)."""
        found: set[str] = set()
        for v in _deletions(word):
            found |= self._key_variants.get(v, set())
        found.discard(word)
        return {w for w in found if _one_edit(word, w)}

    def _forget(self, story: _Story) -> None:
        for n in story.key_names:
            for t in _key_words(n):
                self._unindex_key(t, story.id)
        for t in story.indexed:
            bucket = self._index.get(t)
            if bucket is not None:
                bucket.discard(story.id)
                if not bucket:
                    del self._index[t]
        for df, counts in ((self._df, story.doc_freq), (self._name_df, story.name_tokens)):
            for t, n in counts.items():
                left = df[t] - n
                if left > 0:
                    df[t] = left
                else:
                    del df[t]
        self._n_docs -= story.size
        del self._stories[story.id]

    def _features(self, doc: ArticleDoc) -> _DocFeatures:
        p = self.params
        title = doc.title or ""
        text = doc.text or ""
        self.case.learn(text)
        words = text.split()
        lead = " ".join(words[: p.lead_words])
        rest = " ".join(words[p.lead_words:])
        title_names = names(title, self.case)
        body_names = names(text, self.case)
        boosted = set()
        if p.name_boost != 1.0:
            boosted = {stem(t) for n in (*title_names, *body_names) for t in _SPLIT.split(n) if t not in _JOINERS}
        raw: Counter = Counter()
        for part, weight in ((title, p.title_weight), (lead, p.lead_weight), (rest, 1.0)):
            for t in terms(part):
                raw[t] += weight * p.name_boost if t in boosted else weight
            if p.use_figures:
                for t in figures(part):
                    raw[t] += weight
        tf = {t: 1.0 + math.log(c) for t, c in raw.items()}
        head_names = frozenset(title_names) | frozenset(names(lead, self.case))
        all_names = frozenset(title_names) | frozenset(body_names)
        # in a Title Case headline only words known as names count as key names
        key_names = _key_names(names(title, self.case, strict=True), body_names, head_names, p.key_names)
        head = f"{title}\n{lead}"
        explicit, relative = dates(head, doc.when)
        today = (doc.when.year, doc.when.month, doc.when.day)
        term_set = frozenset(raw)
        return _DocFeatures(
            article_id=doc.article_id,
            when=doc.when,
            n_words=word_count(title) + len(words),
            tf=tf,
            term_set=term_set,
            prefixes=_prefixes(term_set),
            head_names=head_names,
            name_tokens=frozenset(stem(t) for n in all_names for t in n.split() if t not in _JOINERS),
            key_names=key_names,
            # a date is the event's only if near the article's time: without real
            # times (ECB+) a date line cannot be told from the event's date
            dates=frozenset(d for d in explicit if day_distance(d, today) <= p.date_horizon_days)
            if p.real_times else frozenset(),
            weekdays=frozenset(relative) if p.use_weekdays and p.real_times else frozenset(),
        )

    def _idf(self, term: str) -> float:
        return math.log((self._n_docs + 1) / (self._df.get(term, 0) + 1)) + 1.0

    def _name_idf(self, token: str) -> float:
        return math.log((self._n_docs + 1) / (self._name_df.get(token, 0) + 1)) + 1.0

    def _weigh(self, tf: dict[str, float]) -> dict[str, float]:
        vec = {t: w * self._idf(t) for t, w in tf.items()}
        norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
        return {t: w / norm for t, w in vec.items()}

    def threshold(self, n_words: int) -> float:
        """The score an article of ``n_words`` words needs to join a story (before key-name relief)."""
        p = self.params
        if n_words <= p.headline_words:
            return p.threshold_headline
        if n_words >= p.full_words:
            return p.threshold_full
        x = (math.log(n_words) - math.log(p.headline_words)) / (math.log(p.full_words) - math.log(p.headline_words))
        return p.threshold_headline + x * (p.threshold_full - p.threshold_headline)

    def _candidates(self, vec: dict[str, float], f: _DocFeatures) -> list[_Story]:
        p = self.params
        query = sorted(vec.items(), key=lambda kv: -kv[1])[: p.query_terms]
        # the words of the key names too: who or where is the best lookup key,
        # even when a name is common in the window (a week of news from one city)
        seen = {t for t, _ in query}
        for n in f.key_names:
            for tok in _SPLIT.split(n):
                t = stem(tok)
                if t in vec and t not in seen:
                    seen.add(t)
                    query.append((t, vec[t]))
        weight: dict[int, float] = {}
        for t, w in query:
            posting = self._index.get(t, ())
            if len(posting) > p.max_posting:
                continue  # in most stories of the window: says nothing about which one
            for sid in posting:
                weight[sid] = weight.get(sid, 0.0) + w
        # and stories whose key names are spelt one edit away ("Hims"/"Homs")
        for n in f.key_names:
            for tok in _SPLIT.split(n):
                t = stem(tok)
                if len(tok) < 4 or t not in vec:
                    continue
                for other in self._key_spellings(t):
                    for sid in self._key_index.get(other, ()):
                        weight[sid] = weight.get(sid, 0.0) + vec[t]
        ranked = heapq.nsmallest(p.max_candidates, weight, key=lambda sid: (-weight[sid], sid))
        return [self._stories[sid] for sid in ranked]

    def _score(self, vec: dict[str, float], f: _DocFeatures, story: _Story) -> float:
        p = self.params
        sim = _cosine(self._respell(vec, f, story), story)
        ncos = self._name_cosine(f, story)
        if ncos is not None:
            if ncos < p.name_floor and f.n_words >= p.name_floor_words:
                return 0.0
            sim = (1 - p.name_weight) * sim + p.name_weight * ncos
        return sim * self._decay(f.when, story)

    def _decay(self, when: datetime, story: _Story) -> float:
        """1 within the span of the story's reports, halving every ``half_life_hours`` away from it."""
        p = self.params
        if not (p.half_life_hours and p.real_times):
            return 1.0
        return 0.5 ** (_gap_hours(when, story) / p.half_life_hours)

    def _respell(self, vec: dict[str, float], f: _DocFeatures, story: _Story) -> dict[str, float]:
        """``vec`` with the article's key-name words spelt as the story's key names spell them.

        Outlets transliterate differently ("Homs"/"Hims", "Idlib"/"Idleb"); one
        edit apart, a key name of the article and a key name of the story are
        taken as one word.  Only key names are respelt: they are few, and
        "Iran"/"Iraq" elsewhere in a text must stay apart.
        """
        if not f.key_names or not story.key_names:
            return vec
        theirs = {stem(t) for n in story.key_names for t in _SPLIT.split(n) if t and t not in _JOINERS}
        out = None
        for n in f.key_names:
            for tok in _SPLIT.split(n):
                t = stem(tok)
                if len(tok) < 4 or t not in vec or t in story.centroid or (out is not None and t not in out):
                    continue  # (a word in two key names is respelt once)
                for other in theirs:
                    if other in story.centroid and other not in vec and _one_edit(t, other):
                        out = dict(vec) if out is None else out
                        out[other] = out.pop(t)
                        break
        return vec if out is None else out

    def _name_cosine(self, f: _DocFeatures, story: _Story) -> float | None:
        """Cosine of IDF-weighted name words; None when either side names nobody."""
        if not f.name_tokens or not story.name_tokens:
            return None
        a = {t: self._name_idf(t) for t in f.name_tokens}
        dot = nb = 0.0
        for t, c in story.name_tokens.items():
            w = c / story.size * self._name_idf(t)
            nb += w * w
            if t in a:
                dot += a[t] * w
        na = math.sqrt(sum(w * w for w in a.values()))
        return dot / (na * math.sqrt(nb)) if na and nb else 0.0

    def _core_keys(self, story: _Story) -> list[str]:
        need = max(1, math.ceil(self.params.core_name_share * story.size))
        return [n for n, c in story.key_names.items() if c >= need]

    def _shares_core_key(self, f: _DocFeatures, story: _Story) -> bool:
        """Whether one of the article's key names is one most of the story's members are about."""
        if not f.key_names or not story.key_names:
            return False
        mine = frozenset(stem(t) for n in f.key_names for t in _SPLIT.split(n) if t and t not in _JOINERS)
        return any(_said(n, mine, _prefixes(mine)) for n in self._core_keys(story))

    def _reindex(self, story: _Story) -> None:
        new = set(story.centroid)
        for t in story.indexed - new:
            bucket = self._index.get(t)
            if bucket is not None:
                bucket.discard(story.id)
                if not bucket:
                    del self._index[t]
        for t in new - story.indexed:
            self._index.setdefault(t, set()).add(story.id)
        story.indexed = new

    def _veto(self, f: _DocFeatures, story: _Story) -> str | None:
        """Why ``f`` cannot join ``story`` whatever its score, or None."""
        p = self.params
        if p.use_name_veto and f.key_names and story.key_names:
            # the story's key name is absent from the article, and the article's
            # key name from everything the story's members wrote
            missing = [n for n in self._core_keys(story) if not _said(n, f.term_set, f.prefixes)]
            if missing:
                foreign = [n for n in f.key_names if not _said(n, story.doc_freq, story.prefixes)]
                if foreign and self.gazetteer is not None:
                    # the gazetteer knows "Hims" and "Homs" are one place
                    theirs = {self.gazetteer(n) for n in story.head_names} - {None}
                    mine = {self.gazetteer(n) for n in f.head_names} - {None}
                    foreign = [n for n in foreign if self.gazetteer(n) is None or self.gazetteer(n) not in theirs]
                    missing = [n for n in missing if self.gazetteer(n) is None or self.gazetteer(n) not in mine]
                if foreign and missing:
                    return f"about someone or somewhere else ({foreign[0]} vs {missing[0]})"
        if p.use_date_veto:
            # like is compared with like: a weekday's date is only as good as
            # the article's timestamp, an explicit date stands on its own
            mine, theirs = f.dates, story.dates
            if mine and theirs and not any(day_distance(d, s) <= p.date_tolerance_days for d in mine for s in theirs):
                a = ", ".join(sorted(_fmt(d) for d in mine)[:2])
                b = ", ".join(_fmt(d) for d, _ in theirs.most_common(2))
                return f"dates differ ({a} vs {b})"
            days, their_days = f.weekdays, story.weekdays
            if days and their_days and not any(
                abs((d - s).days) <= p.weekday_tolerance_days for d in days for s in their_days
            ):
                a = ", ".join(d.strftime("%a %d %b") for d in sorted(days)[:2])
                b = ", ".join(d.strftime("%a %d %b") for d, _ in their_days.most_common(2))
                return f"days differ ({a} vs {b})"
        return None


def _cosine(vec: dict[str, float], story: _Story) -> float:
    if story.norm2 <= 0:
        return 0.0
    get = story.centroid.get
    dot = 0.0
    for t, w in vec.items():
        c = get(t)
        if c is not None:
            dot += w * c
    return dot / math.sqrt(story.norm2)


def _gap_hours(when: datetime, story: _Story) -> float:
    """Hours between ``when`` and the span of the story's reports (0 inside it)."""
    return max(when - story.last_updated, story.first_seen - when, timedelta(0)).total_seconds() / 3600.0


def _fmt(d: tuple[int, int, int]) -> str:
    return f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}" if d[0] else f"{d[1]:02d}-{d[2]:02d}"


def _prefixes(words: frozenset[str]) -> frozenset[str]:
    return frozenset(w[:_PREFIX] for w in words if len(w) >= _PREFIX)


def _said(name: str, words: frozenset[str] | Counter, prefixes: frozenset[str] | Counter) -> bool:
    """Whether any word of ``name`` occurs (in any case) in a text with these stemmed words.

    Spelling varies between outlets, so words also match on their first five
    letters ("Somalia"/"Somali", "India"/"Indian"), through the demonym table
    ("Polish"/"Poland") and within one edit ("Hama"/"Hamah", "Homs"/"Hims").
    """
    for tok in {*name.split(), *_SPLIT.split(name)}:  # "t-mobile" is one term, "al-sham" two
        if not tok or tok in _JOINERS:
            continue
        for form in {tok, DEMONYMS.get(tok, tok)}:
            st = stem(form)
            if st in words or form[:_PREFIX] in prefixes:
                return True
            if len(form) == _PREFIX - 1 and any(form + c in prefixes for c in "aeinos"):
                return True  # "Iran"/"Iranian"
            if len(st) >= 3 and any(_one_edit(st, w) for w in words if abs(len(w) - len(st)) <= 1):
                return True
    return False


def _key_words(name: str) -> set[str]:
    return {stem(t) for t in _SPLIT.split(name) if len(t) >= 4 and t not in _JOINERS}


def _deletions(word: str) -> set[str]:
    """``word`` and every string one deletion away: two words one edit apart share one."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are one transliteration apart: one vowel (or h, w, y)
    inserted, deleted or swapped for another.

    Outlets spell Arabic and Persian names differently ("Homs"/"Hims",
    "Hama"/"Hamah", "Idlib"/"Idleb"), and the difference is in the vowels and
    the h.  Any one edit would also join "Ireland" and "Iceland", "Iran" and
    "Iraq": two events of the same kind in two countries (events.jsonl holds
    both elections; the looser rule merged them in its headline variant).
    """
    if a == b:
        return True
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1 or a[:1] != b[:1]:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i] in _SOFT and b[i] in _SOFT and a[i + 1:] == b[i + 1:]
    # a soft letter, or one of a doubled pair ("Assad"/"Asad", "Raqqa"/"Raqa")
    return (b[i] in _SOFT or b[i] == b[i - 1:i] or b[i] == b[i + 1:i + 2]) and a[i:] == b[i + 1:]


#: letters that transliterations of one name differ in
_SOFT = frozenset("aeiouyhw")


def _key_names(title_names: list[str], body_names: list[str], head_names: frozenset[str], k: int) -> tuple[str, ...]:
    """The ``k`` names of the headline and lead that the article mentions most.

    Mentions are grouped by their last word, so "Mark Teixeira" and "Teixeira"
    count together; a title mention counts twice and a name needs two
    mentions.  Restricting key names to the headline and lead keeps out the
    spokesman quoted in paragraph six (ECB+: B-cubed F1 0.871 -> 0.882).
    """
    count: Counter = Counter()
    form: dict[str, str] = {}
    for weight, found in ((2, title_names), (1, body_names)):
        for n in found:
            last = n.split()[-1]
            count[last] += weight
            if len(n) > len(form.get(last, "")):
                form[last] = n
    in_head = {n.split()[-1] for n in head_names}
    return tuple(form[last] for last, c in count.most_common() if c >= 2 and last in in_head)[:k]


def best_title(titles_with_weights: list[tuple[str, float]]) -> str:
    """The most central headline of a story: the one sharing most words with the others.

    Each title scores the weighted sum of its term overlap (Jaccard) with every
    other title, times its own weight; a title that reads
    like its siblings describes the story, an odd one out ("Live: latest
    updates") does not.  Shouting (ALL CAPS) or overlong titles score half.
    Ties go to the earliest (first listed) title.  Weights let a caller favour
    full-text outlets or the first report.
    """
    if not titles_with_weights:
        return ""
    sets = [set(terms(t)) for t, _ in titles_with_weights]
    best_i, best_score = 0, -1.0
    for i, (title, own) in enumerate(titles_with_weights):
        if not sets[i]:
            continue
        score = 0.0
        for j, (_, w) in enumerate(titles_with_weights):
            if i != j and sets[j]:
                score += w * len(sets[i] & sets[j]) / len(sets[i] | sets[j])
        if title.isupper() or len(title.split()) > 25:
            score *= 0.5
        score *= own if own > 0 else 1.0
        if score > best_score + 1e-9:
            best_i, best_score = i, score
    return titles_with_weights[best_i][0]
