"""Level 3: reports of one event join one story; events of the same kind stay apart.

The articles below are written for these tests (in the style of the outlets
in benchmarks/data/events.jsonl).  Each carries the story it belongs to; the
tests stream them through the clusterer in publication order and compare the
stories it builds with those labels.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.dedup import ClusterParams, StoryClusterer, best_title
from monitor.records import ArticleDoc, StoryAssignment

REPO = Path(__file__).resolve().parents[1]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 12, day, hour, minute, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Report:
    story: str  # the expected story label
    source: str
    when: datetime
    title: str
    text: str = ""


# --- two cities captured, four days apart: the hard case ----------------------------------

HAMA = [
    Report("hama", "Atlas News Agency", at(5, 15, 10), "Syrian rebels seize Hama as army withdraws",
           "BEIRUT (Atlas) — Rebels led by Hayat Tahrir al-Sham captured the central city of Hama on Thursday, "
           "the army said, the second major city to fall to the insurgents in little more than a week. The "
           "military said its units had redeployed outside Hama to protect civilians after fierce fighting on "
           "the northern edge of the city. Residents said fighters had opened the central prison. The fall of "
           "Hama opens the road south to Homs."),
    Report("hama", "Daily Courier", at(5, 16, 40), "Hama Falls to Rebels in Second Blow to Assad in a Week"),
    Report("hama", "Levant Observer", at(5, 18, 5), "Army pulls out of Hamah as insurgents sweep in",
           "Hamah: Syrian government forces withdrew from Hamah on Thursday as fighters from Hayat Tahrir "
           "al-Sham advanced into the city from the north, a war monitor said. The defence ministry called the "
           "retreat a redeployment. Crowds in the main square tore down portraits of Bashar al-Assad."),
    Report("hama", "Capital Ledger", at(5, 21, 30), "What the fall of Hama means for Assad",
           "The capture of Hama by Hayat Tahrir al-Sham on Thursday leaves Bashar al-Assad's forces holding "
           "Homs and Damascus. Hama, where the president's father crushed an uprising in 1982, fell after the "
           "army said it had redeployed outside the city."),
    Report("hama", "Harbour Times", at(6, 7, 15), "Rebels free prisoners after taking Hama"),
]

HOMS = [
    Report("homs", "Atlas News Agency", at(7, 23, 50), "Syrian rebels enter Homs as government forces abandon city",
           "BEIRUT (Atlas) — Rebels led by Hayat Tahrir al-Sham entered the city of Homs on Saturday, the third "
           "major city to fall to the insurgents, after government forces abandoned their positions, a war "
           "monitor said. The loss of Homs cuts the road between Damascus and the coast. Thousands of residents "
           "had fled west towards Tartus in the preceding days."),
    Report("homs", "Meridian Wire", at(8, 1, 5), "Homs falls to insurgents, cutting Damascus off from the coast",
           "Syria's third city of Homs fell to Hayat Tahrir al-Sham fighters on Saturday after the army pulled "
           "out overnight, leaving Bashar al-Assad's capital cut off from the Alawite coastal heartland."),
    Report("homs", "Daily Courier", at(8, 2, 0), "Rebels Take Homs"),
    Report("homs", "Levant Observer", at(8, 3, 30), "Insurgents in control of Hims after army withdrawal",
           "Hims: Government troops withdrew from Hims on Saturday and fighters of Hayat Tahrir al-Sham took "
           "control of the city centre, residents said, the latest in a string of swift gains. The fall of "
           "the country's third city cuts Damascus off from the coast."),
]

# --- two airstrikes on two different days -------------------------------------------------

IDLIB_STRIKE = [
    Report("idlib-strike", "Meridian Wire", at(2, 14, 0), "Air strike on Idlib market kills nine",
           "Syrian and Russian warplanes struck a crowded market in the city of Idlib on Monday, killing nine "
           "people including two children, rescuers from the White Helmets said. The strike destroyed shops "
           "and a bakery near the main square."),
    Report("idlib-strike", "Frontline Report", at(2, 16, 20), "Nine dead as jets bomb market in Idlib",
           "At least nine people were killed when jets bombed the central market in Idlib on Monday, the White "
           "Helmets civil defence group said, as government allies stepped up raids on the rebel stronghold."),
    Report("idlib-strike", "Daily Courier", at(2, 18, 0), "Jets Pound Market in Rebel-Held Idlib"),
]

ALEPPO_STRIKE = [
    Report("aleppo-strike", "Meridian Wire", at(1, 12, 30), "Air strike on Aleppo roundabout kills 16",
           "A Syrian government air strike hit a busy roundabout in Aleppo on Sunday, killing 16 people, a day "
           "after rebels took control of most of the city, the White Helmets rescue service said. Cars and "
           "buses were set ablaze around the traffic circle."),
    Report("aleppo-strike", "Signal Daily", at(1, 15, 45), "Sixteen killed as warplanes hit Aleppo traffic circle",
           "Warplanes struck a traffic circle in Aleppo on Sunday, killing sixteen people, rescuers said, in "
           "the first air raid on the city since rebels seized it on Friday and Saturday."),
]

# --- an unrelated story that shares a city name --------------------------------------------

DAMASCUS_MD = [
    Report("damascus-md", "Riverbend Gazette", at(7, 22, 0), "Damascus Hornets win Maryland state football title",
           "The Damascus High School Hornets beat Linganore 28-14 on Saturday to win the Maryland 3A state "
           "football championship in Annapolis, the school's fourth title in six years."),
]

# --- two elections in two countries whose names are one letter apart --------------------------

ELECTION = ("Voters in {c} went to the polls on {d} in a general election called early after the "
            "governing coalition collapsed. Polls closed at 10pm and counting begins in the morning; turnout "
            "in {c} was put at about 60 per cent, the electoral commission said.")
IRELAND = [
    Report("ireland", "Atlas News Agency", at(1, 22, 0), "Ireland votes in general election",
           ELECTION.format(c="Ireland", d="Friday")),
    Report("ireland", "Daily Courier", at(1, 23, 30), "Counting to begin as Ireland election polls close"),
]
ICELAND = [
    Report("iceland", "Atlas News Agency", at(2, 8, 0), "Iceland votes in general election",
           ELECTION.format(c="Iceland", d="Saturday")),
    Report("iceland", "Daily Courier", at(2, 9, 30), "Counting to begin as Iceland election polls close"),
]

ALL = sorted(HAMA + HOMS + IDLIB_STRIKE + ALEPPO_STRIKE + DAMASCUS_MD, key=lambda r: r.when)


def stream(reports: list[Report], clusterer: StoryClusterer | None = None) -> tuple[dict[str, set[int]], list[StoryAssignment]]:
    """Stream reports in order; returns label -> story ids it was put in, and each decision."""
    clusterer = clusterer or StoryClusterer()
    stories: dict[str, set[int]] = defaultdict(set)
    decisions = []
    next_id = 1
    for i, r in enumerate(reports, 1):
        doc = ArticleDoc(article_id=i, source=r.source, title=r.title, text=r.text, when=r.when)
        decision = clusterer.assign(doc, r.when)
        sid = decision.story_id
        if sid is None:
            sid, next_id = next_id, next_id + 1
        clusterer.add(doc, sid, decision.similarity)
        stories[r.story].add(sid)
        decisions.append(decision)
    return stories, decisions


def test_each_event_is_one_story_and_events_stay_apart() -> None:
    stories, _ = stream(ALL)
    for label, ids in stories.items():
        assert len(ids) == 1, f"{label} was split into stories {sorted(ids)}"
    owners: dict[int, str] = {}
    for label, ids in stories.items():
        for sid in ids:
            assert sid not in owners, f"{label} and {owners.get(sid)} were merged into story {sid}"
            owners[sid] = label


@pytest.mark.parametrize(
    ("first", "second", "why"),
    [
        (HAMA, HOMS, "two cities captured by the same group two days apart"),
        (IDLIB_STRIKE, ALEPPO_STRIKE, "two airstrikes in two cities on two days"),
        (ALEPPO_STRIKE, IDLIB_STRIKE, "the same, in the other order"),
        (HOMS, DAMASCUS_MD, "a story that shares a place name"),
        (IRELAND, ICELAND, "two elections in countries one letter apart (not a transliteration)"),
    ],
)
def test_same_kind_events_stay_apart(first: list[Report], second: list[Report], why: str) -> None:
    stories, _ = stream(sorted(first + second, key=lambda r: r.when))
    a, b = (stories[first[0].story], stories[second[0].story])
    assert not a & b, why


def test_a_veto_overrules_a_high_score() -> None:
    """Two same-kind reports whose words are almost the same, but name other cities and days."""
    base = ("Rebels led by Hayat Tahrir al-Sham captured the city of {city} on {day}, the army said, after "
            "government forces withdrew to protect civilians. Residents of {city} said fighters had entered "
            "the main square.")
    one = [Report("a", "Atlas News Agency", at(3, 12), "Rebels capture Aleppo", base.format(city="Aleppo", day="Tuesday"))]
    two = [Report("b", "Atlas News Agency", at(5, 12), "Rebels capture Hama", base.format(city="Hama", day="Thursday"))]
    clusterer = StoryClusterer()
    stories, decisions = stream(one + two, clusterer)
    assert stories["a"] != stories["b"]
    assert decisions[1].story_id is None
    assert "vetoed" in decisions[1].reason
    assert re.search(r"days differ|someone or somewhere else", decisions[1].reason)
    # without the vetoes the two reports would have been one story
    lax = StoryClusterer(params=ClusterParams(use_name_veto=False, use_date_veto=False))
    _, lax_decisions = stream(one + two, lax)
    assert lax_decisions[1].story_id == 1


def test_headline_only_and_full_text_reports_of_one_event_join() -> None:
    reports = sorted(HAMA, key=lambda r: r.when)
    stories, decisions = stream(reports)
    assert len(stories["hama"]) == 1
    headline_only = [d for r, d in zip(reports, decisions) if not r.text]
    assert headline_only and all(d.story_id is not None for d in headline_only)


def test_headline_first_then_full_text() -> None:
    """A headline-only item can start a story that full-text reports then join."""
    reports = [
        Report("x", "Daily Courier", at(5, 14, 0), "Syrian Rebels Seize Hama as Army Withdraws"),
        *[r for r in HAMA if r.text],
    ]
    stories, _ = stream(reports)
    assert len(stories["x"] | stories["hama"]) == 1


def test_the_threshold_depends_on_the_amount_of_text() -> None:
    clusterer = StoryClusterer()
    p = clusterer.params
    headline = clusterer.threshold(8)
    full = clusterer.threshold(400)
    assert headline == p.threshold_headline and full == p.threshold_full
    assert clusterer.threshold(8) < clusterer.threshold(60) < clusterer.threshold(400)


def test_reasons_explain_decisions() -> None:
    _, decisions = stream(sorted(HAMA, key=lambda r: r.when))
    assert decisions[0].story_id is None and decisions[0].reason.startswith("new story")
    joined = decisions[2]
    assert joined.story_id is not None
    assert joined.reason.startswith(f"joined story {joined.story_id}: score")
    assert "hama" in joined.reason
    assert 0 < joined.similarity <= 1


def test_window_expiry_forgets_old_stories() -> None:
    clusterer = StoryClusterer(window=timedelta(hours=72))
    stream(HAMA, clusterer)
    assert clusterer.active_stories == 1
    # the same event reported again after the window: a new story, the old one is gone
    late = HAMA[0]
    later = at(12, 9)
    doc = ArticleDoc(article_id=99, source=late.source, title=late.title, text=late.text, when=later)
    decision = clusterer.assign(doc, later)
    assert decision.story_id is None
    assert clusterer.active_stories == 0


def test_expire_keeps_stories_updated_within_the_window() -> None:
    clusterer = StoryClusterer(window=timedelta(hours=24))
    stream(HAMA, clusterer)  # last update Dec 6 07:15
    assert clusterer.expire(at(7, 7, 0)) == 0
    assert clusterer.active_stories == 1
    assert clusterer.expire(at(7, 7, 16)) == 1
    assert clusterer.active_stories == 0


def test_a_gazetteer_reconciles_spellings_of_one_place() -> None:
    """"Dar'a" and "Deraa" are too far apart to match by spelling; a gazetteer knows they are one city."""
    text = ("Rebels took control of {city} on Friday after government forces withdrew under a deal, "
            "residents of {city} said. The city was the cradle of the 2011 uprising.")
    reports = [
        Report("daraa", "Atlas News Agency", at(6, 12), "Rebels take Dar'a", text.format(city="Dar'a")),
        Report("daraa", "Frontline Report", at(6, 15), "Rebels take Deraa", text.format(city="Deraa")),
    ]
    places = {"dar'a": "daraa", "deraa": "daraa", "daraa": "daraa"}
    stories, decisions = stream(reports, StoryClusterer(gazetteer=places.get))
    assert len(stories["daraa"]) == 1, decisions[1].reason
    stories, decisions = stream(reports, StoryClusterer())
    assert len(stories["daraa"]) == 2 and "vetoed" in decisions[1].reason


def test_time_free_mode_ignores_weekdays() -> None:
    params = ClusterParams(real_times=False)
    same_time = at(10, 12)
    reports = [Report(r.story, r.source, same_time, r.title, r.text) for r in HAMA + IDLIB_STRIKE]
    stories, _ = stream(reports, StoryClusterer(params=params))
    assert not stories["hama"] & stories["idlib-strike"]


def _similarity_after(hours: float, params: ClusterParams | None = None) -> StoryAssignment:
    """The decision on a repeat of HAMA[0]'s text ``hours`` after (or, negative, before) it."""
    clusterer = StoryClusterer(params=params)
    first = HAMA[0]
    stream([first], clusterer)
    when = first.when + timedelta(hours=hours)
    doc = ArticleDoc(article_id=2, source="Signal Daily", title=first.title, text=first.text, when=when)
    return clusterer.assign(doc, max(when, first.when))


