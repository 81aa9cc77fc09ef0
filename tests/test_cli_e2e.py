"""The seed's workflow end to end: CLI in-process against moto's server, then the
real ``aws`` CLI reads what roletray wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tray.cli import main

ACCOUNT = "123456789012"


def run_aws(*args: str) -> subprocess.CompletedProcess[str]:
    aws = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    return subprocess.run([aws, *args], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def test_seed_flow_profiles_assume_status_aws_cli_clear(aws, capsys):
    role_arn = aws.seed_world()
    aws.admin("s3").create_bucket(Bucket="seed-bucket", CreateBucketConfiguration={
        "LocationConstraint": "ap-northeast-2"})
    aws.enforce()
    before_default = aws.credentials_path.read_text().split("[roletray]")[0]

    assert main(["profiles", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [platform] = doc["profiles"]
    assert platform["name"] == "platform" and platform["role_arn"] == role_arn
    assert platform["source"] == "default" and platform["region"] == "ap-northeast-2"
    assert platform["mfa"] is False

    assert main(["assume", "platform"]) == 0
    out = capsys.readouterr().out
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/" in out
    assert "****************" in out
    text = aws.credentials_path.read_text()
    assert text.startswith(before_default)  # [default] untouched, byte for byte
    assert "[roletray]" in text and "aws_session_token" in text
    secret = [ln for ln in text.splitlines() if ln.startswith("aws_secret_access_key")][-1]
    assert secret.split("=", 1)[1].strip() not in out  # no secret on screen

    who = run_aws("sts", "get-caller-identity", "--profile", "roletray", "--output", "json")
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/")

    listing = run_aws("configure", "list", "--profile", "roletray")
    assert listing.returncode == 0, listing.stderr
    assert "shared-credentials-file" in listing.stdout
    assert "ap-northeast-2" in listing.stdout  # the target got a region: no AWS_REGION needed

    ls = run_aws("s3", "ls", "--profile", "roletray")
    assert ls.returncode == 0, ls.stderr
    assert "seed-bucket" in ls.stdout

    assert main(["status", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["state"] == "fresh" and st["role"] == "platform" and st["account"] == ACCOUNT
    assert 3000 < st["seconds_left"] <= 3600

    assert main(["clear"]) == 0
    capsys.readouterr()
    assert "[roletray]" not in aws.credentials_path.read_text()
    assert aws.credentials_path.read_text() == before_default or \
        aws.credentials_path.read_text().rstrip("\n") == before_default.rstrip("\n")
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "idle"


def test_seed_access_denied_explains_trust_and_writes_nothing(aws, capsys):
    aws.seed_world()
    locked = aws.create_role("locked", trust_principal="arn:aws:iam::999999999999:root")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile locked]\nrole_arn = {locked}\nsource_profile = default\n")
    aws.enforce()
    before = aws.credentials_path.read_bytes()
    config_before = aws.config_path.read_bytes()

    assert main(["assume", "locked"]) == 1
    err = capsys.readouterr().err
    # IAM reads denied: what AWS's denial says, the finding first, the fix pointer once
    assert err == (f"roletray: profile 'locked': the trust policy of role 'locked' probably "
                   f"does not trust arn:aws:iam::{ACCOUNT}:user/dev (AWS: AccessDenied for "
                   f"sts:AssumeRole on {locked}); `roletray doctor locked` shows the fix\n")
    assert aws.credentials_path.read_bytes() == before
    assert aws.config_path.read_bytes() == config_before


@pytest.mark.parametrize("config, needle", [
    ("[profile p]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n", "role_arn"),
    ("[profile p]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = nope\n", "nope"),
    (("[profile p]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = q\n"
     "[profile q]\nrole_arn = arn:aws:iam::123456789012:role/y\nsource_profile = p\n"), "loops"),
    (("[profile p]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = default\n"
     "duration_seconds = 90\n"), "duration_seconds"),
])
def test_bad_profiles_exit_2_one_line_nothing_written(aws, capsys, config, needle):
    aws.write_credentials("[default]\naws_access_key_id = AKIAEXAMPLE\n"
                          "aws_secret_access_key = x\n")
    aws.write_config(config)
    before = aws.credentials_path.read_bytes()
    assert main(["assume", "p"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert needle in err and "profile 'p'" in err
    assert "~/.aws/config" in err
    assert aws.credentials_path.read_bytes() == before


def test_unknown_profile(aws, capsys):
    aws.seed_world()
    assert main(["assume", "nosuch", "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["exit_code"] == 2
    assert "nosuch" in captured.err


def test_core_imports_no_gui():
    code = ("import sys, tray.cli, tray.engine.actions, tray.engine.refresher, tray.platform.notify; "
            "bad = [m for m in ('pystray', 'PIL', 'gi') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_version_and_python_m(capsys):
    proc = subprocess.run([sys.executable, "-m", "tray", "--version"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("roletray ")


def test_denied_assume_with_iam_reads_carries_the_doctors_trust_fix(aws, capsys):
    _akid, secret = aws.locked_world()
    assert main(["assume", "locked"]) == 1
    err = capsys.readouterr().err
    # the doctor's finding leads, then the fix pointer, once
    assert err == ("roletray: profile 'locked': the trust policy of role 'locked' does not "
                   f"trust arn:aws:iam::{ACCOUNT}:user/dev (it trusts "
                   "arn:aws:iam::999999999999:root); `roletray doctor locked` shows the fix\n")
    assert secret not in err


def test_a_reader_that_leaves_early_gets_no_traceback(isolated_env):
    # `roletray profiles | head -1`: more rows than a pipe holds, and the reader goes.
    rows = "".join(f"[profile role{i:04d}]\nrole_arn = arn:aws:iam::123456789012:role/r{i:04d}\n"
                   "source_profile = default\n" for i in range(3000))
    (isolated_env / ".aws" / "config").write_text("[default]\nregion = eu-west-1\n" + rows)
    proc = subprocess.Popen([sys.executable, "-m", "tray", "profiles"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith("PROFILE")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141  # as a shell reports a command ended by SIGPIPE
    assert err == ""  # no BrokenPipeError traceback, no "Exception ignored"


def test_assume_parses_the_config_file_once(aws, capsys, monkeypatch):
    # The MFA check, the local checks, the region and the check after the write all
    # share the one parse (they parsed it three times; a cache hid the cost).
    from tray.awsfiles import awsconfig

    aws.seed_world()
    aws.enforce()
    parsed: list[Path] = []
    real = awsconfig.raw_config_parse

    def counted(path, **kw):
        parsed.append(Path(path))
        return real(path, **kw)

    monkeypatch.setattr(awsconfig, "raw_config_parse", counted)
    assert main(["assume", "platform"]) == 0
    assert "[roletray]" in aws.credentials_path.read_text()
    assert parsed == [aws.config_path]
