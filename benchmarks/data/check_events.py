#!/usr/bin/env python3
"""Validate benchmarks/data/events.jsonl (stdlib only).

Checks the schema of every line, that ids are unique and well formed, that
every event has articles from at least two different outlets and never two
from the same outlet, that lengths match their declared class, and prints
per-kind event counts, the length mix, hard-negative statistics and how often
different write-ups of one event share an identical sentence (syndicated
copies excluded, they are listed in events_syndicated.tsv).

Usage:  python3 benchmarks/data/check_events.py [PATH]
Exit status 1 if any check fails.  Written for the monitor project, CC0.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIELDS = ["id", "event", "kind", "source", "url", "published", "title", "text", "length"]
LENGTHS = ("headline", "summary", "full")
ID_RE = re.compile(r"^e\d{3}-a\d{2}$")


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?\"])\s+", text.replace("\n", " "))
    return [p.strip().lower() for p in parts if len(p.split()) >= 8]


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "events.jsonl")
    errors: list[str] = []
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"line {n}: bad JSON ({e})")
                continue
            if list(r) != FIELDS:
                errors.append(f"line {n}: fields {list(r)} != {FIELDS}")
            for k in FIELDS:
                if not isinstance(r.get(k), str):
                    errors.append(f"line {n}: field {k} missing or not a string")
            rows.append(r)
    if not rows:
        print("no rows")
        return 1

    ids = [r["id"] for r in rows]
    dup = [i for i, c in collections.Counter(ids).items() if c > 1]
    if dup:
        errors.append(f"duplicate ids: {dup[:5]}")
    for r in rows:
        if not ID_RE.match(r["id"]):
            errors.append(f"{r['id']}: bad id format")
        if not r["url"].startswith("https://") or ".example/" not in r["url"]:
            errors.append(f"{r['id']}: url not an https .example address")
        try:
            dt.datetime.strptime(r["published"], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            errors.append(f"{r['id']}: published not ISO UTC (YYYY-MM-DDTHH:MM:SSZ)")
        if r["length"] not in LENGTHS:
            errors.append(f"{r['id']}: bad length {r['length']!r}")
        w = len(r["text"].split())
        paras = [p for p in r["text"].split("\n\n") if p.strip()]
        if r["length"] == "headline" and r["text"]:
            errors.append(f"{r['id']}: headline item has text")
        if r["length"] == "summary" and not (1 <= w <= 90):
            errors.append(f"{r['id']}: summary has {w} words")
        if r["length"] == "full" and not (120 <= w <= 500 and 3 <= len(paras) <= 8):
            errors.append(f"{r['id']}: full item has {w} words / {len(paras)} paragraphs")
        if not r["title"].strip():
            errors.append(f"{r['id']}: empty title")

    by_event: dict[str, list[dict]] = collections.defaultdict(list)
    for r in rows:
        by_event[r["event"]].append(r)
    kind_of = {}
    for ev, arts in by_event.items():
        kinds = {a["kind"] for a in arts}
        if len(kinds) != 1:
            errors.append(f"{ev}: several kinds {kinds}")
        kind_of[ev] = arts[0]["kind"]
        prefixes = {a["id"].split("-")[0] for a in arts}
        if len(prefixes) != 1:
            errors.append(f"{ev}: articles carry different id prefixes {prefixes}")
        srcs = [a["source"] for a in arts]
        if len(set(srcs)) < 2:
            errors.append(f"{ev}: fewer than 2 sources")
        if len(set(srcs)) != len(srcs):
            errors.append(f"{ev}: an outlet appears twice")
        if not 4 <= len(arts) <= 12:
            errors.append(f"{ev}: {len(arts)} articles (want 4-12)")
        titles = [a["title"].lower() for a in arts]
        if len(set(titles)) != len(titles):
            errors.append(f"{ev}: duplicate headline within event")

    # syndicated copies (excluded from the wording-overlap check)
    synd = set()
    spath = os.path.join(os.path.dirname(os.path.abspath(path)), "events_syndicated.tsv")
    if os.path.exists(spath):
        with open(spath, encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                c, o = line.strip().split("\t")
                synd.add(c)

    # shared identical sentences between different (non-syndicated) write-ups of one event
    pairs = shared = 0
    for ev, arts in by_event.items():
        texts = [(a["id"], set(sentences(a["text"]))) for a in arts if a["text"] and a["id"] not in synd]
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                pairs += 1
                if texts[i][1] & texts[j][1]:
                    shared += 1

    # report
    n_art, n_ev = len(rows), len(by_event)
    kinds = collections.Counter(kind_of.values())
    lens = collections.Counter(r["length"] for r in rows)
    print(f"articles: {n_art}   events: {n_ev}   kinds: {len(kinds)}   outlets: {len({r['source'] for r in rows})}")
    print("length mix: " + ", ".join(f"{L} {lens[L]} ({100 * lens[L] / n_art:.0f}%)" for L in LENGTHS))
    fw = sorted(len(r["text"].split()) for r in rows if r["length"] == "full")
    if fw:
        print(f"full-text words: min {fw[0]}, median {fw[len(fw) // 2]}, max {fw[-1]}")
    sizes = collections.Counter(len(a) for a in by_event.values())
    print("articles per event: " + ", ".join(f"{k}:{sizes[k]}" for k in sorted(sizes)))
    pub = sorted(r["published"] for r in rows)
    print(f"published: {pub[0]} .. {pub[-1]}")
    print(f"syndicated copies: {len(synd)}")
    print(f"non-syndicated same-event text pairs sharing an identical sentence (>=8 words): "
          f"{shared}/{pairs} ({100 * shared / max(1, pairs):.1f}%)")
    print("\nevents per kind:")
    for k, c in sorted(kinds.items(), key=lambda x: (-x[1], x[0])):
        print(f"  {k:22s} {c}")
    hn = sum(c for c in kinds.values() if c >= 2)
    print(f"events in a kind shared with another event (hard negatives): {hn}/{n_ev}")
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors[:50]:
            print("  " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
