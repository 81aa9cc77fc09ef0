"""`roletray keys` use cases with a keyring in a dict and moto's STS over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import AwsSandbox
from tests.fakekeyring import FakeKeyring, cred_file_id, imported_line
from tray import keys, keys_index
from tray.aws import sts
from tray.domain.errors import (
    AwsError,
    ConfigError,
    CredentialsFileError,
    KeyringLockedError,
    KeyringUnavailableError,
)
from tray.paths import Paths
from tray.platform.secret_store import SecretStore, StoredKeys


class Crash(BaseException):
    """A stop at a step, as a kill -9 would leave it (nothing after it runs)."""


def make_ctx(backend: FakeKeyring, *, crash_at: str | None = None) -> keys.KeysContext:
    def verify(k: StoredKeys) -> dict[str, str]:
        return sts.keys_identity(k.source, k.access_key_id, k.secret_access_key,
                                 env=os.environ)

    def pause(step: str) -> None:
        if step == crash_at:
            raise Crash(step)

    return keys.KeysContext(paths=Paths.from_env(os.environ), store=SecretStore(backend),
                            verify=verify, pause=pause)


@pytest.fixture
def world(aws: AwsSandbox) -> tuple[str, str]:
    aws.seed_world()
    aws.write_credentials("# the team's keys\n[default]\n# rotated 2026-01\n"
                          + aws.credentials_path.read_text().split("\n", 1)[1]
                          + "\n[ci]\naws_access_key_id = AKIAOTHER\n"
                          "aws_secret_access_key = other\n")
    return aws.users["dev"]


def held(backend: FakeKeyring, source: str = "default") -> StoredKeys | None:
    return SecretStore(backend).get(source, cred_file_id())


def test_import_moves_the_keys_into_the_keyring(aws: AwsSandbox,
                                                world: tuple[str, str]) -> None:
    akid, secret = world
    backend = FakeKeyring()
    aws.enforce()  # the check is signed with the keys: moto verifies the signature

    done = keys.import_keys("default", make_ctx(backend))

    assert done.identity_arn == aws.user_arn("dev")
    assert done.masked_key == "****************" + akid[-4:]
    assert held(backend) == StoredKeys("default", akid, secret)
    text = aws.credentials_path.read_text()
    assert akid not in text and secret not in text
    assert text == ("# the team's keys\n# rotated 2026-01\n\n[ci]\n"
                    "aws_access_key_id = AKIAOTHER\naws_secret_access_key = other\n")
    config = aws.config_path.read_text()
    assert config.startswith("[default]\nregion = ap-northeast-2\noutput = json\n"
                             f"credential_process = {imported_line()}\n")
    index = keys_index.index_path(Paths.from_env(os.environ))
    assert index.stat().st_mode & 0o777 == 0o600
    assert akid not in index.read_text() and secret not in index.read_text()
    doc = json.loads(index.read_text())
    assert doc["files"][cred_file_id()]["sources"]["default"]["key"] == done.masked_key
    assert doc["files"][cred_file_id()]["path"] == os.path.realpath(aws.credentials_path)


def test_import_again_is_nothing_to_do(aws: AwsSandbox, world: tuple[str, str]) -> None:
    backend = FakeKeyring()
    keys.import_keys("default", make_ctx(backend))
    files = aws.credentials_path.read_text(), aws.config_path.read_text()
    again = keys.import_keys("default", make_ctx(backend))
    assert again.identity_arn is None
    assert (aws.credentials_path.read_text(), aws.config_path.read_text()) == files


@pytest.mark.parametrize("step", keys.STEPS)
def test_a_stop_at_any_step_keeps_the_keys_and_import_completes_it(
        aws: AwsSandbox, world: tuple[str, str], step: str) -> None:
    akid, secret = world
    backend = FakeKeyring()
    with pytest.raises(Crash):
        keys.import_keys("default", make_ctx(backend, crash_at=step))
    in_file = akid in aws.credentials_path.read_text()
    assert in_file or held(backend) == StoredKeys("default", akid, secret)
    assert in_file == (step != "file")

    keys.import_keys("default", make_ctx(backend))
    assert akid not in aws.credentials_path.read_text()
    assert held(backend) == StoredKeys("default", akid, secret)
    assert imported_line() in aws.config_path.read_text()


@pytest.mark.parametrize("credentials, config, message", [
    (("[default]\naws_access_key_id = ASIA1\naws_secret_access_key = s\n"
     "aws_session_token = t\n"), "", r"section \[default\] holds temporary keys"),
    (("[default]\naws_access_key_id = ASIA1\naws_secret_access_key = s\n"
     "aws_session_token = t\nx_roletray_managed = true\n"), "", "roletray's own kept section"),
    ("[other]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n", "",
     r"no access key pair in section \[default\]"),
    ("[default]\naws_access_key_id = AKIA1\n", "", "has only one of"),
    ("[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n",
     "[default]\ncredential_process = aws-vault exec x --json\n",
     "profile 'default' has a credential_process already"),
    ("[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n",
     "[default]\nsso_session = corp\n", "profile 'default' has sso_session"),
    ("[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n",
     "[default]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = ci\n",
     "profile 'default' has role_arn"),
])
def test_import_refuses_and_moves_nothing(aws: AwsSandbox, credentials: str, config: str,
                                          message: str) -> None:
    aws.write_credentials(credentials)
    aws.write_config(config)
    backend = FakeKeyring()
    with pytest.raises((CredentialsFileError, ConfigError), match=message) as e:
        keys.import_keys("default", make_ctx(backend))
    assert "\n" not in str(e.value) and " s\n" not in str(e.value)
    assert aws.credentials_path.read_text() == credentials
    assert aws.config_path.read_text() == config
    assert backend.items == {}


def test_keys_aws_refuses_are_not_moved(aws: AwsSandbox, world: tuple[str, str]) -> None:
    akid = world[0]
    aws.write_credentials(f"[default]\naws_access_key_id = {akid}\n"
                          "aws_secret_access_key = not-the-secret\n")
    aws.enforce()
    backend = FakeKeyring()
    with pytest.raises(AwsError, match="keys were rejected by AWS.*nothing was moved") as e:
        keys.import_keys("default", make_ctx(backend))
    assert "not-the-secret" not in str(e.value)
    assert backend.items == {}
    assert keys_index.load(Paths.from_env(os.environ)) == {}
    assert "not-the-secret" in aws.credentials_path.read_text()
    assert "credential_process" not in aws.config_path.read_text()


@pytest.mark.parametrize("backend, error", [
    (FakeKeyring(locked=True), KeyringLockedError),
    (FakeKeyring(missing=True), KeyringUnavailableError),
])
def test_no_usable_keyring_moves_nothing(aws: AwsSandbox, world: tuple[str, str],
                                         backend: FakeKeyring, error: type) -> None:
    before = aws.credentials_path.read_text(), aws.config_path.read_text()
    with pytest.raises(error, match="nothing was moved"):
        keys.import_keys("default", make_ctx(backend))
    assert (aws.credentials_path.read_text(), aws.config_path.read_text()) == before
    assert not keys_index.index_path(Paths.from_env(os.environ)).exists()


def test_locked_says_how_to_unlock(aws: AwsSandbox, world: tuple[str, str]) -> None:
    with pytest.raises(KeyringLockedError, match="gnome-keyring-daemon --replace --unlock"):
        keys.import_keys("default", make_ctx(FakeKeyring(locked=True)))


def test_a_keyring_that_gives_back_other_keys_is_refused(aws: AwsSandbox,
                                                         world: tuple[str, str]) -> None:
    class Forgetful(FakeKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            self._check("set")  # says yes, keeps nothing

    before = aws.credentials_path.read_text()
    with pytest.raises(KeyringUnavailableError, match="did not give back the keys"):
        keys.import_keys("default", make_ctx(Forgetful()))
    assert aws.credentials_path.read_text() == before


def test_list_confirms_the_index_against_the_keyring_and_files(
        aws: AwsSandbox, world: tuple[str, str]) -> None:
    backend = FakeKeyring()
    ctx = make_ctx(backend)
    assert keys.list_keys(ctx) == []
    keys.import_keys("default", ctx)
    [one] = keys.list_keys(ctx)
    assert (one.source, one.in_keyring, one.config_line, one.file_has_keys) == \
        ("default", True, True, False)
    assert one.masked_key.endswith(world[0][-4:]) and world[0] not in json.dumps(one.to_json())
    backend.items.clear()  # forgotten behind roletray's back
    [one] = keys.list_keys(ctx)
    assert one.in_keyring is False


def test_export_puts_the_keys_back_and_removes_only_our_line(
        aws: AwsSandbox, world: tuple[str, str]) -> None:
    akid, secret = world
    backend = FakeKeyring()
    ctx = make_ctx(backend)
    config_before = aws.config_path.read_text()
    keys.import_keys("default", ctx)
    out = keys.export_keys("default", ctx)
    assert out.line_removed
    assert aws.config_path.read_text() == config_before
    found = keys.credfile.read_source_keys(aws.credentials_path, "default")
    assert (found.access_key_id, found.secret_access_key) == (akid, secret)
    assert held(backend) is not None  # until `keys remove`
    # and the keys work from the file again
    assert sts.caller_identity("default", env=os.environ)["Arn"] == aws.user_arn("dev")


@pytest.mark.parametrize("step", keys.EXPORT_STEPS)
def test_a_stop_during_export_keeps_the_keys_and_export_completes_it(
        aws: AwsSandbox, world: tuple[str, str], step: str) -> None:
    akid = world[0]
    backend = FakeKeyring()
    keys.import_keys("default", make_ctx(backend))
    with pytest.raises(Crash):
        keys.export_keys("default", make_ctx(backend, crash_at=step))
    assert akid in aws.credentials_path.read_text() and held(backend) is not None
    assert ("credential_process" in aws.config_path.read_text()) == (step == "file")
    keys.export_keys("default", make_ctx(backend))
    assert "credential_process" not in aws.config_path.read_text()


def test_remove_refuses_without_the_file_copy(aws: AwsSandbox,
                                              world: tuple[str, str]) -> None:
    backend = FakeKeyring()
    ctx = make_ctx(backend)
    keys.import_keys("default", ctx)
    with pytest.raises(CredentialsFileError, match="export default` first, or --force") as e:
        keys.remove_keys("default", ctx)
    assert e.value.exit_code == 2
    assert held(backend) is not None
    keys.export_keys("default", ctx)
    gone = keys.remove_keys("default", ctx)
    assert gone.forgot and held(backend) is None
    assert keys.list_keys(ctx) == []


def test_remove_force_forgets_and_takes_our_line_away(aws: AwsSandbox,
                                                      world: tuple[str, str]) -> None:
    backend = FakeKeyring()
    ctx = make_ctx(backend)
    keys.import_keys("default", ctx)
    gone = keys.remove_keys("default", ctx, force=True)
    assert gone.forgot and gone.line_removed
    assert held(backend) is None
    assert "credential_process" not in aws.config_path.read_text()


def test_export_without_keys_in_the_keyring_says_so(aws: AwsSandbox,
                                                    world: tuple[str, str]) -> None:
    with pytest.raises(CredentialsFileError, match="holds no keys for 'ci'"):
        keys.export_keys("ci", make_ctx(FakeKeyring()))


def test_a_broken_index_is_named(aws: AwsSandbox, isolated_env: Path) -> None:
    paths = Paths.from_env(os.environ)
    keys_index.index_path(paths).parent.mkdir(parents=True)
    keys_index.index_path(paths).write_text("{not json")
    with pytest.raises(keys.RoletrayError, match=r"keys.json: cannot read roletray's keys"):
        keys.list_keys(make_ctx(FakeKeyring()))


def test_a_check_error_with_a_template_of_its_own_is_reported_as_it_is(
        aws: AwsSandbox, world: tuple[str, str]) -> None:
    from tray.domain.errors import UnknownProfileError

    def verify(k: StoredKeys) -> dict[str, str]:
        raise UnknownProfileError(profile=k.source, path="~/.aws/config")

    backend = FakeKeyring()
    ctx = keys.KeysContext(paths=Paths.from_env(os.environ), store=SecretStore(backend),
                           verify=verify)
    with pytest.raises(UnknownProfileError, match="^~/.aws/config: no profile named 'default'$"):
        keys.import_keys("default", ctx)
    assert backend.items == {}


def test_import_of_a_named_source_writes_its_profile_section(aws: AwsSandbox) -> None:
    aws.seed_world()
    akid, secret = aws.create_user("ci")
    aws.write_credentials(f"[ci]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\n")
    aws.enforce()
    done = keys.import_keys("ci", make_ctx(FakeKeyring()))
    assert done.identity_arn == aws.user_arn("ci")
    assert aws.config_path.read_text().endswith(
        f"\n\n[profile ci]\ncredential_process = {imported_line('ci')}\n")
    assert aws.credentials_path.read_text() == ""


def test_a_refused_new_key_gives_the_keyring_its_earlier_keys_back(
        aws: AwsSandbox, world: tuple[str, str]) -> None:
    akid, secret = world
    backend = FakeKeyring()
    keys.import_keys("default", make_ctx(backend))
    # A new key pasted into the file by hand, one AWS does not know.
    aws.write_credentials("[default]\naws_access_key_id = AKIAWRONGWRONGWRONG0\n"
                          "aws_secret_access_key = wrong\n")
    aws.enforce()
    with pytest.raises(AwsError, match="nothing was moved"):
        keys.import_keys("default", make_ctx(backend))
    assert held(backend) == StoredKeys("default", akid, secret)
    [one] = keys.list_keys(make_ctx(backend))
    assert one.masked_key.endswith(akid[-4:])


# --- one item per credentials file --------------------------------------------------------


def file_ctx(backend: FakeKeyring, cred: Path, config: Path | None = None) -> keys.KeysContext:
    """The keys use cases as run with AWS_SHARED_CREDENTIALS_FILE=cred (and
    AWS_CONFIG_FILE=config)."""
    env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(cred)}
    if config is not None:
        env["AWS_CONFIG_FILE"] = str(config)

    def verify(k: StoredKeys) -> dict[str, str]:
        return sts.keys_identity(k.source, k.access_key_id, k.secret_access_key, env=env)

    return keys.KeysContext(paths=Paths.from_env(env), store=SecretStore(backend),
                            verify=verify)


def two_files(aws: AwsSandbox, tmp_path: Path) -> tuple[Path, Path, tuple[str, str],
                                                        tuple[str, str]]:
    """Credentials files A and B, each with a [default] of its own user's keys."""
    aws.seed_world()
    a_keys, b_keys = aws.users["dev"], aws.create_user("other")
    a, b = tmp_path / "a" / "credentials", tmp_path / "b" / "credentials"
    for path, (akid, secret) in ((a, a_keys), (b, b_keys)):
        path.parent.mkdir()
        path.write_text(f"[default]\naws_access_key_id = {akid}\n"
                        f"aws_secret_access_key = {secret}\n")
        path.chmod(0o600)
    return a, b, a_keys, b_keys


