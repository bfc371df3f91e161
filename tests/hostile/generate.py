"""A generator of hostile feeds and hostile server behaviours.

Each :class:`Case` says what a stranger's feed (or server) does, how to serve
it from :class:`tests.support.feedserver.FeedServer`, and what monitor must
make of it: a clear error on that feed (``error``, a regex the recorded error
must match) or entries stored with the dangerous parts gone (``entries``).
The bodies are built here, in a few lines each, rather than kept as large
files: a 10 MB title or a 50,000-entry feed is one expression.

``tests/test_hostile.py`` runs every case through the real fetch, parse and
store path.  ``python -m tests.hostile.generate DIR`` writes the static
bodies to DIR (for poking at them by hand); server behaviours (drips,
redirects, bombs) only exist when served.

Every entry that should survive carries the word "Homs" in its title, so
the test's watch turns it into an alert and the alert renderers see it too.
"""

from __future__ import annotations

import codecs
import gzip
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from tests.support.feedserver import FeedServer, Request, Route, gzip_bomb

# ------------------------------------------------------------------ builders


def item(
    title: str,
    *,
    link: str | None = None,
    description: str | None = None,
    content: str | None = None,
    guid: str | None = None,
    raw: bool = False,
) -> str:
    """One RSS 2.0 <item>.  Text is XML-escaped unless ``raw`` (then the
    caller writes the markup: entities, CDATA, invalid references)."""
    esc = (lambda s: s) if raw else escape
    parts = [f"<title>{esc(title)}</title>"]
    if link is not None:
        parts.append(f"<link>{esc(link)}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{esc(guid)}</guid>')
    if description is not None:
        parts.append(f"<description>{esc(description)}</description>")
    if content is not None:
        parts.append(f"<content:encoded><![CDATA[{content}]]></content:encoded>")
    return "<item>" + "".join(parts) + "</item>"


def rss(items: Iterable[str], *, title: str = "Hostile feed", prolog: str = "", declaration: str | None = None) -> str:
    """An RSS 2.0 document around ``items`` (already markup).  ``prolog`` goes
    between the XML declaration and <rss> (a DOCTYPE); ``declaration``
    replaces the XML declaration (wrong encodings)."""
    decl = '<?xml version="1.0" encoding="utf-8"?>' if declaration is None else declaration
    return (
        f"{decl}\n{prolog}"
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{title}</title><link>https://hostile.example/</link><description>x</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def entity_blowup(size: int = 65_000, refs: int = 1_500) -> bytes:
    """One big internal entity referenced many times: feedparser's lenient
    parser expanded 65 KB x 1,500 into a 100-million-character title (300 MB)."""
    prolog = f'<!DOCTYPE rss [<!ENTITY big "{"A" * size}">]>\n'
    return rss([item("Homs " + "&big;" * refs, raw=True)], prolog=prolog).encode()


def billion_laughs(levels: int = 10) -> bytes:
    """The classic nested expansion: 10 levels of 10 references, 10^9 "lol"."""
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, levels)
    ]
    prolog = "<!DOCTYPE rss [" + "".join(decls) + "]>\n"
    return rss([item(f"Homs &lol{levels - 1};", raw=True)], prolog=prolog).encode()


def xxe(target: str = "file:///etc/passwd") -> bytes:
    """An external entity: the parser would read ``target`` into the title."""
    prolog = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>\n'
    return rss([item("Homs &xxe;", raw=True, description="&xxe;")], prolog=prolog).encode()


def xxe_in_utf16() -> bytes:
    """The XXE body re-encoded as UTF-16: a byte-level search for <!ENTITY
    in the raw body would not see it."""
    text = xxe().decode().replace('encoding="utf-8"', 'encoding="utf-16"')
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def external_dtd(dtd_url: str) -> bytes:
    """No entity declared in the document, but an external DTD that would
    declare one: the parser must not fetch it."""
    prolog = f'<!DOCTYPE rss SYSTEM "{dtd_url}">\n'
    return rss([item("Homs and the &ext; entity", raw=True)], prolog=prolog).encode()


