"""Start roletray at login, or not: ``roletray autostart enable|disable|status``.

One backend per platform, chosen by :func:`backend_for`:

- Linux and other XDG desktops: ``$XDG_CONFIG_HOME/autostart/roletray.desktop``.
- macOS: ``~/Library/LaunchAgents/io.github.roletray.plist``.
- Windows: value ``roletray`` of ``HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run``.

Only an explicit ``enable`` writes anything. An entry that the user removed, or
switched off in their session settings, stays that way until they run ``enable``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from tray import fsutil
from tray.domain.errors import RoletrayError
from tray.domain.text import N_, Text, join, localized
from tray.i18n import _
from tray.paths import display_path

LABEL = "io.github.roletray"
DESKTOP_NAME = "roletray.desktop"
MANAGED_KEY = "X-Roletray-Managed"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
# Task Manager's Startup tab records a user's "Disable" here, beside the Run key.
STARTUP_APPROVED_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
VALUE_NAME = "roletray"

Runner = Callable[[Sequence[str]], int]


class AutostartError(RoletrayError):
    """The autostart entry cannot be read or written, or is not roletray's."""


@dataclass(frozen=True)
class AutostartStatus:
    enabled: bool
    location: str  # a path as the user writes it, or the registry key and value
    detail: str  # English (``--json``); a ``Text`` is said in the reader's language too

    def to_json(self) -> dict[str, object]:
        return {**asdict(self), "detail": str(self.detail)}


class Backend(Protocol):
    def enable(self, *, force: bool = False) -> AutostartStatus: ...

    def disable(self, *, force: bool = False) -> AutostartStatus: ...

    def status(self) -> AutostartStatus: ...


# --- the command to start at login -------------------------------------------------


def this_roletray(env: Mapping[str, str]) -> list[str]:
    """The words that start this installation from a config line other programs run
    (``credential_process``): ``roletray`` when that name on the env's PATH is this
    installation, else its absolute command (a desktop-started IDE may not have the
    folder of a pipx or venv install on its PATH)."""
    argv = launch_command()
    found = shutil.which("roletray", path=env.get("PATH"))
    if found and os.path.realpath(found) == os.path.realpath(argv[0]):
        return ["roletray"]
    return argv


def launch_command(
    *,
    argv0: str | None = None,
    executable: str | None = None,
    frozen: bool | None = None,
    which: Callable[[str], str | None] = shutil.which,
    scripts_dirs: Sequence[str] | None = None,
) -> list[str]:
    """The argv that starts *this* installation of roletray (without ``run``).

    A bundle starts itself; else the ``roletray`` script of this interpreter (as
    invoked, found on PATH, or in the interpreter's scripts folder); else
    ``<python> -m tray``. ``sys.executable`` is not resolved: in a venv or a pipx
    environment the symlinked interpreter is what selects that environment.
    """
    exe = executable if executable is not None else sys.executable
    if frozen if frozen is not None else bool(getattr(sys, "frozen", False)):
        return [os.path.abspath(exe)]
    arg0 = argv0 if argv0 is not None else (sys.argv[0] if sys.argv else "")
    if arg0 and Path(arg0).stem == "roletray":
        for candidate in (arg0, arg0 + ".exe"):
            if os.path.isfile(candidate):
                return [os.path.abspath(candidate)]
    dirs = list(scripts_dirs) if scripts_dirs is not None else _scripts_dirs()
    real_dirs = {os.path.realpath(d) for d in dirs}
    found = which("roletray")
    # PATH may hold another installation's roletray: take it only if it is ours.
    if found and os.path.dirname(os.path.realpath(found)) in real_dirs:
        return [os.path.abspath(found)]
    for d in dirs:
        for name in ("roletray", "roletray.exe"):
            candidate = os.path.join(d, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return [os.path.abspath(candidate)]
    return [os.path.abspath(exe), "-m", "tray"]


def _scripts_dirs() -> list[str]:
    dirs = [sysconfig.get_path("scripts")]
    try:
        dirs.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:  # no user scheme on this platform
        pass
    return [d for d in dirs if d]


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or os.path.expanduser("~"))


