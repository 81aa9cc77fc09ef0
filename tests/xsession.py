"""A throwaway desktop for tests, screenshots and benchmarks: Xvfb, a private
D-Bus session bus, dunst (notifications), trayer (an XEmbed tray host) and
dbus-monitor recording every ``Notify`` call.

Every process is started here, by id, and ended here, by id. Nothing waits by
sleeping: each start polls for its readiness with a deadline.

    with XSession(tmp_path) as xs:
        app = xs.spawn([sys.executable, "-m", "tray", "run"])
        wid = xs.wait_for(lambda: xs.tray_icon_window(), 20, "tray icon")
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

T = TypeVar("T")

REQUIRED_TOOLS = ("Xvfb", "dbus-daemon", "dbus-send", "dunst", "dunstctl", "trayer", "xdotool",
                  "xwininfo", "dbus-monitor")

DUNSTRC = """\
[global]
    origin = bottom-left
    offset = 10x10
    width = 420
    font = Monospace 9
    show_age_threshold = -1
    idle_threshold = 0
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


class DesktopUnavailable(RuntimeError):
    """A tool of the headless desktop is missing."""


def missing_tools() -> list[str]:
    return [t for t in REQUIRED_TOOLS if shutil.which(t) is None]


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str,
             interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = predicate()
        except AssertionError:
            raise  # a poll that found something definitely wrong stops the wait
        except Exception as e:  # noqa: BLE001 - a poll that raises is "not yet"
            value, last = None, e
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}"
                               + (f" (last error: {last!r})" if last else ""))
        time.sleep(interval)


@dataclass(frozen=True)
class Geometry:
    x: int
    y: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.x + self.width, self.y + self.height


