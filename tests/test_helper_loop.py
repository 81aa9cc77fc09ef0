"""A source whose credential_process is roletray itself, resolving the role built on that
source: refused at the first turn, in one line, with nothing left running (issue 25,
Medium 5).

Bounded: the helper's timeout is 5 s, the run 60 s, and every process the test starts
carries a tag in its environment, so whatever is left is found and killed."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fakes import gone

from tray.domain import chain

REPO = Path(__file__).resolve().parent.parent
TAG = "ROLETRAY_TEST_LOOP_TAG"


def tagged(tag: str) -> list[int]:
    """Live processes whose environment carries ``TAG=tag``."""
    found = []
    needle = f"{TAG}={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and \
                    not gone(int(entry.name), within=0):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_all(tag: str) -> None:
    for _ in range(50):  # a runaway loop starts more while we kill: bounded rounds
        pids = tagged(tag)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def write_loop(home: Path) -> None:
    helper = shlex.join([sys.executable, "-m", "tray", "credential-process", "looped"])
    (home / ".aws" / "config").write_text(
        "[profile src]\n"
        f"credential_process = {helper}\n"
        "[profile looped]\n"
        "role_arn = arn:aws:iam::123456789012:role/looped\n"
        "source_profile = src\n"
        "region = us-east-1\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_helper_loop_is_refused_at_once_and_leaves_nothing_running(
        isolated_env: Path) -> None:
    write_loop(isolated_env)
    tag = uuid.uuid4().hex
    env = {**os.environ, "PYTHONPATH": str(REPO), "ROLETRAY_PROCESS_TIMEOUT": "5", TAG: tag}
    try:
        out = subprocess.run([sys.executable, "-m", "tray", "credential-process", "looped"],
                             env=env, capture_output=True, text=True, timeout=60, check=False)
        left = tagged(tag)
    finally:
        kill_all(tag)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "a loop" in lines[0] and "'src'" in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert left == []  # before: a new roletray every turn, still running after the failure


def test_the_inner_call_refuses_before_asking_anyone(isolated_env: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO),
           chain.CHAIN_ENV: '["looped", "src"]'}
    out = subprocess.run([sys.executable, "-m", "tray", "credential-process", "looped"],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert out.stderr.startswith(chain.LOOP_MARK)
    assert "looped -> src -> looped" in out.stderr


def test_the_chain_is_passed_on_and_bounded() -> None:
    env = chain.extended(chain.extended({}, "a"), "b")
    assert chain.names(env) == ["a", "b"]
    assert chain.names(chain.extended(env, "b")) == ["a", "b"]
    assert chain.refusal(["credential-process", "c"], env) is None
    assert chain.refusal(["credential-process", "a"], env) is not None
    assert chain.refusal(["status"], env) is None
    assert chain.refusal(["credential-process", "a"], {}) is None
    deep = {chain.CHAIN_ENV: str([f"p{i}" for i in range(chain.MAX_DEPTH)]).replace("'", '"')}
    assert "deep" in (chain.refusal(["credential-process", "other"], deep) or "")
    assert chain.names({chain.CHAIN_ENV: "not json"}) == []
