"""Rendering the digest and pages: hostile feed content stays inert in HTML,
text and JSON; right-to-left headlines; the empty day; the SVG charts; the
email digest through a real SMTP server."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone

import jsonschema
import lxml.html
import pytest

from monitor import render
from monitor.digest import DigestSpec, build_digest
from monitor.records import Digest, FeedActivity, FeedHealth, Match, MatchSighting, SourceLink, StoryActivity
from tests.support.dbfill import ARABIC_TITLE, HOSTILE_HTML, HOSTILE_TITLE, HOSTILE_URL, PWNED
from tests.support.htmlcheck import assert_inert

UTC = timezone.utc
H = timedelta(hours=1)
NOW = datetime(2024, 5, 14, 5, tzinfo=UTC)  # 07:00 Europe/Berlin
SPEC = DigestSpec("daily", "Europe/Berlin", "07:00", timedelta(days=1), 20, timedelta(hours=48))
HOSTILE_WATCH = '<b onmouseover="x()">Dam"</b>'


def link(source: str, title: str, url: str | None, hours_ago: float) -> SourceLink:
    return SourceLink(source=source, title=title, url=url, when=NOW - hours_ago * H)


def stories() -> list[StoryActivity]:
    hostile_sources = (
        link("Hostile Daily", HOSTILE_TITLE, HOSTILE_URL, 8),
        link('AFP"><script>alert(1)</script>', "Rebels advance near Tabqa dam", "https://afp.example/dam", 7),
        link("Data", "data url", "data:text/html,<script>alert(1)</script>", 6),
    )
    return [
        StoryActivity(
            story_id=1,
            title=HOSTILE_TITLE,
            lead=f"Rebels <b>advance</b> \x1b[2J near the dam{HOSTILE_HTML}",
            first_seen=NOW - 8 * H,
            last_updated=NOW - 6 * H,
            sources=hostile_sources,
            new_sources_in_period=3,
            matches=(Match(HOSTILE_WATCH, "<img src=x onerror=alert(1)>", "title", "<script>x</script> dam"),),
            articles=hostile_sources,
            content_html=HOSTILE_HTML,
        ),
        StoryActivity(
            story_id=2,
            title=ARABIC_TITLE,
            lead="تقارير عن معارك في حمص",
            first_seen=NOW - 10 * H,
            last_updated=NOW - 10 * H,
            sources=(link("Al Jazeera", ARABIC_TITLE, "https://aljazeera.example/ar", 10),),
            new_sources_in_period=1,
            matches=(Match("Homs", "حمص", "title", "السيطرة على حمص"),),
        ),
        StoryActivity(
            story_id=3,
            title="Earthquake shakes the coast",
            lead="A magnitude 6.1 earthquake struck offshore.",
            first_seen=NOW - 5 * H,
            last_updated=NOW - 3 * H,
            sources=(link("Reuters", "Quake", "https://reuters.example/q", 5), link("BBC", "Quake", "https://bbc.example/q", 3)),
            new_sources_in_period=2,
        ),
    ]


def sightings() -> list[tuple[str, datetime]]:
    return [("Homs", NOW - timedelta(days=d, hours=1)) for d in (0, 0, 0, 2, 5, 5)] + [(HOSTILE_WATCH, NOW - H)]


def feeds() -> list[FeedActivity]:
    return [
        FeedActivity("broken<script>", "javascript:alert(1)", NOW - 30 * 24 * H, NOW - 50 * H,
                     "fetch: HTTP 503 <img src=x onerror=alert(1)>\x1b[0m", None, NOW - 60 * H),
        FeedActivity("quiet", "https://quiet.example/feed", NOW - 30 * 24 * H, None, None, None, NOW - 72 * H),
    ]


@pytest.fixture
def digest() -> Digest:
    return build_digest(
        SPEC, date(2024, 5, 14), stories=stories(), feeds=feeds(), sightings=sightings(),
        watch_priorities={"Homs": 5, HOSTILE_WATCH: 3},
    )


def test_hostile_content_is_inert_in_the_digest_html(digest):
    html, _ = render.render_digest(digest)
    doc = assert_inert(html)
    # the hostile headline is shown as the text it is, not interpreted
    h3 = doc.xpath('//div[@data-story-id="1"]//h3')[0]
    assert h3.text_content().startswith("<script>document.title='pwned'</script>Rebels advance")
    assert "\x1b" not in html and "\u202e" not in html
    # the javascript: link of the hostile source is not a link; the title links to a safe source
    assert doc.xpath('//div[@data-story-id="1"]//h3/a/@href') == ["https://afp.example/dam"]
    assert not doc.xpath('//a[contains(@href, "data:")]')
    assert doc.xpath("//title")[0].text_content().startswith("Daily digest 2024-05-14")
    assert PWNED not in doc.xpath("//title")[0].text_content()


def test_hostile_content_is_inert_in_the_text(digest):
    _, text = render.render_digest(digest)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    urls = re.findall(r"\b[a-z]+:[^\s]+", text)
    assert urls and all(u.startswith(("https://", "http://", "fetch:")) for u in urls), urls
    assert "javascript:" not in text and "data:text" not in text
    # text/plain is not HTML: no entity-escaping shows up
    assert "&lt;" not in text and "&amp;" not in text
    assert "Rebels advance" in text


def test_lead_with_markup_is_reduced_to_text(digest):
    html, text = render.render_digest(digest)
    doc = lxml.html.document_fromstring(html)
    lead = doc.xpath('//div[@data-story-id="1"]//p[@class="lead"]')[0]
    assert lead.text_content().startswith("Rebels advance [2J near the dam Eyewitnesses report fighting.")
    assert not lead.xpath(".//*")  # no element at all inside the lead
    assert len(lead.text_content()) <= render.LEAD_CHARS + 1


def test_rtl_headlines_get_dir_auto(digest):
    html, _ = render.render_digest(digest)
    doc = lxml.html.document_fromstring(html)
    headlines = doc.xpath('//h3[@class="headline"]')
    assert len(headlines) == 3 and all(h.get("dir") == "auto" for h in headlines)
    arabic = [h for h in headlines if ARABIC_TITLE in h.text_content()]
    assert len(arabic) == 1 and arabic[0].get("dir") == "auto"
    for p in doc.xpath('//p[@class="lead"]'):
        assert p.get("dir") == "auto"
    snippet = doc.xpath('//span[@dir="auto"][contains(., "السيطرة")]')
    assert snippet


def test_sections_and_feed_health_in_the_html(digest):
    html, _ = render.render_digest(digest)
    doc = lxml.html.document_fromstring(html)
    assert [h.text_content() for h in doc.xpath("//h2")] == [
        "Mentions per watch, last 14 days",
        "Watch: Homs",
        f"Watch: {HOSTILE_WATCH}",
        "Other top stories",
        "Feed health",
    ]
    assert [tr.get("class") for tr in doc.xpath("//tr[starts-with(@class, 'feed-')]")] == ["feed-failing", "feed-silent"]
    assert "fetch: HTTP 503 <img src=x onerror=alert(1)>" in doc.xpath("//tr[@class='feed-failing']")[0].text_content()


def test_mentions_chart_is_inline_svg(digest):
    html, _ = render.render_digest(digest)
    doc = lxml.html.document_fromstring(html)
    (svg,) = doc.xpath("//svg")
    assert svg.get("role") == "img" and "Homs: 6 in 14 days" in svg.get("aria-label")
    # one row per watch, one bar or baseline per day
    assert len(svg.xpath(".//rect")) == 2 * 14
    titles = [t.text_content() for t in svg.xpath(".//rect/title")]
    assert "2024-05-14: 3" in titles
    # the hostile watch name is text inside the SVG, not markup
    assert any(HOSTILE_WATCH[:20] in t.text_content() for t in svg.xpath(".//text"))
    # and the fallback for mail clients that drop SVG
    assert doc.xpath('//span[contains(., "▁")]')


def test_story_page_timeline_and_content_are_safe():
    s = stories()[0]
    html = render.render_story_page(s, tz="Europe/Berlin")
    doc = assert_inert(html)
    svg = doc.xpath('//div[@id="timeline"]/svg')[0]
    assert len(svg.xpath(".//circle")) == len(s.articles)
    assert [t.text_content() for t in svg.xpath(".//text")][:3] == ["Hostile Daily", 'AFP"><script>alert(1)…', "Data"]
    content = doc.xpath('//div[@class="content"]')[0]
    assert "Eyewitnesses report fighting." in content.text_content()
    assert not content.xpath(".//svg|.//img[@onerror]|.//*[@style]")
    assert content.xpath(".//a/@href") == ["https://example.org/ok"]
    assert content.get("dir") == "auto"
    assert len(doc.xpath('//table[@id="reports"]//tr')) == 1 + len(s.articles)


def test_timeline_rows_are_capped():
    arts = [link(f"Source {i}", "t", None, 48 - i) for i in range(40)]
    svg = lxml.html.fragment_fromstring(str(render.timeline_svg(arts, "UTC")))
    assert len(svg.xpath(".//circle")) == render.TIMELINE_ROWS
    assert "and 16 more sources" in svg.text_content()


def test_empty_day():
    d = build_digest(SPEC, date(2024, 5, 14), stories=[])
    html, text = render.render_digest(d)
    doc = assert_inert(html)
    assert doc.xpath('//div[@id="empty-day"]')[0].text_content().startswith("Nothing new.")
    assert not doc.xpath("//h3") and not doc.xpath("//svg")
    assert "Nothing new today" in text
    assert render.digest_subject(d) == "Daily digest 2024-05-14: nothing new"
    assert len(text.splitlines()) < 10


# (counts, sparkline)
SPARKS = [
    ([], ""),
    ([0, 0, 0], "▁▁▁"),
    ([0, 1, 2, 4, 8], "▁▂▃▅█"),
    ([5], "█"),
    ([1, 100], "▂█"),  # a small non-zero count never looks like zero
]


@pytest.mark.parametrize("counts,expected", SPARKS)
def test_sparkline(counts, expected):
    assert render.sparkline(counts) == expected


def test_digest_payload_is_clean_json_and_fits_the_webhook_schema(digest):
    from monitor.notify.payload import ALERT_SCHEMA, digest_to_json, encode_json

    msg = render.digest_message(digest)
    assert msg.id == "digest-daily-2024-05-14"
    assert msg.subject == "Daily digest 2024-05-14: 3 stories, 2 on your watches; 1 feed failing"
    body = digest_to_json(msg, NOW)
    jsonschema.validate(body, ALERT_SCHEMA)
    data = json.loads(encode_json(body))["data"]["digest"]
    assert [s["watch"] for s in data["sections"]] == ["Homs", HOSTILE_WATCH, None]
    hostile = data["sections"][1]["items"][0]
    assert [s["url"] for s in hostile["sources"]] == [None, "https://afp.example/dam", None]
    assert "\x1b" not in json.dumps(data, ensure_ascii=False)
    assert data["feed_health"][0] == {
        "feed": "broken<script>", "url": None, "status": "failing",
        "since": "2024-05-12T03:00:00Z", "last_error": "fetch: HTTP 503 <img src=x onerror=alert(1)>[0m",
    }
    assert data["mentions"]["Homs"][-1] == {"date": "2024-05-14", "count": 3}
    assert data["period"] == {"start": "2024-05-13T05:00:00Z", "end": "2024-05-14T05:00:00Z"}


def test_links_go_to_base_url_story_pages_when_given(digest):
    html, text = render.render_digest(digest, base_url="https://monitor.example/")
    doc = lxml.html.document_fromstring(html)
    assert doc.xpath("//h3/a/@href")[:2] == ["https://monitor.example/story/2", "https://monitor.example/story/1"]
    assert "https://monitor.example/story/3" in text
    html, _ = render.render_digest(digest, base_url="javascript:alert(1)//")
    assert "javascript:" not in html


def test_watches_and_feeds_pages_are_inert():
    from monitor.records import FeedStatus

    m = MatchSighting(1, HOSTILE_TITLE, Match(HOSTILE_WATCH, "<i>x</i>", "title", "<script>y</script>"), NOW)
    html = render.render_watches_page([(HOSTILE_WATCH, 3, [m]), ("Empty", 1, [])], [], tz="UTC")
    doc = assert_inert(html)
    assert doc.xpath("//li/a/@href") == ["/story/1"] and doc.xpath('//li/a[@dir="auto"]')
    assert "No matches yet." in doc.text_content()
    f = FeedStatus(1, "f<script>", "javascript:alert(1)", None, True, "error", 3, "boom <b>", NOW - 5 * H,
                   NOW - H, None, None, None, 0)
    html = render.render_feeds_page([f], [FeedHealth("f<script>", "x", "failing", NOW - 5 * H, "boom")], tz="UTC")
    doc = assert_inert(html)
    assert "failing" in doc.xpath('//table[@id="feeds"]')[0].text_content()


def test_email_digest_arrives_at_a_real_smtp_server_with_both_parts(digest):
    from monitor.notify.email import EmailChannel
    from tests.support.smtpserver import SMTPServer

    msg = render.digest_message(digest)
    with SMTPServer() as smtp:
        channel = EmailChannel("mail", host=smtp.host, port=smtp.port, security="none",
                               sender="monitor@example.org", to=["reader@example.org"])
        channel.send_digest(msg)
        (mail,) = smtp.messages
    m = mail.message
    assert m["Subject"] == msg.subject
    assert m.get_content_type() == "multipart/alternative"
    plain = m.get_body(preferencelist=("plain",)).get_content()
    html = m.get_body(preferencelist=("html",)).get_content()
    assert "Earthquake shakes the coast" in plain and ARABIC_TITLE in plain
    doc = assert_inert(html)
    assert ARABIC_TITLE in doc.text_content()
    assert doc.xpath("//svg") and doc.xpath("//body/@style")


def test_omitted_stories_are_announced():
    many = [StoryActivity(i, f"Homs story {i}", "", NOW - H, NOW - H, (link("R", "t", None, 1),), 1,
                          (Match("Homs", "Homs", "title", "x"),)) for i in range(8)]
    d = build_digest(SPEC, date(2024, 5, 14), stories=many, watch_priorities={"Homs": 1}, watch_limit=5)
    html, text = render.render_digest(d)
    doc = lxml.html.document_fromstring(html)
    assert len(doc.xpath("//h3")) == 5
    assert doc.xpath('//p[@class="omitted"]')[0].text_content() == "and 3 more stories on this watch"
    assert "and 3 more stories" in text
    assert render.digest_subject(d) == "Daily digest 2024-05-14: 8 stories, 8 on your watches"
    assert render.digest_payload(d)["sections"][0]["omitted"] == 3
