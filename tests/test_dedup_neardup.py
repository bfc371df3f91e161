"""Level 2 dedup: syndicated copies and reposts join, other write-ups of the same event do not."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from monitor.dedup import NearDuplicateIndex

T0 = datetime(2024, 12, 5, 18, 0, tzinfo=timezone.utc)

WIRE = """BEIRUT (Atlas) — Syrian rebels led by the Islamist group Hayat Tahrir al-Sham captured the central city of Hama on Thursday, the second major city to fall to the insurgents in just over a week, after the army said it had withdrawn its troops to protect civilians.

The army said in a statement that its units had redeployed outside the city after days of fierce fighting on its northern edge, and that it would continue to carry out its national duty.

Residents said fighters had entered the main square and opened the central prison, releasing hundreds of detainees. Crowds gathered in the streets, some tearing down posters of President Bashar al-Assad.

The capture of Hama opens the road south towards Homs, Syria's third-largest city, which sits on the highway linking Damascus with the coast.

Hama was the scene of a 1982 massacre in which forces under Hafez al-Assad, the current president's father, crushed an Islamist uprising, killing thousands of people."""

# the same wire story written up by another outlet in its own words
OTHER_WRITE_UP = """Opposition fighters swept into Hama on Thursday as government forces pulled back, handing President Bashar al-Assad his second major loss in a week after the fall of Aleppo.

Syria's defence ministry described the retreat as a redeployment meant to spare the city's residents from street fighting. Video posted online showed fighters driving through the city centre and freeing inmates from the prison.

Analysts said the next target was likely to be Homs, about 45 km to the south, whose loss would cut the capital off from the Mediterranean coast where Assad's Alawite community is concentrated.

In 1982 the city was besieged by the army of Hafez al-Assad in a crackdown on the Muslim Brotherhood that killed between 10,000 and 40,000 people."""

SAME_TOPIC_OTHER_EVENT = """BEIRUT (Atlas) — Syrian rebels led by the Islamist group Hayat Tahrir al-Sham entered the city of Homs on Saturday, the third major city to fall to the insurgents, after government forces abandoned their positions overnight.

Thousands of residents had fled towards the coast in the preceding days, jamming the highway west to Tartus. Fighters were seen in the central clock tower square on Saturday morning.

The loss of Homs cuts the road between Damascus and the coastal provinces of Latakia and Tartus, the heartland of the Alawite community.

The army made no immediate comment on the fall of the city."""


def _paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


def _without_dateline(text: str) -> str:
    return text.replace("BEIRUT (Atlas) — ", "", 1)


# (how the copy was made, copied text)
COPIES = [
    ("verbatim", WIRE),
    ("dateline dropped, credit line added", _without_dateline(WIRE) + "\n\n— Atlas News Agency"),
    ("byline added", "By Sara Haddad, Middle East correspondent\n\n" + _without_dateline(WIRE)),
    ("last paragraph cut", "\n\n".join(_paragraphs(WIRE)[:-1])),
    ("a paragraph added", WIRE + "\n\nThe United Nations said it was alarmed by the escalation and called on all sides to protect civilians and allow humanitarian access across front lines in the north and centre of the country."),
    ("one paragraph reworded", WIRE.replace("Crowds gathered in the streets, some tearing down posters", "Crowds filled the streets and some residents tore down posters")),
    ("typography and case", WIRE.replace("—", "-").replace("'", "\u2019").upper()),
]


@pytest.fixture
def index() -> NearDuplicateIndex:
    idx = NearDuplicateIndex(threshold=0.8)
    assert idx.add(1, WIRE, T0)
    return idx


@pytest.mark.parametrize(("how", "copy"), COPIES, ids=[c[0] for c in COPIES])
def test_copy_joins_the_original(index: NearDuplicateIndex, how: str, copy: str) -> None:
    found = index.find(2, copy, T0 + timedelta(hours=1))
    assert found is not None, how
    other, similarity = found
    assert other == 1
    assert 0.8 <= similarity <= 1.0


@pytest.mark.parametrize(
    ("what", "text"),
    [
        ("another outlet's write-up of the same event", OTHER_WRITE_UP),
        ("the same agency's report of a different event of the same kind", SAME_TOPIC_OTHER_EVENT),
    ],
)
def test_different_articles_do_not_join(index: NearDuplicateIndex, what: str, text: str) -> None:
    assert index.find(2, text, T0 + timedelta(hours=1)) is None, what
    match = NearDuplicateIndex(threshold=0.01, min_jaccard=0.0)
    match.add(1, WIRE, T0)
    found = match.match(2, text, T0)
    # what the default threshold is protecting: the two texts share phrases, not an article
    assert found is None or found.similarity < 0.5


@pytest.mark.parametrize(
    "headline",
    [
        "Syrian rebels capture Hama",
        "Syrian rebels capture Hama as army withdraws to protect civilians, second city in a week",
    ],
)
def test_headline_only_items_never_join(headline: str) -> None:
    idx = NearDuplicateIndex()
    assert not idx.add(1, headline, T0), "a headline is too short to index"
    assert idx.find(2, headline, T0) is None
    assert len(idx) == 0


def test_best_match_is_the_original_not_a_later_copy() -> None:
    idx = NearDuplicateIndex()
    idx.add(10, WIRE, T0)
    idx.add(11, WIRE + "\n\n— Atlas News Agency", T0 + timedelta(minutes=30))
    found = idx.find(12, WIRE, T0 + timedelta(hours=1))
    assert found == (10, 1.0)


def test_match_reports_jaccard_and_containment() -> None:
    idx = NearDuplicateIndex()
    idx.add(1, WIRE, T0)
    trimmed = "\n\n".join(_paragraphs(WIRE)[:3])
    m = idx.match(2, trimmed, T0)
    assert m is not None and m.doc_id == 1
    # all of the shorter text is in the longer one, but the longer has more
    assert m.containment == pytest.approx(1.0)
    assert m.jaccard < m.containment
    assert m.similarity == m.containment


def test_a_document_never_matches_itself() -> None:
    idx = NearDuplicateIndex()
    idx.add(1, WIRE, T0)
    assert idx.find(1, WIRE, T0) is None


def test_expire_forgets_documents_older_than_the_window() -> None:
    idx = NearDuplicateIndex()
    idx.add(1, WIRE, T0)
    idx.add(2, SAME_TOPIC_OTHER_EVENT, T0 + timedelta(days=2))
    assert idx.expire(T0 + timedelta(hours=1)) == 1
    assert len(idx) == 1
    assert idx.find(3, WIRE, T0 + timedelta(days=2)) is None
    assert idx.find(3, SAME_TOPIC_OTHER_EVENT, T0 + timedelta(days=2)) == (2, 1.0)
    # postings of the forgotten text are gone too: memory is bounded by the window
    only_second = NearDuplicateIndex()
    only_second.add(2, SAME_TOPIC_OTHER_EVENT, T0)
    assert idx.indexed_shingles == only_second.indexed_shingles
    assert idx.expire(T0 + timedelta(days=5)) == 1
    assert len(idx) == 0 and idx.indexed_shingles == 0


def test_expire_handles_late_arrivals() -> None:
    idx = NearDuplicateIndex()
    idx.add(1, WIRE, T0 + timedelta(hours=5))
    idx.add(2, SAME_TOPIC_OTHER_EVENT, T0)  # published earlier, seen later
    assert idx.expire(T0 + timedelta(hours=1)) == 1
    assert idx.find(3, WIRE, T0) == (1, 1.0)


def test_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="^dedup: "):
        NearDuplicateIndex(threshold=0)