def _make_private_dirs(folder: Path, env: Mapping[str, str]) -> None:
    """Create missing folders one by one with 0700 (makedirs' mode skips parents)."""
    shown = display_path(folder, env)
    try:
        fsutil.make_dirs(folder)
        if not folder.is_dir():
            raise NotADirectoryError(20, "not a folder", str(folder))
    except OSError as e:
        where = display_path(Path(e.filename), env) if e.filename else shown
        if where == shown:
            raise AutostartError(N_("{where}: cannot create the folder: {reason}"),
                                 where=where, reason=e.strerror) from e
        raise AutostartError(N_("{where}: cannot create the folder {folder}: {reason}"),
                             where=where, folder=shown, reason=e.strerror) from e


def _write_file(path: Path, data: bytes, env: Mapping[str, str]) -> None:
    shown = display_path(path, env)
    _make_private_dirs(path.parent, env)
    try:
        fsutil.atomic_write(path, data, mode=0o644, prefix=f".{path.name}.")
    except OSError as e:
        raise AutostartError(N_("{path}: cannot write the autostart entry: {reason}"),
                             path=shown, reason=e.strerror) from e


def _remove_file(path: Path, env: Mapping[str, str]) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise AutostartError(N_("{path}: cannot remove the autostart entry: {reason}"),
                             path=display_path(path, env), reason=e.strerror) from e


def _read_bytes(path: Path, env: Mapping[str, str]) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # a file where a folder should be: absent
        return None
    except OSError as e:
        raise AutostartError(N_("{path}: cannot read: {reason}"),
                             path=display_path(path, env), reason=e.strerror) from e


# An entry that is not roletray's is left alone without --force; ``mark``: what shows it.
_REFUSE_FOREIGN = {
    "replace": N_("{path}: not written by roletray ({mark}); refusing to replace it; pass "
                  "--force to replace it anyway"),
    "remove": N_("{path}: not written by roletray ({mark}); refusing to remove it; pass "
                 "--force to remove it anyway"),
}


# --- Linux: XDG autostart ------------------------------------------------------------

# Characters that force an Exec argument into double quotes (Desktop Entry spec 1.5,
# "The Exec key"); inside quotes these four need a backslash.
_EXEC_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_EXEC_ESCAPED_IN_QUOTES = frozenset('"`$\\')


