"""``tray.cli`` itself and its status table (``tray.cli.snapshot_text``) load nothing
heavy: a lean hand-over path prints the same table importing that module alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tray.cli import snapshot_text
from tray.domain.models import RefreshState, Snapshot
from tray.domain.problems import Problem

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("argparse", "logging", "dataclasses", "tray.domain.models", "tray.domain.errors",
         "tray.engine", "tray.paths", "tray.instance", "botocore")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def loaded_by(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after ``code``."""
    probe = (f"{code}\nimport sys, json\n"
             f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_the_status_table_prints_without_the_command_line() -> None:
    doc = {"state": "fresh", "role": "platform", "target": "roletray",
           "expiration": "2030-01-01T00:00:00Z", "problem": {"code": "denied", "message": "x"}}
    assert loaded_by("from tray.cli import snapshot_text as t\n"
                     f"t.snapshot_table({doc!r}, 'Switched.')\nt.sections_text([{doc!r}] * 2)") \
        == []


def test_importing_the_command_line_loads_only_main() -> None:
    assert loaded_by("import tray.cli") == []


def test_the_table_reads_a_snapshot_document_as_the_snapshot_says() -> None:
    snap = Snapshot(state=RefreshState.ERROR, role="platform", target="second",
                    identity_arn="arn:aws:sts::111111111111:assumed-role/platform/roletray",
                    account="111111111111", expiration=NOW + timedelta(minutes=89), now=NOW,
                    mfa_session_expiration=NOW - timedelta(minutes=5), clock_skew_seconds=12.4,
                    problem=Problem(code="endpoint", message="could not reach STS"))
    rows = dict(snapshot_text.snapshot_rows(snap.to_json(), NOW))
    assert rows["state"] == "error" and rows["role"] == "platform"
    assert rows["target"] == "[second]" and rows["account"] == "111111111111"
    assert rows["expires"].endswith("(in 1 h 29 min)")
    assert rows["MFA session"].startswith("ended ") and rows["clock skew"] == "+12 s against AWS"
    assert rows["last error"] == snap.last_error == "could not reach STS"
    assert list(snapshot_text.snapshot_rows({}, NOW)) == [
        ("state", "idle"), ("role", "-"), ("target", "[roletray]")]


def test_every_command_of_the_parser_has_its_function() -> None:
    from tray.cli.commands import COMMANDS, handler
    from tray.cli.parser import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]
    assert all(callable(handler(name)) for name in COMMANDS)


def test_a_command_loads_its_own_group_only() -> None:
    loaded = loaded_by("import io, contextlib\nfrom tray.cli import main\n"
                       "with contextlib.redirect_stdout(io.StringIO()):\n"
                       "    main(['profiles', '--json'], env={'HOME': '/nonexistent'})\n"
                       "import sys\nheavy = [m for m in ('tray.cli.keys_cmd', "
                       "'tray.cli.serving', 'tray.cli.console_cmd', 'tray.cli.doctor_cmd') "
                       "if m in sys.modules]\nassert not heavy, heavy")
    assert "argparse" in loaded  # it ran the full command line
