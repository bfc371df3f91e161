"""The raw records both feed readers produce, and the fast lxml reader.

:mod:`monitor.parse` reads a feed in two steps: a *reader* extracts the raw
fields (``RawFeed`` / ``RawEntry``), then one normaliser turns them into
:class:`monitor.records.ParsedFeed`.  Two readers exist:

* feedparser (in :mod:`monitor.parse`), which reads anything, broken or not;
* :func:`read_fast` here, an lxml reader for *well-formed, plain* RSS 2.0 and
  Atom 1.0, measured about 4x faster than feedparser on the same feed (see
  ``benchmarks/parse_speed.py``).

The fast reader must give exactly what feedparser gives for the feeds it
accepts, so it mirrors feedparser 6's field rules (which element wins, how
text is cleaned, which link counts) and returns ``None`` -- "use feedparser"
-- for anything it is not sure of: a DOCTYPE, ``xml:base``, an element it
does not know, a repeated field, markup inside a text field, an unusual
content type.  ``tests/test_parse_differential.py`` runs both readers over
every fixture and seed feed and compares the results.

lxml is configured for hostile input: no entity resolution, no network, no
DTD loading, libxml2's default size limits (``huge_tree=False``).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from feedparser.datetimes import _parse_date as feedparser_parse_date
from feedparser.mixin import _FeedParserMixin
from lxml import etree

__all__ = ["RawEntry", "RawFeed", "RawText", "map_content_type", "read_fast"]


# ----------------------------------------------------------------- raw records


@dataclass(frozen=True, slots=True)
class RawText:
    """A text field as the feed gave it: HTML source or plain text."""

    value: str
    html: bool


@dataclass(slots=True)
class RawEntry:
    """One entry's fields before normalisation (built by a reader)."""

    guid: str | None = None  # RSS guid / Atom id / JSON Feed id
    link: str | None = None  # as written: may be relative, empty or hostile
    title: RawText | None = None
    summary: RawText | None = None  # the feed's own summary element, if any
    contents: list[RawText] = field(default_factory=list)
    author: str | None = None
    published: time.struct_time | None = None  # UTC, not yet checked for sanity
    updated: time.struct_time | None = None
    language: str | None = None


@dataclass(slots=True)
class RawFeed:
    """A feed's fields before normalisation."""

    format: str  # feedparser's version names: "rss20", "atom10", ...; "json11"
    title: RawText | None = None
    link: str | None = None
    ttl: str | None = None  # RSS <ttl>, minutes, as written
    language: str | None = None
    entries: list[RawEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # entries the reader could not read (each has a warning)


# ------------------------------------------------------- feedparser's text rules


_looks_like_html = _FeedParserMixin.looks_like_html

# feedparser maps the C1 range to the Windows-1252 characters publishers meant.
_CP1252 = {i: bytes([i]).decode("cp1252") for i in range(0x80, 0xA0) if i not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}

# feedparser's _urljoin: "http:///x" -> "http://x" (applied to links and ids).
_URI_FIXER = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")
_LINK_ENTITY_FIX = re.compile(r"&([A-Za-z0-9_]+);")


def _text(value: str) -> str:
    """What feedparser's ``pop()`` does to every element's text."""
    value = value.strip()
    # UTF-8 that was mis-decoded as ISO-8859-1 and re-encoded (mixin.pop)
    try:
        value = value.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    return value.translate(_CP1252)


def _uri(value: str) -> str:
    return _URI_FIXER.sub(r"\1\3", value) if value else value


def _entry_link_text(value: str) -> str:
    # mixin.pop: "?a=1&b=2" mangled into "&b;=2" by old encoders is repaired.
    return _LINK_ENTITY_FIX.sub(r"&\g<1>", value.replace("&amp;", "&"))


def map_content_type(value: str) -> str:
    """feedparser's names for content types: "html" -> "text/html"..."""
    value = value.lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}.get(
        value, value
    )


# ------------------------------------------------------------------ the reader


class _Unsupported(Exception):
    """Something the fast reader does not handle: use feedparser."""


def _bail(why: str) -> None:
    raise _Unsupported(why)


_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parsers must not be shared between threads (lxml FAQ, "threading").
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            recover=False,
            remove_comments=True,
            remove_pis=True,
        )
    return parser


