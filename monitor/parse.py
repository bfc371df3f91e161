"""Feed bytes + response headers -> :class:`monitor.records.ParsedFeed` (pure).

Stages of :func:`parse_feed`, in order:

1. **Limits** -- a body over ``max_body_bytes`` is refused before any parsing.
2. **JSON Feed** (1.0/1.1) -- detected by ``{`` or a JSON content type, read
   with :mod:`json` (feedparser cannot read it).
3. **XML preparation** (:func:`_prepare_xml`) -- decode to UTF-8 the way
   feedparser would (RFC 7303 charset rules), then the hostile-input
   defences: entity declarations are refused, NUL and other control bytes
   removed, invalid character references (``&#0;``, ``&#xD800;``) replaced,
   and a body with far too many entries or tags refused (this bounds parse
   time: see ``HARD_ENTRY_FACTOR`` and ``TAGS_PER_ENTRY``).
4. **Read** -- the fast lxml reader (:mod:`monitor.parse_fast`) for plain
   well-formed RSS 2.0/Atom 1.0, else feedparser (every format, broken XML).
   Both produce the same raw records.
5. **Normalise** (:func:`_normalise`) -- one code path for every reader:
   stable entry keys, sane UTC dates, plain text for matching, nh3-sanitised
   HTML, safe absolute links, bounded field lengths.  One bad entry is
   skipped with a warning; it never sinks the feed.

feedparser is always given an in-memory stream, never a string: given a
string it may open a file or fetch a URL itself.  Its own sanitiser and URI
resolver are turned off (``sanitize_html=False, resolve_relative_uris=False``
is 2.7-3.2x faster, measured with ``python -m benchmarks.parse_speed``);
:mod:`monitor.sanitize` does that job with nh3.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import json
import re
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import feedparser
from feedparser.datetimes import _parse_date as feedparser_parse_date
from feedparser.encodings import convert_to_utf8

from monitor.errors import ParseError
from monitor.parse_fast import RawEntry, RawFeed, RawText, map_content_type, read_fast
from monitor.records import EntryData, ParsedFeed
from monitor.sanitize import clean_html, clean_html_and_text, html_to_text, safe_url, strip_controls

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_FIELD_CHARS",
    "MAX_TITLE_CHARS",
    "parse_feed",
]

# ------------------------------------------------------------------- limits

#: Same as the fetcher's default cap (``fetch.max_body_bytes``), so whatever
#: the fetcher accepts is parsed.  At ~5 MB/s (feedparser, lenient parser,
#: measured on a 5.5 MB synthetic feed) this is a ~2 s parse.
MAX_BODY_BYTES = 10 * 1024 * 1024

#: Titles are cut to this many characters.  Headlines are written to be read
#: at a glance (the longest in seeds/ is 190 characters); 1,000 keeps every
#: honest title whole and bounds what matching, mail subjects and pages get.
MAX_TITLE_CHARS = 1_000

#: Plain-text fields (summary, content_text) are cut to this many characters.
#: A 10,000-word long read is ~60,000 characters; 100,000 keeps it whole.
MAX_FIELD_CHARS = 100_000

#: HTML is cut to this multiple of the text limit before sanitising, so that
#: the text limit, not the cut, decides how much text survives: sanitised feed
#: HTML measured 1.0-1.4x its text (seed feeds, the benchmark's link- and
#: image-heavy content); 4x leaves room for tag-heavy layouts.
HTML_FACTOR = 4

#: Bodies with more entry elements than this multiple of ``max_entries`` are
#: refused before parsing.  feedparser takes ~65 microseconds per small entry
#: (measured: 10,000 ``<item><guid>`` in 0.65 s), so the cap (10,000 entries
#: at the default 2,000) bounds that to under a second; between
#: ``max_entries`` and the cap, the first ``max_entries`` are kept.
HARD_ENTRY_FACTOR = 5

#: Bodies with more tags than this multiple of ``max_entries`` are refused.
#: feedparser spends ~17 microseconds per element it does not know (measured:
#: 40,000 ``<x/>`` inside one description took 0.69 s, and 1.4 MB of nested
#: markup 2.6 s), so a 10 MB body of bare tags would take ~45 s.  A real
#: entry carries 10-30 tags (text and CDATA content do not count); 100 per
#: entry (200,000 at the default) bounds the worst case to ~4 s.
TAGS_PER_ENTRY = 100

#: Keys longer than this are replaced by their sha256 (the store's column is
#: 2,000 characters; a sane guid or URL is far shorter).
MAX_KEY_CHARS = 512
MAX_AUTHOR_CHARS = 200
#: BCP 47 tags in practice are under 35 characters (RFC 5646 section 4.4.1).
MAX_LANGUAGE_CHARS = 35
#: A title made from the text of an untitled entry (Mastodon, micro.blog...).
FALLBACK_TITLE_CHARS = 120
#: A summary made from the content when the feed gives none.
FALLBACK_SUMMARY_CHARS = 600

#: Dates before this are wrong (there were no feeds) and dates more than a
#: day ahead of ``now`` are wrong clocks or time-zone bugs; both become None
#: and the pipeline falls back to first_seen.
EARLIEST_DATE = datetime(1995, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
#: RSS <ttl> above a year is nonsense (the scheduler caps hints anyway).
MAX_TTL_MINUTES = 365 * 24 * 60

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_JSON_TYPES = ("application/feed+json", "application/json")

# ------------------------------------------------------------------- public


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    now: datetime,
    max_entries: int = 2000,
    max_field_chars: int = MAX_FIELD_CHARS,
    max_body_bytes: int = MAX_BODY_BYTES,
    fast: bool = True,
) -> ParsedFeed:
    """Parse a feed body.

    *url* is the URL the body came from (after redirects): relative links
    resolve against it.  *headers* are the response headers (any case);
    ``content-type`` and ``content-language`` are used.  *now* bounds
    plausible dates.  ``fast=False`` forces the feedparser reader (tests and
    benchmarks compare the two).

    Raises :class:`monitor.errors.ParseError` when nothing usable comes out;
    non-fatal problems are listed in ``ParsedFeed.warnings``.
    """
    if now.tzinfo is None:
        raise ValueError("parse: now must be timezone-aware")
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    if len(body) > max_body_bytes:
        raise ParseError(url, f"body is {len(body):,} bytes, over the {max_body_bytes:,} byte limit")
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start:
        raise ParseError(url, "the body is empty")

    content_type = hdrs.get("content-type", "").split(";")[0].strip().lower()
    if start[:1] == b"{" or (content_type in _JSON_TYPES and start[:1] != b"<"):
        raw = _read_json(start, url=url, max_entries=max_entries)
    else:
        data, warnings = _prepare_xml(body, url=url, content_type=hdrs.get("content-type"), max_entries=max_entries)
        raw = read_fast(data) if fast else None
        if raw is None:
            raw = _read_feedparser(data, url=url)
        raw.warnings[:0] = warnings
    return _normalise(
        raw,
        url=url,
        now=now,
        header_language=hdrs.get("content-language"),
        max_entries=max_entries,
        max_field_chars=max_field_chars,
    )


# ---------------------------------------------------------- XML preparation

# XML 1.0 section 2.2: the only C0 controls allowed are tab, LF and CR.  In
# UTF-8 these bytes only ever stand for themselves, so deleting them is safe.
_ILLEGAL_XML_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0E, 0x20))
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));?")  # ";" optional: the lenient parser accepts "&#0 "
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_CDATA = re.compile(rb"<!\[CDATA\[.*?\]\]>", re.DOTALL)


def _valid_xml_char(cp: int) -> bool:
    # XML 1.0 section 2.2, production [2] Char
    return cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF


def _fix_char_ref(m: re.Match[bytes]) -> bytes:
    digits = (m.group(1) or m.group(2)).lstrip(b"0") or b"0"
    if len(digits) > 8:  # past U+10FFFF in any base; don't int() a megabyte of digits
        return b"&#xFFFD;"
    cp = int(digits, 16 if m.group(1) else 10)
    return m.group(0) if _valid_xml_char(cp) else b"&#xFFFD;"


# Python text codecs that are not character sets.  feedparser decodes with
# whatever a feed declares: "punycode" decodes in quadratic time (measured:
# 32 KB took 0.19 s, so 10 MB would take hours) and "undefined" raises an
# error feedparser does not catch.
_UNSAFE_CODECS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined"})
_DECLARED_ENCODING = re.compile(r"""encoding\s*=\s*["']?([A-Za-z0-9._:-]+)""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)


def _first_line(data: bytes, codec: str) -> str:
    # growing prefixes: linear time however long the line is
    size = 4096
    while True:
        line, newline, _ = data[:size].decode(codec, "ignore").lstrip("\ufeff").partition("\n")
        if newline or size >= len(data):
            return line
        size *= 4


def _unsafe_encoding(body: bytes, content_type: str | None) -> str | None:
    """A declared encoding feedparser must not be allowed to use, if any."""
    names = _CHARSET.findall(content_type or "")
    # feedparser takes the encoding from an "encoding=" anywhere on the first
    # line if that line starts with "<?" -- after decoding by BOM or by the
    # "<?xm" pattern: look every way it may be written.
    data = body.removeprefix(codecs.BOM_UTF8)
    for codec in ("latin-1", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037"):
        if data[:16].decode(codec, "ignore").lstrip("\ufeff").startswith("<?"):
            names += _DECLARED_ENCODING.findall(_first_line(data, codec))
    for name in names:
        try:
            normalised = codecs.lookup(name).name
        except LookupError:
            continue  # feedparser skips names Python does not know
        if normalised in _UNSAFE_CODECS:
            return name
    return None


def _prepare_xml(body: bytes, *, url: str, content_type: str | None, max_entries: int) -> tuple[bytes, list[str]]:
    """UTF-8 bytes safe to hand to an XML parser, and warnings."""
    warnings: list[str] = []
    result: dict = {}
    unsafe = _unsafe_encoding(body, content_type)
    if unsafe is not None:
        raise ParseError(url, f"the feed declares the encoding {unsafe!r}, which is not a character set; refusing")
    # feedparser's own decoder, so both readers see what feedparser would:
    # charset from Content-Type, BOM, XML declaration, then fallbacks.  With no
    # Content-Type at all (a local file) the document's declaration decides.
    try:
        data = convert_to_utf8({"content-type": content_type} if content_type else {}, body, result)
    except (UnicodeError, LookupError, ValueError) as e:
        raise ParseError(url, f"cannot decode the feed: {type(e).__name__}: {e}") from e
    problem = result.get("bozo_exception")
    if problem is not None and not isinstance(problem, feedparser.NonXMLContentType):
        # (a feed served as text/html is too common to be worth a warning)
        warnings.append(f"encoding: {problem}")

    # feedparser expands a declared entity without limit (measured: a 10 KB
    # entity referenced 100 times gave a 1,000,000-character title; 65 KB
    # referenced 1,500 times gives 100 million characters, 300 MB), and an
    # external one is XXE.  Feeds have no use for entity declarations.  Checked
    # on the decoded text, so UTF-16/UTF-7/EBCDIC spellings cannot hide one;
    # anywhere in the document, so a comment before the DOCTYPE cannot either.
    if _ENTITY_DECL.search(data) and _DOCTYPE.search(data):
        raise ParseError(url, "entity declarations are not allowed (<!ENTITY in the DOCTYPE); refusing to parse")

    cleaned = data.translate(None, _ILLEGAL_XML_BYTES)
    if len(cleaned) != len(data):
        warnings.append(f"removed {len(data) - len(cleaned)} control characters (NUL...) not allowed in XML")
        data = cleaned

    # &#0; &#xD800; &#x110000; are not characters: expat rejects the document
    # and feedparser's fallback parser raises ValueError on some of them.
    if b"&#" in data:
        fixed = _CHAR_REF.sub(_fix_char_ref, data)
        if fixed != data:
            warnings.append("replaced invalid character references (&#0;, surrogates...) with U+FFFD")
            data = fixed

    # Parse time is bounded by refusing what would take long, before parsing.
    hard_cap = HARD_ENTRY_FACTOR * max_entries
    count = 0
    for _ in _ENTRY_START.finditer(data):
        count += 1
        if count > hard_cap:
            raise ParseError(
                url, f"more than {hard_cap:,} entries ({HARD_ENTRY_FACTOR}x the {max_entries:,} entry limit); refusing"
            )
    max_tags = TAGS_PER_ENTRY * max_entries
    tags = data.count(b"<")
    if tags > max_tags:  # only then pay for discounting "<" inside CDATA text
        tags -= sum(m.group(0).count(b"<") - 1 for m in _CDATA.finditer(data))
        if tags > max_tags:
            raise ParseError(url, f"{tags:,} tags, over the {max_tags:,} limit ({TAGS_PER_ENTRY} per entry); refusing")
    return data, warnings


# ------------------------------------------------------------ feedparser reader


def _read_feedparser(data: bytes, *, url: str) -> RawFeed:
    try:
        fp = feedparser.parse(
            io.BytesIO(data),  # never a str: feedparser would open paths and URLs
            # Only a content type: no Content-Location, so feedparser does not
            # resolve guids against it (it does, when given one); we resolve
            # links ourselves.
            response_headers={"content-type": "application/xml; charset=utf-8"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as e:  # a third-party parser on hostile input: report, don't crash
        raise ParseError(url, f"the feed parser failed: {type(e).__name__}: {e}") from e

    version = fp.get("version") or ""
    entries = fp.get("entries") or []
    problem = fp.get("bozo_exception") if fp.get("bozo") else None
    if not entries:
        if problem is not None:
            raise ParseError(url, f"not a readable feed: {problem}")
        if not version:
            raise ParseError(url, "no RSS, Atom or JSON Feed found (is this an HTML page?)")

    feed = fp.get("feed") or {}
    atom = version.startswith("atom")
    raw = RawFeed(
        format=version or "unknown",
        title=_fp_text(feed, "title"),
        link=_fp_atom_link(feed) if atom else _str(dict.get(feed, "link")),
        ttl=_str(dict.get(feed, "ttl")),
        language=_str(dict.get(feed, "language")),
    )
    if problem is not None:
        raw.warnings.append(f"not well-formed, read leniently: {problem}")
    for i, e in enumerate(entries, 1):
        try:
            raw.entries.append(_fp_entry(e, atom=atom))
        except Exception as ex:  # one bad entry never sinks the feed
            raw.warnings.append(f"entry {i}: skipped: {type(ex).__name__}: {ex}")
            raw.skipped += 1
    return raw


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _fp_text(d: Mapping, key: str, *, detail_required: bool = False) -> RawText | None:
    detail = dict.get(d, f"{key}_detail")
    if detail is None:
        if detail_required:
            return None
        value = _str(dict.get(d, key))
        return None if value is None else RawText(value, False)
    value = _str(detail.get("value"))
    ctype = detail.get("type") or "text/plain"
    if value is None or not (ctype.startswith("text/") or ctype in _HTML_TYPES):
        return None
    return RawText(value, ctype in _HTML_TYPES)


def _fp_atom_link(d: Mapping) -> str | None:
    """An Atom element's link: the last alternate HTML <link>, as feedparser
    picks it -- but never the <id>, which feedparser copies to "link" when
    there is no link (an Atom id is an identifier, not a locator: RFC 4287
    section 4.2.6)."""
    link = None
    for candidate in dict.get(d, "links") or ():
        ctype = map_content_type(candidate.get("type") or "")
        if candidate.get("rel") == "alternate" and ctype in _HTML_TYPES and "href" in candidate:
            link = _str(candidate["href"])
    return link


def _fp_entry(e: Mapping, *, atom: bool) -> RawEntry:
    link = _fp_atom_link(e) if atom else _str(dict.get(e, "link"))
    contents = []
    for c in dict.get(e, "content") or ():
        ctype = c.get("type") or "text/plain"
        if isinstance(c.get("value"), str) and (ctype.startswith("text/") or ctype in _HTML_TYPES):
            contents.append(RawText(c["value"], ctype in _HTML_TYPES))
    return RawEntry(
        guid=_str(dict.get(e, "id")),
        link=link,
        title=_fp_text(e, "title"),
        # only a summary the feed gave: feedparser copies content into
        # "summary" (without a summary_detail) when there is none
        summary=_fp_text(e, "summary", detail_required=True),
        contents=contents,
        author=_str(dict.get(e, "author")),
        published=dict.get(e, "published_parsed"),
        updated=dict.get(e, "updated_parsed"),
    )


# ------------------------------------------------------------ JSON Feed reader


def _read_json(body: bytes, *, url: str, max_entries: int) -> RawFeed:
    """JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise ParseError(url, f"invalid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ParseError(url, "JSON but not a JSON Feed (the top level is not an object)")
    version = doc.get("version")
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise ParseError(url, 'JSON but not a JSON Feed (no "version": "https://jsonfeed.org/version/1.1")')
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError(url, 'JSON Feed without an "items" list')
    number = version.removeprefix("https://jsonfeed.org/version/").rstrip("/")
    raw = RawFeed(
        format={"1": "json10", "1.1": "json11"}.get(number, "json"),
        title=RawText(doc["title"], False) if isinstance(doc.get("title"), str) else None,
        link=_str(doc.get("home_page_url")),
        language=_str(doc.get("language")),
    )
    if len(items) > max_entries:
        raw.warnings.append(_too_many(len(items), max_entries))
        items = items[:max_entries]
    for i, item in enumerate(items, 1):
        try:
            raw.entries.append(_json_item(item))
        except Exception as ex:  # one bad entry never sinks the feed
            raw.warnings.append(f"entry {i}: skipped: {type(ex).__name__}: {ex}")
            raw.skipped += 1
    return raw


def _json_item(item: object) -> RawEntry:
    if not isinstance(item, dict):
        raise ValueError(f"an item must be an object, not {type(item).__name__}")
    ident = item.get("id")
    # JSON Feed 1.0 allowed numeric ids; 1.1 says strings.
    guid = str(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) else None
    contents = []
    if isinstance(item.get("content_html"), str):
        contents.append(RawText(item["content_html"], True))
    if isinstance(item.get("content_text"), str):
        contents.append(RawText(item["content_text"], False))
    author = None
    authors = item.get("authors")  # 1.1
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        author = _str(authors[0].get("name"))
    elif isinstance(item.get("author"), dict):  # 1.0
        author = _str(item["author"].get("name"))
    return RawEntry(
        guid=guid,
        link=_str(item.get("url")) or _str(item.get("external_url")),
        title=RawText(item["title"], False) if isinstance(item.get("title"), str) else None,
        summary=RawText(item["summary"], False) if isinstance(item.get("summary"), str) else None,
        contents=contents,
        author=author,
        published=_json_date(item.get("date_published")),
        updated=_json_date(item.get("date_modified")),
        language=_str(item.get("language")),
    )


def _json_date(value: object) -> time.struct_time | None:
    """RFC 3339 (what JSON Feed specifies), else whatever feedparser can read."""
    if not isinstance(value, str) or len(value) > 100:
        return None
    try:
        d = datetime.fromisoformat(value.strip())
    except ValueError:
        return feedparser_parse_date(value)
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    try:
        return d.astimezone(UTC).timetuple()
    except OverflowError:  # "0001-01-01T00:00:00+01:00" is before year 1 in UTC
        return None


# ----------------------------------------------------------------- normalise


def _too_many(n: int, max_entries: int) -> str:
    return f"{n:,} entries; kept the first {max_entries:,} (max_entries), dropped {n - max_entries:,}"


def _normalise(
    raw: RawFeed,
    *,
    url: str,
    now: datetime,
    header_language: str | None,
    max_entries: int,
    max_field_chars: int,
) -> ParsedFeed:
    warnings = list(raw.warnings)
    found = raw.entries
    if len(found) > max_entries:
        warnings.append(_too_many(len(found), max_entries))
        found = found[:max_entries]
    language = _language(raw.language) or _language(header_language)
    guids = Counter(_key_part(r.guid) for r in found)
    limits = _Limits(url=url, now=now, max_field_chars=max_field_chars)

    entries: list[EntryData] = []
    keys: set[str] = set()
    for i, r in enumerate(found, 1):
        try:
            entry = _entry(r, limits, repeated_guid=guids[_key_part(r.guid)] > 1, language=language)
        except Exception as ex:  # one bad entry never sinks the feed
            warnings.append(f"entry {i}: skipped: {type(ex).__name__}: {ex}")
            continue
        if entry.key in keys:
            warnings.append(f"entry {i}: same key as an earlier entry ({entry.key[:100]!r}); dropped")
            continue
        keys.add(entry.key)
        entries.append(entry)
    if limits.absurd_dates:
        warnings.append(
            f"{limits.absurd_dates} dates before {EARLIEST_DATE.year} or more than a day in the future were ignored"
        )
    attempted = len(found) + raw.skipped
    if attempted and not entries:
        raise ParseError(url, f"none of the {attempted} entries could be read: {'; '.join(warnings[-3:])}")

    title = _plain(raw.title, MAX_TITLE_CHARS) or None
    return ParsedFeed(
        title=title,
        link=safe_url(raw.link, base=url),
        format=raw.format,
        entries=tuple(entries),
        ttl=_ttl(raw.ttl),
        warnings=tuple(warnings),
    )


class _Limits:
    __slots__ = ("absurd_dates", "max_field_chars", "now", "url")

    def __init__(self, *, url: str, now: datetime, max_field_chars: int):
        self.url = url
        self.now = now
        self.max_field_chars = max_field_chars
        self.absurd_dates = 0


def _key_part(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _plain(text: RawText | None, limit: int) -> str:
    """Plain text of a raw field, cut to *limit* characters."""
    if text is None or not text.value:
        return ""
    if text.html:
        return html_to_text(text.value[: limit * HTML_FACTOR])[:limit].rstrip()
    return strip_controls(text.value[: limit * 2])[:limit].rstrip()


def _as_html(text: RawText, limit: int) -> str:
    if text.html:
        return text.value[: limit * HTML_FACTOR]
    paragraphs = re.split(r"\n\s*\n", text.value[:limit])
    return "".join(f"<p>{html.escape(p.strip())}</p>" for p in paragraphs if p.strip())


def _lead(text: str, limit: int) -> str:
    """The start of *text*, cut at a word boundary, with an ellipsis if cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,;:.-") + "…"


def _date(value: time.struct_time | None, limits: _Limits) -> datetime | None:
    if value is None:
        return None
    try:
        d = datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        limits.absurd_dates += 1
        return None
    if d < EARLIEST_DATE or d > limits.now + FUTURE_SLACK:
        limits.absurd_dates += 1
        return None
    return d


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _entry(r: RawEntry, limits: _Limits, *, repeated_guid: bool, language: str | None) -> EntryData:
    cap = limits.max_field_chars
    url = safe_url(r.link, base=limits.url) if r.link else None
    title = _plain(r.title, MAX_TITLE_CHARS)
    candidates = [c for c in (*r.contents, r.summary) if c is not None and c.value.strip()]
    fullest = max(candidates, key=lambda c: len(c.value)) if candidates else None
    content_html, content_text = "", ""
    if fullest is not None and fullest.html:
        content_html, content_text = clean_html_and_text(fullest.value[: cap * HTML_FACTOR], base_url=url or limits.url)
        content_html = content_html.strip()
        content_text = content_text[:cap].rstrip()
    elif fullest is not None:
        content_text = _plain(fullest, cap)
        content_html = clean_html(_as_html(fullest, cap))
    summary = content_text if fullest is r.summary else _plain(r.summary, cap)
    if not summary:
        summary = _lead(content_text, FALLBACK_SUMMARY_CHARS)
    if not title:
        title = _lead(summary or content_text, FALLBACK_TITLE_CHARS)

    guid = _key_part(r.guid)
    link = _key_part(r.link)
    fingerprint = None if (guid and not repeated_guid) or (not guid and link) else _sha256(f"{title}\n{content_text}")
    if guid and not repeated_guid:
        key = guid
    elif guid:  # the same guid on several entries: tell them apart by link
        key = f"{guid} {link or fingerprint}"
    else:
        key = link or fingerprint
    key = strip_controls(key)
    if len(key) > MAX_KEY_CHARS or not key:
        key = _sha256(key or f"{title}\n{content_text}")

    dates = [_date(r.published, limits), _date(r.updated, limits)]
    return EntryData(
        key=key,
        url=url,
        title=title,
        summary=summary,
        content_text=content_text,
        content_html=content_html,
        author=_author_name(r.author),
        # Atom requires only <updated>, and many Atom feeds give nothing else:
        # the updated time is then the best estimate of publication we have.
        published=dates[0] or dates[1],
        updated=dates[1],
        language=_language(r.language) or language,
    )


# "jo@example.com (Jo Smith)" (RSS 2.0's <author>), "Jo Smith (jo@example.com)"
# (feedparser's rendering of an Atom person), "Jo Smith <jo@example.com>".
_NAME_AND_EMAIL = re.compile(r"^(?P<a>[^()]*?)\s*\((?P<b>[^()]*)\)$")
_ANGLE_EMAIL = re.compile(r"\s*<[^<>\s]+@[^<>\s]+>")


def _author_name(value: str | None) -> str | None:
    """The author's name: an e-mail address is dropped when a name is given."""
    if not value:
        return None
    value = strip_controls(value)
    m = _NAME_AND_EMAIL.match(value)
    if m:
        a, b = m["a"].strip(), m["b"].strip()
        if "@" in a and b and "@" not in b:
            value = b
        elif "@" in b and a and "@" not in a:
            value = a
    value = _ANGLE_EMAIL.sub("", value).strip() or value
    return value[:MAX_AUTHOR_CHARS] or None


def _language(value: str | None) -> str | None:
    if not value:
        return None
    value = strip_controls(value)[:MAX_LANGUAGE_CHARS]
    return value or None


def _ttl(value: str | None) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    minutes = int(value)
    return timedelta(minutes=minutes) if 0 < minutes <= MAX_TTL_MINUTES else None

