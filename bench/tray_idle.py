"""An idle ``roletray run`` (the tray) under Xvfb: resident memory and wakeups per second.

The tray runs on a virtual desktop (Xvfb, trayer, dunst, a session bus: see
tests/xsession.py) in a sandbox HOME against moto's server on loopback, with an
active role assumed once, the menu opened and closed once (so its widgets
exist), then idles. The peer is the floor under it: a bare pystray icon whose
menu has radio and check items too (GTK draws their indicators from SVG, which
maps librsvg: ~8 MiB), on the same desktop and backend, importing what
roletray's tray imports (apscheduler, jeepney; not botocore or boto3, which only
its refresh workers load), its menu opened once too.

The window starts after the tray's warm worker (the process that loads botocore and
makes the AWS calls) has done a refresh and left again (``worker_idle_minutes = 1``
here; 10 by default): what the tray itself holds once the worker is gone. The worker's
own RSS is taken while it is alive.
Both run with GDK_GL=disable, as roletray sets it (GDK's GLX probe can map Mesa
and LLVM, ~50 MiB, into the first GTK client of a display).

    python bench/tray_idle.py            # 180 s window: the tray's minute redraws show up
                                         # (plus ~70 s for the worker to come and go)
    python bench/tray_idle.py 300

Targets: RSS <= 70 MiB and <= 0.2 wakeups/s. A window under a few minutes misses the
once-a-minute redraws (the badge, the tooltip) and under-reports the wakeups.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from common import tmpdir
from daemon_idle import _prepare, rss_mib
from xsession import XSession, wait_for

TARGET_RSS_MIB = 70.0
TARGET_WAKEUPS = 0.2  # per second, steady
DEFAULT_SECONDS = 180.0
PEER_CODE = """
import apscheduler.schedulers.background, apscheduler.executors.pool, jeepney.io.threading
import pystray
from PIL import Image
img = Image.new("RGBA", (64, 64), (46, 158, 68, 255))
menu = pystray.Menu(pystray.MenuItem("a", lambda: None, checked=lambda i: True, radio=True),
                    pystray.MenuItem("b", lambda: None, checked=lambda i: False, radio=True),
                    pystray.MenuItem("c", lambda: None, checked=lambda i: False),
                    pystray.MenuItem("Quit", lambda icon: icon.stop()))
pystray.Icon("peer", img, "peer", menu).run()
"""


def mem(pid: int) -> dict[str, float]:
    """VmRSS, RssAnon (the process's own memory) and RssFile (mapped files, mostly
    shared libraries that every GTK program on the desktop shares), in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":", 1)[0]
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(line.split()[1]) / 1024
    return out


def switches(pid: int) -> dict[str, int]:
    """Context switches per thread id (threads come and go: compare per thread)."""
    out = {}
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        out[status.parent.name] = sum(
            int(line.split()[1]) for line in text.splitlines()
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")))
    return out


def wakeups(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(n - before.get(tid, 0) for tid, n in after.items())


def thread_names(pid: int) -> dict[str, str]:
    """GLib names its threads (gmain, gdbus); Python's are told apart by start order."""
    out = {}
    tids = sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda p: int(p.name))
    for n, task in enumerate(tids):
        try:
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        out[task.name] = ("main" if task.name == str(pid)
                          else comm if not comm.startswith("python") else f"python#{n}")
    return out


def by_thread(pid: int, before: dict[str, int], after: dict[str, int]) -> str:
    """Where the wakeups were: "name N" per thread that woke, most first."""
    names = thread_names(pid)
    counts: dict[str, int] = {}
    for tid, n in after.items():
        name = names.get(tid, tid)
        counts[name] = counts.get(name, 0) + n - before.get(tid, 0)
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])
                     if n)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_comes_and_goes(app_pid: int, env: dict[str, str]) -> float:
    """A refresh handed over to the tray: its warm worker starts, makes the AssumeRole,
    and leaves after ``worker_idle_minutes`` (1 here). The worker's RSS while alive."""
    import subprocess

    def worker_pid() -> int | None:
        return next((c for c in children(app_pid)
                     if b"tray.worker_main" in Path(f"/proc/{c}/cmdline").read_bytes()), None)

    subprocess.run([sys.executable, "-m", "tray", "refresh"], env=env, check=True,
                   capture_output=True, timeout=60)
    worker = wait_for(worker_pid, 10, "the warm worker")
    worker_rss = rss_mib(worker)
    wait_for(lambda: not Path(f"/proc/{worker}").exists(), 150, "the warm worker to leave")
    return worker_rss