XML_NS = "http://www.w3.org/XML/1998/namespace"
ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
SY = "http://purl.org/rss/1.0/modules/syndication/"
WFW = "http://wellformedweb.org/CommentAPI/"
SLASH = "http://purl.org/rss/1.0/modules/slash/"
THR = "http://purl.org/syndication/thread/1.0"
GEORSS = "http://www.georss.org/georss"
FEEDBURNER = "http://rssnamespace.org/feedburner/ext/1.0"

_XML_LANG = f"{{{XML_NS}}}lang"


def _q(ns: str, *names: str) -> set[str]:
    return {f"{{{ns}}}{n}" for n in names}


# Elements feedparser stores under keys monitor never reads (categories,
# enclosures, comment counts, media thumbnails, podcast details...).  Any
# element *not* listed -- media:title, itunes:summary, dc:title... which
# feedparser maps onto title/summary/author -- sends the feed to feedparser.
_MEDIA_HARMLESS = _q(MEDIA, "content", "thumbnail", "credit", "rating", "category", "keywords", "copyright",
                     "group", "player", "hash", "restriction", "license")  # fmt: skip
_ITUNES_HARMLESS = _q(ITUNES, "duration", "explicit", "image", "episode", "season", "episodeType", "keywords",
                      "block", "order", "isClosedCaptioned", "title", "subtitle")  # fmt: skip
_CHANNEL_HARMLESS = (
    {"description", "pubDate", "lastBuildDate", "generator", "docs", "copyright", "managingEditor", "webMaster",
     "category", "cloud", "rating", "skipHours", "skipDays", "image", "textInput"}
    | _q(SY, "updatePeriod", "updateFrequency", "updateBase")
    | _q(ITUNES, "author", "summary", "subtitle", "owner", "image", "category", "explicit", "type", "keywords",
         "block", "complete", "new-feed-url")
    | _q(DC, "creator", "publisher", "rights", "date", "subject")
    | _q(MEDIA, "thumbnail", "copyright", "rating", "keywords", "category", "credit")
)  # fmt: skip
_ITEM_HARMLESS = (
    {"category", "comments", "enclosure", "source"}
    | _q(WFW, "commentRss", "comment")
    | _q(SLASH, "comments")
    | _q(DC, "subject")
    | _q(FEEDBURNER, "origLink", "origEnclosureLink")
    | _q(GEORSS, "point", "line", "polygon", "box")
    | _MEDIA_HARMLESS
    | _ITUNES_HARMLESS
)  # fmt: skip
_ENTRY_HARMLESS = (
    _q(ATOM, "category", "rights")
    | _q(THR, "total", "in-reply-to")
    | _q(GEORSS, "point", "line", "polygon", "box")
    | _MEDIA_HARMLESS
)
_FEED_HARMLESS = _q(ATOM, "id", "updated", "subtitle", "rights", "generator", "icon", "logo", "category", "author",
                    "contributor") | _q(SY, "updatePeriod", "updateFrequency", "updateBase")  # fmt: skip
_PERSON_PARTS = _q(ATOM, "name", "email", "uri")


def read_fast(data: bytes) -> RawFeed | None:
    """Read a well-formed, plain RSS 2.0 or Atom 1.0 document (UTF-8 bytes),
    or return ``None`` when feedparser should read it instead."""
    if b"xml:base" in data:  # feedparser resolves links and ids against it
        return None
    try:
        root = etree.fromstring(data, _parser())
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.getroottree().docinfo.doctype:  # e.g. Netscape's RSS 0.91 DTD: feedparser's version rules
        return None
    try:
        if root.tag == "rss":
            return _read_rss(root)
        if root.tag == f"{{{ATOM}}}feed":
            return _read_atom(root)
    except _Unsupported:
        return None
    return None


def _leaf_text(el: etree._Element, allowed_attrs: frozenset[str] = frozenset()) -> str:
    """The text of an element that must hold text only."""
    if len(el):
        _bail(f"markup inside <{el.tag}>")
    for name in el.attrib:
        if name not in allowed_attrs:
            _bail(f"attribute {name} on <{el.tag}>")
    return el.text or ""


def _check_subtree(el: etree._Element, allowed: set[str]) -> None:
    for sub in el.iterdescendants():
        if sub.tag not in allowed:
            _bail(f"<{sub.tag}> inside <{el.tag}>")


def _once(seen: set[str], tag: str) -> None:
    if tag in seen:
        _bail(f"repeated <{tag}>")
    seen.add(tag)


