"""Deduplication and story clustering: pure logic and in-memory indexes.

Three levels, each usable on its own (the pipeline wires them; the store
persists what they decide):

1. same article - :func:`canonical_url` (one form per URL) and
   :func:`content_fingerprint` (hash of normalised text);
2. near-duplicate - :class:`NearDuplicateIndex` (syndicated wire copy,
   lightly edited reposts);
3. same event - :class:`StoryClusterer` (reports of one event from different
   outlets become one story) and :func:`best_title`.
"""

from .canon import canonical_url
from .cluster import ClusterParams, StoryClusterer, best_title
from .fingerprint import content_fingerprint
from .neardup import NearDuplicateIndex, NearMatch

__all__ = [
    "ClusterParams",
    "NearDuplicateIndex",
    "NearMatch",
    "StoryClusterer",
    "best_title",
    "canonical_url",
    "content_fingerprint",
]
