"""The tray for real: Xvfb, a session bus, dunst, trayer, the app as a process, moto as AWS.

Every wait polls with a deadline (no sleeps). Skipped only when Xvfb is missing
and CI is not "true"; in CI a missing piece fails.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from xsession import Geometry, XSession, missing_tools, wait_for

from tray.paths import Paths

pytestmark = pytest.mark.desktop

REPO = Path(__file__).resolve().parents[1]
MFA_CODE = "864209"  # shares no six digits with the account id 123456789012
OTHER = "arn:aws:iam::123456789012:user/other"



def sock() -> Path:
    """The control socket of the environment the test set up."""
    from tray.instance import control

    return control.socket_path(Paths.from_env(os.environ))


def lock() -> Path:
    from tray.instance import control

    return control.lock_path(Paths.from_env(os.environ))

def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"desktop tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def xs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XSession]:
    yield from desktop(tmp_path_factory)


def desktop(tmp_path_factory: pytest.TempPathFactory, *, tray: bool = True
            ) -> Iterator[XSession]:
    """A desktop for a test module; ``tray=False``: no XEmbed tray (trayer)."""
    if shutil.which("Xvfb") is None:
        _unavailable("Xvfb is not installed (apt install xvfb)")
    missing = missing_tools()
    if missing:
        pytest.fail("desktop tools missing: " + ", ".join(missing)
                    + " (see docs/HACKING.md: apt install trayer dunst xdotool x11-utils dbus-x11)")
    try:
        import gi  # noqa: F401
    except ImportError:
        # As without Xvfb: the README's test command skips these, saying why (fails in CI).
        _unavailable('PyGObject is not installed: pip install "pygobject<3.51" '
                     "(needs libgirepository1.0-dev libcairo2-dev pkg-config python3-dev gcc)")
    root = tmp_path_factory.mktemp("desktop")
    home = root / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                XDG_RUNTIME_DIR=str(root), XDG_DATA_HOME=str(home / ".local/share"))
    with XSession(root, base_env=base, tray=tray) as session:
        yield session


@dataclass
class Tray:
    xs: XSession
    proc: subprocess.Popen[bytes]
    log: Path
    button: str

    def icon(self) -> Geometry:
        def found() -> Geometry | None:
            assert self.proc.poll() is None, f"the tray exited {self.proc.returncode}: {self.tail()}"
            return self.xs.tray_icon_geometry()
        return wait_for(found, 30, "the tray icon in trayer")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def wait_colour(self, state: str, timeout: float = 20) -> Any:
        def matches() -> Any:
            img = self.xs.screenshot().crop(self.icon().box)
            return img if icon_state_of(img) == state else None
        try:
            return wait_for(matches, timeout, f"the icon to turn {state}")
        except TimeoutError:
            img = self.xs.screenshot().crop(self.icon().box)
            raise AssertionError(f"icon is {icon_state_of(img)}, not {state}; log: {self.tail()}")

    def open_menu(self) -> Geometry:
        x, y = self.icon().center
        self.xs.xdotool("mousemove", str(x), str(y), "click", self.button)
        return wait_for(lambda: self.xs.popup_of(self.proc.pid), 10, "the menu to open")

    def choose(self, downs: int) -> None:
        """Open the menu and pick the ``downs``-th enabled entry from the top."""
        self.open_menu()
        self.xs.xdotool("key", *(["Down"] * downs), "Return")
        wait_for(lambda: self.xs.popup_of(self.proc.pid) is None, 10, "the menu to close")

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=15)
        finally:
            wait_for(lambda: self.xs.tray_icon_geometry() is None, 10, "the icon to leave trayer")


_counter = iter(range(1000))


@pytest.fixture
def start_tray(xs: XSession, tmp_path: Path) -> Iterator[Any]:
    started: list[Tray] = []

    def start(backend: str | None = None, **extra: str) -> Tray:
        env = xs.env_with(os.environ)
        env.update(TZ="Europe/Paris", PYTHONPATH=str(REPO), **extra)
        env.pop("PYSTRAY_BACKEND", None)
        if backend:
            env["PYSTRAY_BACKEND"] = backend
        log = xs.workdir / f"app-{next(_counter)}.log"
        proc = xs.spawn([sys.executable, "-m", "tray", "run"], stdout_path=log, env=env)
        tray = Tray(xs, proc, log, "3" if backend == "gtk" else "1")
        started.append(tray)
        tray.icon()
        return tray

    yield start
    for tray in started:
        if tray.proc.poll() is None:
            tray.stop()


def _pixels(img: Any) -> Any:
    return getattr(img, "get_flattened_data", img.getdata)()


def icon_state_of(img: Any) -> str:
    """Which state colour dominates the icon's pixels (tray.ui.icons.COLOURS)."""
    from tray.ui.icons import COLOURS

    rgb = img.convert("RGB")
    counts = dict.fromkeys(COLOURS, 0)
    for px in _pixels(rgb):
        for state, c in COLOURS.items():
            if all(abs(a - b) <= 30 for a, b in zip(px, c, strict=True)):
                counts[state] += 1
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] >= rgb.width * rgb.height // 8 else "none"


