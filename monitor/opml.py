"""OPML import and export (pure)."""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from lxml import etree

from .errors import ConfigError


def read_opml(data: bytes, *, source: str = "<opml>") -> list[tuple[str, str, tuple[str, ...]]]:
    """(name, url, tags) for every outline with an xmlUrl; tags are the
    enclosing folder titles.  Entities are never resolved (hostile files)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise ConfigError(f"opml: {source}: not valid XML: {e}") from e
    out: list[tuple[str, str, tuple[str, ...]]] = []
    seen: set[str] = set()

    def walk(node, tags: tuple[str, ...]) -> None:
        for child in node:
            if not isinstance(child.tag, str) or child.tag.lower() != "outline":
                continue
            url = child.get("xmlUrl") or child.get("xmlurl")
            title = (child.get("title") or child.get("text") or "").strip()
            if url:
                name = _unique(_slug(title) or _slug(url), seen)
                out.append((name, url.strip(), tags))
            walk(child, tags + ((title,) if title and not url else ()))

    body = root.find("body")
    if body is None:
        raise ConfigError(f"opml: {source}: no <body> element; is this an OPML file?")
    walk(body, ())
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")[:60]


def _unique(name: str, seen: set[str]) -> str:
    base, i = name or "feed", 2
    while name in seen or not name:
        name, i = f"{base}-{i}", i + 1
    seen.add(name)
    return name


def write_opml(feeds: list[tuple[str, str, tuple[str, ...]]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             "  <head><title>monitor feeds</title></head>", "  <body>"]
    for name, url, tags in feeds:
        cat = f" category={quoteattr(','.join(tags))}" if tags else ""
        lines.append(f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} '
                     f"xmlUrl={quoteattr(url)}{cat}/>")
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines)
