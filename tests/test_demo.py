"""`roletray demo --headless`: the README's first command, end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def test_demo_headless_runs_the_seed_story_and_cleans_up(isolated_env: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    proc, lines = _start_headless(env)
    folder = None
    try:
        for line in lines:
            m = re.search(r"sandbox in (\S+)", line)
            if m:
                folder = Path(m.group(1))
        out = "".join(lines)
        assert "[fresh] platform" in out, out
        assert folder is not None and folder.is_dir()
        creds = (folder / "aws" / "credentials").read_text()
        assert "[roletray]" in creds and "x_roletray_managed" in creds
        assert "export AWS_SHARED_CREDENTIALS_FILE=" in out
        secret = re.search(r"aws_secret_access_key = (\S+)", creds.split("[roletray]")[1])
        assert secret and secret.group(1) not in out  # keys are never printed
        # the real (here: the test's) ~/.aws is never written
        assert not (isolated_env / ".aws" / "credentials").exists()
        assert not (isolated_env / ".aws" / "config").exists()
    finally:
        rc = _stop(proc, signal.SIGINT)
    assert rc == 0, "".join(lines) + (proc.stdout.read() if proc.stdout else "")
    assert folder is not None and not folder.exists()  # Ctrl-C cleans up


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> int:
    """Send ``sig`` and return the demo's exit code; killed if it does not end in 20 s."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=20)
    finally:
        proc.kill()


def _start_headless(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "tray", "demo", "--headless"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("[fresh] platform"):
            break
    return proc, lines


def test_the_banner_block_makes_another_shell_talk_to_the_demo_and_sighup_cleans_up(
        isolated_env: Path) -> None:
    """Issue 15: the banner's ONE block, pasted into a shell with nothing of the demo's
    environment, makes `roletray status` see the demo; SIGHUP removes the sandbox."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    proc, lines = _start_headless(env)
    folder = None
    try:
        out = "".join(lines)
        assert "[fresh] platform" in out, out
        m = re.search(r"sandbox in (\S+)", out)
        assert m is not None
        folder = Path(m.group(1))
        assert "pip install awscli" in out
        block = out.split("paste this block there:\n", 1)[1].split("\nthen try:", 1)[0]
        assert all(line.startswith("export ") for line in block.splitlines()), block
        assert {"AWS_CONFIG_FILE", "AWS_ENDPOINT_URL", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"} <= {
            line.split()[1].split("=")[0] for line in block.splitlines()}
        # A second shell: none of the demo's (or the test's) AWS_* / XDG_* variables.
        shell_env = {k: v for k, v in env.items()
                     if not k.startswith(("AWS_", "XDG_")) and k != "PYTHONUNBUFFERED"}
        second = subprocess.run(
            ["sh", "-c", f'{block}\nexec "$0" -m tray status', sys.executable],
            env=shell_env, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "platform" in second.stdout, second.stdout
        # The demo's local sign-in: the console URL leads to a page naming the role.
        console = subprocess.run(
            ["sh", "-c", f'{block}\nexec "$0" -m tray console platform --print', sys.executable],
            env=shell_env, capture_output=True, text=True, timeout=60, check=False)
        assert console.returncode == 0 and console.stderr == "", console.stderr
        url = console.stdout.strip()
        assert url.startswith("http://127.0.0.1:") and "Action=login" in url
        with urllib.request.urlopen(url, timeout=30) as page:
            text = page.read().decode()
        assert re.search(r"Signed in as platform \(arn:aws:iam::\d{12}:role/platform\)", text)
        # Without the block the same shell does not see the demo.
        alone = subprocess.run([sys.executable, "-m", "tray", "status"], env=shell_env,
                               capture_output=True, text=True, timeout=60, check=False)
        assert "platform" not in alone.stdout
    finally:
        rc = _stop(proc, signal.SIGHUP)
    assert rc == 0, "".join(lines) + (proc.stdout.read() if proc.stdout else "")
    assert folder is not None and not folder.exists()  # SIGHUP cleans up like SIGTERM


# ------------------------------------------------------------------ first run (issue 15)

REPO = Path(__file__).resolve().parents[1]


def test_the_gui_extra_caps_pygobject_below_3_51_on_linux() -> None:
    """PyGObject 3.51+ needs girepository-2.0, missing on Debian 12 and Ubuntu 22.04/24.04:
    the README's `pip install '.[gui]'` fails there without the cap."""
    import tomllib

    from packaging.requirements import Requirement

    gui = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["gui"]
    (gi,) = [Requirement(r) for r in gui if r.lower().startswith("pygobject")]
    assert not gi.specifier.contains("3.51.0") and gi.specifier.contains("3.50.0")
    assert gi.marker is not None and gi.marker.evaluate({"sys_platform": "linux"})
    readme = (REPO / "README.md").read_text()
    for text in (readme, (REPO / "docs" / "INSTALL.md").read_text()):
        assert "libgirepository1.0-dev libcairo2-dev pkg-config python3-dev gcc" in text


def test_assume_help_explains_profile_and_json() -> None:
    res = subprocess.run([sys.executable, "-m", "tray", "assume", "--help"],
                         capture_output=True, text=True, timeout=60, check=True)
    help_text = " ".join(res.stdout.split())
    assert "profile the role profile of the AWS config to assume" in help_text
    assert "--json print the new identity and expiry as JSON" in help_text


def test_desktop_tests_skip_saying_why_without_pygobject(tmp_path: Path) -> None:
    """The README's test command with Xvfb installed but no PyGObject: skips, not errors."""
    import shutil

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed: the desktop tests skip before looking for gi")
    blocker = tmp_path / "block" / "gi"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = f"{blocker.parent}{os.pathsep}{REPO}"
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                          "-k", "menu", str(REPO / "tests" / "test_desktop.py")],
                         env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "error" not in res.stdout.splitlines()[-1], res.stdout
    assert "skipped" in res.stdout and "PyGObject is not installed" in res.stdout, res.stdout


