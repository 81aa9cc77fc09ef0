"""Which state changes become notifications: sequences of snapshots, one note per change."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tray.domain.errors import InputKind
from tray.domain.models import RefreshState, Snapshot
from tray.domain.problems import Problem, ProblemCode, plain_reason
from tray.domain.timefmt import clock_time
from tray.platform.notify import (
    DIAGNOSE_ACTION,
    MFA_ACTION,
    MFA_ACTION_LABEL,
    SSO_ACTION,
    SSO_ACTION_LABEL,
    CallbackNotifier,
    FallbackNotifier,
    LogNotifier,
    Notification,
    NotificationPolicy,
    OsascriptNotifier,
    choose_notifier,
    refused_switch,
)

S = RefreshState
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
EXP = T0 + timedelta(hours=1)
DENIED = ("AccessDenied: User: arn:aws:iam::123456789012:user/dev is not authorized to "
          "perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/platform")
# A refused refresh as tray.aws.sts says it: the finding first, the fix pointer once.
STS_DENIED = ("profile 'platform': the trust policy of role 'platform' probably does not "
              "trust arn:aws:iam::123456789012:user/dev (AWS: AccessDenied for sts:AssumeRole "
              "on arn:aws:iam::123456789012:role/platform); `roletray doctor platform` shows "
              "the fix")


def snap(state: RefreshState, *, role: str | None = "platform", minutes: float = 0,
         exp: datetime | None = EXP, error: str | Problem | None = None) -> Snapshot:
    """A snapshot; an ``error`` text is a problem of its own kind (AWS's denial, or the
    endpoint's failure), for ``role``."""
    if isinstance(error, str):
        error = Problem("access_denied" if error.startswith("AccessDenied") else "endpoint",
                        error, profile=role)
    return Snapshot(state=state, role=role, target="roletray",
                    identity_arn="arn:aws:sts::123456789012:assumed-role/platform/s" if role else None,
                    account="123456789012" if role else None,
                    expiration=exp if role else None, now=T0 + timedelta(minutes=minutes),
                    problem=error)


def run(policy: NotificationPolicy, seq: list[Snapshot], first: Snapshot | None = None
        ) -> list[Notification | None]:
    out: list[Notification | None] = []
    prev = first or Snapshot()
    for s in seq:
        out.append(policy.on_change(prev, s))
        prev = s
    return out


def kinds(notes: list[Notification | None]) -> list[str | None]:
    return [n.kind if n else None for n in notes]


@pytest.fixture
def policy() -> NotificationPolicy:
    return NotificationPolicy(tz=ZoneInfo("Europe/Paris"))


def test_switch_is_announced_once(policy: NotificationPolicy) -> None:
    notes = run(policy, [snap(S.REFRESHING), snap(S.FRESH), snap(S.FRESH, minutes=1)])
    assert kinds(notes) == [None, "switch", None]
    note = notes[1]
    assert note is not None
    assert note.title == "Now working as platform"
    assert note.body == ("123456789012 · expires 14:00 CET (in 1 h); tools use "
                         "AWS_PROFILE=roletray.")
    # Switching to another role is news again.
    other = run(policy, [snap(S.FRESH, role="readonly")], first=snap(S.FRESH))
    assert kinds(other) == ["switch"]


def test_what_is_true_at_start_is_not_news(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    assert kinds(run(policy, [snap(S.REFRESHING), snap(S.FRESH)], first=snap(S.FRESH))) == [
        None, None]


def test_routine_refreshes_are_silent(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    seq = []
    for i in range(20):
        exp = EXP + timedelta(minutes=50 * i)
        seq += [snap(S.REFRESHING, minutes=50 * i, exp=exp),
                snap(S.FRESH, minutes=50 * i, exp=exp + timedelta(minutes=50))]
    assert all(n is None for n in run(policy, seq, first=snap(S.FRESH)))


def test_retrying_tells_the_reason_once_then_warns_before_expiry_then_recovers(
        policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    reason = "EndpointError: could not reach https://sts.amazonaws.com"
    seq = [snap(S.REFRESHING, minutes=40),
           snap(S.RETRYING, minutes=40, error=reason)]
    # Repeated failures while the keys are still good: nothing new to say...
    seq += [snap(S.RETRYING, minutes=40 + i, error=f"{reason} (try {i})") for i in range(1, 9)]
    # ...until the keys are about to expire, said once.
    seq += [snap(S.RETRYING, minutes=51, error=reason), snap(S.RETRYING, minutes=52, error=reason)]
    seq += [snap(S.RETRYING, minutes=55, error=reason)]
    seq += [snap(S.REFRESHING, minutes=56), snap(S.FRESH, minutes=56, exp=EXP + timedelta(hours=1))]
    seq += [snap(S.REFRESHING, minutes=110), snap(S.FRESH, minutes=110,
                                                  exp=EXP + timedelta(hours=2))]
    notes = run(policy, seq, first=snap(S.FRESH))
    assert kinds(notes) == [None, "retrying"] + [None] * 8 + ["expiring", None, None,
                                                             None, "recovered", None, None]
    retry, warn = notes[1], notes[10]
    assert retry is not None and warn is not None
    assert retry.body == f"{reason}. The keys expire 14:00 CET (in 20 min)."
    assert warn.urgency == "critical" and "in 9 min" in warn.body and reason in warn.body
    recovered = notes[14]
    assert recovered is not None and recovered.title == "platform: keys are fresh again"


def test_a_failure_close_to_expiry_does_not_warn_twice(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    notes = run(policy, [snap(S.RETRYING, minutes=55, error="timeout"),
                         snap(S.RETRYING, minutes=57, error="timeout"),
                         snap(S.RETRYING, minutes=59, error="timeout")], first=snap(S.FRESH))
    assert kinds(notes) == ["retrying", None, None]


def test_needs_input_offers_the_prompt_and_never_floods(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    err = "profile 'platform' needs an MFA code for arn:aws:iam::123456789012:mfa/dev"
    seq = [snap(S.NEEDS_INPUT, minutes=40, error=err)]
    seq += [snap(S.NEEDS_INPUT, minutes=40 + i / 60, error=err) for i in range(1, 1200)]
    notes = run(policy, seq, first=snap(S.FRESH))
    said = [n for n in notes if n]
    assert [n.kind for n in said] == ["needs-input", "expiring"]
    assert all(n.action == MFA_ACTION for n in said)
    assert said[0].body == ("An MFA code is needed to renew the keys. They expire 14:00 CET "
                            "(in 20 min). Click to enter the code.")
    # Providing the code brings the keys back: recovery is said.
    done = run(policy, [snap(S.REFRESHING, minutes=60), snap(S.FRESH, minutes=60,
                                                               exp=EXP + timedelta(hours=1))],
               first=seq[-1])
    assert kinds(done) == [None, "recovered"]


def test_errors_name_the_reason_and_repeat_only_when_it_changes(
        policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    denied = Problem("access_denied", STS_DENIED, profile="platform")
    seq = [snap(S.REFRESHING, minutes=50), snap(S.ERROR, minutes=50, error=denied),
           snap(S.ERROR, minutes=55, error=denied), snap(S.ERROR, minutes=56, error=denied),
           snap(S.ERROR, minutes=57, error="ConfigError: ~/.aws/config, line 3: bad")]
    notes = run(policy, seq, first=snap(S.FRESH))
    assert kinds(notes) == [None, "failure", None, None, "failure"]
    first = notes[1]
    assert first is not None
    # The keys still work (until 14:00 CET): refused, not failed; critical once they are gone.
    assert (first.title, first.urgency) == ("platform: refresh refused", "normal")
    # The finding, as the CLI and a refused switch say it (not "AWS denied access").
    assert first.body == STS_DENIED.removeprefix("profile 'platform': ") + \
        "; keys work until 14:00 CET."
    assert first.action == "diagnose"
    gone = NotificationPolicy(tz=policy.tz)
    gone.seed(snap(S.FRESH))
    late = gone.on_change(snap(S.FRESH), snap(S.ERROR, minutes=61, error=DENIED))
    assert late is not None
    assert (late.title, late.body, late.urgency) == ("platform: failed", DENIED, "critical")


def test_expired_is_critical_and_said_once(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    seq = [snap(S.RETRYING, minutes=59.5, error="timeout"), snap(S.EXPIRED, minutes=60),
           snap(S.EXPIRED, minutes=61), snap(S.EXPIRED, minutes=70, error="timeout")]
    notes = run(policy, seq, first=snap(S.FRESH))
    assert kinds(notes) == ["retrying", "expired", None, None]
    expired = notes[1]
    assert expired is not None and expired.urgency == "critical"


def test_stop_is_said_once(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    notes = run(policy, [snap(S.IDLE, role=None), snap(S.IDLE, role=None)], first=snap(S.FRESH))
    assert kinds(notes) == ["stopped", None]
    stopped = notes[0]
    assert stopped is not None and stopped.body == ("The keys of platform were removed from "
                                                    "[roletray].")


def test_startup_problem_is_not_repeated_but_change_is_news(policy: NotificationPolicy) -> None:
    start = snap(S.ERROR, error=DENIED)
    policy.seed(start)
    notes = run(policy, [snap(S.ERROR, minutes=5, error=DENIED),
                         snap(S.FRESH, minutes=6)], first=start)
    # The error was on screen (menu, icon) from the start; its end is announced as a switch
    # to working keys only if nothing was said: recovery needs a told problem.
    assert kinds(notes) == [None, None]


def test_local_time_never_passes_utc_off_as_local() -> None:
    dt = datetime(2026, 11, 28, 13, 26, tzinfo=UTC)
    assert clock_time(dt, tz=ZoneInfo("Asia/Seoul")) == "22:26 KST"
    assert clock_time(dt, tz=UTC) == "13:26 UTC"
    assert clock_time(dt, dt - timedelta(days=3), ZoneInfo("Europe/Paris")) == "Nov 28 14:26 CET"


# ------------------------------------------------------------------------ backends

def test_log_notifier_and_fallback(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        supports_actions = True

        def notify(self, *a: object, **k: object) -> None:
            raise ConnectionError("no bus")

        def close(self) -> None:
            pass

    shown: list[tuple[str, str]] = []
    chain = FallbackNotifier([Broken(), CallbackNotifier(lambda m, t: shown.append((t, m)))])
    chain.notify("title", "body")
    assert shown == [("title", "body")]
    assert chain.supports_actions  # the first backend's capability
    with caplog.at_level(logging.INFO):
        FallbackNotifier([Broken(), LogNotifier()]).notify("roletray", "hello", urgency="critical")
    assert "notification: roletray: hello" in caplog.text
    assert "ConnectionError" in caplog.text


def test_osascript_quotes_its_strings() -> None:
    calls: list[list[str]] = []
    OsascriptNotifier(runner=lambda argv, **kw: calls.append(argv)).notify(
        'say "hi"', "back\\slash")
    assert calls == [["osascript", "-e",
                      'display notification "back\\\\slash" with title "say \\"hi\\""']]


def test_choose_notifier_by_platform() -> None:
    mac = choose_notifier(platform="darwin", env={})
    assert isinstance(mac, FallbackNotifier)
    assert isinstance(mac._notifiers[0], OsascriptNotifier)
    shown: list[tuple[str, str]] = []
    win = choose_notifier(platform="win32", env={}, icon_notify=lambda m, t: shown.append((t, m)))
    win.notify("t", "m")
    assert shown == [("t", "m")]
    assert isinstance(choose_notifier(platform="linux", env={}, enabled=False), LogNotifier)
    linux = choose_notifier(platform="linux", env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"})
    assert type(linux._notifiers[0]).__name__ == "FreedesktopNotifier"  # type: ignore[attr-defined]
    headless = choose_notifier(platform="linux", env={})
    assert isinstance(headless._notifiers[0], LogNotifier)  # type: ignore[attr-defined]


# ------------------------------------------------------------ what needs-input waits for

SSO_ERROR = ("SSO sign-in needed for profile 'sso-dev' (token expired); choose \"Sign in to "
             "AWS SSO…\" in the tray or run `aws sso login --profile sso-dev`")
PROCESS_ERROR = ("credential_process for profile 'waits' did not answer within 30 s (it may "
                 "be waiting for you)")


CODES: dict[InputKind, ProblemCode] = {"mfa": "needs_mfa", "sso": "needs_sso",
                                       "process": "process_timeout",
                                       "keyring": "needs_keyring"}
KEYRING_ERROR = ("the OS keyring holding the keys of 'default' is locked: unlock it from "
                 "your desktop (it asks for your login password), then try again")


def waiting(kind: InputKind, minutes: float, error: str, profile: str = "platform",
            **kw: object) -> Snapshot:
    problem = Problem(CODES[kind], error, profile=profile, input_kind=kind)
    return replace(snap(S.NEEDS_INPUT, minutes=minutes, error=problem), **kw)


def test_sso_sign_in_is_asked_once_with_a_sign_in_button(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    seq = [waiting("sso", 40 + i / 3, SSO_ERROR, profile="sso-dev") for i in range(60)]
    notes = run(policy, seq, first=snap(S.FRESH))
    said = [n for n in notes if n]
    assert [n.kind for n in said] == ["needs-input", "expiring"]  # then 10 min before expiry
    first = said[0]
    assert (first.title, first.body, first.urgency) == (
        "platform: SSO sign-in needed", SSO_ERROR, "critical")
    assert all(n.action == SSO_ACTION for n in said)
    assert SSO_ACTION_LABEL == "Sign in" and SSO_ACTION != MFA_ACTION
    assert "MFA" not in first.title + first.body


def test_a_waiting_credential_process_offers_no_mfa_button(policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    seq = [waiting("process", 40 + i / 3, PROCESS_ERROR) for i in range(60)]
    said = [n for n in run(policy, seq, first=snap(S.FRESH)) if n]
    assert [n.kind for n in said] == ["needs-input", "expiring"]
    assert said[0].title == "platform: credential process is waiting"
    assert said[0].body == f"{PROCESS_ERROR}. The keys expire 14:00 CET (in 20 min)."
    assert [n.action for n in said] == [None, None]
    assert all("MFA" not in n.title + n.body for n in said)


def test_a_locked_keyring_says_unlock_it_once_without_an_mfa_button(
        policy: NotificationPolicy) -> None:
    policy.seed(snap(S.FRESH))
    seq = [waiting("keyring", 40 + i / 3, KEYRING_ERROR, profile="default")
           for i in range(60)]
    said = [n for n in run(policy, seq, first=snap(S.FRESH)) if n]
    assert [n.kind for n in said] == ["needs-input", "expiring"]
    assert said[0].title == "platform: keyring locked — unlock it"
    assert said[0].body == f"{KEYRING_ERROR}. The keys expire 14:00 CET (in 20 min)."
    assert [n.action for n in said] == [None, None]  # the menu's "Try again" after unlocking
    assert all("MFA" not in n.title + n.body for n in said)


def test_the_mfa_ask_ahead_of_the_session_end_is_one_notification(
        policy: NotificationPolicy) -> None:
    """The refresher asks 15 min before the MFA session ends while the keys still work:
    one notification with "Enter MFA code", nothing more while it waits (ticks every
    20 s, the session ending, the refresh that then fails for want of a code); only the
    keys' own last 10 minutes bring the one "expire soon" reminder."""
    session_end = T0 + timedelta(minutes=30)  # keys until T0 + 1 h
    ahead = ("the MFA session for arn:aws:iam::123456789012:mfa/dev ends at "
             "2026-11-28T12:30:00Z: enter an MFA code to keep 'platform' fresh after that")
    needs_code = "profile 'platform' needs an MFA code for arn:aws:iam::123456789012:mfa/dev"
    policy.seed(snap(S.FRESH))
    seq = [replace(snap(S.FRESH, minutes=i / 3), mfa_session_expiration=session_end)
           for i in range(45)]  # 0 .. 14:40
    seq += [waiting("mfa", 15 + i / 3, ahead,
                    mfa_session_expiration=session_end) for i in range(105)]  # .. 49:40
    seq += [replace(snap(S.REFRESHING, minutes=49.9), mfa_session_expiration=session_end),
            waiting("mfa", 49.9, needs_code,
                    mfa_session_expiration=session_end)]
    notes = run(policy, seq, first=snap(S.FRESH))
    said = [n for n in notes if n]
    assert len(said) == 1
    (note,) = said
    assert notes.index(note) == 45  # at the ask, not later
    assert (note.kind, note.title, note.urgency, note.action) == (
        "needs-input", "platform: MFA code needed", "critical", MFA_ACTION)
    assert MFA_ACTION_LABEL == "Enter MFA code"  # the button the tray shows for it
    assert note.body == ("The MFA session ends 13:30 CET (in 15 min); a new code keeps the "
                         "keys fresh after that. Click to enter the code.")
    assert "2026-11-28T12:30:00Z" not in note.body  # local time, not the raw UTC of the error
    later = run(policy, [waiting("mfa", 50.5, needs_code, mfa_session_expiration=session_end)],
                first=seq[-1])
    assert kinds(later) == ["expiring"] and later[0] is not None
    assert later[0].action == MFA_ACTION


# ------------------------------------------------------------- what a problem's fields say

ROLE_ARN = "arn:aws:iam::123456789012:role/locked"
FINDING = ("the trust policy of role 'locked' does not trust you (it trusts "
           "arn:aws:iam::999999999999:root)")


def test_a_refused_switch_leads_with_the_finding_then_the_role() -> None:
    denied = Problem("access_denied", f"profile 'locked': {DENIED}; the role's trust "
                     "relationship probably does not include this user", profile="locked",
                     hint=FINDING)
    note = refused_switch("locked", denied, ROLE_ARN)
    assert (note.title, note.urgency) == ("Could not switch to locked", "critical")
    assert note.body.splitlines() == [FINDING, f"Role: {ROLE_ARN}"]
    # AWS's own text is behind the Diagnose button, for that role, not in the body.
    assert "not authorized" not in note.body and "probably" not in note.body
    assert (note.action, note.profile) == (DIAGNOSE_ACTION, "locked")


def test_a_refused_switch_without_the_doctors_finding_says_the_denials() -> None:
    denied = Problem("access_denied", STS_DENIED.replace("platform", "locked"),
                     profile="locked")
    note = refused_switch("locked", denied)
    assert note.body.splitlines() == [
        denied.message.removeprefix("profile 'locked': "), "Role: locked"]
    # roletray's own sentences are plain words already: said as they are.
    unreachable = Problem("endpoint", "profile 'locked': could not reach STS at "
                          "http://127.0.0.1:9: the connection failed", profile="locked")
    assert refused_switch("locked", unreachable, ROLE_ARN).body.splitlines() == [
        unreachable.message.removeprefix("profile 'locked': "), f"Role: {ROLE_ARN}"]


def test_the_kind_of_input_comes_from_the_problem_not_its_words(
        policy: NotificationPolicy) -> None:
    """A message that reads like another kind (the SSO sentence, "MFA") changes nothing:
    the problem's input kind decides the title and the button."""
    policy.seed(snap(S.FRESH))
    note = policy.on_change(snap(S.FRESH), waiting("process", 40, SSO_ERROR + " MFA code"))
    assert note is not None and note.title == "platform: credential process is waiting"
    assert note.action is None
    policy = NotificationPolicy()
    policy.seed(snap(S.FRESH))
    note = policy.on_change(snap(S.FRESH), waiting("sso", 40, PROCESS_ERROR, profile="sso-dev"))
    assert note is not None and (note.title, note.action) == (
        "platform: SSO sign-in needed", SSO_ACTION)


def test_plain_reason_reads_fields() -> None:
    # An AccessDenied that was an MFA code being refused: the message is the reason.
    rejected = Problem("access_denied", "profile 'secure': the MFA code was rejected",
                       profile="secure", input_kind="mfa")
    assert plain_reason(rejected) == "the MFA code was rejected"
    # Words that look like a denial do not make an endpoint problem one.
    assert plain_reason(Problem("endpoint", DENIED)) == DENIED
    assert plain_reason(Problem("aws", DENIED, hint="check the clock")) == "check the clock"


# ------------------------------------------- sections kept besides the active role's

def kept(state: RefreshState, *, minutes: float = 0, target: str = "second",
         error: str | Problem | None = None, exp: datetime | None = EXP) -> Snapshot:
    return replace(snap(state, role="readonly", minutes=minutes, error=error, exp=exp),
                   target=target)


def test_a_kept_sections_trouble_is_one_note_naming_the_section_by_the_same_rules() -> None:
    from tray.platform.notify import KeptNotices

    notices = KeptNotices(tz=UTC)
    assert notices.on_change([kept(S.FRESH)]) == []  # at start, fresh: not news
    [retrying] = notices.on_change([kept(S.RETRYING, minutes=1, error="timed out")])
    assert retrying.title == "[second] readonly: refresh failed, retrying"
    assert notices.on_change([kept(S.RETRYING, minutes=2, error="timed out")]) == []  # no flood
    [fresh] = notices.on_change([kept(S.FRESH, minutes=3, exp=EXP + timedelta(hours=1))])
    assert fresh.title == "[second] readonly: keys are fresh again"

    # Needs an MFA code: the button, for that section (the tray asks the code for it).
    mfa = Problem("needs_mfa", "needs an MFA code", profile="readonly", input_kind="mfa")
    [ask] = notices.on_change([kept(S.NEEDS_INPUT, minutes=4, error=mfa)])
    assert ask.title == "[second] readonly: MFA code needed"
    assert (ask.action, ask.target) == (MFA_ACTION, "second")
    assert ask.body.endswith("Click to enter the code.")
    # An SSO sign-in answers the active role: no button for a kept section.
    sso = Problem("needs_sso", "SSO sign-in needed", profile="readonly", input_kind="sso")
    [sign_in] = notices.on_change([kept(S.NEEDS_INPUT, minutes=4, error=sso,
                                        target="fourth")])
    assert sign_in.action is None and sign_in.target is None

    # A refused refresh keeps its Diagnose button, for that section's role.
    [refused] = notices.on_change([kept(S.ERROR, minutes=5, error=DENIED, target="third")])
    assert refused.title == "[third] readonly: refresh refused"
    assert (refused.action, refused.profile) == (DIAGNOSE_ACTION, "readonly")


def test_a_kept_section_is_not_news_when_added_or_removed_and_starts_over_when_back() -> None:
    from tray.platform.notify import KeptNotices

    notices = KeptNotices(tz=UTC)
    assert notices.on_change([kept(S.REFRESHING)]) == []
    assert notices.on_change([kept(S.FRESH, minutes=1)]) == []  # no "Now working as"
    assert notices.on_change([kept(S.IDLE, minutes=2)]) == []  # nor "Keys removed"
    assert notices.on_change([]) == []
    [ask] = notices.on_change([kept(S.NEEDS_INPUT, minutes=3, error=Problem(
        "needs_mfa", "needs an MFA code", profile="readonly", input_kind="mfa"))])
    assert ask.kind == "needs-input"  # a person must act: news even on first sight


def test_one_ended_sign_in_is_one_notification_however_many_sections_wait() -> None:
    from tray.platform.notify import KeptNotices, OneSignInNotice

    ended = Problem("needs_signin", "the aws login sign-in of profile 'dev' has ended",
                    profile="dev", input_kind="signin")
    notices, once = KeptNotices(tz=UTC), OneSignInNotice()
    targets = [f"s{i}" for i in range(5)]
    fresh = [kept(S.FRESH, target=t) for t in targets]
    assert once.filter(notices.on_change(fresh), fresh) == []
    shown: list[Notification] = []
    # Each section finds the ended sign-in at its own refresh, a minute apart.
    now = list(fresh)
    for i in range(5):
        now[i] = kept(S.NEEDS_INPUT, minutes=i + 1, error=ended, target=targets[i])
        shown += once.filter(notices.on_change(now), now)
    [note] = shown
    assert note.sign_in == ("signin", "dev") and "aws login sign-in needed" in note.title
    # Signed in again: every section resumes, and the next end is news again.
    again = [kept(S.FRESH, minutes=10, exp=EXP + timedelta(hours=1), target=t) for t in targets]
    once.filter(notices.on_change(again), again)
    later = [kept(S.NEEDS_INPUT, minutes=20, error=ended, target=t) for t in targets]
    assert len(once.filter(notices.on_change(later), later)) == 1
