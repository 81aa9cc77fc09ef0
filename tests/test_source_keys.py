"""Keyring-held sources: ``credential-process --source``, the session builder, the keeper.

Against moto's server, with a fake keyring backend (a dict) passed in; the real Secret
Service is tests/test_source_keyring_e2e.py. moto's GetSessionToken ignores the MFA
code and answers fixed example keys that moto itself refuses under enforcement, so the
tests that *use* a session's keys run with enforcement off (they say so); the calls
signed by the long-term keys (GetSessionToken, AssumeRole) run with enforcement on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakekeyring import cred_file_id, imported_line
from fakes import FakeClock, FakeScheduler
from stsproxy import StsProxy

from tray import compose
from tray.aws import source_keys, sts
from tray.aws.session import make_client_factory
from tray.awsfiles import awsconfig
from tray.domain.errors import (
    KeyringLockedError,
    MfaRequiredError,
    SourceCredentialsError,
    UnknownProfileError,
)
from tray.domain.models import RefreshState, utcnow
from tray.domain.problems import problem_from
from tray.engine import actions
from tray.engine.refresher import Refresher
from tray.platform.secret_store import SecretStore, StoredKeys
from tray.serve import document, fastpath
from tray.serve.keeper import JOB_PREFIX, ServedKeeper
from tray.settings import Settings


class FakeBackend:
    """A keyring backend in a dict; ``locked`` plays a locked Secret Service collection."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.locked = False
        self.reads = 0

    def _check(self) -> None:
        if self.locked:
            from keyring.errors import KeyringLocked

            raise KeyringLocked("Failed to unlock the collection!")

    def get_password(self, service: str, username: str) -> str | None:
        self._check()
        self.reads += 1
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._check()
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._check()
        del self.items[(service, username)]


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


def keyring_world(aws: AwsSandbox, backend: FakeBackend, *, mfa: bool = False,
                  file_keys: bool = False) -> tuple[str, str]:
    """The seed's world after ``keys import default``: the keys in the keyring, the
    config's [default] with roletray's line, no keys in the credentials file."""
    aws.seed_world()
    akid, secret = aws.users["dev"]
    SecretStore(backend).put(StoredKeys("default", akid, secret), cred_file_id())
    arn = aws.admin("iam").get_role(RoleName="platform")["Role"]["Arn"]
    mfa_line = "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n" if mfa else ""
    aws.write_config(f"[default]\nregion = ap-northeast-2\ncredential_process = "
                     f"{imported_line()}\n"
                     f"{mfa_line}\n[profile platform]\nrole_arn = {arn}\n"
                     "source_profile = default\n")
    if not file_keys:
        aws.write_credentials("")
    return akid, secret


