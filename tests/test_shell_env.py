"""``roletray env PROFILE [--shell sh|fish|powershell]``: lines for ``eval``, quoted safely.

The quoting is checked by the shells themselves: each hostile value is set by the
printed line in a real shell and printed back byte for byte (sh, bash; zsh, fish and
PowerShell when installed). Then ``eval "$(roletray env platform)"`` in bash gives the
aws CLI the role, against moto's server, over a shell that had the user's profile set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AwsSandbox
from test_credential_process import roletray_on_path  # noqa: F401 (a fixture)

from tray.domain.errors import UsageError
from tray.shell import childenv

REPO = Path(__file__).resolve().parent.parent

HOSTILE = [
    "plain", "", "it's", "a'b\"c", "$(touch pwned)", "`touch pwned`", "${HOME}", "$HOME",
    "\\", "\\'", "back\\slash'quote", "new\nline", "semi; touch pwned", "* ?[a]", "%s %n",
    "!!", "-n", "\t tab", "\u2018smart\u2019 \u201aquotes\u201b", "한국어", "\x1b[31mred",
    "' ; touch pwned ; echo '", "end\\",
]

# shell -> (the argv that runs a script, how the script prints the variable)
SHELLS = {
    "sh": (["sh", "-c"], 'printf %s "$ROLETRAY_Q"'),
    "bash": (["bash", "-c"], 'printf %s "$ROLETRAY_Q"'),
    "zsh": (["zsh", "-c"], 'printf %s "$ROLETRAY_Q"'),
    "fish": (["fish", "-c"], 'printf %s "$ROLETRAY_Q"'),
    "pwsh": (["pwsh", "-NoProfile", "-Command"], "[Console]::Out.Write($Env:ROLETRAY_Q)"),
}
SYNTAX = {"sh": "sh", "bash": "sh", "zsh": "sh", "fish": "fish", "pwsh": "powershell"}


@pytest.mark.parametrize("shell", list(SHELLS))
def test_hostile_values_come_back_byte_for_byte(shell: str, tmp_path: Path) -> None:
    argv, show = SHELLS[shell]
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed here")
    for value in HOSTILE:
        if shell == "pwsh" and value == "":
            continue  # PowerShell: setting a variable to '' removes it
        script = childenv.lines({"ROLETRAY_Q": value}, SYNTAX[shell]) + "\n" + show
        out = subprocess.run([*argv, script], capture_output=True, cwd=tmp_path, timeout=60,
                             check=False, env={**os.environ, "HOME": str(tmp_path)})
        assert out.returncode == 0, (value, out.stderr)
        assert out.stdout == value.encode(), (value, out.stdout)
    assert not (tmp_path / "pwned").exists()


def test_removed_variables_and_the_other_syntaxes() -> None:
    assert childenv.lines({"AWS_PROFILE": None}, "sh") == "unset AWS_PROFILE"
    assert childenv.lines({"A": "it's"}, "fish") == "set -gx A 'it\\'s'"
    assert childenv.lines({"A": "it\u2019s", "B": None}, "powershell") == (
        "$Env:A = 'it\u2019\u2019s'\nRemove-Item Env:B -ErrorAction SilentlyContinue")
    with pytest.raises(UsageError):
        childenv.lines({"A": "x"}, "csh")
    with pytest.raises(UsageError):
        childenv.lines({"A; rm": "x"}, "sh")
    with pytest.raises(UsageError):
        childenv.quote("nul\0", "sh")


def test_eval_gives_the_aws_cli_the_role_in_bash(aws: AwsSandbox,
                                                 roletray_on_path: Path) -> None:  # noqa: F811
    aws.seed_world()
    aws.enforce()
    before = aws.credentials_path.read_bytes()
    script = ('export AWS_PROFILE=default AWS_DEFAULT_PROFILE=default\n'
              'eval "$(roletray env platform)" || exit 9\n'
              'echo "profile=${AWS_PROFILE-unset} region=$AWS_REGION '
              'role=$ROLETRAY_ROLE exp=$AWS_CREDENTIAL_EXPIRATION"\n'
              'aws sts get-caller-identity --output json\n')
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                         check=False, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    said, who = out.stdout.split("\n", 1)
    assert said.startswith("profile=unset region=ap-northeast-2 role=platform exp=20")
    assert ":assumed-role/platform/" in json.loads(who)["Arn"]
    assert aws.credentials_path.read_bytes() == before  # nothing written


def test_env_prints_the_keys_for_each_shell_and_refuses_bad_input(aws: AwsSandbox) -> None:
    aws.seed_world()
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tray", "env", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False,
                              stdin=subprocess.DEVNULL)

    fish = run("platform", "--shell", "fish")
    assert fish.returncode == 0, fish.stderr
    assert "set -gx AWS_ACCESS_KEY_ID 'ASIA" in fish.stdout and "set -e AWS_PROFILE" in fish.stdout
    ps = run("platform", "--shell", "powershell")
    assert ps.returncode == 0 and "$Env:AWS_SESSION_TOKEN = '" in ps.stdout
    unknown = run("nope")
    assert (unknown.returncode, unknown.stdout) == (2, "") and "'nope'" in unknown.stderr
    bad = run("platform", "--shell", "csh")
    assert bad.returncode == 2 and bad.stdout == ""
