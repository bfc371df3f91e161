"""Score the story clusterer on labelled news: pairwise and B-cubed precision, recall, F1.

Usage::

    python -m benchmarks.eval_stories            # every dataset and variant
    python -m benchmarks.eval_stories --quick    # a small subset, for the smoke test
    python -m benchmarks.eval_stories --data PATH/docs.jsonl --events PATH/events.jsonl

Datasets (read at run time, never copied into the repository):

* ECB+ dev (``../shared/data/ecbplus-dev/docs.jsonl`` beside the repo): 486
  real articles, 44 events, two events of the same kind per topic.  It has no
  reliable timestamps, so it is run **time-free**: every article gets the same
  synthetic time, so all are within one window and weekday words resolve to
  the same week.  Two variants: ``full`` (title = first sentence, text = the
  rest) and ``headline`` (the first sentence alone, which is often a date line).
* events (``benchmarks/data/events.jsonl``): our own labelled set with real
  timestamps, streamed in publication order; variants ``full`` (as written:
  a mix of headline-only, summary and full-text items) and ``headline``
  (titles only).  Its ``events_syndicated.tsv`` lists the syndicated copies,
  against which the near-duplicate index is scored (and datasketch's MinHash
  LSH, for comparison).

A streaming clusterer's result depends on the order articles arrive in, and
ECB+ has no publication order (its file order pairs the two events of a topic
article by article), so ECB+ full text is also run in ``--orders`` shuffled
orders (seeded: the same every run) and the mean, min and max are printed: a
change that only helps the file order is fitted to the order, not the data.

The clusterer runs with its shipped defaults (``ClusterParams()``): one
configuration for every dataset.  Output is deterministic (no timings), so a
change in the figures is a change in behaviour.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from monitor.dedup import ClusterParams, NearDuplicateIndex, StoryClusterer
from monitor.dedup.features import shingles
from monitor.records import ArticleDoc

REPO = Path(__file__).resolve().parents[1]
ECBPLUS = REPO.parent / "shared/data/ecbplus-dev/docs.jsonl"
EVENTS = REPO / "benchmarks/data/events.jsonl"
#: the synthetic time of every ECB+ article (time-free mode)
TIME_FREE = datetime(2013, 6, 15, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True, slots=True)
class Item:
    doc: ArticleDoc
    gold: str


@dataclass(frozen=True, slots=True)
class Scores:
    b3_p: float
    b3_r: float
    b3_f: float
    pw_p: float
    pw_r: float
    pw_f: float
    n_docs: int
    n_gold: int
    n_pred: int


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(gold: Sequence[str], pred: Sequence[object]) -> Scores:
    """B-cubed (Bagga and Baldwin 1998) and pairwise P/R/F1 of a clustering against gold labels."""
    n = len(gold)
    pair = Counter(zip(gold, pred))
    g_size = Counter(gold)
    p_size = Counter(pred)
    # B-cubed: per item, precision = |same pred & same gold| / |same pred|
    b3_p = sum(c * c / p_size[pc] for (gc, pc), c in pair.items()) / n
    b3_r = sum(c * c / g_size[gc] for (gc, pc), c in pair.items()) / n
    both = sum(c * (c - 1) / 2 for c in pair.values())
    pred_pairs = sum(c * (c - 1) / 2 for c in p_size.values())
    gold_pairs = sum(c * (c - 1) / 2 for c in g_size.values())
    pw_p = both / pred_pairs if pred_pairs else 1.0
    pw_r = both / gold_pairs if gold_pairs else 1.0
    return Scores(b3_p, b3_r, _f1(b3_p, b3_r), pw_p, pw_r, _f1(pw_p, pw_r), n, len(g_size), len(p_size))


def run(
    items: Iterable[Item], params: ClusterParams | None = None, time_free: bool = False
) -> tuple[list[str], list[int], StoryClusterer]:
    """Stream ``items`` through a fresh clusterer; returns gold labels, predicted story ids, the clusterer.

    ``time_free``: every article has the same synthetic time, so the clusterer
    is told the times are not real (``real_times=False``: no weekday dates, no
    time decay); every other parameter keeps its shipped default.
    """
    params = params or ClusterParams()
    if time_free:
        params = dataclasses.replace(params, real_times=False)
    clusterer = StoryClusterer(params=params)
    gold: list[str] = []
    pred: list[int] = []
    next_id = 1
    for item in items:
        now = TIME_FREE if time_free else item.doc.when
        decision = clusterer.assign(item.doc, now)
        sid = decision.story_id
        if sid is None:
            sid, next_id = next_id, next_id + 1
        clusterer.add(item.doc, sid, decision.similarity)
        gold.append(item.gold)
        pred.append(sid)
    return gold, pred, clusterer


def load_ecbplus(path: Path, variant: str, topics: int | None = None) -> list[Item]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if topics is not None:
        keep = sorted({r["topic"] for r in rows})[:topics]
        rows = [r for r in rows if r["topic"] in keep]
    items = []
    for i, r in enumerate(rows, 1):
        title = r["first_sentence"].strip()
        text = r["text"]
        # the text starts with the first sentence: do not count it twice
        body = text.split("\n", 1)[1] if text.startswith(r["first_sentence"].split("\n")[0][:40]) and "\n" in text else text
        if variant == "headline":
            body = ""
        doc = ArticleDoc(article_id=i, source=f"ecb{i}", title=title, text=body, when=TIME_FREE)
        items.append(Item(doc, r["cluster"]))
    return items


def load_events(path: Path, variant: str, events: int | None = None) -> list[Item]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if events is not None:
        keep = set(sorted({r["event"] for r in rows})[:events])
        rows = [r for r in rows if r["event"] in keep]
    rows.sort(key=lambda r: (r["published"], r["id"]))
    items = []
    for i, r in enumerate(rows, 1):
        when = datetime.fromisoformat(r["published"].replace("Z", "+00:00"))
        text = "" if variant == "headline" else r.get("text", "")
        doc = ArticleDoc(article_id=i, source=r["source"], title=r["title"], text=text, when=when)
        items.append(Item(doc, r["event"]))
    return items


def datasets(ecb: Path, events: Path, quick: bool) -> Iterable[tuple[str, str, list[Item], bool]]:
    if ecb.exists():
        for variant in ("full", "headline"):
            yield "ecbplus-dev", variant, load_ecbplus(ecb, variant, topics=6 if quick else None), True
    else:
        print(f"eval: {ecb} not found; skipping ECB+ (pass --data)", file=sys.stderr)
    if events.exists():
        for variant in ("full", "headline"):
            yield "events", variant, load_events(events, variant, events=12 if quick else None), False
    else:
        print(f"eval: {events} not found; skipping our own set (pass --events)", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ECBPLUS, help="ECB+ docs.jsonl (default: %(default)s)")
    ap.add_argument("--events", type=Path, default=EVENTS, help="events.jsonl (default: %(default)s)")
    ap.add_argument("--quick", action="store_true", help="a subset of each dataset (smoke test)")
    ap.add_argument("--errors", action="store_true", help="list wrongly merged and split articles")
    ap.add_argument("--orders", type=int, default=None, metavar="N",
                    help="shuffled orders of ECB+ full text to average over (default 8, 2 with --quick; 0: none)")
    args = ap.parse_args(argv)
    orders = args.orders if args.orders is not None else (2 if args.quick else 8)

    print(f"{'dataset':<12} {'variant':<9} {'mode':<9} {'docs':>5} {'gold':>5} {'pred':>5}"
          f"  {'B3-P':>6} {'B3-R':>6} {'B3-F1':>6}  {'PW-P':>6} {'PW-R':>6} {'PW-F1':>6}")
    for name, variant, items, time_free in datasets(args.data, args.events, args.quick):
        gold, pred, _ = run(items, time_free=time_free)
        s = score(gold, pred)
        mode = "time-free" if time_free else "streamed"
        print(f"{name:<12} {variant:<9} {mode:<9} {s.n_docs:>5} {s.n_gold:>5} {s.n_pred:>5}"
              f"  {s.b3_p:6.3f} {s.b3_r:6.3f} {s.b3_f:6.3f}  {s.pw_p:6.3f} {s.pw_r:6.3f} {s.pw_f:6.3f}")
        if args.errors:
            _print_errors(items, gold, pred)
        if name == "ecbplus-dev" and variant == "full" and orders > 0:
            runs = [score(*run(shuffled, time_free=True)[:2]) for shuffled in _shuffles(items, orders)]
            f1 = [r.b3_f for r in runs]
            mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
            print(f"{name:<12} {variant:<9} {'x' + str(orders) + ' orders':<9} {s.n_docs:>5} {s.n_gold:>5} "
                  f"{round(mean([r.n_pred for r in runs])):>5}  {mean([r.b3_p for r in runs]):6.3f} "
                  f"{mean([r.b3_r for r in runs]):6.3f} {mean(f1):6.3f}  {mean([r.pw_p for r in runs]):6.3f} "
                  f"{mean([r.pw_r for r in runs]):6.3f} {mean([r.pw_f for r in runs]):6.3f}")
            print(f"{'':<12} {'':<9} {'':<9} B3-F1 over the {orders} orders: min {min(f1):.3f}, max {max(f1):.3f}")
    synd = args.events.with_name("events_syndicated.tsv")
    if args.events.exists() and synd.exists():
        print()
        print(f"{'near-duplicates (events)':<32} {'copies':>6} {'found':>6} {'false joins':>11}")
        for name, index in _near_indexes():
            copies, found, false = near_duplicates(args.events, synd, index)
            print(f"{name:<32} {copies:>6} {found:>6} {false:>11}")
    return 0


def _shuffles(items: Sequence[Item], n: int) -> Iterable[list[Item]]:
    """``n`` seeded shuffles of ``items`` (the same ones on every run)."""
    for seed in range(n):
        order = list(items)
        random.Random(seed).shuffle(order)
        yield order


def _near_indexes() -> list[tuple[str, object]]:
    """The shipped index, and datasketch's MinHash LSH for comparison (when installed)."""
    out: list[tuple[str, object]] = [("NearDuplicateIndex (default)", NearDuplicateIndex())]
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        return out

    class MinHashIndex:
        def __init__(self, threshold: float) -> None:
            self.lsh = MinHashLSH(threshold=threshold, num_perm=128)
            self.sketches: dict[str, MinHash] = {}

        def _sketch(self, text: str) -> MinHash:
            m = MinHash(num_perm=128, seed=1)
            m.update_batch([h.to_bytes(4, "little") for h in shingles(text)])
            return m

        def find(self, doc_id: str, text: str, when: datetime) -> tuple[str, float] | None:
            m = self._sketch(text)
            hits = [(m.jaccard(self.sketches[o]), o) for o in self.lsh.query(m)]
            return (max(hits)[1], max(hits)[0]) if hits else None

        def add(self, doc_id: str, text: str, when: datetime) -> None:
            m = self._sketch(text)
            self.lsh.insert(doc_id, m)
            self.sketches[doc_id] = m

    return out + [(f"datasketch MinHashLSH J>={t}", MinHashIndex(t)) for t in (0.8, 0.7, 0.5)]


