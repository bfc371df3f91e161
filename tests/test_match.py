"""Matching: the table in tests/data/match_cases.toml, then properties that a
table cannot state (offsets, snippets, every-occurrence listing, threads)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monitor.config import WatchSettings
from monitor.gazetteer import default_gazetteer
from monitor.match import AliasSpec, Matcher, WatchSpec, is_acronym, snippet
from monitor.rules import parse_rule
from monitor.textnorm import normalize

ROOT = Path(__file__).resolve().parent.parent
CASES = tomllib.loads((ROOT / "tests" / "data" / "match_cases.toml").read_text(encoding="utf-8"))
ACTORS = ROOT / "config" / "actors.toml"
_matchers: dict[str, Matcher] = {}


def matcher_for(group: dict) -> Matcher:
    if group["name"] not in _matchers:
        watches = [WatchSettings(**w) for w in group["watches"]]
        _matchers[group["name"]] = Matcher.from_settings(watches, actors_path=ACTORS, gazetteer=default_gazetteer())
    return _matchers[group["name"]]


def _table():
    for group in CASES["group"]:
        for i, case in enumerate(group["cases"]):
            yield pytest.param(group, case, id=f"{group['name']}-{i:02d}-{case['why'][:40]}")


@pytest.mark.parametrize("group,case", list(_table()))
def test_match_table(group: dict, case: dict) -> None:
    m = matcher_for(group)
    title, text = case["title"], case.get("text", "")
    found = {x.watch: x for x in m.match(title, text)}
    assert sorted(found) == sorted(case["expect"]), case["why"]
    for key in ("alias", "field"):
        for watch, want in case.get(key, {}).items():
            assert getattr(found[watch], key) == want, f"{case['why']}: {watch}.{key}"
    for watch, want in case.get("source", {}).items():
        assert found[watch].alias_source == want, f"{case['why']}: {watch}.alias_source"
    for x in found.values():
        original = title if x.field == "title" else text
        span = original[x.start : x.end]
        # the offsets point at the words that matched, in the original text
        # (for ل + an alias with the article, the span is the whole لل... word)
        alias = normalize(x.alias)
        assert normalize(span) in (alias, "ل" + alias[1:]), (x, span)
        assert span in x.snippet or " ".join(span.split()) in x.snippet


def test_every_case_group_has_positive_and_negative_cases() -> None:
    for group in CASES["group"]:
        assert any(c["expect"] for c in group["cases"]) and any(not c["expect"] for c in group["cases"])


# ------------------------------------------------------------ offsets, snippets


def test_offsets_map_back_through_removed_marks_and_ligatures() -> None:
    # tashkeel (removed), a ligature (one char -> two) and ß (-> ss) before the alias
    m = Matcher([WatchSpec("Homs", (AliasSpec("Homs"),)), WatchSpec("Hama", (AliasSpec("حماة"),))])
    text = "ﬁrst Straße: مُظَاهَرَة in حَمَاة, then Homs."
    got = {x.watch: x for x in m.match("", text)}
    assert text[got["Homs"].start : got["Homs"].end] == "Homs"
    assert text[got["Hama"].start : got["Hama"].end] == "حَمَاة"


def test_snippet_is_cut_at_words_and_marked() -> None:
    words = " ".join(f"w{i}" for i in range(60))
    text = f"{words} Homs {words}"
    start = text.index("Homs")
    s = snippet(text, start, start + 4)
    assert s.startswith("…") and s.endswith("…") and "Homs" in s
    inner = s.strip("…")
    # no word was cut in half: every token is a whole word of the text
    assert all(tok in text.split() for tok in inner.split())
    assert snippet("in Homs now", 3, 7) == "in Homs now"


def test_snippet_collapses_whitespace() -> None:
    assert snippet("a\n\n  Homs\tb", 5, 9) == "a Homs b"


def test_match_all_lists_every_occurrence_without_nested_ones() -> None:
    m = Matcher([WatchSpec("HTS", (AliasSpec("Hay'at Tahrir al-Sham"), AliasSpec("Tahrir al-Sham"), AliasSpec("HTS")))])
    title = "Hay'at Tahrir al-Sham (HTS) said Tahrir al-Sham fighters"
    got = [(x.alias, title[x.start : x.end]) for x in m.match_all(title)]
    assert got == [
        ("Hay'at Tahrir al-Sham", "Hay'at Tahrir al-Sham"),
        ("HTS", "HTS"),
        ("Tahrir al-Sham", "Tahrir al-Sham"),
    ]
    assert [x.alias for x in m.match(title)] == ["Hay'at Tahrir al-Sham"]


def test_one_watch_many_aliases_one_match_per_watch() -> None:
    m = Matcher([WatchSpec("Homs", (AliasSpec("Homs"), AliasSpec("Hims"))), WatchSpec("Other", (AliasSpec("Homs"),))])
    got = m.match("Hims and Homs", "Homs again")
    assert [(x.watch, x.alias, x.field) for x in got] == [("Homs", "Hims", "title"), ("Other", "Homs", "title")]


def test_acronym_rule() -> None:
    assert [a for a in ("HTS", "SDF", "ISIS", "IRGC", "Hts", "HAMAS", "H.T.S", "حمص") if is_acronym(a)] == [
        "HTS",
        "SDF",
        "ISIS",
        "IRGC",
    ]
    # a longer all-caps alias is matched like any name
    m = Matcher([WatchSpec("Hamas", (AliasSpec("HAMAS"),))])
    assert [x.watch for x in m.match("hamas said")] == ["Hamas"]


def test_rule_near_across_and_within_fields() -> None:
    w = WatchSpec("R", rule=parse_rule("(Homs OR Hims) NEAR/2 rebels"))
    m = Matcher([w])
    assert [x.alias for x in m.match("rebels in Hims")] == ["Hims"]
    assert m.match("rebels", "Hims") == []
    assert m.match("rebels were seen near Hims") == []  # 3 words apart


def test_scope_title_skips_the_text() -> None:
    m = Matcher([WatchSpec("T", (AliasSpec("Homs"),), scope="title")])
    assert m.match("Nothing", "Homs") == []
    assert [x.field for x in m.match("Homs", "Homs")] == ["title"]


def test_empty_matcher_and_empty_texts() -> None:
    assert Matcher([]).match("Homs", "Homs") == []
    m = Matcher([WatchSpec("Homs", (AliasSpec("Homs"),))])
    assert m.match("", "") == []
    assert m.key_count == 1 and m.watch_names == ("Homs",)


def test_matcher_is_safe_to_share_between_threads() -> None:
    m = Matcher([WatchSpec(f"w{i}", (AliasSpec(f"Town{i}"),)) for i in range(200)])
    texts = [(f"News from Town{i}", f"and Town{(i * 7) % 200}, then Town{(i * 13) % 200}") for i in range(400)]
    expected = [m.match(t, x) for t, x in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(lambda tx: m.match(*tx), texts)) == expected
    assert all(expected)


# ----------------------------------------------------------------- benchmark


def test_benchmark_quick_prints_its_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "match_speed.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "articles/s" in ln]
    sizes = []
    for ln in lines:
        fields = dict(part.split("=", 1) for part in ln.split() if "=" in part)
        sizes.append(int(fields["aliases"]))
        assert float(fields["articles/s"]) > 0
        assert float(fields["matches"]) >= 0
    assert sizes == [10, 1000, 50000]
