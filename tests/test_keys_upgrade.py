"""Keys that roletray put into the keyring before it kept them per credentials file, found
after the upgrade and moved once to their file (``tray.keys_legacy``).

Each test starts from what ``roletray keys import default`` of the version before
left (the keyring item named 'default', keys.json version 1, the line without
``--file-id``), with a keyring in a dict and moto's STS; the real Secret Service is in
tests/test_keys_secretservice.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakekeyring import FakeKeyring, cred_file_id, imported_line
from stsproxy import StsProxy
from test_keys import file_ctx
from test_source_keys import role

from tray import keys, keys_index
from tray.aws import sts
from tray.aws.session import load_keyring_keys, make_client_factory
from tray.domain.errors import KeyringKeysMissingError
from tray.keys_legacy import LegacyKeysUnclaimed
from tray.paths import Paths
from tray.platform.secret_store import SecretStore, StoredKeys

OLD_LINE = "roletray credential-process --source default"
IMPORTED_AT = "2026-11-28T13:26:50Z"


def old_import(aws: AwsSandbox, backend: FakeKeyring, *, file_keys: str = "") -> StoredKeys:
    """What the version before left after `roletray keys import default`: its item
    (service 'roletray', user name the source), its keys.json, its config line, and the
    credentials file without the keys (``file_keys``: what the file holds since)."""
    arn = aws.seed_world()
    akid, secret = aws.users["dev"]
    backend.items[("roletray", "default")] = json.dumps(
        {"Version": 1, "AccessKeyId": akid, "SecretAccessKey": secret})
    index = keys_index.index_path(Paths.from_env(os.environ))
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"version": 1, "sources": {"default": {
        "key": "****************" + akid[-4:], "imported_at": IMPORTED_AT}}}, indent=2) + "\n")
    aws.write_config(f"[default]\nregion = ap-northeast-2\noutput = json\n"
                     f"credential_process = {OLD_LINE}\n\n[profile platform]\n"
                     f"role_arn = {arn}\nsource_profile = default\n")
    aws.write_credentials(file_keys)
    return StoredKeys("default", akid, secret)


def index_doc() -> dict[str, object]:
    return dict(json.loads(keys_index.index_path(Paths.from_env(os.environ)).read_text()))


def moved(backend: FakeKeyring, keys_held: StoredKeys) -> None:
    """The item is the credentials file's now, the old one gone; keys.json likewise."""
    assert list(backend.items) == [("roletray", f"default@{cred_file_id()}")]
    assert SecretStore(backend).get("default", cred_file_id()) == keys_held
    doc = index_doc()
    assert doc["version"] == 2 and doc["legacy"] == {}
    assert doc["files"] == {cred_file_id(): {
        "path": os.path.realpath(os.environ["AWS_SHARED_CREDENTIALS_FILE"]),
        "sources": {"default": {"key": keys_held.masked_key, "imported_at": IMPORTED_AT}}}}


def test_the_session_builder_finds_the_old_item_and_moves_it_once(aws: AwsSandbox) -> None:
    backend = FakeKeyring()
    held = old_import(aws, backend)
    aws.enforce()
    with StsProxy(aws.url) as proxy:
        env = {**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}
        factory = make_client_factory(store=SecretStore(backend))
        assert ":assumed-role/platform/" in sts.assume_role(role(), env=env,
                                                            client_factory=factory).identity_arn
        moved(backend, held)
        sts.assume_role(role(), env=env, client_factory=factory)  # from the moved item
    assert [c.access_key_id for c in proxy.of("AssumeRole")] == [held.access_key_id] * 2
    assert OLD_LINE in aws.config_path.read_text()  # a lookup writes no config

    [one] = keys.list_keys(file_ctx(backend, aws.credentials_path))
    assert (one.source, one.in_keyring, one.file, one.file_id) == (
        "default", True, "~/.aws/credentials", cred_file_id())


def test_keys_list_shows_old_entries_before_any_use(aws: AwsSandbox) -> None:
    backend = FakeKeyring()
    held = old_import(aws, backend)
    [one] = keys.list_keys(file_ctx(backend, aws.credentials_path))
    assert (one.source, one.masked_key, one.in_keyring, one.file, one.config_line) == (
        "default", held.masked_key, True, None, True)
    assert ("roletray", "default") in backend.items  # listing moves nothing


def test_import_again_after_the_upgrade_moves_the_item_and_adds_the_file_id(
        aws: AwsSandbox) -> None:
    backend = FakeKeyring()
    held = old_import(aws, backend)
    again = keys.import_keys("default", file_ctx(backend, aws.credentials_path))
    assert again.identity_arn is None  # nothing to move, nothing to ask AWS
    moved(backend, held)
    assert f"credential_process = {imported_line()}\n" in aws.config_path.read_text()


