"""The seed world end to end: replaying seeds/timeline gives the outcome
written down in seeds/expected.json (entries, same-article dedup, stories,
watch matches, alerts, digests), the same database twice, and nothing new
when polled again."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from monitor.replay import CONTENT_TYPES, replay
from monitor.store.models import Alert, Article, DigestRun, Entry, Feed, Story, WatchMatch

REPO = Path(__file__).resolve().parents[1]
TIMELINE = REPO / "seeds" / "timeline"
EXPECTED = json.loads((REPO / "seeds" / "expected.json").read_text())
WATCHES = [
    {"name": "Homs", "kind": "city", "city": "Homs", "aliases": ["Hims", "Ḥimṣ", "حمص"], "priority": 3},
    {"name": "Hama", "kind": "city", "city": "Hama", "aliases": ["Hamah", "حماة"], "priority": 3},
    {"name": "HTS", "kind": "actor", "actor": "Hayat Tahrir al-Sham", "priority": 2},
]


def seeds_settings(make_settings, tmp_path, db_url=None):
    data = {
        "watches": WATCHES,
        "channels": {"jsonl": {"type": "file", "path": str(tmp_path / "alerts.jsonl")}},
        "alerts": {"default_channels": ["jsonl"]},
        "digest": {"dir": str(tmp_path / "digests"), "channels": ["file"], "skip_empty": True},
    }
    if db_url:
        data["database"] = {"url": db_url}
    return make_settings(data)


def play(app) -> int:
    def ingest(name, path, now):
        headers = {"content-type": CONTENT_TYPES[path.suffix]} if path.suffix in CONTENT_TYPES else {}
        app.pipeline.ingest_document(app.replay_feed(name, path, now), path.read_bytes(), now=now, headers=headers)

    def after(now):
        app.deliverer.run(now)
        app.digests.run_due(now)

    return replay(TIMELINE, ingest=ingest, after_snapshot=after)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """One replay of the seeds, shared by the read-only tests of this module."""
    from monitor.app import App
    from monitor.config import settings_from_dict

    tmp = tmp_path_factory.mktemp("seeds")
    settings = settings_from_dict(
        {
            "database": {"url": f"sqlite:///{tmp / 'm.db'}"},
            "watches": WATCHES,
            "actors_file": str(REPO / "config" / "actors.toml"),
            "channels": {"jsonl": {"type": "file", "path": str(tmp / "alerts.jsonl")}},
            "alerts": {"default_channels": ["jsonl"]},
            "digest": {"dir": str(tmp / "digests"), "channels": ["file"], "skip_empty": True},
        },
        root=tmp,
        env={},
    )
    app = App(settings)
    play(app)
    yield app, tmp
    app.close()


def _key(k: str) -> str:
    # monitor keys a repeated guid as "guid link"; expected.json writes "guid|link"
    return k.replace(" ", "|", 1) if " http" in k else k


def entry_rows(app):
    with Session(app.engine) as s:
        rows = s.execute(
            select(Feed.name, Entry.key, Entry.title, Entry.article_id, Entry.dup_kind, Article.story_id)
            .join(Feed, Feed.id == Entry.feed_id)
            .join(Article, Article.id == Entry.article_id)
        ).all()
    return [(f, _key(k), *rest) for f, k, *rest in rows]


def test_every_fixture_entry_is_stored_once(replayed):
    app, _ = replayed
    rows = entry_rows(app)
    stored = Counter((f, k) for f, k, *_ in rows)
    expected = {(e["feed"], e["key"]) for e in EXPECTED["entries"]}
    assert set(stored) == expected
    assert max(stored.values()) == 1
    assert len(rows) == EXPECTED["counts"]["entries"] == 93


def test_corrections_update_the_entry(replayed):
    app, _ = replayed
    titles = {(f, k): t for f, k, t, *_ in entry_rows(app)}
    for e in EXPECTED["entries"]:
        # expected.json holds each entry's final title
        assert titles[(e["feed"], e["key"])] == e["title"], e["ref"]


def test_same_article_dedup_joins_every_copy(replayed):
    """Syndicated wire copy, tracking-parameter and AMP reposts: one article."""
    app, _ = replayed
    article = {(f, k): a for f, k, _t, a, *_ in entry_rows(app)}
    dups = [e for e in EXPECTED["entries"] if e["duplicate_of"]]
    assert len(dups) == EXPECTED["counts"]["duplicates"]
    for e in dups:
        original = e["duplicate_of"]
        assert article[(e["feed"], e["key"])] == article[(original["feed"], original["key"])], (
            e["ref"], e["duplicate_kind"])
    assert len(set(article.values())) == EXPECTED["counts"]["articles"]


def test_no_story_mixes_two_events(replayed):
    """Precision first: a wrong merge hides news."""
    app, _ = replayed
    event = {(e["feed"], e["key"]): e["event"] for e in EXPECTED["entries"]}
    events_of_story = defaultdict(set)
    for f, k, _t, _a, _d, story in entry_rows(app):
        events_of_story[story].add(event[(f, k)])
    mixed = {s: ev for s, ev in events_of_story.items() if len(ev) > 1}
    assert not mixed


@pytest.mark.xfail(
    strict=True,
    reason="issue 3 is open: the lexical clusterer still splits some events of the seed world "
    "(e.g. 'Hamah falls' and 'Rebels capture Hama' are two stories); precision holds (see "
    "test_no_story_mixes_two_events). strict: remove this marker once the events join.",
)
def test_each_event_is_one_story_per_script(replayed):
    """Every report of an event in Latin script is in one story (the Arabic
    outlet's reports form their own: lexical clustering does not translate)."""
    app, _ = replayed
    story = {(f, k): s for f, k, _t, _a, _d, s in entry_rows(app)}
    by_event = defaultdict(set)
    for e in EXPECTED["entries"]:
        if e["feed"] != "al-manara":
            by_event[e["event"]].add(story[(e["feed"], e["key"])])
    split = {ev: s for ev, s in by_event.items() if len(s) > 1}
    assert not split


def test_one_alert_per_matching_story_per_watch(replayed):
    app, tmp = replayed
    with Session(app.engine) as s:
        new = s.execute(select(Alert.watch, Alert.story_id).where(Alert.kind == "new")).all()
        matched = set(s.execute(select(WatchMatch.watch, WatchMatch.story_id)).all())
        statuses = Counter(s.execute(select(Alert.status)).scalars())
    assert len(new) == len(set(new)), "a (watch, story) alerted twice"
    assert set(new) <= matched
    assert statuses == Counter({"sent": sum(statuses.values())})
    # every alert reached the file channel exactly once
    lines = [json.loads(x) for x in (tmp / "alerts.jsonl").read_text().splitlines()]
    ids = [x["id"] for x in lines]
    assert len(ids) == len(set(ids)) == sum(statuses.values())
    for w in ("Homs", "Hama", "HTS"):
        assert any(x["data"]["watch"] == w for x in lines if "data" in x) or any(
            x.get("watch") == w for x in lines), f"no alert for {w}"


def test_watch_matches_agree_with_the_fixture_labels(replayed):
    app, _ = replayed
    with Session(app.engine) as s:
        got = set(s.execute(
            select(WatchMatch.watch, Feed.name, Entry.key)
            .join(Article, Article.id == WatchMatch.article_id)
            .join(Entry, Entry.id == Article.first_entry_id)
            .join(Feed, Feed.id == Entry.feed_id)
        ).all())
    got = {(w, f, _key(k)) for w, f, k in got}
    canonical = {e["ref"]: e for e in EXPECTED["entries"] if not e["duplicate_of"]}
    want = {(w, e["feed"], e["key"]) for e in canonical.values() for w in e["watches"]}
    assert got == want


def test_a_digest_file_for_each_simulated_day(replayed):
    app, tmp = replayed
    files = sorted(p.name for p in (tmp / "digests").glob("*.html"))
    days = sorted({s[:10] for s in EXPECTED["snapshots"]})
    # the first digest is due on the first day that has a 07:00 UTC after the first snapshot
    assert files == [f"{d}.html" for d in days[1:]] or files == [f"{d}.html" for d in days]
    with Session(app.engine) as s:
        runs = s.execute(select(DigestRun.local_date, func.count()).group_by(DigestRun.local_date)).all()
    assert all(n == 1 for _, n in runs)
    html = (tmp / "digests" / "2024-12-06.html").read_text()
    assert "Hama" in html and "<script" not in html.lower()


def test_replaying_again_adds_nothing(make_app, make_settings, tmp_path):
    app = make_app(seeds_settings(make_settings, tmp_path))
    play(app)
    titles_before = snapshot_db(app)["entries"]
    with Session(app.engine) as s:
        before = [s.execute(select(func.count()).select_from(t)).scalar() for t in (Entry, Article, Story, Alert)]
    play(app)
    with Session(app.engine) as s:
        after = [s.execute(select(func.count()).select_from(t)).scalar() for t in (Entry, Article, Story, Alert)]
    assert after == before
    # replaying old snapshots again never reverts a correction
    assert snapshot_db(app)["entries"] == titles_before


def snapshot_db(app) -> dict:
    """What a user sees, without ids and wall-clock durations."""
    with Session(app.engine) as s:
        entries = sorted(s.execute(
            select(Feed.name, Entry.key, Entry.title, Entry.first_seen, Entry.dup_kind).join(Feed)).all())
        stories = sorted(
            (st.title, st.first_seen, st.last_updated, st.article_count, st.source_count)
            for st in s.execute(select(Story)).scalars())
        alerts = sorted(s.execute(select(Alert.watch, Alert.kind, Alert.channel, Alert.status, Alert.created_at)).all())
    return {"entries": entries, "stories": stories, "alerts": alerts}


def test_replay_produces_the_same_database_twice(make_app, make_settings, tmp_path, replayed):
    app2 = make_app(seeds_settings(make_settings, tmp_path))
    play(app2)
    assert snapshot_db(app2) == snapshot_db(replayed[0])


@pytest.mark.postgres
def test_replay_on_postgresql_matches_sqlite(make_app, make_settings, tmp_path, pg_url, replayed):
    app2 = make_app(seeds_settings(make_settings, tmp_path, db_url=pg_url))
    play(app2)
    assert snapshot_db(app2) == snapshot_db(replayed[0])
