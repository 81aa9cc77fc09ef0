"""``roletray refresh --target NAME``: renew one kept section now, and only that one,
with a running daemon (handed over on the socket) and without one (in this process).

Against moto's server; the daemon is a real ``python -m tray daemon`` process.
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import AwsSandbox
from test_daemon import poll_until, run_cli, spawn  # noqa: F401 (a fixture)

from tray import cli
from tray.awsfiles import credfile
from tray.instance import control
from tray.paths import Paths
from tray.state import load_states


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


def two_kept(aws: AwsSandbox) -> dict[str, str]:
    """[roletray] holds platform, [second] holds other; returns their key ids."""
    aws.seed_world()
    other = aws.create_role("other", trust_principal=aws.user_arn())
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile other]\nrole_arn = {other}\nsource_profile = default\n")
    aws.enforce()
    assert cli.main(["assume", "platform", "--json"]) == 0
    assert cli.main(["assume", "other", "--target", "second", "--json"]) == 0
    return keys(aws)


def keys(aws: AwsSandbox) -> dict[str, str]:
    found = {}
    for target in ("roletray", "second"):
        owned = credfile.read_owned(aws.credentials_path, target)
        assert owned is not None, target
        found[target] = owned.access_key_id
    return found


def kept_fresh() -> list[dict[str, object]] | None:
    """The running instance's sections, once it keeps two, both fresh."""
    reply = control.send("status", {}, where=here())
    sections = (reply or {}).get("sections", [])
    return sections if len(sections) == 2 and all(
        s["state"] == "fresh" for s in sections) else None


def section_lines(aws: AwsSandbox, target: str) -> list[str]:
    """The lines of ``[target]`` in the credentials file, as written."""
    lines, inside = [], False
    for line in aws.credentials_path.read_text().splitlines():
        if line.startswith("["):
            inside = line == f"[{target}]"
        if inside:
            lines.append(line)
    assert lines, target
    return lines


def assert_only_second_renewed(aws: AwsSandbox, before: dict[str, str],
                               roletray_lines: list[str], out: str) -> None:
    after = keys(aws)
    assert after["second"] != before["second"]
    assert after["roletray"] == before["roletray"]
    assert section_lines(aws, "roletray") == roletray_lines  # not a byte of it changed
    doc = json.loads(out)
    assert doc["target"] == "second" and doc["role"] == "other" and doc["state"] == "fresh"
    assert doc["identity_arn"].split(":assumed-role/")[1].startswith("other/")
    kept = {s.target: s.active_role for s in load_states(Paths.from_env(os.environ))}
    assert kept == {"roletray": "platform", "second": "other"}


def test_refresh_target_without_an_instance_renews_only_that_section(
        aws: AwsSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    before = two_kept(aws)
    roletray_lines = section_lines(aws, "roletray")
    capsys.readouterr()
    assert cli.main(["refresh", "--target", "second", "--json"]) == 0
    out = capsys.readouterr().out
    assert_only_second_renewed(aws, before, roletray_lines, out)

    # No --target: the active role's section, as before.
    again = keys(aws)
    assert cli.main(["refresh", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["target"] == "roletray"
    now = keys(aws)
    assert now["roletray"] != again["roletray"] and now["second"] == again["second"]


@pytest.mark.parametrize("name, words", [
    ("third", "[third] is not a section roletray keeps (kept: [roletray], [second])"),
    ("bad]name", "bad]name"),
])
def test_refresh_of_a_section_not_kept_is_one_line_exit_2_writing_nothing(
        aws: AwsSandbox, capsys: pytest.CaptureFixture[str], name: str, words: str) -> None:
    two_kept(aws)
    creds = aws.credentials_path.read_bytes()
    state = Paths.from_env(os.environ).state_file.read_bytes()
    capsys.readouterr()
    assert cli.main(["refresh", "--target", name]) == 2
    got = capsys.readouterr()
    assert got.out == "" and len(got.err.splitlines()) == 1 and words in got.err
    assert aws.credentials_path.read_bytes() == creds
    assert Paths.from_env(os.environ).state_file.read_bytes() == state


def test_refresh_target_with_a_daemon_renews_only_that_section(
        aws: AwsSandbox, spawn) -> None:  # noqa: F811
    before = two_kept(aws)
    roletray_lines = section_lines(aws, "roletray")
    d = spawn()
    d.wait_ready()
    # Resumed from state, not due: the daemon keeps both without renewing either.
    sections = poll_until("both sections kept", kept_fresh)
    assert {s["target"] for s in sections} == {"roletray", "second"}
    assert keys(aws) == before

    done = run_cli("refresh", "--target", "second", "--json")
    assert done.returncode == 0, done.stderr
    assert_only_second_renewed(aws, before, roletray_lines, done.stdout)
    log_text = (Paths.from_env(os.environ).log_dir / "roletray.log").read_text()
    assert "refreshing other (asked)" in log_text
    assert "refreshing platform" not in log_text

    missing = run_cli("refresh", "--target", "third")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert "[third] is not a section roletray keeps" in missing.stderr
    assert len(missing.stderr.splitlines()) == 1

    # The socket alone (an older CLI, a script): the daemon names the target it lacks.
    reply = control.send("refresh", {"target": "third"},
                         where=here())
    assert reply is not None and reply["ok"] is False and reply["exit_code"] == 2
    assert "[third]" in reply["error"]
    assert d.proc.poll() is None