def near_duplicates(events: Path, syndicated: Path, index) -> tuple[int, int, int]:
    """Stream the events set's texts of 40 words or more; count syndicated copies found and false joins."""
    rows = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if len(r.get("text", "").split()) >= 40]
    rows.sort(key=lambda r: (r["published"], r["id"]))
    original = dict(
        line.split("\t") for line in syndicated.read_text(encoding="utf-8").splitlines()[1:] if line.strip()
    )
    copies = found = false = 0
    for r in rows:
        when = datetime.fromisoformat(r["published"].replace("Z", "+00:00"))
        hit = index.find(r["id"], r["text"], when)
        if r["id"] in original:
            copies += 1
            root = original[r["id"]]
            found += bool(hit and (hit[0] == root or original.get(hit[0]) == root))
        elif hit:
            false += 1
        index.add(r["id"], r["text"], when)
    return copies, found, false


def _print_errors(items: Sequence[Item], gold: Sequence[str], pred: Sequence[int]) -> None:
    by_pred: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(pred):
        by_pred[p].append(i)
    for p, members in by_pred.items():
        labels = Counter(gold[i] for i in members)
        if len(labels) > 1:
            print(f"  MERGED story {p}: {dict(labels)}")
            for i in members:
                print(f"     {gold[i]:<14} {items[i].doc.title[:90]}")
    by_gold: dict[str, set[int]] = defaultdict(set)
    for g, p in zip(gold, pred):
        by_gold[g].add(p)
    for g, ps in by_gold.items():
        if len(ps) > 1:
            sizes = Counter(p for gg, p in zip(gold, pred) if gg == g)
            print(f"  SPLIT {g}: {sorted(sizes.values(), reverse=True)}")


if __name__ == "__main__":
    raise SystemExit(main())
