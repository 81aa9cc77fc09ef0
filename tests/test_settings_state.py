"""roletray's own files: settings (config.toml) and state (state.json)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tray.cli import main
from tray.domain.errors import SettingsError, StateError
from tray.paths import Paths
from tray.settings import Settings, load_settings, parse_duration
from tray.state import State, clear_state, load_state, save_state


def write_settings(text: str) -> None:
    path = Paths.from_env(os.environ).settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_settings_default_when_missing():
    assert load_settings(Paths.from_env(os.environ)) == Settings()
    assert str(Paths.from_env(os.environ).settings_file).endswith(".config/roletray/config.toml")


def test_settings_values():
    write_settings('target = "work"\nrefresh_margin = "15m"\nnotifications = false\n'
                   'worker_idle_minutes = 3\n')
    s = load_settings(Paths.from_env(os.environ))
    assert s.target == "work" and s.refresh_margin == timedelta(minutes=15)
    assert s.notifications is False and s.worker_idle_minutes == 3
    assert Settings().worker_idle_minutes == 10


@pytest.mark.parametrize("value, expected", [
    ("90s", 90), ("10m", 600), ("1h", 3600), (120, 120), ("7", 7)])
def test_parse_duration(value, expected):
    assert parse_duration(value) == timedelta(seconds=expected)


@pytest.mark.parametrize("text, needle", [
    ('target = "work"\nrefresh_margin = "soon"\n', "line 2: refresh_margin"),
    ('target = "a b"\n', "line 1: target"),
    ('colour = "red"\n', "line 1: unknown setting 'colour'"),
    ('target = \n', "not valid TOML"),
    ('notifications = "yes"\n', "line 1: notifications"),
    ('\nworker_idle_minutes = 0\n', "line 2: worker_idle_minutes must be a whole number"),
    ('worker_idle_minutes = "10m"\n', "line 1: worker_idle_minutes"),
])
def test_settings_errors_name_file_and_line(text, needle):
    write_settings(text)
    with pytest.raises(SettingsError) as e:
        load_settings(Paths.from_env(os.environ))
    assert "config.toml" in str(e.value) and needle in str(e.value)
    assert Paths.from_env(os.environ).settings_file.read_text() == text  # never replaced


def test_state_round_trip_private_and_secret_free():
    exp = datetime(2026, 11, 28, 14, 26, 50, tzinfo=UTC)
    st = State("platform", "roletray", exp, "arn:aws:sts::1:assumed-role/platform/s", exp)
    save_state(st, Paths.from_env(os.environ))
    # Recorded for the AWS files it was kept with.
    assert load_state(Paths.from_env(os.environ)) == replace(
        st, files=Paths.from_env(os.environ).aws_files())
    path = Paths.from_env(os.environ).state_file
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    doc = json.loads(path.read_text())
    assert set(doc) == {"version", "active_role", "target", "expiration", "identity_arn",
                        "updated_at", "files"}
    assert set(doc["files"]) == {"config", "credentials"}  # paths, no secret
    assert clear_state(Paths.from_env(os.environ)) and load_state(Paths.from_env(os.environ)) is None


def test_corrupt_state_names_file_and_line_and_is_kept(capsys):
    path = Paths.from_env(os.environ).state_file
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1,\n"active_role": "x",\n oops}\n')
    with pytest.raises(StateError) as e:
        load_state(Paths.from_env(os.environ))
    assert "state.json, line 3" in str(e.value)
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "state.json, line 3" in err and len(err.strip().splitlines()) == 1
    assert path.read_text().endswith("oops}\n")


def test_bad_settings_make_cli_exit_2(capsys):
    write_settings('refresh_margin = -5\n')
    assert main(["status"]) == 2
    assert "config.toml, line 1" in capsys.readouterr().err


def test_clear_gets_past_a_corrupt_state_removing_only_that_file(aws, capsys):
    # The error says "run `roletray clear`": clear must then work, not fail the same way.
    aws.seed_world()
    aws.enforce()
    assert main(["assume", "platform"]) == 0
    p = Paths.from_env(os.environ)
    neighbour = p.state_dir / "doctor-report.txt"
    neighbour.write_text("kept\n")
    p.state_file.write_text('{"version": 1,\n oops}\n')
    capsys.readouterr()
    assert main(["status"]) == 2
    assert "run `roletray clear`" in capsys.readouterr().err

    assert main(["clear"]) == 0
    out = capsys.readouterr().out
    assert "unreadable state file ~/.local/state/roletray/state.json (only that file)" in out
    assert "Removed [roletray] from ~/.aws/credentials" in out
    assert not p.state_file.exists()
    assert neighbour.read_text() == "kept\n"  # nothing else in the folder
    assert "[roletray]" not in aws.credentials_path.read_text()
    assert "[default]" in aws.credentials_path.read_text()
    assert main(["status"]) == 0  # back to a clean start
    assert "idle" in capsys.readouterr().out


def test_clear_of_a_corrupt_state_alone_says_what_it_removed(capsys):
    p = Paths.from_env(os.environ)
    p.state_dir.mkdir(parents=True)
    p.state_file.write_text("not json")
    assert main(["clear", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"ok": True, "removed": True, "unreadable_state_removed": True}
    assert not p.state_file.exists()
    assert main(["clear"]) == 0
    assert "Nothing to clear" in capsys.readouterr().out
