"""The tray and the daemon never load botocore (nor keyring) themselves: their workers do.

botocore's models and handlers cost a long-running process ~10 MiB that CPython
keeps after they are freed; each AssumeRole runs in a child (``tray.worker_main``)
that gives it all back on exit. These tests start real processes, so that what
the test process itself imported (moto, boto3, ...) cannot hide a regression.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_source_keyring_e2e import keyring_world

from tests.fakekeyring import cred_file_id

REPO = Path(__file__).resolve().parent.parent

# Imported by botocore and nothing else the tray needs; filelock is no longer used.
# keyring (and its Secret Service client) is read by the worker child only: the parent
# never holds a source's long-term keys, nor the library that reads them.
HEAVY = ("botocore", "boto3", "awscrt", "s3transfer", "urllib3", "filelock", "keyring",
         "secretstorage")

REPORT = f"""
import json, sys
heavy = {HEAVY!r}
def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in heavy)
"""


def run_py(code: str, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", REPORT + code], capture_output=True, text=True,
                         env=env, timeout=timeout, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_importing_the_tray_and_the_daemon_loads_no_botocore() -> None:
    doc = run_py("import tray.app, tray.cli, tray.engine.refresher, tray.engine.worker, tray.instance.control, "
                 "tray.engine.actions, tray.aws.sts, tray.awsfiles.awsconfig, tray.awsfiles.credfile, tray.engine.mfa_session, "
                 "tray.ui.tray_app, tray.console, tray.aws.federation\n"
                 "print(json.dumps({'loaded': loaded()}))")
    assert doc["loaded"] == []


def test_a_running_instance_refreshes_without_loading_botocore(aws) -> None:  # type: ignore[no-untyped-def]
    # What `roletray daemon` and `roletray run` compose (the instance lock, the control
    # socket, the real scheduler, the refresher with its worker): switch, then refresh.
    aws.seed_world()
    aws.enforce()
    doc = run_py(
        "import os\n"
        "from tray import app\n"
        "from tray.engine.actions import Context\n"
        "with app.running_instance(ctx=Context.from_env(os.environ)) as refresher:\n"
        "    refresher.switch('platform')\n"
        "    snap = refresher.refresh_now()\n"
        "print(json.dumps({'state': snap.state.value, 'role': snap.role,\n"
        "                  'loaded': loaded()}))")
    assert doc["state"] == "fresh" and doc["role"] == "platform"
    assert doc["loaded"] == []
    # The keys did come from AWS, through the worker.
    text = aws.credentials_path.read_text()
    assert "[roletray]" in text and "aws_session_token" in text


def test_a_one_shot_assume_still_works_without_filelock_or_boto3(aws) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    aws.enforce()
    doc = run_py(
        "import io, contextlib\n"
        "from tray import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = cli.main(['assume', 'platform', '--json'])\n"
        "print(json.dumps({'rc': rc, 'loaded': loaded()}))")
    assert doc["rc"] == 0
    assert "botocore" in doc["loaded"]  # the CLI assumes in-process, through botocore ...
    assert not [m for m in doc["loaded"] if m.split(".")[0] in ("boto3", "filelock")]


def test_a_running_instance_serves_a_keyring_source_without_loading_keyring(
        aws, secret_service) -> None:  # type: ignore[no-untyped-def]
    # The session of a keyring-held source is made in the worker child, which reads
    # the keyring (a real Secret Service on a private bus) with the parent's env.
    keyring_world(aws)
    doc = run_py(
        "import os\n"
        "from tray import app\n"
        "from tray.engine.actions import Context\n"
        "from tray.instance import control\n"
        "ctx = Context.from_env(os.environ)\n"
        "with app.running_instance(ctx=ctx):\n"
        f"    reply = control.send('credentials', {{'source': 'default', 'file_id': "
        f"'{cred_file_id()}'}},\n"
        "                         where=ctx.paths, timeout=60)\n"
        "print(json.dumps({'ok': reply['ok'], 'token': bool(reply['document']['SessionToken']),\n"
        "                  'loaded': loaded()}))")
    assert doc == {"ok": True, "token": True, "loaded": []}


def test_an_idle_tray_holds_no_openssl_nor_html(aws) -> None:  # type: ignore[no-untyped-def]
    """hashlib maps OpenSSL's libcrypto into the process (~3.5 MiB of an idle tray's 70);
    html's entity table is ~0.3 MiB. The tray and the daemon need neither until a console
    opens or a file id is asked for: their modules import them where they are used."""
    aws.seed_world()
    aws.enforce()
    doc = run_py(
        "import os\n"
        "import tray.app, tray.ui.tray_app, tray.ui.indicator, tray.instance.control\n"
        "from tray import app\n"
        "from tray.engine.actions import Context\n"
        "with app.running_instance(ctx=Context.from_env(os.environ)) as refresher:\n"
        "    refresher.switch('platform')\n"
        "    snap = refresher.refresh_now()\n"
        "print(json.dumps({'state': snap.state.value,\n"
        "                  'loaded': sorted(m for m in ('_hashlib', 'hmac', 'html')\n"
        "                                   if m in sys.modules)}))")
    assert doc["state"] == "fresh"
    assert doc["loaded"] == []


@pytest.mark.parametrize("argv", [[], ["run"]])
def test_the_tray_holds_no_argument_parser(argv: list[str]) -> None:
    """``roletray`` and ``roletray run`` take no options: the tray, alive for the whole
    session, never loads argparse (~0.3 MiB) nor the parser of every command. Here it
    stops at its first check (no display), past where the parser would have been built."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS")}
    out = subprocess.run(
        [sys.executable, "-c", ("import sys; from tray.cli import main; code = main(); "
         "print(code, 'argparse' in sys.modules, 'tray.cli.parser' in sys.modules)"), *argv],
        capture_output=True, text=True, env={**env, "PYTHONPATH": str(REPO)}, timeout=60,
        check=False)
    assert out.stdout.split() == ["2", "False", "False"], out.stdout + out.stderr
    assert "display" in out.stderr.lower()