class XSession:
    """A virtual screen with a session bus, a notification daemon and a tray host."""

    def __init__(self, workdir: Path, *, size: tuple[int, int] = (800, 600),
                 tray: bool = True, notifications: bool = True,
                 base_env: Mapping[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.size = size
        self.want_tray = tray
        self.want_notifications = notifications
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.display = ""
        self.bus_address = ""
        self.notify_log = self.workdir / "notify.log"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        missing = missing_tools()
        if missing:
            raise DesktopUnavailable("missing: " + ", ".join(missing))
        self._start_xvfb()
        self._start_bus()
        if self.want_notifications:
            rc = self.workdir / "dunstrc"
            rc.write_text(DUNSTRC)
            self.spawn(["dunst", "-config", str(rc)], log="dunst")
            wait_for(self._notifications_owned, 15, "dunst to own org.freedesktop.Notifications")
            self.spawn(["dbus-monitor", "--session",
                        "interface='org.freedesktop.Notifications'"],
                       log=None, stdout_path=self.notify_log)
            # dbus-monitor prints its own NameAcquired signal once it listens.
            wait_for(lambda: "NameAcquired" in self.notify_log.read_text(errors="replace"),
                     10, "dbus-monitor to listen")
        if self.want_tray:
            self.spawn(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                        "--height", "32", "--SetDockType", "true", "--transparent", "false",
                        "--tint", "0x303030", "--expand", "true", "--margin", "0"], log="trayer")
            wait_for(self.tray_host_window, 15, "trayer's panel window")

    def close(self) -> None:
        for p in reversed(self._procs):
            self._end(p)
        self._procs.clear()
        for f in self._logs:
            f.close()
        self._logs.clear()

    @staticmethod
    def _end(p: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        if p.poll() is not None:
            return
        try:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=grace)
        except ProcessLookupError:
            pass

    def _start_xvfb(self) -> None:
        r, w = os.pipe()
        try:
            p = subprocess.Popen(
                ["Xvfb", "-displayfd", str(w), "-screen", "0",
                 f"{self.size[0]}x{self.size[1]}x24", "-nolisten", "tcp", "-noreset"],
                pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=self._log("xvfb"),
                start_new_session=True)
            self._procs.append(p)
            os.close(w)
            w = -1
            data = b""
            deadline = time.monotonic() + 20
            with os.fdopen(r, "rb", buffering=0) as f:
                r = -1
                while not data.endswith(b"\n") and time.monotonic() < deadline:
                    chunk = f.read(16)
                    if not chunk:
                        break
                    data += chunk
            if not data.strip().isdigit():
                raise DesktopUnavailable(f"Xvfb did not report a display (exit {p.poll()})")
            self.display = ":" + data.decode().strip()
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)

    def _start_bus(self) -> None:
        p = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                              "--print-address=1"], stdout=subprocess.PIPE,
                             stderr=self._log("dbus"), env=self.env, start_new_session=True)
        self._procs.append(p)
        assert p.stdout is not None
        line = p.stdout.readline().decode().strip()
        if not line:
            raise DesktopUnavailable(f"dbus-daemon gave no address (exit {p.poll()})")
        self.bus_address = line

    def _log(self, name: str) -> Any:
        f = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(f)
        return f

    # -- processes ---------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = dict(self.base_env)
        env.pop("WAYLAND_DISPLAY", None)
        if self.display:
            env["DISPLAY"] = self.display
        if self.bus_address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        env["NO_AT_BRIDGE"] = "1"
        env["GTK_A11Y"] = "none"
        return env

    def spawn(self, argv: Sequence[str], *, log: str | None = None,
              stdout_path: Path | None = None, env: Mapping[str, str] | None = None,
              **kw: Any) -> subprocess.Popen[bytes]:
        """Start a process on this desktop; it is ended by ``close()`` if still running.

        ``env`` is the whole environment (see ``env_with``); default: the session's.
        ``stdout_path`` gets stdout and stderr; ``log`` names a log file for both.
        """
        full_env = dict(env) if env is not None else self.env
        out: Any = subprocess.DEVNULL
        err: Any = subprocess.DEVNULL
        if stdout_path is not None:
            out = open(stdout_path, "ab")  # noqa: SIM115 - closed in close()
            self._logs.append(out)
            err = subprocess.STDOUT
        elif log:
            out = self._log(log)
            err = subprocess.STDOUT
        p = subprocess.Popen(list(argv), env=full_env, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, **kw)
        self._procs.append(p)
        return p

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 20) -> str:
        res = subprocess.run(list(argv), env=self.env, capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        if check and res.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {res.returncode}: {res.stderr.strip()[:300]}")
        return res.stdout

    def end(self, p: subprocess.Popen[bytes], grace: float = 10.0) -> int:
        self._end(p, grace)
        return int(p.returncode)

    # -- inspection -----------------------------------------------------------------
    def _notifications_owned(self) -> bool:
        out = self.run(["dbus-send", "--session", "--print-reply",
                        "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.NameHasOwner",
                        "string:org.freedesktop.Notifications"], check=False, timeout=5)
        return "boolean true" in out

    def notifications(self) -> list[dict[str, Any]]:
        """Notify calls seen on the bus: ``{"app", "summary", "body", "actions", "urgency"}``."""
        return parse_notify_log(self.notify_log.read_text(errors="replace"))

    def dunst_history(self) -> list[dict[str, Any]]:
        import json

        out = self.run(["dunstctl", "history"], check=False, timeout=5)
        try:
            data = json.loads(out)
        except ValueError:
            return []
        items = data.get("data", [[]])[0] if isinstance(data, dict) else []
        return [{k: v.get("data") for k, v in item.items()} for item in items]

    def window_tree(self) -> str:
        return self.run(["xwininfo", "-root", "-tree"], check=False)

    def tray_host_window(self) -> int | None:
        ids = self.search(["--class", "trayer"])
        for wid in ids:
            g = self.geometry(wid)
            if g and g.height > 0 and g.y < 64:
                return wid
        return None

    def search(self, args: Sequence[str]) -> list[int]:
        out = self.run(["xdotool", "search", "--onlyvisible", *args], check=False, timeout=5)
        return [int(x) for x in out.split()]

    def geometry(self, wid: int) -> Geometry | None:
        out = self.run(["xdotool", "getwindowgeometry", "--shell", str(wid)], check=False)
        vals = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        try:
            return Geometry(int(vals["X"]), int(vals["Y"]), int(vals["WIDTH"]),
                            int(vals["HEIGHT"]))
        except KeyError:
            return None

    def tray_icon_geometry(self, min_size: int = 8) -> Geometry | None:
        """The embedded icon inside trayer: the smallest mapped child of its panel."""
        host = self.tray_host_window()
        if host is None:
            return None
        out = self.run(["xwininfo", "-id", str(host), "-tree"], check=False)
        best: Geometry | None = None
        for m in re.finditer(r"^\s+0x[0-9a-f]+ .*?: \(.*?\)\s+(\d+)x(\d+)\+-?\d+\+-?\d+\s+"
                             r"\+(-?\d+)\+(-?\d+)", out, re.MULTILINE):
            w, h, x, y = (int(v) for v in m.groups())
            if w < min_size or h < min_size or w > 64 or h > 64:
                continue
            g = Geometry(x, y, w, h)
            if best is None or (g.width * g.height) < (best.width * best.height):
                best = g
        return best

    def set_background(self, rgb: tuple[int, int, int]) -> None:
        """Paint the root window (a desktop colour instead of black), via python-xlib."""
        from Xlib import display as xdisplay

        d = xdisplay.Display(self.display)
        try:
            screen = d.screen()
            pixel = screen.default_colormap.alloc_color(*(c * 257 for c in rgb)).pixel
            screen.root.change_attributes(background_pixel=pixel)
            screen.root.clear_area(0, 0, 0, 0)
            d.sync()
        finally:
            d.close()

    def env_with(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` (e.g. a test's isolated environment) on this desktop."""
        env = dict(base)
        env.pop("WAYLAND_DISPLAY", None)
        env.update(DISPLAY=self.display, DBUS_SESSION_BUS_ADDRESS=self.bus_address,
                   NO_AT_BRIDGE="1", GTK_A11Y="none")
        return env

    def windows_of(self, pid: int) -> list[tuple[int, Geometry]]:
        """Visible windows of process ``pid`` (from _NET_WM_PID), with their geometry."""
        out = []
        for wid in self.search(["--pid", str(pid)]):
            g = self.geometry(wid)
            if g is not None and g.x >= 0 and g.y >= 0:
                out.append((wid, g))
        return out

    def popup_of(self, pid: int, min_height: int = 40) -> Geometry | None:
        """The open menu (or dialog) of ``pid``: its one big visible window."""
        big = [g for _, g in self.windows_of(pid) if g.height >= min_height and g.width >= 48]
        return big[0] if len(big) == 1 else None

    def screenshot(self, path: Path | None = None) -> Any:
        """The whole screen as a PIL image (and saved as PNG if ``path`` is given)."""
        from PIL import ImageGrab

        img = ImageGrab.grab(xdisplay=self.display)
        if path is not None:
            img.save(path)
        return img

    def xdotool(self, *args: str) -> str:
        return self.run(["xdotool", *args])


_HEADER_RE = re.compile(r"^(?=(?:method call|method return|signal|error) time=)", re.MULTILINE)
_TOKEN_RE = re.compile(r"^\s+(?:string |u?int\d+ |byte |boolean |double |variant |object path |"
                       r"array \[|\]|dict entry\(|\))")


def _tokens(lines: list[str]) -> list[tuple[str, str]]:
    """``dbus-monitor`` value lines as (kind, value); strings may span lines (not escaped)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^\s+string \"(.*)$", line)
        if m:
            parts = [m.group(1)]
            # The string ends at a line ending in a quote that is followed by a value line.
            while not (parts[-1].endswith('"') and
                       (i + 1 >= len(lines) or _TOKEN_RE.match(lines[i + 1]))):
                i += 1
                if i >= len(lines):
                    break
                parts.append(lines[i])
            out.append(("string", "\n".join(parts)[:-1]))
        else:
            s = line.strip()
            if s.startswith("array ["):
                out.append(("open", ""))
            elif s == "]":
                out.append(("close", ""))
            elif s:
                out.append(("other", s))
        i += 1
    return out


def parse_notify_log(text: str) -> list[dict[str, Any]]:
    """The ``Notify`` calls in ``dbus-monitor`` output, in order.

    A call is ``(app_name, replaces_id, app_icon, summary, body, actions, hints,
    expire_timeout)``; each becomes ``{"app", "summary", "body", "actions", "urgency"}``.
    """
    calls: list[dict[str, Any]] = []
    for block in _HEADER_RE.split(text):
        head, _, rest = block.partition("\n")
        if not head.startswith("method call") or "member=Notify" not in head:
            continue
        strings: list[str] = []
        arrays: list[list[tuple[str, str]]] = []
        depth = 0
        for kind, value in _tokens(rest.split("\n")):
            if kind == "open":
                if depth == 0:
                    arrays.append([])
                depth += 1
            elif kind == "close":
                depth -= 1
            elif depth == 0 and kind == "string":
                strings.append(value)
            elif depth > 0:
                arrays[-1].append((kind, value))
        if len(strings) < 4 or len(arrays) < 2:
            continue
        actions = [v for k, v in arrays[0] if k == "string"]
        urgency = None
        hints = arrays[1]
        for j, (k, v) in enumerate(hints):
            if k == "string" and v == "urgency" and j + 1 < len(hints):
                um = re.search(r"byte (\d+)", hints[j + 1][1])
                urgency = int(um.group(1)) if um else None
        calls.append({"app": strings[0], "summary": strings[2], "body": strings[3],
                      "actions": actions, "urgency": urgency})
    return calls
