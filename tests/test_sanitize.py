"""monitor.sanitize: the rules that make feed content safe to show and mail."""

from __future__ import annotations

import html as htmllib
import json
import random
import re
from pathlib import Path

import nh3
import pytest

from monitor.sanitize import (
    ALLOWED_TAGS,
    MAX_URL_CHARS,
    clean_html,
    clean_html_and_text,
    html_to_text,
    safe_url,
    strip_controls,
)

DATA = Path(__file__).parent / "data" / "parse"

# ---------------------------------------------------------------- clean_html


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # kept as they are
        ("<p>a <b>b</b> <i>i</i> <em>e</em> <strong>s</strong></p>", "<p>a <b>b</b> <i>i</i> <em>e</em> <strong>s</strong></p>"),
        ("<ul><li>one</li></ul><ol><li>two</li></ol>", "<ul><li>one</li></ul><ol><li>two</li></ol>"),
        ("<blockquote>q</blockquote><h2>h2</h2><h3>h3</h3><h4>h4</h4>", "<blockquote>q</blockquote><h2>h2</h2><h3>h3</h3><h4>h4</h4>"),
        ("a<br>b", "a<br>b"),
        # removed, their text kept
        ("<h1>Title</h1>", "Title"),
        ("<font color=red>x</font><marquee>y</marquee>", "xy"),
        ("<form action='https://evil.example/'><input name=pw>pw</form>", "pw"),
        ("<button onclick='x()'>press</button>", "press"),
        # removed with their content
        ("<script>alert(1)</script>ok", "ok"),
        ("<style>body{display:none}</style>ok", "ok"),
        ("<iframe src='https://evil.example/'>frame</iframe>ok", "ok"),
        ("<object data='x.swf'>obj</object>ok", "ok"),
        ("<svg><script>alert(1)</script><text>t</text></svg>ok", "ok"),
        ("<noscript><img src='/pixel.gif'></noscript>ok", "ok"),
        ("<template><p>t</p></template>ok", "ok"),
        # attributes: only the allow-list
        ("<p onclick='x()' style='color:red' class='c' id='i'>p</p>", "<p>p</p>"),
        ("<div data-x='1' title='t' dir='rtl' lang='ar'>d</div>", '<div title="t" dir="rtl" lang="ar">d</div>'),
        ('<td colspan="2" onmouseover="x()">c</td>', "c"),  # a lone td is not a table (html5 parsing)
        # comments dropped
        ("a<!-- secret -->b", "ab"),
        # URL schemes
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="  JaVaScRiPt:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="vbscript:x">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="data:text/html,x">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="file:///etc/passwd">x</a>', '<a rel="noopener noreferrer">x</a>'),
        ('<a href="mailto:ed@example.com">m</a>', '<a href="mailto:ed@example.com" rel="noopener noreferrer">m</a>'),
        ('<a href="https://ok.example/" rel="opener" target="_blank">x</a>', '<a href="https://ok.example/" rel="noopener noreferrer">x</a>'),
        ('<img src="data:image/png;base64,AAAA" alt="a">', '<img loading="lazy" referrerpolicy="no-referrer" alt="a">'),
        ('<img src="https://img.example/a.png" onerror="x()">', '<img loading="lazy" referrerpolicy="no-referrer" src="https://img.example/a.png">'),
        # relative URLs are dropped without a base
        ('<a href="/local">l</a>', '<a rel="noopener noreferrer">l</a>'),
        # text is escaped
        ("3 < 4 &amp; 5 > 2", "3 &lt; 4 &amp; 5 &gt; 2"),
    ],
)
def test_clean_html(html: str, expected: str):
    assert clean_html(html) == expected


def test_relative_urls_resolve_against_the_base():
    html = '<a href="../b">b</a><img src="c.png"><a href="//cdn.example/d">d</a>'
    assert clean_html(html, base_url="https://site.example/x/y/z") == (
        '<a href="https://site.example/x/b" rel="noopener noreferrer">b</a>'
        '<img loading="lazy" referrerpolicy="no-referrer" src="https://site.example/x/y/c.png">'
        '<a href="https://cdn.example/d" rel="noopener noreferrer">d</a>'
    )


def test_an_unsafe_base_is_no_base():
    assert clean_html('<a href="x">x</a>', base_url="javascript:alert(1)//") == '<a rel="noopener noreferrer">x</a>'


def test_output_is_the_same_on_every_call():
    # nh3's set_tag_attribute_values orders attributes differently from call
    # to call; content that changes bytes on every poll looks like an update.
    html = '<p><img src="https://i.example/a.png" alt="a" width="10"> <a href="https://a.example/">a</a></p>'
    assert len({clean_html(html) for _ in range(50)}) == 1


def test_no_tag_outside_the_allow_list_survives():
    rng = random.Random(7)
    tags = sorted(ALLOWED_TAGS | {"script", "iframe", "form", "input", "object", "embed", "style", "link", "meta",
                                  "base", "svg", "math", "video", "audio", "frame", "h1", "body", "html"})  # fmt: skip
    for _ in range(200):
        html = "".join(
            f"<{t} onload='x()' href='javascript:y()' src='data:z'>{rng.choice(['t', '<', '&', ''])}"
            for t in rng.choices(tags, k=8)
        )
        out = clean_html(html)
        for name in re.findall(r"<([a-z0-9]+)", out):
            assert name in ALLOWED_TAGS, (html, out)
        assert "javascript" not in out and "onload" not in out and "data:" not in out


