"""The tray's Diagnose item runs the doctor in a child process: botocore, which the
doctor needs, never stays in the tray's memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tray.domain.errors import AccessDeniedError, ConfigError, RoletrayError
from tray.domain.problems import input_profile
from tray.engine import roles
from tray.engine.child import call_in_child

REPO = Path(__file__).resolve().parent.parent


def test_diagnose_runs_in_a_child_and_names_the_trust_fix(aws) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile locked]\nrole_arn = {locked}\nsource_profile = default\n")
    aws.enforce()
    summary, report = roles.run_doctor_in_child("locked", env=os.environ)
    assert "trust" in summary
    assert "sts:AssumeRole" in report and "locked" in report
    # and the calling process (a fresh one, as the tray is) has not loaded botocore
    code = ("import json, os, sys; from tray.engine import roles; "
            "s, r = roles.run_doctor_in_child('locked', env=os.environ); "
            "print(json.dumps([s, sorted(m for m in sys.modules if m.startswith('botocore'))]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    child_summary, loaded = json.loads(proc.stdout)
    assert child_summary == summary and loaded == []


def test_diagnose_of_an_unknown_profile_still_reports(aws) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    summary, report = roles.run_doctor_in_child("nosuch", env=os.environ)
    assert "nosuch" in summary + report


def test_an_error_in_the_doctors_child_keeps_its_class_and_exit_code(
        tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The child answers in the worker's and the socket's shape (``wire``): the tray can
    tell an AWS refusal (exit 1) from a bad file (exit 2), and the profile to act on."""
    (tmp_path / "failing.py").write_text(
        "from tray.domain.errors import AccessDeniedError, ConfigError\n"
        "def denied(env, profile):\n"
        "    raise AccessDeniedError(f\"profile '{profile}': not authorized\", profile=profile)\n"
        "def broken(env):\n"
        "    raise ConfigError('~/.aws/config line 3: not a section')\n"
        "def crashes(env):\n"
        "    raise KeyError('AKIA-not-to-be-shown')\n")
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{tmp_path}")
    with pytest.raises(AccessDeniedError) as denied:
        call_in_child("failing:denied", env=os.environ, profile="platform")
    assert denied.value.exit_code == 1 and str(denied.value) == "profile 'platform': not authorized"
    assert input_profile(denied.value) == "platform"
    with pytest.raises(ConfigError) as broken:
        call_in_child("failing:broken", env=os.environ)
    assert broken.value.exit_code == 2 and "line 3" in str(broken.value)
    with pytest.raises(RoletrayError) as crashed:
        call_in_child("failing:crashes", env=os.environ)
    assert "internal error in the child (KeyError)" in str(crashed.value)
    assert "AKIA" not in str(crashed.value)
