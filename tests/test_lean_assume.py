"""``roletray assume PROFILE [--json]`` handed over to a running instance on the lean path
(``tray.instance.handover``): no full command line for ``--json``, the same words as the
full path, a guarded profile declined before any AssumeRole, and a reply the lean path
got (an error, a code needed, the plain form's lines) handed to the full command line
instead of asked for again: one AssumeRole per command, never two.

Real ``roletray daemon`` processes against moto (through ``StsProxy``, which counts the
AssumeRole calls), and a ``ControlServer`` with a scripted reply where the words are
compared byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import AwsSandbox
from stsproxy import StsProxy
from test_daemon import spawn  # noqa: F401 (a fixture)

from tray.domain import wire
from tray.domain.errors import MfaRequiredError
from tray.instance import control, handover
from tray.paths import Paths

REPO = Path(__file__).resolve().parent.parent
FULL = "import sys; from tray.cli import main; sys.exit(main())"  # the full path, always


def here() -> Paths:
    return Paths.from_env(os.environ)


def roletray(*args: str, full: bool = False, importtime: bool = False,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``roletray ARGS`` as a person runs it (no terminal); ``full``: straight into the
    full command line, as before the lean path."""
    head = ["-X", "importtime"] if importtime else []
    code = ["-c", FULL, *args] if full else ["-m", "tray", *args]
    return subprocess.run([sys.executable, *head, *code], capture_output=True, text=True,
                          env={**(env or os.environ), "PYTHONPATH": str(REPO)}, timeout=60,
                          check=False, stdin=subprocess.DEVNULL)


def imported(run: subprocess.CompletedProcess[str]) -> set[str]:
    return {ln.rsplit("|", 1)[-1].strip() for ln in run.stderr.splitlines()
            if ln.startswith("import time:")}


def test_parse_takes_only_the_plain_forms() -> None:
    assert handover.parse(["assume", "platform"]) == ("platform", False)
    assert handover.parse(["assume", "platform", "--json"]) == ("platform", True)
    assert handover.parse(["assume", "--json", "platform"]) == ("platform", True)
    for argv in (["assume"], ["assume", "--json"], ["assume", "p", "--json", "--json"],
                 ["assume", "p", "--yes"], ["assume", "p", "--target", "t"], ["assume", "-p"],
                 ["assume", "p", "q"], ["assume", "p", "--js"], ["status", "p"], [],
                 ["assume", ""], ["assume", "p", "--force"]):
        assert handover.parse(argv) is None, argv


# ------------------------------------------------------------ a real daemon

def test_assume_json_with_a_daemon_is_one_lean_request_and_one_assume_role(
        aws: AwsSandbox, spawn) -> None:  # noqa: F811
    aws.seed_world()
    aws.enforce()
    with StsProxy(aws.url) as proxy:
        spawn({**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}).wait_ready()
        run = roletray("assume", "platform", "--json", importtime=True)
        assert run.returncode == 0, run.stderr
        snap = json.loads(run.stdout)
        assert (snap["role"], snap["target"], snap["state"]) == ("platform", "roletray", "fresh")
        names = imported(run)
        assert "tray.instance.handover" in names
        assert not names & {"tray.cli", "tray.instance.control", "tray.settings", "argparse",
                            "logging", "tray.awsfiles.awsconfig"}
        assert not {m for m in names if m.split(".")[0] in ("botocore", "boto3")}
        assert len(proxy.of("AssumeRole")) == 1
        assert "[roletray]" in aws.credentials_path.read_text()

        # No XDG_RUNTIME_DIR (SSH, cron): the keeper record names the daemon's socket.
        no_xdg = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        run = roletray("assume", "platform", "--json", importtime=True, env=no_xdg)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["role"] == "platform"
        assert "tray.cli" not in imported(run)
        assert len(proxy.of("AssumeRole")) == 2

        # The plain form: printed by the lean path too, with the status table's own code.
        plain = roletray("assume", "platform", importtime=True)
        assert plain.returncode == 0, plain.stderr
        assert plain.stdout.startswith("Switched the running roletray to platform.\n")
        names = imported(plain)
        assert "tray.cli.snapshot_text" in names
        assert not names & {"tray.cli.roles", "tray.instance.control", "argparse", "logging"}
        assert len(proxy.of("AssumeRole")) == 3


