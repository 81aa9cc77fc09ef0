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
from typing import Any, TypeVar

T = TypeVar("T")

REQUIRED_TOOLS = ("Xvfb", "dbus-daemon", "dunst", "dunstctl", "trayer", "xdotool",
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
    def __enter__(self) -> XSession:
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
        """Start a process on this desktop; it is ended by ``close()`` if still running."""
        full_env = self.env
        if env:
            full_env.update(env)
        out: Any = subprocess.DEVNULL
        if stdout_path is not None:
            out = open(stdout_path, "ab")  # noqa: SIM115 - closed in close()
            self._logs.append(out)
        elif log:
            out = self._log(log)
        err = self._log(log) if log else subprocess.DEVNULL
        p = subprocess.Popen(list(argv), env=full_env, stdout=out, stderr=err,
                             stdin=subprocess.DEVNULL, **kw)
        self._procs.append(p)
        return p

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 20) -> str:
        res = subprocess.run(list(argv), env=self.env, capture_output=True, text=True,
                             timeout=timeout, stdin=subprocess.DEVNULL)
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
                             r"\+(-?\d+)\+(-?\d+)", out, re.M):
            w, h, x, y = (int(v) for v in m.groups())
            if w < min_size or h < min_size or w > 64 or h > 64:
                continue
            g = Geometry(x, y, w, h)
            if best is None or (g.width * g.height) < (best.width * best.height):
                best = g
        return best

    def screenshot(self, path: Path | None = None) -> Any:
        """The whole screen as a PIL image (and saved as PNG if ``path`` is given)."""
        from PIL import ImageGrab

        img = ImageGrab.grab(xdisplay=self.display)
        if path is not None:
            img.save(path)
        return img

    def xdotool(self, *args: str) -> str:
        return self.run(["xdotool", *args])


_STRING_RE = re.compile(r'^\s*string "(.*)"$')


def parse_notify_log(text: str) -> list[dict[str, Any]]:
    """Parse ``dbus-monitor`` output into the Notify calls it recorded.

    A Notify call is ``(app_name, replaces_id, app_icon, summary, body, actions[],
    hints{}, expire_timeout)``; strings come one per line in that order.
    """
    calls: list[dict[str, Any]] = []
    blocks = re.split(r"^(?=method call |signal |method return |error )", text, flags=re.M)
    for block in blocks:
        head = block.split("\n", 1)[0]
        if not head.startswith("method call") or "member=Notify" not in head:
            continue
        lines = block.split("\n")[1:]
        strings: list[str] = []
        in_actions = False
        actions: list[str] = []
        urgency: int | None = None
        depth = 0
        for i, line in enumerate(lines):
            s = line.strip()
            if s.startswith("array ["):
                depth += 1
                in_actions = depth == 1 and len(strings) == 4
                continue
            if s == "]":
                depth -= 1
                in_actions = False
                continue
            m = _STRING_RE.match(line)
            if m:
                if in_actions:
                    actions.append(m.group(1))
                elif depth == 0:
                    strings.append(m.group(1))
                elif m.group(1) == "urgency" and i + 1 < len(lines):
                    um = re.search(r"byte (\d+)", lines[i + 1])
                    if um:
                        urgency = int(um.group(1))
        if len(strings) >= 4:
            calls.append({"app": strings[0], "summary": strings[2], "body": strings[3],
                          "actions": actions, "urgency": urgency})
    return calls
