"""Checks that a rendered HTML document cannot run anything feed content put in it."""

from __future__ import annotations

import re

import lxml.html

from monitor.render import STYLE

#: every style attribute must be one of ours (CSS injection from a feed would not be)
STYLE_VALUES = frozenset(STYLE.values())

_FORBIDDEN = ("script", "style", "iframe", "frame", "object", "embed", "form", "input", "base", "link",
              "meta[@http-equiv]")


def assert_inert(html: str) -> lxml.html.HtmlElement:
    """No way for the document to run code, load a frame, post a form or take
    its style from the feed; every external link has rel="noopener noreferrer".
    Returns the parsed document for more checks."""
    doc = lxml.html.document_fromstring(html)
    for tag in _FORBIDDEN:
        assert not doc.xpath(f"//{tag}"), f"<{tag}> in the output"
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), f"event handler {name}={value!r} on <{el.tag}>"
            if name in ("href", "src", "action", "formaction", "xlink:href", "srcset", "background"):
                assert re.match(r"^(https?:|mailto:|/)", value), f"unsafe URL {value!r} on <{el.tag}>"
            if name == "style" and el.tag != "svg":
                assert value in STYLE_VALUES, f"style not from our stylesheet on <{el.tag}>: {value!r}"
        if el.tag == "a" and el.get("href", "").startswith(("http:", "https:")):
            assert set(el.get("rel", "").split()) >= {"noopener", "noreferrer"}, lxml.html.tostring(el)
    lowered = html.lower()
    assert "<script" not in lowered and "javascript:" not in lowered
    return doc
