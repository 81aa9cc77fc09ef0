"""Guarded profiles (``roletray_guard``): asked before use, refused without a terminal
unless --yes, and nothing written when not confirmed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AwsSandbox

from tray import guard
from tray.cli import main
from tray.domain.errors import UsageError
from tray.domain.models import RoleProfile

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def prod(aws: AwsSandbox) -> str:
    arn = aws.seed_world()
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile prod]\nrole_arn = {arn}\nsource_profile = default\n"
                "roletray_guard = production\n")
    return arn


def test_profiles_show_the_guard(prod: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)["profiles"]}
    assert listed["prod"]["guard"] == "production" and listed["platform"]["guard"] is None
    assert main(["profiles"]) == 0
    assert "prod [production]" in capsys.readouterr().out


def test_without_a_terminal_a_guarded_assume_is_refused_and_nothing_written(
        prod: str, aws: AwsSandbox) -> None:
    before = aws.credentials_path.read_bytes()
    done = subprocess.run([sys.executable, "-m", "tray", "assume", "prod"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60, check=False)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.endswith("profile 'prod' is guarded (production): run this on a terminal to "
                         "confirm, or pass --yes")
    assert aws.credentials_path.read_bytes() == before
    done = subprocess.run([sys.executable, "-m", "tray", "assume", "prod", "--yes"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "[roletray]" in aws.credentials_path.read_text()


def test_an_unguarded_profile_is_never_asked(prod: str) -> None:
    assert subprocess.run([sys.executable, "-m", "tray", "assume", "platform"],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)},
                          timeout=60, check=False).returncode == 0


def test_on_a_terminal_the_answer_decides() -> None:
    role = RoleProfile(name="prod", role_arn="arn:aws:iam::123456789012:role/prod",
                       source_profile="default", guard="production")
    asked: list[str] = []
    guard.confirm(role, yes=False, ask=lambda q: asked.append(q) or "y", verb="Switch to")
    assert asked == ["Profile 'prod' is guarded (production). Switch to prod? [y/N] "]
    for answer in ("", "n", "no", "yess"):
        with pytest.raises(UsageError, match="not confirmed; nothing was changed"):
            guard.confirm(role, yes=False, ask=lambda q, a=answer: a)
    guard.confirm(role, yes=True, ask=None)  # --yes: no question
    unguarded = RoleProfile(name="dev", role_arn=role.role_arn, source_profile="default")
    guard.confirm(unguarded, yes=False, ask=None)


def test_a_bad_guard_label_is_one_line_naming_the_profile(
        aws: AwsSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    aws.seed_world()
    with aws.config_path.open("a") as f:
        f.write("\n[profile odd]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                "source_profile = default\nroletray_guard = [prod]\n")
    main(["profiles"])
    err = capsys.readouterr().err
    assert "profile 'odd': roletray_guard '[prod]' must be 1 to 40" in err


@pytest.mark.parametrize("argv", [["env", "prod"], ["exec", "prod", "--", "true"]])
def test_exec_and_env_refuse_a_guarded_profile_without_a_terminal(
        prod: str, argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "tray", *argv], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2
    assert "is guarded (production): run this on a terminal to confirm, or pass --yes" in \
        done.stderr
    assert done.stdout == ""  # no key handed out
    ok = subprocess.run([sys.executable, "-m", "tray", argv[0], "prod", "--yes", *argv[2:]],
                        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                        check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert ok.returncode == 0, ok.stderr