def _root_language(root: etree._Element) -> str | None:
    # feedparser takes xml:lang (or lang) on the root element, "_" -> "-".
    lang = root.get(_XML_LANG, root.get("lang"))
    return lang.replace("_", "-") if lang else None


# -------------------------------------------------------------------- RSS 2.0


_RSS_LEAF = {"title", "link", "description", "pubDate", "author", f"{{{CONTENT}}}encoded", f"{{{DC}}}creator",
             f"{{{DC}}}date", f"{{{ATOM}}}updated", f"{{{ITUNES}}}author"}  # fmt: skip
_AUTHOR_TAGS = {"author", f"{{{DC}}}creator", f"{{{ITUNES}}}author"}
_UPDATED_TAGS = {f"{{{DC}}}date", f"{{{ATOM}}}updated"}  # both are "updated" to feedparser


def _read_rss(root: etree._Element) -> RawFeed:
    if root.get("version") != "2.0":
        _bail("not RSS 2.0")
    channels = [c for c in root if c.tag == "channel"]
    if len(channels) != 1 or len(root) != 1:
        _bail("not exactly one <channel>")
    (channel,) = channels
    feed = RawFeed(format="rss20", language=_root_language(root))
    seen: set[str] = set()
    for child in channel:
        tag = child.tag
        if tag == "item":
            feed.entries.append(_read_item(child))
        elif tag == "title":
            _once(seen, tag)
            value = _text(_leaf_text(child))
            feed.title = RawText(value, _looks_like_html(value))
        elif tag == "link":
            _once(seen, tag)
            feed.link = _LINK_ENTITY_FIX.sub(r"&\g<1>", _text(_uri(_leaf_text(child).strip())))
        elif tag == "ttl":
            _once(seen, tag)
            feed.ttl = _text(_leaf_text(child))
        elif tag in ("language", f"{{{DC}}}language"):
            _once(seen, "language")
            feed.language = _text(_leaf_text(child))
        elif tag == f"{{{ATOM}}}link":
            # <atom:link rel="self"> is everywhere; only a rel="alternate"
            # link would change the feed's link in feedparser.
            rel = child.get("rel")
            if not rel or rel.lower() == "alternate" or len(child):
                _bail("atom:link alternate in channel")
        elif tag not in _CHANNEL_HARMLESS:
            _bail(f"<{tag}> in channel")
    return feed


def _read_item(item: etree._Element) -> RawEntry:
    if item.attrib:
        _bail("attributes on <item>")
    entry = RawEntry()
    seen: set[str] = set()
    guid_text: str | None = None
    guid_is_link = False
    link_text: str | None = None
    for child in item:
        tag = child.tag
        if tag in _RSS_LEAF:
            _once(seen, "author" if tag in _AUTHOR_TAGS else "updated" if tag in _UPDATED_TAGS else tag)
            value = _leaf_text(child)
            if tag == "title":
                value = _text(value)
                entry.title = RawText(value, _looks_like_html(value))
            elif tag == "link":
                link_text = _entry_link_text(_text(_uri(value.strip())))
            elif tag == "description":
                entry.summary = RawText(_text(value), True)
            elif tag == f"{{{CONTENT}}}encoded":
                entry.contents.append(RawText(_text(value), True))
            elif tag == "pubDate":
                entry.published = feedparser_parse_date(_text(value))
            elif tag in _UPDATED_TAGS:
                entry.updated = feedparser_parse_date(_text(value))
            else:  # an author element
                entry.author = _text(value) or None
        elif tag == "guid":
            _once(seen, tag)
            attrs = {name.lower(): v for name, v in child.attrib.items()}
            if len(child) or set(attrs) - {"ispermalink"}:
                _bail("unusual <guid>")
            guid_is_link = attrs.get("ispermalink", "true") == "true"
            raw = child.text or ""
            guid_text = _text(_uri(raw.strip()) if guid_is_link else raw)
        elif tag == f"{{{ATOM}}}link":
            rel = child.get("rel")
            if not rel or rel.lower() == "alternate" or len(child):
                _bail("atom:link alternate in item")
        elif tag in _ITEM_HARMLESS:
            _check_subtree(child, _MEDIA_HARMLESS)
        else:
            _bail(f"<{tag}> in item")
    entry.guid = guid_text
    # A <link> element wins; otherwise a permalink guid is the link (RSS 2.0).
    if link_text is not None:
        entry.link = link_text
    elif guid_is_link and guid_text is not None:
        entry.link = guid_text
    return entry