# -------------------------------------------------------------- html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a b"),
        ("a<br>b<br/>c", "a b c"),
        ("<ul><li>one</li><li>two</li></ul>", "one two"),
        ("<h1>Head</h1>Body", "Head Body"),  # h1 is removed by clean_html but still separates
        ("<section>s</section><article>a</article>", "s a"),
        ("<b>bo</b>ld <a href='x'>li</a>nk", "bold link"),  # inline tags join
        ("Fish &amp; chips &mdash; &#8220;quoted&#8221; &nbsp;x", "Fish & chips — “quoted” x"),
        ("<script>var x = 1;</script><style>p{}</style>text", "text"),
        ("3 &lt; 4 and 5 > 2", "3 < 4 and 5 > 2"),
        ("  lots \n\n of \t space  ", "lots of space"),
        ("<img alt='x > y' src='https://i.example/a.png'>after", "after"),
        ("plain text, no markup", "plain text, no markup"),
        ("line\u2028break\x00nul\x85nel", "line breaknul nel"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str):
    assert html_to_text(html) == text


def _fixture_html() -> list[str]:
    out = []
    for p in DATA.glob("*.expected.json"):
        for e in json.loads(p.read_text(encoding="utf-8")).get("entries", []):
            out.append(e["content_html"])
    return out


def _oracle_text(html: str) -> str:
    """Text by another route: nh3 with no tags at all after marking blocks."""
    blocks = (
        "address|article|aside|blockquote|br|caption|dd|div|dl|dt|figcaption|figure|footer|h[1-6]|header|hr"
        "|img|li|main|nav|ol|p|pre|section|table|td|th|tr|ul"
    )
    marked = re.sub(rf"<(?=/?(?:{blocks})\b)", " <", html, flags=re.IGNORECASE)
    drop = {"script", "style", "noscript", "iframe", "object", "template", "svg", "math", "title", "head"}
    return " ".join(htmllib.unescape(nh3.clean(marked, tags=set(), clean_content_tags=drop)).split())


def test_text_read_off_sanitised_html_equals_text_by_another_route():
    samples = _fixture_html() + [
        "<p>a</p>b<h1>c</h1><div>d<span>e</span></div><table><tr><td>f</td><td>g</td></tr></table>",
        "<a title='q>'>l</a>i<img alt='<b>'>",
        "<ul><li>x<li>y</ul><pre>p  re</pre><blockquote>q</blockquote>&lt;tag&gt; &amp;amp;",
        "<script>no</script><style>no</style><iframe>no</iframe>yes",
    ]
    for html in samples:
        cleaned, text = clean_html_and_text(html)
        assert text == html_to_text(html) == _oracle_text(html), html


# ------------------------------------------------------------------ safe_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a?b=c#d", "https://example.com/a?b=c#d"),
        ("http://example.com", "http://example.com"),
        ("HTTPS://EXAMPLE.COM/X", "HTTPS://EXAMPLE.COM/X"),
        ("  https://example.com/trimmed  ", "https://example.com/trimmed"),
        ("https://example.com/with space", "https://example.com/with%20space"),
        ("javascript:alert(1)", None),
        (" \x01javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("vbscript:msgbox(1)", None),
        ("file:///etc/passwd", None),
        ("mailto:a@example.com", None),
        ("ftp://example.com/f", None),
        ("//example.com/no-scheme", None),
        ("/relative", None),
        ("https://", None),
        ("https:///no-host", None),
        ("http://[::1", None),  # malformed IPv6
        ("http://example.com:99999/", None),  # malformed port
        ("https://example.com/\x00nul", None),
        ("https://example.com/\x7fdel", None),
        ("https://example.com/" + "a" * MAX_URL_CHARS, None),
        ("", None),
        (None, None),
    ],
)
def test_safe_url(url, expected):
    assert safe_url(url) == expected


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/a", "https://site.example/x/y", "https://site.example/a"),
        ("b", "https://site.example/x/y", "https://site.example/x/b"),
        ("//cdn.example/c", "https://site.example/", "https://cdn.example/c"),
        ("https://other.example/", "https://site.example/", "https://other.example/"),
        ("javascript:x", "https://site.example/", None),
        ("/a", "javascript:alert(1)//", None),  # an unsafe base is no base
        ("/a", None, None),
    ],
)
def test_safe_url_with_a_base(url, base, expected):
    assert safe_url(url, base=base) == expected


# ------------------------------------------------------------ strip_controls


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("Subject\r\nBcc: victim@example.com", "Subject Bcc: victim@example.com"),
        ("a\nb\rc\td\x0be\x0cf", "a b c d e f"),
        ("a\x00b\x07c\x1bd\x7fe", "abcde"),
        ("c1\x80\x9fcontrols", "c1controls"),
        ("nel\x85line\u2028para\u2029end", "nel line para end"),
        ("bidi \u202eevil\u202c and \u2066isolate\u2069", "bidi evil and isolate"),
        ("  padded   and   spaced  ", "padded and spaced"),
        ("normal title", "normal title"),
        ("Ünïcödé — “quotes” 日本語", "Ünïcödé — “quotes” 日本語"),
        ("", ""),
    ],
)
def test_strip_controls(s: str, expected: str):
    assert strip_controls(s) == expected


def test_strip_controls_output_is_safe_for_a_mail_header():
    rng = random.Random(3)
    alphabet = "ab \r\n\t\x00\x0b\x1f\x7f\x85\u2028\u2029\u202e\u2066é"
    for _ in range(500):
        out = strip_controls("".join(rng.choices(alphabet, k=20)))
        assert not any(ch in out for ch in "\r\n\t\x00\x0b\x1f\x7f\x85\u2028\u2029\u202e\u2066")
        assert out == out.strip() and "  " not in out


def test_strip_controls_can_keep_newlines():
    assert strip_controls("a\r\nb\tc\x00d\u202e", keep_newlines=True) == "a\r\nb\tcd"
