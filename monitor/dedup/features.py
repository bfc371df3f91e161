"""Text features shared by the near-duplicate index and the story clusterer.

Everything here is a pure function of its arguments (plus, for names, a
:class:`CaseStats` the caller owns), so the same text always yields the same
features:

* :func:`terms` - content words, case-folded, stop words removed and crudely
  stemmed (``captured``/``captures``/``capture`` -> ``captur``), the
  vocabulary of the TF-IDF vectors;
* :func:`shingles` - hashed word n-grams of the whole text for near-duplicate
  detection;
* :func:`names` - capitalised n-grams ("Hugh Jackman", "Hayat Tahrir
  al-Sham", "HTS"), the actors and places of an article.  Sentence-initial
  words and Title Case headlines are ambiguous (is "Host" a name?), so a word
  there only counts when :class:`CaseStats` has seen it capitalised inside
  sentences more often than not;
* :func:`figures` - numbers that can tell two events apart ("5.6",
  "$2.6 million"), as terms of the TF-IDF vector;
* :func:`dates` - calendar dates resolved against the article's time ("on
  Sunday", "Dec. 1", "5 December 2024").

Figures ("23 pirates", "magnitude 5.6") were tried as a veto and dropped:
death tolls and counts change as a story develops, and on ECB+ (full text)
the veto cost 0.36 of B-cubed recall for 0.06 of precision.  As terms they
only add evidence (benchmarks/README.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zlib import crc32

__all__ = [
    "DEMONYMS",
    "STOPWORDS",
    "CaseStats",
    "Gazetteer",
    "dates",
    "figures",
    "fold",
    "names",
    "shingles",
    "stem",
    "terms",
    "word_count",
]

#: a callable that says whether a (case-folded) name is a place; e.g. a lookup
#: in the watch-list gazetteer.  It returns a canonical key for the place (so
#: "Hims" and "Homs" agree) or None when the name is not a known place.
Gazetteer = Callable[[str], "str | None"]
# English function words plus reporting verbs and news boilerplate that every
# article carries ("said", "according", "reported"): they add nothing to which
# event a text is about.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm
    i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor not of
    off on once only or other ought our ours ourselves out over own same shan't she she'd she'll
    she's should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until up very
    was wasn't we we'd we'll we're we've were weren't what what's when when's where where's which
    while who who's whom why why's with won't would wouldn't you you'd you'll you're you've your
    yours yourself yourselves
    said says say saying told tells according reported reports report reporting statement
    announced added adding news today yesterday tomorrow week weeks year years day days month
    months monday tuesday wednesday thursday friday saturday sunday mr mrs ms dr
    one two three four five six seven eight nine ten first second third last new also just
    will may might must shall us since still yet per via amid among around across
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)

# words that join the parts of one name: "Bank of England", "Hayat Tahrir al-Sham",
# "Bashar al-Assad", "Ludwig van Beethoven"
_NAME_JOINERS = frozenset({"of", "de", "del", "della", "da", "do", "dos", "du", "van", "von", "der", "den",
                           "la", "le", "al", "el", "bin", "ibn", "abu"})
# capitalised words that are never (part of) an actor or place: calendar words
# and clock abbreviations from datelines ("AUGUST 2, 2013 | 08:06AM PT")
_NOT_NAMES = frozenset({"am", "pm", "pt", "pdt", "pst", "est", "edt", "cet", "cest", "gmt", "utc", "bst",
                        "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat",
                        "update", "updated", "breaking", "exclusive", "live", "watch", "video", "photos"})
_MONTHS = {
    m: i + 1
    for i, names_ in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
         ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
         ("october", "oct"), ("november", "nov"), ("december", "dec")]
    )
    for m in names_
}
_WEEKDAYS = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday",
                                          "saturday", "sunday"))}

_WORD = re.compile(r"[^\W_]+(?:['’\-.][^\W_]+)*", re.UNICODE)
_BREAK = re.compile(r"\S")  # anything but white space between two words ends a name
_SENT_END = re.compile(r"[.!?;:]\s+|[\n\r]+|\s[-—–]\s|[\"“”()]")
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_MD = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I)
_DATE_DM = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b\.?(?:,?\s+(\d{{4}}))?", re.I)
_WEEKDAY_RE = re.compile(r"\b(?:on\s+|last\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)
_RELATIVE = re.compile(r"\b(today|yesterday|tonight|this morning|last night)\b", re.I)


#: irregular adjectives of nationality -> the country, so that "Polish" and
#: "Poland" count as one name (regular ones, "Syrian"/"Syria", share a prefix)
DEMONYMS = {
    "french": "france", "polish": "poland", "dutch": "netherlands", "british": "britain", "swiss": "switzerland",
    "greek": "greece", "turkish": "turkey", "spanish": "spain", "danish": "denmark", "swedish": "sweden",
    "finnish": "finland", "irish": "ireland", "welsh": "wales", "scottish": "scotland", "english": "england",
    "chinese": "china", "japanese": "japan", "vietnamese": "vietnam", "lebanese": "lebanon", "sudanese": "sudan",
    "portuguese": "portugal", "filipino": "philippines", "thai": "thailand", "iraqi": "iraq", "norwegian": "norway",
    "peruvian": "peru", "israeli": "israel", "pakistani": "pakistan", "afghan": "afghanistan", "kurdish": "kurd",
    "yemeni": "yemen", "saudi": "saudi arabia", "emirati": "emirates", "bangladeshi": "bangladesh",
    "nepalese": "nepal", "burmese": "myanmar", "congolese": "congo", "senegalese": "senegal",
    "ghanaian": "ghana", "belgian": "belgium", "german": "germany", "russian": "russia", "ukrainian": "ukraine",
    "american": "america", "mexican": "mexico", "brazilian": "brazil", "argentine": "argentina", "chilean": "chile",
    "korean": "korea", "taiwanese": "taiwan", "indonesian": "indonesia", "malaysian": "malaysia",
    "egyptian": "egypt", "moroccan": "morocco", "algerian": "algeria", "tunisian": "tunisia", "libyan": "libya",
    "iranian": "iran", "syrian": "syria", "jordanian": "jordan", "georgian": "georgia", "romanian": "romania",
    "hungarian": "hungary", "czech": "czechia", "slovak": "slovakia", "austrian": "austria", "italian": "italy",
    "canadian": "canada", "australian": "australia",
}


def fold(text: str) -> str:
    """NFKC, case-folded, diacritics removed: the form names and terms are compared in."""
    if text.isascii():
        return text.lower()  # the common case, and casefold() == lower() on ASCII
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("’", "'")


def stem(word: str) -> str:
    """A crude English suffix stripper, enough to join inflections of one verb or noun.

    Porter's full algorithm buys little here: headlines use few inflections,
    and a wrong conflation only adds a shared term, which a veto can overrule.
    """
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ah") and len(word) >= 5:
        return word[:-1]  # transliterations: "Hamah"/"Hama", "Raqqah"/"Raqqa"
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # "stopped" -> "stop"
            return word
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def terms(text: str) -> list[str]:
    """Content words of ``text``, stemmed: the TF-IDF vocabulary."""
    out = []
    for w in _WORD.findall(fold(text)):
        w = w.strip("'.-")
        if len(w) < 2 or w in STOPWORDS or w.isdigit():
            continue
        out.append(stem(w))
    return out


_YEAR = re.compile(r"(?:19|20)\d\d")
_FIGURE = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?![\w])")


def figures(text: str) -> list[str]:
    """Numbers of ``text`` that can tell two events apart, as terms: "#160", "#5.6", "#1199".

    An earthquake's magnitude, a sum stolen, a count of pirates: ECB+'s
    same-kind events differ in them ("5.6" and "6.1", "$2.6 million" and "$108
    million").  Small numbers ("5 people", "2 a.m.") are left out: unrelated
    events share them.  Years are left out too: in a 72-hour window nearly
    every article names the current one, and a past year ("since 2016") is
    background; dates are compared by the date veto instead.  Thousands
    separators are dropped ("1,199" is "1199").  The ``#`` keeps figures
    apart from words.  As terms of the TF-IDF vector they add evidence; as a
    veto they cost too much recall (see the module docstring).
    """
    out = []
    for m in _FIGURE.finditer(text):
        raw = m.group()
        if "," in raw and all(len(g) == 3 for g in raw.split(",")[1:]):
            raw = raw.replace(",", "")
        raw = raw.rstrip(".,")
        if (len(raw) < 3 and "." not in raw) or _YEAR.fullmatch(raw):
            continue
        out.append("#" + raw)
    return out


def shingles(text: str, k: int = 4) -> set[int]:
    """Hashed word k-shingles of the normalised text (all words, stop words kept).

    Stop words stay: in near-duplicate detection the exact word sequence is
    the evidence, and "the" carries it as well as "airstrike".  crc32 is
    stable across processes (``hash()`` is salted), which keeps results
    reproducible.
    """
    words = [w for w in _WORD.findall(fold(text))]
    if len(words) < k:
        return set()
    return {crc32(" ".join(words[i:i + k]).encode("utf-8")) for i in range(len(words) - k + 1)}


@dataclass(slots=True)
class CaseStats:
    """How often each word was seen capitalised vs lower-case inside a sentence.

    Learnt online from the texts the clusterer sees; it decides whether a
    capitalised word at the start of a sentence or in a Title Case headline
    is a name.  Bounded: past ``max_words`` entries, the rarest half is dropped.
    """

    max_words: int = 200_000
    upper: dict[str, int] = field(default_factory=dict)
    lower: dict[str, int] = field(default_factory=dict)

    def learn(self, text: str) -> None:
        for sentence in _sentences(text):
            words = _WORD.findall(sentence)
            if len(words) < 4 or _is_title_case(words):
                continue
            for w in words[1:]:
                key = fold(w)
                if w[0].isupper():
                    self.upper[key] = self.upper.get(key, 0) + 1
                elif w[0].islower():
                    self.lower[key] = self.lower.get(key, 0) + 1
        if len(self.upper) + len(self.lower) > self.max_words:
            self._prune()

    def is_name(self, word: str) -> bool | None:
        """True if seen mostly capitalised, False if mostly lower-case, None if unknown."""
        key = fold(word)
        up, low = self.upper.get(key, 0), self.lower.get(key, 0)
        if up + low == 0:
            return None
        return up > 2 * low

    def _prune(self) -> None:
        for table in (self.upper, self.lower):
            if len(table) > self.max_words // 4:
                cut = sorted(table.values())[len(table) // 2]
                for key in [k for k, v in table.items() if v <= cut]:
                    del table[key]


def _sentences(text: str) -> list[str]:
    return [s for s in _SENT_END.split(text) if s and not s.isspace()]


def _is_title_case(words: list[str]) -> bool:
    """Most words of four letters or more capitalised: a Title Case headline."""
    long_ = [w for w in words if len(w) >= 4]
    if len(long_) < 2:
        return False
    return sum(1 for w in long_ if w[0].isupper()) >= 0.75 * len(long_)


def names(text: str, case: CaseStats | None = None, strict: bool = False) -> list[str]:
    """Capitalised n-grams of ``text``: people, places, organisations (case-folded).

    Each name is returned once per mention.  A word whose capital letter might
    only be typographic (first in a sentence, or anywhere in a Title Case
    headline) starts a name only when ``case`` has seen it capitalised inside
    sentences more often than lower-case; without ``case`` it is skipped
    unless followed by another capitalised word.  With ``strict``, such a
    word must be known to ``case`` as a name.  Any mark between two words
    (a comma, a slash) ends a name: "Nashville, Tennessee, Bettie Page" is
    three names (ECB+ B-cubed F1 +0.005, benchmarks/README.md).
    """
    out: list[str] = []
    for sentence in _sentences(text):
        spans = list(_WORD.finditer(sentence))
        words = [m.group() for m in spans]
        if not words:
            continue
        title_case = _is_title_case(words)
        long_ = [w for w in words if len(w) >= 4]
        all_caps = len(long_) >= 2 and sum(1 for w in long_ if w.isupper()) >= 0.6 * len(long_)
        run: list[str] = []
        ambiguous_run = True

        def flush() -> None:
            nonlocal run, ambiguous_run
            while run and fold(run[-1]) in _NAME_JOINERS:
                run.pop()
            if run and not (ambiguous_run and len(run) == 1):
                out.append(" ".join(fold(w) for w in run).replace("’", "'"))
            run = []
            ambiguous_run = True

        for i, w in enumerate(words):
            if run and i and _BREAK.search(sentence, spans[i - 1].end(), spans[i].start()):
                # "Nashville, Tennessee, Bettie Page": a comma or a bracket ends a name
                flush()
            folded = fold(w)
            if folded.endswith("'s"):
                folded = folded[:-2]
                w = w[:-2]
            if w[0].isupper() or (w.isupper() and len(w) > 1):
                if (
                    (folded in STOPWORDS and not (w.isupper() and len(w) <= 4 and not all_caps))
                    or folded in _NOT_NAMES
                    or folded.rstrip(".") in _MONTHS
                    or any(c.isdigit() for c in w)
                ):
                    flush()
                    continue
                ambiguous = (i == 0 or title_case) and (all_caps or not (w.isupper() and len(w) > 1))
                if ambiguous and case is not None:
                    verdict = case.is_name(w)
                    if verdict is False or (verdict is None and (strict or title_case)):
                        flush()
                        continue
                    ambiguous = verdict is None
                if not ambiguous:
                    ambiguous_run = False
                run.append(w)
            elif run and folded in _NAME_JOINERS:
                run.append(w)
            else:
                flush()
        flush()
    return [n for n in out if len(n) > 1 and not n.isdigit()]


def day_distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
    """Days between two (year, month, day) mentions; year 0 means "no year given".

    Without a year on either side only the month and day are compared, on a
    365-day circle, so "Dec. 30" and "Jan. 2" are 3 days apart.
    """
    if a[0] and b[0]:
        return abs((date(*a) - date(*b)).days)
    da = date(2001, a[1], min(a[2], 28) if a[1] == 2 else a[2]).timetuple().tm_yday
    db = date(2001, b[1], min(b[2], 28) if b[1] == 2 else b[2]).timetuple().tm_yday
    d = abs(da - db)
    return min(d, 365 - d)


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: Feb. 29 without a year is valid
    except ValueError:
        return False
    return True


def dates(text: str, when: datetime) -> tuple[set[tuple[int, int, int]], set[date]]:
    """Calendar dates mentioned in ``text``, as (explicit, weekdays).

    Explicit dates name a month and day ("Dec. 1", "5 December 2024") and are
    returned as (year, month, day) with year 0 when none was written: a
    missing year is not guessed, so the mention means the same whatever the
    article's timestamp.  Weekdays and "yesterday"/"today" are resolved as the
    most recent such day on or before ``when`` (or the day after, for time
    zones ahead of UTC); they are only as good as the article's timestamp.
    """
    explicit: set[tuple[int, int, int]] = set()
    for m in _DATE_MD.finditer(text):
        month = _MONTHS[m.group(1).lower().rstrip(".")]
        year, day = int(m.group(3) or 0), int(m.group(2))
        if _valid(year, month, day):
            explicit.add((year, month, day))
    for m in _DATE_DM.finditer(text):
        month = _MONTHS[m.group(2).lower().rstrip(".")]
        year, day = int(m.group(3) or 0), int(m.group(1))
        if _valid(year, month, day):
            explicit.add((year, month, day))
    relative: set[date] = set()
    ref = when.date()
    for m in _WEEKDAY_RE.finditer(text):
        # the most recent such day, or tomorrow: a timestamp in UTC can be a
        # day behind the local date the article was written in (Seoul, Sydney)
        back = (ref.weekday() - _WEEKDAYS[m.group(1).lower()]) % 7
        relative.add(ref + timedelta(days=1) if back == 6 else ref - timedelta(days=back))
    for m in _RELATIVE.finditer(text):
        word = m.group(1).lower()
        relative.add(ref - timedelta(days=1) if word in ("yesterday", "last night") else ref)
    return explicit, relative
