"""`roletray keys` against a real Secret Service (gnome-keyring-daemon on a private bus),
moto's STS, and the aws CLI reading the rewritten config. The CLI runs as a
subprocess: ``keyring`` finds the bus through the environment, as for a person."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AwsSandbox

from tests import secretservice
from tests.fakekeyring import cred_file_id
from tray.domain.source_line import is_roletray_source_line
from tray.keys import STEPS

REPO = Path(__file__).resolve().parent.parent


def cli_env(**extra: str) -> dict[str, str]:
    # The secret_service fixture pointed os.environ at its bus (and took the desktop's out).
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def roletray(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tray", *args], env=cli_env(**extra),
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def run_aws(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    return subprocess.run([exe, *args], env=cli_env(), capture_output=True, text=True,
                          timeout=120, check=False, stdin=subprocess.DEVNULL)


def ours(service: secretservice.SecretService) -> list[tuple[str, dict[str, str], str | None]]:
    return [i for i in service.items() if i[1].get("service") == "roletray"]


@pytest.fixture
def pair(aws: AwsSandbox) -> tuple[str, str]:
    aws.seed_world()
    return aws.users["dev"]


def test_import_moves_the_keys_into_the_secret_service(
        aws: AwsSandbox, secret_service: secretservice.SecretService,
        pair: tuple[str, str]) -> None:
    akid, secret = pair
    aws.enforce()
    out = roletray("keys", "import", "default")
    assert out.returncode == 0, out.stderr
    assert secret not in out.stdout + out.stderr and akid not in out.stdout
    assert akid[-4:] in out.stdout and aws.user_arn("dev") in out.stdout

    text = aws.credentials_path.read_text()
    assert akid not in text and secret not in text
    [(label, attrs, stored)] = ours(secret_service)
    assert attrs["username"] == f"default@{cred_file_id()}"  # the source of this file
    assert akid in label and secret not in label  # the label names the key id
    assert "'default' in " in label  # and the file
    assert stored is not None
    assert json.loads(stored) == {"Version": 1, "AccessKeyId": akid, "SecretAccessKey": secret}

    # The aws CLI reads the line from the config (it runs it: see the next test).
    got = run_aws("configure", "get", "credential_process",
                  "--profile", "default")
    assert got.returncode == 0, got.stderr
    assert is_roletray_source_line(got.stdout.strip()) == "default"

    listed = roletray("keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)["sources"]
    assert (row["source"], row["in_keyring"], row["config_line"], row["file_has_keys"]) == \
        ("default", True, True, False)
    assert row["backend"] == "SecretService Keyring" and akid not in listed.stdout
    assert (row["file"], row["file_id"]) == ("~/.aws/credentials", cred_file_id())
    table = roletray("keys", "list")
    assert table.returncode == 0 and table.stdout.splitlines()[1].split()[-1] == \
        "~/.aws/credentials", table.stdout

    again = roletray("keys", "import", "default")
    assert again.returncode == 0 and "nothing to do" in again.stdout


def _serves_sources() -> bool:
    from tray.cli.parser import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return "--source" in sub.choices["credential-process"].format_help()  # type: ignore[attr-defined]


def test_the_aws_cli_runs_the_config_line(aws: AwsSandbox,
                                          secret_service: secretservice.SecretService,
                                          pair: tuple[str, str]) -> None:
    if not _serves_sources():
        pytest.xfail("`roletray credential-process --source` comes from the `source` "
                     "branch (issue 16's other half); until it is merged the line "
                     "cannot answer")
    assert roletray("keys", "import", "default").returncode == 0
    got = run_aws("sts", "get-caller-identity", "--profile", "default",
                  "--output", "json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["Account"] == "123456789012"


@pytest.mark.parametrize("step", STEPS)
def test_kill_9_at_any_step_leaves_the_keys_somewhere_and_a_rerun_completes(
        aws: AwsSandbox, secret_service: secretservice.SecretService,
        pair: tuple[str, str], tmp_path: Path, step: str) -> None:
    akid, secret = pair
    fifo = tmp_path / "pause"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDWR)  # ours stays open: reads block, never see EOF
    proc = subprocess.Popen([sys.executable, "-m", "tray", "keys", "import", "default"],
                            env=cli_env(ROLETRAY_TEST_PAUSE_FILE=str(fifo),
                                        ROLETRAY_TEST_PAUSE_AT=step),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    exited = os.pidfd_open(proc.pid)
    try:
        ready, _, _ = select.select([reader, exited], [], [], 120)
        assert reader in ready, f"never reached {step}: {proc.communicate()[1]!r}"
        assert os.read(reader, 100) == f"{step}\n".encode()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.communicate()
        os.close(reader)
        os.close(exited)

    in_file = akid in aws.credentials_path.read_text()
    held = [json.loads(s)["AccessKeyId"] for _, _, s in ours(secret_service) if s]
    assert in_file or held == [akid]
    assert in_file == (step != "file")
    assert ("credential_process" in aws.config_path.read_text()) == (step in ("config", "file"))

    rerun = roletray("keys", "import", "default")
    assert rerun.returncode == 0, rerun.stderr
    assert akid not in aws.credentials_path.read_text()
    [(_, _, stored)] = ours(secret_service)
    assert stored is not None and json.loads(stored)["SecretAccessKey"] == secret


def test_export_restores_and_remove_refuses_until_then(
        aws: AwsSandbox, secret_service: secretservice.SecretService,
        pair: tuple[str, str]) -> None:
    akid, secret = pair
    config_before = aws.config_path.read_text()
    assert roletray("keys", "import", "default").returncode == 0

    refused = roletray("keys", "remove", "default")
    assert refused.returncode == 2
    assert "export default` first, or --force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert len(ours(secret_service)) == 1

    out = roletray("keys", "export", "default")
    assert out.returncode == 0, out.stderr
    assert "`roletray keys remove default` forgets them" in out.stdout
    assert secret not in out.stdout
    assert f"aws_access_key_id = {akid}\naws_secret_access_key = {secret}\n" in \
        aws.credentials_path.read_text()
    assert aws.config_path.read_text() == config_before
    assert len(ours(secret_service)) == 1  # export leaves the item

    gone = roletray("keys", "remove", "default")
    assert gone.returncode == 0, gone.stderr
    assert ours(secret_service) == []
    listed = roletray("keys", "list")
    assert "roletray holds no keys" in listed.stdout


def test_a_locked_keyring_moves_nothing_and_says_how_to_unlock(
        aws: AwsSandbox, secret_service: secretservice.SecretService,
        pair: tuple[str, str]) -> None:
    secret_service.lock()
    files = aws.credentials_path.read_text(), aws.config_path.read_text()
    out = roletray("keys", "import", "default")
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert "the OS keyring holding the keys of 'default' is locked" in line
    assert "--unlock" in line and "nothing was moved" in line
    assert (aws.credentials_path.read_text(), aws.config_path.read_text()) == files
    assert secret_service.is_locked()
    assert ours(secret_service) == []


def test_no_keyring_backend_moves_nothing(aws: AwsSandbox,
                                          secret_service: secretservice.SecretService,
                                          pair: tuple[str, str], tmp_path: Path) -> None:
    files = aws.credentials_path.read_text(), aws.config_path.read_text()
    out = roletray("keys", "import", "default",
                   DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path}/no-bus")
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("roletray: no OS keyring to keep keys in:")
    assert line.endswith("nothing was moved")
    assert (aws.credentials_path.read_text(), aws.config_path.read_text()) == files
