"""A running instance answers for its own AWS files only, and says so when the two ends
speak different protocols (issue 25, High 2).

Every request over the control socket names the caller's AWS files (real paths) and
the protocol. A daemon on ``~/.aws/config`` declines a caller whose ``AWS_CONFIG_FILE``
names a project's config, and that caller does the work itself, as with no instance.
End to end: ``roletray daemon`` in a subprocess, moto's server (a different role per
file, so the identity of the keys tells whose ``platform`` answered).
"""

from __future__ import annotations

import configparser
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AwsSandbox
from test_daemon import Daemon, spawn  # noqa: F401 (a fixture)
from test_sts import identity_of

from tray import __version__, cli, fsutil
from tray.domain import wire
from tray.domain.errors import UsageError
from tray.instance import control
from tray.paths import Paths
from tray.serve import fastpath
from tray.state import State, forget_state, load_states, save_state

REPO = Path(__file__).resolve().parent.parent


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


def roletray(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tray", *args],
                          env={**env, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
                          start_new_session=True)


def project_config(aws: AwsSandbox, folder: Path) -> Path:
    """A project's config: its ``platform`` is another role than the user's, and
    ``projonly`` is in this file only. The source is the user's [default] keys."""
    platform = aws.create_role("projplatform", trust_principal=aws.user_arn())
    only = aws.create_role("projonly", trust_principal=aws.user_arn())
    folder.mkdir()
    path = folder / "config"
    path.write_text(f"[default]\nregion = ap-northeast-2\n\n"
                    f"[profile platform]\nrole_arn = {platform}\nsource_profile = default\n\n"
                    f"[profile projonly]\nrole_arn = {only}\nsource_profile = default\n")
    return path


def who(aws: AwsSandbox, document: str) -> str:
    doc = json.loads(document)
    return identity_of(aws, doc["AccessKeyId"], doc["SecretAccessKey"], doc["SessionToken"])


def section_identity(aws: AwsSandbox, section: str) -> str:
    parser = configparser.RawConfigParser()
    parser.read(aws.credentials_path)
    keys = parser[section]
    return identity_of(aws, keys["aws_access_key_id"], keys["aws_secret_access_key"],
                       keys["aws_session_token"])


# ------------------------------------------------------------------ end to end

def test_a_daemon_on_the_users_files_leaves_a_projects_profiles_to_the_project(
        aws: AwsSandbox, spawn: Callable[..., Daemon], tmp_path: Path) -> None:  # noqa: F811
    aws.seed_world()
    project = project_config(aws, tmp_path / "proj")
    aws.enforce()
    daemon = spawn()
    daemon.wait_ready()
    # The daemon serves (and keeps in memory) the user's own platform first.
    mine = roletray("credential-process", "platform", env=dict(os.environ))
    assert mine.returncode == 0, mine.stderr
    assert ":assumed-role/platform/" in who(aws, mine.stdout)

    proj = {**os.environ, "AWS_CONFIG_FILE": str(project)}
    theirs = roletray("credential-process", "platform", env=proj)
    assert theirs.returncode == 0, theirs.stderr
    assert ":assumed-role/projplatform/" in who(aws, theirs.stdout)

    only = roletray("credential-process", "projonly", env=proj)
    assert only.returncode == 0, only.stderr
    assert ":assumed-role/projonly/" in who(aws, only.stdout)

    assumed = roletray("assume", "platform", "--target", "projsec", env=proj)
    assert assumed.returncode == 0, assumed.stderr
    assert "Switched the running roletray" not in assumed.stdout  # done here, not handed over
    assert ":assumed-role/projplatform/" in section_identity(aws, "projsec")

    # The daemon took nothing of the project's: it keeps no [projsec], and still serves
    # the user's own platform to the user.
    status = control.send("status", {}, where=here())
    assert status is not None and status["ok"], status
    assert [s["target"] for s in status["sections"]] == ["roletray"]
    again = roletray("credential-process", "platform", env=dict(os.environ))
    assert again.returncode == 0 and json.loads(again.stdout) == json.loads(mine.stdout)
    assert "projplatform" not in daemon.stderr and "projsec" not in daemon.stderr

    # The project's [projsec] is the project's: its status lists it, and a restarted
    # daemon (one state folder for both) does not take it up with its own platform.
    listed = roletray("status", "--json", env=proj)
    assert listed.returncode == 0, listed.stderr
    assert [s["target"] for s in json.loads(listed.stdout)["sections"]] == ["projsec"]
    daemon.stop()
    restarted = spawn(name="again")
    restarted.wait_ready()
    status = control.send("status", {}, where=here())
    assert status is not None and [s["target"] for s in status["sections"]] == ["roletray"]
    assert "projsec" not in restarted.stderr
    assert ":assumed-role/projplatform/" in section_identity(aws, "projsec")


def test_each_kept_section_belongs_to_the_files_it_was_kept_with(
        isolated_env: Path, tmp_path: Path) -> None:
    mine = here()
    project = Paths.from_env({**os.environ, "AWS_CONFIG_FILE": str(tmp_path / "proj")})
    # One written before the files were recorded: anyone's, as it was.
    mine.state_dir.mkdir(parents=True)
    mine.state_file.write_text(json.dumps({"version": 1, "active_role": "old",
                                           "target": "legacy"}))
    save_state(State("platform", "roletray"), mine)
    save_state(State("platform", "projsec"), project)
    assert [(s.target, s.files) for s in load_states(mine)] == [
        ("legacy", None), ("roletray", mine.aws_files())]
    assert [(s.target, s.files) for s in load_states(project)] == [
        ("legacy", None), ("projsec", project.aws_files())]
    # The project writes [roletray] of the same credentials file: that section holds
    # its keys now, and the daemon's config no longer claims it.
    save_state(State("platform", "roletray"), project)
    assert [s.target for s in load_states(mine)] == ["legacy"]
    assert [s.target for s in load_states(project)] == ["legacy", "roletray", "projsec"]
    # Clearing a section forgets the entries about it in that credentials file only.
    apart = Paths.from_env({**os.environ, "AWS_CONFIG_FILE": str(tmp_path / "proj"),
                            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "creds")})
    save_state(State("platform", "projsec"), apart)
    assert forget_state(mine, "projsec") is True  # [projsec] of the shared file
    assert forget_state(mine, "legacy") is True
    assert [s.target for s in load_states(project)] == ["roletray"]
    assert [s.target for s in load_states(apart)] == ["projsec"]


