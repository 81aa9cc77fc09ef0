"""Errors become typed problems by one function; a snapshot carries one, as fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tray.domain import errors
from tray.domain.models import RefreshState, Snapshot
from tray.domain.problems import PROBLEM_CODES, Problem, problem_from

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("error", "code", "kind", "profile"), [
    (errors.SsoLoginRequiredError(profile="sso-dev", reason="token expired"),
     "needs_sso", "sso", "sso-dev"),
    (errors.CredentialProcessTimeoutError(profile="waits", seconds=30),
     "process_timeout", "process", "waits"),
    # An MFA code is asked for the role being assumed, whichever profile the error names.
    (errors.MfaRequiredError(profile="chained", mfa_serial="arn:aws:iam::1:mfa/dev"),
     "needs_mfa", "mfa", "platform"),
    (errors.MfaSessionEndedError(profile="platform", mfa_serial="arn", code="ExpiredToken"),
     "needs_mfa", "mfa", "platform"),
    (errors.AccessDeniedError("profile 'platform': AccessDenied: no"), "access_denied", None,
     "platform"),
    (errors.EndpointError("could not reach STS"), "endpoint", None, "platform"),
    (errors.SourceCredentialsError("no keys"), "source_credentials", None, "platform"),
    (errors.AwsError("throttled"), "aws", None, "platform"),
    (errors.CredentialsFileError("line 3: bad"), "bad_file", None, "platform"),
    (errors.StateError("broken"), "bad_file", None, "platform"),
    (errors.UnknownProfileError(profile="nope", path="~/.aws/config"), "config", None, "nope"),
    (errors.UsageError("6 digits"), "usage", None, "platform"),
    (errors.RoletrayError("internal error (KeyError); see the log"), "internal", None,
     "platform"),
])
def test_each_error_class_has_its_code(error: errors.RoletrayError, code: str,
                                       kind: str | None, profile: str) -> None:
    p = problem_from(error, role="platform")
    assert (p.code, p.input_kind, p.profile) == (code, kind, profile)
    assert p.message == str(error) and p.hint is None


def test_the_class_decides_not_the_words() -> None:
    """An error whose text reads like another kind keeps its own class's code."""
    looks_sso = errors.EndpointError("SSO sign-in needed for profile 'x'; AccessDenied: MFA")
    p = problem_from(looks_sso, role="platform")
    assert (p.code, p.input_kind, p.profile) == ("endpoint", None, "platform")


def test_a_refused_code_asks_for_the_next_one() -> None:
    denied = errors.AccessDeniedError("profile 'secure': the MFA code was rejected")
    p = problem_from(denied, role="secure", code_given=True)
    assert (p.code, p.input_kind, p.profile) == ("access_denied", "mfa", "secure")


def test_a_hint_the_error_carries_becomes_the_problems_hint() -> None:
    denied = errors.AccessDeniedError("profile 'locked': AccessDenied: ...",
                                      hint="it trusts\narn:aws:iam::999999999999:root")
    assert problem_from(denied).hint == "it trusts arn:aws:iam::999999999999:root"


def test_a_problem_is_one_line_and_checked() -> None:
    assert Problem("aws", "a\nmultiline  message").message == "a multiline message"
    with pytest.raises(ValueError, match="problem code"):
        Problem("nonsense", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="input kind"):
        Problem("needs_mfa", "x", input_kind="yubikey")  # type: ignore[arg-type]


def test_json_round_trip_and_unknown_codes() -> None:
    p = Problem("needs_sso", "sign in", profile="sso-dev", input_kind="sso", hint="expired")
    assert Problem.from_json(json.loads(json.dumps(p.to_json()))) == p
    assert Problem.from_json(None) is None
    newer = Problem.from_json({"code": "from_the_future", "message": "m", "input_kind": "eye"})
    assert newer == Problem("internal", "m")
    assert PROBLEM_CODES >= {"access_denied", "needs_mfa", "needs_sso", "process_timeout",
                             "endpoint", "source_credentials", "bad_file"}


def test_status_json_keeps_its_keys_and_adds_the_problem() -> None:
    p = Problem("process_timeout", "credential_process for profile 'waits' did not answer",
                profile="waits", input_kind="process")
    doc = Snapshot(state=RefreshState.NEEDS_INPUT, role="platform", now=NOW,
                   problem=p).to_json()
    assert doc["last_error"] == p.message
    assert (doc["input_needed"], doc["input_profile"]) == ("process", "waits")
    assert doc["problem"] == p.to_json()
    # Outside needs-input, nothing is waited for, though the problem is still said.
    doc = Snapshot(state=RefreshState.REFRESHING, role="platform", now=NOW,
                   problem=p).to_json()
    assert (doc["input_needed"], doc["input_profile"], doc["last_error"]) == (
        None, None, p.message)
    assert Snapshot().to_json()["problem"] is None and Snapshot().last_error is None
