"""The tray's Diagnose item runs the doctor in a child process: botocore, which the
doctor needs, never stays in the tray's memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tray.engine import roles


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