# ------------------------------------------------------------------- Atom 1.0


_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _atom_text(el: etree._Element) -> RawText:
    ctype = map_content_type(el.get("type", "text"))
    if ctype not in ("text/plain", "text/html"):
        _bail(f"<{el.tag}> of type {ctype}")
    return RawText(_text(_leaf_text(el, frozenset({"type"}))), ctype == "text/html")


def _atom_link(el: etree._Element) -> str | None:
    """The href if this link is the one feedparser would call *the* link."""
    if len(el):
        _bail("markup inside <link>")
    href = el.get("href")
    if href is None or el.get("base") is not None:
        _bail("<link> without href, or with a base")
    rel = (el.get("rel") or "alternate").lower()
    ctype = (el.get("type") or ("application/atom+xml" if rel == "self" else "text/html")).lower()
    if rel == "alternate" and map_content_type(ctype) in _HTML_TYPES:
        return _uri(href)
    return None


def _read_atom(root: etree._Element) -> RawFeed:
    feed = RawFeed(format="atom10", language=_root_language(root))
    seen: set[str] = set()
    for child in root:
        tag = child.tag
        if tag == f"{{{ATOM}}}entry":
            feed.entries.append(_read_entry(child))
        elif tag == f"{{{ATOM}}}title":
            _once(seen, tag)
            feed.title = _atom_text(child)
        elif tag == f"{{{ATOM}}}link":
            href = _atom_link(child)
            if href is not None:
                feed.link = href
        elif tag not in _FEED_HARMLESS:
            _bail(f"<{tag}> in feed")
        elif tag in (f"{{{ATOM}}}author", f"{{{ATOM}}}contributor"):
            _check_subtree(child, _PERSON_PARTS)
    return feed


def _read_entry(el: etree._Element) -> RawEntry:
    for name in el.attrib:
        if name != _XML_LANG:
            _bail(f"attribute {name} on <entry>")
    entry = RawEntry()
    seen: set[str] = set()
    link: str | None = None
    for child in el:
        tag = child.tag
        if tag == f"{{{ATOM}}}title":
            _once(seen, tag)
            entry.title = _atom_text(child)
        elif tag == f"{{{ATOM}}}summary":
            _once(seen, tag)
            entry.summary = _atom_text(child)
        elif tag == f"{{{ATOM}}}content":
            _once(seen, tag)
            if child.get("src") is not None or child.get("mode") is not None:
                _bail("<content> with src or mode")
            entry.contents.append(_atom_text(child))
        elif tag == f"{{{ATOM}}}id":
            _once(seen, tag)
            entry.guid = _text(_uri(_leaf_text(child).strip()))
        elif tag == f"{{{ATOM}}}link":
            href = _atom_link(child)
            if href is not None:
                link = href
        elif tag == f"{{{ATOM}}}published":
            _once(seen, tag)
            entry.published = feedparser_parse_date(_text(_leaf_text(child)))
        elif tag == f"{{{ATOM}}}updated":
            _once(seen, tag)
            entry.updated = feedparser_parse_date(_text(_leaf_text(child)))
        elif tag == f"{{{ATOM}}}author":
            _once(seen, tag)
            entry.author = _atom_person(child)
        elif tag == f"{{{ATOM}}}contributor":
            _check_subtree(child, _PERSON_PARTS)
        elif tag in _ENTRY_HARMLESS:
            _check_subtree(child, _MEDIA_HARMLESS)
        else:
            _bail(f"<{tag}> in entry")
    # feedparser's entry "link" comes from a <link> element only; an <id> is
    # not a link in Atom (RFC 4287 section 4.2.6: an IRI, not a locator).
    entry.link = link
    return entry


def _atom_person(el: etree._Element) -> str | None:
    parts: dict[str, str] = {}
    for child in el:
        if child.tag not in _PERSON_PARTS or child.tag in parts:
            _bail("unusual <author>")
        # feedparser pushes name/email with expecting_text=0: stripped only
        parts[child.tag] = _leaf_text(child).strip()
    name = parts.get(f"{{{ATOM}}}name")
    email = parts.get(f"{{{ATOM}}}email")
    # feedparser's _sync_author_detail: "name (email)", else whichever exists.
    if name and email:
        return f"{name} ({email})"
    return name or email or None
