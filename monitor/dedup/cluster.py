"""Level 3: reports of one event from different outlets become one story.

A streaming, single-pass centroid clusterer.  For each new article:

1. **Features.** A TF-IDF vector of its words (title words count
   ``title_weight`` times, lead words ``lead_weight`` times, sublinear term
   frequency, IDF learnt online over the articles in the window), the names it
   mentions (capitalised n-grams, optionally typed as places by a gazetteer
   callable), its figures and the calendar dates it mentions.
2. **Candidates.** Its highest-weighted terms are looked up in an inverted
   index (term -> stories active in the window); only stories sharing one of
   them are scored.  The index holds stories updated within ``window``, so the
   cost per article does not grow with the history (benchmarks/cluster_scale.py).
3. **Score.** Cosine between the article vector and the story centroid (the
   sum of its members' unit vectors).
4. **Vetoes.** Whatever the score, a merge is refused when the article and
   the story name different actors or places in their headlines and leads and
   neither mentions the other's, or when they date the event on different
   days.  On full text about 90% of wrong merges joined two events of the same
   kind (issue 3), which shared vocabulary cannot separate; names and dates can.
5. **Threshold by amount of text.** The threshold falls from
   ``threshold_full`` for full articles to ``threshold_headline`` for
   headline-only items, interpolated on log(word count): headline vectors have
   few terms, so their cosine with a full-text centroid is several times
   smaller for the same event (the best thresholds differed 3-5x, issue 3).

The caller owns story ids: :meth:`StoryClusterer.assign` proposes, the caller
allocates an id for a new story (in the database) and reports the decision
with :meth:`StoryClusterer.add`.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from monitor.records import ArticleDoc, StoryAssignment

from .features import _NAME_JOINERS as _JOINERS
from .features import DEMONYMS
from .features import CaseStats, Gazetteer, dates, day_distance, fold, names, numbers, stem, terms, word_count

__all__ = ["ClusterParams", "StoryClusterer", "best_title"]

#: words sharing this many first letters are taken as one word by the name veto
_PREFIX = 5


@dataclass(frozen=True, slots=True)
class ClusterParams:
    """Tuning of the clusterer; defaults measured with benchmarks/eval_stories.py."""

    window: timedelta = timedelta(hours=72)
    #: cosine threshold for a full article (>= ``full_words`` words)
    threshold_full: float = 0.30
    #: cosine threshold for a headline alone (<= ``headline_words`` words)
    threshold_headline: float = 0.10
    headline_words: int = 12
    full_words: int = 150
    title_weight: float = 3.0
    lead_weight: float = 2.0
    #: words of text counted as the lead
    lead_words: int = 60
    #: terms of the article used to look up candidate stories
    query_terms: int = 12
    #: stories scored in full per article, best by shared query-term weight first
    max_candidates: int = 32
    #: centroid terms kept per story (the rest carry little weight)
    max_story_terms: int = 400
    #: the name veto: a story's name is core when this share of members use it
    core_name_share: float = 0.5
    #: explicit dates further apart than this veto a merge
    date_tolerance_days: int = 1
    weekday_tolerance_days: int = 1
    use_name_veto: bool = True
    use_date_veto: bool = True
    #: weekday words are resolved against the article time: off when times are not real
    use_weekdays: bool = True
    #: explicit dates further than this from the article's time are background, not its event
    date_horizon_days: int = 14
    use_number_veto: bool = False
    name_veto_any: bool = False
    #: name words per article that say who or where it is about
    key_names: int = 3
    key_veto: bool = True
    foreign_scope: str = "head"
    all_foreign: bool = False
    dated_any_distance: bool = False
    young_story_margin: float = 0.0
    name_floor: float = 0.0
    name_floor_words: int = 0
    key_in_head: bool = True
    #: cosine of a headline with the story's headlines that joins it (None: off)
    title_threshold: float | None = None
    veto_min_words: int = 40
    veto_min_story_words: int = 100
    #: weight of the name cosine in the score (the rest is the text cosine)
    name_weight: float = 0.0


@dataclass(slots=True)
class _DocFeatures:
    article_id: int
    when: datetime
    n_words: int
    tf: dict[str, float]  # field-weighted, sublinear term frequency (no IDF)
    title_tf: dict[str, float]
    term_set: frozenset[str]
    head_names: frozenset[str]  # names in title + lead
    all_names: frozenset[str]
    name_tokens: frozenset[str]
    key_names: tuple[str, ...]  # the most mentioned names: who or where the article is about
    prefixes: frozenset[str]
    head_words: frozenset[str]
    dates: frozenset[tuple[int, int, int]]  # explicit dates in title + lead: (year or 0, month, day)
    weekdays: frozenset[date]  # weekday words in title + lead, resolved against the article time
    numbers: frozenset[str]  # in title + lead
    all_numbers: frozenset[str]


@dataclass(slots=True)
class _Story:
    id: int
    first_seen: datetime
    last_updated: datetime
    centroid: dict[str, float] = field(default_factory=dict)
    title_centroid: dict[str, float] = field(default_factory=dict)
    title_norm2: float = 0.0
    norm2: float = 0.0
    size: int = 0
    doc_freq: Counter = field(default_factory=Counter)  # term -> members containing it
    head_names: Counter = field(default_factory=Counter)  # name -> members with it in title+lead
    name_tokens: Counter = field(default_factory=Counter)
    key_names: Counter = field(default_factory=Counter)  # name -> members whose key it is
    prefixes: Counter = field(default_factory=Counter)
    head_words: Counter = field(default_factory=Counter)  # stemmed words of names in titles and leads
    head_prefixes: Counter = field(default_factory=Counter)
    words: int = 0
    dates: Counter = field(default_factory=Counter)
    weekdays: Counter = field(default_factory=Counter)
    numbers: Counter = field(default_factory=Counter)
    all_numbers: Counter = field(default_factory=Counter)
    indexed: set[str] = field(default_factory=set)  # centroid terms in the inverted index


class StoryClusterer:
    """Incremental story clustering over a sliding time window (pure, in memory)."""

    def __init__(
        self,
        window: timedelta | None = None,
        params: ClusterParams | None = None,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        params = params or ClusterParams()
        if window is not None:
            params = ClusterParams(**{**_asdict(params), "window": window})
        self.params = params
        self.gazetteer = gazetteer
        self.case = CaseStats()
        self._stories: dict[int, _Story] = {}
        self._index: dict[str, set[int]] = {}
        self._df: Counter = Counter()
        self._name_df: Counter = Counter()
        self._n_docs = 0
        self._pending: _DocFeatures | None = None
        self._expiry: list[tuple[datetime, int]] = []

    # ------------------------------------------------------------------ API

    def assign(self, doc: ArticleDoc, now: datetime) -> StoryAssignment:
        """Propose the story ``doc`` belongs to (``story_id`` None: a new story)."""
        self.expire(now)
        f = self._features(doc)
        self._pending = f
        vec = self._weigh(f.tf)
        best: tuple[float, _Story] | None = None
        vetoed: list[str] = []
        threshold = self._threshold(f.n_words)
        tvec = self._weigh(f.title_tf) if f.title_tf else {}
        for story in self._candidates(vec):
            sim = self._score(vec, f, story)
            if self.params.title_threshold and tvec and story.title_norm2 > 0:
                tsim = _dot(tvec, story.title_centroid) / math.sqrt(story.title_norm2)
                # a headline is compared with headlines: scaled to the text threshold
                sim = max(sim, tsim * threshold / self.params.title_threshold)
            if sim < threshold * (1 + self.params.young_story_margin / story.size):
                continue
            veto = self._veto(f, story)
            if veto:
                vetoed.append(f"story {story.id} ({sim:.2f}) vetoed: {veto}")
                continue
            if best is None or sim > best[0]:
                best = (sim, story)
        if best is None:
            why = f"new story: no active story above the threshold {threshold:.2f} ({f.n_words} words)"
            if vetoed:
                why += "; " + "; ".join(vetoed[:3])
            return StoryAssignment(story_id=None, similarity=1.0, reason=why)
        sim, story = best
        shared = sorted(set(vec) & set(story.centroid), key=lambda t: -vec[t] * story.centroid[t])[:6]
        why = (
            f"joined story {story.id}: cosine {sim:.2f} >= {threshold:.2f} ({f.n_words} words);"
            f" shared terms {', '.join(shared)}"
        )
        common = sorted(f.head_names & set(story.head_names))[:4]
        if common:
            why += f"; shared names {', '.join(common)}"
        if vetoed:
            why += "; " + "; ".join(vetoed[:2])
        return StoryAssignment(story_id=story.id, similarity=round(sim, 4), reason=why)

    def add(self, doc: ArticleDoc, story_id: int, similarity: float = 1.0) -> None:
        """Record that ``doc`` is a member of ``story_id`` (new or existing)."""
        f = self._pending if self._pending and self._pending.article_id == doc.article_id else self._features(doc)
        self._pending = None
        story = self._stories.get(story_id)
        if story is None:
            story = _Story(id=story_id, first_seen=doc.when, last_updated=doc.when)
            self._stories[story_id] = story
        story.first_seen = min(story.first_seen, doc.when)
        if doc.when > story.last_updated or story.size == 0:
            story.last_updated = max(story.last_updated, doc.when)
            heapq.heappush(self._expiry, (story.last_updated, story.id))
        # the document frequencies learn from every article in the window
        self._n_docs += 1
        for t in f.term_set:
            self._df[t] += 1
        for t in f.name_tokens:
            self._name_df[t] += 1
        story.doc_freq.update(f.term_set)
        vec = self._weigh(f.tf)
        for t, w in vec.items():
            story.centroid[t] = story.centroid.get(t, 0.0) + w
        story.size += 1
        if f.title_tf:
            for t, w in self._weigh(f.title_tf).items():
                story.title_centroid[t] = story.title_centroid.get(t, 0.0) + w
            story.title_norm2 = sum(w * w for w in story.title_centroid.values())
        story.head_names.update(f.head_names)
        story.name_tokens.update(f.name_tokens)
        story.key_names.update(f.key_names)
        story.prefixes.update(f.prefixes)
        story.head_words.update(f.head_words)
        story.head_prefixes.update(_prefixes(f.head_words))
        story.words += f.n_words
        story.dates.update(f.dates)
        story.weekdays.update(f.weekdays)
        story.numbers.update(f.numbers)
        story.all_numbers.update(f.all_numbers)
        if len(story.centroid) > self.params.max_story_terms:
            # prune to 3/4 so the sort runs once per many additions, not on each
            keep = sorted(story.centroid.items(), key=lambda kv: -kv[1])[: self.params.max_story_terms * 3 // 4]
            story.centroid = dict(keep)
        story.norm2 = sum(w * w for w in story.centroid.values())
        self._reindex(story)

    def expire(self, now: datetime) -> int:
        """Forget stories not updated within the window before ``now``; returns how many."""
        cutoff = now - self.params.window
        gone = []
        # a heap of (last_updated, id) with stale entries skipped: the cost is
        # proportional to what expires, not to the stories in the window
        while self._expiry and self._expiry[0][0] < cutoff:
            when, sid = heapq.heappop(self._expiry)
            story = self._stories.get(sid)
            if story is not None and story.last_updated == when:
                gone.append(story)
        for story in gone:
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
        return len(gone)

    @property
    def active_stories(self) -> int:
        return len(self._stories)

    # ------------------------------------------------------------ internals

    def _features(self, doc: ArticleDoc) -> _DocFeatures:
        p = self.params
        title = doc.title or ""
        text = doc.text or ""
        self.case.learn(text)
        words = text.split()
        lead = " ".join(words[: p.lead_words])
        rest = " ".join(words[p.lead_words:])
        raw: Counter = Counter()
        for t in terms(title):
            raw[t] += p.title_weight
        for t in terms(lead):
            raw[t] += p.lead_weight
        for t in terms(rest):
            raw[t] += 1.0
        tf = {t: 1.0 + math.log(c) if c >= 1 else c for t, c in raw.items()}
        title_tf = {t: 1.0 + math.log(c) for t, c in Counter(terms(title)).items()}
        head = f"{title}\n{lead}"
        title_names = names(title, self.case)
        body_names = names(text, self.case)
        head_names = frozenset(title_names) | frozenset(names(lead, self.case))
        all_names = frozenset(title_names) | frozenset(body_names)
        key_names = _key_names(
            names(title, self.case, strict=True), body_names, p.key_names,
            head_only=head_names if p.key_in_head else None,
        )
        tokens = frozenset(tok for n in all_names for tok in n.split() if tok not in _JOINERS)
        explicit, relative = dates(head, doc.when)
        today = (doc.when.year, doc.when.month, doc.when.day)
        return _DocFeatures(
            article_id=doc.article_id,
            when=doc.when,
            n_words=word_count(title) + len(words),
            tf=tf,
            title_tf=title_tf,
            term_set=frozenset(raw),
            head_names=head_names,
            all_names=all_names,
            name_tokens=tokens,
            key_names=key_names,
            prefixes=_prefixes(frozenset(raw)),
            head_words=frozenset(stem(t) for n in head_names for t in re.split(r"[\s\-]+", n) if t),
            dates=frozenset(
                d for d in explicit
                if day_distance(d, today) <= p.date_horizon_days or (d[0] and p.dated_any_distance)
            ),
            weekdays=frozenset(relative),
            numbers=frozenset(numbers(head)),
            all_numbers=frozenset(numbers(head)) | frozenset(numbers(rest)),
        )

    def _idf(self, term: str) -> float:
        return math.log((self._n_docs + 1) / (self._df.get(term, 0) + 1)) + 1.0

    def _weigh(self, tf: dict[str, float]) -> dict[str, float]:
        vec = {t: w * self._idf(t) for t, w in tf.items()}
        norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
        return {t: w / norm for t, w in vec.items()}

    def _threshold(self, n_words: int) -> float:
        p = self.params
        if n_words <= p.headline_words:
            return p.threshold_headline
        if n_words >= p.full_words:
            return p.threshold_full
        x = (math.log(n_words) - math.log(p.headline_words)) / (math.log(p.full_words) - math.log(p.headline_words))
        return p.threshold_headline + x * (p.threshold_full - p.threshold_headline)

    def _candidates(self, vec: dict[str, float]) -> list[_Story]:
        p = self.params
        query = sorted(vec.items(), key=lambda kv: -kv[1])[: p.query_terms]
        score: dict[int, float] = {}
        for t, w in query:
            for sid in self._index.get(t, ()):
                score[sid] = score.get(sid, 0.0) + w
        ranked = sorted(score, key=lambda sid: -score[sid])[: p.max_candidates]
        return [self._stories[sid] for sid in ranked]

    def _name_idf(self, token: str) -> float:
        return math.log((self._n_docs + 1) / (self._name_df.get(token, 0) + 1)) + 1.0

    def _name_cosine(self, f: _DocFeatures, story: _Story) -> float | None:
        """Cosine of IDF-weighted name words; None when either side names nobody."""
        if not f.name_tokens or not story.name_tokens:
            return None
        a = {t: self._name_idf(t) for t in f.name_tokens}
        dot = 0.0
        nb = 0.0
        for t, c in story.name_tokens.items():
            w = c / story.size * self._name_idf(t)
            nb += w * w
            if t in a:
                dot += a[t] * w
        na = math.sqrt(sum(w * w for w in a.values()))
        return dot / (na * math.sqrt(nb)) if na and nb else 0.0

    def _score(self, vec: dict[str, float], f: _DocFeatures, story: _Story) -> float:
        sim = self._cosine(vec, story)
        beta = self.params.name_weight
        if beta or self.params.name_floor:
            ncos = self._name_cosine(f, story)
            if ncos is not None:
                if ncos < self.params.name_floor and f.n_words >= self.params.name_floor_words:
                    return 0.0
                sim = (1 - beta) * sim + beta * ncos
        return sim

    @staticmethod
    def _cosine(vec: dict[str, float], story: _Story) -> float:
        if story.norm2 <= 0:
            return 0.0
        dot = sum(w * story.centroid.get(t, 0.0) for t, w in vec.items())
        return dot / math.sqrt(story.norm2)

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
        p = self.params
        if p.use_date_veto:
            # like is compared with like: a weekday's date is only as good as
            # the article's timestamp, an explicit date stands on its own
            mine, theirs, tol = f.dates, story.dates, p.date_tolerance_days
            if mine and theirs and not any(day_distance(d, s) <= tol for d in mine for s in theirs):
                a = ", ".join(sorted(_fmt(d) for d in mine)[:2])
                b = ", ".join(_fmt(d) for d, _ in theirs.most_common(2))
                return f"dates differ ({a} vs {b})"
            mine, theirs, tol = f.weekdays, story.weekdays, p.weekday_tolerance_days
            if p.use_weekdays and mine and theirs and not any(abs((d - s).days) <= tol for d in mine for s in theirs):
                a = ", ".join(sorted(d.strftime("%a %d %b") for d in mine)[:2])
                b = ", ".join(d.strftime("%a %d %b") for d, _ in theirs.most_common(2))
                return f"days differ ({a} vs {b})"
        if p.use_name_veto and f.head_names and story.head_names:
            need = max(1, math.ceil(p.core_name_share * story.size))
            core = [n for n, c in story.head_names.items() if c >= need]
            missing = [n for n in core if not _mentions(n, f.name_tokens)]
            foreign = [n for n in f.head_names if not _mentions(n, story.name_tokens)]
            if p.all_foreign and len(foreign) < len(f.key_names):
                foreign = []
            if missing and foreign and (p.name_veto_any or len(missing) == len(core)):
                return f"names differ ({foreign[0]} vs {missing[0]})"
        if p.key_veto and f.key_names and story.key_names:
            need = max(1, math.ceil(p.core_name_share * story.size))
            core = [n for n, c in story.key_names.items() if c >= need]
            missing = [n for n in core if not _said(n, f.term_set, f.prefixes)]
            if p.foreign_scope == "head":
                foreign = [n for n in f.key_names if not _said(n, story.head_words, story.head_prefixes)]
            else:
                foreign = [n for n in f.key_names if not _said(n, story.doc_freq, story.prefixes)]
            # one side must have enough text for an absence to mean something
            if p.all_foreign and len(foreign) < len(f.key_names):
                foreign = []
            if missing and foreign and (f.n_words >= p.veto_min_words or story.words >= p.veto_min_story_words):
                return f"about someone or somewhere else ({foreign[0]} vs {missing[0]})"
        if p.use_number_veto and f.numbers and story.numbers:
            need = max(1, math.ceil(p.core_name_share * story.size))
            core = [n for n, c in story.numbers.items() if c >= need]
            missing = [n for n in core if n not in f.all_numbers]
            foreign = [n for n in f.numbers if n not in story.all_numbers]
            if missing and foreign:
                return f"figures differ ({foreign[0]} vs {missing[0]})"
        return None


def _mentions(name: str, tokens: frozenset[str] | Counter) -> bool:
    """Whether any significant word of ``name`` is among ``tokens`` ("jackman" in "hugh jackman")."""
    return any(tok in tokens for tok in name.split() if tok not in _JOINERS)


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def _fmt(d: tuple[int, int, int]) -> str:
    return f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}" if d[0] else f"{d[1]:02d}-{d[2]:02d}"


def _prefixes(words: frozenset[str]) -> frozenset[str]:
    return frozenset(w[:_PREFIX] for w in words if len(w) >= _PREFIX)


def _said(name: str, words: frozenset[str] | Counter, prefixes: frozenset[str] | Counter) -> bool:
    """Whether any word of ``name`` occurs (in any case) in a text with these stemmed words.

    Spelling varies between outlets, so words also match on their first five
    letters ("Somalia"/"Somali", "India"/"Indian"), through the demonym table
    ("Polish"/"Poland") and within one edit for words of four letters or more
    ("Hama"/"Hamah", "Homs"/"Hims", transliterations).
    """
    for tok in re.split(r"[\s\-]+", name):
        if tok in _JOINERS or not tok:
            continue
        for form in {tok, DEMONYMS.get(tok, tok)}:
            st = stem(form)
            if st in words or form[:_PREFIX] in prefixes:
                return True
            if len(form) == _PREFIX - 1 and any(form + c in prefixes for c in "aeinos"):
                return True
            if len(form) >= 4 and any(_one_edit(form, w) for w in words if abs(len(w) - len(form)) <= 1):
                return True
    return False


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one insertion, deletion or substitution."""
    if a == b:
        return True
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1 or a[:1] != b[:1]:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + 1:] == b[i + 1:] if len(a) == len(b) else a[i:] == b[i + 1:]


