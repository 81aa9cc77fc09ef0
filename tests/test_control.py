"""One instance per user, and the private socket the CLI hands commands to."""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock, FakeScheduler
from fakests import FakeSts, write_world

from tray import compose, fsutil
from tray.domain.errors import AccessDeniedError, InstanceRunningError
from tray.engine.refresher import Refresher
from tray.instance import control
from tray.paths import Paths
from tray.settings import Settings

REPO = Path(__file__).resolve().parent.parent



def sock() -> Path:
    """The control socket of the environment the test set up."""
    return control.socket_path(Paths.from_env(os.environ))


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


def lock() -> Path:
    return control.lock_path(Paths.from_env(os.environ))

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------- the lock

def test_second_lock_in_the_same_process_is_refused_and_names_the_pid() -> None:
    first = control.InstanceLock(lock()).acquire()
    try:
        with pytest.raises(InstanceRunningError) as err:
            control.InstanceLock(lock()).acquire()
        assert err.value.exit_code == 2
        assert f"pid {os.getpid()}" in str(err.value)
        assert lock().read_text().strip() == str(os.getpid())
        assert mode(lock()) == 0o600
        assert mode(Paths.from_env(os.environ).state_dir) == 0o700
        assert control.running_pid(lock()) == os.getpid()
    finally:
        first.release()
    with control.InstanceLock(lock()):  # free again
        pass
    assert control.running_pid(lock()) is None


def test_lock_held_by_another_process_until_it_dies() -> None:
    code = ("import os, sys; from tray.instance import control; from tray.paths import Paths; "
            "lock = control.InstanceLock(control.lock_path(Paths.from_env(os.environ))).acquire(); "
            "print('locked', flush=True); sys.stdin.read()")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(InstanceRunningError, match=f"pid {child.pid}"):
            control.InstanceLock(lock()).acquire()
    finally:
        child.kill()
        child.wait(10)
    # The kernel dropped the dead process's lock: no stale lock to clean up.
    with control.InstanceLock(lock()):
        pass


def test_runtime_dir_is_tightened_to_0700() -> None:
    d = Paths.from_env(os.environ).runtime_dir
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o755)
    fsutil.private_dir(d)
    assert mode(d) == 0o700


# --------------------------------------------------------------- the channel

class Rig:
    def __init__(self, home: Path) -> None:
        write_world(home)
        self.clock = FakeClock()
        self.sts = FakeSts(self.clock)
        ctx = compose.in_process(os.environ, now=self.clock.now, settings=Settings())
        self.sched = FakeScheduler(self.clock)
        self.refresher = Refresher(ctx, self.sched, monotonic=self.clock.monotonic,
                                   rng=random.Random(3), assume_fn=self.sts,
                                   tick_interval=None)
        self.refresher.start()
        self.server = control.ControlServer(control.make_handler(self.refresher),
                                            path=sock(), where=here()).start()


@pytest.fixture
def rig(isolated_env: Path) -> Iterator[Rig]:
    rig = Rig(isolated_env)
    yield rig
    rig.server.stop()


def test_no_instance_means_none() -> None:
    assert control.send("status", {}, where=here()) is None


def test_socket_is_private(rig: Rig) -> None:
    path = sock()
    assert stat.S_ISSOCK(path.stat().st_mode)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_commands_reach_the_refresher(rig: Rig) -> None:
    reply = control.send("status", {}, where=here())
    snap_json = rig.refresher.snapshot().to_json()
    assert reply == {"ok": True, "snapshot": snap_json, "sections": [snap_json]}
    assert reply["snapshot"]["state"] == "idle"

    reply = control.send("assume", {"profile": "platform", "target": None, "duration": 1800,
                                    "mfa_code": None, "force": False}, where=here())
    assert reply is not None and reply["ok"] is True
    snap = reply["snapshot"]
    assert snap["role"] == "platform" and snap["state"] == "fresh"
    assert snap["seconds_left"] == 1800 and snap["target"] == "roletray"
    assert reply["access_key_id"].startswith("****************")
    assert reply["region"] == "ap-northeast-2" and reply["warnings"] == []
    assert rig.sts.calls[-1]["profile"] == "platform"

    reply = control.send("refresh", {"mfa_code": None}, where=here())
    assert reply is not None and reply["ok"] and len(rig.sts.calls) == 2

    reply = control.send("assume", {"profile": "guarded"},
                         where=here())  # needs a code: says so, no prompt
    assert reply is not None and reply["ok"] is False
    assert reply["code"] == "mfa_required" and reply["exit_code"] == 2
    assert reply["profile"] == "guarded"
    assert "needs an MFA code" in reply["error"]
    reply = control.send("assume", {"profile": "guarded", "mfa_code": "902817"}, where=here())
    assert reply is not None and reply["ok"] and reply["snapshot"]["role"] == "guarded"
    reply = control.send("mfa", {"code": "447310"}, where=here())
    assert reply is not None and reply["ok"] and rig.sts.calls[-1]["mfa_code"] == "447310"

    reply = control.send("clear", {"target": None}, where=here())
    assert reply is not None and reply["ok"] and reply["snapshot"]["state"] == "idle"
    assert rig.refresher.snapshot().role is None