def test_the_score_fades_with_time_from_the_story() -> None:
    """Two events of one kind in one place are told apart mostly by when they are reported."""
    half = ClusterParams().half_life_hours
    same_hour = _similarity_after(0.5)
    assert same_hour.story_id == 1 and "h from the story's reports" not in same_hour.reason
    later = _similarity_after(half)
    assert later.story_id == 1
    assert later.similarity == pytest.approx(same_hour.similarity / 2, rel=0.05)
    assert f"{half:.0f} h from the story's reports" in later.reason
    # an older article arriving late (a feed polled late) fades the same way
    earlier = _similarity_after(-half)
    assert earlier.similarity == pytest.approx(later.similarity, rel=0.05)
    # two days on, even the same words start a new story
    assert _similarity_after(2.5 * half).story_id is None
    # without real times (ECB+'s time-free evaluation) nothing fades
    timeless = _similarity_after(2.5 * half, ClusterParams(real_times=False))
    assert timeless.story_id == 1 and timeless.similarity == _similarity_after(0).similarity


def test_a_new_story_names_the_nearest_one() -> None:
    _, decisions = stream(sorted(HAMA + HOMS, key=lambda r: r.when))
    first_homs = decisions[len(HAMA)]
    assert first_homs.story_id is None
    assert re.search(r"nearest story 1 scored 0\.\d\d", first_homs.reason)


