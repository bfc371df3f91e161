"""How fast is monitor.parse, against bare feedparser?

Usage::

    python -m benchmarks.parse_speed            # 50 entries, 1-3 KB HTML each
    python -m benchmarks.parse_speed --entries 200 --repeat 20

Runs on a synthetic but realistic feed (RSS 2.0 with content:encoded and
dc:creator, and the same entries as Atom 1.0): paragraphs, links, images,
entities, CDATA, the usual item furniture (categories, enclosure, comments).
Each variant parses the same bytes; the best of ``--repeat`` runs is shown,
in milliseconds per feed:

* ``feedparser defaults``     -- ``feedparser.parse(BytesIO(body))``
* ``feedparser, no sanitise`` -- with ``sanitize_html=False, resolve_relative_uris=False``
* ``parse_feed, feedparser``  -- ``parse_feed(..., fast=False)``: our whole job
  (decode, defences, normalise, nh3) on the feedparser reader
* ``parse_feed, fast path``   -- ``parse_feed(...)``: the lxml reader
"""

from __future__ import annotations

import argparse
import io
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

import feedparser

from monitor.parse import parse_feed

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

_WORDS = (
    "government minister said council city police report officials week attack talks "
    "election market prices water power border troops agreement statement residents "
    "hospital school road bridge rain flood court judge ruling protest union strike"
).split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 20))]
    return " ".join(words).capitalize() + "."


def _html_body(rng: random.Random, i: int, size: int) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < size:
        kind = rng.random()
        if kind < 0.15:
            parts.append(f'<p><a href="https://news.example.com/topic/{rng.randint(1, 999)}">{_sentence(rng)}</a></p>')
        elif kind < 0.25:
            parts.append(
                f'<figure><img src="/img/{i}-{len(parts)}.jpg" alt="photo" width="640" height="360">'
                f"<figcaption>{_sentence(rng)}</figcaption></figure>"
            )
        elif kind < 0.3:
            parts.append(f"<blockquote><p>&ldquo;{_sentence(rng)}&rdquo; &mdash; official</p></blockquote>")
        else:
            parts.append(f"<p>{_sentence(rng)} <strong>{_sentence(rng)}</strong> {_sentence(rng)} &amp; more.</p>")
    return "".join(parts)


def synthetic_feed(kind: str = "rss", entries: int = 50, seed: int = 1) -> bytes:
    """A realistic feed of *entries* items with 1-3 KB of HTML each.

    *kind* is ``"rss"`` (RSS 2.0) or ``"atom"`` (Atom 1.0).  Deterministic
    for a given seed.
    """
    rng = random.Random(seed)
    items = []
    for i in range(entries):
        title = _sentence(rng)[:90]
        link = f"https://news.example.com/2024/06/{i:04d}-{title.split()[0].lower()}"
        when = NOW - timedelta(minutes=37 * i)
        body = _html_body(rng, i, rng.randint(1000, 3000))
        lead = _sentence(rng)
        if kind == "rss":
            items.append(
                f"<item><title>{escape(title)}</title><link>{link}</link>"
                f'<guid isPermaLink="false">urn:news:{seed}:{i}</guid>'
                f"<pubDate>{format_datetime(when)}</pubDate><dc:creator>Reporter {i % 7}</dc:creator>"
                f"<category>World</category><category>Politics</category>"
                f"<description>{escape(lead)}</description>"
                f"<content:encoded><![CDATA[{body}]]></content:encoded>"
                f'<enclosure url="https://cdn.example.com/{i}.jpg" length="1000" type="image/jpeg"/>'
                f"<comments>{link}#comments</comments></item>"
            )
        else:
            items.append(
                f"<entry><title>{escape(title)}</title>"
                f'<link rel="alternate" type="text/html" href="{link}"/><id>urn:news:{seed}:{i}</id>'
                f"<published>{when.isoformat()}</published><updated>{when.isoformat()}</updated>"
                f"<author><name>Reporter {i % 7}</name></author>"
                f'<category term="World"/><summary>{escape(lead)}</summary>'
                f'<content type="html">{escape(body)}</content></entry>'
            )
    if kind == "rss":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">'
            "<channel><title>Example News</title><link>https://news.example.com/</link>"
            '<atom:link href="https://news.example.com/feed" rel="self" type="application/rss+xml"/>'
            "<description>All the news</description><language>en-gb</language><ttl>15</ttl>"
            + "".join(items)
            + "</channel></rss>"
        ).encode()
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
        '<title>Example News</title><link href="https://news.example.com/"/><id>urn:news</id>'
        f"<updated>{NOW.isoformat()}</updated>" + "".join(items) + "</feed>"
    ).encode()


def _best_ms(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args(argv)
    url = "https://news.example.com/feed"
    headers = {"content-type": "application/rss+xml; charset=utf-8"}
    for kind in ("rss", "atom"):
        body = synthetic_feed(kind, args.entries)
        parsed = parse_feed(body, url=url, headers=headers, now=NOW)
        assert len(parsed.entries) == args.entries
        variants = {
            "feedparser defaults": lambda: feedparser.parse(io.BytesIO(body), response_headers=headers),
            "feedparser, no sanitise": lambda: feedparser.parse(
                io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
            ),
            "parse_feed, feedparser": lambda: parse_feed(body, url=url, headers=headers, now=NOW, fast=False),
            "parse_feed, fast path": lambda: parse_feed(body, url=url, headers=headers, now=NOW),
        }
        print(f"{kind}: {args.entries} entries, {len(body) / 1024:.0f} KB")
        base = None
        for name, fn in variants.items():
            ms = _best_ms(fn, args.repeat)
            base = base or ms
            print(f"  {name:<26} {ms:8.1f} ms   {base / ms:5.1f}x")


if __name__ == "__main__":
    main()