def test_errors_become_replies_with_exit_codes(rig: Rig, isolated_env: Path) -> None:
    rig.sts.fail_with = AccessDeniedError("profile 'platform': AccessDenied: not authorized")
    reply = control.send("assume", {"profile": "platform"}, where=here())
    assert reply == {"ok": False, "code": "access_denied", "exit_code": 1, "profile": None,
                     "error": "profile 'platform': AccessDenied: not authorized"}
    reply = control.send("refresh", {}, where=here())  # no active role
    assert reply is not None and reply["exit_code"] == 2 and "no active role" in reply["error"]
    for cmd, payload in [("launch", {}), ("assume", {}), ("assume", {"profile": 7}),
                         ("assume", {"profile": "platform", "duration": "long"}), ("mfa", {})]:
        reply = control.send(cmd, payload, where=here())
        assert reply is not None and reply["ok"] is False and reply["exit_code"] == 2, cmd
    reply = control.send("assume", {"profile": "nope"}, where=here())
    assert reply is not None and reply["code"] in ("unknown_profile", "not_a_profile")


def raw_exchange(data: bytes) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock()))
        s.sendall(data)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def test_malformed_requests_get_an_answer_and_the_server_lives_on(rig: Rig) -> None:
    assert raw_exchange(b"not json\n")["ok"] is False
    assert raw_exchange(b"[1, 2]\n")["ok"] is False
    assert raw_exchange(b"x" * (control.MAX_LINE + 10))["ok"] is False
    assert control.send("status", {}, where=here()) is not None


def test_status_answers_while_an_assume_is_in_flight(rig: Rig) -> None:
    rig.sts.gate = threading.Event()
    replies: list[dict[str, Any] | None] = []
    t = threading.Thread(target=lambda: replies.append(
        control.send("assume", {"profile": "platform"}, where=here())))
    t.start()
    try:
        assert rig.sts.entered.wait(5)
        status = control.send("status", {}, timeout=5, where=here())
        assert status is not None and status["snapshot"]["state"] == "idle"
    finally:
        rig.sts.gate.set()
        t.join(10)
    assert replies and replies[0] is not None and replies[0]["ok"] is True


def test_a_silent_instance_times_out_with_an_error_reply(isolated_env: Path) -> None:
    release = threading.Event()

    def stuck(_: dict[str, Any]) -> dict[str, Any]:
        release.wait(10)
        return {"ok": True}

    server = control.ControlServer(stuck, path=sock(), where=here()).start()
    try:
        reply = control.send("status", {}, timeout=0.3, where=here())
        assert reply is not None and reply["ok"] is False and reply["exit_code"] == 1
        assert "did not answer" in reply["error"]
    finally:
        release.set()
        server.stop()


def test_stale_socket_means_none_and_is_replaced_at_start(isolated_env: Path) -> None:
    path = sock()
    fsutil.private_dir(path.parent)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a crashed instance
    assert path.exists()
    assert control.send("status", {}, where=here()) is None

    server = control.ControlServer(lambda req: {"ok": True, "echo": req["cmd"]},
                                   path=sock(), where=here()).start()
    try:
        assert control.send("status", {}, where=here()) == {"ok": True, "echo": "status"}
    finally:
        server.stop()
    assert not path.exists()
    assert control.send("status", {}, where=here()) is None


def test_mfa_codes_are_never_logged(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    control.send("assume", {"profile": "guarded", "mfa_code": "902817"}, where=here())
    control.send("mfa", {"code": "447310"}, where=here())
    assert rig.sts.calls[-1]["mfa_code"] == "447310"
    assert "902817" not in caplog.text and "447310" not in caplog.text
    assert "control: mfa" in caplog.text


def test_the_cli_asks_for_a_code_when_the_instance_answers_mfa_required(
        isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI knows the answer by its wire code, not by a class name."""
    from tray.cli import asking, handover
    from tray.cli.common import Root
    from tray.domain import wire
    from tray.domain.errors import MfaRequiredError

    seen: list[dict[str, Any]] = []

    def instance(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        if request["cmd"] == "assume":
            return wire.encode_error(MfaRequiredError(profile="guarded", mfa_serial="dev"))
        return wire.ok(snapshot={"state": "fresh", "role": "guarded"})

    monkeypatch.setattr(asking, "needs_mfa", lambda profile, root: "dev")
    monkeypatch.setattr(asking, "prompt_mfa", lambda serial: "902817")  # the terminal
    server = control.ControlServer(instance, path=sock(), where=here()).start()
    try:
        root = Root(env=os.environ, paths=Paths.from_env(os.environ))
        reply = handover.handover_asking("assume", {"profile": "guarded"}, "guarded", "mfa", root)
    finally:
        server.stop()
    assert [r["cmd"] for r in seen] == ["assume", "mfa"] and seen[1]["code"] == "902817"
    assert reply["snapshot"]["role"] == "guarded"
