"""Take the README's screenshots of the real tray, on a virtual desktop.

    python docs/screenshots/make_screenshots.py [OUTDIR]
    python docs/screenshots/make_screenshots.py --korean [OUTDIR]   # menu-ko.png

Runs ``roletray demo`` (moto on loopback, a sandbox HOME: the real ~/.aws is
never read) under Xvfb with trayer, dunst and a session bus, then saves:

- ``tray.png``: the panel corner with the green icon and its minutes badge;
- ``menu.png``: the menu open under the icon;
- ``setup.png``: the first-run dialog ("Set up…"), a start URL typed in.

The menu shows role names, the account and the assumed-role ARN, never a key:
the script checks that no secret of the sandbox's credentials file is in the
log, and the menu holds no key at all.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from xsession import Geometry, XSession, wait_for

DESKTOP = (0x3B, 0x42, 0x52)  # a dark desktop colour behind the panel and menu
MARGIN = 12


def _crop(img: Any, box: Geometry, size: tuple[int, int], margin: int = MARGIN) -> Any:
    x0 = max(0, box.x - margin)
    y0 = max(0, box.y - margin)
    x1 = min(size[0], box.x + box.width + margin)
    y1 = min(size[1], box.y + box.height + margin)
    return img.crop((x0, y0, x1, y1))


def _union(a: Geometry, b: Geometry) -> Geometry:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.width, b.x + b.width), max(a.y + a.height, b.y + b.height)
    return Geometry(x0, y0, x1 - x0, y1 - y0)


def _icon_green(xs: XSession) -> bool:
    from tray.ui.icons import COLOURS

    g = xs.tray_icon_geometry()
    if g is None:
        return False
    img = xs.screenshot().crop(g.box).convert("RGB")
    data = getattr(img, "get_flattened_data", img.getdata)()
    green = sum(1 for px in data
                if all(abs(a - b) <= 30 for a, b in zip(px, COLOURS["fresh"], strict=True)))
    return green >= img.width * img.height // 8


def _secrets(folder: Path) -> list[str]:
    cp = configparser.RawConfigParser()
    out = []
    for path in folder.glob("roletray-demo-*/aws/credentials"):
        cp.read(path)
        for name in cp.sections():
            for key in ("aws_secret_access_key", "aws_session_token"):
                if cp.has_option(name, key):
                    out.append(cp.get(name, key))
    return out


def main(argv: list[str]) -> int:
    """``--korean``: only the menu, with ``LANG=ko_KR.UTF-8``, as ``menu-ko.png`` (a
    Korean font is needed: Debian's fonts-nanum)."""
    korean = "--korean" in argv
    argv = [a for a in argv if a != "--korean"]
    out = Path(argv[0]) if argv else HERE
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="roletray-shots-"))
    home = work / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_STATE_HOME=str(home / ".local" / "state"), XDG_RUNTIME_DIR=str(work),
               TMPDIR=str(work), TZ=env.get("TZ", "Europe/Paris"), PYTHONPATH=str(REPO))
    if korean:
        for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
            env.pop(var, None)
        env["LANG"] = "ko_KR.UTF-8"
    try:
        with XSession(work, size=(800, 500), base_env=env) as xs:
            xs.set_background(DESKTOP)
            log = work / "app.log"
            app = xs.spawn([sys.executable, "-m", "tray", "demo"], stdout_path=log)

            def alive() -> bool:
                if app.poll() is not None:
                    raise SystemExit(f"the demo exited {app.returncode}:\n{log.read_text()}")
                return True

            wait_for(lambda: alive() and _icon_green(xs), 60, "the green tray icon")
            icon = xs.tray_icon_geometry()
            panel_win = xs.tray_host_window()
            assert icon is not None and panel_win is not None
            panel = xs.geometry(panel_win)
            assert panel is not None
            shot = xs.screenshot()
            # The panel corner: wide enough to read as a panel, scaled up for the README.
            corner = Geometry(xs.size[0] - 160, 0, 160, panel.height + 8)
            tray = _crop(shot, corner, xs.size, margin=0)
            tray = tray.resize((tray.width * 2, tray.height * 2), 0)  # nearest: crisp pixels
            if not korean:
                tray.save(out / "tray.png")

            x, y = icon.center
            xs.xdotool("mousemove", str(x), str(y), "click", "1")
            menu = wait_for(lambda: xs.popup_of(app.pid), 15, "the menu")
            # Let the menu's first frame land (it maps before it paints).
            wait_for(lambda: xs.screenshot().crop(menu.box).convert("L").getextrema()[1] > 200,
                     10, "the menu to be drawn")
            shot = xs.screenshot()
            _crop(shot, _union(menu, icon), xs.size).save(
                out / ("menu-ko.png" if korean else "menu.png"))
            xs.xdotool("key", "Escape")
            if korean:
                app.terminate()
                app.wait(timeout=15)
                print(f"wrote {out / 'menu-ko.png'}")
                return 0

            setup = subprocess.Popen([sys.executable, "-m", "tray.ui.setup_dialog"],
                                     env=xs.env_with(env),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            try:
                [wid] = wait_for(lambda: xs.search(["--name", "roletray: Set up"]), 15,
                                 "the setup dialog")
                xs.xdotool("windowfocus", "--sync", str(wid), "type", "--delay", "5",
                           "my-org.awsapps.com/start")
                box = wait_for(lambda: xs.geometry(wid), 5, "the dialog's place")
                wait_for(lambda: xs.screenshot().crop(box.box).convert("L").getextrema()[1]
                         > 200, 10, "the dialog to be drawn")
                _crop(xs.screenshot(), box, xs.size, margin=0).save(out / "setup.png")
            finally:
                setup.terminate()
                setup.wait(timeout=10)

            secrets = _secrets(work)
            if not secrets:
                raise SystemExit("found no sandbox credentials to check the log against")
            if any(s in log.read_text() for s in secrets):
                raise SystemExit("a secret reached the app's log")
            app.terminate()
            app.wait(timeout=15)
            _guard_and_finder(xs, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {out / 'tray.png'}, {out / 'menu.png'}, {out / 'setup.png'}, "
          f"{out / 'guard-dialog.png'}, {out / 'finder.png'} and {out / 'guarded-icon.png'}")
    return 0


FINDER_CODE = """
import sys
sys.path.insert(0, {repo!r})
from gi.repository import Gtk
from tray.domain.models import RoleProfile
from tray.ui.finder import Finder
from tray.ui.finder_index import RoleIndex
names = [("Prod/AdministratorAccess", "111122223333", "production"),
         ("Prod/ReadOnly", "111122223333", None), ("Staging/AdministratorAccess", "444455556666",
         None), ("Staging/ReadOnly", "444455556666", None), ("Dev/PowerUser", "777788889999", None),
         ("Audit/SecurityAudit", "222233334444", None)]
profiles = [RoleProfile(name=n, role_arn="", kind="sso", account_id=a,
                        sso_role_name=n.split("/")[1], guard=g) for n, a, g in names]
finder = Finder(lambda name: Gtk.main_quit())
finder.show(RoleIndex(profiles, {{"Staging/ReadOnly": 3.0, "Prod/ReadOnly": 1.0}}))
finder.window.resize(520, 260)
finder.window.connect("hide", lambda *_: Gtk.main_quit())
Gtk.main()
"""


def _window_shot(xs: XSession, proc: Any, title: str, path: Path) -> None:
    """Wait for the window titled ``title`` to be drawn, then save it with a margin."""
    wid = wait_for(lambda: proc.poll() is None and xs.search(["--name", title]), 20, title)[0]
    box = wait_for(lambda: xs.geometry(wid), 10, "its geometry")
    wait_for(lambda: xs.screenshot().crop(box.box).convert("L").getextrema()[1] > 200, 10,
             f"{title} to be drawn")
    _crop(xs.screenshot(), box, xs.size).save(path)


def _guard_and_finder(xs: XSession, out: Path) -> None:
    """The dialog before a guarded profile is used and the finder, as the tray opens them
    (the dialog is the same child process; the finder the same window class, over a few
    Identity Center profiles), and the icon with a guarded role active."""
    dialog = xs.spawn([sys.executable, "-m", "tray.ui.confirm", "--profile",
                       "Prod/AdministratorAccess", "--label", "production"])
    _window_shot(xs, dialog, "roletray: guarded profile", out / "guard-dialog.png")
    xs.end(dialog)
    finder = xs.spawn([sys.executable, "-c", FINDER_CODE.format(repo=str(REPO))])
    wid = wait_for(lambda: xs.search(["--name", "roletray: find a role"]), 20, "the finder")[0]
    xs.xdotool("windowfocus", "--sync", str(wid))
    xs.xdotool("type", "--delay", "40", "prod")
    _window_shot(xs, finder, "roletray: find a role", out / "finder.png")
    xs.end(finder)
    # The tray's own painter (what the icon shows while prod is active), at 3x: plain,
    # guarded, guarded with the minutes badge.
    from PIL import Image

    from tray.ui.png_icon import decode_rgba, icon_png

    row = Image.new("RGBA", (3 * 64 + 4 * 8, 64 + 16), DESKTOP + (255,))
    for i, (minutes, guard) in enumerate(((None, False), (None, True), (12, True))):
        w, h, px = decode_rgba(icon_png("fresh", 64, minutes, guard))
        row.alpha_composite(Image.frombytes("RGBA", (w, h), bytes(px)), (8 + i * 72, 8))
    row.resize((row.width * 2, row.height * 2), 0).save(out / "guarded-icon.png")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
