"""Drawing the digest and the web pages: records in, HTML, text, SVG and JSON out.

* :func:`render_digest` -- a :class:`~monitor.records.Digest` as a complete
  HTML document and as plain text.  The HTML is made for mail first: inline
  CSS on every element (mail clients drop ``<style>`` and ``<head>``), no
  script, charts as inline SVG drawn here, on the server, plus a small table
  and Unicode sparklines for clients that drop SVG (Gmail does).  The same
  document is the file channel's ``.html`` and, with navigation, the web page.
* :func:`digest_payload` -- the JSON-ready dict the webhook sends;
  :func:`digest_message` bundles all three for the channels.
* :func:`render_story_page`, :func:`render_index`, :func:`render_watches_page`,
  :func:`render_feeds_page` -- the read-only site.
* :func:`mentions_chart_svg`, :func:`timeline_svg`, :func:`sparkline` -- the pictures.

Feed content is hostile.  Templates are rendered by a Jinja2 environment with
``autoescape=True`` (always on, whatever the template name: ``select_autoescape``
decides by file extension, and a mistake there would turn escaping off).  The
only markup that is not escaped is (a) feed HTML that went through
:func:`monitor.sanitize.clean_html` (nh3 with an allow-list; http, https and
mailto URLs only) and (b) the SVG built in this module from numbers and escaped
text.  Every URL goes through :func:`monitor.sanitize.safe_url` (http/https
only) before it is an ``href``; every link gets ``rel="noopener noreferrer"``;
headlines, leads and snippets get ``dir="auto"`` so Arabic and Hebrew read
right to left next to Latin text.

The plain-text templates use a second environment without autoescaping (HTML
entities in a text/plain part would show up literally); there every feed
string is reduced to one line without control characters, bidi overrides or
terminal escapes (:func:`monitor.sanitize.strip_controls`) and every URL is
checked like in HTML.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup, escape

from .records import (
    Digest,
    DigestItem,
    DigestMessage,
    DigestRunInfo,
    FeedHealth,
    FeedStatus,
    MatchSighting,
    SourceLink,
    StoryActivity,
)
from .sanitize import clean_html, html_to_text, safe_url, strip_controls

TEMPLATES = Path(__file__).parent / "templates"

#: a lead longer than this is cut at a word: a digest is read at a glance
LEAD_CHARS = 320
#: the story timeline draws one row per source up to this many; more would
#: make a picture taller than a screen (the table below lists them all)
TIMELINE_ROWS = 24
#: the mentions chart draws at most this many watches, highest priority first
CHART_WATCHES = 12
SPARK = "▁▂▃▄▅▆▇█"

# Inline styles: one place, so mail and web look alike.  No quotes inside the
# values (they sit in double-quoted attributes and are escaped anyway).
STYLE: dict[str, str] = {
    "body": "margin:0;padding:16px;background:#f4f5f7;color:#1d2330;font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45",
    "page": "max-width:760px;margin:0 auto;background:#ffffff;padding:20px 24px;border:1px solid #dde1e7",
    "nav": "max-width:760px;margin:0 auto 12px auto;font-size:14px",
    "navlink": "color:#1f4e8c;text-decoration:none;margin-right:16px;font-weight:bold",
    "h1": "font-size:22px;margin:0 0 4px 0;color:#1d2330",
    "h2": "font-size:18px;margin:28px 0 8px 0;padding-bottom:4px;border-bottom:2px solid #1f4e8c;color:#1f4e8c",
    "h3": "font-size:16px;margin:0 0 4px 0",
    "meta": "color:#5b6475;font-size:13px;margin:0 0 6px 0",
    "item": "margin:0 0 18px 0",
    "lead": "margin:4px 0 6px 0",
    "link": "color:#1f4e8c;text-decoration:underline",
    "title_link": "color:#1d2330;text-decoration:none",
    "why": "margin:4px 0 0 0;font-size:13px;color:#3b4252;background:#fff8e1;padding:4px 8px;border-left:3px solid #e0a800",
    "empty": "margin:24px 0;padding:16px;background:#eef3fa;border-radius:4px",
    "table": "border-collapse:collapse;width:100%;font-size:13px",
    "th": "text-align:left;padding:4px 8px;border-bottom:1px solid #c7ccd6;color:#5b6475",
    "td": "padding:4px 8px;border-bottom:1px solid #eceef2;vertical-align:top",
    "bad": "color:#b3261e;font-weight:bold",
    "good": "color:#1e7a34;font-weight:bold",
    "warn": "color:#8a6100;font-weight:bold",
    "muted": "color:#5b6475",
    "content": "margin:12px 0;padding:12px;background:#fafbfc;border:1px solid #eceef2;overflow-wrap:anywhere",
    "spark": "font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;letter-spacing:1px;color:#1f4e8c",
    "footer": "margin-top:28px;font-size:12px;color:#5b6475",
    "summary": "margin:8px 0 0 0",
    "small": "font-size:13px",
    "note": "color:#5b6475;font-size:13px;font-weight:normal",
    "li": "margin-bottom:6px",
}

HEALTH_LABEL = {"failing": "failing", "recovered": "recovered", "silent": "silent"}
HEALTH_STYLE = {"failing": "bad", "recovered": "good", "silent": "warn"}
#: what FeedHealth.since means for each status
HEALTH_SINCE = {"failing": "since", "recovered": "at", "silent": "last new entry"}


# ----------------------------------------------------------------- helpers


def _zone(tz: str | ZoneInfo | None) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(tz or "UTC")


def local_time(dt: datetime | None, tz: str | ZoneInfo | None = None, fmt: str = "%a %d %b %H:%M") -> str:
    """``dt`` on the wall clock of ``tz`` ("Tue 14 May 07:00"); "" for None."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(_zone(tz)).strftime(fmt)