def test_two_files_default_are_two_items_and_export_gives_each_its_own_keys(
        aws: AwsSandbox, tmp_path: Path) -> None:
    """issue 25, High 1: import [default] of A, then of B, then export with A put B's
    key into A (one item named 'default' for both)."""
    a, b, a_keys, b_keys = two_files(aws, tmp_path)
    config_b = tmp_path / "b" / "config"
    backend = FakeKeyring()

    keys.import_keys("default", file_ctx(backend, a))
    keys.import_keys("default", file_ctx(backend, b, config_b))
    assert "aws_access_key_id" not in a.read_text() + b.read_text()
    assert len(backend.items) == 2

    keys.export_keys("default", file_ctx(backend, a))
    found = keys.credfile.read_source_keys(a, "default")
    assert (found.access_key_id, found.secret_access_key) == a_keys
    keys.export_keys("default", file_ctx(backend, b, config_b))
    found = keys.credfile.read_source_keys(b, "default")
    assert (found.access_key_id, found.secret_access_key) == b_keys

    listed = keys.list_keys(file_ctx(backend, a))
    assert sorted((h.file, h.masked_key[-4:]) for h in listed) == sorted(
        [(str(a), a_keys[0][-4:]), (str(b), b_keys[0][-4:])])


def test_an_import_into_a_profile_that_hands_out_another_files_keys_is_refused(
        aws: AwsSandbox, tmp_path: Path) -> None:
    a, b, a_keys, _ = two_files(aws, tmp_path)
    backend = FakeKeyring()
    keys.import_keys("default", file_ctx(backend, a))  # the config's [default] is A's now
    items, index = dict(backend.items), keys_index.index_path(Paths.from_env(os.environ))
    before = (b.read_text(), aws.config_path.read_text(), index.read_text())

    with pytest.raises(ConfigError, match=r"profile 'default' hands out the keys of "
                       r"\[default\] of another credentials file \(.*/a/credentials\).*"
                       "nothing was moved") as e:
        keys.import_keys("default", file_ctx(backend, b))
    assert "\n" not in str(e.value)
    assert backend.items == items  # A's keys are where they were, nothing of B's
    assert (b.read_text(), aws.config_path.read_text(), index.read_text()) == before
    keys.export_keys("default", file_ctx(backend, a))
    found = keys.credfile.read_source_keys(a, "default")
    assert (found.access_key_id, found.secret_access_key) == a_keys


