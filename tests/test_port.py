"""The port's two adapters (``tray.aws.port.InProcessAws``, ``tray.child.aws.ChildAws``)
answer alike: the same result, the same error class, message and exit code."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeClock, FakeScheduler

from tray import compose
from tray.awsfiles import awsconfig, credfile
from tray.child import runner
from tray.child.aws import ChildAws
from tray.domain.errors import AccessDeniedError, CredentialsFileError
from tray.domain.models import RoleProfile
from tray.engine import worker
from tray.engine.ports import AwsPort

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"


@pytest.fixture
def adapters(aws, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
             ) -> Iterator[dict[str, AwsPort]]:
    """The in-process adapter, the child adapter with a worker per call, and the child
    adapter over a warm worker, all under the test's AWS files."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    aws.seed_world()
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile locked]\nrole_arn = {locked}\nsource_profile = default\n")
    aws.enforce()
    env = dict(os.environ)
    clock = FakeClock()
    warm = worker.warm_worker(env, FakeScheduler(clock), now=clock.now)
    try:
        yield {"in-process": compose.in_process_aws(env), "child": ChildAws(env),
               "warm child": ChildAws(env, via=warm)}
    finally:
        warm.stop()
    assert runner.WORKERS.live() == []


def _role(name: str, aws) -> tuple[RoleProfile, awsconfig.ProfileMap]:  # type: ignore[no-untyped-def]
    profile_map = awsconfig.load_profile_map(aws.config_path)
    role = awsconfig.get_role_profile(name, aws.config_path,
                                      credentials_path=aws.credentials_path)
    # A fixed session name: the two answers then name the same identity.
    return dataclasses.replace(role, role_session_name="port-test"), profile_map


def test_the_adapters_give_the_same_result(adapters, aws) -> None:  # type: ignore[no-untyped-def]
    role, profile_map = _role("platform", aws)
    results = {name: port.assume(role, profile_map=profile_map)
               for name, port in adapters.items()}
    shapes = {name: (r.profile, r.identity_arn, r.assumed_role_id,
                     r.credentials.access_key_id[:4], r.server_date is not None,
                     r.received_at is not None)
              for name, r in results.items()}
    assert len(set(shapes.values())) == 1, shapes
    arn = results["in-process"].identity_arn
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/port-test"
    # Each call is its own AssumeRole: fresh keys, the same lifetime.
    keys = [r.credentials for r in results.values()]
    assert len({k.access_key_id for k in keys}) == 3
    assert len({k.expiration - r.server_date for k, r in zip(keys, results.values(),
                                                             strict=True)
                if r.server_date}) <= 2  # a second may tick between answer and Date


def test_access_denied_is_the_same_error_from_each_adapter(adapters, aws) -> None:  # type: ignore[no-untyped-def]
    role, profile_map = _role("locked", aws)
    before = aws.credentials_path.read_bytes()
    seen = {}
    for name, port in adapters.items():
        with pytest.raises(AccessDeniedError) as denied:
            port.assume(role, profile_map=profile_map)
        seen[name] = (type(denied.value), str(denied.value), denied.value.exit_code)
    assert len(set(seen.values())) == 1, seen
    kind, message, exit_code = seen["child"]
    assert kind is AccessDeniedError and exit_code == 1
    assert "locked" in message and "the trust policy of role 'locked'" in message
    assert aws.credentials_path.read_bytes() == before  # the port writes nothing


def test_verify_target_refuses_alike(adapters, aws) -> None:  # type: ignore[no-untyped-def]
    seen = set()
    for port in adapters.values():
        with pytest.raises(CredentialsFileError) as wrong:  # no [roletray] written yet
            port.verify_target("roletray", "ASIANOTWRITTEN0000000")
        seen.add((type(wrong.value), str(wrong.value), wrong.value.exit_code))
    assert len(seen) == 1, seen


_LEAN = """
import os, sys
from tray.child.aws import ChildAws
from tray.engine import actions
ctx = actions.Context.from_env(os.environ, aws=ChildAws(os.environ))
out = actions.assume("platform", ctx=ctx)
print(out.result.identity_arn)
print(sorted(m for m in ("botocore", "boto3", "awscrt", "keyring") if m in sys.modules))
"""


def test_a_use_case_over_the_child_adapter_keeps_its_process_lean(aws) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    aws.enforce()
    done = subprocess.run([sys.executable, "-c", _LEAN], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    arn, loaded = done.stdout.splitlines()[-2:]
    assert arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/")
    assert loaded == "[]"  # AssumeRole and the check of the write ran in the worker
    assert credfile.read_owned(aws.credentials_path, "roletray") is not None
