"""Level 2 dedup: syndicated wire copy and lightly edited reposts.

Two texts are near-duplicates when they share most of their word 4-grams
("shingles", Broder 1997).  A repost differs from its original by a new
headline (the title is not compared), a byline or credit line, a trimmed tail
or an added paragraph; all of these leave most shingles in common, while two
outlets writing up the same event in their own words share almost none.

The index is an inverted index from sampled shingle hashes to documents:

* **Sampling.**  Only shingles whose hash is 0 modulo :attr:`sample` are kept
  (Broder's MOD-m sketch).  Unlike a fixed-size MinHash, the sample grows
  with the text, so both Jaccard similarity and *containment* can be
  estimated, and a repost with an added paragraph, whose Jaccard similarity
  with the original drops, is still found through containment.
* **Scoring.**  For each candidate sharing sampled shingles, similarity is
  ``max(jaccard, containment)`` where containment (the share of the shorter
  text found in the longer) only counts when the shorter text has enough
  shingles and the Jaccard similarity is at least :attr:`min_jaccard`; a lead
  paragraph alone is not an article.
* **Window.**  :meth:`expire` drops documents added before a time, so memory
  is bounded by the window, not by history.

Why not MinHash LSH (datasketch)?  Measured on the 21 syndicated copies in
benchmarks/data/events.jsonl (wire copy under a new headline, with a credit
line, some with the last paragraph cut), streaming the 246 articles of 40
words or more, on this machine:

==========================================  =====  ===========  ============
index                                        found  false joins  ms / article
==========================================  =====  ===========  ============
this index (sample 1/2, threshold 0.8)       21/21  0            0.78
datasketch MinHashLSH, 128 perm, Jaccard 0.8 19/21  0            0.87
datasketch MinHashLSH, 128 perm, Jaccard 0.7 20/21  0            0.88
datasketch MinHashLSH, 128 perm, Jaccard 0.5 21/21  0            1.01
==========================================  =====  ===========  ============

MinHash estimates Jaccard only, and a trimmed or extended copy loses Jaccard
similarity while keeping containment; datasketch's LSHEnsemble handles
containment but is built in batches, which a streaming window does not
allow.  The sampled inverted index measures both, deletes in place, and is
no slower.

Headline-only items (too few words to shingle meaningfully) never match:
two outlets sharing a five-word headline are not one article.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime

from .features import shingles

__all__ = ["NearDuplicateIndex", "NearMatch"]


@dataclass(frozen=True, slots=True)
class NearMatch:
    """The near-duplicate found for a text."""

    doc_id: Hashable  # the caller's id (an article id)
    similarity: float  # max(Jaccard, containment) on the sampled shingles
    jaccard: float
    containment: float


class NearDuplicateIndex:
    """Sampled-shingle inverted index over the texts of a time window.

    ``threshold`` 0.8 is the default of ``[dedup] near_duplicate_threshold``:
    measured on the syndicated copies of benchmarks/data/events.jsonl (wire
    copy with a new headline, a credit line, a trimmed tail) every copy scores
    >= 0.85 against its original, while different outlets' write-ups of the
    same event (which share template phrases) stay below 0.3.
    """

    def __init__(
        self,
        threshold: float = 0.8,
        *,
        k: int = 4,
        sample: int = 2,
        min_shingles: int = 20,
        min_jaccard: float = 0.4,
        max_posting: int = 2000,
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("dedup: near-duplicate threshold must be in (0, 1]")
        self.threshold = threshold
        self.k = k
        self.sample = sample
        #: sampled shingles a text needs before it can match: with k=4 and
        #: sample=2 about 40 words, longer than any headline and than the
        #: one-sentence summaries outlets paraphrase from the same wire lead
        self.min_shingles = min_shingles
        self.min_jaccard = min_jaccard
        #: a shingle shared by more documents than this is boilerplate ("said
        #: in a statement on"): it is not used to look up candidates
        self.max_posting = max_posting
        self._docs: dict[Hashable, tuple[frozenset[int], datetime, int]] = {}
        self._seq = 0
        self._postings: dict[int, set[Hashable]] = {}
        self._order: list[tuple[datetime, int, Hashable]] = []  # a heap: oldest first

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def indexed_shingles(self) -> int:
        """Distinct sampled shingles in the index (its memory, with :func:`len`)."""
        return len(self._postings)

    def sketch(self, text: str) -> frozenset[int]:
        """The sampled shingle hashes of ``text`` (empty when it is too short)."""
        found = frozenset(h for h in shingles(text, self.k) if h % self.sample == 0)
        return found if len(found) >= self.min_shingles else frozenset()

    def find(self, doc_id: Hashable, text: str, when: datetime) -> tuple[Hashable, float] | None:
        """The most similar indexed document at or above the threshold, as (id, similarity)."""
        match = self.match(doc_id, text, when)
        return (match.doc_id, match.similarity) if match else None

    def match(self, doc_id: Hashable, text: str, when: datetime) -> NearMatch | None:
        """Like :meth:`find`, with the Jaccard and containment figures."""
        sketch = self.sketch(text)
        if not sketch:
            return None
        shared: dict[Hashable, int] = {}
        for h in sketch:
            posting = self._postings.get(h)
            if not posting or len(posting) > self.max_posting:
                continue
            for other in posting:
                if other != doc_id:
                    shared[other] = shared.get(other, 0) + 1
        best: NearMatch | None = None
        best_key = (0.0, 0)
        for other, n in shared.items():
            other_sketch = self._docs[other][0]
            union = len(sketch) + len(other_sketch) - n
            jaccard = n / union
            containment = n / min(len(sketch), len(other_sketch))
            sim = max(jaccard, containment if jaccard >= self.min_jaccard else 0.0)
            # ties go to the document indexed first: the original, not an earlier copy of it
            if sim >= self.threshold and (best is None or (sim, -self._docs[other][2]) > best_key):
                best = NearMatch(other, round(sim, 4), round(jaccard, 4), round(containment, 4))
                best_key = (sim, -self._docs[other][2])
        return best

    def add(self, doc_id: Hashable, text: str, when: datetime) -> bool:
        """Index ``text``; returns False when it is too short to be indexed."""
        sketch = self.sketch(text)
        if not sketch or doc_id in self._docs:
            return False
        self._seq += 1
        self._docs[doc_id] = (sketch, when, self._seq)
        for h in sketch:
            self._postings.setdefault(h, set()).add(doc_id)
        heapq.heappush(self._order, (when, self._seq, doc_id))
        return True

    def expire(self, before: datetime) -> int:
        """Forget documents added with ``when`` earlier than ``before``; returns how many."""
        gone = 0
        while self._order and self._order[0][0] < before:
            _, _, doc_id = heapq.heappop(self._order)
            gone += self._remove(doc_id)
        return gone

    def _remove(self, doc_id: Hashable) -> int:
        entry = self._docs.pop(doc_id, None)
        if entry is None:
            return 0
        for h in entry[0]:
            posting = self._postings.get(h)
            if posting is not None:
                posting.discard(doc_id)
                if not posting:
                    del self._postings[h]
        return 1
