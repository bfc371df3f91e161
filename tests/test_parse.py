"""monitor.parse: feed bytes -> ParsedFeed.

Three kinds of tests:

* fixtures -- every file in tests/data/parse/ beside its ``.expected.json``
  (the specification of what comes out: feed, warnings, every entry field);
* table tests for the small rules (keys, dates, ttl, JSON detection);
* hostile input, generated here: each defence has a test that fails without it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.parse import (
    HARD_ENTRY_FACTOR,
    MAX_BODY_BYTES,
    MAX_FIELD_CHARS,
    MAX_TITLE_CHARS,
    TAGS_PER_ENTRY,
    parse_feed,
)
from monitor.records import ParsedFeed

DATA = Path(__file__).parent / "data" / "parse"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
URL = "https://feeds.example.net/feed/"
FIXTURES = sorted(p for p in DATA.iterdir() if not p.name.endswith(".expected.json"))


def parse(body: bytes | str, **kw) -> ParsedFeed:
    if isinstance(body, str):
        body = body.encode("utf-8")
    kw.setdefault("url", URL)
    kw.setdefault("now", NOW)
    return parse_feed(body, **kw)


def rss(items: str, channel: str = "<title>T</title><link>https://example.com/</link>", *, head: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<channel>{channel}{items}</channel></rss>"
    )


def item(guid: str = "g", title: str = "Title", extra: str = "") -> str:
    return f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>{extra}</item>'


# ------------------------------------------------------------------ fixtures


def _as_expected(feed: ParsedFeed) -> dict:
    def d(x):
        return x.isoformat() if x else None

    return {
        "feed": {
            "format": feed.format,
            "title": feed.title,
            "link": feed.link,
            "ttl_minutes": int(feed.ttl.total_seconds() // 60) if feed.ttl else None,
        },
        "warnings": list(feed.warnings),
        "entries": [
            {
                "key": e.key,
                "url": e.url,
                "title": e.title,
                "summary": e.summary,
                "content_text": e.content_text,
                "content_html": e.content_html,
                "author": e.author,
                "published": d(e.published),
                "updated": d(e.updated),
                "language": e.language,
            }
            for e in feed.entries
        ],
    }


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture(path: Path):
    spec = json.loads(Path(f"{path}.expected.json").read_text(encoding="utf-8"))
    if "error" in spec:
        with pytest.raises(ParseError, match=re.escape(spec["error"])):
            parse(path.read_bytes(), headers=spec.get("headers"))
        return
    got = _as_expected(parse(path.read_bytes(), headers=spec.get("headers")))
    assert got["feed"] == spec["feed"]
    assert got["warnings"] == spec["warnings"]
    assert len(got["entries"]) == len(spec["entries"])
    for i, (g, e) in enumerate(zip(got["entries"], spec["entries"])):
        assert g == e, f"entry {i} ({e['key']})"


def test_every_fixture_has_an_expected_result():
    for path in FIXTURES:
        assert Path(f"{path}.expected.json").exists(), path.name


def test_every_format_is_covered_by_a_fixture():
    formats = set()
    for path in FIXTURES:
        spec = json.loads(Path(f"{path}.expected.json").read_text(encoding="utf-8"))
        formats.add(spec.get("feed", {}).get("format"))
    assert {"rss20", "atom10", "rss10", "json10", "json11", "rss091n"} <= formats


# ---------------------------------------------------------------------- keys


def test_a_guid_is_the_key():
    feed = parse(rss(item("abc-1") + item("abc-2")))
    assert [e.key for e in feed.entries] == ["abc-1", "abc-2"]


def test_repeated_guid_is_told_apart_by_link():
    items = item("same", "A", "<link>https://e.com/a</link>") + item("same", "B", "<link>https://e.com/b</link>")
    assert [e.key for e in parse(rss(items)).entries] == ["same https://e.com/a", "same https://e.com/b"]


def test_without_guid_or_link_the_key_is_a_hash_of_title_and_text():
    feed = parse(rss("<item><title>Only a title</title><description>and words</description></item>"))
    expected = "sha256:" + hashlib.sha256("Only a title\nand words".encode()).hexdigest()
    assert feed.entries[0].key == expected


def test_keys_are_stable_across_polls():
    """The same entries in another order, with one more, polled later: same keys."""
    first = [
        item("g1", "One", "<link>https://e.com/1</link>"),
        "<item><title>No guid</title><link>https://e.com/2</link></item>",
        "<item><title>Nothing but text</title><description>words</description></item>",
    ]
    second = ["<item><title>New</title><link>https://e.com/3</link></item>", *reversed(first)]
    keys1 = {e.title: e.key for e in parse(rss("".join(first))).entries}
    keys2 = {e.title: e.key for e in parse(rss("".join(second)), now=NOW + timedelta(hours=5)).entries}
    assert keys1 == {t: k for t, k in keys2.items() if t != "New"}


def test_an_overlong_guid_is_hashed():
    guid = "x" * 5000
    key = parse(rss(item(guid))).entries[0].key
    assert key == "sha256:" + hashlib.sha256(guid.encode()).hexdigest()


# --------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Sat, 01 Jun 2024 09:30:00 +0200", datetime(2024, 6, 1, 7, 30, tzinfo=UTC)),
        ("Sat, 01 Jun 2024 09:30:00 GMT", datetime(2024, 6, 1, 9, 30, tzinfo=UTC)),
        ("2024-05-01T10:00:00-05:00", datetime(2024, 5, 1, 15, 0, tzinfo=UTC)),
        ("Sun, 02 Jun 2024 11:00:00 GMT", datetime(2024, 6, 2, 11, 0, tzinfo=UTC)),  # 23 h ahead: a clock skew
        ("Sun, 02 Jun 2024 13:00:00 GMT", None),  # 25 h ahead of now
        ("Sat, 31 Dec 1994 23:59:59 GMT", None),  # before 1995
        ("Sun, 01 Jan 1995 00:00:00 GMT", datetime(1995, 1, 1, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
    ],
)
def test_dates(pub_date: str, expected: datetime | None):
    entry = parse(rss(item(extra=f"<pubDate>{pub_date}</pubDate>"))).entries[0]
    assert entry.published == expected
    if expected is not None:
        assert entry.published.tzinfo is UTC


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        parse(rss(item()), now=datetime(2024, 6, 1))


# ----------------------------------------------------------------------- ttl


@pytest.mark.parametrize(
    ("ttl", "minutes"),
    [("30", 30), (" 60 ", 60), ("0", None), ("-5", None), ("soon", None), ("99999999999", None), ("", None)],
)
def test_ttl_is_minutes(ttl: str, minutes: int | None):
    feed = parse(rss(item(), f"<title>T</title><ttl>{ttl}</ttl>"))
    assert feed.ttl == (timedelta(minutes=minutes) if minutes else None)


# ------------------------------------------------------------ links and text


@pytest.mark.parametrize(
    ("link", "url"),
    [
        ("https://news.example.com/a", "https://news.example.com/a"),
        ("/a/b", "https://feeds.example.net/a/b"),
        ("c", "https://feeds.example.net/feed/c"),
        ("//cdn.example.org/x", "https://cdn.example.org/x"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("file:///etc/passwd", None),
        ("ftp://files.example.com/x", None),
    ],
)
def test_entry_links_are_http_and_absolute(link: str, url: str | None):
    from xml.sax.saxutils import escape

    assert parse(rss(item(extra=f"<link>{escape(link)}</link>"))).entries[0].url == url


def test_relative_links_resolve_against_the_url_the_body_came_from():
    feed = parse(rss(item(extra="<link>story.html</link>")), url="https://moved.example.org/news/rss")
    assert feed.entries[0].url == "https://moved.example.org/news/story.html"


def test_text_fields_are_plain_and_collapsed():
    body = rss(
        item(
            title="Tom &amp;amp; Jerry\n   &lt;b&gt;return&lt;/b&gt;",
            extra="<description><![CDATA[<p>First&nbsp;para.</p>\n\n<p>Second <a href='x'>para</a>.</p>]]></description>",
        )
    )
    entry = parse(body).entries[0]
    assert entry.title == "Tom & Jerry return"
    assert entry.summary == entry.content_text == "First para. Second para."
    assert entry.content_html.startswith("<p>First")


def test_content_is_the_fullest_of_summary_and_content():
    body = rss(item(extra="<description>Short.</description><content:encoded>Much longer full text.</content:encoded>"))
    entry = parse(body).entries[0]
    assert (entry.summary, entry.content_text) == ("Short.", "Much longer full text.")


def test_content_language_header_is_the_fallback_language():
    body = rss(item())
    assert parse(body, headers={"Content-Language": "fr"}).entries[0].language == "fr"
    with_language = rss(item(), "<title>T</title><language>de</language>")
    assert parse(with_language, headers={"content-language": "fr"}).entries[0].language == "de"


def test_charset_from_the_content_type_header_in_any_case():
    body = rss(item(title="caf\xe9")).replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("iso-8859-1")
    assert parse(body).entries[0].title == "café"
    assert parse(body, headers={"Content-Type": "application/rss+xml; charset=ISO-8859-1"}).entries[0].title == "café"


# ----------------------------------------------------------------- JSON Feed


JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "items": [{"id": "1", "url": "https://j.example/1", "title": "One", "content_text": "Text"}],
    }
).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (JSON_FEED, None),
        (JSON_FEED, {"content-type": "application/feed+json"}),
        (b"\xef\xbb\xbf \n" + JSON_FEED, {"content-type": "application/json; charset=utf-8"}),
        (JSON_FEED, {"content-type": "text/html"}),  # a body starting with "{" is JSON whatever the server says
    ],
)
def test_json_feed_is_detected(body: bytes, headers: dict | None):
    feed = parse(body, headers=headers)
    assert feed.format == "json11"
    assert [(e.key, e.title, e.content_text) for e in feed.entries] == [("1", "One", "Text")]


def test_xml_served_as_json_is_read_as_xml():
    feed = parse(rss(item()), headers={"content-type": "application/json"})
    assert feed.format == "rss20"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "the top level is not an object"),
        (b'{"title": "an API response"}', 'no "version"'),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', 'without an "items" list'),
        (b"{" + b'"a":' * 100_000 + b"1" + b"}" * 100_000, "invalid JSON"),  # nesting bomb: RecursionError
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": ' + b"9" * 5000 + b"}]}", "invalid JSON"),
    ],
)
def test_bad_json_feeds_are_parse_errors(body: bytes, problem: str):
    with pytest.raises(ParseError, match=re.escape(problem)):
        parse(body, headers={"content-type": "application/json"})


def test_a_json_feed_whose_every_item_is_bad_is_a_parse_error():
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": ["a", 1, None]}).encode()
    with pytest.raises(ParseError, match="none of the 3 entries"):
        parse(body)


# -------------------------------------------------------- broken and failing


def test_one_bad_entry_never_sinks_the_feed():
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "items": [{"id": "1", "title": "good"}, ["not", "an", "item"], {"id": "3", "title": "also good"}],
        }
    ).encode()
    feed = parse(body)
    assert [e.title for e in feed.entries] == ["good", "also good"]
    assert feed.warnings == ("entry 2: skipped: ValueError: an item must be an object, not list",)


def test_broken_xml_with_entries_is_read_with_a_warning():
    feed = parse(rss(item("1", "Fish & chips") + item("2", "Second")))
    assert [e.title for e in feed.entries] == ["Fish & chips", "Second"]
    assert any(w.startswith("not well-formed, read leniently") for w in feed.warnings)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty"),
        (b"  \n\t ", "empty"),
        (b"<rss><channel><title>oops</titl", "not a readable feed"),
        (b"<html><body><p>Just a page</p></body></html>", "no RSS, Atom or JSON Feed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a readable feed"),
    ],
)
def test_nothing_usable_is_a_parse_error(body: bytes, problem: str):
    with pytest.raises(ParseError, match=problem) as info:
        parse(body)
    assert str(info.value).startswith(f"parse: {URL}: ")
    assert info.value.url == URL


# ------------------------------------------------------------ hostile input


BIG = "A" * 10_000


@pytest.mark.parametrize(
    "doctype",
    [
        # one big entity referenced many times: feedparser expands it in full
        f'<!DOCTYPE rss [<!ENTITY big "{BIG}">]>',
        # billion laughs
        '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY big "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
        # XXE: a file and a URL
        '<!DOCTYPE rss [<!ENTITY big SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE rss [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
        # lower case, and hidden behind a comment that fools "first element" scanners
        f'<!-- <x> --><!doctype rss [<!entity big "{BIG}">]>',
    ],
    ids=["one-big-entity", "billion-laughs", "xxe-file", "xxe-parameter-entity", "lower-case-after-comment"],
)
def test_entity_declarations_are_refused(doctype: str):
    body = rss(item(title="&big;" * 100), head=doctype)
    with pytest.raises(ParseError, match="entity declarations are not allowed"):
        parse(body)


def test_entity_declarations_are_refused_in_any_encoding():
    body = rss(item(title="&big;" * 100), head=f'<!DOCTYPE rss [<!ENTITY big "{BIG}">]>')
    utf16 = body.replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
    with pytest.raises(ParseError, match="entity declarations are not allowed"):
        parse(utf16)


def test_a_doctype_without_entities_is_read_and_its_dtd_never_fetched(feed_server):
    dtd_url = feed_server.route("/evil.dtd", body=b'<!ENTITY x "fetched">', content_type="application/xml-dtd")
    body = rss(item(title="Hello"), head=f'<!DOCTYPE rss SYSTEM "{dtd_url}">')
    assert [e.title for e in parse(body).entries] == ["Hello"]
    assert parse(body, fast=False).entries[0].title == "Hello"
    assert feed_server.hits["/evil.dtd"] == 0


def test_a_url_or_a_path_as_the_body_is_never_opened(feed_server, tmp_path):
    """feedparser opens URLs and files when given a string: parse_feed never lets it."""
    feed_url = feed_server.route("/feed.xml", body=rss(item(title="Fetched!")).encode())
    with pytest.raises(ParseError):
        parse(feed_url.encode())
    assert feed_server.hits["/feed.xml"] == 0
    local = tmp_path / "feed.xml"
    local.write_text(rss(item(title="Opened!")))
    with pytest.raises(ParseError):
        parse(str(local).encode())


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("a &#xD800;b", "a \ufffdb"),  # a surrogate: feedparser raises UnicodeEncodeError
        ("a &#x110000;b", "a \ufffdb"),  # past Unicode: ValueError
        ("a &#99999999999;b", "a \ufffdb"),  # past C int: OverflowError
        ("a &#0;b", "a \ufffdb"),  # not an XML character: expat gives up on the document
        ("a &#1;b", "a \ufffdb"),
        ("a &#xDFFF b", "a \ufffd b"),  # the lenient parser takes references without ";"
    ],
)
def test_invalid_character_references_become_replacement_characters(title: str, expected: str):
    feed = parse(rss(item("1", title) + item("2", "fine")))
    assert [e.title for e in feed.entries] == [expected, "fine"]
    assert any("invalid character references" in w for w in feed.warnings)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        # "undefined" raises UnicodeError, which feedparser does not catch
        (rss(item()).replace('encoding="utf-8"', 'encoding="undefined"').encode(), None),
        # punycode decodes in quadratic time: 10 MB would take hours
        (rss(item()).replace('encoding="utf-8"', 'encoding="punycode"').encode() + b"-" + b"99" * 20_000, None),
        (rss(item()).replace('encoding="utf-8"', 'encoding="punycode"').encode("utf-16"), None),
        (rss(item()).encode(), {"content-type": "application/rss+xml; charset=unicode_escape"}),
        (rss(item()).encode(), {"content-type": 'text/xml; charset="IDNA"'}),
    ],
    ids=["undefined", "punycode", "punycode-utf16", "unicode-escape-header", "idna-header"],
)
def test_encodings_that_are_not_character_sets_are_refused(body: bytes, headers: dict | None):
    with pytest.raises(ParseError, match="not a character set"):
        parse(body, headers=headers)


def test_nul_and_control_bytes_are_removed_before_parsing():
    body = rss(item("g\x00uid", "ti\x00tle\x01", "<description>te\x0bxt\x1f</description>")).encode()
    feed = parse(body)
    (entry,) = feed.entries
    assert (entry.key, entry.title, entry.summary) == ("guid", "title", "text")
    # removed before parsing, so the document stays well-formed
    assert not any("not well-formed" in w for w in feed.warnings)


def test_controls_and_line_breaks_never_reach_titles_or_authors():
    title = "Subject&#13;&#10;Bcc: victim@example.com&#x2028;&#x202E;evil&#x7F;"
    body = rss(item(title=title, extra="<dc:creator>Jo&#10;X-Header: 1</dc:creator>"))
    entry = parse(body).entries[0]
    assert entry.title == "Subject Bcc: victim@example.com evil"
    assert entry.author == "Jo X-Header: 1"
    for ch in "\r\n\u2028\u202e\x7f":
        assert ch not in entry.title + entry.author


def test_entries_over_max_entries_are_dropped_with_a_warning():
    feed = parse(rss("".join(item(str(i)) for i in range(12))), max_entries=10)
    assert [e.key for e in feed.entries] == [str(i) for i in range(10)]
    assert "12 entries; kept the first 10 (max_entries), dropped 2" in feed.warnings


def test_far_too_many_entries_are_refused_before_parsing():
    body = rss("".join(f"<item><guid>{i}</guid></item>" for i in range(HARD_ENTRY_FACTOR * 10 + 1)))
    with pytest.raises(ParseError, match="more than 50 entries"):
        parse(body, max_entries=10)


def test_parse_time_is_bounded_by_refusing_before_parsing():
    # 100,000 entries (3 MB): feedparser alone needs ~7 s for these.
    body = rss("".join(f"<item><guid>{i}</guid></item>" for i in range(100_000))).encode()
    start = time.perf_counter()
    with pytest.raises(ParseError, match="entries"):
        parse(body)
    assert time.perf_counter() - start < 1.0
    # 1.4 MB of nested markup inside one description: ~2.6 s in feedparser.
    depth = 200_000
    body = rss(item(extra="<description>" + "<x>" * depth + "deep" + "</x>" * depth + "</description>")).encode()
    start = time.perf_counter()
    with pytest.raises(ParseError, match=f"over the {TAGS_PER_ENTRY * 2000:,} limit"):
        parse(body)
    assert time.perf_counter() - start < 1.0


def test_markup_inside_cdata_does_not_count_as_tags():
    html = "<p>x</p>" * 150_000  # 300,000 "<" inside CDATA: text to the XML parser
    feed = parse(rss(item(extra=f"<description><![CDATA[{html}]]></description>")))
    assert feed.entries[0].content_text.startswith("x x x")


def test_a_body_over_the_limit_is_refused():
    with pytest.raises(ParseError, match="over the 1,000 byte limit"):
        parse(rss(item(title="x" * 2000)), max_body_bytes=1000)
    assert MAX_BODY_BYTES == 10 * 1024 * 1024


def test_long_fields_are_cut():
    title = "T" * (MAX_TITLE_CHARS * 5)
    text = "word " * 60_000  # 300,000 characters
    feed = parse(rss(item(title=title, extra=f"<description>{text}</description>")))
    entry = feed.entries[0]
    assert len(entry.title) == MAX_TITLE_CHARS
    assert len(entry.summary) <= MAX_FIELD_CHARS and len(entry.content_text) <= MAX_FIELD_CHARS
    assert entry.content_text.startswith("word word")
    small = parse(rss(item(extra=f"<description>{text}</description>")), max_field_chars=1000).entries[0]
    assert len(small.content_text) <= 1000


def test_hostile_html_is_sanitised():
    html = (
        '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:alert(2)">js</a>'
        '<img src="x.png" onerror="alert(3)"><iframe src="https://evil.example/">f</iframe></p>'
    )
    entry = parse(rss(item(extra=f"<content:encoded><![CDATA[{html}]]></content:encoded>"))).entries[0]
    for bad in ("script", "onclick", "onerror", "javascript", "iframe", "alert"):
        assert bad not in entry.content_html
    assert entry.content_text == "Hi js"


def test_results_are_frozen_records():
    feed = parse(rss(item()))
    with pytest.raises(AttributeError):
        feed.entries[0].title = "changed"  # type: ignore[misc]
    assert replace(feed.entries[0], title="x").title == "x"
