"""roletray's own files: settings (config.toml) and state (state.json)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from tray import paths
from tray.cli import main
from tray.domain.errors import SettingsError, StateError
from tray.settings import Settings, load_settings, parse_duration
from tray.state import State, clear_state, load_state, save_state


def write_settings(text: str) -> None:
    path = paths.settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_settings_default_when_missing():
    assert load_settings() == Settings()
    assert str(paths.settings_file()).endswith(".config/roletray/config.toml")


def test_settings_values():
    write_settings('target = "work"\nrefresh_margin = "15m"\nnotifications = false\n')
    s = load_settings()
    assert s.target == "work" and s.refresh_margin == timedelta(minutes=15)
    assert s.notifications is False


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
])
def test_settings_errors_name_file_and_line(text, needle):
    write_settings(text)
    with pytest.raises(SettingsError) as e:
        load_settings()
    assert "config.toml" in str(e.value) and needle in str(e.value)
    assert paths.settings_file().read_text() == text  # never replaced


def test_state_round_trip_private_and_secret_free():
    exp = datetime(2026, 11, 28, 14, 26, 50, tzinfo=UTC)
    st = State("platform", "roletray", exp, "arn:aws:sts::1:assumed-role/platform/s", exp)
    save_state(st)
    assert load_state() == st
    path = paths.state_file()
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    doc = json.loads(path.read_text())
    assert set(doc) == {"version", "active_role", "target", "expiration", "identity_arn",
                        "updated_at"}
    assert clear_state() and load_state() is None


def test_corrupt_state_names_file_and_line_and_is_kept(capsys):
    path = paths.state_file()
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1,\n"active_role": "x",\n oops}\n')
    with pytest.raises(StateError) as e:
        load_state()
    assert "state.json, line 3" in str(e.value)
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "state.json, line 3" in err and len(err.strip().splitlines()) == 1
    assert path.read_text().endswith("oops}\n")


def test_bad_settings_make_cli_exit_2(capsys):
    write_settings('refresh_margin = -5\n')
    assert main(["status"]) == 2
    assert "config.toml, line 1" in capsys.readouterr().err