def section(aws: Any, name: str = "roletray") -> dict[str, str]:
    cp = configparser.RawConfigParser()
    cp.read(aws.credentials_path)
    return dict(cp[name]) if cp.has_section(name) else {}


def role_in_file(aws: Any) -> str | None:
    return section(aws).get("x_roletray_role")


def notes(xs: XSession, after: int) -> list[dict[str, Any]]:
    return xs.notifications()[after:]


def wait_note(xs: XSession, after: int, summary: str, timeout: float = 20) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        return next((n for n in notes(xs, after) if n["summary"] == summary), None)
    try:
        return wait_for(seen, timeout, f"notification {summary!r}")
    except TimeoutError:
        raise AssertionError(f"no {summary!r}; seen: {notes(xs, after)}") from None


def world(aws: Any, *, locked: bool = False, mfa: bool = False) -> None:
    """User dev with long-term keys; role profiles platform and readonly (and more)."""
    akid, secret = aws.create_user("dev")
    aws.create_user("other")
    profiles = {"platform": aws.create_role("platform"),
                "readonly": aws.create_role("readonly")}
    if locked:
        profiles["locked"] = aws.create_role("locked", trust_principal=OTHER)
    text = "[default]\nregion = eu-west-3\noutput = json\n"
    for name, arn in profiles.items():
        text += f"\n[profile {name}]\nrole_arn = {arn}\nsource_profile = default\n"
    if mfa:
        arn = aws.create_role("mfa-role")
        text += (f"\n[profile mfa-role]\nrole_arn = {arn}\nsource_profile = default\n"
                 "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n")
    aws.write_config(text)
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                          f"aws_secret_access_key = {secret}\n")
    if not mfa:
        # moto does not accept the keys of a GetSessionToken (roletray's MFA session)
        # once it checks signatures: the MFA test runs with its checks off.
        aws.enforce()


# GLib's log format: "(prog:pid): Gdk-CRITICAL **: 01:02:03.456: ...", any domain.
GLIB_COMPLAINT = re.compile(r"^.*-(?:CRITICAL|WARNING) \*\*.*$|^Traceback .*$", re.MULTILINE)


def complaints(log: str) -> list[str]:
    """Lines of a tray's output where GLib, GTK or GDK complain (``Gdk-CRITICAL **``,
    ``GLib-GObject-WARNING **``, ...), or where a Python traceback begins."""
    return GLIB_COMPLAINT.findall(log)


def secrets_of(aws: Any) -> list[str]:
    cp = configparser.RawConfigParser()
    cp.read(aws.credentials_path)
    out = []
    for name in cp.sections():
        for key in ("aws_secret_access_key", "aws_session_token"):
            if cp.has_option(name, key):
                out.append(cp.get(name, key))
    return out


# -------------------------------------------------------------------------------- tests

