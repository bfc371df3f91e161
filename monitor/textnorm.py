"""Text normalisation for matching: one folding for aliases and texts alike.

``fold(text)`` returns a :class:`Folded` text in which an alias written any
reasonable way is found by plain substring search, and every position can be
mapped back to the original text (for snippets and offsets).  ``normalize``
is the same folding for short strings (aliases, rule terms), whitespace
collapsed.

What folding does, character by character (so offsets stay mappable):

* Unicode NFKC (compatibility forms: ligatures, full-width letters, Arabic
  presentation forms ``ﻻ`` -> ``لا``), then ``str.casefold`` (``ß`` -> ``ss``).
* Latin diacritics folded: the character is decomposed (NFD) and combining
  marks from the generic combining blocks are dropped, so ``Ḥimṣ`` == ``Hims``
  and ``Ḩamāh`` == ``Hamah``.  Letters that do not decompose but are read as
  a plain letter in transliterations are mapped by hand (``ø ł đ ħ ı æ œ``).
* Arabic (the normalisation of Larkey et al., "Light stemming for Arabic
  information retrieval", 2007, without the stemming): alef with hamza or
  madda and alef wasla (``أ إ آ ٱ``) -> bare alef ``ا``; taa marbuta ``ة`` ->
  haa ``ه``; alef maqsura ``ى`` -> yaa ``ي``; Persian yeh/keheh -> Arabic
  yaa/kaf; tatweel ``ـ`` and tashkeel (harakat, shadda, sukun, superscript
  alef, Quranic marks) removed.  Because NFD separates a hamza written on
  waw or yaa (``ؤ ئ``) into the letter and a hamza mark, and that mark is
  tashkeel-range, those fold to ``و ي`` too, as in many Arabic search engines;
  a standalone hamza ``ء`` stays.
* Apostrophe look-alikes (``’ ‘ ` ´ ʼ ʻ ʽ ʾ ʿ``: the transliterations of
  ʿayn and hamza) -> ``'``, so ``Hay’at``, ``Hayʼat`` and ``Hay'at`` are one
  spelling.  ``Hayat`` stays a different spelling: write both.
* Hyphens and dashes -> a space, so ``al-Assad`` == ``al Assad`` and the
  parts of ``Homs-Hama`` are separate words.  Every other whitespace
  character -> a space.  (Runs of spaces in a *text* are not collapsed; feed
  text arrives with collapsed whitespace from the parser, and keeping one
  character per character keeps the common case on the fast path.)

Word characters (:func:`is_word_char`) are letters, digits, the marks that
remain, and ``_``; an apostrophe is *not* one, so ``Homs's`` and ``d'Alep``
contain the words ``homs`` and ``alep``.

``mask_urls`` blanks URLs, e-mail addresses and bare domain names (same
length, so offsets do not move) so that no alias is ever found inside one.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

__all__ = [
    "Folded",
    "fold",
    "normalize",
    "is_word_char",
    "is_arabic",
    "mask_urls",
    "word_starts",
    "word_index",
    "letters",
]

# Combining marks dropped after NFD: the generic combining blocks (Latin, Greek
# and Cyrillic diacritics live here).  Marks of other scripts (Devanagari vowel
# signs...) are part of their letters and are kept.
_COMBINING_BLOCKS = (
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x1AB0, 0x1AFF),  # ... Extended
    (0x1DC0, 0x1DFF),  # ... Supplement
    (0x20D0, 0x20FF),  # ... for Symbols
    (0xFE20, 0xFE2F),  # Combining Half Marks
)
# Arabic tashkeel and Quranic annotation marks (Unicode Arabic block).
_ARABIC_MARKS = (
    (0x0610, 0x061A),
    (0x064B, 0x065F),  # fathatan .. wavy hamza below (harakat, shadda, sukun)
    (0x0670, 0x0670),  # superscript alef
    (0x06D6, 0x06DC),
    (0x06DF, 0x06E8),
    (0x06EA, 0x06ED),
    (0x08D3, 0x08FF),  # Arabic Extended-A marks
)
_TATWEEL = "\u0640"

_SPECIAL = {
    # Arabic letter forms
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    "ة": "ه",
    "ى": "ي",
    "ی": "ي", "ې": "ي",  # Persian/Pashto yeh
    "ک": "ك",  # keheh
    _TATWEEL: "",
    # Latin letters that NFD does not decompose
    "ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "ŧ": "t", "ŀ": "l",
    "æ": "ae", "œ": "oe", "þ": "th", "ð": "d", "ƚ": "l", "ɨ": "i",
}
_APOSTROPHES = "'’‘`´ʼʻʽʾʿˈ′‛"
_DASHES = "-‐‑‒–—―−﹣－"

_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))


def _in(ranges: tuple[tuple[int, int], ...], cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


def _fold_one(ch: str) -> str:
    """The folding of one character (may be "" or several characters)."""
    out = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        c = _SPECIAL.get(c, c)
        for d in unicodedata.normalize("NFD", c):
            cp = ord(d)
            if _in(_COMBINING_BLOCKS, cp) or _in(_ARABIC_MARKS, cp):
                continue
            d = _SPECIAL.get(d, d)
            if d in _APOSTROPHES:
                d = "'"
            elif d in _DASHES or d.isspace():
                d = " "
            out.append(d)
    return unicodedata.normalize("NFC", "".join(out))


class _Table(dict):
    """ord -> folded string, filled on first sight (str.translate's table)."""

    def __missing__(self, cp: int) -> str:
        s = _fold_one(chr(cp))
        self[cp] = s
        if len(s) != 1:
            _NON_UNIT.add(chr(cp))
        return s


#: characters whose folding is not exactly one character (text needs an offset map)
_NON_UNIT: set[str] = set()
_TABLE = _Table()


@dataclass(frozen=True, slots=True)
class Folded:
    """A folded text and the way back to the original.

    ``origin`` is None when folding kept one character per character (the
    common case: offsets are the same); else ``origin[i]`` is the index in
    ``original`` of the character that produced ``text[i]``.
    """

    text: str
    original: str
    origin: tuple[int, ...] | None = None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the folded span ``[start, end)`` to a span of the original."""
        if self.origin is None:
            return start, end
        o = self.origin
        ostart = o[start] if start < len(o) else len(self.original)
        if end <= 0:
            return ostart, ostart
        last = o[end - 1] if end - 1 < len(o) else len(self.original) - 1
        # the span ends after the whole original character that produced the last folded one
        return ostart, last + 1


def fold(text: str) -> Folded:
    """Fold ``text`` for matching; see the module docstring."""
    folded = text.translate(_TABLE)
    if len(folded) == len(text) and _NON_UNIT.isdisjoint(text):
        return Folded(folded, text)
    origin: list[int] = []
    for i, ch in enumerate(text):
        origin.extend([i] * len(_TABLE[ord(ch)]))
    return Folded(folded, text, tuple(origin))


def normalize(term: str) -> str:
    """The folded form of an alias or term: folded, whitespace collapsed and trimmed."""
    return " ".join(term.translate(_TABLE).split())


def is_word_char(ch: str) -> bool:
    """Letters, digits, remaining marks and ``_`` (an apostrophe is not one)."""
    return ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")


def is_arabic(ch: str) -> bool:
    return _in(_ARABIC_RANGES, ord(ch))


def letters(s: str) -> int:
    """How many letters ``s`` has (marks and punctuation not counted)."""
    return sum(1 for c in s if c.isalpha())


# URLs, e-mail addresses and bare domains.  The bare-domain branch wants a
# lower-case TLD of 2+ letters, so "U.S." and "e.g." are not domains and a
# sentence run together after a full stop ("in Homs.The") is not either.
_URL = re.compile(
    r"""(?:[a-z][a-z0-9+.-]*://|www\.)[^\s<>"]+"""
    r"""|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"""
    r"""|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,24}\b(?:/[^\s<>"]*)?""",
    re.IGNORECASE,
)
_BARE_TLD = re.compile(r"\.([A-Za-z]{2,24})\b(?:/[^\s<>\"]*)?$")


def _blank(m: re.Match[str]) -> str:
    s = m.group(0)
    if "://" not in s and not s.lower().startswith("www.") and "@" not in s:
        # bare domain: its TLD must be written in lower case (see above)
        tld = _BARE_TLD.search(s)
        if tld is None or not tld.group(1).islower():
            return s
    return " " * len(s)


# Whitespace-delimited chunks that contain a URL-ish anchor; the full pattern
# above then runs on those chunks only.  Running it over the whole text cost
# 0.6 ms per 350-word article (its e-mail branch tries every position);
# chunks first makes masking ~10x faster (benchmarks/match_speed.py).
_CHUNK = re.compile(r"(?<!\S)\S*?(?:://|www\.|@|\.[A-Za-z])\S*", re.IGNORECASE)


def mask_urls(text: str) -> str:
    """``text`` with every URL, e-mail address and bare domain replaced by
    spaces of the same length (offsets do not move)."""
    if "." not in text and "/" not in text and "@" not in text:
        return text
    pieces: list[str] = []
    pos = 0
    for m in _CHUNK.finditer(text):
        chunk = m.group(0)
        masked = _URL.sub(_blank, chunk)
        if masked != chunk:
            pieces.append(text[pos : m.start()])
            pieces.append(masked)
            pos = m.end()
    if not pieces:
        return text
    pieces.append(text[pos:])
    return "".join(pieces)


_WORD = re.compile(r"\w+")


def word_starts(folded_text: str) -> list[int]:
    """Start offsets of the words of a folded text (for word distances)."""
    return [m.start() for m in _WORD.finditer(folded_text)]


def word_index(starts: list[int], offset: int) -> int:
    """The index of the word that contains (or precedes) ``offset``."""
    return max(0, bisect_right(starts, offset) - 1)