def role(name: str = "platform"):  # type: ignore[no-untyped-def]
    return awsconfig.get_role_profile(
        name, Path(os.environ["AWS_CONFIG_FILE"]),
        credentials_path=Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"]))


# ------------------------------------------------------------- the session builder

def test_a_role_over_a_keyring_source_is_signed_by_the_keyring_keys(
        aws: AwsSandbox, backend: FakeBackend) -> None:
    akid, _ = keyring_world(aws, backend)
    aws.enforce()
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        result = sts.assume_role(role(), env=env,
                                 client_factory=make_client_factory(store=SecretStore(backend)))
    assert ":assumed-role/platform/" in result.identity_arn
    [call] = proxy.of("AssumeRole")
    assert call.access_key_id == akid and not call.has_token  # the long-term keys, no process
    assert backend.reads == 1


def test_the_credentials_file_keys_win_over_the_keyring(aws: AwsSandbox,
                                                        backend: FakeBackend) -> None:
    file_akid, _ = keyring_world(aws, backend, file_keys=True)  # `keys import` crashed
    other, other_secret = aws.create_user("other")
    SecretStore(backend).put(StoredKeys("default", other, other_secret), cred_file_id())
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        sts.assume_role(role(), env=env,
                        client_factory=make_client_factory(store=SecretStore(backend)))
    assert [c.access_key_id for c in proxy.of("AssumeRole")] == [file_akid]
    assert backend.reads == 0  # botocore's order: the file came first


def test_keys_missing_from_the_keyring_name_the_source_and_the_fix(
        aws: AwsSandbox, backend: FakeBackend) -> None:
    keyring_world(aws, backend)
    backend.items.clear()
    with pytest.raises(SourceCredentialsError) as e:
        sts.assume_role(role(), env=os.environ,
                        client_factory=make_client_factory(store=SecretStore(backend)))
    assert "'default'" in str(e.value) and "roletray keys import default" in str(e.value)
    assert "roletray keys export default" in str(e.value)


def test_a_locked_keyring_is_a_needs_input_problem(aws: AwsSandbox,
                                                   backend: FakeBackend) -> None:
    keyring_world(aws, backend)
    backend.locked = True
    with pytest.raises(KeyringLockedError) as e:
        sts.assume_role(role(), env=os.environ,
                        client_factory=make_client_factory(store=SecretStore(backend)))
    problem = problem_from(e.value, role="platform")
    assert (problem.code, problem.input_kind, problem.profile) == ("needs_keyring", "keyring",
                                                                   "default")
    assert "gnome-keyring-daemon" in problem.message  # how to unlock without a desktop
    assert e.value.exit_code == 2


def test_an_mfa_session_over_a_keyring_source(aws: AwsSandbox, backend: FakeBackend) -> None:
    # Enforcement off: moto refuses its own GetSessionToken keys under enforcement.
    from tray.engine import mfa_session

    akid, _ = keyring_world(aws, backend)
    arn = aws.admin("iam").get_role(RoleName="platform")["Role"]["Arn"]
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile mfa-role]\nrole_arn = {arn}\nsource_profile = default\n"
                "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n")
    profile_map = awsconfig.load_profile_map(aws.config_path)
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        session = mfa_session.start_session(
            role("mfa-role"), "123456", hours=12, profile_map=profile_map,
            aws=compose.in_process_aws(env, client_factory=make_client_factory(
                store=SecretStore(backend))))
    assert session is not None  # the keyring's keys are long-term: a session can start
    assert [c.access_key_id for c in proxy.of("GetSessionToken")] == [akid]


# ------------------------------------------------------------- the source's session

def test_start_session_is_one_get_session_token_of_12_hours(aws: AwsSandbox,
                                                            backend: FakeBackend) -> None:
    akid, secret = keyring_world(aws, backend)
    aws.enforce()  # the call itself is signed by the long-term keys
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        made = source_keys.start_session("default", env=env, store=SecretStore(backend))
    [call] = proxy.of("GetSessionToken")
    assert call.access_key_id == akid and call.form["DurationSeconds"] == "43200"
    assert "SerialNumber" not in call.form
    doc = document.process_document(made.credentials)
    assert made.credentials.access_key_id != akid and secret not in str(doc)
    assert doc["SessionToken"] and doc["Expiration"]


def test_an_mfa_source_needs_a_code_before_the_keyring_is_read(
        aws: AwsSandbox, backend: FakeBackend) -> None:
    keyring_world(aws, backend, mfa=True)
    with pytest.raises(MfaRequiredError) as e:
        source_keys.start_session("default", env=os.environ, store=SecretStore(backend))
    assert e.value.kwargs["mfa_serial"].endswith(":mfa/dev")
    assert backend.reads == 0
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        source_keys.start_session("default", env=env, mfa_code="123456",
                                  store=SecretStore(backend))
    [call] = proxy.of("GetSessionToken")
    assert call.form["SerialNumber"].endswith(":mfa/dev") and call.form["TokenCode"] == "123456"


def test_an_unknown_source_is_exit_2(aws: AwsSandbox, backend: FakeBackend) -> None:
    keyring_world(aws, backend)
    with pytest.raises(UnknownProfileError) as e:
        source_keys.start_session("nosuch", env=os.environ, store=SecretStore(backend))
    assert e.value.exit_code == 2 and "'nosuch'" in str(e.value)


