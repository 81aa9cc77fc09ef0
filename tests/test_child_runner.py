"""The one child runner: a group of its own, killed whole on timeout or on the owner's
stop, lines handed over as they come, and the bundle as its own ``python -m``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fakes import gone

from tray.child import runner
from tray.ui.mfa_prompt import MfaPrompts

REPO = Path(__file__).resolve().parent.parent

# Prints the pid of a `sleep` it started (in its own group: the runner's), then waits.
SPAWNS_HELPER = """
import subprocess, sys, time
helper = subprocess.Popen(["sleep", "60"])
print(helper.pid, flush=True)
time.sleep(60)
"""


def _module(tmp_path: Path, name: str, source: str) -> dict[str, str]:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{tmp_path}"}




def test_command_is_python_dash_m_even_for_the_bundle() -> None:
    assert runner.command("tray.engine.worker") == [sys.executable, "-m", "tray.engine.worker"]
    assert runner.command("m", ["--a", "b"], executable="/opt/roletray") == [
        "/opt/roletray", "-m", "m", "--a", "b"]


def test_stdin_in_stdout_and_stderr_out(tmp_path: Path) -> None:
    env = _module(tmp_path, "echoer", """
        import sys
        line = sys.stdin.readline()
        print("warned", file=sys.stderr)
        print(line.strip().upper(), flush=True)
        sys.exit(3)
        """)
    done = runner.run("echoer", env=env, timeout=30, stdin=b"secret-ish\n")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"SECRET-ISH\n", b"warned\n")
    assert runner.WORKERS.live() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_timeout_kills_the_child_and_the_helper_it_started(tmp_path: Path) -> None:
    env = _module(tmp_path, "spawner", SPAWNS_HELPER)
    seen: list[bytes] = []
    start = time.monotonic()
    with pytest.raises(runner.ChildTimeout, match="did not finish within 2 s"):
        runner.run("spawner", env=env, timeout=2.0, on_line=seen.append)
    assert time.monotonic() - start < 8
    [pid_line] = seen
    assert gone(int(pid_line))
    assert runner.WORKERS.live() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_owners_stop_ends_its_children_and_their_helpers(tmp_path: Path) -> None:
    env = _module(tmp_path, "spawner", SPAWNS_HELPER)
    mine = runner.Children()
    started = threading.Event()
    helper: list[int] = []
    results: list[runner.Finished] = []

    def on_line(line: bytes) -> None:
        helper.append(int(line))
        started.set()

    t = threading.Thread(target=lambda: results.append(
        runner.run("spawner", env=env, timeout=60, children=mine, on_line=on_line)))
    t.start()
    assert started.wait(30)
    assert runner.WORKERS.live() == [] and len(mine.live()) == 1  # only its owner's
    assert mine.terminate() == 1
    t.join(10)
    assert not t.is_alive() and results[0].returncode == -15
    assert gone(helper[0])
    assert mine.live() == []


def test_lines_reach_the_caller_while_the_child_still_runs(tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = _module(tmp_path, "stepper", f"""
        import os, time
        print("first", flush=True)
        while not os.path.exists({str(go)!r}):  # until the parent has seen the first line
            time.sleep(0.01)
        print("second", flush=True)
        """)
    seen: list[bytes] = []

    def on_line(line: bytes) -> None:
        seen.append(line)
        go.touch()

    done = runner.run("stepper", env=env, timeout=30, on_line=on_line)
    assert seen == [b"first\n", b"second\n"] and done.stdout == b"first\nsecond\n"


def test_a_failing_callback_does_not_leave_the_child_running(tmp_path: Path) -> None:
    env = _module(tmp_path, "spawner", SPAWNS_HELPER)
    pids: list[int] = []

    def on_line(line: bytes) -> None:
        pids.append(int(line))
        raise RuntimeError("caller gave up")

    with pytest.raises(RuntimeError, match="caller gave up"):
        runner.run("spawner", env=env, timeout=60, on_line=on_line)
    assert runner.WORKERS.live() == []
    if sys.platform.startswith("linux"):
        assert gone(pids[0])


def test_the_bundle_entry_is_its_own_python_dash_m(tmp_path: Path) -> None:
    """A frozen bundle runs ``<bundle> -m MODULE`` through packaging/entry.py: here the
    same script under the interpreter stands in for the bundle."""
    env = _module(tmp_path, "calls", """
        def hello(env, name):
            return f"hello {name}"
        """)
    request = json.dumps({"call": "calls:hello", "kwargs": {"name": "bundle"}})
    proc = subprocess.run([sys.executable, str(REPO / "packaging" / "entry.py"), "-m",
                           "tray.engine.child"], input=request + "\n", capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["result"] == "hello bundle"
    version = subprocess.run([sys.executable, str(REPO / "packaging" / "entry.py"), "--version"],
                             capture_output=True, text=True, env=env, timeout=60, check=False)
    assert version.returncode == 0 and version.stdout.startswith("roletray ")


def test_the_mfa_prompt_runs_on_the_runner(tmp_path: Path) -> None:
    env = _module(tmp_path, "fakeprompt", """
        import sys
        args = sys.argv[1:]
        if "--profile" in args and args[args.index("--profile") + 1] == "cancel":
            sys.exit(1)
        if "--profile" in args and args[args.index("--profile") + 1] == "linger":
            import time; time.sleep(60)
        print("902817")
        """)
    prompts = MfaPrompts(env, timeout=30, module="fakeprompt")
    assert prompts.ask("arn:aws:iam::123456789012:mfa/dev", "platform") == "902817"
    assert prompts.ask("arn:aws:iam::123456789012:mfa/dev", "cancel") is None
    slow = MfaPrompts(env, timeout=1.0, module="fakeprompt")
    assert slow.ask("arn:aws:iam::123456789012:mfa/dev", "linger") is None
    assert runner.WORKERS.live() == []
