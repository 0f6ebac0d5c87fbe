"""The command line documents itself: every command and option has help, every setting a
command reads is listed with its default, and the README's table names every setting."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from services import cli
from services.common.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def help_of(*command: str) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([*command, "--help"])
    assert done.value.code == 0



@pytest.mark.parametrize("command", ["serve", "intake", "relay", "supervision", "projections",
                                     "calendar load"])
def test_each_command_lists_the_settings_it_reads_with_their_defaults(command, capsys):
    help_of(*command.split())
    text = capsys.readouterr().out
    for name in cli.READS[command]:
        assert f"HALLWATCH_{name.upper()}" in text
        assert Settings.model_fields[name].description.split()[0] in text
    assert "default" in text


def test_every_option_of_every_command_has_help():
    actions = []
    parser = cli.parser()
    for sub in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, command in sub.choices.items():
            assert sub.choices[name].description, name
            actions += [a for a in command._actions if a.dest != "help"]
    assert actions and all(a.help for a in actions if a.dest not in ("action",)), \
        [a.dest for a in actions if not a.help]


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert re.fullmatch(r"hallwatch \d+\.\d+\.\d+\n", capsys.readouterr().out)


def test_keygen_works_whatever_the_other_settings_say(capsys, monkeypatch):
    monkeypatch.setenv("HALLWATCH_KEYS", "not-a-key-list")
    monkeypatch.setenv("HALLWATCH_CLOCK", "tomorrow")
    cli.main(["keygen"])
    assert len(base64.b64decode(capsys.readouterr().out.strip())) == 32


def test_the_readme_table_names_every_setting():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Settings (environment, prefix `HALLWATCH_`)")[1].split("\n\n")[1]
    named = set(re.findall(r"`([A-Z_]+)`", table))
    assert {name.upper() for name in Settings.model_fields} <= named