def _key_names(
    title_names: list[str], body_names: list[str], k: int, head_only: frozenset[str] | None = None
) -> tuple[str, ...]:
    """The ``k`` names an article mentions most: who or where it is about.

    Mentions are grouped by their last word, so "Mark Teixeira" and "Teixeira"
    count together; a title mention counts twice.  A name needs two mentions.
    The longest form names the group.
    """
    count: Counter = Counter()
    form: dict[str, str] = {}
    for weight, found in ((2, title_names), (1, body_names)):
        for n in found:
            last = n.split()[-1]
            count[last] += weight
            if len(n) > len(form.get(last, "")):
                form[last] = n
    if head_only is not None:
        in_head = {n.split()[-1] for n in head_only}
        return tuple(form[last] for last, c in count.most_common() if c >= 2 and last in in_head)[:k]
    return tuple(form[last] for last, c in count.most_common(k) if c >= 2)


def _asdict(p: ClusterParams) -> dict:
    return {k: getattr(p, k) for k in p.__dataclass_fields__}


def best_title(titles_with_weights: list[tuple[str, float]]) -> str:
    """The most central headline: the one sharing most words with the others.

    Each title scores the weighted sum of its term overlap (Jaccard) with every
    other title; a title that reads like its siblings describes the story, an
    odd one out ("Live: latest updates") does not.  Ties go to the earliest
    (first listed) title.  Weights let a caller favour full-text outlets.
    """
    if not titles_with_weights:
        return ""
    sets = [set(terms(t)) for t, _ in titles_with_weights]
    best_i, best_score = 0, -1.0
    for i, (title, _) in enumerate(titles_with_weights):
        if not sets[i]:
            continue
        score = 0.0
        for j, (_, w) in enumerate(titles_with_weights):
            if i != j and sets[j]:
                score += w * len(sets[i] & sets[j]) / len(sets[i] | sets[j])
        # a shouting or overlong headline reads badly in a list of stories
        n = len(title.split())
        if title.isupper() or n > 25:
            score *= 0.5
        score *= titles_with_weights[i][1] ** 0.5 if titles_with_weights[i][1] > 0 else 1.0
        if score > best_score + 1e-9:
            best_i, best_score = i, score
    return titles_with_weights[best_i][0]
