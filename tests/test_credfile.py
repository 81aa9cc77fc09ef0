"""credfile: roletray's section of ~/.aws/credentials, and nothing else, in real files."""

from __future__ import annotations

import configparser
import io
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import FakeClock
from hypothesis import HealthCheck, example, given, settings
from test_inifile import line_soup  # the same line-shaped soup its scanner tests use

from tray.awsfiles import configedit, credfile, inifile
from tray.awsfiles.sharedfile import Patience
from tray.domain.errors import CredentialsFileError
from tray.domain.models import TempCredentials

EXPIRY = datetime(2026, 11, 28, 14, 26, 50, tzinfo=UTC)
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN+/=="


def creds(n: int = 1) -> TempCredentials:
    return TempCredentials(access_key_id=f"ASIA{n:016d}", secret_access_key=f"{SECRET}{n}",
                           session_token=f"{TOKEN}{n}", expiration=EXPIRY)


@pytest.fixture
def cred_path(isolated_env: Path) -> Path:
    return Path(os.environ["AWS_SHARED_CREDENTIALS_FILE"])


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """credfile waits on this clock: a test's freshly written file is "a moment old"
    until credfile has waited out its patience, which then costs no real time."""
    fake = FakeClock(datetime.now(UTC))
    monkeypatch.setattr(credfile, "PATIENCE", fake_patience(fake))
    return fake


def fake_patience(fake: FakeClock) -> Patience:
    return Patience(sleep=lambda s: fake.advance(timedelta(seconds=s)),
                    monotonic=fake.monotonic, wall=lambda: fake.now().timestamp())


def parsed(text: str) -> dict[str, dict[str, str]]:
    cp = configparser.RawConfigParser()
    cp.read_file(io.StringIO(text, newline=None))
    return {s: dict(cp.items(s)) for s in cp.sections()}


def outside(text: str, name: str) -> tuple[str, str]:
    """The bytes before and after section ``name``'s lines."""
    layout = inifile.parse(text)
    sec = layout.by_name[name]
    return "".join(layout.lines[: sec.header]), "".join(layout.lines[sec.end:])


def text_of(path: Path) -> str:
    """The file's text with its own line endings (read_text() would translate them)."""
    return path.read_bytes().decode("utf-8")


def write_raw(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)


def our_section(n: int = 1, role: str = "platform", nl: str = "\n") -> str:
    c = creds(n)
    return nl.join([f"aws_access_key_id = {c.access_key_id}",
                    f"aws_secret_access_key = {c.secret_access_key}",
                    f"aws_session_token = {c.session_token}", "x_roletray_managed = true",
                    f"x_roletray_role = {role}", "x_roletray_expiration = 2026-11-28T14:26:50Z"])


# --- a corpus of awkward but valid files ---------------------------------------------------

LONG_TERM = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = longterm\n"
CORPUS: dict[str, str] = {
    "empty": "",
    "only a comment": "# nothing here yet\n",
    "plain": "[default]\n" + LONG_TERM,
    "crlf": "[default]\r\n" + LONG_TERM.replace("\n", "\r\n") + "\r\n[roletray]\r\nx = 1\r\n",
    "crlf, appended": "[default]\r\n" + LONG_TERM.replace("\n", "\r\n"),
    "no final newline": "[default]\n" + LONG_TERM.rstrip("\n"),
    "no final newline, target last": "[default]\n" + LONG_TERM + "\n[roletray]\nx = 1",
    "comments everywhere": ("# top ☃ ünïcödé — 日本語\n; semicolon comment\n\n[default]\n"
                            "# inside\n" + LONG_TERM + "; trailing\n\n# about roletray\n"
                            "[roletray]\n# inside ours\nx = 1\n\n# about prod\n[prod]\nk = v\n"),
    "tabs and colons": "[default]\n\taws_access_key_id:\tAKIA\n\taws_secret_access_key : s\n",
    "continuation lines": ("[default]\n" + LONG_TERM + "s3 =\n  max_concurrent_requests = 20\n"
                           "\n  addressing_style = path\n[roletray]\nx = 1\n  y\n[prod]\nk=v\n"),
    "spaced header is another section": "[ roletray ]\nk = 1\n[default]\n" + LONG_TERM,
    "header with a comment": "[roletray] ; ours\nx = 1\n[prod]\nk = v\n",
    "tight style": "[a]\nk = 1\n[b]\nk = 2\n[c]\nk = 3\n",
    "lone CR line ends": "[default]\r" + LONG_TERM.replace("\n", "\r"),
    "trailing blank lines": "[default]\n" + LONG_TERM + "\n\n\n",
    "DEFAULT section": "[DEFAULT]\nregion = x\n[default]\n" + LONG_TERM,
}


