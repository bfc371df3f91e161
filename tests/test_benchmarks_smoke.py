"""The pipeline benchmark runs from a checkout and prints every figure it
promises (benchmarks/README.md, "Pipeline").  Never a time: what it checks
is that the phases did what their names say (every feed stored, 304s where
the server had nothing new, same-bytes answers recognised) and that each
figure, ratio and the projection are printed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NUMBER = r"[\d,]+(?:\.\d+)?"

#: every line of figures the report promises, with its unit
FIGURES = [
    ("1. cold ingest, monitor", "entries/s"),
    ("2. steady state (20% changed, 80% 304), monitor", "feeds/s"),
    ("3. all unchanged (304), monitor", "feeds/s"),
    ("3. all unchanged (304), monitor CPU", "ms/feed"),
    ("4. no validators (200, same bytes), monitor", "feeds/s"),
    ("5. bare feedparser.parse (defaults)", "entries/s"),
]


@pytest.fixture(scope="module")
def report() -> str:
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.pipeline", "--quick"],
        cwd=REPO, capture_output=True, text=True, timeout=400,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


@pytest.mark.parametrize("label, unit", FIGURES, ids=[f[0] for f in FIGURES])
def test_prints_each_figure_as_median_and_range(report, label, unit):
    line = re.compile(rf"^\s*{re.escape(label)}\s+{NUMBER}\s+\({NUMBER}-{NUMBER}\)\s+{re.escape(unit)}$", re.M)
    assert line.search(report), f"no figure line for {label!r}:\n{report}"


def test_reader_baseline_is_measured_or_skipped_with_a_reason(report):
    measured = re.search(rf"5\. reader cold update_feeds\(workers=\d+\)\s+{NUMBER}", report)
    skipped = re.search(r"5\. reader: skipped: \S", report)
    assert measured or skipped, report


def test_prints_ratios_projection_and_peak_rss(report):
    assert re.search(rf"cold ingest / bare feedparser\s+{NUMBER}x\s+target >= 1x", report), report
    if "reader: skipped" not in report:
        for label in ("cold ingest / reader", "all unchanged \\(304\\) / reader", "no validators / reader"):
            assert re.search(rf"{label}\s+{NUMBER}x\s+target >=", report), label
    assert re.search(rf"^projection: {NUMBER} feeds per 15 min at the steady-state mix", report, re.M), report
    assert re.search(rf"^peak RSS: {NUMBER} MB = monitor process", report, re.M), report


def test_the_cold_run_stores_every_entry_of_the_corpus(report):
    corpus = int(re.search(r"^corpus: \d+ feeds .*?, ([\d,]+) entries", report, re.M).group(1).replace(",", ""))
    stored = int(re.search(r"^cold ingest stored ([\d,]+) entries", report, re.M).group(1).replace(",", ""))
    assert stored == corpus
    assert "warning:" not in report  # no feed failed in any phase


def test_the_phases_get_the_answers_their_names_say(report):
    feeds = int(re.search(r"^corpus: (\d+) feeds", report, re.M).group(1))
    outcomes = {m.group(1): m.group(2) for m in re.finditer(r"^\s+outcomes, ([a-z ]+): (.*)$", report, re.M)}
    # all unchanged: every feed answered 304; no validators: every feed the same bytes
    for cycle in outcomes["all unchanged"].split("; "):
        assert cycle == f"not_modified {feeds}"
    for cycle in outcomes["no validators"].split("; "):
        assert cycle == f"unchanged {feeds}"
    # steady state: a fifth of the feeds changed, the rest answered 304
    changed = round(feeds * 0.2)
    for cycle in outcomes["steady state"].split("; "):
        assert cycle == f"not_modified {feeds - changed}, ok {changed}"
