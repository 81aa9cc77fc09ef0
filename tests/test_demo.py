"""`roletray demo --headless`: the README's first command, end to end."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_demo_headless_runs_the_seed_story_and_cleans_up(isolated_env: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    proc = subprocess.Popen([sys.executable, "-m", "tray", "demo", "--headless"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    folder = None
    try:
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"sandbox in (\S+)", line)
            if m:
                folder = Path(m.group(1))
            if line.startswith("[fresh] platform"):
                break
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
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=20)
        finally:
            proc.kill()
    assert rc == 0, "".join(lines) + (proc.stdout.read() if proc.stdout else "")
    assert folder is not None and not folder.exists()  # Ctrl-C cleans up
