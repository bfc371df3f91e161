"""Level 1 dedup: one canonical form per article URL.

Two URLs that differ only in ways a server ignores (host case, default port,
fragment, tracking parameters, parameter order, a trailing slash) or that
point to an alternative rendering of the same article (AMP, mobile host) map
to the same string, so the store can key sightings of one article on it.

Rules and where they come from:

* scheme and host are case-insensitive, the default port is redundant and
  the fragment never reaches the server (RFC 3986 sections 3.1, 3.2.2, 3.2.3,
  3.5, 6.2.2.1 and 6.2.3);
* an internationalised host is written as IDNA A-labels (punycode, RFC 5891)
  so ``bücher.example`` and ``xn--bcher-kva.example`` agree;
* tracking parameters are dropped: Google Analytics ``utm_*``, click ids
  (``fbclid``, ``gclid``, ``dclid``, ``msclkid``...), Mailchimp ``mc_cid`` and
  ``mc_eid``, MSN ``ocid``, Instagram ``igshid`` and the campaign tags news
  sites add to shared links (``cmpid``, ``ref``, ``_ga``...).  The list is the
  one the ClearURLs and Firefox query-stripping projects agree on, less the
  ones that select content on some sites (``id``, ``p``, ``page``);
* the remaining parameters are sorted: order carries no meaning for the
  servers news sites run on;
* one trailing slash on a non-root path is dropped (``/a/b/`` = ``/a/b``);
  the root path is always ``/``;
* AMP renderings: an ``/amp`` path segment, a trailing ``.amp`` or
  ``/amp.html`` suffix, an ``amp`` or ``outputType=amp`` query parameter, and
  an ``amp.`` host prefix are removed;
* mobile hosts ``m.`` and ``mobile.`` are folded into the bare host when the
  remaining host still has a registrable domain (``m.example.com`` ->
  ``example.com``, but ``m.co`` stays as it is).  ``www.`` is kept: some
  sites serve different content on the bare domain.

Only http and https URLs are canonicalised; anything else returns None.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["canonical_url", "TRACKING_PARAMS"]

#: exact parameter names (compared case-insensitively) that only track the click
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id",
        "mc_cid", "mc_eid", "ocid", "igshid", "igsh", "ref", "ref_src", "ref_url", "referrer",
        "cmpid", "cmp", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
        "rb_clickid", "s_cid", "soc_src", "soc_trk", "spm", "wt_mc", "wt.mc_id", "xtor", "at_medium",
        "at_campaign", "cid_source", "ncid", "sr_share", "smid", "smtyp", "fb_source", "fb_ref",
        "feature", "share", "shared", "src", "taid", "mbid", "vero_id", "guccounter", "guce_referrer",
        "guce_referrer_sig",
    }
)
#: parameter name prefixes that only track the click
_TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hmb_", "itm_", "at_", "ga_", "__hs")
#: AMP flags in the query string: ``?amp``, ``?amp=1``, ``?outputType=amp``
_AMP_PARAMS = frozenset({"amp", "amp_js_v", "usqp"})

_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_PATH_SUFFIX = re.compile(r"(?:/amp/?|\.amp|/amp\.html?)$", re.IGNORECASE)
_AMP_PATH_SEGMENT = re.compile(r"/amp(?=/)", re.IGNORECASE)
_MOBILE_PREFIXES = ("m.", "mobile.", "amp.")
# common two-label public suffixes (a subset of the Public Suffix List): folding
# "m." off "m.co.uk" would leave a suffix, not a site
_SECOND_LEVEL_SUFFIXES = frozenset(
    f"{sld}.{cc}"
    for cc in ("uk", "au", "nz", "jp", "br", "za", "in", "il", "kr", "tr", "mx", "ar", "sg", "my", "id", "pk", "eg")
    for sld in ("co", "com", "org", "net", "ac", "gov", "edu", "or", "ne", "go")
)
# characters left unescaped in a path / query: RFC 3986 unreserved + sub-delims + ":@/"
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(_TRACKING_PREFIXES)


def _idna_host(host: str) -> str | None:
    host = host.rstrip(".").lower()
    if not host:
        return None
    if host.startswith("["):  # IPv6 literal
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        # IDNA 2003 (the codec) refuses some labels IDNA 2008 accepts, and vice versa
        try:
            import idna

            return idna.encode(host, uts46=True).decode("ascii")
        except (ImportError, idna.IDNAError, UnicodeError):
            return None


def _fold_mobile(host: str) -> str:
    """Drop one ``m.``/``mobile.``/``amp.`` label when a registrable domain remains.

    ``m.bbc.co.uk`` -> ``bbc.co.uk`` and ``m.example.com`` -> ``example.com``,
    but ``m.co.uk`` and ``m.example`` stay: what would remain is a public
    suffix or a single label, not a site.
    """
    for prefix in _MOBILE_PREFIXES:
        if host.startswith(prefix):
            rest = host[len(prefix):]
            if rest.count(".") >= 1 and rest not in _SECOND_LEVEL_SUFFIXES:
                return rest
            return host
    return host


def _normalise_escapes(s: str, safe: str) -> str:
    """Decode percent-escapes of unreserved characters and upper-case the rest (RFC 3986 6.2.2)."""
    return quote(unquote(s), safe=safe)


def canonical_url(url: str) -> str | None:
    """The canonical form of an http(s) article URL, or None when it is not one.

    >>> canonical_url("HTTPS://Example.COM:443/News/Story/?utm_source=x&b=2&a=1#top")
    'https://example.com/News/Story?a=1&b=2'
    """
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = _idna_host(parts.hostname or "")
    if not host:
        return None
    host = _fold_mobile(host)
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # credentials in an article link are never part of its identity
    path = _normalise_escapes(parts.path or "/", _PATH_SAFE)
    path = re.sub(r"/{2,}", "/", path)
    path = _AMP_PATH_SEGMENT.sub("", path)
    path = _AMP_PATH_SUFFIX.sub("", path) or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    if not path.startswith("/"):
        path = "/" + path

    kept: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        low = name.lower()
        if _is_tracking(name) or low in _AMP_PARAMS or (low == "outputtype" and value.lower() == "amp"):
            continue
        kept.append((name, value))
    kept.sort()
    query = urlencode(kept, quote_via=quote, safe=_PATH_SAFE.replace("&", "").replace("=", "").replace("+", ""))
    return urlunsplit((scheme, netloc, path, query, ""))