def test_the_instance_declines_other_files_unread_and_serves_its_own(
        tmp_path: Path, isolated_env: Path) -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: dict[str, Any]) -> dict[str, Any]:
        seen.append(request)
        return wire.ok(document={"Version": 1})

    server = control.ControlServer(handler, control.socket_path(here()), where=here()).start()
    try:
        other = Paths.from_env({**os.environ, "AWS_SHARED_CREDENTIALS_FILE":
                                str(tmp_path / "proj-credentials")})
        assert control.send("credentials", {"profile": "platform"}, where=other,
                            path=control.socket_path(here())) is None
        files = fastpath.aws_files({**os.environ, "AWS_CONFIG_FILE": str(tmp_path / "c")})
        assert fastpath.ask(str(control.socket_path(here())), "platform", files) is None
        assert seen == []
        # A link to the same file is the same file.
        link = tmp_path / "config-link"
        link.symlink_to(here().aws_config)
        same = Paths.from_env({**os.environ, "AWS_CONFIG_FILE": str(link)})
        reply = control.send("credentials", {"profile": "platform"}, where=same,
                             path=control.socket_path(here()))
        assert reply == {"ok": True, "document": {"Version": 1}}
        assert seen == [{"cmd": "credentials", "profile": "platform"}]
    finally:
        server.stop()


@pytest.mark.parametrize("env", [
    {},
    {"AWS_CONFIG_FILE": "~/proj/config", "AWS_SHARED_CREDENTIALS_FILE": "~"},
    {"AWS_CONFIG_FILE": "$HOME/proj//config", "AWS_SHARED_CREDENTIALS_FILE": "rel/./creds"},
    {"AWS_CONFIG_FILE": "", "AWS_SHARED_CREDENTIALS_FILE": "/tmp/../tmp/creds/"},
])
def test_the_lean_path_names_the_files_as_the_full_path_does(
        isolated_env: Path, env: dict[str, str]) -> None:
    merged = {**os.environ, **env}
    assert fastpath.aws_files(merged) == control.files_of(Paths.from_env(merged))
    assert fastpath.PROTO == wire.PROTO


# ------------------------------------------------------------ two versions

def test_an_older_cli_is_declined_with_both_versions_and_how_to_restart(
        isolated_env: Path) -> None:
    acted: list[dict[str, Any]] = []

    def handler(request: dict[str, Any]) -> dict[str, Any]:
        acted.append(request)
        return wire.ok()

    server = control.ControlServer(handler, control.socket_path(here()), where=here()).start()
    try:
        for old in ({"cmd": "assume", "profile": "platform"},
                    {"cmd": "credentials", "profile": "platform"}):
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(str(control.socket_path(here())))
                s.sendall(json.dumps(old).encode() + b"\n")
                reply = json.loads(s.makefile().readline())
            assert reply["ok"] is False and reply["code"] == wire.OTHER_PROTO
            error = wire.decode_error(reply)  # what an older CLI prints, exit 2
            assert error.exit_code == 2
            message = str(error)
            assert "\n" not in message and f"pid {os.getpid()}" in message
            assert f"roletray {__version__} (control protocol {wire.PROTO})" in message
            assert "control protocol 1" in message and "roletray daemon" in message
        assert acted == []
    finally:
        server.stop()


@pytest.fixture
def old_instance(isolated_env: Path) -> Iterator[list[dict[str, Any]]]:
    """A stand-in for the instance of the version before the protocol had a number: it
    reads ``cmd`` at the top level, acts on a known one, and answers without ``proto``."""
    path = control.socket_path(here())
    fsutil.private_dir(path.parent)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(8)
    acted: list[dict[str, Any]] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                request = json.loads(conn.makefile().readline())
                cmd = request.get("cmd")
                if cmd in control.COMMANDS or cmd == "credentials":
                    acted.append(request)
                    reply = wire.ok(snapshot={"state": "fresh"}, document={"Version": 1})
                else:
                    reply = wire.encode_error(UsageError(f"unknown command {cmd!r}"))
                conn.sendall(json.dumps(reply).encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield acted
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(5)


def test_a_newer_cli_tells_an_older_instance_apart_and_says_how_to_restart(
        old_instance: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    reply = control.send("assume", {"profile": "platform"}, where=here())
    assert reply is not None and reply["ok"] is False and reply["code"] == wire.OTHER_PROTO
    message = reply["error"]
    assert f"pid {os.getpid()}" in message and "control protocol 1" in message
    assert f"roletray {__version__} (control protocol {wire.PROTO})" in message
    assert "roletray daemon" in message
    # The lean path leaves it to the full one; the full one prints the line, exit 2.
    files = fastpath.aws_files(os.environ)
    assert fastpath.ask(str(control.socket_path(here())), "platform", files) is None
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "control protocol 1" in err
    assert old_instance == []  # it never acted on a request it could not read