OUR_ITEMS = {"aws_access_key_id": creds().access_key_id,
             "aws_secret_access_key": creds().secret_access_key,
             "aws_session_token": creds().session_token, "x_roletray_managed": "true",
             "x_roletray_role": "platform", "x_roletray_expiration": "2026-11-28T14:26:50Z"}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_only_target_lines_change(cred_path: Path, name: str) -> None:
    before = CORPUS[name]
    had_target = "roletray" in inifile.parse(before).by_name
    if had_target:  # ours from an earlier write: marked, so that it may be replaced
        before = inifile.set_keys(before, "roletray", {"x_roletray_managed": "true"})
    write_raw(cred_path, before)
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    after = cred_path.read_bytes().decode()

    if had_target:
        assert outside(after, "roletray") == outside(before, "roletray")
    else:
        assert after.startswith(before)
        assert after.endswith(tuple(our_section(nl=nl) + end for nl in ("\n", "\r\n", "\r")
                                    for end in (nl, "")))
    assert inifile.section_items(after, "roletray") == OUR_ITEMS
    want = parsed(before)
    want["roletray"] = parsed(after)["roletray"]
    assert parsed(after) == want
    assert credfile.read_owned(cred_path, "roletray") == creds()

    # And back: removing it leaves the other sections as they were (exactly, when we added it).
    assert credfile.remove_credentials(cred_path, "roletray") is True
    rest = cred_path.read_bytes().decode()
    assert parsed(rest) == {k: v for k, v in parsed(before).items() if k != "roletray"}
    if not had_target:
        assert rest == before


def test_new_section_in_crlf_file_uses_crlf(cred_path: Path) -> None:
    write_raw(cred_path, "[default]\r\n" + LONG_TERM.replace("\n", "\r\n"))
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    data = cred_path.read_bytes()
    assert data.endswith(("\r\n[roletray]\r\n" + our_section(nl="\r\n") + "\r\n").encode())
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_target_in_the_middle_of_2000_sections(cred_path: Path) -> None:
    parts = [f"# profile {i}\n[p{i}]\naws_access_key_id = AKIA{i:016d}\n"
             f"aws_secret_access_key = s{i}\n\n" for i in range(2000)]
    parts.insert(1000, "[roletray]\nx_roletray_managed = true\naws_access_key_id = ASIAOLD\n"
                       "aws_session_token = old\n\n")
    before = "".join(parts)
    write_raw(cred_path, before)
    credfile.write_credentials(cred_path, "roletray", creds(7), role="platform")
    after = text_of(cred_path)
    assert outside(after, "roletray") == outside(before, "roletray")
    assert after.count("[p") == 2000
    assert credfile.read_owned(cred_path, "roletray") == creds(7)
    credfile.write_credentials(cred_path, "roletray", creds(8), role="platform")  # known path
    assert outside(text_of(cred_path), "roletray") == outside(before, "roletray")


