"""``mfa_process = COMMAND``: the MFA code from a command (a YubiKey's ``ykman``), one per
assume without a terminal, never two from one 30-second window, its stderr never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakes import fake_program, gone
from stsproxy import StsProxy

from tray.domain.errors import MfaProcessError
from tray.domain.models import RoleProfile
from tray.engine.mfa_codes import WINDOW, MfaCodes, run_command

REPO = Path(__file__).resolve().parent.parent
SERIAL = "arn:aws:iam::123456789012:mfa/dev"
ROLE = RoleProfile(name="guarded", role_arn="arn:aws:iam::123456789012:role/guarded",
                   source_profile="default", mfa_serial=SERIAL, mfa_process="ykman-code")


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def codes(tmp_path: Path, clock: Clock, outputs: list[str]) -> MfaCodes:
    def runner(argv: list[str], env: object, timeout: float) -> tuple[int, bytes]:
        assert argv == ["ykman-code"]
        return 0, (outputs.pop(0) + "\n").encode()

    return MfaCodes(tmp_path / "state", {}, runner=runner, clock=clock, sleep=clock.sleep)


def test_a_second_code_in_the_same_window_waits_for_the_next_one(tmp_path: Path) -> None:
    clock = Clock(1_000_000 * WINDOW + 3)
    first = codes(tmp_path, clock, ["111111", "222222"])
    assert first.code_for(ROLE, "ykman-code") == "111111"
    assert clock.slept == []
    clock.t += 10  # same window
    assert first.code_for(ROLE, "ykman-code") == "222222"
    [waited] = clock.slept
    assert waited == pytest.approx(WINDOW - 13 + 0.5)
    assert int(clock.t // WINDOW) == 1_000_001


def test_another_process_respects_the_window_too(tmp_path: Path) -> None:
    clock = Clock(2_000_000 * WINDOW + 1)
    codes(tmp_path, clock, ["111111"]).code_for(ROLE, "ykman-code")
    other = codes(tmp_path, clock, ["333333"])  # a new object: the window is in the state dir
    assert other.code_for(ROLE, "ykman-code") == "333333"
    assert len(clock.slept) == 1
    clock.t += WINDOW  # the next window: no wait
    codes(tmp_path, clock, ["444444"]).code_for(ROLE, "ykman-code")
    assert len(clock.slept) == 1


@pytest.mark.parametrize(("script", "how"), [
    ("echo 'secret-token-xyz' >&2; exit 3", "exited with code 3"),
    ("echo 'not a code'; echo 'secret-token-xyz' >&2", "printed no 6-digit code"),
])
def test_a_failing_command_is_one_line_without_its_output(
        tmp_path: Path, script: str, how: str) -> None:
    exe = fake_program(tmp_path / "bin", "ykman-code", script)
    box = MfaCodes(tmp_path / "state", dict(os.environ))
    with pytest.raises(MfaProcessError) as err:
        box.code_for(ROLE, str(exe))
    text = str(err.value)
    assert how in text and "secret-token-xyz" not in text and "not a code" not in text
    assert len(text.splitlines()) == 1 and "profile 'guarded'" in text


def test_a_command_waiting_for_a_touch_is_stopped_with_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    exe = fake_program(tmp_path / "bin", "ykman-code", f"sleep 30 & echo $! > {marker}; wait\n")
    with pytest.raises(TimeoutError):
        run_command([str(exe)], dict(os.environ), 0.5)
    # The whole group was killed: the sleeping grandchild goes too.
    assert gone(int(marker.read_text()))


def test_assume_without_a_terminal_takes_one_code_from_the_command(
        aws: AwsSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.seed_world()
    arn = aws.create_role("guarded")
    exe = fake_program(tmp_path / "bin", "ykman-code",
                       f"echo run >> {tmp_path / 'runs'}; echo 654321\n")
    with aws.config_path.open("a") as f:
        f.write(f"\n[profile guarded]\nrole_arn = {arn}\nsource_profile = default\n"
                f"mfa_serial = {SERIAL}\nmfa_process = {exe}\n")
    with StsProxy(aws.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", proxy.url)
        done = subprocess.run([sys.executable, "-m", "tray", "assume", "guarded"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60,
                              check=False)
    assert done.returncode == 0, done.stderr
    [call] = [c for c in proxy.calls if c.action == "AssumeRole"]
    assert call.form.get("TokenCode") == "654321" and call.form.get("SerialNumber") == SERIAL
    assert (tmp_path / "runs").read_text() == "run\n"  # one code per assume
    assert "654321" not in done.stdout + done.stderr
    logs = Path(os.environ["XDG_STATE_HOME"])
    assert not any("654321" in p.read_text(errors="replace")
                   for p in logs.rglob("*") if p.is_file())


def test_mfa_process_needs_an_mfa_serial(aws: AwsSandbox,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from tray.cli import main

    aws.seed_world()
    with aws.config_path.open("a") as f:
        f.write("\n[profile odd]\nrole_arn = arn:aws:iam::123456789012:role/x\n"
                "source_profile = default\nmfa_process = ykman\n")
    main(["profiles"])
    assert "profile 'odd': mfa_process needs a command and an mfa_serial" in \
        capsys.readouterr().err