def test_demo_signin_refuses_keys_aws_refuses_and_tokens_it_did_not_give(aws) -> None:  # type: ignore[no-untyped-def]
    import urllib.error
    from datetime import UTC, datetime, timedelta

    from tray.aws import federation
    from tray.demo_signin import DemoSignIn, role_of
    from tray.domain.models import TempCredentials

    assert role_of("arn:aws:sts::123456789012:assumed-role/platform/roletray-1") == (
        "platform", "arn:aws:iam::123456789012:role/platform")
    aws.seed_world()
    aws.enforce()
    signin = DemoSignIn(aws.url).start()
    try:
        bad = TempCredentials("ASIANOTAKEY", "wrong", "wrong", datetime.now(UTC) + timedelta(hours=1))
        with pytest.raises(federation.FederationError, match="answered HTTP 400"):
            federation.get_signin_token(signin.endpoint, bad)
        forged = federation.login_url(signin.endpoint, "forged", "https://console.aws.amazon.com/")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(forged, timeout=10)
        assert e.value.code == 403
    finally:
        signin.stop()


def test_the_sandbox_keeps_the_session_bus_found_in_the_runtime_dir(tmp_path: Path) -> None:
    """Issue 24: with the bus only at $XDG_RUNTIME_DIR/bus, the sandbox's XDG_RUNTIME_DIR
    hid it: the tray's icon never registered and notifications failed."""
    import socket

    from tray.demo import Sandbox, apply_env

    run = tmp_path / "r"
    run.mkdir()
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(run / "bus"))
        environ = {"XDG_RUNTIME_DIR": str(run)}
        apply_env(Sandbox(folder=tmp_path / "box", endpoint="http://127.0.0.1:1"), environ)
    assert environ["XDG_RUNTIME_DIR"] == str(tmp_path / "box" / "run")
    assert environ["DBUS_SESSION_BUS_ADDRESS"] == f"unix:path={run / 'bus'}"
    given = {"XDG_RUNTIME_DIR": str(run), "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}
    apply_env(Sandbox(folder=tmp_path / "box", endpoint="http://127.0.0.1:1"), given)
    assert given["DBUS_SESSION_BUS_ADDRESS"] == "unix:path=/x"  # a given address is kept