def test_menu_switches_roles_and_the_icon_follows(xs: XSession, aws: Any, start_tray: Any,
                                                  tmp_path: Path) -> None:
    world(aws)
    seen = len(xs.notifications())
    tray = start_tray()
    tray.wait_colour("idle")

    menu = tray.open_menu()
    shot = xs.screenshot(tmp_path / "menu.png")
    icon = tray.icon()
    assert menu.y >= icon.y + icon.height - 2, (menu, icon)  # drops down from the panel
    region = shot.crop(menu.box).convert("L")
    assert sum(_pixels(region)) / (menu.width * menu.height) > 150  # a drawn, light menu
    xs.xdotool("key", "Escape")
    wait_for(lambda: xs.popup_of(tray.proc.pid) is None, 10, "the menu to close")

    # Idle menu: the roles are the first enabled entries, sorted: platform, readonly.
    tray.choose(1)
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    assert section(aws)["aws_session_token"]
    tray.wait_colour("fresh")
    note = wait_note(xs, seen, "Now working as platform")
    # An hour from now is "tomorrow 00:42" when the test runs after 23:00 in the test's zone.
    assert re.fullmatch(r"123456789012 · expires (tomorrow )?\d\d:\d\d CES?T "
                        r"\((in (59|60) min|in 1 h)\); tools use AWS_PROFILE=roletray\.",
                        note["body"]), note

    # Active menu: platform (checked), then readonly.
    tray.choose(2)
    wait_for(lambda: role_in_file(aws) == "readonly", 30, "[roletray] to hold readonly")
    wait_note(xs, seen, "Now working as readonly")
    from tray.state import load_state

    state = load_state(Paths.from_env(os.environ))
    assert state is not None and state.active_role == "readonly"

    assert tray.stop() == 0
    leaked = [s for s in secrets_of(aws) if s in tray.log.read_text() + xs.notify_log.read_text()]
    assert not leaked


def test_the_tray_says_nothing_on_stderr_over_start_menu_switch_and_stop(
        xs: XSession, aws: Any, start_tray: Any) -> None:
    """XEmbed (Ayatana's fallback icon in trayer): no GLib/GTK/GDK warning or critical,
    no traceback, from start to stop (issue 24: a Gdk-CRITICAL at every start)."""
    world(aws)
    tray = start_tray()
    tray.wait_colour("idle")
    tray.open_menu()
    xs.xdotool("key", "Escape")
    wait_for(lambda: xs.popup_of(tray.proc.pid) is None, 10, "the menu to close")
    tray.choose(1)  # platform
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    tray.wait_colour("fresh")
    assert tray.stop() == 0
    log = tray.log.read_text(errors="replace")
    assert complaints(log) == [], log


def test_open_console_from_the_menu_hands_the_url_to_browser_only(
        xs: XSession, aws: Any, start_tray: Any, tmp_path: Path) -> None:
    """Issue 14: "Open console as platform" signs in with the tray's own keys for the role
    (no AssumeRole of its own) and gives $BROWSER the login URL, which no log or
    notification holds."""
    import json
    import urllib.parse

    from test_console import TOKEN, FakeFederation, forwarded_url

    world(aws)
    got = tmp_path / "browser-argv"
    browser = tmp_path / "browser.sh"
    browser.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{got}'\n")
    browser.chmod(0o755)
    seen = len(xs.notifications())
    with FakeFederation() as fed:
        tray = start_tray(BROWSER=str(browser), ROLETRAY_FEDERATION_ENDPOINT=fed.endpoint)
        tray.choose(1)  # platform
        tray.wait_colour("fresh")
        # Active menu: platform, readonly, Find a role…, Refresh now, Stop, Open console as
        # platform.
        tray.choose(6)
        wait_for(lambda: got.exists() and got.read_text(), 30, "the browser to be started")
        [uri] = got.read_text().splitlines()
        url = forwarded_url(uri)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert params["Action"] == "login" and params["SigninToken"] == TOKEN
        [sent] = fed.queries
        assert json.loads(sent["Session"])["sessionId"] == section(aws)["aws_access_key_id"]
        assert tray.stop() == 0
    said = json.dumps(notes(xs, seen))
    for secret in (TOKEN, url, *secrets_of(aws)):
        assert secret not in tray.log.read_text() and secret not in said


