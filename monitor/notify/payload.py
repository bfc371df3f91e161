"""What channels send: the versioned JSON payload and the rendered alert text.

Everything here is pure: records in, JSON-ready dicts or strings out.

* :func:`alert_to_json` / :func:`digest_to_json` build the payload that the
  webhook POSTs and the file channel appends, version :data:`SCHEMA_VERSION`,
  described by :data:`ALERT_SCHEMA` (JSON Schema 2020-12, reproduced in
  docs/webhooks.md, a test keeps the two equal).  :func:`encode_json` turns it
  into bytes with :mod:`json`; nothing is ever built by string formatting.
* :func:`render_alert` renders an alert for people: subject, plain text and an
  HTML part with inline CSS (mail clients drop ``<style>``), autoescaped by
  Jinja2 and then passed through nh3 with an explicit allow-list.
* :func:`one_line` and :func:`clean_text` remove what feed text must never carry
  into a header or a terminal: control characters, line and paragraph
  separators, bidi overrides.

Feed text is hostile.  Titles, leads, snippets and URLs reach this module
straight from strangers' feeds; every path out of it is escaped or cleaned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import jinja2
import nh3
from markupsafe import Markup

from ..records import AlertPayload, DigestMessage
from ..sanitize import safe_url as _sanitize_safe_url
from ..sanitize import strip_controls

#: Bumped when a field changes meaning or disappears; adding optional fields
#: keeps the version (receivers must ignore fields they do not know).
SCHEMA_VERSION = 1

ALERT_TYPES = ("alert.new", "alert.update", "alert.summary")

_DATE_TIME = {"type": "string", "format": "date-time"}
_URL = {"type": ["string", "null"], "pattern": "^https?://"}

#: The JSON Schema of every webhook body and every line of a file channel.
ALERT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:monitor:webhook-payload:1",
    "title": "monitor webhook payload, version 1",
    "type": "object",
    "required": ["version", "type", "id", "timestamp", "data"],
    "properties": {
        "version": {"const": 1},
        "type": {"enum": [*ALERT_TYPES, "digest"]},
        "id": {"type": "string", "minLength": 1},
        "timestamp": _DATE_TIME,
        "data": {"type": "object"},
    },
    "allOf": [
        {
            "if": {"properties": {"type": {"const": "digest"}}},
            "then": {"properties": {"data": {"$ref": "#/$defs/digest"}}},
            "else": {"properties": {"data": {"$ref": "#/$defs/alert"}}},
        }
    ],
    "$defs": {
        "alert": {
            "type": "object",
            "required": ["kind", "watch", "priority", "story", "sources", "matches"],
            "properties": {
                "kind": {"enum": ["new", "update", "summary"]},
                "watch": {"type": "string"},
                "priority": {"type": "integer"},
                "story": {
                    "type": "object",
                    "required": ["id", "title", "url", "lead", "first_seen", "last_updated", "source_count"],
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "url": _URL,
                        "lead": {"type": "string"},
                        "first_seen": _DATE_TIME,
                        "last_updated": _DATE_TIME,
                        "source_count": {"type": "integer", "minimum": 0},
                    },
                },
                "sources": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["source", "title", "url", "when"],
                        "properties": {
                            "source": {"type": "string"},
                            "title": {"type": "string"},
                            "url": _URL,
                            "when": _DATE_TIME,
                        },
                    },
                },
                "matches": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["watch", "alias", "alias_source", "field", "snippet"],
                        "properties": {
                            "watch": {"type": "string"},
                            "alias": {"type": "string"},
                            "alias_source": {"type": "string"},
                            "field": {"enum": ["title", "text"]},
                            "snippet": {"type": "string"},
                            "start": {"type": "integer", "minimum": 0},
                            "end": {"type": "integer", "minimum": 0},
                        },
                    },
                },
            },
        },
        "digest": {
            "type": "object",
            "required": ["name", "local_date", "subject", "digest"],
            "properties": {
                "name": {"type": "string"},
                "local_date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
                "subject": {"type": "string"},
                "digest": {"type": "object"},
            },
        },
    },
}


# ------------------------------------------------------------- text hygiene

# The character rules themselves live in monitor.sanitize, shared with the
# digest and the web UI; these wrappers add the length caps channels need.

_NEWLINES = re.compile(r"\r\n|[\r\x85\u2028\u2029]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _valid_unicode(text: str) -> str:
    """Lone surrogates (a broken feed decoder's leftovers) cannot be encoded
    as UTF-8; each becomes U+FFFD instead of failing the send forever."""
    return _SURROGATES.sub("\ufffd", text)


def _cut(text: str, max_len: int) -> str:
    return text if len(text) <= max_len else text[: max_len - 1].rstrip() + "\u2026"


def one_line(text: str | None, max_len: int = 300) -> str:
    """Text fit for a mail header or a one-line display: control characters,
    line breaks (CR, LF, NEL, U+2028/9) and bidi overrides removed or made
    spaces, white space collapsed, cut at ``max_len`` with an ellipsis."""
    return _cut(strip_controls(_valid_unicode(text)), max_len) if text else ""


def clean_text(text: str | None, max_len: int = 20_000) -> str:
    """Multi-line text fit for a terminal or a text/plain part: line breaks
    normalised to ``\\n``, every other control character (ANSI escapes
    included) and bidi override removed, cut at ``max_len``."""
    if not text:
        return ""
    text = strip_controls(_NEWLINES.sub("\n", _valid_unicode(text)), keep_newlines=True).replace("\r", "")
    return _cut(text, max_len)


def safe_url(url: str | None) -> str | None:
    """An absolute http(s) URL, or None (``javascript:``, ``data:``, relative,
    control characters...): :func:`monitor.sanitize.safe_url`."""
    return _sanitize_safe_url(url)


def iso_utc(dt: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; naive datetimes are taken as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# ----------------------------------------------------------------- payloads


def alert_to_json(payload: AlertPayload) -> dict[str, Any]:
    """The webhook/file payload of one alert (see :data:`ALERT_SCHEMA`)."""
    return {
        "version": SCHEMA_VERSION,
        "type": f"alert.{payload.kind}",
        "id": payload.id,
        "timestamp": iso_utc(payload.created_at),
        "data": {
            "kind": payload.kind,
            "watch": payload.watch,
            "priority": payload.priority,
            "story": {
                "id": payload.story_id,
                "title": payload.title,
                "url": safe_url(payload.url),
                "lead": payload.lead,
                "first_seen": iso_utc(payload.first_seen),
                "last_updated": iso_utc(payload.last_updated),
                "source_count": payload.source_count,
            },
            "sources": [
                {"source": s.source, "title": s.title, "url": safe_url(s.url), "when": iso_utc(s.when)}
                for s in payload.sources
            ],
            "matches": [
                {
                    "watch": m.watch,
                    "alias": m.alias,
                    "alias_source": m.alias_source,
                    "field": m.field,
                    "snippet": m.snippet,
                    "start": m.start,
                    "end": m.end,
                }
                for m in payload.matches
            ],
        },
    }


def digest_to_json(message: DigestMessage, now: datetime) -> dict[str, Any]:
    """The webhook/file payload of a digest; ``now`` is the send time."""
    return {
        "version": SCHEMA_VERSION,
        "type": "digest",
        "id": message.id,
        "timestamp": iso_utc(now),
        "data": {
            "name": message.digest_name,
            "local_date": message.local_date,
            "subject": message.subject,
            "digest": message.payload,
        },
    }


def encode_json(obj: Any) -> bytes:
    """Compact UTF-8 JSON.  NaN and Infinity are refused (not JSON).  U+2028
    and U+2029 are escaped so one payload stays one line for readers that
    split on them (Python's ``str.splitlines``, JavaScript before ES2019)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _valid_unicode(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")).encode("utf-8")


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True, slots=True)
class RenderedAlert:
    subject: str  # one line, cleaned
    text: str  # text/plain body
    html: str  # a complete HTML document, sanitised


_KIND_LABEL = {"new": "new story", "update": "story update", "summary": "summary"}

# Subjects longer than this are cut: RFC 5322 section 2.1.1 asks for lines of at
# most 78 characters; a folded subject of ~2 lines still reads in a list view.
SUBJECT_MAX = 160


def alert_subject(payload: AlertPayload) -> str:
    watch = one_line(payload.watch, 60)
    title = one_line(payload.title, SUBJECT_MAX)
    if payload.kind == "update":
        prefix = f"[monitor] {watch} (update, {payload.source_count} sources): "
    elif payload.kind == "summary":
        prefix = "[monitor] "
    else:
        prefix = f"[monitor] {watch}: "
    return one_line(prefix + title, SUBJECT_MAX)


def format_when(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _view(payload: AlertPayload) -> dict[str, Any]:
    """The template context: every string cleaned, every URL checked."""
    return {
        "id": one_line(payload.id, 200),
        "kind": _KIND_LABEL.get(payload.kind, one_line(payload.kind, 30)),
        "watch": one_line(payload.watch, 200),
        "title": one_line(payload.title, 1000) or "(no title)",
        "url": safe_url(payload.url),
        "lead": clean_text(payload.lead, 4000).strip(),
        "first_seen": format_when(payload.first_seen),
        "last_updated": format_when(payload.last_updated),
        "source_count": payload.source_count,
        "sources": [
            {
                "source": one_line(s.source, 200),
                "title": one_line(s.title, 500),
                "url": safe_url(s.url),
                "when": format_when(s.when),
            }
            for s in payload.sources
        ],
        "matches": [
            {
                "alias": one_line(m.alias, 200),
                "alias_source": one_line(m.alias_source, 40),
                "field": one_line(m.field, 20),
                "snippet": one_line(m.snippet, 500),
                "watch": one_line(m.watch, 200),
            }
            for m in payload.matches
        ],
    }


_TEXT_TEMPLATE = """\
{{ watch }} - {{ kind }}

{{ title }}
{% if url %}{{ url }}
{% endif %}
First seen {{ first_seen }}, last updated {{ last_updated }}, {{ source_count }} source{{ "" if source_count == 1 else "s" }}.
{% if lead %}
{{ lead }}
{% endif %}{% if matches %}
Why it matched:
{% for m in matches %}  - "{{ m.alias }}" ({{ m.alias_source }}) in the {{ m.field }}: {{ m.snippet }}
{% endfor %}{% endif %}{% if sources %}
Sources:
{% for s in sources %}  - {{ s.source }}: {{ s.title }} ({{ s.when }}){% if s.url %}
    {{ s.url }}{% endif %}
{% endfor %}{% endif %}
--
Alert {{ id }}, sent by monitor.
"""

# Inline CSS only: Gmail and Outlook drop <style> blocks and <link>s.
_HTML_TEMPLATE = """\
<div style="font-family: Arial, Helvetica, sans-serif; font-size: 15px; color: #1a1a1a; max-width: 640px;">
<p style="margin: 0 0 4px 0; font-size: 13px; color: #555555;">{{ watch }} &middot; {{ kind }}</p>
<h1 style="margin: 0 0 8px 0; font-size: 20px; font-weight: bold;">{% if url %}<a href="{{ url }}" style="color: #0b57d0;">{{ title }}</a>{% else %}{{ title }}{% endif %}</h1>
<p style="margin: 0 0 12px 0; font-size: 13px; color: #555555;">First seen {{ first_seen }}, last updated {{ last_updated }}, {{ source_count }} source{{ "" if source_count == 1 else "s" }}.</p>
{% if lead %}<p style="margin: 0 0 12px 0;">{{ lead }}</p>{% endif %}
{% if matches %}<h2 style="margin: 16px 0 4px 0; font-size: 15px;">Why it matched</h2>
<ul style="margin: 0; padding-left: 20px;">{% for m in matches %}
<li style="margin: 0 0 4px 0;"><strong>{{ m.alias }}</strong> <span style="color: #555555;">({{ m.alias_source }}, {{ m.field }})</span>: {{ m.snippet }}</li>{% endfor %}
</ul>{% endif %}
{% if sources %}<h2 style="margin: 16px 0 4px 0; font-size: 15px;">Sources</h2>
<ul style="margin: 0; padding-left: 20px;">{% for s in sources %}
<li style="margin: 0 0 4px 0;"><strong>{{ s.source }}</strong>: {% if s.url %}<a href="{{ s.url }}" style="color: #0b57d0;">{{ s.title }}</a>{% else %}{{ s.title }}{% endif %} <span style="color: #555555;">{{ s.when }}</span></li>{% endfor %}
</ul>{% endif %}
<p style="margin: 16px 0 0 0; font-size: 12px; color: #777777;">Alert {{ id }}, sent by monitor.</p>
</div>"""

_HTML_DOCUMENT = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ subject }}</title></head>
<body style="margin: 0; padding: 16px; background-color: #ffffff;">
{{ body }}
</body></html>
"""

_env = jinja2.Environment(
    loader=jinja2.DictLoader({"text": _TEXT_TEMPLATE, "html": _HTML_TEMPLATE, "document": _HTML_DOCUMENT}),
    autoescape=jinja2.select_autoescape(enabled_extensions=(), default_for_string=True, default=True),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)
_text_env = jinja2.Environment(
    loader=jinja2.DictLoader({"text": _TEXT_TEMPLATE}),
    autoescape=False,  # text/plain: escaping would show "&amp;" to the reader
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)

#: The only tags, attributes, CSS properties and URL schemes the HTML part may
#: contain.  The template needs nothing more; anything else is an attack.
HTML_TAGS = frozenset({"div", "p", "h1", "h2", "a", "ul", "li", "strong", "span"})
HTML_ATTRIBUTES = {"*": {"style"}, "a": {"href"}}
HTML_STYLE_PROPERTIES = frozenset(
    {"font-family", "font-size", "font-weight", "color", "background-color", "margin", "padding", "padding-left", "max-width"}
)
HTML_URL_SCHEMES = frozenset({"http", "https"})


def sanitize_html(fragment: str) -> str:
    """nh3 with the allow-lists above; links get rel=noopener noreferrer."""
    return nh3.clean(
        fragment,
        tags=set(HTML_TAGS),
        clean_content_tags={"script", "style"},
        attributes={k: set(v) for k, v in HTML_ATTRIBUTES.items()},
        url_schemes=set(HTML_URL_SCHEMES),
        filter_style_properties=set(HTML_STYLE_PROPERTIES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def html_document(subject: str, body_fragment: str) -> str:
    """Wrap an already sanitised fragment in a fixed document skeleton."""
    return _env.get_template("document").render(subject=one_line(subject), body=Markup(body_fragment))


def render_alert(payload: AlertPayload) -> RenderedAlert:
    """Subject, text/plain and text/html of one alert."""
    view = _view(payload)
    subject = alert_subject(payload)
    text = _text_env.get_template("text").render(**view)
    fragment = sanitize_html(_env.get_template("html").render(**view))
    return RenderedAlert(subject=subject, text=text, html=html_document(subject, fragment))
