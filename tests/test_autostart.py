"""roletray autostart: XDG entry, LaunchAgent and Run key, all exercised on Linux."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Self

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tray.platform import autostart
from tray.platform.autostart import (
    LABEL,
    AutostartError,
    LaunchAgent,
    RunKey,
    XdgAutostart,
    backend_for,
    cli,
    exec_split,
    exec_value,
    launch_command,
)

CMD = ["/opt/role tray/bin/roletray", "run"]


def entry_path(home: Path) -> Path:
    return home / ".config" / "autostart" / "roletray.desktop"


def keys_of(path: Path) -> dict[str, str]:
    return autostart._desktop_entry_keys(path.read_text())


def validate_desktop(path: Path) -> None:
    """desktop-file-validate, when installed, must find nothing wrong."""
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        return
    proc = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "error" not in proc.stdout.lower(), proc.stdout


def xdg(**kw: object) -> XdgAutostart:
    kw.setdefault("command", CMD)
    kw.setdefault("env", os.environ)
    return XdgAutostart(**kw)  # type: ignore[arg-type]


# --- Linux ---------------------------------------------------------------------------


def test_enable_writes_a_valid_marked_entry(isolated_env: Path) -> None:
    st_ = xdg().enable()
    path = entry_path(isolated_env)
    assert st_.enabled and st_.location == "~/.config/autostart/roletray.desktop"
    keys = keys_of(path)
    assert keys["X-Roletray-Managed"] == "true"
    assert keys["X-GNOME-Autostart-enabled"] == "true"
    assert keys["Type"] == "Application"
    assert exec_split(keys["Exec"]) == CMD
    assert "Hidden" not in keys and "NoDisplay" not in keys  # visible in session settings
    validate_desktop(path)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None,
                    reason="desktop-file-validate is not installed (apt: desktop-file-utils)")
def test_validator_catches_a_broken_entry(tmp_path: Path) -> None:
    # The check above is only worth something if the tool rejects a bad file.
    bad = tmp_path / "bad.desktop"
    bad.write_text("[Desktop Entry]\nType=Application\nName=x\nExec=x\nRoletrayManaged=true\n")
    with pytest.raises(AssertionError):
        validate_desktop(bad)


def test_missing_folders_are_created_private(isolated_env: Path) -> None:
    assert not (isolated_env / ".config").exists()
    xdg().enable()
    for folder in (isolated_env / ".config", isolated_env / ".config" / "autostart"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_enable_is_idempotent(isolated_env: Path) -> None:
    b = xdg()
    b.enable()
    path = entry_path(isolated_env)
    before = path.read_bytes(), path.stat().st_ino
    assert b.enable().enabled
    # Same bytes, and not even rewritten (an atomic rewrite would change the inode).
    assert (path.read_bytes(), path.stat().st_ino) == before


def test_enable_updates_a_stale_command(isolated_env: Path) -> None:
    xdg(command=["/old/venv/bin/roletray", "run"]).enable()
    xdg().enable()
    assert exec_split(keys_of(entry_path(isolated_env))["Exec"]) == CMD


def test_disable_removes_our_entry_and_is_idempotent(isolated_env: Path) -> None:
    b = xdg()
    b.enable()
    st_ = b.disable()
    assert not entry_path(isolated_env).exists()
    assert not st_.enabled and st_.detail == "no autostart entry"
    assert not b.disable().enabled


def test_status_never_writes(isolated_env: Path) -> None:
    b = xdg()
    b.enable()
    entry_path(isolated_env).unlink()  # the user removed it by hand
    for _ in range(2):
        assert not b.status().enabled
        assert not backend_for("linux", env=os.environ, command=CMD).status().enabled
    assert not entry_path(isolated_env).exists()


FOREIGN = "[Desktop Entry]\nType=Application\nName=My roletray\nExec=/home/me/bin/rt --tray\n"


def test_foreign_entry_is_refused(isolated_env: Path) -> None:
    path = entry_path(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_text(FOREIGN)
    b = xdg()
    with pytest.raises(AutostartError) as exc:
        b.enable()
    msg = str(exc.value)
    assert "~/.config/autostart/roletray.desktop" in msg and "--force" in msg
    assert "\n" not in msg and exc.value.exit_code == 2
    with pytest.raises(AutostartError):
        b.disable()
    assert path.read_text() == FOREIGN
    st_ = b.status()
    assert st_.enabled and "not written by roletray" in st_.detail


def test_force_takes_over_or_removes_a_foreign_entry(isolated_env: Path) -> None:
    path = entry_path(isolated_env)
    path.parent.mkdir(parents=True)
    path.write_text(FOREIGN)
    xdg().enable(force=True)
    assert keys_of(path)["X-Roletray-Managed"] == "true"
    path.write_text(FOREIGN)
    xdg().disable(force=True)
    assert not path.exists()


@pytest.mark.parametrize("line", ["Hidden=true", "X-GNOME-Autostart-enabled=false"])
def test_switched_off_in_session_settings(isolated_env: Path, line: str) -> None:
    b = xdg()
    b.enable()
    path = entry_path(isolated_env)
    # What a session manager writes when the user turns the entry off.
    text = path.read_text().replace("X-GNOME-Autostart-enabled=true\n", "")
    path.write_text(text + line + "\n")
    st_ = b.status()
    assert not st_.enabled
    assert line in st_.detail and "roletray autostart enable" in st_.detail
    assert path.read_text().endswith(line + "\n")  # status left their choice alone
    assert b.enable().enabled  # an explicit enable turns it back on
    keys = keys_of(path)
    assert keys.get("Hidden") is None and keys["X-GNOME-Autostart-enabled"] == "true"


def test_status_flags_a_program_that_no_longer_exists(isolated_env: Path) -> None:
    st_ = xdg(command=["/nonexistent/roletray", "run"]).enable()
    assert st_.enabled and "missing: /nonexistent/roletray" in st_.detail
    script = isolated_env / "roletray"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert "missing" not in xdg(command=[str(script), "run"]).enable().detail


def test_autostart_path_is_a_file(isolated_env: Path) -> None:
    (isolated_env / ".config").mkdir()
    (isolated_env / ".config" / "autostart").write_text("not a folder")
    with pytest.raises(AutostartError) as exc:
        xdg().enable()
    assert "~/.config/autostart" in str(exc.value) and "not a folder" in str(exc.value)


def test_config_home_is_a_file(isolated_env: Path) -> None:
    (isolated_env / ".config").write_text("oops")
    with pytest.raises(AutostartError) as exc:
        xdg().enable()
    assert str(exc.value).startswith("~/.config:")


def _make_read_only(folder: Path) -> list[str] | None:
    """Make ``folder`` unwritable; the command that undoes it, or None if impossible here."""
    folder.chmod(0o500)
    if not os.access(folder, os.W_OK):
        return ["chmod", "700", str(folder)]
    # root ignores modes; the immutable attribute (ext4, btrfs, xfs) stops root too.
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True,
                                 check=False).returncode == 0:
        return [chattr, "-i", str(folder)]
    folder.chmod(0o700)
    return None


def test_read_only_folder(isolated_env: Path) -> None:
    xdg(command=["/old/roletray", "run"]).enable()
    folder = entry_path(isolated_env).parent
    before = entry_path(isolated_env).read_bytes()
    undo = _make_read_only(folder)
    if undo is None:
        pytest.skip("cannot make a folder read-only here (root, and no chattr +i)")
    try:
        with pytest.raises(AutostartError) as exc:
            xdg().enable()
        msg = str(exc.value)
        assert msg.startswith("~/.config/autostart/roletray.desktop: cannot write")
        assert "denied" in msg or "not permitted" in msg
        with pytest.raises(AutostartError, match="cannot remove"):
            xdg().disable()
        # Unchanged, and no temporary file left behind.
        assert [p.name for p in folder.iterdir()] == ["roletray.desktop"]
        assert entry_path(isolated_env).read_bytes() == before
    finally:
        subprocess.run(undo, check=True)


def test_unreadable_entry(isolated_env: Path) -> None:
    entry_path(isolated_env).mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(AutostartError) as exc:
        xdg().status()
    assert str(exc.value) == "~/.config/autostart/roletray.desktop: cannot read: Is a directory"


def test_xdg_config_home_is_followed_and_relative_ignored(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert xdg().enable().location.endswith("cfg/autostart/roletray.desktop")
    assert (tmp_path / "cfg" / "autostart" / "roletray.desktop").is_file()
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/cfg")
    assert xdg().path == entry_path(isolated_env)


@pytest.mark.parametrize("program", [
    "/opt/my apps/roletray",
    "/home/o'neil/.local/bin/roletray",
    '/x/"quoted"/roletray',
    "/x/$HOME/`id`/roletray",
    "/x/back\\slash/roletray",
    "/x/100%/roletray",
    "/x/ünï/roletray",
])
def test_exec_quoting_round_trips_and_validates(isolated_env: Path, program: str) -> None:
    argv = [program, "run"]
    b = xdg(command=argv)
    b.enable()
    assert exec_split(keys_of(b.path)["Exec"]) == argv
    validate_desktop(b.path)


def test_exec_quoting_examples() -> None:
    assert exec_value(["/usr/bin/roletray", "run"]) == "/usr/bin/roletray run"
    assert exec_value(["/a b/roletray"]) == '"/a b/roletray"'
    assert exec_value(["/a/$x"]) == '"/a/\\\\$x"'  # quoting's \ doubled by string escaping
    assert exec_value(["/a/50%"]) == "/a/50%%"


def test_control_characters_are_refused() -> None:
    for bad in ("/a\nb/roletray", "/a\tb/roletray", "/a\x7fb/roletray"):
        with pytest.raises(AutostartError, match="control character"):
            exec_value([bad])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", min_codepoint=0x20,
                                              exclude_characters="\x7f"), min_size=1),
                min_size=1, max_size=4))
def test_exec_round_trip_property(argv: list[str]) -> None:
    assert exec_split(exec_value(argv)) == argv


# --- which roletray to start ---------------------------------------------------------


def make_script(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/usr/bin/python3\n")
    path.chmod(0o755)
    return path


def test_launch_command_of_a_bundle() -> None:
    assert launch_command(frozen=True, executable="/opt/roletray/roletray") == [
        "/opt/roletray/roletray"]


def test_launch_command_uses_the_script_it_was_started_as(tmp_path: Path) -> None:
    script = make_script(tmp_path / "venv" / "bin" / "roletray")
    got = launch_command(argv0=str(script), frozen=False, which=lambda _: None, scripts_dirs=[])
    assert got == [str(script)]


def test_launch_command_takes_a_pipx_shim_on_path(tmp_path: Path) -> None:
    venv_bin = tmp_path / "pipx" / "venvs" / "roletray" / "bin"
    make_script(venv_bin / "roletray")
    shim = tmp_path / "local" / "bin" / "roletray"
    shim.parent.mkdir(parents=True)
    shim.symlink_to(venv_bin / "roletray")
    got = launch_command(argv0="/x/tray/__main__.py", frozen=False, which=lambda _: str(shim),
                         scripts_dirs=[str(venv_bin)])
    assert got == [str(shim)]  # the stable shim path, not resolved into the venv


def test_launch_command_ignores_another_installation_on_path(tmp_path: Path) -> None:
    other = make_script(tmp_path / "other" / "bin" / "roletray")
    ours = make_script(tmp_path / "ours" / "bin" / "roletray")
    got = launch_command(argv0="-c", frozen=False, which=lambda _: str(other),
                         scripts_dirs=[str(ours.parent)])
    assert got == [str(ours)]


def test_launch_command_falls_back_to_python_m_tray(tmp_path: Path) -> None:
    # A venv's python is a symlink; resolving it would leave the venv.
    py = tmp_path / "venv" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.symlink_to(sys.executable)
    got = launch_command(argv0="-c", executable=str(py), frozen=False, which=lambda _: None,
                         scripts_dirs=[str(tmp_path / "empty")])
    assert got == [str(py), "-m", "tray"]


def test_default_command_ends_with_run(isolated_env: Path) -> None:
    b = XdgAutostart(env=os.environ)
    assert b.command[-1] == "run" and os.path.isabs(b.command[0])


def test_icon_is_the_shipped_png_except_in_a_bundle(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    icon = xdg().icon
    assert icon is not None and icon.endswith("roletray-fresh-256.png") and Path(icon).is_file()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    b = xdg()
    b.enable()
    assert b.icon is None and "Icon" not in keys_of(b.path)


# --- macOS ---------------------------------------------------------------------------


class Runner:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: object) -> int:
        self.calls.append(list(argv))  # type: ignore[call-overload]
        return 0


def agent(runner: Runner | None = None) -> LaunchAgent:
    return LaunchAgent(env=os.environ, command=CMD, runner=runner or Runner(), uid=501)


def test_launch_agent_enable_writes_the_plist(isolated_env: Path) -> None:
    runner = Runner()
    st_ = agent(runner).enable()
    path = isolated_env / "Library" / "LaunchAgents" / "io.github.roletray.plist"
    assert st_.enabled and st_.location == "~/Library/LaunchAgents/io.github.roletray.plist"
    with path.open("rb") as f:
        plist = plistlib.load(f)
    assert plist["Label"] == LABEL and plist["ProgramArguments"] == CMD
    assert plist["RunAtLoad"] is True and plist["ProcessType"] == "Interactive"
    # Clears a `launchctl disable`; never bootstraps (that would start a 2nd instance now).
    assert runner.calls == [["launchctl", "enable", f"gui/501/{LABEL}"]]


def test_launch_agent_idempotent_and_disable(isolated_env: Path) -> None:
    b = agent()
    b.enable()
    path = b.path
    before = path.read_bytes(), path.stat().st_ino
    b.enable()
    assert (path.read_bytes(), path.stat().st_ino) == before
    assert not b.disable().enabled and not path.exists()
    assert b.disable().detail == "no LaunchAgent"


def test_launch_agent_not_a_plist_is_left_alone(isolated_env: Path) -> None:
    b = agent()
    b.path.parent.mkdir(parents=True)
    b.path.write_text("this is not a plist\n")
    for action in (b.enable, b.disable, b.status):
        with pytest.raises(AutostartError) as exc:
            action()
        assert str(exc.value).startswith("~/Library/LaunchAgents/io.github.roletray.plist:")
    assert b.path.read_text() == "this is not a plist\n"


def test_launch_agent_foreign_label_and_disabled(isolated_env: Path) -> None:
    b = agent()
    b.path.parent.mkdir(parents=True)
    b.path.write_bytes(plistlib.dumps({"Label": "com.example.other", "ProgramArguments": ["x"]}))
    with pytest.raises(AutostartError, match="Label"):
        b.enable()
    assert plistlib.loads(b.path.read_bytes())["Label"] == "com.example.other"
    b.enable(force=True)
    plist = plistlib.loads(b.path.read_bytes())
    b.path.write_bytes(plistlib.dumps({**plist, "Disabled": True}))
    assert not b.status().enabled and "Disabled" in b.status().detail
    assert b.enable().enabled


# --- Windows -------------------------------------------------------------------------


class FakeKey:
    def __init__(self, values: dict[str, tuple[object, int]]) -> None:
        self.values = values

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeWinreg:
    """The part of ``winreg`` that RunKey uses, over a dict; errors as winreg raises them."""

    HKEY_CURRENT_USER = object()
    KEY_READ = 0x20019
    KEY_SET_VALUE = 0x0002
    REG_SZ = 1
    REG_BINARY = 3

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, tuple[object, int]]] = {}
        self.read_only = False

    def OpenKey(self, root: object, path: str, reserved: int = 0, access: int = 0) -> FakeKey:
        assert root is self.HKEY_CURRENT_USER
        if path not in self.keys:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return FakeKey(self.keys[path])

    def CreateKeyEx(self, root: object, path: str, reserved: int = 0, access: int = 0) -> FakeKey:
        assert root is self.HKEY_CURRENT_USER
        return FakeKey(self.keys.setdefault(path, {}))

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[object, int]:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        return key.values[name]

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: object) -> None:
        if self.read_only:
            raise PermissionError(5, "Access is denied")
        key.values[name] = (value, kind)

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        if name not in key.values:
            raise FileNotFoundError(2, "The system cannot find the file specified")
        del key.values[name]


WIN_CMD = [r"C:\Users\Me Too\pipx\venvs\roletray\Scripts\pythonw.exe", "-m", "tray", "run"]


def test_run_key_enable_status_disable() -> None:
    reg = FakeWinreg()
    b = RunKey(env=os.environ, command=WIN_CMD, registry=reg)
    assert not b.status().enabled
    st_ = b.enable()
    value, kind = reg.keys[autostart.RUN_KEY]["roletray"]
    assert kind == reg.REG_SZ
    assert value == r'"C:\Users\Me Too\pipx\venvs\roletray\Scripts\pythonw.exe" -m tray run'
    assert st_.enabled and st_.location.endswith(r"CurrentVersion\Run\roletray")
    b.enable()
    assert len(reg.keys[autostart.RUN_KEY]) == 1
    assert not b.disable().enabled and "roletray" not in reg.keys[autostart.RUN_KEY]
    assert not b.disable().enabled  # idempotent


def test_run_key_disabled_in_task_manager() -> None:
    reg = FakeWinreg()
    b = RunKey(env=os.environ, command=WIN_CMD, registry=reg)
    b.enable()
    # What Task Manager writes for "Disable": first byte 03 (02 = enabled).
    approved = reg.CreateKeyEx(reg.HKEY_CURRENT_USER, autostart.STARTUP_APPROVED_KEY)
    reg.SetValueEx(approved, "roletray", 0, reg.REG_BINARY, b"\x03" + bytes(11))
    st_ = b.status()
    assert not st_.enabled and "Task Manager" in st_.detail
    assert b.enable().enabled
    assert "roletray" not in reg.keys[autostart.STARTUP_APPROVED_KEY]
    reg.SetValueEx(approved, "roletray", 0, reg.REG_BINARY, b"\x02" + bytes(11))
    assert b.status().enabled


def test_run_key_write_refused() -> None:
    reg = FakeWinreg()
    reg.read_only = True
    with pytest.raises(AutostartError, match="Access is denied"):
        RunKey(env=os.environ, command=WIN_CMD, registry=reg).enable()


# --- choosing, and the command line --------------------------------------------------


def test_backend_for_platforms() -> None:
    assert isinstance(backend_for("linux", env=os.environ, command=CMD), XdgAutostart)
    assert isinstance(backend_for("freebsd14", env=os.environ, command=CMD), XdgAutostart)
    assert isinstance(backend_for("darwin", env=os.environ, command=CMD, runner=Runner()),
                      LaunchAgent)
    assert isinstance(backend_for("win32", env=os.environ, command=CMD, registry=FakeWinreg()),
                      RunKey)
    if sys.platform.startswith("linux"):
        assert isinstance(backend_for(env=os.environ, command=CMD), XdgAutostart)


def test_cli_json_and_text(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = xdg()
    assert cli("enable", env=os.environ, json_output=True, backend=b) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"enabled": True, "location": "~/.config/autostart/roletray.desktop",
                   "detail": "starts: '/opt/role tray/bin/roletray' run (missing: /opt/role "
                   "tray/bin/roletray; 'roletray autostart enable' updates it)"}
    assert cli("disable", env=os.environ, backend=b) == 0
    out = capsys.readouterr().out
    assert out.startswith("autostart disabled: ~/.config/autostart/roletray.desktop\n")
    assert cli("status", env=os.environ, json_output=True, backend=b) == 0
    assert json.loads(capsys.readouterr().out)["enabled"] is False


def test_cli_unknown_action() -> None:
    with pytest.raises(AutostartError, match="unknown action 'maybe'"):
        cli("maybe", env=os.environ, backend=xdg())


def test_core_imports_no_gui() -> None:
    code = ("import sys, tray.platform.autostart; "
            "bad = [m for m in ('PIL', 'pystray', 'gi') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, check=False)
    assert proc.returncode == 0, proc.stderr


def test_a_config_line_names_this_installation_when_path_has_another_or_none(
        tmp_path: Path) -> None:
    """A desktop-started IDE may lack a venv's or pipx's folder on PATH: the line then
    carries this installation's absolute command; with it on PATH, plain `roletray`."""
    own = autostart.launch_command()
    assert autostart.this_roletray({"PATH": str(tmp_path)}) == own
    other = tmp_path / "roletray"
    other.write_text("#!/bin/sh\nexit 0\n")
    other.chmod(0o755)
    assert autostart.this_roletray({"PATH": str(tmp_path)}) == own
    if Path(own[0]).name == "roletray":
        assert autostart.this_roletray({"PATH": str(Path(own[0]).parent)}) == ["roletray"]