def test_denied_role_is_notified_and_turns_red(xs: XSession, aws: Any, start_tray: Any) -> None:
    world(aws, locked=True)
    from tray.state import State, save_state

    save_state(State(active_role="locked", target="roletray"), Paths.from_env(os.environ))  # e.g. from yesterday
    seen = len(xs.notifications())
    tray = start_tray()
    note = wait_note(xs, seen, "locked: failed")
    assert note["urgency"] == 2
    # The finding first, the fix pointer once (issue 24): as the CLI says it.
    assert note["body"].startswith("the trust policy of role 'locked' probably does not "
                                   "trust arn:aws:iam::123456789012:user/dev"), note
    assert note["body"].count("`roletray doctor locked` shows the fix") == 1, note
    tray.wait_colour("error")
    assert role_in_file(aws) is None

    # The menu still works: "locked → [roletray]", "Not working", "⚠ …" are disabled;
    # the roles follow: locked, platform, readonly.
    tray.choose(2)
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    tray.wait_colour("fresh")
    assert tray.stop() == 0


def test_a_refused_refresh_with_working_keys_is_amber_not_red(xs: XSession, aws: Any,
                                                              start_tray: Any) -> None:
    """Issue 15 bug 4: after a refused refresh every tool still works until the keys
    expire; red (they no longer work) would be a false alarm."""
    import json

    import boto3

    admin_keys = aws.create_user("admin", allow_assume=False, extra_policy={
        "Effect": "Allow", "Action": "iam:*", "Resource": "*"})
    world(aws)
    seen = len(xs.notifications())
    tray = start_tray()
    tray.wait_colour("idle")
    tray.choose(1)  # platform
    wait_for(lambda: role_in_file(aws) == "platform", 30, "[roletray] to hold platform")
    tray.wait_colour("fresh")
    # The role's owner changes its trust: the next refresh is refused.
    iam = boto3.client("iam", endpoint_url=aws.url, region_name="us-east-1",
                       aws_access_key_id=admin_keys[0], aws_secret_access_key=admin_keys[1])
    iam.update_assume_role_policy(RoleName="platform", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": OTHER},
                                                "Action": "sts:AssumeRole"}]}))
    token = section(aws)["aws_session_token"]
    tray.choose(4)  # platform, readonly, Find a role…, Refresh now
    note = wait_note(xs, seen, "platform: refresh refused")
    assert re.search(r"; keys work until (tomorrow )?\d\d:\d\d CES?T\.$", note["body"]), note
    tray.wait_colour("warning")
    assert section(aws)["aws_session_token"] == token  # the working keys are kept
    assert tray.stop() == 0


def mfa_role_waiting(xs: XSession, aws: Any, start_tray: Any, target: str
                     ) -> tuple[Any, int]:
    """A tray started with mfa-role kept in ``target`` and no MFA session: (the tray, the
    notifications seen before), once it notified that a code is needed, with the button."""
    world(aws, mfa=True)
    from tray.state import State, save_state

    save_state(State(active_role="mfa-role", target=target), Paths.from_env(os.environ))
    # A critical notification of an earlier test stays on screen: `dunstctl action 0`
    # must click this test's.
    xs.run(["dunstctl", "close-all"])
    seen = len(xs.notifications())
    tray = start_tray()
    where = "" if target == "roletray" else f"[{target}] "
    note = wait_note(xs, seen, f"{where}mfa-role: MFA code needed")
    assert note["actions"] == ["default", "Enter MFA code"]
    return tray, seen


def click_and_type_the_code(xs: XSession, window: str) -> None:
    """Click the notification's button, then type the code in the prompt titled ``window``
    (an xdotool name regex)."""
    xs.run(["dunstctl", "action", "0"])  # the user clicks the notification
    dialog = wait_for(lambda: xs.search(["--name", window]), 20, "the MFA prompt")
    xs.xdotool("windowfocus", "--sync", str(dialog[0]))
    xs.xdotool("type", "--delay", "20", MFA_CODE)
    xs.xdotool("key", "Return")


def test_mfa_code_from_the_notification_button(xs: XSession, aws: Any, start_tray: Any) -> None:
    tray, seen = mfa_role_waiting(xs, aws, start_tray, "roletray")
    tray.wait_colour("error")  # expired and waiting for a person
    # Nothing pops up unasked.
    assert not xs.search(["--name", "roletray: MFA code"])

    click_and_type_the_code(xs, "roletray: MFA code")
    wait_for(lambda: role_in_file(aws) == "mfa-role", 30, "[roletray] to hold mfa-role")
    tray.wait_colour("fresh")
    wait_note(xs, seen, "mfa-role: keys are fresh again")
    assert tray.stop() == 0
    everything = tray.log.read_text() + xs.notify_log.read_text()
    assert MFA_CODE not in everything