def test_export_after_the_upgrade_puts_the_old_items_keys_back(aws: AwsSandbox) -> None:
    backend = FakeKeyring()
    held = old_import(aws, backend)
    keys.export_keys("default", file_ctx(backend, aws.credentials_path))
    found = keys.credfile.read_source_keys(aws.credentials_path, "default")
    assert (found.access_key_id, found.secret_access_key) == \
        (held.access_key_id, held.secret_access_key)
    assert "credential_process" not in aws.config_path.read_text()
    moved(backend, held)


def test_old_keys_a_file_cannot_be_shown_to_own_are_refused_and_nothing_moves(
        aws: AwsSandbox) -> None:
    """The credentials file has other keys in [default] now: the old item may be this
    file's older key or another file's; an import writes over neither."""
    backend = FakeKeyring()
    old_import(aws, backend)
    other = aws.create_user("other")
    aws.write_credentials(f"[default]\naws_access_key_id = {other[0]}\n"
                          f"aws_secret_access_key = {other[1]}\n")
    items, files = dict(backend.items), (aws.credentials_path.read_text(),
                                         aws.config_path.read_text())
    index = keys_index.index_path(Paths.from_env(os.environ)).read_text()
    ctx = file_ctx(backend, aws.credentials_path)

    with pytest.raises(LegacyKeysUnclaimed, match=r"holds other keys in \[default\].*cannot "
                       "tell which credentials file") as e:
        keys.import_keys("default", ctx)
    assert "\n" not in str(e.value) and other[1] not in str(e.value)
    assert e.value.exit_code == 2
    assert backend.items == items
    assert (aws.credentials_path.read_text(), aws.config_path.read_text()) == files
    assert keys_index.index_path(Paths.from_env(os.environ)).read_text() == index
    with pytest.raises(LegacyKeysUnclaimed):
        keys.export_keys("default", ctx)
    with pytest.raises(LegacyKeysUnclaimed):
        keys.remove_keys("default", ctx)
    assert backend.items == items

    # The way out the message names: forget them, then the import goes through.
    assert keys.remove_keys("default", ctx, force=True).forgot
    assert backend.items == {} and index_doc()["legacy"] == {}
    done = keys.import_keys("default", ctx)
    assert done.masked_key.endswith(other[0][-4:])


def test_the_old_item_goes_to_one_file_only(aws: AwsSandbox, tmp_path: Path) -> None:
    backend = FakeKeyring()
    held = old_import(aws, backend)
    assert load_keyring_keys("default", None, env=os.environ,
                             store=SecretStore(backend)) == held
    # Another credentials file beside the same config: the old item is gone, moved to
    # ~/.aws/credentials, never handed to a second file.
    other = tmp_path / "other-credentials"
    other.write_text("")
    env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(other)}
    with pytest.raises(KeyringKeysMissingError, match=r"its keys \(of \[default\] in "
                       r".*other-credentials\) are not in the OS keyring"):
        load_keyring_keys("default", None, env=env, store=SecretStore(backend))
    moved(backend, held)


def test_old_keys_without_roletrays_line_beside_them_are_not_claimed(
        aws: AwsSandbox) -> None:
    backend = FakeKeyring()
    old_import(aws, backend)
    aws.write_config("[default]\nregion = ap-northeast-2\n")
    with pytest.raises(LegacyKeysUnclaimed, match="has no roletray credential_process line"):
        keys.export_keys("default", file_ctx(backend, aws.credentials_path))
    assert list(backend.items) == [("roletray", "default")]


def test_a_stop_between_the_copy_and_the_removal_is_finished_by_the_next_use(
        aws: AwsSandbox) -> None:
    backend = FakeKeyring()
    held = old_import(aws, backend)
    store = SecretStore(backend)
    # The copy and its index entry were made; the old item and entry were not removed.
    store.put(held, cred_file_id())
    keys_index.record(keys_index.Entry("default", held.masked_key, keys.utcnow(),
                                       cred_file_id(), os.path.realpath(aws.credentials_path)),
                      Paths.from_env(os.environ))
    # Another file's first use finds the old item: it is the claimed copy, not its own.
    other = aws.credentials_path.with_name("other")
    other.write_text("")
    env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(other)}
    with pytest.raises(KeyringKeysMissingError):
        load_keyring_keys("default", None, env=env, store=store)
    assert list(backend.items) == [("roletray", f"default@{cred_file_id()}")]
