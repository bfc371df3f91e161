"""Stream synthetic articles into the story clusterer and report the cost per article.

Usage::

    python -m benchmarks.cluster_scale                  # 1k, 10k, 100k articles (a few minutes)
    python -m benchmarks.cluster_scale --sizes 1000,10000,100000,1000000   # the full run (long)
    python -m benchmarks.cluster_scale --quick          # smoke test: 1k and 3k
    python -m benchmarks.cluster_scale --neardup        # the same for the near-duplicate index

Articles arrive at ``--rate`` per hour of simulated time (default 150: twenty
outlets publishing seven or eight articles an hour), so a 72-hour window holds
about 10,800 articles.  Each synthetic event has its own names and figures
drawn from large pools and shares its kind's vocabulary with other events
of the same kind; articles are headline-only, summary or full text in
roughly the proportions of benchmarks/data/events.jsonl.

Printed at each checkpoint: the mean wall time per article (assign + add)
over the articles since the previous checkpoint, active stories in the
window, and the process's peak resident memory (``resource.getrusage``, so
it includes the generator; ``--tracemalloc`` adds the Python heap peak, at
about twice the run time).  What must hold: the time per article stays
roughly flat once the window is full (within 2x from 10k to 1M), because each
article is compared only with stories that share its rarest terms within
the window.
"""

from __future__ import annotations

import argparse
import itertools
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone

from monitor.dedup import NearDuplicateIndex, StoryClusterer
from monitor.records import ArticleDoc

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
KINDS = ["quake", "strike", "election", "flood", "takeover", "resign", "protest", "outage", "cut", "fire"]
_CONSONANTS = "bcdfghklmnprstvz"
_VOWELS = "aeiou"


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))


class Generator:
    """A deterministic stream of synthetic articles about many overlapping events."""

    def __init__(self, seed: int = 1, rate_per_hour: float = 150.0) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        # a Zipf-like common vocabulary, kind vocabularies and a large pool of names
        self.common = [_word(rng, rng.randint(2, 4)) for _ in range(5000)]
        self.common_cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(self.common))))
        self.kind_words = {k: [_word(rng, 3) for _ in range(40)] for k in KINDS}
        self.names = [_word(rng, rng.randint(2, 3)).capitalize() for _ in range(200_000)]
        self.step = timedelta(hours=1) / rate_per_hour
        self.live: list[dict] = []

    def _event(self, now: datetime) -> dict:
        rng = self.rng
        kind = rng.choice(KINDS)
        return {
            "kind": kind,
            "names": [rng.choice(self.names) + " " + rng.choice(self.names) for _ in range(2)]
            + [rng.choice(self.names) for _ in range(2)],
            "words": rng.sample(self.kind_words[kind], 12) + [_word(rng, 3) for _ in range(6)],
            "number": str(rng.randint(2, 900)),
            "left": rng.randint(1, 20),
            "until": now + timedelta(hours=rng.uniform(2, 36)),
        }

    def _sentence(self, ev: dict, n: int) -> str:
        rng = self.rng
        words = rng.choices(self.common, cum_weights=self.common_cum, k=n)
        for _ in range(max(1, n // 4)):
            words[rng.randrange(n)] = rng.choice(ev["words"])
        words[rng.randrange(n)] = rng.choice(ev["names"])
        if rng.random() < 0.3:
            words[rng.randrange(n)] = ev["number"]
        return " ".join(words).capitalize() + "."

    def articles(self, count: int) -> Iterator[ArticleDoc]:
        rng = self.rng
        when = START
        for i in range(1, count + 1):
            when += self.step
            if i % 50 == 0 or not self.live:
                self.live = [e for e in self.live if e["left"] > 0 and e["until"] > when]
            if not self.live or rng.random() < 0.25:
                self.live.append(self._event(when))
            ev = rng.choice(self.live)
            ev["left"] -= 1
            if ev["left"] <= 0:
                self.live.remove(ev)
            title = self._sentence(ev, rng.randint(6, 11))[:-1]
            shape = rng.random()
            if shape < 0.28:
                text = ""
            elif shape < 0.6:
                text = " ".join(self._sentence(ev, rng.randint(15, 30)) for _ in range(rng.randint(1, 2)))
            else:
                text = " ".join(self._sentence(ev, rng.randint(15, 30)) for _ in range(rng.randint(6, 14)))
            yield ArticleDoc(article_id=i, source=f"outlet{rng.randrange(20)}", title=title, text=text, when=when)


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_clusterer(sizes: Sequence[int], rate: float, trace: bool) -> None:
    gen = Generator(rate_per_hour=rate)
    clusterer = StoryClusterer()
    next_id = 1
    done = 0
    spent = 0.0
    since = 0
    print(f"{'articles':>9} {'ms/article':>10} {'stories in window':>17} {'peak RSS MiB':>12}"
          + (f" {'heap peak MiB':>13}" if trace else ""))
    for doc in gen.articles(max(sizes)):
        t0 = time.perf_counter()
        decision = clusterer.assign(doc, doc.when)
        sid = decision.story_id
        if sid is None:
            sid, next_id = next_id, next_id + 1
        clusterer.add(doc, sid, decision.similarity)
        spent += time.perf_counter() - t0
        done += 1
        since += 1
        if done in sizes:
            line = (f"{done:>9} {spent / since * 1000:>10.3f} {clusterer.active_stories:>17}"
                    f" {_peak_rss_mib():>12.1f}")
            if trace:
                line += f" {tracemalloc.get_traced_memory()[1] / 2**20:>13.1f}"
            print(line, flush=True)
            spent = 0.0
            since = 0


def run_neardup(sizes: Sequence[int], rate: float, window: timedelta) -> None:
    gen = Generator(rate_per_hour=rate)
    index = NearDuplicateIndex()
    done = 0
    spent = 0.0
    since = 0
    print(f"{'articles':>9} {'ms/article':>10} {'texts in window':>15} {'peak RSS MiB':>12}")
    for doc in gen.articles(max(sizes)):
        t0 = time.perf_counter()
        index.expire(doc.when - window)
        index.find(doc.article_id, doc.text, doc.when)
        index.add(doc.article_id, doc.text, doc.when)
        spent += time.perf_counter() - t0
        done += 1
        since += 1
        if done in sizes:
            print(f"{done:>9} {spent / since * 1000:>10.3f} {len(index):>15} {_peak_rss_mib():>12.1f}", flush=True)
            spent = 0.0
            since = 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000",
                    help="checkpoints, comma-separated (default: %(default)s; add 1000000 for the full run)")
    ap.add_argument("--rate", type=float, default=150.0, help="articles per simulated hour (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="1k and 3k articles: a smoke test")
    ap.add_argument("--neardup", action="store_true", help="benchmark the near-duplicate index instead")
    ap.add_argument("--tracemalloc", action="store_true", help="also report the Python heap peak (slower)")
    args = ap.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in ("1000,3000" if args.quick else args.sizes).split(",") if s.strip()})
    except ValueError:
        print("cluster_scale: --sizes expects numbers separated by commas, e.g. 1000,10000", file=sys.stderr)
        return 2
    if not sizes or sizes[0] <= 0:
        print("cluster_scale: --sizes must be positive", file=sys.stderr)
        return 2
    print(f"synthetic stream: {args.rate:g} articles/hour, window 72 h (~{int(args.rate * 72)} articles)")
    if args.tracemalloc:
        tracemalloc.start()
    if args.neardup:
        run_neardup(sizes, args.rate, timedelta(hours=72))
    else:
        run_clusterer(sizes, args.rate, args.tracemalloc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