def test_mfa_code_for_a_kept_section_from_its_notification(xs: XSession, aws: Any,
                                                          start_tray: Any) -> None:
    """Issue 12: a section kept besides the active role's gets the button too; the prompt
    names the section, and the code refreshes that section."""
    tray, seen = mfa_role_waiting(xs, aws, start_tray, "second")
    click_and_type_the_code(xs, r"MFA code for \[second\] \(mfa-role\)")
    wait_for(lambda: section(aws, "second").get("x_roletray_role") == "mfa-role", 30,
             "[second] to hold mfa-role")
    assert role_in_file(aws) is None  # the active role's section: untouched
    wait_note(xs, seen, "[second] mfa-role: keys are fresh again")
    assert tray.stop() == 0
    assert MFA_CODE not in tray.log.read_text() + xs.notify_log.read_text()


def test_quitting_closes_an_open_prompt(xs: XSession, aws: Any, start_tray: Any) -> None:
    world(aws, mfa=True)
    from tray.state import State, save_state

    save_state(State(active_role="mfa-role", target="roletray"), Paths.from_env(os.environ))
    xs.run(["dunstctl", "close-all"])  # `action 0` below must click this test's notification
    seen = len(xs.notifications())
    tray = start_tray()
    wait_note(xs, seen, "mfa-role: MFA code needed")
    xs.run(["dunstctl", "action", "0"])
    wait_for(lambda: xs.search(["--name", "roletray: MFA code"]), 20, "the MFA prompt")
    assert tray.stop() == 0
    wait_for(lambda: not xs.search(["--name", "roletray: MFA code"]), 10,
             "the prompt to close with the tray")


@pytest.mark.parametrize("toolkit", ["gtk", "tk"])
def test_prompt_prints_the_code_on_its_pipe(xs: XSession, toolkit: str) -> None:
    env = xs.env_with(os.environ)
    env.update(PYTHONPATH=str(REPO), ROLETRAY_PROMPT_TOOLKIT=toolkit)
    argv = [sys.executable, "-m", "tray.ui.prompt", "--serial",
            "arn:aws:iam::123456789012:mfa/dev", "--profile", "platform"]

    def ask(keys: list[list[str]]) -> subprocess.CompletedProcess[bytes]:
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL)
        try:
            wid = wait_for(lambda: xs.search(["--name", "roletray: MFA code"]), 20, "the prompt")
            xs.xdotool("windowfocus", "--sync", str(wid[0]))
            for k in keys:
                xs.xdotool(*k)
            out, err = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return subprocess.CompletedProcess(argv, p.returncode, out, err)

    done = ask([["type", "--delay", "20", "12a3456"], ["key", "Return"]])
    assert (done.returncode, done.stdout) == (0, b"123456\n"), done.stderr
    cancelled = ask([["type", "--delay", "20", "123"], ["key", "Escape"]])
    assert (cancelled.returncode, cancelled.stdout) == (1, b"")


def test_gtk_backend_quit_from_menu_and_single_instance(xs: XSession, aws: Any,
                                                        start_tray: Any) -> None:
    world(aws)
    tray = start_tray("gtk")
    tray.wait_colour("idle")
    second = subprocess.run([sys.executable, "-m", "tray", "run"], capture_output=True,
                            text=True, timeout=60, check=False,
                            env={**xs.env_with(os.environ), "PYTHONPATH": str(REPO)})
    assert second.returncode == 2
    assert "already running" in second.stderr

    # Idle menu, enabled entries: platform, readonly, Find a role…, Diagnose…, Copy “export …”.
    tray.choose(5)
    read = ("import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gdk, Gtk; "
            "print(Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD).wait_for_text())")

    def clipboard() -> str:
        return subprocess.run([sys.executable, "-c", read], env=xs.env_with(os.environ),
                              capture_output=True, text=True, timeout=20,
                              check=True).stdout.strip()
    wait_for(lambda: clipboard() == "export AWS_PROFILE=roletray", 20, "the clipboard")

    tray.open_menu()
    xs.xdotool("key", "Up", "Return")  # Up from the top wraps to the last entry: Quit
    assert tray.proc.wait(timeout=20) == 0
    wait_for(lambda: xs.tray_icon_geometry() is None, 10, "the icon to leave trayer")
    from tray.instance import control

    assert control.running_pid(lock()) is None