def truncated_xml() -> bytes:
    """Five entries, cut in the middle of the third one's title."""
    full = rss([item(f"Homs part {i}", link=f"https://hostile.example/p{i}") for i in range(5)])
    return full[: full.index("<title>Homs part 2") + len("<title>Homs pa")].encode()


def control_feed() -> bytes:
    """The well-behaved feed polled next to every hostile one: three ordinary
    entries that match the test's watch."""
    return rss(
        [
            item(f"Homs control story {i}: the river road reopens", link=f"https://control.example/{i}",
                 guid=f"control-{i}", description=f"Control report {i} from Homs and the villages around it.")
            for i in range(3)
        ],
        title="Control Wire",
    ).encode()


def feed_of(n: int, *, prefix: str = "Entry") -> bytes:
    """``n`` small entries, built as one join (50,000 entries is ~3 MB)."""
    body = "".join(
        f'<item><title>{prefix} {i} Homs</title><link>https://hostile.example/{i}</link></item>' for i in range(n)
    )
    return rss([body]).encode()


def huge_title(chars: int = 10_000_000) -> bytes:
    return rss([item("Homs " + "T" * chars, link="https://hostile.example/long")]).encode()


def nested(depth: int) -> bytes:
    """Markup nested ``depth`` levels deep inside one entry's description."""
    return rss([item("Homs deep", raw=True, description="<x>" * depth + "deep" + "</x>" * depth)]).encode()


def tag_flood(tags: int) -> bytes:
    """Many unknown empty elements inside one entry: cheap on the wire,
    ~17 microseconds each in feedparser's lenient parser."""
    return rss([item("Homs flood", raw=True, description="<x/>" * tags)]).encode()


# Links a browser would run or a mail client would follow somewhere unsafe.
# "java\tscript:" and the leading control character are read as javascript:
# by browsers (WHATWG URL: tab/newline removed, C0 and space trimmed).
EVIL_LINKS = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.domain)",
    "java\tscript:alert(1)",
    "\x01javascript:alert(1)",
    " javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
)

EVIL_HTML = (
    '<p>Homs report</p><script>alert("xss")</script>',
    '<img src="x" onerror="alert(1)"><p>Homs</p>',
    '<a href="https://ok.example/" onclick="alert(1)" onmouseover="alert(2)">Homs link</a>',
    '<svg onload="alert(1)"><circle r="5"/></svg><p>Homs</p>',
    '<iframe src="javascript:alert(1)"></iframe><p>Homs</p>',
    '<a href="javascript:alert(1)">Homs</a> <a href="&#106;avascript:alert(1)">x</a>',
    '<a href="data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;">Homs</a>',
    '<form action="https://evil.example/"><input name="q"><button formaction="javascript:alert(1)">go</button></form>',
    '<scr<script>ipt>alert(1)</scr</script>ipt><p>Homs</p>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>',
    '<body onload="alert(1)"><p>Homs</p></body>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)"><base href="javascript:/"><p>Homs</p>',
    '<object data="data:text/html,x"></object><embed src="javascript:alert(1)"><p>Homs</p>',
    '<!--<script>alert(1)</script>--><p>Homs</p>',
)

EVIL_CSS = (
    '<style>body{background:url("javascript:alert(1)")} *{display:none}</style><p>Homs</p>',
    '<p style="background:url(https://tracker.example/pixel.gif);position:fixed;top:0;left:0;width:100%;height:100%">Homs</p>',
    '<div style="width: expression(alert(1));">Homs</div>',
    '<link rel="stylesheet" href="https://evil.example/x.css"><p>Homs</p>',
    '<p class="x" id="login" style="-moz-binding:url(https://evil.example/x.xml#xss)">Homs</p>',
)