def test_no_session_hands_out_the_long_term_pair_without_token(
        aws: AwsSandbox, backend: FakeBackend) -> None:
    akid, secret = keyring_world(aws, backend)
    keys = source_keys.long_term("default", env=os.environ, store=SecretStore(backend))
    assert source_keys.long_term_document(keys) == {"Version": 1, "AccessKeyId": akid,
                                                    "SecretAccessKey": secret}


@pytest.mark.parametrize("seconds", [899, 36 * 3600 + 1])
def test_session_durations_outside_get_session_tokens_limits_are_refused(seconds: int) -> None:
    from tray.domain.errors import UsageError

    with pytest.raises(UsageError):
        source_keys.session_seconds(seconds)
    assert source_keys.session_seconds() == 12 * 3600


# ------------------------------------------------------------------ the keeper

@pytest.fixture
def keeper(aws: AwsSandbox, backend: FakeBackend
           ) -> Iterator[tuple[ServedKeeper, FakeScheduler, FakeClock, StsProxy]]:
    clock = FakeClock(utcnow().replace(microsecond=0))
    sched = FakeScheduler(clock)
    with StsProxy(aws.url, clock=clock) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        store = SecretStore(backend)
        ctx = compose.in_process(env, now=clock.now,
                                       client_factory=make_client_factory(store=store))

        def source_fn(source: str, *, ctx: actions.Context, file_id: str,  # type: ignore[no-untyped-def]
                      mfa_code: str | None = None):
            return source_keys.start_session(source, env=ctx.env, file_id=file_id,
                                             mfa_code=mfa_code, store=store)

        yield (ServedKeeper(ctx, sched, assume_fn=actions.assume_only, source_fn=source_fn),
               sched, clock, proxy)


def test_keeper_serves_a_source_session_from_memory_and_refreshes_it(
        aws: AwsSandbox, backend: FakeBackend, keeper) -> None:  # type: ignore[no-untyped-def]
    keyring_world(aws, backend)
    served, sched, clock, proxy = keeper
    first = served.source_credentials("default", cred_file_id())
    assert served.source_credentials("default", cred_file_id()) == first
    assert len(proxy.of("GetSessionToken")) == 1 and backend.reads == 1
    assert served.profiles() == [f"source:default@{cred_file_id()}"]
    due = sched.next_run(JOB_PREFIX + f"source:default@{cred_file_id()}")
    assert due == first.expiration - document.SERVE_MARGIN
    sched.advance_to(due)
    assert len(proxy.of("GetSessionToken")) == 2
    assert served.source_credentials("default", cred_file_id()).expiration - clock.now() > document.MIN_LEFT
    assert len(proxy.of("GetSessionToken")) == 2


def test_keeper_passes_a_locked_keyring_to_the_caller_and_keeps_nothing(
        aws: AwsSandbox, backend: FakeBackend, keeper) -> None:  # type: ignore[no-untyped-def]
    keyring_world(aws, backend)
    served, sched, _clock, proxy = keeper
    backend.locked = True
    with pytest.raises(KeyringLockedError):
        served.source_credentials("default", cred_file_id())
    assert served.profiles() == [] and sched.next_run(JOB_PREFIX + f"source:default@{cred_file_id()}") is None
    backend.locked = False
    served.source_credentials("default", cred_file_id())
    assert len(proxy.of("GetSessionToken")) == 1


def test_a_source_and_a_role_of_the_same_name_are_kept_apart(
        aws: AwsSandbox, backend: FakeBackend, keeper) -> None:  # type: ignore[no-untyped-def]
    keyring_world(aws, backend)
    served, sched, _clock, _proxy = keeper
    served.source_credentials("default", cred_file_id())
    served.credentials("platform")
    assert served.profiles() == ["platform", f"source:default@{cred_file_id()}"]
    assert sched.next_run(JOB_PREFIX + "platform") is not None
    assert served.forget_source("default", cred_file_id()) and served.profiles() == ["platform"]