def exec_quote(arg: str) -> str:
    """One Exec argument, quoted by the Desktop Entry rules (before string escaping)."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in arg):
        raise AutostartError(N_("cannot start {arg} from a desktop entry: it has a control "
                                "character"), arg=repr(arg))
    arg = arg.replace("%", "%%")
    if arg and not any(c in _EXEC_RESERVED for c in arg):
        return arg
    body = "".join("\\" + c if c in _EXEC_ESCAPED_IN_QUOTES else c for c in arg)
    return f'"{body}"'


def exec_value(argv: Sequence[str]) -> str:
    """The Exec value as written in the file.

    Exec is a *string* key too, so the quoting's backslashes are escaped once more::

        ["/opt/my apps/roletray", "run"]  ->  "/opt/my apps/roletray" run
        ["/x/$HOME/roletray", "run"]      ->  "/x/\\\\$HOME/roletray" run
    """
    return " ".join(exec_quote(a) for a in argv).replace("\\", "\\\\")


def exec_split(value: str) -> list[str]:
    """Inverse of :func:`exec_value` (for status, and to check round trips)."""
    text = _unescape_string(value)
    args: list[str] = []
    cur: list[str] = []
    in_arg = quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur.append(c)
        elif c == '"':
            quoted = in_arg = True
        elif c == " ":
            if in_arg:
                args.append("".join(cur))
                cur, in_arg = [], False
        else:
            cur.append(c)
            in_arg = True
        i += 1
    if in_arg:
        args.append("".join(cur))
    return [a.replace("%%", "%") for a in args]


def _unescape_string(value: str) -> str:
    """Desktop Entry string-type escapes: ``\\s \\n \\t \\r \\\\``."""
    out: list[str] = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(value[i + 1], value[i + 1]))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _desktop_entry_keys(text: str) -> dict[str, str]:
    """The keys of the ``[Desktop Entry]`` group; never raises (a foreign file may be anything)."""
    keys: dict[str, str] = {}
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group == "Desktop Entry" and "=" in line:
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), value.strip())
    return keys


def desktop_entry(argv: Sequence[str], icon: str | None = None) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Name=roletray",
        "GenericName=AWS role credentials",
        "Comment=Keeps AWS IAM role credentials fresh in ~/.aws/credentials",
        f"Exec={exec_value(argv)}",
        "Terminal=false",
        "StartupNotify=false",
    ]
    if icon:
        lines.append(f"Icon={icon}")
    lines += [
        "X-GNOME-Autostart-enabled=true",
        f"{MANAGED_KEY}=true",
        "",
    ]
    return "\n".join(lines)


def _packaged_icon() -> str | None:
    from importlib.resources import files

    if getattr(sys, "frozen", False):
        return None  # a one-file bundle unpacks into a temporary folder: no lasting path
    try:
        candidate = files("tray") / "icons" / "roletray-fresh-256.png"
        path = Path(str(candidate))
    except (ModuleNotFoundError, TypeError):
        return None
    return str(path) if path.is_file() else None


def xdg_config_home(env: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME``, ignored unless absolute (XDG Base Directory spec), else ``~/.config``."""
    value = env.get("XDG_CONFIG_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return _home(env) / ".config"


class XdgAutostart:
    """``$XDG_CONFIG_HOME/autostart/roletray.desktop``, marked ``X-Roletray-Managed=true``."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        command: Sequence[str] | None = None,
        icon: str | None = None,
    ) -> None:
        self.env = env
        self.command = list(command) if command is not None else launch_command() + ["run"]
        self.icon = icon if icon is not None else _packaged_icon()
        self.path = xdg_config_home(self.env) / "autostart" / DESKTOP_NAME

    @property
    def shown(self) -> str:
        return display_path(self.path, self.env)

    def _keys(self, data: bytes | None) -> dict[str, str] | None:
        if data is None:
            return None
        return _desktop_entry_keys(data.decode("utf-8", errors="replace"))

    def status(self) -> AutostartStatus:
        keys = self._keys(_read_bytes(self.path, self.env))
        if keys is None:
            return AutostartStatus(False, self.shown, Text(N_("no autostart entry")))
        ours = keys.get(MANAGED_KEY) == "true"
        who = [] if ours else [Text(N_("not written by roletray"))]
        for key, off in (("Hidden", "true"), ("X-GNOME-Autostart-enabled", "false")):
            if keys.get(key) == off:
                return AutostartStatus(False, self.shown, join("; ", [*who, Text(
                    N_("switched off in your session settings ({setting}); 'roletray "
                       "autostart enable' turns it on"), setting=f"{key}={off}")]))
        argv = exec_split(keys.get("Exec", ""))
        if not argv:
            return AutostartStatus(False, self.shown, join("; ", [
                *who, Text(N_("the entry has no Exec line"))]))
        program = argv[0]
        if os.path.isabs(program) and not os.access(program, os.X_OK):
            starts = Text(N_("starts: {command} (missing: {program}; 'roletray autostart "
                             "enable' updates it)"), command=shlex.join(argv), program=program)
        else:
            starts = Text(N_("starts: {command}"), command=shlex.join(argv))
        return AutostartStatus(True, self.shown, join("; ", [*who, starts]))

    def _refuse_foreign(self, keys: dict[str, str] | None, force: bool, verb: str) -> None:
        if keys is not None and keys.get(MANAGED_KEY) != "true" and not force:
            raise AutostartError(_REFUSE_FOREIGN[verb], path=self.shown,
                                 mark=Text(N_("no {key}=true"), key=MANAGED_KEY))

    def enable(self, *, force: bool = False) -> AutostartStatus:
        current = _read_bytes(self.path, self.env)
        self._refuse_foreign(self._keys(current), force, "replace")
        text = desktop_entry(self.command, self.icon).encode("utf-8")
        if current != text:
            _write_file(self.path, text, self.env)
        return self.status()

    def disable(self, *, force: bool = False) -> AutostartStatus:
        keys = self._keys(_read_bytes(self.path, self.env))
        self._refuse_foreign(keys, force, "remove")
        if keys is not None:
            _remove_file(self.path, self.env)
        return self.status()


# --- macOS: LaunchAgent --------------------------------------------------------------


def launch_agent_plist(argv: Sequence[str]) -> dict[str, Any]:
    return {
        "Label": LABEL,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        # A tray app needs the GUI session; not an ssh login.
        "LimitLoadToSessionType": "Aqua",
    }


def _run_quietly(argv: Sequence[str]) -> int:
    try:
        return subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              check=False, timeout=10).returncode
    except (OSError, subprocess.SubprocessError):
        return -1


class LaunchAgent:
    """``~/Library/LaunchAgents/io.github.roletray.plist``; ours when its Label is ours."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        command: Sequence[str] | None = None,
        runner: Runner | None = None,
        uid: int | None = None,
    ) -> None:
        self.env = env
        self.command = list(command) if command is not None else launch_command() + ["run"]
        self.runner = runner if runner is not None else _run_quietly
        self.uid = uid if uid is not None else (os.getuid() if hasattr(os, "getuid") else 0)
        self.path = _home(self.env) / "Library" / "LaunchAgents" / f"{LABEL}.plist"

    @property
    def shown(self) -> str:
        return display_path(self.path, self.env)

    def _load(self) -> dict[str, Any] | None:
        data = _read_bytes(self.path, self.env)
        if data is None:
            return None
        import plistlib  # macOS only: not in a Linux tray (pyexpat, ~0.3 MiB)

        try:
            loaded = plistlib.loads(data)
        except Exception as e:  # plistlib raises several unrelated types on garbage
            raise AutostartError(N_("{path}: not a property list; left as it is"),
                                 path=self.shown) from e
        if not isinstance(loaded, dict):
            raise AutostartError(N_("{path}: not a launchd job (no dictionary); left as it is"),
                                 path=self.shown)
        return loaded

    def status(self) -> AutostartStatus:
        plist = self._load()
        if plist is None:
            return AutostartStatus(False, self.shown, Text(N_("no LaunchAgent")))
        who = [] if plist.get("Label") == LABEL else [Text(N_("Label is not {label}"),
                                                           label=LABEL)]
        if plist.get("Disabled") is True:
            return AutostartStatus(False, self.shown, join("; ", [
                *who, Text(N_("disabled (Disabled=true)"))]))
        argv = [str(a) for a in plist.get("ProgramArguments") or []]
        return AutostartStatus(True, self.shown, join("; ", [
            *who, Text(N_("starts: {command}"), command=shlex.join(argv))]))

    def _refuse_foreign(self, plist: dict[str, Any] | None, force: bool, verb: str) -> None:
        if plist is not None and plist.get("Label") != LABEL and not force:
            raise AutostartError(_REFUSE_FOREIGN[verb], path=self.shown,
                                 mark=Text(N_("its Label is not {label}"), label=LABEL))

    def enable(self, *, force: bool = False) -> AutostartStatus:
        plist = self._load()
        self._refuse_foreign(plist, force, "replace")
        import plistlib

        data = plistlib.dumps(launch_agent_plist(self.command), fmt=plistlib.FMT_XML)
        if _read_bytes(self.path, self.env) != data:
            _write_file(self.path, data, self.env)
        # Best effort: clears a `launchctl disable` override. Not `bootstrap`: that
        # would start a second roletray now, and login is when this should run.
        self.runner(["launchctl", "enable", f"gui/{self.uid}/{LABEL}"])
        return self.status()

    def disable(self, *, force: bool = False) -> AutostartStatus:
        plist = self._load()
        self._refuse_foreign(plist, force, "remove")
        if plist is not None:
            _remove_file(self.path, self.env)
        # Not `bootout`: that would kill the running tray, which may be the caller.
        return self.status()