# Titles that try to become mail headers: a CRLF, a bare LF, an RFC 2047
# encoded word whose decoded text holds a newline (Python 3.11 wrote that out
# as a real "Bcc:" line), Unicode line separators, and a bidi override that
# makes a title display as something else (CVE-2021-42574).
EVIL_TITLES = (
    "Homs update\r\nBcc: victim@example.org",
    "Homs update\nX-Injected: yes",
    "=?utf-8?q?Homs=0D=0ABcc=3A_victim@example.org?=",
    "=?utf-8?b?SG9tcw0KQmNjOiB2aWN0aW1AZXhhbXBsZS5vcmc=?=",
    "Homs\u2028Bcc: victim@example.org\u2029",
    "Homs\x85NEL\x0bVT\x0cFF\x1b[31mANSI",
    "Homs \u202egnp.exe\u202c report",
)


def links_feed() -> bytes:
    return rss(
        item(f"Homs link {i}", link=link, guid=f"link-{i}", description=f"Homs link case {i}")
        for i, link in enumerate(EVIL_LINKS)
    ).encode()


def html_feed(fragments: Iterable[str], prefix: str) -> bytes:
    """Each fragment as an entry's content:encoded, and escaped in its
    description too (RSS descriptions are entity-escaped HTML)."""
    return rss(
        item(f"Homs {prefix} {i}", link=f"https://hostile.example/{prefix}/{i}", guid=f"{prefix}-{i}",
             description=frag, content=frag)
        for i, frag in enumerate(fragments)
    ).encode()


def titles_feed() -> bytes:
    # \r and \x0b/\x0c/\x1b/\x85 are not allowed raw in XML: write them as
    # character references, which XML allows for \r (and the parser turns the
    # others into U+FFFD or drops them).
    def ref(s: str) -> str:
        return "".join(f"&#x{ord(c):x};" if c in "\r\x85\u2028\u2029\u202e\u202c" else escape(c) for c in s)

    return rss(
        [item(ref(t), raw=True, link=f"https://hostile.example/t/{i}", guid=f"title-{i}") for i, t in enumerate(EVIL_TITLES)],
        title=ref("Hostile\r\nBcc: feed@example.org"),
    ).encode()


def json_feed(items: list[dict[str, object]]) -> bytes:
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "Hostile JSON", "items": items}
    ).encode()


VALID_ITEMS = [item("Homs ordinary entry", link="https://hostile.example/ok", guid="ok-1")]

# ------------------------------------------------------------------- cases


#: serve(srv, srv6) sets up routes and returns the feed's URL.  ``srv6`` is a
#: FeedServer on [::1], or None where IPv6 loopback is not available.
Serve = Callable[[FeedServer, FeedServer | None], str]


@dataclass(frozen=True)
class Case:
    name: str
    #: what the feed or server does, and the defence that meets it
    about: str
    serve: Serve
    #: a regex the recorded error must match; None: the poll must succeed
    error: str | None = None
    #: for successful cases, the number of entries stored
    entries: int | None = None
    #: paths on the servers that must receive no request (a private target,
    #: an external DTD): ("v4" | "v6", path)
    never_hit: tuple[tuple[str, str], ...] = ()
    #: strings that must appear nowhere in storage or output
    forbidden: tuple[str, ...] = ()
    #: tracemalloc peak allowed for the poll, in MiB (see test_hostile.py)
    memory_mib: int = 64
    #: the case needs the IPv6 loopback server
    needs_v6: bool = False


def body(data: bytes | Callable[[], bytes], **route: object) -> Serve:
    """Serve a static body at /feed (``data`` may be a builder, called lazily
    so importing this module stays cheap)."""

    def serve(srv: FeedServer, srv6: FeedServer | None) -> str:
        payload = data() if callable(data) else data
        return srv.route("/feed", body=payload, **route)

    return serve


def raw(data: bytes | Callable[[], bytes], **route: object) -> Serve:
    def serve(srv: FeedServer, srv6: FeedServer | None) -> str:
        payload = data() if callable(data) else data
        return srv.route("/feed", raw_body=payload, **route)

    return serve


def redirect_to(target: str | Callable[[FeedServer], str], status: int = 302) -> Serve:
    def serve(srv: FeedServer, srv6: FeedServer | None) -> str:
        srv.route("/private-target", body=rss(VALID_ITEMS).encode())
        where = target(srv) if callable(target) else target
        return srv.route("/feed", status=status, location=where)

    return serve


