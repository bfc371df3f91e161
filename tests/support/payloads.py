"""A sample alert payload shared by the channel tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.records import AlertPayload, Match, SourceLink

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_alert(**overrides: object) -> AlertPayload:
    """An alert on the watch Homs for a story with two sources; any field can be overridden."""
    fields: dict[str, object] = dict(
        id="alert-7-homs-1",
        kind="new",
        watch="Homs",
        story_id=7,
        title="Shelling reported near Homs",
        url="https://news.example/homs-shelling",
        first_seen=T0,
        last_updated=T0 + timedelta(minutes=30),
        source_count=2,
        sources=(
            SourceLink("Reuters", "Shelling near Homs", "https://reuters.example/a", T0),
            SourceLink("AFP", "Homs: shelling", "https://afp.example/b", T0 + timedelta(minutes=30)),
        ),
        matches=(Match("Homs", "Hims", "text", "artillery hit the outskirts of Hims", 30, 34, "gazetteer"),),
        created_at=T0 + timedelta(minutes=31),
        lead="Residents reported shelling on the northern edge of the city.",
    )
    fields.update(overrides)
    return AlertPayload(**fields)  # type: ignore[arg-type]
