"""``roletray prompt``: the active role and minutes left, from the instance or the state
file, on the lean path (no botocore, no ``tray.cli``). Its speed is in bench/."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tray.domain import wire
from tray.domain.models import utcnow
from tray.instance import control
from tray.paths import Paths
from tray.shell import prompt
from tray.state import State, save_state

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("botocore", "boto3", "tray.cli", "argparse", "logging", "tray.engine", "tray.state")


def here() -> Paths:
    return Paths.from_env(os.environ)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args[:1], "-m", "tray", "prompt", *args[1:]],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)


def keep(role: str, left: timedelta, target: str = "roletray") -> None:
    save_state(State(active_role=role, target=target, expiration=utcnow() + left), here())


@contextmanager
def instance(snapshot: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    """A control socket that answers ``status`` with ``snapshot``; yields the calls."""
    calls: list[dict[str, Any]] = []

    def handler(call: dict[str, Any]) -> dict[str, Any]:
        calls.append(call)
        return wire.ok(snapshot=snapshot, sections=[snapshot])

    server = control.ControlServer(handler, control.socket_path(here()), where=here()).start()
    try:
        yield calls
    finally:
        server.stop()


def test_nothing_kept_prints_nothing(isolated_env: Path) -> None:
    out = run("-Xutf8")
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


def test_from_the_state_file_on_the_lean_path(isolated_env: Path) -> None:
    keep("platform", timedelta(minutes=42, seconds=30))
    out = run("-Ximporttime")
    assert out.returncode == 0 and out.stdout == "platform 42m\n"
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in out.stderr.splitlines()
                if ln.startswith("import time:")}
    assert "tray.shell.prompt" in imported
    assert not {m for m in imported if m.split(".")[0] in HEAVY or m in HEAVY
                or any(m.startswith(h + ".") for h in HEAVY)}
    custom = run("-Xutf8", "--format", "[{role}@{target} {minutes}m {state}{mark}]")
    assert custom.stdout == "[platform@roletray 42m kept]\n"


def test_expired_keys_are_marked(isolated_env: Path) -> None:
    keep("platform", -timedelta(minutes=5))
    assert run("-Xutf8").stdout == "platform 0m!\n"


def test_another_config_s_section_is_not_shown(isolated_env: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    keep("platform", timedelta(minutes=30))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(isolated_env / "project-config"))
    assert run("-Xutf8").stdout == ""


def test_the_running_instance_answers_first_and_marks_a_failing_refresh(
        isolated_env: Path) -> None:
    keep("from-file", timedelta(minutes=30))
    snap = {"state": "retrying", "role": "platform", "target": "roletray",
            "seconds_left": 600}
    with instance(snap) as calls:
        out = run("-Xutf8")
        assert out.stdout == "platform 10m!\n", out.stderr
        assert [c["cmd"] for c in calls] == ["status"]
    with instance({"state": "idle", "role": None, "target": "roletray",
                   "seconds_left": None}):
        assert run("-Xutf8").stdout == ""  # the instance keeps nothing: not the file's


def test_a_bad_format_or_state_file_is_one_line_and_exit_2(isolated_env: Path) -> None:
    for fmt in ("{nope}", "{role.__class__}", "{role!r}", "{role", "{minutes:>9}"):
        out = run("-Xutf8", "--format", fmt)
        assert (out.returncode, out.stdout) == (2, ""), fmt
        assert len(out.stderr.splitlines()) == 1 and "--format" in out.stderr
    here().state_file.parent.mkdir(parents=True, exist_ok=True)
    here().state_file.write_text("{broken")
    out = run("-Xutf8")
    assert (out.returncode, out.stdout) == (2, "") and "state.json" in out.stderr


def test_a_hostile_role_name_is_shown_escaped(isolated_env: Path) -> None:
    now = utcnow().timestamp()
    keep("evil\x1b]0;pwned\x07", timedelta(minutes=20))
    text = prompt.line(dict(os.environ), now=now)
    assert "\x1b" not in text and "\x07" not in text and text.startswith("evil\\x1b]0;pwned")


def test_the_full_command_line_gives_the_same_line(isolated_env: Path) -> None:
    from tray import cli

    keep("platform", timedelta(minutes=42, seconds=30))
    assert cli.main(["prompt", "--format", "{role}"], env=dict(os.environ)) == 0
