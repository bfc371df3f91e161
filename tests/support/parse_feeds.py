"""Random RSS 2.0 and Atom 1.0 documents for differential tests of the two
feed readers (``monitor.parse_fast`` against feedparser).

Each document is well-formed and built from the awkward pieces real feeds
contain: HTML-looking titles, CDATA, entities, mojibake, relative and hostile
links, repeated guids, odd dates, namespaced extras, attribute spellings.
Deterministic for a seed.
"""

from __future__ import annotations

import random
from xml.sax.saxutils import escape, quoteattr

TEXTS = (
    "Plain words", "AT&T & co", "a < b > c", "<b>bold</b> text", "&lt;i&gt;esc&lt;/i&gt;",
    "Café ’quote’", "Ã©mojibake", "  spaced\n  out  ", "", "x\u0085y", "<p>para</p><p>two</p>",
    "&amp;amp;", "tab\there", "<![CDATA[<em>c</em> & d]]>", "<script>x</script>text",
    "http://x.example/a?b=1&amp;c=2", "&#8217;s", "&#x41;", "Ünï", "\u202eevil",
)  # fmt: skip
LINKS = (
    "https://a.example/1", "/rel", "rel2", "javascript:alert(1)", "http:///x.example/y",
    " https://a.example/sp ace ", "", "https://a.example/q?a=1&amp;b=2", "https://a.example/q?a=1&amp;amp;b=2",
    "mailto:x@y",
)  # fmt: skip
DATES = (
    "Sat, 01 Jun 2024 09:30:00 +0200", "2024-05-30T10:00:00Z", "garbage", "", "Mon, 01 Jan 2099 00:00:00 GMT",
    "2024-05-30", "Fri, 31 May 2024 23:00:00 EST",
)  # fmt: skip
GUIDS = ("g1", "g2", "g1", "https://a.example/g", " spaced ", "", "/relguid")

RSS_NAMESPACES = (
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
)


def _text(rng: random.Random) -> str:
    s = rng.choice(TEXTS)
    return s if s.startswith("<![CDATA[") else escape(s)


def _rss_item(rng: random.Random) -> str:
    parts = []
    options = ["title", "link", "guid", "description", "content", "pubDate", "dc:creator", "dc:date", "author",
               "category", "enclosure", "media", "atom:link", "atom:updated", "comments", "itunes:author", "source"]  # fmt: skip
    for o in rng.sample(options, rng.randint(0, len(options))):
        if o in ("title", "description", "dc:creator", "itunes:author", "category"):
            parts.append(f"<{o}>{_text(rng)}</{o}>")
        elif o == "content":
            parts.append(f"<content:encoded>{_text(rng)}</content:encoded>")
        elif o == "link":
            parts.append(f"<link>{escape(rng.choice(LINKS))}</link>")
        elif o == "guid":
            attr = rng.choice(["", ' isPermaLink="false"', ' isPermaLink="true"', ' isPermaLink="True"'])
            parts.append(f"<guid{attr}>{escape(rng.choice(GUIDS + LINKS))}</guid>")
        elif o in ("pubDate", "dc:date", "atom:updated"):
            parts.append(f"<{o}>{rng.choice(DATES)}</{o}>")
        elif o == "author":
            parts.append(f"<author>{rng.choice(['jo@x.example (Jo)', 'Jo', 'x@y.z'])}</author>")
        elif o == "enclosure":
            parts.append('<enclosure url="https://a.example/e.mp3" type="audio/mpeg" length="1"/>')
        elif o == "media":
            parts.append(
                rng.choice(
                    [
                        '<media:thumbnail url="https://a.example/t.jpg"/>',
                        '<media:content url="https://a.example/v.mp4"><media:title>mt</media:title></media:content>',
                        '<media:content url="https://a.example/v.mp4"/>',
                    ]
                )
            )
        elif o == "atom:link":
            parts.append(
                rng.choice(
                    [
                        '<atom:link rel="self" href="https://a.example/s"/>',
                        '<atom:link href="https://a.example/alt"/>',
                        '<atom:link rel="replies" href="https://a.example/r"/>',
                    ]
                )
            )
        elif o == "comments":
            parts.append("<comments>https://a.example/c</comments>")
        elif o == "source":
            parts.append('<source url="https://src.example/feed">Source &amp; Co</source>')
    return "<item>" + "".join(parts) + "</item>"


