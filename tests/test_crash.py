"""Crash safety: a process killed with SIGKILL in the middle of its work
leaves a consistent database, and the next run completes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from monitor.store.db import make_engine
from monitor.store.models import Alert, Article, Entry, Feed

REPO = Path(__file__).resolve().parents[1]
TIMELINE = REPO / "seeds" / "timeline"


def write_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f"""
actors_file = "{REPO / 'config' / 'actors.toml'}"
[database]
url = "sqlite:///{tmp_path / 'm.db'}"
[alerts]
default_channels = ["jsonl"]
[channels.jsonl]
type = "file"
path = "{tmp_path / 'alerts.jsonl'}"
[digest]
dir = "{tmp_path / 'digests'}"
skip_empty = true
[[watches]]
name = "Hama"
aliases = ["Hamah", "حماة"]
[[watches]]
name = "HTS"
actor = "Hayat Tahrir al-Sham"
""")
    return cfg


def replay_cmd(cfg: Path) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "replay", str(TIMELINE)]


def state(db: Path):
    eng = make_engine(f"sqlite:///{db}")
    with Session(eng) as s:
        entries = sorted(s.execute(select(Feed.name, Entry.key, Entry.title).join(Feed)).all())
        unprocessed = s.execute(select(func.count()).select_from(Entry).where(Entry.article_id.is_(None))).scalar()
        articles = s.execute(select(func.count()).select_from(Article)).scalar()
        alerts = s.execute(select(Alert.watch, Alert.story_id, Alert.kind, Alert.channel, Alert.status)).all()
    eng.dispose()
    return entries, unprocessed, articles, alerts


def stored_entries(db: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return conn.execute("select count(*) from entry").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [10, 50])
def test_sigkill_mid_replay_then_rerun_completes(tmp_path, kill_at):
    """Killed once ``kill_at`` entries are stored: in the middle of the replay,
    most likely inside a feed's transaction (writes are most of the time)."""
    cfg = write_config(tmp_path)
    proc = subprocess.Popen(replay_cmd(cfg), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while stored_entries(tmp_path / "m.db") < kill_at:
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail("the replay ended before it could be killed mid-work")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    # consistent after the kill: every stored entry went through dedup
    # (entries, articles, stories and alerts of a feed commit together)
    entries, unprocessed, _, _ = state(tmp_path / "m.db")
    assert unprocessed == 0
    assert 0 < len(entries) < 93

    done = subprocess.run(replay_cmd(cfg), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    clean_cfg = write_config(clean_dir)
    subprocess.run(replay_cmd(clean_cfg), cwd=REPO, capture_output=True, timeout=300, check=True)

    got, got_unprocessed, got_articles, got_alerts = state(tmp_path / "m.db")
    want, _, want_articles, want_alerts = state(clean_dir / "m.db")
    assert got == want  # every entry, once, with its final title
    assert got_unprocessed == 0 and got_articles == want_articles
    keys = Counter((w, s, k, c) for w, s, k, c, _ in got_alerts)
    assert max(keys.values()) == 1, "an alert was queued twice"
    assert {st for *_, st in got_alerts} == {"sent"}
    # the alert log has no id twice, except at most one resend of the alert in flight
    import json

    ids = Counter(json.loads(x)["id"] for x in (tmp_path / "alerts.jsonl").read_text().splitlines())
    assert sum(n - 1 for n in ids.values()) <= 1
    assert len(ids) == len(got_alerts)