def test_a_guarded_profile_is_declined_before_any_assume_role(aws: AwsSandbox,
                                                              spawn) -> None:  # noqa: F811
    aws.seed_world()
    aws.config_path.write_text(aws.config_path.read_text().replace(
        "[profile platform]\n", "[profile platform]\nroletray_guard = production\n"))
    with StsProxy(aws.url) as proxy:
        spawn({**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}).wait_ready()
        refused = roletray("assume", "platform", "--json")
        assert refused.returncode == 2
        assert "guarded (production)" in refused.stderr and "--yes" in refused.stderr
        assert json.loads(refused.stdout)["ok"] is False
        assert proxy.of("AssumeRole") == []
        assert refused.stderr == roletray("assume", "platform", "--json", full=True).stderr
        confirmed = roletray("assume", "platform", "--yes")
        assert confirmed.returncode == 0, confirmed.stderr
        assert "Switched the running roletray to platform." in confirmed.stdout
        assert len(proxy.of("AssumeRole")) == 1


def test_a_denied_role_costs_one_assume_role_on_the_lean_path(aws: AwsSandbox,
                                                              spawn) -> None:  # noqa: F811
    aws.locked_world()
    with StsProxy(aws.url) as proxy:
        spawn({**os.environ, "AWS_ENDPOINT_URL_STS": proxy.url}).wait_ready()
        denied = roletray("assume", "locked", "--json")
        assert denied.returncode == 1
        assert denied.stderr.startswith("roletray: profile 'locked': the trust policy")
        assert len(denied.stderr.splitlines()) == 1
        assert json.loads(denied.stdout)["exit_code"] == 1
        assert len(proxy.of("AssumeRole")) == 1  # the full path took the lean path's reply


# --------------------------------------------------- the words, byte for byte

SNAPSHOT = {"state": "fresh", "role": "platform", "target": "roletray",
            "identity_arn": "arn:aws:sts::123456789012:assumed-role/platform/s",
            "account": "123456789012", "expiration": None, "seconds_left": None,
            "last_error": None, "clock_skew_seconds": None, "mfa_session_expiration": None,
            "input_needed": None, "input_profile": None, "problem": None}


@contextmanager
def scripted(answer: Callable[[dict[str, Any]], dict[str, Any]]
             ) -> Iterator[list[dict[str, Any]]]:
    """A running instance that answers ``answer(call)``; yields the calls it got."""
    calls: list[dict[str, Any]] = []

    def handler(call: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(call))
        return answer(call)

    server = control.ControlServer(handler, control.socket_path(here()), where=here()).start()
    try:
        yield calls
    finally:
        server.stop()


@pytest.mark.parametrize("lang", ["C.UTF-8", "ko_KR.UTF-8"])
@pytest.mark.parametrize("target", ["roletray", "elsewhere"])
@pytest.mark.parametrize("form", [("--json",), ()])
def test_the_lean_path_says_what_the_full_path_says(target: str, form: tuple[str, ...],
                                                    lang: str) -> None:
    snapshot = {**SNAPSHOT, "target": target}
    env = {**os.environ, "LANG": lang}
    with scripted(lambda _: wire.ok(snapshot=snapshot, default_target="roletray")) as calls:
        lean = roletray("assume", "platform", *form, env=env)
        assert len(calls) == 1  # the plain form too: its lines from the one reply
        full = roletray("assume", "platform", *form, full=True, env=env)
        assert len(calls) == 2
    assert lean.returncode == full.returncode == 0, lean.stderr + full.stderr
    assert (lean.stdout, lean.stderr) == (full.stdout, full.stderr)
    said = "Switched the running roletray" if target == "roletray" else "keeps platform fresh"
    assert form or lang.startswith("ko") or said in lean.stdout
    assert form or not lang.startswith("ko") or "역할  platform" in lean.stdout  # Korean
    # The same request, marked: nobody was asked, so a guarded profile is declined.
    assert calls[0] == {**calls[1], "unattended": True}
    assert calls[1] == handover.call_of("platform")


def test_a_code_needed_is_asked_for_once(tmp_path: Path) -> None:
    """The instance needs an MFA code: the lean path's reply goes to the full command
    line, which says what it always said (no terminal to ask on), one request in all."""
    refusal = wire.encode_error(MfaRequiredError(profile="platform",
                                                 mfa_serial="arn:aws:iam::1:mfa/dev"))
    with scripted(lambda _: refusal) as calls:
        lean = roletray("assume", "platform", "--json")
        assert len(calls) == 1
        full = roletray("assume", "platform", "--json", full=True)
        assert len(calls) == 2
    assert lean.returncode == full.returncode != 0
    assert (lean.stdout, lean.stderr) == (full.stdout, full.stderr)


