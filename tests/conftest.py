"""Every test gets its own HOME, XDG folders and AWS_* file variables.

The real ``~/.aws`` of the machine is never read or written: ``isolated_env``
is autouse, and it removes every AWS_* variable that could point elsewhere. Messages are
English (``LANG=C.UTF-8``) unless a test asks for a language.
AWS is moto's server on 127.0.0.1, reached through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import secretservice
from tray import i18n
from tray.demo import free_port, post_text

ACCOUNT = "123456789012"  # moto's default account

_AWS_VARS = [
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_IAM", "AWS_CA_BUNDLE",
    "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_STS_REGIONAL_ENDPOINTS",
]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    os.chmod(home / ".aws", 0o700)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    # The tests read English unless they ask for a language: a developer's Korean locale
    # (LC_ALL, LC_MESSAGES, LANGUAGE) must not reach the processes the tests start.
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    i18n.setup({})
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CLI_AUTO_PROMPT", "off")
    monkeypatch.setenv("AWS_PAGER", "")
    return home


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class AwsSandbox:
    """moto's server, reset for one test, with helpers to set up the seed's world."""

    url: str
    home: Path
    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.home / ".aws" / "config"

    @property
    def credentials_path(self) -> Path:
        return self.home / ".aws" / "credentials"

    def admin(self, service: str):  # type: ignore[no-untyped-def]
        """A client for setting things up (auth is off until ``enforce()``)."""
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_user(self, name: str = "dev", *, allow_assume: bool = True,
                    extra_policy: dict | None = None) -> tuple[str, str]:
        iam = self.admin("iam")
        iam.create_user(UserName=name)
        statements: list[dict] = []
        if allow_assume:
            statements.append({"Effect": "Allow", "Action": ["sts:AssumeRole",
                               "sts:GetCallerIdentity", "sts:GetSessionToken"], "Resource": "*"})
        if extra_policy:
            statements.append(extra_policy)
        if statements:
            iam.put_user_policy(UserName=name, PolicyName="roletray-test",
                                PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                           "Statement": statements}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        pair = (key["AccessKeyId"], key["SecretAccessKey"])
        self.users[name] = pair
        return pair

    def user_arn(self, name: str = "dev") -> str:
        return f"arn:aws:iam::{ACCOUNT}:user/{name}"

    def create_role(self, name: str, *, trust_principal: str | None = None,
                    trust_policy: dict | None = None, permissions: dict | None = None) -> str:
        """A role trusting ``trust_principal`` (an ARN); returns the role ARN."""
        if trust_policy is None:
            trust_policy = {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": trust_principal or self.user_arn()},
                "Action": "sts:AssumeRole"}]}
        iam = self.admin("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy),
                              MaxSessionDuration=43200)["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="everything", PolicyDocument=json.dumps(
            permissions or {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        return str(arn)

    def write_config(self, text: str) -> None:
        self.config_path.write_text(text)

    def write_credentials(self, text: str) -> None:
        self.credentials_path.write_text(text)
        os.chmod(self.credentials_path, 0o600)

    def seed_world(self, *, user: str = "dev", region: str = "ap-northeast-2") -> str:
        """The seed's situation: [default] long-term keys, a role profile ``platform``."""
        akid, secret = self.create_user(user)
        arn = self.create_role("platform", trust_principal=self.user_arn(user))
        self.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                               f"aws_secret_access_key = {secret}\n")
        self.write_config(f"[default]\nregion = {region}\noutput = json\n\n"
                          f"[profile platform]\nrole_arn = {arn}\nsource_profile = default\n")
        return arn

    def locked_world(self) -> tuple[str, str]:
        """A user `dev` who may read IAM, and a role `locked` whose trust policy names
        another account; auth enforced: AssumeRole is denied, and the doctor can say why.
        Returns dev's key pair."""
        akid, secret = self.create_user("dev", extra_policy={
            "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"})
        locked = self.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
        self.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                               f"aws_secret_access_key = {secret}\n")
        self.write_config(f"[default]\nregion = us-east-1\n[profile locked]\n"
                          f"role_arn = {locked}\nsource_profile = default\n")
        self.enforce()
        return akid, secret

    def enforce(self) -> None:
        """From now on moto checks signatures, identity policies and trust policies."""
        post_text(self.url + "/moto-api/reset-auth", "0")


@pytest.fixture
def aws(moto_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsSandbox]:
    post_text(moto_url + "/moto-api/reset-auth", "inf")
    post_text(moto_url + "/moto-api/reset", "")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    yield AwsSandbox(url=moto_url, home=isolated_env)
    post_text(moto_url + "/moto-api/reset-auth", "inf")


@pytest.fixture
def secret_service(isolated_env: Path, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[secretservice.SecretService]:
    """A real Secret Service (tests/secretservice.py: gnome-keyring-daemon on a private
    D-Bus bus), its login keyring unlocked, in this test's HOME. This process's
    environment points at its bus (``DBUS_SESSION_BUS_ADDRESS``; the desktop's variables
    in ``secretservice.DROP`` removed), so ``keyring`` here and the subprocesses given
    ``os.environ`` use it. Stopped after the test; skipped when the programs are not
    installed."""
    why = secretservice.missing()
    if why:
        pytest.skip(f"no Secret Service for the keyring tests: {why}")
    workdir = tmp_path / "secret-service"
    workdir.mkdir()
    service = secretservice.start(os.environ, workdir)
    try:
        for var in secretservice.DROP:
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
        yield service
    finally:
        service.stop()
