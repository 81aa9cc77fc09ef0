"""A keyring-held source end to end: a real Secret Service (a private D-Bus session bus
and gnome-keyring-daemon, tests/secretservice.py), moto's server, the aws CLI and roletray
as separate processes.

The keys go into the keyring with ``SecretStore.put`` (``keys import`` is tested on its
own); the config's [default] holds roletray's ``credential_process --source default
--file-id=FILE_ID`` line and the credentials file holds no keys. Enforcement is off in the tests that use a
session's keys: moto's GetSessionToken answers fixed example keys that moto itself
refuses under enforcement (AWS accepts them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AwsSandbox
from stsproxy import StsProxy
from test_credential_process import roletray_on_path, run_aws  # noqa: F401
from test_daemon import spawn  # noqa: F401 (a fixture)

from tests.fakekeyring import cred_file_id, imported_line
from tests.secretservice import SecretService
from tray.platform.secret_store import SecretStore, StoredKeys

REPO = Path(__file__).resolve().parent.parent


def store() -> SecretStore:
    from keyring.backends.SecretService import Keyring

    return SecretStore(Keyring())


def keyring_world(aws: AwsSandbox) -> tuple[str, str]:
    """After ``keys import default``: the keys in the keyring, the line in the config."""
    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    store().put(StoredKeys("default", akid, secret), cred_file_id())
    aws.write_config(f"[default]\nregion = us-east-1\ncredential_process = "
                     f"{imported_line()}\n\n"
                     f"[profile platform]\nrole_arn = {arn}\nsource_profile = default\n"
                     "region = us-east-1\n")
    aws.write_credentials("")
    return akid, secret


def roletray(*args: str, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *python, "-m", "tray", *args],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
                          start_new_session=True)  # no terminal to ask a code on


def credproc(*args: str, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """``roletray credential-process ARGS``, ``--source`` followed by the test credentials
    file's ``--file-id`` as the config line has it."""
    if "--source" in args:
        args = (*args, f"--file-id={cred_file_id()}")
    return roletray("credential-process", *args, python=python)


def test_the_aws_cli_and_roletray_use_the_keyring_keys_never_handing_them_out(
        aws: AwsSandbox, secret_service: SecretService, roletray_on_path: Path) -> None:  # noqa: F811
    akid, secret = keyring_world(aws)
    out = credproc("--source", "default")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken",
                        "Expiration"}
    assert akid not in out.stdout and secret not in out.stdout  # a session, not the keys

    direct = run_aws("sts", "get-caller-identity", "--profile", "default")
    assert direct.returncode == 0, direct.stderr
    assert json.loads(direct.stdout)["Account"] == "123456789012"
    role = run_aws("sts", "get-caller-identity", "--profile", "platform")
    assert role.returncode == 0, role.stderr
    assert ":assumed-role/platform/" in json.loads(role.stdout)["Arn"]

    # roletray's own AssumeRole signs with the keyring's keys directly (no process).
    assumed = roletray("assume", "platform", "--json")
    assert assumed.returncode == 0, assumed.stderr
    assert "[roletray]" in aws.credentials_path.read_text()
    assert secret not in aws.credentials_path.read_text()

    long_term = credproc("--no-session", "--source", "default")
    assert long_term.returncode == 0, long_term.stderr
    assert json.loads(long_term.stdout) == {"Version": 1, "AccessKeyId": akid,
                                            "SecretAccessKey": secret}


def test_a_daemon_serves_repeated_source_calls_with_one_get_session_token(
        aws: AwsSandbox, secret_service: SecretService, spawn) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    akid, secret = keyring_world(aws)
    with StsProxy(aws.url) as proxy:
        d = spawn({**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url})
        d.wait_ready()
        docs = [credproc("--source", "default") for _ in range(3)]
        assert [r.returncode for r in docs] == [0, 0, 0], docs[0].stderr
        assert len({r.stdout for r in docs}) == 1  # the same session, from memory
        [call] = proxy.of("GetSessionToken")
        assert call.access_key_id == akid  # made in the daemon's worker, from the keyring
        # The lean client answered: no botocore, no keyring, not the full command line.
        timed = credproc("--source", "default", python=("-X", "importtime"))
        imported = {ln.rsplit("|", 1)[-1].strip() for ln in timed.stderr.splitlines()}
        assert "tray.serve.fastpath" in imported and "tray.cli" not in imported
        assert not {m for m in imported if m.split(".")[0] in ("botocore", "keyring")}
        assert len(proxy.of("GetSessionToken")) == 1
    assert secret not in d.stderr and json.loads(docs[0].stdout)["SecretAccessKey"] \
        not in d.stderr


