"""A role over a role over a keyring-held source: the chain's first AssumeRole is signed
with the keyring's keys by the session builder itself, never by running
``roletray credential-process --source`` (botocore's own AssumeRoleProvider would).

Against moto's server (enforcement off: see the first test), a fake keyring backend passed in, and a
``roletray`` on PATH that records its call and fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakekeyring import imported_line
from fakes import fake_program
from stsproxy import StsProxy
from test_source_keys import FakeBackend, backend, keyring_world, role  # noqa: F401

from tray.aws import sts
from tray.aws.session import make_client_factory
from tray.domain.errors import ConfigError
from tray.platform.secret_store import SecretStore


@pytest.fixture
def recording_roletray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``roletray`` first on PATH: writes its arguments to a file and fails."""
    bin_dir = tmp_path / "bin"
    record = tmp_path / "roletray-called"
    fake_program(bin_dir, "roletray", f'echo "$@" >> {record}\nexit 3\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return record


def chained_world(aws: AwsSandbox, keys: FakeBackend, extra: str = "") -> str:
    """``second`` (source_profile = platform) -> ``platform`` (source_profile = default)
    -> ``default``, whose keys are in the keyring behind roletray's line."""
    akid, _ = keyring_world(aws, keys)
    platform_arn = aws.admin("iam").get_role(RoleName="platform")["Role"]["Arn"]
    second = aws.create_role("second", trust_principal=platform_arn)
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile second]\nrole_arn = {second}\nsource_profile = platform\n{extra}")
    return akid


def test_a_chain_over_a_keyring_source_signs_its_first_call_without_the_process(
        aws: AwsSandbox, backend: FakeBackend, recording_roletray: Path) -> None:  # noqa: F811
    akid = chained_world(aws, backend)
    # Enforcement stays off: moto's trust check does not match the assumed-role caller
    # of the chain's second call to the role ``second`` trusts (AWS does). The proxy
    # says which keys signed each call, which is what this test is about.
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        result = sts.assume_role(role("second"), env=env,
                                 client_factory=make_client_factory(store=SecretStore(backend)))
    assert ":assumed-role/second/" in result.identity_arn
    first, last = proxy.of("AssumeRole")
    assert first.access_key_id == akid and not first.has_token  # the keyring's keys
    assert last.access_key_id != akid and last.has_token  # platform's session
    assert not recording_roletray.exists()  # no roletray process was started
    assert backend.reads == 1


def test_a_chain_over_another_process_still_runs_it(
        aws: AwsSandbox, backend: FakeBackend, recording_roletray: Path) -> None:  # noqa: F811
    """Only roletray's own ``--source`` line is read from the keyring: any other
    credential_process in the chain runs (bounded), and its failure is the source's."""
    chained_world(aws, backend)
    text = aws.config_path.read_text().replace(imported_line(), "roletray something-else")
    aws.config_path.write_text(text)
    with pytest.raises(Exception, match="credential_process for profile 'default' exited"):
        sts.assume_role(role("second"), env=os.environ,
                        client_factory=make_client_factory(store=SecretStore(backend)))
    assert recording_roletray.read_text().split() == ["something-else"]
    assert backend.reads == 0


def test_a_chain_whose_middle_role_wants_mfa_is_refused_before_any_call(
        aws: AwsSandbox, backend: FakeBackend) -> None:  # noqa: F811
    chained_world(aws, backend)
    text = aws.config_path.read_text().replace(
        "[profile platform]\n", "[profile platform]\nmfa_serial = arn:aws:iam::123456789012:mfa/d\n")
    aws.config_path.write_text(text)
    with pytest.raises(ConfigError, match="source profile 'platform' needs an MFA code"):
        sts.assume_role(role("second"), env=os.environ,
                        client_factory=make_client_factory(store=SecretStore(backend)))