def test_one_source_name_of_two_credentials_files_is_two_sessions(
        aws: AwsSandbox, backend: FakeBackend, keeper) -> None:  # type: ignore[no-untyped-def]
    """issue 25: the keeper keys a source by its credentials file too; a caller of one
    file never gets the other file's session."""
    akid, _ = keyring_world(aws, backend)
    other, other_secret = aws.create_user("other")
    other_file = "0123456789ab"  # [default] of another credentials file
    SecretStore(backend).put(StoredKeys("default", other, other_secret), other_file)
    served, sched, _clock, proxy = keeper
    served.source_credentials("default", cred_file_id())
    served.source_credentials("default", other_file)
    # moto answers the same example session to both: who signed each call tells them apart
    assert [c.access_key_id for c in proxy.of("GetSessionToken")] == [akid, other]
    served.source_credentials("default", other_file)  # from memory
    assert len(proxy.of("GetSessionToken")) == 2
    assert served.profiles() == sorted([f"source:default@{cred_file_id()}",
                                        f"source:default@{other_file}"])
    assert sched.next_run(JOB_PREFIX + f"source:default@{other_file}") is not None
    assert served.forget_source("default", other_file)
    assert served.profiles() == [f"source:default@{cred_file_id()}"]


@pytest.mark.parametrize("file_id", [None, "", "../../etc", "0123456789AB"])
def test_a_source_request_without_its_files_id_is_refused(
        aws: AwsSandbox, backend: FakeBackend, keeper,  # type: ignore[no-untyped-def]
        file_id: str | None) -> None:
    from tray.instance.control import serve_credentials

    keyring_world(aws, backend)
    served, _sched, _clock, proxy = keeper
    request = {"cmd": "credentials", "source": "default"}
    if file_id is not None:
        request["file_id"] = file_id
    reply = serve_credentials(served, request)
    assert reply["ok"] is False and "credentials file's id" in str(reply)
    assert proxy.of("GetSessionToken") == [] and backend.reads == 0


# ------------------------------------------------------------------ the lean client

@pytest.mark.parametrize(("argv", "parsed"), [
    (["credential-process", "platform"], ("platform", False, "")),
    (["credential-process", "--source", "default", "--file-id=0123456789ab"],
     ("default", True, "0123456789ab")),
    (["credential-process", "--source=default", "--file-id=0123456789ab"],
     ("default", True, "0123456789ab")),
    # a line from before file ids: the full path works out the caller's file
    (["credential-process", "--source", "default"], None),
    (["credential-process", "--source", "default", "--file-id=../x"], None),
    (["credential-process", "--source", "default", "--no-session"], None),
    (["credential-process", "--no-session"], None),
    (["credential-process", "--source"], None),
    (["credential-process", "--source", "-x"], None),
    (["status"], None),
])
def test_fastpath_parses_both_forms(argv: list[str],
                                    parsed: tuple[str, bool, str] | None) -> None:
    assert fastpath.parse(argv) == parsed


# ------------------------------------------------------------- needs-input in the refresher

def test_refresher_waits_for_an_unlock_then_retries(aws: AwsSandbox,
                                                   backend: FakeBackend) -> None:
    keyring_world(aws, backend)
    clock = FakeClock(utcnow().replace(microsecond=0))
    ctx = compose.in_process(os.environ, now=clock.now, settings=Settings(),
                                   client_factory=make_client_factory(
                                       store=SecretStore(backend)))
    refresher = Refresher(ctx, FakeScheduler(clock), assume_fn=actions.assume)
    assert refresher.switch("platform").state is RefreshState.FRESH
    backend.locked = True  # the screen lock locked the keyring
    with pytest.raises(KeyringLockedError):
        refresher.refresh_now()  # what the tray's "Refresh now" does: raised, and kept
    snap = refresher.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT
    assert snap.problem is not None and snap.problem.input_kind == "keyring"
    assert snap.problem.code == "needs_keyring" and snap.problem.profile == "default"
    backend.locked = False
    assert refresher.refresh_now().state is RefreshState.FRESH
    assert timedelta(minutes=50) < refresher.snapshot().expiration - clock.now()
