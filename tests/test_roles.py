"""The MFA ask-and-retry flow of the role service: the tray's and the CLI's hand-over."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeClock, FakeScheduler
from fakests import FakeSts, write_world

from tray import cli, compose
from tray.cli import asking
from tray.domain.errors import MfaRequiredError
from tray.engine.refresher import Refresher
from tray.engine.roles import Done, ask_and_retry
from tray.instance import control
from tray.paths import Paths
from tray.settings import Settings


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


def flow(needs: list[bool], answers: list[str | None], *, ask_first: bool
         ) -> tuple[object, list[str | None]]:
    tried: list[str | None] = []

    def attempt(code: str | None) -> str:
        tried.append(code)
        if needs.pop(0):
            raise MfaRequiredError(profile="p", mfa_serial="arn")
        return "ok"

    return ask_and_retry(attempt, lambda: answers.pop(0), ask_first=ask_first), tried


@pytest.mark.parametrize(("needs", "answers", "ask_first", "result", "tried"), [
    ([False], [], False, "ok", [None]),                     # a usable session: no prompt
    ([False], ["123456"], True, "ok", ["123456"]),          # no session: asked first
    ([], [None], True, Done.CANCELLED, []),                 # closed the prompt: nothing tried
    ([True, False], ["654321"], False, "ok", [None, "654321"]),  # the session ended meanwhile
    ([True], [None], False, Done.CANCELLED, [None]),
])
def test_ask_and_retry(needs: list[bool], answers: list[str | None], ask_first: bool,
                       result: object, tried: list[str | None]) -> None:
    assert flow(needs, answers, ask_first=ask_first) == (result, tried)


def test_a_refused_code_is_not_asked_again() -> None:
    with pytest.raises(MfaRequiredError):
        flow([True], ["111111", "222222"], ask_first=True)


# ------------------------------------------- the CLI's hand-over uses the same flow

@pytest.fixture
def instance(isolated_env: Path) -> Iterator[FakeSts]:
    """A running instance (refresher + control socket) whose AWS is ``FakeSts``."""
    write_world(isolated_env)
    clock = FakeClock()
    sts = FakeSts(clock)
    ctx = compose.in_process(os.environ, now=clock.now, settings=Settings())
    refresher = Refresher(ctx, FakeScheduler(clock), monotonic=clock.monotonic,
                          rng=random.Random(3), assume_fn=sts, tick_interval=None)
    refresher.start()
    server = control.ControlServer(control.make_handler(refresher),
                                   path=control.socket_path(here()), where=here()).start()
    yield sts
    server.stop()


def test_cli_hand_over_asks_only_when_the_instance_needs_a_code(
        instance: FakeSts, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str] = []
    answer: list[str | None] = [None]

    def terminal(serial: str) -> str | None:  # the person at the terminal
        asked.append(serial)
        return answer[0]

    monkeypatch.setattr(asking, "prompt_mfa", terminal)
    assert cli.main(["assume", "platform"]) == 0 and asked == []  # no MFA: never asked
    assert cli.main(["assume", "guarded"]) == 2  # asked, no code given: the instance's reason
    assert len(asked) == 1 and "needs an MFA code" in capsys.readouterr().err
    answer[0] = "902817"
    assert cli.main(["assume", "guarded"]) == 0
    assert len(asked) == 2 and instance.calls[-1]["mfa_code"] == "902817"
    assert "Switched the running roletray to guarded." in capsys.readouterr().out