# --- Windows: the Run key ------------------------------------------------------------


def _windows_command() -> list[str]:
    if not getattr(sys, "frozen", False):
        # pythonw.exe starts the same environment without a console window.
        pythonw = Path(sys.executable).with_name("pythonw.exe")
        if pythonw.is_file():
            return [str(pythonw), "-m", "tray", "run"]
    return launch_command() + ["run"]


class RunKey:
    """``HKCU\\...\\Run`` value ``roletray``; ``registry`` is ``winreg`` or a fake of it."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        command: Sequence[str] | None = None,
        registry: Any = None,
    ) -> None:
        self.env = env
        self.command = list(command) if command is not None else _windows_command()
        self._registry = registry

    @property
    def reg(self) -> Any:
        if self._registry is None:
            import winreg  # only on Windows; imported when first needed

            self._registry = winreg
        return self._registry

    location = f"HKCU\\{RUN_KEY}\\{VALUE_NAME}"

    def _get(self, key_path: str) -> Any:
        reg = self.reg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key_path, 0, reg.KEY_READ) as key:
                return reg.QueryValueEx(key, VALUE_NAME)[0]
        except FileNotFoundError:
            return None
        except OSError as e:
            raise AutostartError(N_("{path}: cannot read: {reason}"),
                                 path=f"HKCU\\{key_path}", reason=e.strerror) from e

    def status(self) -> AutostartStatus:
        value = self._get(RUN_KEY)
        if value is None:
            return AutostartStatus(False, self.location, Text(N_("no Run value")))
        approved = self._get(STARTUP_APPROVED_KEY)
        # First byte odd: the user disabled it in Task Manager's Startup tab.
        if isinstance(approved, (bytes, bytearray)) and approved and approved[0] & 1:
            return AutostartStatus(False, self.location, Text(N_(
                "switched off in Task Manager's Startup tab; 'roletray autostart enable' "
                "turns it on")))
        return AutostartStatus(True, self.location, Text(N_("starts: {command}"),
                                                         command=str(value)))

    def enable(self, *, force: bool = False) -> AutostartStatus:
        reg = self.reg
        value = subprocess.list2cmdline(self.command)
        try:
            with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                reg.SetValueEx(key, VALUE_NAME, 0, reg.REG_SZ, value)
        except OSError as e:
            raise AutostartError(N_("{path}: cannot write: {reason}"),
                                 path=self.location, reason=e.strerror) from e
        if self._get(STARTUP_APPROVED_KEY) is not None:
            # The user asked for it explicitly: lift their earlier Task Manager "Disable".
            self._delete(STARTUP_APPROVED_KEY)
        return self.status()

    def _delete(self, key_path: str) -> None:
        reg = self.reg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, key_path, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, VALUE_NAME)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise AutostartError(N_("{path}: cannot remove: {reason}"),
                                 path=f"HKCU\\{key_path}\\{VALUE_NAME}",
                                 reason=e.strerror) from e

    def disable(self, *, force: bool = False) -> AutostartStatus:
        self._delete(RUN_KEY)
        return self.status()


# --- choosing and the command line ---------------------------------------------------


def backend_for(platform: str | None = None, *, env: Mapping[str, str], **injected: Any
                ) -> Backend:
    """The backend of ``platform`` (default ``sys.platform``) for ``env``, built with
    ``injected``."""
    plat = platform if platform is not None else sys.platform
    if plat == "darwin":
        return LaunchAgent(env=env, **injected)
    if plat in ("win32", "cygwin"):
        return RunKey(env=env, **injected)
    return XdgAutostart(env=env, **injected)


ACTIONS = ("enable", "disable", "status")


def cli(action: str, *, env: Mapping[str, str], json_output: bool = False,
        force: bool = False, backend: Backend | None = None) -> int:
    """Run one action and print its result; raises AutostartError (exit 2) on failure.

    ``env``: the environment the platform's backend finds its folder in (the CLI's).
    """
    if action not in ACTIONS:
        raise AutostartError(N_("autostart: unknown action '{action}' (use {actions})"),
                             action=action, actions=", ".join(ACTIONS))
    b = backend if backend is not None else backend_for(env=env)
    if action == "enable":
        st = b.enable(force=force)
    elif action == "disable":
        st = b.disable(force=force)
    else:
        st = b.status()
    if json_output:
        print(json.dumps(st.to_json()))
    else:
        said = _("autostart enabled: {location}") if st.enabled \
            else _("autostart disabled: {location}")
        print(said.format(location=st.location))
        print(f"  {localized(st.detail)}")
    return 0