def test_file_absent_folder_absent(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = isolated_env / "new-folder" / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    assert credfile.section_state(path, "roletray") == "absent"
    assert credfile.read_owned(path, "roletray") is None
    assert credfile.remove_credentials(path, "roletray") is False
    assert not path.parent.exists()  # removing nothing creates nothing
    credfile.write_credentials(path, "roletray", creds(), role="platform")
    assert text_of(path) == "[roletray]\n" + our_section() + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_new_file_is_0600_whatever_the_umask(cred_path: Path) -> None:
    old = os.umask(0o022)
    try:
        credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    finally:
        os.umask(old)
    assert stat.S_IMODE(cred_path.stat().st_mode) == 0o600


def test_mode_is_kept(cred_path: Path) -> None:
    write_raw(cred_path, "[default]\n" + LONG_TERM, mode=0o640)
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    assert stat.S_IMODE(cred_path.stat().st_mode) == 0o640
    credfile.remove_credentials(cred_path, "roletray")
    assert stat.S_IMODE(cred_path.stat().st_mode) == 0o640


def test_symlink_is_written_through(cred_path: Path, isolated_env: Path) -> None:
    real_dir = isolated_env / "dotfiles" / "aws"
    real = real_dir / "credentials"
    write_raw(real, "[default]\n" + LONG_TERM, mode=0o640)
    cred_path.symlink_to(real)
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    assert cred_path.is_symlink() and os.readlink(cred_path) == str(real)
    assert text_of(real).startswith("[default]\n" + LONG_TERM)
    assert credfile.read_owned(cred_path, "roletray") == creds()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    # The temp file and the lock lived beside the real file, not beside the link.
    assert sorted(p.name for p in cred_path.parent.iterdir()) == ["credentials"]
    assert sorted(p.name for p in real_dir.iterdir()) == [".credentials.roletray.lock",
                                                          "credentials"]
    assert credfile.lock_path(cred_path) == real_dir / ".credentials.roletray.lock"


# --- broken files are refused, untouched ---------------------------------------------------

BROKEN: dict[str, tuple[bytes, str]] = {
    "duplicate section": (b"[default]\nk = 1\n\n[default]\nk = 2\n",
                          "line 4: section [default] appears twice"),
    "duplicate key": (b"[default]\naws_access_key_id = A\nAWS_ACCESS_KEY_ID = B\n",
                      "line 3: key 'aws_access_key_id' appears twice in section [default]"),
    "garbage line": (b"[default]\naws_access_key_id = A\nwJalrXUtnFEMIpasted\n",
                     ("line 3: not a 'key = value' line, a [section] header or a comment "
                      "(in section [default])")),
    "text before the first section": (b"aws_access_key_id = A\n[default]\n",
                                      "line 1: text before the first [section] header"),
    "BOM": (b"\xef\xbb\xbf[default]\naws_access_key_id = A\n",
            ("line 1: the file starts with a UTF-8 byte-order mark (BOM), which botocore and "
             "the AWS CLI reject")),
    "not UTF-8": (b"[default]\n# caf\xe9\naws_access_key_id = A\n",
                  "line 2: bytes that are not UTF-8 text"),
    "CRLF duplicate": (b"[a]\r\nk=1\r\n[a]\r\n", "line 3: section [a] appears twice"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_are_refused_and_untouched(cred_path: Path, name: str) -> None:
    data, message = BROKEN[name]
    write_raw(cred_path, data)
    os.utime(cred_path, ns=(1_000_000_000, 1_000_000_000))
    before = cred_path.stat()
    home = Path.home()  # the messages name the file under it as ~/...
    calls = [
        lambda: credfile.write_credentials(cred_path, "roletray", creds(), role="platform",
                                           force=True, home=home),
        lambda: credfile.remove_credentials(cred_path, "roletray", home=home),
        lambda: credfile.read_owned(cred_path, "roletray", home=home),
        lambda: credfile.section_state(cred_path, "roletray", home=home),
        lambda: credfile.validate_text(data.decode("utf-8", "surrogateescape"), cred_path,
                                       home=home),
    ]
    for call in calls:
        with pytest.raises(CredentialsFileError) as e:
            call()
        text = str(e.value)
        assert text.startswith("~/.aws/credentials ") and message in text
        assert "\n" not in text and "wJalrXUtnFEMIpasted" not in text and SECRET not in text
        assert e.value.exit_code == 2
    assert cred_path.read_bytes() == data
    after = cred_path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert sorted(p.name for p in cred_path.parent.iterdir() if "tmp" in p.name) == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(line_soup())
@example("[a]\nk = 1\nk:2\n")
@example("[a]\njunk\n[a]\n")  # a duplicate raises before the collected parsing error
@example("[a]\n\x0b[b]\nk = 1\n\x0b[b]\n")
def test_validate_refuses_exactly_what_configparser_refuses(cred_path: Path, text: str) -> None:
    """The one-pass scanner alone judges plain files: it must refuse what botocore's
    parser refuses, and only that, at the line that parser names."""
    cp = configparser.RawConfigParser()
    try:
        cp.read_file(io.StringIO(text, newline=None))
        want = None
    except (configparser.MissingSectionHeaderError, configparser.DuplicateSectionError,
            configparser.DuplicateOptionError) as e:
        want = e.lineno
    except configparser.ParsingError as e:
        want = e.errors[0][0]
    if text.startswith("\ufeff"):
        want = 1
    try:
        credfile.validate_text(text, cred_path, home=Path.home())
    except CredentialsFileError as e:
        assert want is not None, text
        assert f"~/.aws/credentials line {want}: " in str(e)
    else:
        assert want is None, text


def test_plain_valid_files_are_parsed_once(cred_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold write of a plain, valid file does not run configparser over it as well."""
    def no(*args: object, **kwargs: object) -> None:
        raise AssertionError("configparser ran")

    monkeypatch.setattr(credfile.configparser.RawConfigParser, "read_file", no)
    for text in CORPUS.values():
        if inifile.is_plain(text):
            credfile.validate_text(text, cred_path)
    with pytest.raises(AssertionError):  # unusual whitespace: configparser double-checks
        credfile.validate_text("[a]\nk = 1\x0b\n", cred_path)


def test_validate_text_accepts_what_botocore_accepts(cred_path: Path) -> None:
    for text in CORPUS.values():
        credfile.validate_text(text, cred_path)


# --- ownership ----------------------------------------------------------------------------


def test_long_term_keys_are_never_overwritten(cred_path: Path) -> None:
    data = b"[default]\n" + LONG_TERM.encode() + b"\n[roletray]\n" + LONG_TERM.encode()
    write_raw(cred_path, data)
    for force in (False, True):
        with pytest.raises(CredentialsFileError) as e:
            credfile.write_credentials(cred_path, "roletray", creds(), role="platform",
                                       force=force)
        assert "line 5: section [roletray] holds long-term keys" in str(e.value)
        assert "longterm" not in str(e.value)
    with pytest.raises(CredentialsFileError, match="not written by roletray"):
        credfile.remove_credentials(cred_path, "roletray")
    assert cred_path.read_bytes() == data
    assert credfile.section_state(cred_path, "roletray") == "foreign"
    assert credfile.read_owned(cred_path, "roletray") is None


def test_foreign_temporary_keys_need_force(cred_path: Path) -> None:
    # As `aws configure set` would leave them, with the legacy token name too.
    data = ("[default]\n" + LONG_TERM + "\n[roletray]\naws_access_key_id = ASIAHAND\n"
            "aws_secret_access_key = hand\naws_session_token = handtoken\n"
            "aws_security_token = handtoken\n")
    write_raw(cred_path, data)
    assert credfile.section_state(cred_path, "roletray") == "foreign"
    with pytest.raises(CredentialsFileError, match="temporary keys that roletray did not write"):
        credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    assert text_of(cred_path) == data
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform", force=True)
    after = text_of(cred_path)
    assert "aws_security_token" not in after and "handtoken" not in after
    assert after == "[default]\n" + LONG_TERM + "\n[roletray]\n" + our_section() + "\n"
    assert credfile.section_state(cred_path, "roletray") == "owned"


def test_other_foreign_content_needs_force(cred_path: Path) -> None:
    write_raw(cred_path, "[roletray]\nregion = eu-west-1\n")
    with pytest.raises(CredentialsFileError, match="was not written by roletray"):
        credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform", force=True)
    assert credfile.read_owned(cred_path, "roletray") == creds()


def test_check_writable_refuses_before_any_write(cred_path: Path) -> None:
    credfile.check_writable(cred_path, "roletray")  # no file: fine
    assert not cred_path.exists()
    write_raw(cred_path, "[roletray]\naws_access_key_id = ASIAHAND\naws_session_token = t\n"
                         "[lt]\n" + LONG_TERM)
    with pytest.raises(CredentialsFileError, match="temporary keys that roletray did not"):
        credfile.check_writable(cred_path, "roletray")
    credfile.check_writable(cred_path, "roletray", force=True)
    with pytest.raises(CredentialsFileError, match="long-term keys"):
        credfile.check_writable(cred_path, "lt", force=True)
    credfile.check_writable(cred_path, "other")
    write_raw(cred_path, "[a]\n[a]\n")
    with pytest.raises(CredentialsFileError, match="line 2: section \\[a\\] appears twice"):
        credfile.check_writable(cred_path, "roletray")


def test_threads_of_one_process_lose_nothing(cred_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    write_raw(cred_path, "[default]\n" + LONG_TERM)

    def writer(t: str) -> None:
        for n in range(15):
            credfile.write_credentials(cred_path, t, creds(n), role=t)

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(writer, f"t{k}") for k in range(4)]:
            future.result()  # re-raises a writer's error here
    for k in range(4):
        assert credfile.read_owned(cred_path, f"t{k}") == creds(14)
    assert text_of(cred_path).startswith("[default]\n" + LONG_TERM)


def test_an_empty_section_is_taken_over(cred_path: Path) -> None:
    write_raw(cred_path, "[default]\n" + LONG_TERM + "[roletray]\n# reserved for roletray\n")
    assert credfile.section_state(cred_path, "roletray") == "absent"
    assert credfile.remove_credentials(cred_path, "roletray") is False
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    assert text_of(cred_path) == ("[default]\n" + LONG_TERM + "[roletray]\n" + our_section()
                                     + "\n# reserved for roletray\n")


def test_owned_section_round_trip(cred_path: Path) -> None:
    credfile.write_credentials(cred_path, "roletray", creds(1), role="platform")
    assert credfile.section_state(cred_path, "roletray") == "owned"
    assert credfile.owned_role(cred_path, "roletray") == "platform"
    credfile.write_credentials(cred_path, "roletray", creds(2), role="other")
    assert credfile.read_owned(cred_path, "roletray") == creds(2)
    assert credfile.owned_role(cred_path, "roletray") == "other"
    assert text_of(cred_path).count("[roletray]") == 1


def test_owned_but_hand_edited_section_reads_as_none(cred_path: Path) -> None:
    write_raw(cred_path, "[roletray]\nx_roletray_managed = true\naws_access_key_id = ASIA1\n")
    assert credfile.section_state(cred_path, "roletray") == "owned"
    assert credfile.read_owned(cred_path, "roletray") is None
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")  # made whole
    assert credfile.read_owned(cred_path, "roletray") == creds()


@pytest.mark.parametrize("target", ["", "DEFAULT", "a b", "x]", "we'ird"])
def test_unusable_targets(cred_path: Path, target: str) -> None:
    with pytest.raises(CredentialsFileError, match="cannot be a section name"):
        credfile.write_credentials(cred_path, target, creds(), role="platform")
    assert not cred_path.exists()


def test_keys_with_whitespace_are_refused_without_echo(cred_path: Path) -> None:
    bad = TempCredentials("ASIA1", "secret with space", "tok", EXPIRY)
    with pytest.raises(CredentialsFileError) as e:
        credfile.write_credentials(cred_path, "roletray", bad, role="platform")
    assert "secret with space" not in str(e.value)
    assert not cred_path.exists()


# --- removal ------------------------------------------------------------------------------


def test_remove_restores_the_file_exactly(cred_path: Path) -> None:
    for before in ("[default]\n" + LONG_TERM, "# c\n[a]\r\nk=1\r\n", "[a]\nk = 1", ""):
        write_raw(cred_path, before)
        for n in range(3):
            credfile.write_credentials(cred_path, "roletray", creds(n), role="platform")
            assert credfile.remove_credentials(cred_path, "roletray") is True
            assert text_of(cred_path) == before
        assert credfile.remove_credentials(cred_path, "roletray") is False


def test_remove_in_the_middle(cred_path: Path) -> None:
    write_raw(cred_path, "[a]\nk = 1\n\n[roletray]\nx_roletray_managed = true\n\n# b\n[b]\nj=2\n")
    assert credfile.remove_credentials(cred_path, "roletray") is True
    assert text_of(cred_path) == "[a]\nk = 1\n\n# b\n[b]\nj=2\n"


def test_remove_absent_does_not_touch_the_file(cred_path: Path) -> None:
    write_raw(cred_path, "[default]\n" + LONG_TERM)
    os.utime(cred_path, ns=(1_000_000_000, 1_000_000_000))
    assert credfile.remove_credentials(cred_path, "roletray") is False
    assert cred_path.stat().st_mtime_ns == 1_000_000_000


# --- rewrites ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_a_rewrite_equals_a_first_write(cred_path: Path, tmp_path: Path, name: str) -> None:
    """Writing twice gives the bytes that one write of the second keys gives."""
    start = inifile.replace_section(CORPUS[name], "roletray", None) if "roletray" in \
        inifile.parse(CORPUS[name]).by_name else CORPUS[name]
    write_raw(cred_path, start)
    credfile.write_credentials(cred_path, "roletray", creds(1), role="platform")
    credfile.write_credentials(cred_path, "roletray", creds(2), role="longer-role-name")
    other = tmp_path / "fresh-credentials"
    write_raw(other, start)
    credfile.write_credentials(other, "roletray", creds(2), role="longer-role-name")
    assert cred_path.read_bytes() == other.read_bytes()


def test_a_change_by_another_program_is_seen(cred_path: Path) -> None:
    credfile.write_credentials(cred_path, "roletray", creds(1), role="platform")
    with open(cred_path, "a") as f:  # e.g. `aws configure set` appending a profile
        f.write("\n[new]\naws_access_key_id = AKIANEW\n")
    credfile.write_credentials(cred_path, "roletray", creds(2), role="platform")
    after = parsed(text_of(cred_path))
    assert after["new"] == {"aws_access_key_id": "AKIANEW"}
    assert after["roletray"]["aws_access_key_id"] == creds(2).access_key_id
    # A hand edit that breaks the file is refused, even though we wrote it a moment ago.
    with open(cred_path, "a") as f:
        f.write("[new]\n")
    with pytest.raises(CredentialsFileError, match="section \\[new\\] appears twice"):
        credfile.write_credentials(cred_path, "roletray", creds(3), role="platform")


# --- temp files ---------------------------------------------------------------------------


def _dead_pid() -> int:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temp_files_are_cleaned_up(cred_path: Path) -> None:
    folder = cred_path.parent
    dead = folder / f".credentials.roletray-{_dead_pid()}-abc123.tmp"
    live_fresh = folder / f".credentials.roletray-{os.getppid()}-def456.tmp"
    live_old = folder / f".credentials.roletray-{os.getppid()}-ghi789.tmp"
    other_file = folder / f".config.roletray-{_dead_pid()}-xyz.tmp"  # another file's temp
    unrelated = folder / ".credentials.tmp"
    for p in (dead, live_fresh, live_old, other_file, unrelated):
        p.write_text("partial")
    os.utime(live_old, (1_000_000, 1_000_000))
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    names = {p.name for p in folder.iterdir()}
    assert dead.name not in names and live_old.name not in names
    assert {live_fresh.name, other_file.name, unrelated.name} <= names


def test_failed_write_leaves_no_temp_and_the_old_file(cred_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_raw(cred_path, "[default]\n" + LONG_TERM)

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(credfile.os, "fsync", fail)
    with pytest.raises(CredentialsFileError, match="cannot write it \\(No space left on device"):
        credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    monkeypatch.undo()
    assert text_of(cred_path) == "[default]\n" + LONG_TERM
    assert [p.name for p in cred_path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_lock_held_elsewhere_times_out_with_a_message(cred_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    write_raw(cred_path, "[default]\n" + LONG_TERM)
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import filelock, sys; l = filelock.FileLock(sys.argv[1]); "
                                "l.acquire(); print('held', flush=True); sys.stdin.readline()"),
         str(credfile.lock_path(cred_path))], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setattr(credfile, "LOCK_TIMEOUT", 0.2)
        with pytest.raises(CredentialsFileError, match="another roletray process has held"):
            credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
        assert text_of(cred_path) == "[default]\n" + LONG_TERM
    finally:
        holder.communicate("go\n")
    credfile.write_credentials(cred_path, "roletray", creds(), role="platform")
    assert credfile.read_owned(cred_path, "roletray") == creds()


# --- the config file's region -----------------------------------------------------------------


@pytest.fixture
def config_path(isolated_env: Path) -> Path:
    return Path(os.environ["AWS_CONFIG_FILE"])


def test_region_in_a_new_config_file(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = isolated_env / "cfg" / "config"
    configedit.set_profile_region(path, "roletray", "ap-northeast-2")
    assert text_of(path) == "[profile roletray]\nregion = ap-northeast-2\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_region_keeps_the_rest_of_the_config(config_path: Path) -> None:
    before = ("# my config ☃\r\n[default]\r\nregion = us-east-1\r\n\r\n[profile roletray]\r\n"
              "output = json\r\nregion = us-west-2\r\n\r\n[profile platform]\r\n"
              "role_arn = arn:aws:iam::111122223333:role/platform\r\nsource_profile = default\r\n")
    write_raw(config_path, before, mode=0o644)
    configedit.set_profile_region(config_path, "roletray", "ap-northeast-2")
    assert text_of(config_path) == before.replace("us-west-2", "ap-northeast-2")
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o644


def test_region_added_to_existing_section(config_path: Path) -> None:
    write_raw(config_path, "[profile roletray]\noutput = json\n[profile x]\nregion = y\n")
    configedit.set_profile_region(config_path, "roletray", "eu-west-1")
    assert text_of(config_path) == ("[profile roletray]\noutput = json\nregion = eu-west-1\n"
                                       "[profile x]\nregion = y\n")


def test_same_region_is_not_rewritten(config_path: Path) -> None:
    write_raw(config_path, "[profile roletray]\nregion = eu-west-1\n")
    os.utime(config_path, ns=(1_000_000_000, 1_000_000_000))
    before = config_path.stat()
    configedit.set_profile_region(config_path, "roletray", "eu-west-1")
    after = config_path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    assert [p.name for p in config_path.parent.iterdir()] == ["config"]  # not even a lock


def test_region_follows_botocore_section_naming(config_path: Path) -> None:
    # botocore reads [profile "roletray"] as profile roletray; the last one of two wins.
    write_raw(config_path, '[profile roletray]\nregion = a\n[profile "roletray"]\nregion = b\n')
    configedit.set_profile_region(config_path, "roletray", "eu-west-1")
    assert text_of(config_path) == ('[profile roletray]\nregion = a\n[profile "roletray"]\n'
                                       'region = eu-west-1\n')
    write_raw(config_path, "[default]\nregion = a\n")
    configedit.set_profile_region(config_path, "default", "eu-west-1")
    assert text_of(config_path) == "[default]\nregion = eu-west-1\n"


def test_region_refuses_broken_config_and_bad_values(config_path: Path) -> None:
    write_raw(config_path, "[profile roletray]\nregion = a\n[profile roletray]\n")
    with pytest.raises(CredentialsFileError, match="^~/.aws/config line 3: section"):
        configedit.set_profile_region(config_path, "roletray", "eu-west-1", home=Path.home())
    with pytest.raises(CredentialsFileError, match="not a region name"):
        configedit.set_profile_region(config_path, "roletray", "eu west\n1")
