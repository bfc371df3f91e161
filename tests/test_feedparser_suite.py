"""feedparser's own ~2,200 test documents through parse_feed.

Those documents are the strangest feeds feedparser's authors met in twenty
years: every encoding trick, entity, ill-formed construct, namespace and date
format.  Requirements here:

* parse_feed never raises anything but ParseError on them;
* the fast reader and feedparser give the same result on every one of them.

Where the documents come from: the directory in ``$FEEDPARSER_SUITE`` (a
``tests/`` directory of the feedparser source) if set, else the source
distribution of the installed feedparser version, fetched once from PyPI with
``pip download`` into pytest's cache.  When neither works the test skips and
says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from monitor.errors import ParseError
from monitor.parse import parse_feed

SUFFIXES = {".xml", ".rdf", ".rss", ".atom", ".json"}


def _suite_from_pypi(cache_dir: Path) -> Path:
    version = feedparser.__version__
    tests = cache_dir / f"feedparser-{version}" / "tests"
    if tests.is_dir():
        return tests
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"feedparser=={version}", "-d", str(cache_dir), "--quiet"],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    sdists = sorted(cache_dir.glob(f"feedparser-{version}.tar.gz"))
    if result.returncode != 0 or not sdists:
        pytest.skip(f"feedparser {version} source not downloadable from PyPI: {result.stderr.strip()[-300:]}")
    with tarfile.open(sdists[0]) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(f"feedparser-{version}/tests/") and m.isfile()]
        # the "data" filter refuses absolute paths and links (Python >= 3.11.4)
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(cache_dir, members=members, **safe)
    return tests


@pytest.fixture(scope="module")
def suite_dir(request, tmp_path_factory) -> Path:
    configured = os.environ.get("FEEDPARSER_SUITE")
    if configured:
        path = Path(configured)
        if not path.is_dir():
            pytest.skip(f"FEEDPARSER_SUITE={configured} is not a directory")
        return path
    # pytest's cache keeps the download between runs; without the cache
    # plugin (-p no:cacheprovider) a temporary folder does
    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("feedparser-suite") if cache else tmp_path_factory.mktemp("feedparser-suite")
    return _suite_from_pypi(Path(where))


def _outcome(body: bytes, *, fast: bool) -> dict | str:
    try:
        parsed = parse_feed(body, url="http://suite.example/feed", now=datetime(2030, 1, 1, tzinfo=UTC), fast=fast)
    except ParseError as e:
        return f"ParseError: {e}"
    return asdict(parsed)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_feedparser_suite_documents(suite_dir: Path):
    files = sorted(p for p in suite_dir.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    assert len(files) > 1000, f"only {len(files)} documents under {suite_dir}"
    crashes, differences, readable = [], [], 0
    for path in files:
        body = path.read_bytes()
        outcomes = []
        for fast in (True, False):
            try:
                outcomes.append(_outcome(body, fast=fast))
            except Exception as e:  # noqa: BLE001 -- exactly what this test looks for
                crashes.append(f"{path.relative_to(suite_dir)} (fast={fast}): {type(e).__name__}: {e}")
                outcomes.append(None)
        if outcomes[0] != outcomes[1]:
            differences.append(str(path.relative_to(suite_dir)))
        readable += isinstance(outcomes[1], dict)
    assert not crashes, "\n".join(crashes[:20])
    assert not differences, "fast reader and feedparser disagree on:\n" + "\n".join(differences[:20])
    # most of the suite is feeds with entries; ParseError is for the rest
    assert readable > len(files) * 0.8, (readable, len(files))