def url_of(make: Callable[[FeedServer, FeedServer | None], str]) -> Serve:
    """A feed URL in some notation of a loopback address; the feed is served
    at /feed on both servers, so a guard that let the URL through would
    fetch it (never_hit checks that nothing arrived)."""

    def serve(srv: FeedServer, srv6: FeedServer | None) -> str:
        srv.route("/feed", body=rss(VALID_ITEMS).encode())
        if srv6 is not None:
            srv6.route("/feed", body=rss(VALID_ITEMS).encode())
        return make(srv, srv6)

    return serve


def _redirect_loop(srv: FeedServer, srv6: FeedServer | None) -> str:
    srv.route("/loop-b", status=302, location="/feed")
    return srv.route("/feed", status=302, location="/loop-b")


def _redirect_forever(srv: FeedServer, srv6: FeedServer | None) -> str:
    """Each answer redirects to a new URL (/feed?n=1, ?n=2...): no loop to
    detect, only the hop limit stops it."""

    def next_hop(req: Request) -> Route:
        n = int(req.target.partition("n=")[2] or 0)
        return Route(status=302, location=f"/feed?n={n + 1}")

    return srv.route("/feed", responder=next_hop)


def _external_dtd(srv: FeedServer, srv6: FeedServer | None) -> str:
    dtd_url = srv.route("/evil.dtd", body=b'<!ENTITY ext SYSTEM "file:///etc/passwd">', content_type="application/xml-dtd")
    return srv.route("/feed", body=external_dtd(dtd_url))


