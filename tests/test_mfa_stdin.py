"""`--mfa-code -` reads the code from stdin, so it never shows in `ps`; --help says so."""

from __future__ import annotations

import io

import pytest

from tray.cli import main


def guarded_world(aws) -> None:  # type: ignore[no-untyped-def]
    aws.seed_world()
    arn = aws.create_role("guarded")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile guarded]\nrole_arn = {arn}\nsource_profile = default\n"
                "mfa_serial = arn:aws:iam::123456789012:mfa/dev\n")


def test_the_code_comes_from_stdin(aws, capsys, monkeypatch):
    guarded_world(aws)
    monkeypatch.setattr("sys.stdin", io.StringIO("123456\n"))
    assert main(["assume", "guarded", "--mfa-code", "-"]) == 0, capsys.readouterr().err
    assert "assumed-role/guarded/" in capsys.readouterr().out


def test_empty_stdin_is_a_one_line_error(aws, capsys, monkeypatch):
    guarded_world(aws)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["assume", "guarded", "--mfa-code", "-"]) == 2
    assert "no code on standard input" in capsys.readouterr().err
    assert "[roletray]" not in aws.credentials_path.read_text()


@pytest.mark.parametrize("command", ["assume", "refresh"])
def test_help_says_stdin_keeps_it_out_of_ps(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "'-' reads it from stdin, which keeps it out of `ps`" in out
