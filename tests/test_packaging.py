"""packaging/: the launcher, the systemd user unit, the LaunchAgent template, the bundle."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tray.platform import autostart

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"


def desktop_file_validate(path: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (apt: desktop-file-utils)")
    return subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)


def test_launcher_is_valid() -> None:
    path = PACKAGING / "roletray.desktop"
    proc = desktop_file_validate(path)
    assert proc.returncode == 0 and proc.stdout.strip() == "", proc.stdout + proc.stderr
    keys = autostart._desktop_entry_keys(path.read_text())
    assert keys["Exec"] == "roletray run" and keys["Icon"] == "roletray"
    assert keys["Type"] == "Application" and keys["Terminal"] == "false"


def unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read(path)
    return cp


def test_service_unit_contents() -> None:
    cp = unit(PACKAGING / "roletray.service")
    assert cp["Service"]["Type"] == "simple"
    assert cp["Service"]["Restart"] == "on-failure"
    assert cp["Service"]["ExecStart"] == "%h/.local/bin/roletray daemon"
    # exit 2 (already running, bad config) is not fixed by restarting
    assert cp["Service"]["RestartPreventExitStatus"] == "2"
    assert cp["Install"]["WantedBy"] == "default.target"


def _systemd_analyze_usable(tmp_path: Path) -> str:
    """The tool's path if `systemd-analyze verify --user` works here, else skip saying why."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt: systemd)")
    probe = tmp_path / "probe" / "probe.service"
    probe.parent.mkdir()
    probe.write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    proc = subprocess.run([tool, "verify", "--user", str(probe)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"systemd-analyze verify --user does not work here: {proc.stderr.strip()}")
    return tool


def test_service_unit_verifies(isolated_env: Path, tmp_path: Path) -> None:
    tool = _systemd_analyze_usable(tmp_path)
    # %h is the (temporary) home: the command must exist there and be executable.
    script = isolated_env / ".local" / "bin" / "roletray"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    folder = tmp_path / "units"
    folder.mkdir()
    shutil.copy(PACKAGING / "roletray.service", folder / "roletray.service")
    proc = subprocess.run([tool, "verify", "--user", str(folder / "roletray.service")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "roletray.service" not in proc.stderr, proc.stderr  # no warning about our unit

    # The same check rejects a broken unit, and a missing program.
    broken = folder / "broken.service"
    broken.write_text((folder / "roletray.service").read_text().replace("Type=simple",
                                                                          "Type=bogus"))
    proc = subprocess.run([tool, "verify", "--user", str(broken)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode != 0 or "bogus" in proc.stderr
    script.unlink()
    proc = subprocess.run([tool, "verify", "--user", str(folder / "roletray.service")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "roletray" in proc.stderr


def test_launch_agent_template_matches_autostart() -> None:
    with (PACKAGING / "io.github.roletray.plist").open("rb") as f:
        template = plistlib.load(f)
    assert template == autostart.launch_agent_plist(["/usr/local/bin/roletray", "run"])


def test_spec_and_build_script_parse() -> None:
    compile((PACKAGING / "roletray.spec").read_text(), "roletray.spec", "exec")
    compile((PACKAGING / "entry.py").read_text(), "entry.py", "exec")
    proc = subprocess.run(["bash", "-n", str(PACKAGING / "build_bundle.sh")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def _slow_selected(config: pytest.Config) -> bool:
    expr = config.getoption("markexpr", "") or ""
    return ("slow" in expr and "not slow" not in expr) or os.environ.get("ROLETRAY_SLOW") == "1"


@pytest.mark.slow
def test_pyinstaller_bundle(request: pytest.FixtureRequest, tmp_path: Path,
                            isolated_env: Path) -> None:
    """Builds dist/roletray (about 30-70 s on 2 cores): run with `pytest -m slow`."""
    if not _slow_selected(request.config):
        pytest.skip("builds a PyInstaller bundle: run with `pytest -m slow` or ROLETRAY_SLOW=1")
    pytest.importorskip("PyInstaller", reason="pip install pyinstaller")
    dist, work = tmp_path / "dist", tmp_path / "work"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(dist), "--workpath", str(work), str(PACKAGING / "roletray.spec")],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"bundle built in {time.monotonic() - started:.0f} s")
    exe = dist / ("roletray.exe" if sys.platform == "win32" else "roletray")

    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(exe))
    assert "tray/icons/roletray-fresh-22.png" in archive.toc
    modules = archive.open_embedded_archive("PYZ.pyz").toc
    assert {"tray.platform.autostart", "tray.ui.icons", "pystray"} <= set(modules)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False,
                              timeout=120)

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("roletray ")

    (isolated_env / ".aws" / "config").write_text(
        "[default]\nregion = ap-northeast-2\n\n[profile platform]\n"
        "role_arn = arn:aws:iam::111122223333:role/platform\nsource_profile = default\n")
    profiles = run("profiles", "--json")
    assert profiles.returncode == 0, profiles.stderr
    doc = json.loads(profiles.stdout)
    assert [p["name"] for p in doc["profiles"]] == ["platform"]

    # A bundle starts itself at login.
    enabled = run("autostart", "enable", "--json")
    assert enabled.returncode == 0, enabled.stderr
    entry = isolated_env / ".config" / "autostart" / "roletray.desktop"
    keys = autostart._desktop_entry_keys(entry.read_text())
    assert autostart.exec_split(keys["Exec"]) == [str(exe), "run"]