def _truncated_transfer(srv: FeedServer, srv6: FeedServer | None) -> str:
    full = feed_of(50)
    cut = full[: len(full) // 2]
    return srv.route("/feed", body=cut, close=True, headers={"Content-Length": str(len(full))})


PASSWD = "root:x:0:0"

CASES: tuple[Case, ...] = (
    # ------------------------------------------------ entities and the prolog
    Case("entity-blowup", "one 65 KB internal entity referenced 1,500 times (100 M characters if expanded)",
         body(entity_blowup), error=r"parse: .*entity declarations are not allowed"),
    Case("billion-laughs", "10 levels of 10 nested entity references (10^9 'lol')",
         body(billion_laughs), error=r"parse: .*entity declarations are not allowed"),
    Case("xxe-file", "an external entity naming file:///etc/passwd",
         body(xxe), error=r"parse: .*entity declarations are not allowed", forbidden=(PASSWD,)),
    Case("xxe-in-utf16", "the XXE document encoded as UTF-16 (a byte search for <!ENTITY misses it)",
         body(xxe_in_utf16, content_type="application/rss+xml"),
         error=r"parse: .*entity declarations are not allowed", forbidden=(PASSWD,)),
    Case("external-dtd", "a DOCTYPE naming an external DTD on the feed's server: never fetched",
         _external_dtd, entries=1, never_hit=(("v4", "/evil.dtd"),), forbidden=(PASSWD,)),
    # ------------------------------------------------ characters and encodings
    Case("invalid-char-refs", "&#xD800; &#x110000; &#0; &#1; and a 20-digit reference (feedparser raises on some)",
         body(rss([item("Homs &#xD800; &#x110000; &#0; &#1; &#99999999999999999999; end", raw=True,
                        link="https://hostile.example/refs", description="a &#xDFFF; b &#0; c")]).encode()),
         entries=1),
    Case("nul-bytes", "NUL and other C0 control bytes inside and between elements",
         body(b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>\x00<title>T\x00</title>'
              b"<item><title>Homs\x00 nul\x07 \x1f</title><link>https://hostile.example/\x00nul</link>"
              b"<description>a\x00b\x08c</description></item></channel></rss>"),
         entries=1),
    Case("utf16-declared-utf8-bytes", "UTF-8 bytes declaring encoding=\"utf-16\", served without a charset",
         body(rss(VALID_ITEMS, declaration='<?xml version="1.0" encoding="utf-16"?>').encode(),
              content_type="application/xml"), error=r"parse: .*not a readable feed"),
    Case("latin1-bytes-as-utf8", "Latin-1 bytes served as charset=utf-8 (invalid UTF-8)",
         body(rss([item("Homs caf\u00e9 \u00e0 la une", link="https://hostile.example/l1")],
                  declaration='<?xml version="1.0" encoding="utf-8"?>').encode("latin-1")), entries=1),
    Case("utf7-xss", "a UTF-7 declaration hiding <script> as +ADw-script+AD4-",
         body(rss([item("Homs +ADw-script+AD4-alert(1)+ADw-/script+AD4-", raw=True, link="https://hostile.example/u7",
                        description="+ADw-img src=x onerror=alert(1)+AD4-")],
                  declaration='<?xml version="1.0" encoding="utf-7"?>').encode(), content_type="application/xml"),
         entries=1),
    # ------------------------------------------------ not feeds, or not whole
    Case("html-page", "an HTML page (with a script) served as a feed",
         body(b"<!DOCTYPE html><html><head><title>Homs</title><script>alert(1)</script></head>"
              b"<body><h1>Homs</h1><p>Not a feed.</p></body></html>", content_type="text/html; charset=utf-8"),
         error=r"parse: .*(HTML page|not a readable feed|no RSS)"),
    Case("zero-bytes", "a 200 with an empty body", body(b""), error=r"parse: .*empty"),
    Case("whitespace-only", "a body of blank lines and a BOM", body(b"\xef\xbb\xbf \r\n\t\n"), error=r"parse: .*empty"),
    Case("truncated-transfer", "the server closes the connection halfway through a Content-Length body",
         _truncated_transfer, error=r"fetch: .*(connection failed|peer closed|incomplete)"),
    Case("truncated-xml", "a complete response whose XML stops inside the third entry's title: read leniently",
         body(truncated_xml), entries=3),
    Case("json-deep-nesting", "100,000 nested JSON arrays (RecursionError in json.loads)",
         body(b"{\"version\": \"https://jsonfeed.org/version/1.1\", \"items\": " + b"[" * 100_000 + b"]" * 100_000 + b"}",
              content_type="application/feed+json"), error=r"parse: .*(invalid JSON|recursion)"),
    # ------------------------------------------------ size and time
    Case("entries-50000", "50,000 entries (25x the per-feed limit): refused before parsing",
         body(lambda: feed_of(50_000)), error=r"parse: .*more than 10,000 entries"),
    Case("title-10mb", "one entry whose title is 10 MB of text: cut to 1,000 characters",
         body(huge_title), entries=1, memory_mib=96),
    Case("nesting-20000", "markup nested 20,000 levels deep in one description",
         body(lambda: nested(20_000)), entries=1),
    Case("tag-flood", "300,000 empty unknown elements in one entry (parse-time bomb): refused",
         body(lambda: tag_flood(300_000)), error=r"parse: .*tags, over the"),
    Case("gzip-bomb", "100 MB of zeros gzipped once (~100 KB on the wire)",
         raw(lambda: gzip_bomb(100 << 20, layers=1), headers={"Content-Encoding": "gzip"}),
         error=r"fetch: .*over the .*cap after decompression"),
    Case("gzip-bomb-chained", "Content-Encoding: gzip, gzip: 100 MB in a few hundred bytes",
         raw(lambda: gzip_bomb(100 << 20, layers=2), headers={"Content-Encoding": "gzip, gzip"}),
         error=r"fetch: .*over the .*cap after decompression"),
    Case("encoding-stack", "five stacked gzip layers announced",
         raw(lambda: gzip.compress(b"x", mtime=0), headers={"Content-Encoding": "gzip, gzip, gzip, gzip, gzip"}),
         error=r"fetch: .*stacks 5 encodings"),
    Case("corrupt-gzip", "Content-Encoding: gzip over bytes that are not gzip",
         raw(b"\x1f\x8b\x08\x00garbage-that-is-not-deflate" * 10, headers={"Content-Encoding": "gzip"}),
         error=r"fetch: .*gzip body is corrupt"),
    Case("content-length-lie", "Content-Length: 10^12 announced",
         body(b"<rss/>", headers={"Content-Length": str(10**12)}),
         error=r"fetch: .*(Content-Length .* over the|connection failed)"),
    Case("endless-body", "a chunked body that never ends: stops at the byte cap (or the deadline)",
         lambda srv, srv6: srv.route("/feed", endless=True),
         error=r"fetch: .*(over the .*cap|deadline)"),
    Case("drip", "a valid feed sent one byte every 50 ms: the total deadline ends it",
         body(rss(VALID_ITEMS).encode(), drip=0.05), error=r"fetch: .*deadline"),
    Case("slow-headers", "the status line comes after 3 s",
         body(rss(VALID_ITEMS).encode(), delay=3.0), error=r"fetch: .*(deadline|timed out)"),
    # ------------------------------------------------ redirects
    Case("redirect-loop", "/feed -> /loop-b -> /feed", _redirect_loop, error=r"fetch: .*redirect loop"),
    Case("redirect-forever", "every answer redirects to a new URL", _redirect_forever,
         error=r"fetch: .*more than 5 redirects"),
    Case("redirect-to-10.0.0.1", "a redirect to a private (RFC 1918) address",
         redirect_to("http://10.0.0.1/feed"), error=r"10\.0\.0\.1 is private \(RFC 1918\).*SSRF guard"),
    Case("redirect-to-metadata", "a redirect to the cloud metadata address 169.254.169.254",
         redirect_to("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
         error=r"169\.254\.169\.254.*link-local"),
    Case("redirect-to-unspecified", "a redirect to http://0:PORT/ (0.0.0.0 reaches local listeners on Linux)",
         redirect_to(lambda srv: f"http://0:{srv.port}/private-target"),
         error=r"unspecified", never_hit=(("v4", "/private-target"),)),
    Case("redirect-to-file", "a redirect to file:///etc/passwd",
         redirect_to("file:///etc/passwd"), error=r"fetch: .*redirect to a file: URL refused", forbidden=(PASSWD,)),
    Case("redirect-to-ipv6-loopback", "a redirect to http://[::1]:PORT/ (only 127.0.0.1/32 is allowed)",
         lambda srv, srv6: redirect_to(f"http://[::1]:{srv6.port if srv6 else srv.port}/feed")(srv, srv6),
         error=r"::1.*loopback", never_hit=(("v6", "/feed"),)),
    # ------------------------------------------------ loopback in other notations
    Case("url-ipv6-loopback", "a feed URL http://[::1]:PORT/ (a server listens there; not allowed)",
         url_of(lambda srv, srv6: f"http://[::1]:{srv6.port if srv6 else srv.port}/feed"),
         error=r"::1.*loopback", never_hit=(("v6", "/feed"),), needs_v6=True),
    Case("url-ipv4-mapped", "http://[::ffff:127.0.0.2]:PORT/: IPv4-mapped loopback outside the allow-list",
         url_of(lambda srv, srv6: f"http://[::ffff:127.0.0.2]:{srv.port}/feed"),
         error=r"IPv4-mapped form of 127\.0\.0\.2, loopback"),
    Case("url-decimal", "http://2130706434:PORT/ (127.0.0.2 as one decimal number)",
         url_of(lambda srv, srv6: f"http://2130706434:{srv.port}/feed"), error=r"127\.0\.0\.2 is loopback"),
    Case("url-hex-short", "http://0x7f.2:PORT/ (127.0.0.2, hex and short form)",
         url_of(lambda srv, srv6: f"http://0x7f.2:{srv.port}/feed"), error=r"127\.0\.0\.2 is loopback"),
    Case("url-octal", "http://0177.0.0.02:PORT/ (127.0.0.2 in octal)",
         url_of(lambda srv, srv6: f"http://0177.0.0.02:{srv.port}/feed"), error=r"127\.0\.0\.2 is loopback"),
    Case("url-zero", "http://0:PORT/ (0.0.0.0: the kernel delivers it to the 127.0.0.1 listener)",
         url_of(lambda srv, srv6: f"http://0:{srv.port}/feed"), error=r"0\.0\.0\.0 is unspecified",
         never_hit=(("v4", "/feed"),)),
    Case("url-allowed-spellings", "http://0x7f.1:PORT/ is 127.0.0.1, the allowed address: read like it",
         url_of(lambda srv, srv6: f"http://0x7f.1:{srv.port}/feed"), entries=1),
    Case("url-mapped-allowed", "http://[::ffff:127.0.0.1]:PORT/ is 127.0.0.1 too: allowed",
         url_of(lambda srv, srv6: f"http://[::ffff:127.0.0.1]:{srv.port}/feed"), entries=1),
    Case("url-file-scheme", "a feed URL file:///etc/passwd (not a configured local feed)",
         lambda srv, srv6: "file:///etc/passwd", error=r"(reading local files is off|file://)", forbidden=(PASSWD,)),
    # ------------------------------------------------ content that must be made inert
    Case("evil-links", "entry links with javascript:, data:, vbscript:, file: (in browser-tolerated spellings)",
         body(links_feed), entries=len(EVIL_LINKS)),
    Case("evil-html", "<script>, event handlers, javascript:/data: URLs, forms, mXSS in content",
         body(lambda: html_feed(EVIL_HTML, "html")), entries=len(EVIL_HTML), forbidden=('alert("xss")',)),
    Case("evil-css", "<style>, style= attributes, expression(), -moz-binding, <link rel=stylesheet>",
         body(lambda: html_feed(EVIL_CSS, "css")), entries=len(EVIL_CSS),
         forbidden=("expression(", "-moz-binding", "tracker.example")),
    Case("header-injection", "titles with CRLF + Bcc:, encoded-word newlines, U+2028, NEL, ANSI, bidi overrides",
         body(titles_feed), entries=len(EVIL_TITLES), forbidden=("\u202e",)),
    Case("json-feed-hostile", "a JSON Feed with javascript: URLs, <script> HTML and a CRLF title",
         body(lambda: json_feed([
             {"id": "j1", "url": "javascript:alert(1)", "title": "Homs\r\nBcc: x@example.org",
              "content_html": "<script>alert(1)</script><p onclick='alert(1)'>Homs</p>"},
             {"id": "j2", "url": "data:text/html,x", "external_url": "https://hostile.example/j2",
              "title": "Homs two", "content_html": "<img src='javascript:alert(1)'>"},
         ]), content_type="application/feed+json"), entries=2),
)


def cases_by_name() -> dict[str, Case]:
    return {c.name: c for c in CASES}


# --------------------------------------------------------------- on disk

_STATIC = {
    "entity-blowup.xml": entity_blowup,
    "billion-laughs.xml": billion_laughs,
    "xxe-file.xml": xxe,
    "xxe-in-utf16.xml": xxe_in_utf16,
    "entries-50000.xml": lambda: feed_of(50_000),
    "title-10mb.xml": huge_title,
    "nesting-20000.xml": lambda: nested(20_000),
    "tag-flood.xml": lambda: tag_flood(300_000),
    "evil-links.xml": links_feed,
    "evil-html.xml": lambda: html_feed(EVIL_HTML, "html"),
    "evil-css.xml": lambda: html_feed(EVIL_CSS, "css"),
    "header-injection.xml": titles_feed,
    "gzip-bomb-chained.gz": lambda: gzip_bomb(100 << 20, layers=2),
}


def write_all(directory: Path) -> list[Path]:
    """Write the static bodies to ``directory`` (server behaviours are not files)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in _STATIC.items():
        path = directory / name
        path.write_bytes(make())
        written.append(path)
    return written


if __name__ == "__main__":  # python -m tests.hostile.generate DIR
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.hostile.generate DIR")
    for p in write_all(Path(sys.argv[1])):
        print(f"{p} ({p.stat().st_size:,} bytes)")
