"""Level 1 dedup: URL canonicalisation and content fingerprints, as tables."""

from __future__ import annotations

import pytest

from monitor.dedup import canonical_url, content_fingerprint

# (input, canonical form, why)
URLS = [
    # RFC 3986 6.2.2.1 / 6.2.3: scheme and host case, default ports, fragment
    ("HTTPS://Example.COM/News/Story", "https://example.com/News/Story", "scheme and host are case-insensitive, the path is not"),
    ("https://example.com:443/a", "https://example.com/a", "default https port"),
    ("http://example.com:80/a", "http://example.com/a", "default http port"),
    ("https://example.com:8443/a", "https://example.com:8443/a", "a non-default port is part of the identity"),
    ("https://example.com/a#comments", "https://example.com/a", "the fragment never reaches the server"),
    ("https://example.com", "https://example.com/", "an empty path is the root"),
    ("https://example.com/a/b/", "https://example.com/a/b", "one trailing slash dropped"),
    ("https://example.com/a//b", "https://example.com/a/b", "repeated slashes collapse"),
    ("https://user:secret@example.com/a", "https://example.com/a", "credentials are not part of an article's identity"),
    ("https://example.com./a", "https://example.com/a", "the root-label dot"),
    # tracking parameters
    ("https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x", "https://example.com/a", "Google Analytics utm_*"),
    ("https://example.com/a?fbclid=IwAR0abc", "https://example.com/a", "Facebook click id"),
    ("https://example.com/a?gclid=Cj0KCQ&dclid=1&msclkid=2", "https://example.com/a", "ad click ids"),
    ("https://example.com/a?mc_cid=abc&mc_eid=def", "https://example.com/a", "Mailchimp"),
    ("https://example.com/a?ocid=msedgntp&igshid=xyz", "https://example.com/a", "MSN and Instagram"),
    ("https://example.com/a?ref=homepage&cmpid=share&_ga=2.1", "https://example.com/a", "campaign tags"),
    ("https://example.com/a?UTM_Source=x", "https://example.com/a", "parameter names compared case-insensitively"),
    # meaningful parameters are kept, sorted
    ("https://example.com/article?id=42&utm_source=x", "https://example.com/article?id=42", "an id selects content"),
    ("https://example.com/search?q=hama&page=2", "https://example.com/search?page=2&q=hama", "kept parameters are sorted"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2", "order carries no meaning"),
    ("https://example.com/a?q=a+b", "https://example.com/a?q=a%20b", "+ and %20 are one space"),
    # AMP renderings
    ("https://example.com/world/story/amp", "https://example.com/world/story", "/amp suffix"),
    ("https://example.com/world/story/amp/", "https://example.com/world/story", "/amp/ suffix"),
    ("https://example.com/amp/world/story", "https://example.com/world/story", "/amp/ segment"),
    ("https://example.com/world/story.amp", "https://example.com/world/story", ".amp suffix"),
    ("https://example.com/world/story?amp", "https://example.com/world/story", "?amp flag"),
    ("https://example.com/world/story?amp=1", "https://example.com/world/story", "?amp=1 flag"),
    ("https://example.com/world/story?outputType=amp", "https://example.com/world/story", "outputType=amp"),
    ("https://example.com/world/story?outputType=xml", "https://example.com/world/story?outputType=xml", "other output types are content"),
    ("https://amp.example.com/world/story", "https://example.com/world/story", "amp. host"),
    ("https://example.com/campaign/ampersand", "https://example.com/campaign/ampersand", "a word starting with amp is not AMP"),
    # mobile hosts
    ("https://m.example.com/story", "https://example.com/story", "m. host"),
    ("https://mobile.example.com/story", "https://example.com/story", "mobile. host"),
    ("https://m.bbc.co.uk/news/1", "https://bbc.co.uk/news/1", "m. in front of a two-label suffix"),
    ("https://m.co.uk/news/1", "https://m.co.uk/news/1", "folding would leave a public suffix"),
    ("https://www.example.com/story", "https://www.example.com/story", "www. is kept: some sites differ without it"),
    # internationalised host names (RFC 5891) and escapes (RFC 3986 6.2.2.2)
    ("https://bücher.example/a", "https://xn--bcher-kva.example/a", "IDN host to punycode"),
    ("https://xn--bcher-kva.example/a", "https://xn--bcher-kva.example/a", "punycode stays punycode"),
    ("https://example.com/%7euser", "https://example.com/~user", "unreserved escapes decoded"),
    ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9", "other escapes upper-cased"),
    ("https://example.com/café", "https://example.com/caf%C3%A9", "raw non-ASCII escaped"),
]


@pytest.mark.parametrize(("url", "expected", "why"), URLS, ids=[u[2] for u in URLS])
def test_canonical_url(url: str, expected: str, why: str) -> None:
    assert canonical_url(url) == expected, why


@pytest.mark.parametrize(
    "url",
    ["", "   ", "ftp://example.com/a", "mailto:desk@example.com", "javascript:alert(1)", "/relative/path",
     "https://", "http://[::1", "https://example.com:99999/a"],
)
def test_not_an_article_url(url: str) -> None:
    assert canonical_url(url) is None


def test_canonical_url_is_idempotent() -> None:
    for url, expected, _ in URLS:
        assert canonical_url(expected) == expected, url


LONG = (
    "Rebels led by Hayat Tahrir al-Sham entered the central Syrian city of Hama on Thursday after "
    "days of fighting, and the army said it had redeployed its troops outside the city to protect "
    "civilians, the second major city to fall in a week."
)

# (title A, text A, title B, text B, same fingerprint?, why)
FINGERPRINTS = [
    ("Hama falls", LONG, "Hama falls", LONG, True, "identical"),
    ("Hama falls", LONG, "Rebels take Hama", LONG, True, "a new headline on the same body"),
    ("Hama falls", LONG, "Hama falls", LONG.upper(), True, "case"),
    ("Hama falls", LONG, "Hama falls", "  " + LONG.replace(" ", "\u00a0 ") + "\n", True, "white space and no-break spaces"),
    ("Hama falls", LONG, "Hama falls", LONG.replace(",", " ,").replace("-", "\u2010"), True, "punctuation"),
    ("Hama falls", LONG, "Hama falls", LONG.replace("Hama", "\uff28ama"), True, "full-width letters (NFKC)"),
    ("Hama falls", LONG, "Hama falls", LONG.replace("Thursday", "Friday"), False, "one word changed"),
]


@pytest.mark.parametrize(("ta", "a", "tb", "b", "same", "why"), FINGERPRINTS, ids=[f[5] for f in FINGERPRINTS])
def test_content_fingerprint(ta: str, a: str, tb: str, b: str, same: bool, why: str) -> None:
    fa, fb = content_fingerprint(ta, a), content_fingerprint(tb, b)
    assert fa is not None and fb is not None
    assert len(fa) == 64 and int(fa, 16) >= 0
    assert (fa == fb) is same, why


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Live: latest updates", ""),
        ("Breaking news", "More to follow."),
        ("Syrian rebels seize Hama as army withdraws from the city", "Developing story."),
        ("", ""),
    ],
)
def test_too_little_text_has_no_fingerprint(title: str, text: str) -> None:
    assert content_fingerprint(title, text) is None


def test_short_body_uses_the_title_too() -> None:
    body = "Rebels entered the city of Hama on Thursday as the army withdrew, a war monitor said."
    a = content_fingerprint("Syrian rebels seize the central city of Hama after days of heavy fighting", body)
    b = content_fingerprint("Hama falls to the rebels in the second major blow to the government in a week", body)
    assert a is not None and b is not None and a != b