def run(seconds: float = DEFAULT_SECONDS, settle: float = 3.0) -> list[tuple[str, str, str, str]]:
    folder = tmpdir("roletray-bench-tray-")
    env, server = _prepare(folder)
    settings = Path(env["XDG_CONFIG_HOME"]) / "roletray" / "config.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text("worker_idle_minutes = 1\n")
    try:
        with XSession(folder / "desktop", base_env=env) as xs:
            app_env = xs.env_with(env)
            app = xs.spawn([sys.executable, "-m", "tray", "run"], env=app_env,
                           stdout_path=folder / "app.log")
            icon = wait_for(xs.tray_icon_geometry, 30, "the tray icon")
            x, y = icon.center
            button = "3" if app_env.get("PYSTRAY_BACKEND") == "gtk" else "1"
            xs.xdotool("mousemove", str(x), str(y), "click", button)
            wait_for(lambda: xs.popup_of(app.pid), 10, "the menu")
            xs.xdotool("key", "Escape")
            wait_for(lambda: xs.popup_of(app.pid) is None, 10, "the menu to close")
            rss_start = rss_mib(app.pid)
            peer = xs.spawn([sys.executable, "-c", PEER_CODE],
                            env={**app_env, "GDK_GL": "disable",  # as roletray runs
                                 "PYSTRAY_BACKEND": os.environ.get("PYSTRAY_BACKEND",
                                                                   "appindicator")},
                            stdout_path=folder / "peer.log")
            # The peer's icon lands left of ours and trayer re-lays the panel out: click
            # where it is now, until its menu opens.
            def open_peer_menu() -> bool:
                icon_now = next((g for _, g in xs.windows_of(peer.pid)
                                 if g.y < 40 and 16 <= g.width <= 64 and g.height >= 16), None)
                if icon_now is None:
                    return False
                xs.xdotool("mousemove", str(icon_now.center[0]), str(icon_now.center[1]),
                           "click", button)
                try:
                    return bool(wait_for(lambda: xs.popup_of(peer.pid), 2, "the peer's menu"))
                except TimeoutError:
                    return False

            wait_for(open_peer_menu, 30, "the peer's menu")
            xs.xdotool("key", "Escape")
            wait_for(lambda: xs.popup_of(peer.pid) is None, 10, "the peer's menu to close")
            worker_rss = worker_comes_and_goes(app.pid, app_env)
            time.sleep(settle)  # let start-up work finish before the window
            a0, p0 = switches(app.pid), switches(peer.pid)
            time.sleep(seconds)  # the measurement window itself
            a1, p1 = switches(app.pid), switches(peer.pid)
            threads = len(a1)
            where = by_thread(app.pid, a0, a1)
            am, pm = mem(app.pid), mem(peer.pid)
            a_rss, p_rss = am["VmRSS"], pm["VmRSS"]
            app.terminate()
            rc = app.wait(timeout=15)
            if rc != 0:
                raise RuntimeError(f"the tray exited {rc} on SIGTERM")
    finally:
        server.stop()
    return [
        ((f"tray idle RSS under Xvfb, after its warm worker did a refresh and left "
         f"({rss_start:.1f} MiB after start and a menu; peer: bare pystray icon with the same "
         "imports, menu opened too)"),
         f"{a_rss:.1f} MiB", f"{p_rss:.1f} MiB",
         f"{a_rss / p_rss:.2f} (target ≤ {TARGET_RSS_MIB:.0f} MiB)"),
        ("tray idle RssAnon (its own memory; the rest is shared library pages)",
         f"{am['RssAnon']:.1f} MiB", f"{pm['RssAnon']:.1f} MiB",
         f"{am['RssAnon'] / pm['RssAnon']:.2f}"),
        (f"tray idle wakeups/s over {seconds:.0f} s ({threads} threads; by thread: {where})",
         f"{wakeups(a0, a1) / seconds:.3f}", f"{wakeups(p0, p1) / seconds:.3f}",
         f"target ≤ {TARGET_WAKEUPS}"),
        (("the tray's warm worker: RSS after a refresh (VmRSS), before it left "
         "(worker_idle_minutes)"), f"{worker_rss:.1f} MiB", "-", "given back when idle"),
    ]


def main(argv: list[str]) -> int:
    rows = run(float(argv[0]) if argv else DEFAULT_SECONDS)
    for row in rows:
        print(" | ".join(row))
    rss_ok = float(rows[0][1].split()[0]) <= TARGET_RSS_MIB
    return 0 if rss_ok and float(rows[2][1]) <= TARGET_WAKEUPS else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