def test_ctrl_c_stops_the_tray_cleanly(xs: XSession, aws: Any, start_tray: Any,
                                       tmp_path: Path) -> None:
    """Issue 15 bug 1: pystray's loop reset SIGINT to the default, so Ctrl-C killed the
    tray (exit 130) and left its icon file and control socket behind."""
    import signal

    from tray.instance import control

    world(aws)
    tmp = tmp_path / "tmp"  # pystray wrote its icon here; roletray's are themed (issue 24)
    tmp.mkdir()
    tray = start_tray(TMPDIR=str(tmp))
    tray.wait_colour("idle")
    assert sock().exists()
    tray.proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends
    assert tray.proc.wait(timeout=20) == 0, tray.tail()
    wait_for(lambda: xs.tray_icon_geometry() is None, 10, "the icon to leave trayer")
    out = tray.tail()
    assert "roletray: stopping on SIGINT" in out and "quit from the tray menu" not in out
    assert list(tmp.iterdir()) == []
    assert not sock().exists() and control.running_pid(lock()) is None


def test_ctrl_c_ends_the_demo_tray_and_removes_its_sandbox(xs: XSession) -> None:
    """`roletray demo` with a display: the README promises "Quit or Ctrl-C removes it all"."""
    import signal
    import tempfile

    # The sandbox folder and pystray's icon file go here; short, as the sandbox's control
    # socket must fit in a Unix socket path.
    tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    try:
        _demo_story(xs, tmp, signal.SIGINT)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_closing_the_terminal_ends_the_demo_tray_and_removes_its_sandbox(xs: XSession) -> None:
    """SIGHUP (the terminal closed) is a stop like SIGTERM, not a kill."""
    import signal
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    try:
        _demo_story(xs, tmp, signal.SIGHUP)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _demo_story(xs: XSession, tmp: Path, sig: int) -> None:
    import signal

    env = xs.env_with(os.environ)
    env.update(PYTHONPATH=str(REPO), TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    env.pop("PYSTRAY_BACKEND", None)
    log = xs.workdir / "demo.log"
    proc = xs.spawn([sys.executable, "-m", "tray", "demo"], stdout_path=log, env=env)
    tray = Tray(xs, proc, log, "1")
    tray.wait_colour("fresh", timeout=60)  # the demo assumed platform before the tray came up
    assert any(p.name.startswith("roletray-demo-") for p in tmp.iterdir())
    out = tray.tail()
    assert "Quit from the menu or press Ctrl-C" in out and "its log is " in out, out
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0, tray.tail()
    wait_for(lambda: xs.tray_icon_geometry() is None, 10, "the icon to leave trayer")
    assert f"roletray: stopping on {signal.Signals(sig).name}" in tray.tail()
    assert not any(p.name.startswith("roletray-demo-") for p in tmp.iterdir())
    assert list(tmp.iterdir()) == []


def test_the_setup_dialog_writes_a_role_typed_in_it(xs: XSession, aws: Any) -> None:
    """"Set up…" as a new user meets it: the dialog, a role ARN typed, Enter: the profile
    is written and the dialog says so on its pipe (the tray shows that line)."""
    akid, secret = aws.create_user("dev")
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                          f"aws_secret_access_key = {secret}\n")
    env = xs.env_with(os.environ)
    env.update(PYTHONPATH=str(REPO))
    p = subprocess.Popen([sys.executable, "-m", "tray.ui.setup_dialog", "--way", "role"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    try:
        wid = wait_for(lambda: xs.search(["--name", "roletray: Set up"]), 20, "the dialog")
        xs.xdotool("windowfocus", "--sync", str(wid[0]))
        xs.xdotool("type", "--delay", "10", "123456789012:role/platform")
        xs.xdotool("key", "Return")
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert out.decode().strip() == "Wrote [profile platform] to ~/.aws/config"
    assert aws.config_path.read_text().endswith(
        "[profile platform]\nrole_arn = arn:aws:iam::123456789012:role/platform\n"
        "source_profile = default\nregion = us-east-1\n")