def plain(s: object) -> str:
    """One line of feed text with no control characters (text and attributes)."""
    return strip_controls(str(s or ""))


def shorten(s: str, limit: int = LEAD_CHARS) -> str:
    s = plain(s)
    if len(s) <= limit:
        return s
    cut = s[:limit].rsplit(" ", 1)[0] or s[:limit]
    return cut.rstrip(" ,.;:") + "…"


def lead_text(lead: str) -> str:
    """A lead as plain text: stored leads are plain, but a lead that still
    carries markup (a feed that double-escaped its summary) is reduced too."""
    return shorten(html_to_text(lead) if "<" in (lead or "") else lead)


def sparkline(counts: Sequence[int]) -> str:
    """``[0, 1, 4]`` -> "▁▂█": a chart that survives plain text and any mail client."""
    top = max(counts, default=0)
    if top <= 0:
        return SPARK[0] * len(counts)
    return "".join(SPARK[0] if n <= 0 else SPARK[max(1, round(n / top * (len(SPARK) - 1)))] for n in counts)


def _fmt_num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _svg_text(s: str, limit: int = 28) -> Markup:
    s = plain(s)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return escape(s)


# -------------------------------------------------------------------- SVG


def mentions_chart_svg(mentions: Sequence[tuple[str, Sequence[tuple[str, int]]]], *, width: int = 640) -> Markup:
    """Small multiples: one row of daily bars per watch, each row on its own
    scale (its largest day fills the row) with the numbers written beside it,
    so a quiet watch's shape stays visible next to a busy one."""
    rows = list(mentions)[:CHART_WATCHES]
    if not rows:
        return Markup("")
    label_w, right_w, row_h, top, bottom = 150, 110, 30, 8, 22
    days = max(len(c) for _, c in rows)
    plot_w = width - label_w - right_w
    step = plot_w / max(days, 1)
    bar_w = max(step - 3, 2)
    height = top + row_h * len(rows) + bottom
    total = sum(n for _, c in rows for _, n in c)
    summary = "; ".join(f"{plain(w)}: {sum(n for _, n in c)} in {len(c)} days" for w, c in rows)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape("Mentions per watch per day. " + summary)}" '
        'style="max-width:100%;height:auto;font-family:Arial,Helvetica,sans-serif">',
        f"<title>Mentions per watch per day ({total} in all)</title>",
    ]
    for r, (watch, counts) in enumerate(rows):
        y0 = top + r * row_h
        peak = max((n for _, n in counts), default=0)
        parts.append(
            f'<text x="{label_w - 8}" y="{y0 + row_h / 2 + 4:.0f}" text-anchor="end" font-size="12" fill="#1d2330">'
            f"{_svg_text(watch, 22)}</text>"
        )
        for i, (day, n) in enumerate(counts):
            x = label_w + i * step
            last = i == len(counts) - 1
            if n > 0:
                h = max((row_h - 8) * n / peak, 2)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y0 + row_h - 4 - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{"#1f4e8c" if last else "#7fa3d1"}"><title>{escape(day)}: {n}</title></rect>'
                )
            else:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y0 + row_h - 5:.1f}" width="{bar_w:.1f}" height="1" fill="#c7ccd6"/>'
                )
        today = counts[-1][1] if counts else 0
        parts.append(
            f'<text x="{label_w + plot_w + 8}" y="{y0 + row_h / 2 + 4:.0f}" font-size="11" fill="#5b6475">'
            f"today {today} · max {peak}</text>"
        )
    if rows and rows[0][1]:
        first, last = rows[0][1][0][0], rows[0][1][-1][0]
        yl = top + row_h * len(rows) + 14
        parts.append(f'<text x="{label_w}" y="{yl}" font-size="11" fill="#5b6475">{escape(first)}</text>')
        parts.append(
            f'<text x="{label_w + plot_w}" y="{yl}" font-size="11" fill="#5b6475" text-anchor="end">{escape(last)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline_svg(articles: Sequence[SourceLink], tz: str | ZoneInfo | None = None, *, width: int = 640) -> Markup:
    """A story's sources as they arrived: one row per source (in order of its
    first report), a dot per article on a shared time axis."""
    if not articles:
        return Markup("")
    rows: dict[str, list[SourceLink]] = {}
    for a in sorted(articles, key=lambda a: a.when):
        rows.setdefault(a.source, []).append(a)
    names = list(rows)[:TIMELINE_ROWS]
    hidden = len(rows) - len(names)
    t0 = min(a.when for a in articles)
    t1 = max(a.when for a in articles)
    span = (t1 - t0).total_seconds()
    label_w, pad, row_h, top = 150, 16, 20, 10
    plot_w = width - label_w - 2 * pad
    height = top + row_h * len(names) + (18 if hidden else 0) + 30

    def x_of(t: datetime) -> float:
        if span <= 0:
            return label_w + pad + plot_w / 2
        return label_w + pad + plot_w * (t - t0).total_seconds() / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(f"Timeline: {len(rows)} sources, {len(articles)} reports")}" '
        'style="max-width:100%;height:auto;font-family:Arial,Helvetica,sans-serif">',
        f"<title>{len(rows)} sources, {len(articles)} reports, as they arrived</title>",
    ]
    axis_y = top + row_h * len(names) + 4
    for r, name in enumerate(names):
        y = top + r * row_h + row_h / 2
        parts.append(f'<line x1="{label_w}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="#eceef2"/>')
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#1d2330">{_svg_text(name, 22)}</text>'
        )
        for a in rows[name]:
            parts.append(
                f'<circle cx="{x_of(a.when):.1f}" cy="{y:.1f}" r="5" fill="{"#1f4e8c" if a is rows[name][0] else "#7fa3d1"}">'
                f"<title>{escape(local_time(a.when, tz))} {_svg_text(a.source, 40)}: {_svg_text(a.title, 80)}</title></circle>"
            )
    if hidden:
        parts.append(
            f'<text x="{label_w}" y="{axis_y + 12}" font-size="11" fill="#5b6475">and {hidden} more sources (listed below)</text>'
        )
        axis_y += 18
    parts.append(f'<line x1="{label_w}" y1="{axis_y}" x2="{width - pad}" y2="{axis_y}" stroke="#c7ccd6"/>')
    parts.append(
        f'<text x="{label_w + pad}" y="{axis_y + 16}" font-size="11" fill="#5b6475">{escape(local_time(t0, tz))}</text>'
    )
    if span > 0:
        parts.append(
            f'<text x="{width - pad}" y="{axis_y + 16}" font-size="11" fill="#5b6475" text-anchor="end">'
            f"{escape(local_time(t1, tz))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# ------------------------------------------------------------- environments


def _common(env: jinja2.Environment) -> jinja2.Environment:
    env.filters.update(
        localtime=local_time,
        plain=plain,
        shorten=shorten,
        lead=lead_text,
        safe_url=safe_url,
        sparkline=sparkline,
        num=_fmt_num,
    )
    env.globals.update(S=STYLE, HEALTH_LABEL=HEALTH_LABEL, HEALTH_STYLE=HEALTH_STYLE, HEALTH_SINCE=HEALTH_SINCE)
    return env


# autoescape=True, not select_autoescape(): escaping must not depend on a file name.
_html_env = _common(
    jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
# text/plain output: HTML escaping would show "&amp;" to the reader.  Feed
# strings are made inert with the `plain` filter (control characters, bidi
# overrides, terminal escapes removed) and `safe_url`.
_text_env = _common(
    jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
)


# ------------------------------------------------------------------- digest


def _story_href(item: DigestItem | StoryActivity, *, web: bool, base_url: str | None) -> str | None:
    if web:
        return f"/story/{int(item.story_id)}"
    if base_url and safe_url(base_url):
        return f"{safe_url(base_url).rstrip('/')}/story/{int(item.story_id)}"
    return next((u for u in (safe_url(s.url) for s in item.sources) if u), None)


def _counts(digest: Digest) -> dict[str, int]:
    # stories left out of a watch section still matched: they count
    watched = sum(len(s.items) + s.omitted for s in digest.sections if s.watch is not None)
    stories = watched + sum(len(s.items) for s in digest.sections if s.watch is None)
    return {
        "stories": stories,
        "watched": watched,
        "failing": sum(1 for h in digest.feed_health if h.status == "failing"),
        "silent": sum(1 for h in digest.feed_health if h.status == "silent"),
        "recovered": sum(1 for h in digest.feed_health if h.status == "recovered"),
    }


def digest_subject(digest: Digest) -> str:
    c = _counts(digest)
    name = plain(digest.name).capitalize()
    if digest.is_empty:
        what = "nothing new"
    else:
        what = f"{c['stories']} {'story' if c['stories'] == 1 else 'stories'}"
        if c["watched"]:
            what += f", {c['watched']} on your watches"
    if c["failing"]:
        what += f"; {c['failing']} feed{'s' if c['failing'] != 1 else ''} failing"
    return plain(f"{name} digest {digest.local_date}: {what}")


def _chart_rows(digest: Digest) -> list[dict[str, Any]]:
    return [
        {
            "watch": w,
            "today": counts[-1][1] if counts else 0,
            "total": sum(n for _, n in counts),
            "spark": sparkline([n for _, n in counts]),
        }
        for w, counts in digest.mentions[:CHART_WATCHES]
    ]


def _digest_context(
    digest: Digest, *, web: bool, base_url: str | None, now: datetime | None = None
) -> dict[str, Any]:
    return {
        # set when the period is not over yet (the web's digest in progress)
        "in_progress": now is not None and now < digest.period_end,
        "d": digest,
        "tz": digest.timezone,
        "counts": _counts(digest),
        "subject": digest_subject(digest),
        "chart": mentions_chart_svg(digest.mentions),
        "chart_rows": _chart_rows(digest),
        "href": lambda item: _story_href(item, web=web, base_url=base_url),
        "web": web,
    }


def render_digest_html(
    digest: Digest,
    *,
    web: bool = False,
    base_url: str | None = None,
    archive: Sequence[DigestRunInfo] = (),
    now: datetime | None = None,
) -> str:
    """The digest as one HTML document (mail, file, or with ``web`` the site's page).

    Story titles link to ``/story/ID`` on the web, to ``base_url``'s story page
    when given, else to the story's first source.
    """
    ctx = _digest_context(digest, web=web, base_url=base_url, now=now)
    return _html_env.get_template("digest.html").render(**ctx, archive=archive, title=ctx["subject"])


def render_digest_text(digest: Digest, *, base_url: str | None = None) -> str:
    ctx = _digest_context(digest, web=False, base_url=base_url)
    return _text_env.get_template("digest.txt").render(**ctx)


def render_digest(digest: Digest, *, base_url: str | None = None) -> tuple[str, str]:
    """``(html, text)`` of a digest for mail and the file channel."""
    return render_digest_html(digest, base_url=base_url), render_digest_text(digest, base_url=base_url)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if dt else None


def digest_payload(digest: Digest) -> dict[str, Any]:
    """The digest as JSON-ready data (the webhook's ``data.digest``): plain
    strings without control characters, http(s) URLs or null, UTC ISO times."""
    return {
        "name": plain(digest.name),
        "local_date": digest.local_date,
        "timezone": digest.timezone,
        "period": {"start": _iso(digest.period_start), "end": _iso(digest.period_end)},
        "empty": digest.is_empty,
        "story_count": _counts(digest)["stories"],
        "sections": [
            {
                "title": plain(s.title),
                "watch": plain(s.watch) if s.watch is not None else None,
                "omitted": s.omitted,
                "items": [
                    {
                        "story_id": i.story_id,
                        "title": plain(i.title),
                        "lead": lead_text(i.lead),
                        "score": i.score,
                        "first_seen": _iso(i.first_seen),
                        "last_updated": _iso(i.last_updated),
                        "source_count": len(i.sources),
                        "new_sources_in_period": i.new_sources_in_period,
                        "sources": [
                            {"source": plain(x.source), "title": plain(x.title), "url": safe_url(x.url), "when": _iso(x.when)}
                            for x in i.sources
                        ],
                        "matches": [
                            {"watch": plain(m.watch), "alias": plain(m.alias), "field": m.field, "snippet": plain(m.snippet)}
                            for m in i.matches
                        ],
                    }
                    for i in s.items
                ],
            }
            for s in digest.sections
        ],
        "feed_health": [
            {
                "feed": plain(h.feed_name),
                "url": safe_url(h.url),
                "status": h.status,
                "since": _iso(h.since),
                "last_error": plain(h.last_error) if h.last_error else None,
            }
            for h in digest.feed_health
        ],
        "mentions": {plain(w): [{"date": d, "count": n} for d, n in counts] for w, counts in digest.mentions},
    }


def digest_message(digest: Digest, *, base_url: str | None = None) -> DigestMessage:
    """Everything a channel needs to deliver ``digest``."""
    html, text = render_digest(digest, base_url=base_url)
    return DigestMessage(
        digest_name=digest.name,
        local_date=digest.local_date,
        subject=digest_subject(digest),
        text=text,
        html=html,
        payload=digest_payload(digest),
    )


# -------------------------------------------------------------------- pages


def render_index(
    digest: Digest, archive: Sequence[DigestRunInfo], *, now: datetime | None = None, next_date: date | None = None
) -> str:
    """The site's front page: the latest digest due, a link to the next one
    (in progress until its time), and the archive of days."""
    ctx = _digest_context(digest, web=True, base_url=None, now=now)
    return _html_env.get_template("index.html").render(
        **ctx, archive=archive, next_date=next_date.isoformat() if next_date else None, title=ctx["subject"]
    )


def render_story_page(story: StoryActivity, *, tz: str | None = None) -> str:
    """All of a story's reports, its timeline, why it matched, and the first
    report's content (feed HTML, sanitised again here whatever the store holds)."""
    first_url = next((u for u in (safe_url(a.url) for a in story.articles) if u), None)
    content = Markup(clean_html(story.content_html, base_url=first_url)) if story.content_html else Markup("")
    return _html_env.get_template("story.html").render(
        s=story,
        tz=tz,
        content=content,
        timeline=timeline_svg(story.articles or story.sources, tz),
        source_count=len({a.source for a in (story.articles or story.sources)}),
        title=plain(story.title),
        web=True,
    )


def render_watches_page(
    watches: Iterable[tuple[str, int, Sequence[MatchSighting]]],
    mentions: Sequence[tuple[str, Sequence[tuple[str, int]]]],
    *,
    tz: str | None = None,
) -> str:
    """``watches``: (name, priority, latest matches) in display order."""
    return _html_env.get_template("watches.html").render(
        watches=list(watches), chart=mentions_chart_svg(mentions), tz=tz, title="Watches", web=True
    )


def render_feeds_page(
    feeds: Sequence[FeedStatus], health: Sequence[FeedHealth], *, tz: str | None = None, now: datetime | None = None
) -> str:
    status_of: Mapping[str, FeedHealth] = {h.feed_name: h for h in health}
    return _html_env.get_template("feeds.html").render(
        feeds=feeds, health=status_of, tz=tz, now=now, title="Feed health", web=True
    )


def render_error_page(status: int, message: str) -> str:
    return _html_env.get_template("base.html").render(title=f"{status} {message}", web=True, message=message)


def archive_dates(runs: Sequence[DigestRunInfo]) -> list[date]:
    return [date.fromisoformat(r.local_date) for r in runs]
