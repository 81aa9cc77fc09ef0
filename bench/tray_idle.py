"""An idle ``roletray run`` (the tray) under Xvfb: resident memory and wakeups per second.

The tray runs on a virtual desktop (Xvfb, trayer, dunst, a session bus: see
tests/xsession.py) in a sandbox HOME against moto's server on loopback, with an
active role assumed once, the menu opened and closed once (so its widgets
exist), then idles. The peer is the floor under it: a bare pystray icon with a
three-item menu on the same desktop and backend, importing what roletray's
refresher imports too (boto3, apscheduler).

    python bench/tray_idle.py            # 20 s window
    python bench/tray_idle.py 60
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from common import tmpdir  # noqa: E402
from daemon_idle import _prepare, rss_mib  # noqa: E402
from xsession import XSession, wait_for  # noqa: E402

TARGET_RSS_MIB = 70.0
PEER_CODE = """
import boto3, botocore.session, apscheduler.schedulers.background
import pystray
from PIL import Image
img = Image.new("RGBA", (64, 64), (46, 158, 68, 255))
menu = pystray.Menu(pystray.MenuItem("a", lambda: None), pystray.MenuItem("b", lambda: None),
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


def run(seconds: float = 20.0, settle: float = 3.0) -> list[tuple[str, str, str, str]]:
    folder = tmpdir("roletray-bench-tray-")
    env, server = _prepare(folder)
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
                            env={**app_env, "PYSTRAY_BACKEND": os.environ.get(
                                "PYSTRAY_BACKEND", "appindicator")},
                            stdout_path=folder / "peer.log")
            # The peer's icon sits left of ours once embedded; open its menu too.
            peer_icon = wait_for(lambda: next((g for _, g in xs.windows_of(peer.pid)
                                               if g.y < 40 and g.width <= 64), None),
                                 30, "the peer icon")
            px, py = peer_icon.center
            xs.xdotool("mousemove", str(px), str(py), "click", button)
            wait_for(lambda: xs.popup_of(peer.pid), 10, "the peer's menu")
            xs.xdotool("key", "Escape")
            wait_for(lambda: xs.popup_of(peer.pid) is None, 10, "the peer's menu to close")
            time.sleep(settle)  # let start-up work finish before the window
            a0, p0 = switches(app.pid), switches(peer.pid)
            time.sleep(seconds)  # the measurement window itself
            a1, p1 = switches(app.pid), switches(peer.pid)
            threads = len(a1)
            am, pm = mem(app.pid), mem(peer.pid)
            a_rss, p_rss = am["VmRSS"], pm["VmRSS"]
            app.terminate()
            rc = app.wait(timeout=15)
            if rc != 0:
                raise RuntimeError(f"the tray exited {rc} on SIGTERM")
    finally:
        server.stop()
    return [
        (f"tray idle RSS under Xvfb ({rss_start:.1f} MiB after start; peer: bare pystray icon "
         "with the same imports)", f"{a_rss:.1f} MiB", f"{p_rss:.1f} MiB",
         f"{a_rss / p_rss:.2f} (target ≤ {TARGET_RSS_MIB:.0f} MiB)"),
        ("tray idle RssAnon (its own memory; the rest is shared library pages)",
         f"{am['RssAnon']:.1f} MiB", f"{pm['RssAnon']:.1f} MiB",
         f"{am['RssAnon'] / pm['RssAnon']:.2f}"),
        (f"tray idle wakeups/s over {seconds:.0f} s ({threads} threads)",
         f"{wakeups(a0, a1) / seconds:.3f}", f"{wakeups(p0, p1) / seconds:.3f}", "-"),
    ]


def main(argv: list[str]) -> int:
    rows = run(float(argv[0]) if argv else 20.0)
    for row in rows:
        print(" | ".join(row))
    return 0 if float(rows[0][1].split()[0]) <= TARGET_RSS_MIB else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