def test_a_locked_keyring_is_a_clear_error_and_a_needs_input_state(
        aws: AwsSandbox, secret_service: SecretService, spawn) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    keyring_world(aws)
    secret_service.lock()
    alone = credproc("--source", "default")
    assert (alone.returncode, alone.stdout) == (2, "")
    assert len(alone.stderr.splitlines()) == 1 and "locked" in alone.stderr

    secret_service.unlock()  # unlocked for the daemon's first refresh
    d = spawn(dict(os.environ))
    d.wait_ready()
    assert roletray("assume", "platform").returncode == 0  # through the daemon's worker
    secret_service.lock()
    served = credproc("--source", "default")
    assert (served.returncode, served.stdout) == (2, "") and "locked" in served.stderr
    refresh = roletray("refresh")
    assert refresh.returncode == 2 and "locked" in refresh.stderr
    status = json.loads(roletray("status", "--json").stdout)
    assert status["state"] == "needs-input"
    problem = status["problem"]
    assert (problem["code"], problem["input_kind"], problem["profile"]) == (
        "needs_keyring", "keyring", "default")
    assert "gnome-keyring-daemon --replace --unlock" in problem["message"]  # how, headless


def test_errors_are_one_line_exit_2_with_an_empty_stdout(
        aws: AwsSandbox, secret_service: SecretService) -> None:
    keyring_world(aws)
    unknown = credproc("--source", "nosuch")
    missing_store = store()
    missing_store.delete("default", cred_file_id())
    missing = credproc("--source", "default")
    with aws.config_path.open("a") as f:
        f.write("\n[profile mfa-keys]\nmfa_serial = arn:aws:iam::123456789012:mfa/dev\n"
                f"credential_process = {imported_line('mfa-keys')}\n")
    no_tty = credproc("--source", "mfa-keys")
    for out, words in ((unknown, "'nosuch'"), (missing, "roletray keys import default"),
                       (no_tty, "no terminal to ask on")):
        assert (out.returncode, out.stdout) == (2, ""), out.stderr
        assert len(out.stderr.splitlines()) == 1 and words in out.stderr
        assert "Traceback" not in out.stderr


@pytest.mark.parametrize("argv", [
    ["credential-process"],
    ["credential-process", "platform", "--source", "default"],
    ["credential-process", "platform", "--no-session"],
])
def test_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from tray import cli

    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1


def old_keyring_world(aws: AwsSandbox) -> tuple[str, str]:
    """What `roletray keys import default` of the version before file ids left: its item
    made as it made it (``keyring``'s set_password, service 'roletray', user name the
    source), its keys.json (version 1), its config line, no keys in the file."""
    from keyring.backends.SecretService import Keyring

    from tray import keys_index
    from tray.paths import Paths

    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    Keyring().set_password("roletray", "default", json.dumps(
        {"Version": 1, "AccessKeyId": akid, "SecretAccessKey": secret}))
    index = keys_index.index_path(Paths.from_env(os.environ))
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"version": 1, "sources": {"default": {
        "key": "****************" + akid[-4:], "imported_at": "2026-11-28T13:26:50Z"}}},
        indent=2) + "\n")
    aws.write_config("[default]\nregion = us-east-1\ncredential_process = roletray "
                     f"credential-process --source default\n\n[profile platform]\n"
                     f"role_arn = {arn}\nsource_profile = default\nregion = us-east-1\n")
    aws.write_credentials("")
    return akid, secret


def ours(service: SecretService) -> list[str]:
    return sorted(attrs["username"] for _label, attrs, _secret in service.items()
                  if attrs.get("service") == "roletray")


def test_keys_of_the_version_before_are_found_by_the_line_and_moved_to_their_file(
        aws: AwsSandbox, secret_service: SecretService, roletray_on_path: Path) -> None:  # noqa: F811
    old_keyring_world(aws)
    direct = run_aws("sts", "get-caller-identity", "--profile", "default")
    assert direct.returncode == 0, direct.stderr
    assert ours(secret_service) == [f"default@{cred_file_id()}"]
    again = roletray("credential-process", "--source", "default")  # from the moved item
    assert again.returncode == 0, again.stderr
    listed = json.loads(roletray("keys", "list", "--json").stdout)["sources"]
    assert [(r["source"], r["file"], r["in_keyring"]) for r in listed] == [
        ("default", "~/.aws/credentials", True)]


def test_a_daemon_serves_a_line_of_the_version_before_after_moving_its_item(
        aws: AwsSandbox, secret_service: SecretService, spawn) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    akid, _ = old_keyring_world(aws)
    with StsProxy(aws.url) as proxy:
        d = spawn({**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url})
        d.wait_ready()
        out = roletray("credential-process", "--source", "default")
        assert out.returncode == 0, out.stderr
        [call] = proxy.of("GetSessionToken")  # the daemon's worker, from the moved item
        assert call.access_key_id == akid
    assert ours(secret_service) == [f"default@{cred_file_id()}"]
