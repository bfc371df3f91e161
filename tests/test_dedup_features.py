"""Text features of the story clusterer: names, figures, dates (pure functions, table-driven)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from monitor.dedup.features import dates, figures, names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a comma ends a name: "Nashville, Tennessee, Bettie Page" is three names, not one
        ("The model was born in Nashville, Tennessee, and Bettie Page later moved to Los Angeles.",
         ["nashville", "tennessee", "bettie page", "los angeles"]),
        # ECB+ tokenises with a space before punctuation: the same rule holds
        ("The deal was struck in Plano , Texas with Mark Hurd of HP .", ["plano", "texas", "mark hurd of hp"]),
        # any mark between two words, not only a comma
        ("Talks between Tim Cook / Satya Nadella & Sundar Pichai ended.",
         ["tim cook", "satya nadella", "sundar pichai"]),
        # joiners stay inside a name
        ("The offices of the Bank of England were closed, said Mark Carney.", ["bank of england", "mark carney"]),
    ],
    ids=["comma", "spaced comma", "other marks", "joiners"],
)
def test_names_end_at_punctuation(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A 5.6-magnitude quake struck", ["#5.6"]),
        ("Thieves took $2.6 million in jewels worth 1,199 pounds", ["#2.6", "#1199"]),
        ("The navy captured 23 pirates and 160 rounds", ["#160"]),  # small counts are shared by unrelated events
        ("Rebels entered Aleppo for the first time since 2016", []),  # years are background, dates have their veto
        ("At 8:24am the 17-inch model shipped", []),
    ],
    ids=["magnitude", "sums", "small counts", "years", "times and sizes"],
)
def test_figures(text: str, expected: list[str]) -> None:
    assert figures(text) == expected


def test_dates_resolve_weekdays_against_the_article_time() -> None:
    when = datetime(2024, 12, 5, 15, 0, tzinfo=timezone.utc)  # a Thursday
    explicit, relative = dates("Rebels took Hama on Thursday; on Dec. 1 they held Aleppo (AUGUST 2, 2013)", when)
    assert explicit == {(0, 12, 1), (2013, 8, 2)}
    assert {d.isoformat() for d in relative} == {"2024-12-05"}
