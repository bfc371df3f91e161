"""Folding, offsets, URL masking and word positions (monitor.textnorm)."""

from __future__ import annotations

import pytest

from monitor.textnorm import fold, is_arabic, is_word_char, mask_urls, normalize, word_index, word_starts

# (written, folded): what matching treats as the same text
FOLDING = [
    ("Ḥimṣ", "hims"),  # Latin diacritics (dots below)
    ("Hi\u0323ms\u0323", "hims"),  # the same written with combining marks
    ("Ḩamāh", "hamah"),  # cedilla-like h, macron
    ("HOMS", "homs"),
    ("Straße", "strasse"),  # casefold, not lower
    ("ﬁnal", "final"),  # NFKC ligature
    ("Ｈｏｍｓ", "homs"),  # full-width
    ("Łódź", "lodz"),  # letters NFD does not decompose
    ("Øresund", "oresund"),
    ("İdlib", "idlib"),  # dotted capital I
    ("Hay’at", "hay'at"),  # curly apostrophe
    ("Hayʼat", "hay'at"),  # modifier letter apostrophe (hamza)
    ("Darʿa", "dar'a"),  # modifier letter left half ring (ʿayn)
    ("al-Assad", "al assad"),  # hyphen -> space
    ("Homs–Hama", "homs hama"),  # en dash
    ("tab\tand\nline", "tab and line"),
    ("أإآٱ", "اااا"),  # alef forms
    ("حماة", "حماه"),  # taa marbuta
    ("مستشفى", "مستشفي"),  # alef maqsura
    ("حمـــص", "حمص"),  # tatweel
    ("حِمْص", "حمص"),  # tashkeel
    ("ﻻ", "لا"),  # presentation form ligature
    ("کابل", "كابل"),  # Persian keheh
    ("ؤئ", "وي"),  # hamza on waw / yaa: NFD separates the hamza, a mark
]


@pytest.mark.parametrize("written,folded", FOLDING, ids=[w for w, _ in FOLDING])
def test_folding(written: str, folded: str) -> None:
    assert fold(written).text == folded
    assert normalize(written) == folded.strip()


@pytest.mark.parametrize("written,_", FOLDING, ids=[w for w, _ in FOLDING])
def test_folding_is_idempotent(written: str, _: str) -> None:
    once = fold(written).text
    assert fold(once).text == once


def test_normalize_collapses_and_trims_spaces() -> None:
    assert normalize("  Tahrir   al - Sham ") == "tahrir al sham"
    assert normalize("\u200b") == "\u200b".casefold()  # not whitespace: left alone
    assert normalize(" - ") == ""


def test_plain_text_keeps_offsets() -> None:
    f = fold("Shelling in Homs")
    assert f.origin is None
    assert f.to_original(12, 16) == (12, 16)


def test_offsets_survive_removed_and_expanded_characters() -> None:
    text = "ﬁ Straße حِمْص Homs"
    f = fold(text)
    assert f.text == "fi strasse حمص homs"
    for word in ("حمص", "homs", "strasse", "fi"):
        s = f.text.index(word)
        os_, oe = f.to_original(s, s + len(word))
        assert normalize(text[os_:oe]) == word
    # a span ending on an expanded character covers the whole original character
    s = f.text.index("ss")
    assert f.to_original(s, s + 2) == (text.index("ß"), text.index("ß") + 1)


# (text, what must be blanked): masking keeps the length, blanks only these
URLS = [
    ("see https://example.com/homs-offensive now", "https://example.com/homs-offensive"),
    ("at www.homs-news.org today", "www.homs-news.org"),
    ("on homs.gov.sy, officials said", "homs.gov.sy"),
    ("mail press@hama.example.org", "press@hama.example.org"),
    ("ftp://files.example.net/hama.txt", "ftp://files.example.net/hama.txt"),
]
NOT_URLS = [
    "Homs.The army advanced",  # a missing space after a full stop
    "U.S. officials and e.g. Homs",
    "Homs, Hama and Aleppo.",
    "3.5 million people",
    "Homs: no URL here",
]


@pytest.mark.parametrize("text,url", URLS)
def test_urls_are_blanked(text: str, url: str) -> None:
    masked = mask_urls(text)
    assert len(masked) == len(text)
    start = text.index(url)
    assert masked[start : start + len(url)].strip() == ""
    assert masked[:start] == text[:start]


@pytest.mark.parametrize("text", NOT_URLS)
def test_prose_is_not_a_url(text: str) -> None:
    assert mask_urls(text) == text


WORD_CHARS = [("a", True), ("7", True), ("_", True), ("ح", True), ("\u0301", True), ("'", False), (" ", False), ("-", False), (".", False)]


@pytest.mark.parametrize("ch,expected", WORD_CHARS)
def test_word_chars(ch: str, expected: bool) -> None:
    assert is_word_char(ch) is expected


def test_arabic_detection() -> None:
    assert is_arabic("ح") and is_arabic("ﻻ") and not is_arabic("h")


def test_word_positions() -> None:
    t = fold("Rebels near Homs's outskirts").text
    st = word_starts(t)
    assert [t[i : i + 3] for i in st] == ["reb", "nea", "hom", "s o", "out"]
    assert word_index(st, t.index("homs")) == 2
    assert word_index(st, t.index("outskirts") + 3) == 4
