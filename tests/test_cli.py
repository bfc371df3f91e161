"""The command line: documented (every command has help with an example and
appears in the README), exit codes, and the commands a user runs first."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def all_commands(group: click.Group = main, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            out += all_commands(cmd, full + " ")
        else:
            out.append((full, cmd))
    return out


COMMANDS = all_commands()


def test_there_are_commands():
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("name, cmd", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_with_an_example(name, cmd):
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output and f"monitor {name.split()[0]}" in result.output
    assert cmd.help, f"{name} has no help text"


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_appears_in_the_readme(name):
    group, _, sub = name.partition(" ")
    pattern = rf"monitor {re.escape(group)}" + (rf"[^\n]*\b{re.escape(sub)}\b" if sub else r"\b")
    assert re.search(pattern, README), f"`monitor {name}` is not in README.md"


def test_readme_has_exactly_two_setup_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\n(.*?)```", quick, re.S)
    assert [b.strip() for b in blocks] == ["pip install -e . && monitor run", "pip install -e '.[test]' && pytest"]
    assert "pip install -e '.[test]' && pytest" in (REPO / ".ci" / "run").read_text()


@pytest.fixture
def config(tmp_path, feed_server):
    rss = (REPO / "seeds/timeline/2024-12-06T09:00:00Z/levant-wire.xml").read_bytes()
    feed_server.route("/lw.xml", body=rss)
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f"""
[database]
url = "sqlite:///{tmp_path / 'm.db'}"
[network]
allow = ["127.0.0.1/32"]
[digest]
enabled = false
[[feeds]]
name = "lw"
url = "{feed_server.url('/lw.xml')}"
source = "Levant Wire"
[[watches]]
name = "Homs"
aliases = ["Hims"]
""")
    return cfg


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_run_once_prints_a_summary_and_is_idempotent(config):
    r = run("--config", str(config), "run", "--once")
    assert r.exit_code == 0, r.output
    assert re.search(r"lw\s+ok\s+(\d+)", r.output)
    new = int(re.search(r"lw\s+ok\s+(\d+)", r.output).group(1))
    assert new > 0
    # --config also works after the command name
    r2 = run("run", "--once", "--config", str(config))
    assert "No feed was due." in r2.output


def test_stories_json_is_one_object_per_line(config):
    run("--config", str(config), "run", "--once")
    r = run("--config", str(config), "stories", "--json")
    lines = [json.loads(x) for x in r.output.splitlines()]
    assert lines
    for s in lines:
        assert set(s) == {"id", "title", "first_seen", "last_updated", "sources", "articles"}
        for a in s["articles"]:
            assert {"url", "title", "feed", "published", "similarity", "duplicate_of"} <= set(a)


def test_check_config_reports_problems_with_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[poll]\ninterval = "soon"\nbogus = 1\n')
    r = CliRunner().invoke(main, ["check-config", "--config", str(bad)])
    assert r.exit_code == 2
    assert "bad.toml: poll.interval: expected a duration" in r.output
    assert "bad.toml: poll.bogus: unknown key" in r.output


def test_check_config_accepts_the_shipped_configs():
    r = CliRunner().invoke(main, ["check-config", "--config", str(REPO / "config" / "monitor.toml")])
    assert r.exit_code == 0, r.output
    assert "OK" in r.output


def test_bad_rule_is_rejected_with_its_position(tmp_path):
    cfg = tmp_path / "m.toml"
    cfg.write_text('[[watches]]\nname = "w"\nrule = \'"Homs" AND (rebels OR\'\n')
    r = CliRunner().invoke(main, ["check-config", "--config", str(cfg)])
    assert r.exit_code == 2
    assert "watches" in r.output and "column" in r.output.lower()


def test_watches_show_and_test(config):
    r = run("--config", str(config), "watches", "show", "Homs")
    assert r.exit_code == 0 and "Hims" in r.output
    r = run("--config", str(config), "watches", "test", "Rebels advance on Hims")
    assert r.exit_code == 0 and "Homs: alias 'Hims'" in r.output
    r = CliRunner().invoke(main, ["--config", str(config), "watches", "test", "Nothing here"])
    assert r.exit_code == 1


def test_feeds_commands(config, feed_server):
    page = b'<html><head><link rel="alternate" type="application/rss+xml" title="World" href="/lw.xml"></head></html>'
    feed_server.route("/page", body=page, content_type="text/html")
    r = run("--config", str(config), "feeds", "add", feed_server.url("/page"), "--name", "world")
    assert r.exit_code == 0 and feed_server.url("/lw.xml") in r.output
    assert "world" in run("--config", str(config), "feeds", "list").output
    assert run("--config", str(config), "feeds", "disable", "world").exit_code == 0
    assert CliRunner().invoke(main, ["--config", str(config), "feeds", "disable", "nope"]).exit_code == 2
    assert run("--config", str(config), "feeds", "remove", "world").exit_code == 0


def test_opml_round_trip(config, tmp_path, feed_server):
    opml = tmp_path / "subs.opml"
    opml.write_text(f"""<?xml version="1.0"?><opml version="2.0"><body>
<outline text="Syria"><outline text="LW" title="LW" xmlUrl="{feed_server.url('/lw.xml')}"/></outline>
</body></opml>""")
    r = run("--config", str(config), "import-opml", str(opml))
    assert "imported 1 feeds" in r.output
    out = run("--config", str(config), "export-opml").output
    assert feed_server.url("/lw.xml") in out and "<opml" in out


def test_missing_config_exits_2(tmp_path):
    r = CliRunner().invoke(main, ["--config", str(tmp_path / "none.toml"), "feeds", "list"])
    assert r.exit_code == 2 and "file not found" in r.output


def test_the_readme_watch_example_is_a_valid_configuration():
    import tomllib

    from monitor.config import settings_from_dict
    from monitor.watches import validate_watches

    block = re.search(r"## Watches\n\n```toml\n(.*?)```", README, re.S).group(1)
    data = tomllib.loads(block)
    channels = {"mail": {"type": "console"}, "hook": {"type": "console"}}
    settings = settings_from_dict({**data, "channels": channels}, env={})
    assert [w.name for w in settings.watches] == ["Homs", "HTS", "Homs fighting"]
    assert validate_watches(settings) == []
