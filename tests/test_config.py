"""Configuration: defaults, durations, environment overrides, and messages that say file, key and fix."""

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config, parse_duration, settings_from_dict

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("raw, seconds", [(900, 900), ("90s", 90), ("15m", 900), ("1.5h", 5400), ("3d", 259200),
                                          ("250ms", 0.25), (" 2w ", 1209600)])
def test_durations(raw, seconds):
    assert parse_duration(raw).total_seconds() == seconds


@pytest.mark.parametrize("raw", ["", "abc", "15 minutes", -5, True, "1y"])
def test_bad_durations_are_refused(raw):
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_shipped_configs_are_valid():
    s = load_config(REPO / "config" / "monitor.toml", env={})
    assert s.root == REPO
    assert s.database_url == f"sqlite:///{REPO / 'data' / 'monitor.db'}"
    assert {f.name for f in s.feeds} >= {"levant-wire", "gulf-observer", "metro-briefs"}
    assert s.replay.on_start == "seeds/timeline"
    for f in s.feeds:
        assert s.resolve(f.url).exists(), f"{f.name}: {f.url} does not exist"


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"feeds": [{"name": "a", "url": "http://x", "intervall": "5m"}]},
         "test.toml: feeds[0].intervall (name = 'a'): unknown key"),
        ({"poll": {"timeout": "soon"}}, "test.toml: poll.timeout: expected a duration"),
        ({"feeds": [{"name": "a"}]}, "test.toml: feeds[0].url (name = 'a'): required key is missing"),
        ({"feeds": [{"name": "a", "url": "u"}, {"name": "a", "url": "v"}]}, "the name 'a' is used by more than one feed"),
        ({"digest": {"timezone": "Mars/Olympus"}}, "digest.timezone: unknown IANA time zone 'Mars/Olympus'"),
        ({"digest": {"time": "7am"}}, "digest.time: expected a local time as HH:MM"),
        ({"watches": [{"name": "w", "channels": ["pager"]}]}, "no channel named 'pager'"),
        ({"channels": {"m": {"type": "email"}}}, "an email channel needs host, sender, to"),
        ({"colour": "blue"}, "test.toml: colour: unknown key"),
    ],
)
def test_errors_name_file_key_and_fix(data, expected):
    with pytest.raises(ConfigError) as e:
        settings_from_dict(data, source="test.toml", env={})
    assert expected in str(e.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as e:
        settings_from_dict({"poll": {"timeout": "x", "jitter": 3}, "bogus": 1}, source="t.toml", env={})
    assert len(e.value.problems) == 3


def test_environment_overrides_database_and_supplies_secrets():
    s = settings_from_dict(
        {"channels": {"hook": {"type": "webhook", "url": "https://h.example/x", "secret_env": "HOOK_SECRET"}}},
        env={"MONITOR_DATABASE_URL": "postgresql+psycopg://u@db/monitor", "HOOK_SECRET": "whsec_c2VjcmV0"},
    )
    assert s.database_url == "postgresql+psycopg://u@db/monitor"
    assert s.channels["hook"].secret.get_secret_value() == "whsec_c2VjcmV0"
    assert "whsec" not in repr(s.channels["hook"])  # SecretStr masks it


def test_secrets_written_in_the_file_are_warned_about():
    s = settings_from_dict(
        {"channels": {"hook": {"type": "webhook", "url": "https://h.example/x", "secret": "oops"}}}, env={}
    )
    assert any("a secret is written in the file" in w for w in s.warnings)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found; pass --config PATH or set MONITOR_CONFIG"):
        load_config(tmp_path / "nope.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[poll\ninterval = 1\n")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(bad, env={})


def test_monitor_config_env_names_the_file(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('[poll]\ninterval = "5m"\n')
    s = load_config(env={"MONITOR_CONFIG": str(f)})
    assert s.poll.interval.total_seconds() == 300
    assert s.root == tmp_path
