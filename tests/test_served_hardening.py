"""Served roles after a config edit, and refused callers (issue 25, Low 8 and 9).

Against moto's server through the STS proxy, with the keeper on a FakeClock behind a
real control socket (``test_credential_process.instance_behind``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import AwsSandbox
from stsproxy import StsProxy
from test_credential_process import REPO, Instance, here, instance_behind, live_world

from tray.domain import wire
from tray.domain.errors import AccessDeniedError, AwsError
from tray.instance import control
from tray.serve import fastpath, keeper

LOCKED = "\n[profile locked]\nrole_arn = {arn}\nsource_profile = default\n"


@pytest.fixture
def served(aws: AwsSandbox, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[Instance, StsProxy]]:
    """An instance an hour ahead of any refresh (its AWS on its FakeClock)."""
    with instance_behind(aws, monkeypatch, timedelta(0)) as running:
        yield running


def _locked_world(aws: AwsSandbox) -> str:
    """[profile locked]: a role that does not trust the user; and a role ``fixed`` that
    does (its ARN returned: moto checks signatures from now on, so roles are made now)."""
    live_world(aws)
    arn = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    fixed = aws.create_role("fixed", trust_principal=aws.user_arn("dev"))
    with aws.config_path.open("a") as f:
        f.write(LOCKED.format(arn=arn))
    aws.enforce()
    return fixed


def _role_arns(proxy: StsProxy) -> list[str]:
    return [c.form["RoleArn"] for c in proxy.of("AssumeRole")]


# -------------------------------------------------------------- Low 8: config edits

def test_a_changed_role_arn_drops_the_served_keys_on_the_next_request(
        aws: AwsSandbox, served: tuple[Instance, StsProxy]) -> None:
    live_world(aws)
    other = aws.create_role("other", trust_principal=aws.user_arn("dev"))
    aws.enforce()
    inst, proxy = served
    first = inst.keeper.credentials("platform")
    assert inst.keeper.credentials("platform") == first and len(_role_arns(proxy)) == 1
    old_arn = _role_arns(proxy)[0]
    assert old_arn.endswith(":role/platform")

    text = aws.config_path.read_text()
    aws.config_path.write_text(text.replace(old_arn, other))  # the same size or not

    second = inst.keeper.credentials("platform")  # 60 minutes early: no refresh was due
    assert second.access_key_id != first.access_key_id
    assert _role_arns(proxy) == [old_arn, other]
    assert inst.keeper.credentials("platform") == second  # kept from then on
    assert len(_role_arns(proxy)) == 2


def test_an_edit_that_leaves_the_role_alone_keeps_its_keys(
        aws: AwsSandbox, served: tuple[Instance, StsProxy]) -> None:
    live_world(aws)
    aws.enforce()
    inst, proxy = served
    first = inst.keeper.credentials("platform")
    with aws.config_path.open("a") as f:
        f.write("\n[profile unrelated]\nregion = eu-west-1\n")
    assert inst.keeper.credentials("platform") == first
    with aws.config_path.open("a") as f:
        f.write("\n[profile broken\n")  # unreadable now: nothing is dropped on a guess
    assert inst.keeper.credentials("platform") == first
    assert len(proxy.of("AssumeRole")) == 1


# ------------------------------------------------------------ Low 9: denied callers

def test_twenty_denied_callers_cause_one_assume_role(
        aws: AwsSandbox, served: tuple[Instance, StsProxy]) -> None:
    _locked_world(aws)
    inst, proxy = served
    start = threading.Barrier(20)

    def call(_: int) -> str:
        start.wait()
        try:
            inst.keeper.credentials("locked")
        except AccessDeniedError as e:
            return str(e)
        return "served"

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(call, range(20)))
    assert len(set(answers)) == 1 and "AccessDenied" in answers[0]
    assert len(_role_arns(proxy)) == 1

    inst.clock.advance(keeper.REFUSAL_TTL - timedelta(seconds=1))
    with pytest.raises(AccessDeniedError):
        inst.keeper.credentials("locked")
    assert len(_role_arns(proxy)) == 1  # still the refusal of a moment ago
    inst.clock.advance(timedelta(seconds=1))
    with pytest.raises(AccessDeniedError):
        inst.keeper.credentials("locked")
    assert len(_role_arns(proxy)) == 2  # asked again once the refusal is old


def test_a_config_edit_ends_a_kept_refusal(
        aws: AwsSandbox, served: tuple[Instance, StsProxy]) -> None:
    fixed = _locked_world(aws)
    inst, proxy = served
    with pytest.raises(AccessDeniedError):
        inst.keeper.credentials("locked")
    text = aws.config_path.read_text()
    locked_arn = _role_arns(proxy)[0]
    aws.config_path.write_text(text.replace(locked_arn, fixed))  # the fix
    assert inst.keeper.credentials("locked").access_key_id.startswith("ASIA")
    assert _role_arns(proxy) == [locked_arn, fixed]


def test_an_mfa_code_is_never_answered_with_a_kept_refusal(
        aws: AwsSandbox, served: tuple[Instance, StsProxy]) -> None:
    _locked_world(aws)
    inst, proxy = served
    with pytest.raises(AccessDeniedError):
        inst.keeper.credentials("locked")
    with pytest.raises(AccessDeniedError):
        inst.keeper.credentials("locked", "123456")
    assert len(_role_arns(proxy)) == 2


def test_a_refused_credential_process_call_asks_the_instance_once(tmp_path: Path) -> None:
    """The lean path hands its error reply to the full command line, which asked again."""
    asked: list[dict[str, object]] = []

    def handler(request: dict[str, object]) -> dict[str, object]:
        asked.append(request)
        return wire.encode_error(AwsError("profile 'p': STS throttled the request"))

    path = control.socket_path(here())
    server = control.ControlServer(handler, path, where=here()).start()
    try:
        done = subprocess.run([sys.executable, "-m", "tray", "credential-process", "p"],
                              env={**os.environ, "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, timeout=60, check=False,
                              stdin=subprocess.DEVNULL)
    finally:
        server.stop()
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "roletray: profile 'p': STS throttled the request\n"
    assert len(asked) == 1


def test_the_lean_path_keeps_only_real_errors_for_the_full_path(tmp_path: Path) -> None:
    assert set(fastpath.DECLINES) == {wire.OTHER_FILES, wire.OTHER_PROTO}
    error = wire.encode_error(AwsError("profile 'p': no"))
    replies = iter([error, wire.declined(wire.OTHER_FILES, "other files"), error])
    path = tmp_path / "run" / "control.sock"
    server = control.ControlServer(lambda _: next(replies), path, where=here()).start()
    try:
        files = control.files_of(here())
        assert fastpath.ask(str(path), "p", files) is None
        assert fastpath.handed_over("p") == error  # as control.send gives it: no proto
        assert fastpath.handed_over("p") is None  # once
        assert fastpath.ask(str(path), "p", files) is None
        assert fastpath.handed_over("p") is None  # a decline: the full path asks itself
        assert fastpath.ask(str(path), "p", files) is None
        assert fastpath.handed_over("p", source=True) is None  # another name's
    finally:
        server.stop()