def test_a_file_id_recorded_for_another_path_is_refused(aws: AwsSandbox,
                                                        tmp_path: Path) -> None:
    _, b, _, _ = two_files(aws, tmp_path)
    paths = Paths.from_env({**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(b)})
    # As if /x/credentials had B's id: two paths on one id.
    keys_index.record(keys_index.Entry("default", "****************XXXX", keys.utcnow(),
                                       keys_index.file_id(b), "/x/credentials"), paths)
    backend = FakeKeyring()
    before = b.read_text(), aws.config_path.read_text()
    with pytest.raises(CredentialsFileError, match="is that of /x/credentials"):
        keys.import_keys("default", file_ctx(backend, b))
    assert backend.items == {} and (b.read_text(), aws.config_path.read_text()) == before


def test_the_file_id_is_of_the_real_path(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "credentials"
    real.parent.mkdir()
    real.write_text("")
    (tmp_path / "link").symlink_to(real)
    assert keys_index.file_id(tmp_path / "link") == keys_index.file_id(real)
    assert keys_index.file_id(tmp_path / "dotfiles" / ".." / "dotfiles" / "credentials") \
        == keys_index.file_id(real)
    assert keys_index.file_id(tmp_path / "other") != keys_index.file_id(real)
    assert len(keys_index.file_id(real)) == 12