def test_a_word_in_two_key_names_is_respelt_once() -> None:
    """Regression: "Homs" in two key names of an article, "Hims" in the story's, raised KeyError."""
    reports = [
        Report("homs", "Levant Observer", at(8, 3, 30), "Insurgents in control of Hims after army withdrawal",
               "Hims: Government troops withdrew from Hims on Saturday and fighters took control of the city "
               "centre, residents of Hims said."),
        Report("homs", "Atlas News Agency", at(8, 4, 0), "Rebels take Homs; Homs Governorate in rebel hands",
               "Rebels took Homs on Saturday. The Homs Governorate offices were seized, and Homs residents "
               "said troops had withdrawn from Homs Governorate towns."),
    ]
    stories, decisions = stream(reports)
    assert len(stories["homs"]) == 1, decisions[1].reason


@pytest.mark.parametrize(
    ("titles", "expected"),
    [
        ([("Syrian rebels seize Hama", 1.0), ("LIVE: Syria latest", 1.0), ("Rebels seize Hama as army withdraws", 1.0),
          ("Hama falls to rebels", 1.0)], "Syrian rebels seize Hama"),
        ([("Hama falls to rebels", 1.0)], "Hama falls to rebels"),
        ([("REBELS SEIZE HAMA AS ARMY WITHDRAWS", 1.0), ("Rebels seize Hama as army withdraws", 1.0),
          ("Rebels seize Hama", 1.0)], "Rebels seize Hama as army withdraws"),
        ([("Rebels seize Hama", 1.0), ("Hama captured by rebels", 3.0), ("Rebels in Hama", 1.0)], "Hama captured by rebels"),
        ([], ""),
    ],
    ids=["most central", "alone", "not shouting", "weight favours", "empty"],
)
def test_best_title(titles: list[tuple[str, float]], expected: str) -> None:
    assert best_title(titles) == expected


def _run(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_eval_stories_quick_prints_its_figures() -> None:
    out = _run("benchmarks.eval_stories", "--quick")
    rows = [line for line in out.splitlines() if re.match(r"^(ecbplus-dev|events)\s", line)]
    assert rows, out
    for row in rows:
        figures = re.findall(r"\b[01]\.\d{3}\b", row)
        assert len(figures) == 6, row  # B-cubed and pairwise P/R/F1
    assert not re.search(r"\b\d+(\.\d+)?\s*(ms|s|sec|seconds)\b", out), "figures only, no timings"


def test_cluster_scale_quick_runs() -> None:
    out = _run("benchmarks.cluster_scale", "--quick")
    rows = [line.split() for line in out.splitlines() if re.match(r"^\s*\d+\s+\d", line)]
    assert [int(r[0]) for r in rows] == [1000, 3000]
    assert all(float(r[1]) > 0 for r in rows)