def test_declines_go_the_full_way(tmp_path: Path) -> None:
    """A decline (a guarded profile, other AWS files) is no answer: the full command
    line runs as it always did, and sends its own request."""
    answers = iter([wire.declined(wire.NEEDS_PERSON, "guarded"),
                    wire.ok(snapshot=SNAPSHOT, default_target="roletray")])
    with scripted(lambda _: next(answers)) as calls:
        run = roletray("assume", "platform", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == SNAPSHOT
    assert [c.get("unattended") for c in calls] == [True, None]
    assert handover.NEEDS_PERSON == wire.NEEDS_PERSON


def test_a_kept_reply_answers_only_the_same_request_once() -> None:
    from tray.domain.errors import AccessDeniedError
    from tray.serve import fastpath

    refusal = wire.encode_error(AccessDeniedError("profile 'platform': denied"))
    payload = {k: v for k, v in handover.call_of("platform").items() if k != "cmd"}
    files = fastpath.aws_files(os.environ)
    with scripted(lambda _: refusal) as calls:
        assert handover.ask("platform", os.environ, files) is None and len(calls) == 1
        reply = control.send("assume", payload, where=here())  # the kept one
        assert len(calls) == 1 and reply == refusal
        control.send("assume", payload, where=here())  # once: asked now
        assert len(calls) == 2
        assert handover.ask("platform", os.environ, files) is None and len(calls) == 3
        control.send("assume", {**payload, "force": True}, where=here())  # another request
        assert len(calls) == 4
        control.send("assume", payload, where=here())  # and the kept one went with it
        assert len(calls) == 5
        # Other AWS files: declined before the handler; a decline is not kept.
        assert handover.ask("platform", os.environ, {**files, "config": "/elsewhere"}) is None
        assert len(calls) == 5
        control.send("assume", payload, where=here())
        assert len(calls) == 6


def test_a_switch_with_no_answer_in_time_is_never_sent_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The instance got the request and is still at it (a refresh in flight, a role's
    mfa_process): the lean path waits as long as the full command line, and when no
    answer comes the full command line says what it always said, without sending the
    switch a second time."""
    import threading

    from tray.serve import fastpath

    assert handover.TIMEOUT == wire.HANDOVER_TIMEOUT  # kept in step
    monkeypatch.setattr(handover, "TIMEOUT", 0.3)  # not minutes in a test
    release = threading.Event()

    def slow(_: dict[str, Any]) -> dict[str, Any]:
        release.wait(30)
        return wire.ok(snapshot=SNAPSHOT, default_target="roletray")

    payload = {k: v for k, v in handover.call_of("platform").items() if k != "cmd"}
    with scripted(slow) as calls:
        try:
            assert handover.ask("platform", os.environ, fastpath.aws_files(os.environ)) is None
            reply = control.send("assume", payload, where=here())
            assert len(calls) == 1  # not sent again
            assert reply is not None and reply["ok"] is False
            assert "did not answer within 0 s" in str(reply["error"])
            assert "roletray status" in str(reply["error"])
        finally:
            release.set()


def test_a_switch_handed_over_says_its_warnings_in_the_readers_language(
        aws: AwsSandbox, spawn) -> None:  # noqa: F811
    """The instance's switch warns as the command's own would (a credentials file others
    can read): on stderr, on the lean path and the full one alike, in Korean too."""
    aws.seed_world()
    aws.enforce()
    spawn(dict(os.environ)).wait_ready()
    aws.credentials_path.chmod(0o644)
    english = roletray("assume", "platform")
    assert english.returncode == 0, english.stderr
    assert "warning: " in english.stderr and "is readable by other users (mode 644)" \
        in english.stderr
    full = roletray("assume", "platform", full=True)
    assert (full.returncode, full.stderr) == (0, english.stderr)
    korean = roletray("assume", "platform", env={**os.environ, "LANG": "ko_KR.UTF-8"})
    assert korean.returncode == 0, korean.stderr
    assert "다른 사용자가 읽을 수 있습니다(모드 644)" in korean.stderr
    assert json.loads(roletray("assume", "platform", "--json").stdout)["role"] == "platform"


@pytest.mark.parametrize("form", [("--json",), ()])
def test_a_reader_that_left_ends_the_lean_path_as_the_full_one(form: tuple[str, ...]) -> None:
    """`roletray assume P | head -c0`: exit 141, as a shell reports SIGPIPE, and no
    traceback, on the lean path as on the full one."""
    with scripted(lambda _: wire.ok(snapshot=SNAPSHOT, default_target="roletray")) as calls:
        read, write = os.pipe()
        os.close(read)  # the reader has left before the first byte
        try:
            done = subprocess.run([sys.executable, "-m", "tray", "assume", "platform", *form],
                                  stdout=write, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60,
                                  check=False, stdin=subprocess.DEVNULL)
        finally:
            os.close(write)
        assert len(calls) == 1  # answered by the lean path: one request
    assert (done.returncode, done.stderr) == (141, "")
