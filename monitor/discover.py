"""Feed discovery: a web page's <link rel="alternate"> feeds."""

from __future__ import annotations

from urllib.parse import urljoin

from lxml import html as lxml_html

from .errors import FetchError, ParseError
from .records import FeedToPoll, FetchStatus

FEED_TYPES = {
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
    "application/json", "application/xml", "text/xml",
}


def feed_links(page: bytes, base_url: str) -> list[tuple[str, str]]:
    """(absolute url, title) of the feeds a page links, in page order."""
    try:
        doc = lxml_html.fromstring(page)
    except Exception:
        return []
    out: list[tuple[str, str]] = []
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        typ = (link.get("type") or "").lower().split(";")[0].strip()
        href = link.get("href")
        if "alternate" in rel and typ in FEED_TYPES and href:
            url = urljoin(base_url, href.strip())
            if url.startswith(("http://", "https://")) and url not in [u for u, _ in out]:
                out.append((url, (link.get("title") or "").strip()))
    return out


def looks_like_feed(body: bytes, content_type: str) -> bool:
    ct = content_type.lower()
    if any(t in ct for t in ("rss", "atom", "rdf", "feed+json")):
        return True
    head = body[:2048].lstrip().lower()
    return head.startswith(b"{") or (b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head)


def discover_feeds(url: str, *, fetcher) -> list[tuple[str, str]]:
    """The URL itself when it is a feed, else the feeds its page links.
    Raises ParseError when there are none."""
    fetched = fetcher.fetch(FeedToPoll(id=0, name="discover", url=url))
    if fetched.status is not FetchStatus.OK or fetched.body is None:
        raise FetchError(url, "no content to discover feeds in")
    if looks_like_feed(fetched.body, fetched.headers.get("content-type", "")):
        return [(fetched.final_url, "")]
    links = feed_links(fetched.body, fetched.final_url)
    if not links:
        raise ParseError(url, 'neither a feed nor a page with <link rel="alternate"> feeds; give the feed URL')
    return links
