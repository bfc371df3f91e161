"""Watches: gazetteer decisions, the actors file, compilation, explanation,
validation (monitor.gazetteer, monitor.watches)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from monitor.config import WatchSettings, settings_from_dict
from monitor.errors import ConfigError
from monitor.gazetteer import Gazetteer, default_gazetteer
from monitor.match import Matcher
from monitor.textnorm import normalize
from monitor.watches import (
    compile_watch,
    compile_watches,
    explain_watch,
    find_actor,
    format_explanation,
    load_actors,
    validate_watches,
)

ROOT = Path(__file__).resolve().parent.parent
ACTORS = ROOT / "config" / "actors.toml"


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return default_gazetteer()


@pytest.fixture(scope="module")
def actors():
    return load_actors(ACTORS)


# ------------------------------------------------------------- gazetteer

# (city query, GeoNames name, status, words in the reason): the noise rules
DECISIONS = [
    ("Homs", "Homs", "duplicate", "same text as 'Homs'"),  # the query comes first, as the user's own
    ("Homs", "Hims", "kept", "alternate name"),
    ("Homs", "حمص", "kept", "alternate name"),
    ("Homs", "Ḩimş", "duplicate", "same text as 'Hims'"),
    ("Homs", "Emesa", "kept", "alternate name"),  # historic, harmless
    ("Homs", "QHS", "dropped", "airport-style code"),
    ("Homs", "hms", "dropped", "all lower case"),
    ("Homs", "huo mu si", "dropped", "all lower case"),
    ("Homs", "Хомс", "dropped", "Cyrillic script"),
    ("Homs", "霍姆斯", "dropped", "script"),
    ("Homs", "Humus", "context", "ordinary English word"),
    ("Homs", "مدينة حمص", "dropped", "redundant: contains the alias 'حمص'"),
    ("Hama", "Ḩamāh", "kept", "city's name in GeoNames"),
    ("Hama", "Hamah", "duplicate", "'Ḩamāh'"),
    ("Hama", "Gama", "context", "also the name of Gama, BR"),
    ("Hama", "حماه", "duplicate", "'حماة'"),
    ("Damascus", "Al-Sham", "context", "ordinary English word"),
    ("Damascus", "Sam", "dropped", "too short: 3 letters"),
    ("Damascus", "DAM", "dropped", "code"),
    ("Douma", "Dūmā", "context", "ordinary English word"),  # the Russian Duma
    ("Tartus", "Tortosa", "context", "also the name of Tortosa, ES"),
    ("Aleppo", "Veroia", "context", "Véroia, GR"),
    ("Aleppo", "Madinat Halab", "dropped", "redundant"),
    ("Aleppo", "Madīnat Ḩalab", "dropped", "redundant"),
    ("Raqqa", "رقه", "dropped", "takes the article"),
    ("Raqqa", "الرقة", "kept", "alternate name"),
    ("Daraa", "Darʿa", "duplicate", "same text as 'Dar‘ā'"),  # ʿayn is a modifier letter, not a script
    ("Daraa", "Dara", "context", "also the name of Dara, SN"),
    ("Tripoli, LB", "Tarabulus", "context", "larger Tripoli, LY"),
    ("Bar-le-Duc", "Bar", "dropped", "too short"),
]


@pytest.mark.parametrize("query,name,status,why", DECISIONS, ids=[f"{q}:{n}" for q, n, _, _ in DECISIONS])
def test_gazetteer_decisions(gaz: Gazetteer, query: str, name: str, status: str, why: str) -> None:
    place = gaz.find(query)
    decisions = {d.alias: d for d in gaz.decide(place, query=query) if d.source == "gazetteer"}
    d = decisions[name]
    assert (d.status, d.source) == (status, "gazetteer")
    assert why in d.reason


def test_the_query_is_kept_as_the_users_alias(gaz: Gazetteer) -> None:
    first = gaz.decide(gaz.find("Hama"), query="Hama")[0]
    assert (first.alias, first.source, first.status) == ("Hama", "config", "kept")


# (query, name, country code, GeoNames id)
LOOKUPS = [
    ("Homs", "Homs", "SY", 169577),
    ("Hama", "Ḩamāh", "SY", 170017),  # an alternate name; the most populous city with it
    ("hama", "Ḩamāh", "SY", 170017),
    ("Damascus", "Damascus", "SY", 170654),  # not Damascus, Maryland
    ("Tripoli", "Tripoli", "LY", 2210247),
    ("Tripoli, LB", "Tripoli", "LB", 266826),
    ("169577", "Homs", "SY", 169577),
    ("Ḥimṣ", "Homs", "SY", 169577),
]


@pytest.mark.parametrize("query,name,cc,gid", LOOKUPS, ids=[q for q, *_ in LOOKUPS])
def test_city_lookup(gaz: Gazetteer, query: str, name: str, cc: str, gid: int) -> None:
    p = gaz.find(query)
    assert (p.name, p.country_code, p.geonameid) == (name, cc, gid)


def test_unknown_city_suggests_close_well_known_names(gaz: Gazetteer) -> None:
    with pytest.raises(ConfigError) as info:
        gaz.find("Hmos")
    assert "no city called 'Hmos'" in str(info.value) and "Homs (SY)" in str(info.value)


def test_english_word_list_is_the_generated_file() -> None:
    from monitor.gazetteer import english_words

    words = english_words()
    assert {"bar", "duma", "humus", "sham"} <= words
    assert not {"homs", "hama", "aleppo", "gaza", "idlib"} & words


# ----------------------------------------------------------------- actors


def test_shipped_actors_file_is_small_unambiguous_and_well_formed(actors) -> None:
    data = tomllib.loads(ACTORS.read_text(encoding="utf-8"))
    assert set(data) == {"actors"} and 5 <= len(actors) <= 20
    owner: dict[str, str] = {}
    for a in actors.values():
        for alias in (a.name, *a.aliases):
            norm = normalize(alias)
            assert owner.setdefault(norm, a.key) == a.key, f"{alias!r} belongs to {owner[norm]} and {a.key}"
            # a two-letter acronym ("IS") matches the verb in all-caps headlines
            assert len(norm.replace(" ", "")) >= 3, alias
    for key in ("hts", "assad", "sdf", "isis", "hezbollah", "sna"):
        assert key in actors


@pytest.mark.parametrize("query,key", [("hts", "hts"), ("HTS", "hts"), ("Hayat Tahrir al-Sham", "hts"),
                                       ("Hay’at Tahrir al-Sham", "hts"), ("Assad", "assad"), ("Daesh", "isis"),
                                       ("Nusra", None)])
def test_find_actor(actors, query: str, key: str | None) -> None:
    a = find_actor(actors, query)
    assert (a.key if a else None) == key


@pytest.mark.parametrize(
    "content,words",
    [
        ("[actors.x\n", "not valid TOML"),
        ("[actors.x]\naliases = ['X']\n", "actors.x.name: required"),
        ("[actors.x]\nname = 'X'\naliases = 'X'\n", "expected a list of strings"),
        ("[actors.x]\nname = 'X'\nspelling = ['Y']\n", "unknown key(s) spelling"),
        ("[people.x]\nname = 'X'\n", "unknown top-level key(s) people"),
    ],
)
def test_bad_actors_file(tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "actors.toml"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_actors(p)
    assert words in str(info.value)
    assert str(info.value).startswith("watches: ")


def test_missing_actors_file_is_reported_when_a_watch_needs_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="actors file .* not found"):
        compile_watches([WatchSettings(name="HTS", actor="HTS")], actors_path=tmp_path / "none.toml")


# ---------------------------------------------------------------- compile


def test_city_watch_sources_and_user_precedence(gaz, actors) -> None:
    ws = WatchSettings(name="Homs", kind="city", city="Homs", aliases=["Hims", "حمص"], exclude_aliases=["emesa"])
    c = compile_watch(ws, actors=actors, gazetteer=gaz)
    used = {a.text: a for a in c.spec.aliases}
    assert used["Homs"].source == "config"
    assert used["Hims"].source == "config"  # the user's spelling wins over the gazetteer's
    assert used["Khoms"].source == "gazetteer"
    assert used["Humus"].needs_context and not used["Hims"].needs_context
    assert "Emesa" not in used
    why = {(d.alias, d.source): d for d in explain_watch(c)}
    assert why[("Emesa", "gazetteer")].status == "dropped"
    assert why[("Emesa", "gazetteer")].reason == "excluded by exclude_aliases"
    assert why[("Hims", "gazetteer")].status == "duplicate"
    assert c.spec.context == ("Syria",)
    assert c.place is not None and c.place.geonameid == 169577


def test_kind_city_uses_the_name_and_actor_by_name(gaz, actors) -> None:
    c = compile_watch(WatchSettings(name="Hama", kind="city"), actors=actors, gazetteer=gaz)
    assert c.place is not None and c.place.country_code == "SY"
    a = compile_watch(WatchSettings(name="HTS", kind="actor"), actors=actors, gazetteer=gaz)
    assert {x.source for x in a.spec.aliases} == {"actors"}
    assert "هيئة تحرير الشام" in {x.text for x in a.spec.aliases}


def test_a_city_watch_for_a_place_geonames_lacks_uses_its_aliases(gaz, actors) -> None:
    # kind = "city" with no city = ...: the name is looked up, and may be absent
    c = compile_watch(WatchSettings(name="Baghuz", kind="city", aliases=["Baghuz", "الباغوز"]), actors=actors, gazetteer=gaz)
    assert [a.text for a in c.spec.aliases] == ["Baghuz", "الباغوز"] and c.place is None
    # ...but a city named explicitly must exist
    with pytest.raises(ConfigError, match="no city called 'Baghuz'"):
        compile_watch(WatchSettings(name="B", city="Baghuz", aliases=["Baghuz"]), actors=actors, gazetteer=gaz)
    # and a small place GeoNames knows under another spelling is found
    k = compile_watch(WatchSettings(name="Kafr Nubl", kind="city"), actors=actors, gazetteer=gaz)
    assert k.place is not None and k.place.name == "Kafranbel"


def test_format_explanation_shows_place_sources_and_fates(gaz, actors) -> None:
    c = compile_watch(WatchSettings(name="Homs", city="Homs"), actors=actors, gazetteer=gaz)
    text = format_explanation(c)
    assert "city: Homs, SY (GeoNames 169577" in text
    assert "Al Khums, LY" in text  # the other place called Homs
    assert "context   Humus" in text and "dropped   QHS" in text and "[gazetteer]" in text
    a = compile_watch(
        WatchSettings(name="HTS", actor="hts", rule='@alias AND NOT "football"', near={"terms": ["Idlib"], "within": 9}),
        actors=actors,
        gazetteer=gaz,
    )
    text = format_explanation(a)
    assert "actor: Hayat Tahrir al-Sham [actors.hts]" in text
    assert 'rule: @alias AND NOT "football"' in text
    assert "near: an alias within 9 words of Idlib" in text


def test_from_settings_builds_a_matcher_from_a_config(gaz) -> None:
    settings = settings_from_dict(
        {
            "watches": [
                {"name": "Homs", "kind": "city", "city": "Homs", "aliases": ["Hims", "Ḥimṣ", "حمص"]},
                {"name": "Hama", "kind": "city", "city": "Hama"},
                {"name": "HTS", "kind": "actor", "actor": "Hayat Tahrir al-Sham"},
            ]
        },
        env={},
    )
    m = Matcher.from_settings(settings.watches, actors_path=ACTORS, gazetteer=gaz)
    got = [(x.watch, x.alias, x.alias_source) for x in m.match("HTS fighters enter Hamah", "Residents of حمص fled.")]
    assert got == [("Homs", "حمص", "config"), ("Hama", "Ḩamāh", "gazetteer"), ("HTS", "HTS", "actors")]
    assert validate_watches(settings, actors_path=ACTORS, gazetteer=gaz) == []


# --------------------------------------------------------------- validate

# (watch as in monitor.toml, words of the one problem expected)
PROBLEMS = [
    ({"name": "R", "rule": "Homs NEAR/20 (rebels OR"}, "watches: R: rule: column 24: the rule ends where a term was expected"),
    ({"name": "R", "rule": "homs rebels"}, "watches: R: rule: column 6: expected AND, OR"),
    ({"name": "N", "rule": "NOT football"}, "watches: N: rule: requires no term"),
    ({"name": "N", "rule": "@alias AND rebels"}, "watches: N: rule: column 1: @alias refers to this watch's aliases, but it has none"),
    ({"name": "N", "aliases": ["Homs"], "rule": "@alias AND rebels"}, None),
    ({"name": "A", "rule": "NOT x OR NOT y"}, "watches: A: rule: requires no term"),
    ({"name": "E"}, "watches: E: matches nothing"),
    ({"name": "C", "city": "Hmos"}, "watches: C: city: gazetteer: no city called 'Hmos'"),
    ({"name": "Y", "actor": "Nusra"}, "watches: Y: actor: no actor called 'Nusra'"),
    ({"name": "S", "aliases": ["H"]}, "watches: S: aliases: 'H' has fewer than 2 letters"),
    ({"name": "S", "aliases": ["Homs", "--"]}, "watches: S: aliases: '--' is empty"),
    ({"name": "X", "city": "Homs", "exclude_aliases": ["Hmos"]}, "watches: X: exclude_aliases: 'Hmos' is not one of this watch's aliases"),
    ({"name": "X", "city": "Homs", "exclude_aliases": ["HUMUS"]}, None),  # folded comparison
    ({"name": "Q", "any_of": ["sarin"], "near": {"terms": ["attack"]}}, "watches: Q: near: measures distance from the watch's aliases"),
    ({"name": "Q", "any_of": ["sarin", "x"]}, "watches: Q: any_of: 'x' has fewer than 2 letters"),
    ({"name": "T", "aliases": ["Homs"], "rule": "Homs AND \"\u0651\""}, "watches: T: rule: column 10: the term"),
]


@pytest.mark.parametrize("watch,problem", PROBLEMS, ids=[f"{w['name']}-{i}" for i, (w, _) in enumerate(PROBLEMS)])
def test_validate_watches(gaz, watch: dict, problem: str | None) -> None:
    problems = validate_watches([WatchSettings(**watch)], actors_path=ACTORS, gazetteer=gaz)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_compile_watches_reports_every_problem_at_once(gaz) -> None:
    with pytest.raises(ConfigError) as info:
        compile_watches(
            [WatchSettings(name="A", rule="a b"), WatchSettings(name="B", actor="Nobody")], actors_path=ACTORS, gazetteer=gaz
        )
    assert len(info.value.problems) == 2
    assert info.value.problems[0].startswith("watches: A: rule: column 3")
