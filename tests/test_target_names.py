"""One rule for target names at every entry point, and names shown escaped, quoted for a shell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_control import Rig

from tray.cli import main
from tray.cli.snapshot_text import shown
from tray.domain.errors import UsageError
from tray.instance import control
from tray.paths import Paths
from tray.settings import check_target, load_settings, target_problem

HOSTILE = ["a\x00b", "a\x1b[31mred", "rtl\u202eyxes", "a;rm -rf ~", "$(id)", "a b", "a`id`",
           "x" * 65, "", "a'b", "[x]"]


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


@pytest.mark.parametrize("name", HOSTILE)
def test_the_rule_refuses_control_bidi_and_shell_characters(name):
    problem = target_problem(name)
    assert problem is not None and "\n" not in problem
    assert "\x00" not in problem and "\x1b" not in problem and "\u202e" not in problem
    with pytest.raises(UsageError):
        check_target(name)


@pytest.mark.parametrize("name", ["roletray", "work.prod", "ci-bot_2", "me@corp+x"])
def test_ordinary_names_pass(name):
    assert target_problem(name) is None and check_target(name) == name


@pytest.mark.parametrize("name", ["a\x1b[31mred", "a;rm -rf ~", "rtl\u202eyxes"])
def test_the_cli_refuses_a_hostile_target_before_anything(aws, capsys, name):
    aws.seed_world()
    before = aws.credentials_path.read_bytes()
    assert main(["assume", "platform", "--target", name]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err
    assert "is not a section name roletray writes" in err
    assert aws.credentials_path.read_bytes() == before
    assert main(["clear", "--target", name]) == 2
    assert "is not a section name" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["a\x00b", "a;id", "rtl\u202eyxes"])
def test_the_socket_refuses_a_hostile_target(isolated_env: Path, name):
    rig = Rig(isolated_env)
    try:
        for cmd, payload in [("assume", {"profile": "platform", "target": name}),
                             ("clear", {"target": name})]:
            reply = control.send(cmd, payload,
                                 where=here())
            assert reply is not None and reply["ok"] is False and reply["exit_code"] == 2, cmd
            assert "is not a section name roletray writes" in reply["error"]
        assert rig.sts.calls == []
    finally:
        rig.server.stop()


def test_config_toml_uses_the_same_rule(isolated_env: Path):
    paths = Paths.from_env({"HOME": str(isolated_env),
                            "XDG_CONFIG_HOME": str(isolated_env / ".config")})
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text('target = "x' * 1 + 'y' * 70 + '"\n')
    with pytest.raises(Exception, match="at most 64"):
        load_settings(paths)


def test_names_from_a_config_file_are_shown_escaped(aws, capsys):
    aws.seed_world()
    arn = aws.create_role("evil")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile evil\x1b]0;pwned\x07]\nrole_arn = {arn}\nsource_profile = default\n")
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b]0;pwned\\x07" in out


def test_shown_leaves_plain_text_alone():
    assert shown("platform (arn:aws:iam::1:role/p)") == "platform (arn:aws:iam::1:role/p)"
    assert shown("a\u202eb\x00") == "a\\u202eb\\x00"