def random_rss(rng: random.Random) -> bytes:
    channel = [f"<title>{_text(rng)}</title>"] if rng.random() < 0.9 else []
    if rng.random() < 0.8:
        channel.append(f"<link>{escape(rng.choice(LINKS))}</link>")
    if rng.random() < 0.3:
        channel.append(f"<ttl>{rng.choice(['30', 'x', '0', '-5', ' 60 '])}</ttl>")
    if rng.random() < 0.3:
        channel.append(f"<language>{rng.choice(['en', 'fr-FR', ''])}</language>")
    if rng.random() < 0.3:
        channel.append("<image><title>img</title><url>https://a.example/i.png</url><link>https://a.example/l</link></image>")
    if rng.random() < 0.3:
        channel.append('<atom:link rel="self" href="https://a.example/feed"/>')
    rng.shuffle(channel)
    items = [_rss_item(rng) for _ in range(rng.randint(0, 6))]
    pos = rng.randint(0, len(channel))
    body = "".join(channel[:pos]) + "".join(items) + "".join(channel[pos:])
    lang = rng.choice(["", ' xml:lang="de"'])
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{lang} {RSS_NAMESPACES}>'
        f"<channel>{body}</channel></rss>"
    ).encode()


def _atom_text(rng: random.Random, tag: str) -> str:
    kind = rng.choice(["", ' type="text"', ' type="html"', ' type="HTML"', ' type="text/plain"', ' type="text/html"'])
    return f"<{tag}{kind}>{_text(rng)}</{tag}>"


def _atom_entry(rng: random.Random) -> str:
    parts = []
    options = ["title", "link", "link2", "id", "summary", "content", "published", "updated", "author", "category",
               "contributor"]  # fmt: skip
    for o in rng.sample(options, rng.randint(0, len(options))):
        if o in ("title", "summary", "content"):
            parts.append(_atom_text(rng, o))
        elif o in ("link", "link2"):
            rel = rng.choice(["", ' rel="alternate"', ' rel="enclosure"', ' rel="self"', ' rel="ALTERNATE"'])
            kind = rng.choice(
                ["", ' type="text/html"', ' type="application/pdf"', ' type="TEXT/HTML"', ' type="html"', ' type="xhtml"']
            )
            parts.append(f"<link{rel}{kind} href={quoteattr(rng.choice(LINKS))}/>")
        elif o == "id":
            parts.append(f"<id>{escape(rng.choice(GUIDS + LINKS))}</id>")
        elif o in ("published", "updated"):
            parts.append(f"<{o}>{rng.choice(DATES)}</{o}>")
        elif o == "author":
            parts.append(
                rng.choice(
                    [
                        "<author><name>N</name></author>",
                        "<author><name>N</name><email>n@x.example</email></author>",
                        "<author><email>n@x.example</email></author>",
                        f"<author><name>{_text(rng)}</name><uri>https://x.example</uri></author>",
                    ]
                )
            )
        elif o == "category":
            parts.append('<category term="c"/>')
        elif o == "contributor":
            parts.append("<contributor><name>C</name></contributor>")
    return "<entry>" + "".join(parts) + "</entry>"


def random_atom(rng: random.Random) -> bytes:
    head = [_atom_text(rng, "title")] if rng.random() < 0.9 else []
    for _ in range(rng.randint(0, 2)):
        rel = rng.choice(["", ' rel="alternate"', ' rel="self"'])
        head.append(f"<link{rel} href={quoteattr(rng.choice(LINKS))}/>")
    if rng.random() < 0.5:
        head.append("<author><name>Feed author</name></author>")
    head.append("<id>urn:f</id><updated>2024-06-01T00:00:00Z</updated>")
    entries = [_atom_entry(rng) for _ in range(rng.randint(0, 6))]
    lang = rng.choice(["", ' xml:lang="de"', ' xml:lang="en_US"'])
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{lang}>'
        + "".join(head)
        + "".join(entries)
        + "</feed>"
    ).encode()


def random_feed(seed: int) -> bytes:
    """An RSS 2.0 document for odd seeds, Atom 1.0 for even ones."""
    rng = random.Random(seed)
    return random_rss(rng) if seed % 2 else random_atom(rng)
