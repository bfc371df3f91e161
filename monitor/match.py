"""Watches -> matches with explanations, in one pass over the text (pure).

Input: :class:`WatchSpec` values (``monitor.watches`` compiles them from the
configuration, the gazetteer and the actors file).  Output:
:class:`monitor.records.Match` records saying which watch, which alias, which
field, and a snippet.

How a text is matched
=====================

1. Each field (title, then text when a watch's scope needs it) has its URLs,
   e-mail addresses and bare domains blanked (``textnorm.mask_urls``) and is
   folded (``textnorm.fold``: NFKC, case folding, Latin diacritics, Arabic
   letter forms, apostrophes, hyphens).
2. One Aho-Corasick automaton (pyahocorasick) holds every folded alias and
   term of every watch, so one scan finds all of them, whatever the number
   of watches (benchmarks/match_speed.py measures it).
3. Each hit is then checked:

   * **whole words**: the characters before and after must not be word
     characters (letters, digits, marks, ``_``).  Apostrophes and hyphens are
     not, so ``Homs's``, ``Assad’s`` and both halves of ``Homs-Hama`` match,
     while ``Homestead``, ``Hamas`` (for Hama) and ``Rastanburg`` do not.
   * **Arabic proclitics**: an alias in Arabic script may be preceded, inside
     its word, by the conjunctions و/ف and then one of the prepositions
     ب/ك/ل (``وحمص``, ``بحمص``, ``وبحمص`` match حمص); an alias that starts
     with the article ال also matches after ل, which absorbs the alef
     (``للرقه`` for الرقه).  The article itself is *not* a proclitic: الحمص
     is "the chickpeas", not Homs.  Known limit: a proclitic followed by a
     short alias can spell an unrelated word (و + رقه is ورقه, "paper"), so
     prefer aliases written with ال where the name takes it.
   * **acronyms**: an alias written in capitals with 4 letters or fewer
     (``HTS``, ``SDF``, ``ISIS``) only matches where the text has it in
     capitals, so "hts" in prose never fires.
   * never inside a URL (step 1).

4. Each watch touched by a hit is evaluated: an alias occurrence in scope
   (a *context* alias only counts when one of the watch's context terms, the
   city's country, occurs too), then ``all_of``, ``any_of``, ``none_of``,
   ``near`` (an alias within N words of a near term in the same field) and
   the ``rule`` (see :mod:`monitor.rules`).

Explanation: :meth:`Matcher.match` returns one :class:`Match` per matching
watch, its first alias occurrence in the title (the longest one at that
position), else the first in the text; for a near rule, an occurrence that
satisfied it.  A watch with no aliases is explained by its first positive
term (``alias_source`` "rule").  :meth:`Matcher.match_all` lists every alias
occurrence of every matching watch.

The matcher is immutable once built: one instance can serve many threads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import ahocorasick

from . import rules
from .records import Match
from .textnorm import Folded, fold, is_arabic, is_word_char, mask_urls, normalize, word_index, word_starts

if TYPE_CHECKING:  # pragma: no cover
    from .config import WatchSettings
    from .gazetteer import Gazetteer

__all__ = ["AliasSpec", "WatchSpec", "Matcher", "is_acronym", "snippet", "SNIPPET_CHARS"]

#: characters of context on each side of a match in a snippet (about 10 words)
SNIPPET_CHARS = 60
FIELDS = ("title", "text")

_PROCLITIC = re.compile(r"[وف]?[بكل]?")
_LIL = re.compile(r"[وف]?ل")


def is_acronym(alias: str) -> bool:
    """Written in ASCII capitals, 4 letters or fewer: matched case-sensitively."""
    a = alias.strip()
    return a.isascii() and a.isalpha() and a.isupper() and len(a) <= 4


@dataclass(frozen=True, slots=True)
class AliasSpec:
    text: str  # as the user, the gazetteer or the actors file wrote it
    source: str = "config"  # "config" | "gazetteer" | "actors"
    #: counts only when one of the watch's context terms occurs too
    needs_context: bool = False


@dataclass(frozen=True, slots=True)
class WatchSpec:
    """A watch as the matcher needs it (values only, no settings objects)."""

    name: str
    aliases: tuple[AliasSpec, ...] = ()
    #: for needs_context aliases: one of these must occur in scope
    context: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    near_terms: tuple[str, ...] = ()
    near_within: int = 20
    rule: rules.Node | None = None
    scope: str = "title+text"  # "title" | "title+text"


# ------------------------------------------------------------ compilation


@dataclass(frozen=True, slots=True)
class _Term:
    norm: str
    case_sensitive: bool
    arabic: bool
    starts_word: bool  # first character is a word character: check the boundary before
    ends_word: bool


@dataclass(slots=True)
class _Watch:
    spec: WatchSpec
    fields: tuple[int, ...]
    aliases: list[tuple[int, AliasSpec]] = field(default_factory=list)
    context: list[int] = field(default_factory=list)
    any_of: list[int] = field(default_factory=list)
    all_of: list[int] = field(default_factory=list)
    none_of: list[int] = field(default_factory=list)
    near: list[int] = field(default_factory=list)
    rule_terms: dict[rules.Term, int] = field(default_factory=dict)
    #: terms one of which must occur for the watch to match (the scan only
    #: evaluates watches touched by one of these)
    triggers: set[int] = field(default_factory=set)
    #: (term id, display text) that explain a watch without aliases
    positives: list[tuple[int, str]] = field(default_factory=list)


# an occurrence: (field index, start, end) in folded coordinates
_Occ = tuple[int, int, int]


class Matcher:
    """All watches compiled into one automaton.  Build once, match often."""

    def __init__(self, watches: Iterable[WatchSpec]):
        self._terms: list[_Term] = []
        self._term_ids: dict[tuple[str, bool], int] = {}
        self._keys: dict[str, list[tuple[int, bool]]] = {}
        self._watches: list[_Watch] = []
        for spec in watches:
            self._watches.append(self._compile(spec))
        self._by_trigger: dict[int, list[int]] = {}
        for wi, w in enumerate(self._watches):
            for t in w.triggers:
                self._by_trigger.setdefault(t, []).append(wi)
        self._needs_text = any(1 in w.fields for w in self._watches)
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_ANY, ahocorasick.KEY_STRING)
        for key, entries in self._keys.items():
            self._automaton.add_word(key, (len(key), tuple(entries)))
        if self._keys:
            self._automaton.make_automaton()

    @classmethod
    def from_settings(
        cls,
        watches: Sequence["WatchSettings"],
        *,
        actors_path: Path | None = None,
        gazetteer: "Gazetteer | None" = None,
    ) -> "Matcher":
        """Compile configured watches (gazetteer, actors file, user aliases)
        and build a matcher; raises ConfigError for a watch that cannot compile."""
        from .watches import compile_watches  # config-aware compiler: kept out of this pure module

        return cls(c.spec for c in compile_watches(watches, actors_path=actors_path, gazetteer=gazetteer))

    # .................................................................

    @property
    def watch_names(self) -> tuple[str, ...]:
        return tuple(w.spec.name for w in self._watches)

    @property
    def key_count(self) -> int:
        """Distinct folded strings in the automaton (aliases and terms of all watches)."""
        return len(self._keys)

    def _term(self, text: str) -> int | None:
        norm = normalize(text)
        if not norm:
            return None
        cs = is_acronym(text)
        key = (norm, cs)
        tid = self._term_ids.get(key)
        if tid is not None:
            return tid
        tid = len(self._terms)
        self._terms.append(
            _Term(
                norm=norm,
                case_sensitive=cs,
                arabic=is_arabic(norm[0]),
                starts_word=is_word_char(norm[0]),
                ends_word=is_word_char(norm[-1]),
            )
        )
        self._term_ids[key] = tid
        self._keys.setdefault(norm, []).append((tid, False))
        if norm.startswith("ال") and len(norm) > 3:
            # ل + ال... is written لل...: the alias without its alef, after a ل
            self._keys.setdefault(norm[1:], []).append((tid, True))
        return tid

    def _terms_of(self, texts: Iterable[str]) -> list[int]:
        return [t for t in (self._term(x) for x in texts) if t is not None]

    def _compile(self, spec: WatchSpec) -> _Watch:
        w = _Watch(spec=spec, fields=(0,) if spec.scope == "title" else (0, 1))
        for a in spec.aliases:
            tid = self._term(a.text)
            if tid is not None:
                w.aliases.append((tid, a))
        w.context = self._terms_of(spec.context)
        w.any_of = self._terms_of(spec.any_of)
        w.all_of = self._terms_of(spec.all_of)
        w.none_of = self._terms_of(spec.none_of)
        w.near = self._terms_of(spec.near_terms)
        if spec.rule is not None:
            for t in rules.terms_of(spec.rule):
                tid = self._term(t.text)
                if tid is not None:
                    w.rule_terms[t] = tid
        if w.aliases:
            w.triggers = {tid for tid, _ in w.aliases}
        else:
            texts: list[str] = []
            if spec.any_of:
                texts = list(spec.any_of)
            elif spec.all_of:
                texts = list(spec.all_of)
            elif spec.rule is not None:
                pos = rules.positive_terms(spec.rule)
                texts = sorted(x for x in pos or () if x is not None)
            w.positives = [(tid, x) for x in texts if (tid := self._term(x)) is not None]
            w.triggers = {tid for tid, _ in w.positives}
        return w

    # ............................................................ match

    def match(self, title: str, text: str = "") -> list[Match]:
        """One explained match per matching watch, in watch order."""
        return [ms[0] for ms in self._run(title, text, every=False)]

    def match_all(self, title: str, text: str = "") -> list[Match]:
        """Every alias occurrence (or positive term, for a watch without
        aliases) of every matching watch, title first, in text order."""
        return [m for ms in self._run(title, text, every=True) for m in ms]

    def _run(self, title: str, text: str, *, every: bool) -> list[list[Match]]:
        if not self._keys:
            return []
        texts = (title or "", text or "")
        folded: list[Folded | None] = [None, None]
        occ: dict[int, list[_Occ]] = {}
        for fi in (0, 1) if self._needs_text else (0,):
            if not texts[fi]:
                continue
            f = fold(mask_urls(texts[fi]))
            folded[fi] = f
            self._scan(fi, f, occ)
        if not occ:
            return []
        candidates = sorted({wi for tid in occ for wi in self._by_trigger.get(tid, ())})
        out = []
        ctx = _Context(texts, folded)
        for wi in candidates:
            ms = self._evaluate(self._watches[wi], occ, ctx, every)
            if ms:
                out.append(ms)
        return out

    def _scan(self, fi: int, f: Folded, occ: dict[int, list[_Occ]]) -> None:
        s_text = f.text
        n = len(s_text)
        terms = self._terms
        for end, (klen, entries) in self._automaton.iter(s_text):
            e = end + 1
            s = e - klen
            for tid, lil in entries:
                t = terms[tid]
                if t.ends_word and e < n and is_word_char(s_text[e]):
                    continue
                if t.starts_word and s > 0 and is_word_char(s_text[s - 1]):
                    if not t.arabic or not _arabic_prefix_ok(s_text, s, lil):
                        continue
                elif lil:
                    continue  # the ل of لل... is missing
                if t.case_sensitive:
                    os_, oe = f.to_original(s, e)
                    if not f.original[os_:oe].isupper():
                        continue
                occ.setdefault(tid, []).append((fi, s - 1 if lil else s, e))

    def _evaluate(self, w: _Watch, occ: dict[int, list[_Occ]], ctx: "_Context", every: bool) -> list[Match]:
        fields = w.fields

        def found(tid: int) -> list[_Occ]:
            return [o for o in occ.get(tid, ()) if o[0] in fields]

        def present(tid: int) -> bool:
            return any(o[0] in fields for o in occ.get(tid, ()))

        # aliases, with context aliases only when their context is there
        hits: list[tuple[_Occ, AliasSpec]] = []
        context_ok: bool | None = None
        for tid, a in w.aliases:
            if tid not in occ:
                continue
            os_ = found(tid)
            if not os_:
                continue
            if a.needs_context:
                if context_ok is None:
                    context_ok = any(present(c) for c in w.context)
                if not context_ok:
                    continue
            hits.extend((o, a) for o in os_)
        if w.aliases and not hits:
            return []
        if w.all_of and not all(present(t) for t in w.all_of):
            return []
        if w.any_of and not any(present(t) for t in w.any_of):
            return []
        if any(present(t) for t in w.none_of):
            return []
        if w.near and hits:
            near_occ = [o for t in w.near for o in found(t)]
            within = w.spec.near_within
            hits = [(o, a) for o, a in hits if any(ctx.distance(o, n) <= within for n in near_occ)]
            if not hits:
                return []
        if w.spec.rule is not None:
            alias_occ = [o for o, _ in hits]
            if not self._eval_rule(w.spec.rule, w, found, alias_occ, ctx):
                return []
        if hits:
            hits.sort(key=lambda h: (h[0][0], h[0][1], h[0][1] - h[0][2]))
            chosen = _outermost(hits) if every else hits[:1]
            return [ctx.record(w.spec.name, o, a.text, a.source) for o, a in chosen]
        # a watch without aliases: explained by its first positive term
        terms = sorted(((o, x) for tid, x in w.positives for o in found(tid)), key=lambda h: (h[0][0], h[0][1], h[0][1] - h[0][2]))
        if not terms:
            return []
        chosen_t = terms if every else terms[:1]
        return [ctx.record(w.spec.name, o, x, "rule") for o, x in chosen_t]

    def _eval_rule(self, node: rules.Node, w: _Watch, found, alias_occ: list[_Occ], ctx: "_Context") -> bool:
        if isinstance(node, rules.Term):
            tid = w.rule_terms.get(node)
            return tid is not None and bool(found(tid))
        if isinstance(node, rules.AliasRef):
            return bool(alias_occ)
        if isinstance(node, rules.Not):
            return not self._eval_rule(node.item, w, found, alias_occ, ctx)
        if isinstance(node, rules.And):
            return all(self._eval_rule(x, w, found, alias_occ, ctx) for x in node.items)
        if isinstance(node, rules.Or):
            return any(self._eval_rule(x, w, found, alias_occ, ctx) for x in node.items)
        if isinstance(node, rules.Near):
            left = self._positions(node.left, w, found, alias_occ)
            right = self._positions(node.right, w, found, alias_occ)
            return any(ctx.distance(a, b) <= node.within for a in left for b in right if a[0] == b[0])
        raise TypeError(node)

    def _positions(self, node: rules.Node, w: _Watch, found, alias_occ: list[_Occ]) -> list[_Occ]:
        if isinstance(node, rules.Term):
            tid = w.rule_terms.get(node)
            return found(tid) if tid is not None else []
        if isinstance(node, rules.AliasRef):
            return alias_occ
        if isinstance(node, rules.Or):
            return [o for x in node.items for o in self._positions(x, w, found, alias_occ)]
        raise TypeError(node)  # the parser only lets positional nodes into NEAR


def _outermost(hits: list[tuple[_Occ, AliasSpec]]) -> list[tuple[_Occ, AliasSpec]]:
    """Sorted hits without those inside a longer one ("Tahrir al-Sham" within
    "Hay'at Tahrir al-Sham")."""
    out: list[tuple[_Occ, AliasSpec]] = []
    reach = (-1, -1)  # (field, furthest end so far)
    for h in hits:
        o = h[0]
        if reach[0] == o[0] and o[2] <= reach[1]:
            continue
        out.append(h)
        reach = (o[0], max(o[2], reach[1]) if reach[0] == o[0] else o[2])
    return out


def _arabic_prefix_ok(s: str, start: int, lil: bool) -> bool:
    """Is the part of the word before ``start`` an allowed proclitic sequence?"""
    ws = start
    while ws > 0 and is_word_char(s[ws - 1]):
        ws -= 1
        if start - ws > 3:
            return False
    prefix = s[ws:start]
    if lil:  # the ل that absorbed the article's alef is part of the prefix
        return _LIL.fullmatch(prefix) is not None
    return bool(prefix) and _PROCLITIC.fullmatch(prefix) is not None


class _Context:
    """Per-call state: the fields, their foldings, word positions (lazily)."""

    __slots__ = ("texts", "folded", "_starts")

    def __init__(self, texts: tuple[str, str], folded: list[Folded | None]):
        self.texts = texts
        self.folded = folded
        self._starts: list[list[int] | None] = [None, None]

    def _words(self, fi: int) -> list[int]:
        st = self._starts[fi]
        if st is None:
            f = self.folded[fi]
            st = word_starts(f.text) if f is not None else []
            self._starts[fi] = st
        return st

    def distance(self, a: _Occ, b: _Occ) -> int:
        """Words between two occurrences (neighbours: 1); huge across fields."""
        if a[0] != b[0]:
            return 1 << 30
        st = self._words(a[0])
        a0, a1 = word_index(st, a[1]), word_index(st, max(a[1], a[2] - 1))
        b0, b1 = word_index(st, b[1]), word_index(st, max(b[1], b[2] - 1))
        return max(b0 - a1, a0 - b1, 0)

    def record(self, watch: str, o: _Occ, alias: str, source: str) -> Match:
        fi, s, e = o
        f = self.folded[fi]
        assert f is not None
        os_, oe = f.to_original(s, e)
        original = self.texts[fi]
        return Match(
            watch=watch,
            alias=alias,
            field=FIELDS[fi],
            snippet=snippet(original, os_, oe),
            start=os_,
            end=oe,
            alias_source=source,
        )


def snippet(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """Some words around ``text[start:end]``, whitespace collapsed, cut at
    word boundaries, with "…" where text was left out."""
    left = max(0, start - width)
    right = min(len(text), end + width)
    if left > 0:
        sp = text.find(" ", left, start)
        left = sp + 1 if sp != -1 else left
    if right < len(text):
        sp = text.rfind(" ", end, right)
        right = sp if sp != -1 else right
    body = " ".join(text[left:right].split())
    return ("…" if left > 0 else "") + body + ("…" if right < len(text) else "")
