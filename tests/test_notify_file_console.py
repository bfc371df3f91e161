"""File (JSON lines) and console channels, and the channel registry."""

from __future__ import annotations

import io
import json
import os
import threading
import typing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support import payloads
from pydantic import SecretStr

from monitor.config import ChannelSettings
from monitor.errors import ConfigError, DeliveryError
from monitor.netguard import NetGuard
from monitor.notify import CHANNEL_TYPES, Channel, build_channel
from monitor.notify.console import ConsoleChannel
from monitor.notify.file import FileChannel
from monitor.notify.payload import ALERT_SCHEMA, alert_to_json, encode_json
from monitor.records import AlertPayload, DigestMessage, Match, SourceLink

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_alert(**overrides: object) -> AlertPayload:
    return payloads.make_alert(**{"lead": "", **overrides})


DIGEST = DigestMessage("daily", "2024-05-01", "Daily digest", "Top stories\n- one", "<p>Top</p>", {"sections": []})


# ---------------------------------------------------------------------- file


def test_file_lines_are_the_webhook_payload(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    path = tmp_path / "out" / "alerts.jsonl"  # the directory is created
    channel = FileChannel("log", path)
    first, second = make_alert(), make_alert(id="alert-8-hama-1", watch="Hama", story_id=8)
    channel.send_alert(first)
    channel.send_alert(second)

    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every line ends with a newline
    assert lines[:-1] == [encode_json(alert_to_json(first)), encode_json(alert_to_json(second))]
    for line in lines[:-1]:
        jsonschema.validate(json.loads(line), ALERT_SCHEMA, format_checker=jsonschema.FormatChecker())


def test_a_hostile_title_stays_on_one_line(tmp_path):
    path = tmp_path / "alerts.jsonl"
    alert = make_alert(title='a\nb\r\n{"id": "forged"}\u2028c\u2029d\x00')
    FileChannel("log", path).send_alert(alert)
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 1  # splitlines() also splits on U+2028/9: they are escaped
    assert json.loads(text)["data"]["story"]["title"] == alert.title


def test_a_lone_surrogate_does_not_block_delivery(tmp_path):
    # not encodable as UTF-8: without care every retry would fail the same way
    path = tmp_path / "alerts.jsonl"
    FileChannel("log", path).send_alert(make_alert(title="Homs \udc80 x"))
    assert json.loads(path.read_text(encoding="utf-8"))["data"]["story"]["title"] == "Homs \ufffd x"


def test_file_digest_line(tmp_path):
    path = tmp_path / "alerts.jsonl"
    FileChannel("log", path, clock=lambda: T0.timestamp()).send_digest(DIGEST)
    doc = json.loads(path.read_text())
    assert (doc["type"], doc["id"], doc["timestamp"]) == ("digest", "digest-daily-2024-05-01", "2024-05-01T12:00:00Z")


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "alerts.jsonl"
    channel = FileChannel("log", path)
    # long lines (a 20 kB lead each) so a torn write would show
    alerts = [make_alert(id=f"a-{i}", lead=str(i) * 20_000) for i in range(40)]

    def send(chunk: list[AlertPayload]) -> None:
        for a in chunk:
            channel.send_alert(a)

    threads = [threading.Thread(target=send, args=(alerts[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = sorted(json.loads(line)["id"] for line in path.read_text().splitlines())
    assert ids == sorted(a.id for a in alerts)


@pytest.mark.parametrize(
    "make_path, temporary, says",
    [
        (lambda tmp: tmp, False, "check the path and its permissions"),  # a directory
        (lambda tmp: (tmp / "file").write_text("x") and tmp / "file" / "alerts.jsonl", False, "check the path"),
        (lambda tmp: Path("/dev/full"), True, "No space left on device"),  # a full disk clears up
    ],
    ids=["path is a directory", "parent is a file", "disk full"],
)
def test_file_errors_are_classified(tmp_path, make_path, temporary, says):
    path = make_path(tmp_path)
    if str(path) == "/dev/full" and not os.path.exists(path):
        pytest.skip("no /dev/full on this system")
    with pytest.raises(DeliveryError) as info:
        FileChannel("log", path).send_alert(make_alert())
    assert info.value.temporary is temporary
    assert says in str(info.value) and str(info.value).startswith("deliver: log: cannot append to ")


def test_relative_file_path_is_resolved_against_the_project_root(tmp_path):
    channel = build_channel("log", ChannelSettings(type="file", path="data/alerts.jsonl"), root=tmp_path)
    channel.send_alert(make_alert())
    assert (tmp_path / "data" / "alerts.jsonl").exists()


# ------------------------------------------------------------------- console


def test_console_block_is_readable():
    out = io.StringIO()
    ConsoleChannel("console", stream=out).send_alert(make_alert())
    assert out.getvalue() == (
        "=== ALERT Homs | new story | 2024-05-01 12:31 UTC ===\n"
        "  Shelling reported near Homs\n"
        "  https://news.example/homs-shelling\n"
        "  2 sources: Reuters, AFP\n"
        '  matched "Hims" (gazetteer) in text: artillery hit the outskirts of Hims\n'
        "  id alert-7-homs-1\n"
    )


def test_console_strips_terminal_escapes_and_unsafe_links():
    out = io.StringIO()
    alert = make_alert(title="\x1b[2J\x1b]0;pwned\x07Homs\r\nFAKE LINE", url="javascript:alert(1)")
    ConsoleChannel("console", stream=out).send_alert(alert)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "javascript:" not in text
    assert text.splitlines()[1] == "  [2J]0;pwnedHoms FAKE LINE"


def test_console_writes_to_stdout_by_default(capsys):
    channel = build_channel("console", None)  # built in: needs no [channels] table
    channel.send_alert(make_alert())
    channel.send_digest(DIGEST)
    out = capsys.readouterr().out
    assert "=== ALERT Homs" in out
    assert "=== DIGEST Daily digest ===\nTop stories\n- one\n" in out


def test_console_closed_stream_is_a_delivery_error():
    out = io.StringIO()
    out.close()
    with pytest.raises(DeliveryError, match="cannot write to the console") as info:
        ConsoleChannel("console", stream=out).send_alert(make_alert())
    assert info.value.temporary


# ------------------------------------------------------------------ registry


def test_registry_covers_every_channel_type_the_config_accepts():
    config_types = typing.get_args(ChannelSettings.model_fields["type"].annotation)
    assert sorted(CHANNEL_TYPES) == sorted(config_types)


@pytest.mark.parametrize(
    "settings",
    [
        ChannelSettings(type="console"),
        ChannelSettings(type="file", path="alerts.jsonl"),
        ChannelSettings(type="email", host="mail.example", sender="m@example.org", to=("a@example.org",)),
        ChannelSettings(type="webhook", url="https://hooks.example/x", secret=SecretStr("whsec_c2VjcmV0")),
    ],
    ids=lambda s: s.type,
)
def test_every_channel_type_builds_into_a_channel(tmp_path, settings):
    channel = build_channel("c", settings, guard=NetGuard(), root=tmp_path)
    assert isinstance(channel, Channel)
    assert isinstance(channel, CHANNEL_TYPES[settings.type])
    assert channel.name == "c"
    channel.close()
    channel.close()  # twice is fine


def test_only_console_builds_without_settings():
    with pytest.raises(ConfigError, match=r"channels\.ops"):
        build_channel("ops", None)
