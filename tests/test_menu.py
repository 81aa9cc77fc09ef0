"""The tray menu as text, from snapshots: identity, local times, radio items, grouping."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tray.domain.errors import InputKind
from tray.domain.models import RefreshState, RoleProfile, Snapshot
from tray.domain.problems import Problem, ProblemCode
from tray.ui.menu import (
    CHUNK_MAX,
    FLAT_MAX,
    MenuActions,
    MenuNode,
    build_menu_model,
    find,
    is_marked,
    own_target,
    render_text,
    tray_look,
)

PARIS = ZoneInfo("Europe/Paris")
SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2026, 11, 28, 12, 34, tzinfo=UTC)
EXP = datetime(2026, 11, 28, 13, 26, tzinfo=UTC)  # 52 min after NOW
ACCT = "123456789012"
ARN = f"arn:aws:sts::{ACCT}:assumed-role/platform/roletray-1764340010"


def role(name: str, account: str = ACCT, **kw: object) -> RoleProfile:
    return RoleProfile(name=name, role_arn=f"arn:aws:iam::{account}:role/{name}",
                       source_profile="default", **kw)  # type: ignore[arg-type]


def fresh(**kw: object) -> Snapshot:
    base: dict[str, object] = {"state": RefreshState.FRESH, "role": "platform",
                               "target": "roletray", "identity_arn": ARN, "account": ACCT,
                               "expiration": EXP, "now": NOW}
    base.update(kw)
    return Snapshot(**base)  # type: ignore[arg-type]


def leaves(model: list[MenuNode] | tuple[MenuNode, ...]) -> list[MenuNode]:
    out: list[MenuNode] = []
    for n in model:
        if n.children:
            out += leaves(n.children)
        else:
            out.append(n)
    return out


def submenus(model: list[MenuNode] | tuple[MenuNode, ...]) -> list[MenuNode]:
    out: list[MenuNode] = []
    for n in model:
        if n.children:
            out.append(n)
            out += submenus(n.children)
    return out


PROFILES = {p.name: p for p in (role("platform"), role("readonly"),
                                 role("admin", "210987654321", mfa_serial="arn:aws:iam::210987654321:mfa/dev"))}


def test_fresh_menu_as_text() -> None:
    model = build_menu_model(fresh(), PROFILES, now=NOW, tz=PARIS, actions=MenuActions(),
                             autostart=False)
    assert render_text(model) == "\n".join([
        "platform → [roletray] [disabled]",
        f"Account {ACCT} [disabled]",
        f"{ARN} [disabled]",
        "expires 14:26 CET (in 52 min) [disabled]",
        "----",
        "( ) admin (MFA)",
        "(*) platform",
        "( ) readonly",
        "----",
        "Refresh now",
        "Stop (remove keys)",
        "Open console as platform",
        "Copy credential_process line for platform",
        "Diagnose…",
        "Copy “export AWS_PROFILE=roletray”",
        "Open AWS config",
        "Open log",
        "----",
        "Keep fresh in its own profile… >",
        "  admin → [admin-roletray]",
        "  platform → [platform-roletray]",
        "  readonly → [readonly-roletray]",
        "----",
        "[ ] Start at login",
        "Quit",
    ])


@pytest.mark.parametrize(("tz", "expected"), [
    (PARIS, "expires 14:26 CET (in 52 min)"),
    (SEOUL, "expires 22:26 KST (in 52 min)"),
    (UTC, "expires 13:26 UTC (in 52 min)"),
    (ZoneInfo("America/New_York"), "expires 08:26 EST (in 52 min)"),
    (timezone(timedelta(hours=5, minutes=30)), "expires 18:56 UTC+05:30 (in 52 min)"),
])
def test_expiry_is_local_time_with_its_zone(tz: object, expected: str) -> None:
    text = render_text(build_menu_model(fresh(), PROFILES, now=NOW, tz=tz,  # type: ignore[arg-type]
                                        actions=MenuActions()))
    assert expected in text
    if tz is not UTC:
        assert "13:26" not in text  # UTC is never shown as if it were local


def test_summer_time_and_other_days() -> None:
    now = datetime(2026, 7, 1, 21, 0, tzinfo=UTC)
    exp = now + timedelta(hours=2, minutes=5)
    text = render_text(build_menu_model(fresh(now=now, expiration=exp), PROFILES, now=now,
                                        tz=PARIS, actions=MenuActions()))
    # 23:05 UTC is 01:05 the next day in Paris, in summer time.
    assert "expires tomorrow 01:05 CEST (in 2 h 05 min)" in text


def test_expired_keys_say_how_long_ago() -> None:
    snap = fresh(state=RefreshState.EXPIRED, now=EXP + timedelta(minutes=4))
    text = render_text(build_menu_model(snap, PROFILES, now=EXP + timedelta(minutes=4), tz=PARIS,
                                        actions=MenuActions()))
    assert "expired 14:26 CET (4 min ago) [disabled]" in text
    assert "Keys expired [disabled]" in text


def test_idle_menu_disables_refresh_and_stop() -> None:
    snap = Snapshot(state=RefreshState.IDLE, now=NOW)
    model = build_menu_model(snap, PROFILES, now=NOW, tz=PARIS, actions=MenuActions())
    text = render_text(model)
    assert text.splitlines()[0] == "No role active: choose one below [disabled]"
    assert "Refresh now [disabled]" in text
    assert "Stop (remove keys) [disabled]" in text
    assert "(*)" not in text  # nothing checked
    assert "Start at login" not in text  # autostart unknown: hidden


DENIAL = ("profile 'platform': AccessDenied: User: arn:aws:iam::123456789012:user/dev is "
          "not authorized to perform: sts:AssumeRole on resource: "
          "arn:aws:iam::123456789012:role/platform;\nthe role's trust relationship probably "
          "does not include this user; run `roletray doctor platform`")
TRUST = "the role's trust relationship probably does not include this user"


def problem_text(problem: Problem, state: RefreshState = RefreshState.ERROR) -> str:
    # An error with the keys gone (the red case): the problem gets a line of its own.
    snap = fresh(state=state, problem=problem,
                 expiration=NOW - timedelta(minutes=1) if state is RefreshState.ERROR else EXP)
    model = build_menu_model(snap, PROFILES, now=NOW, tz=PARIS, actions=MenuActions())
    line = find(model, "⚠")
    assert line is not None and not line.enabled
    return line.text


def test_the_problem_is_one_disabled_line_with_the_gist() -> None:
    denied = Problem("access_denied", DENIAL, profile="platform", hint=TRUST)
    assert problem_text(denied) == f"⚠ platform: {TRUST}"
    # Without the doctor's, the denial's own finding (as tray.aws.sts words it) leads.
    sts_denial = ("profile 'platform': the trust policy of role 'platform' probably does not "
                  "trust arn:aws:iam::123456789012:user/dev (AWS: AccessDenied for "
                  "sts:AssumeRole on arn:aws:iam::123456789012:role/platform); `roletray "
                  "doctor platform` shows the fix")
    assert problem_text(Problem("access_denied", sts_denial, profile="platform")).startswith(
        "⚠ platform: the trust policy of role 'platform' probably does not trust "
        "arn:aws:iam::123456789012:user/dev")
    other = Problem("endpoint", "profile 'platform': could not reach STS at "
                    "http://127.0.0.1:9: the connection failed", profile="platform")
    assert problem_text(other, RefreshState.RETRYING) == (
        "⚠ platform: could not reach STS at http://127.0.0.1:9: the connection failed")
    long = problem_text(Problem("internal", "x" * 500))
    assert len(long) <= 112 and long.endswith("…")


@pytest.mark.parametrize("message", [
    DENIAL.replace("'platform'", "'other'"),
    "profile 'evil': Throttling: slow down; run `rm -rf`",
    "AccessDenied: the role's trust relationship probably does not include this user",
])
def test_the_line_comes_from_fields_not_from_the_words(message: str) -> None:
    """Text the old parser keyed on (a quoted profile, an AWS code, "; run `...`") in
    the message changes nothing: the profile and the hint fields make the line."""
    hinted = Problem("access_denied", message, profile="platform", hint="it trusts only you")
    assert problem_text(hinted) == "⚠ platform: it trusts only you"
    # A message that does not open with the problem's own profile is said whole.
    plain = Problem("endpoint", message, profile="platform")
    one_line = " ".join(message.split())
    assert problem_text(plain) == "⚠ " + (one_line if len(one_line) <= 110
                                          else one_line[:109] + "…")


def test_actions_are_wired() -> None:
    calls: list[object] = []
    acts = MenuActions(switch=lambda n: calls.append(("switch", n)),
                       enter_mfa=lambda: calls.append("mfa"),
                       refresh=lambda: calls.append("refresh"),
                       stop=lambda: calls.append("stop"),
                       diagnose=lambda: calls.append("diagnose"),
                       copy_export=lambda: calls.append("copy"),
                       open_config=lambda: calls.append("config"),
                       open_log=lambda: calls.append("log"),
                       toggle_autostart=lambda: calls.append("autostart"),
                       quit=lambda: calls.append("quit"),
                       open_console=lambda n: calls.append(("console", n)),
                       copy_process_line=lambda n: calls.append(("line", n)))
    snap = fresh(state=RefreshState.NEEDS_INPUT,
                 problem=Problem("needs_mfa", "needs an MFA code", profile="platform",
                                 input_kind="mfa"))
    model = build_menu_model(snap, PROFILES, now=NOW, tz=PARIS, actions=acts, autostart=True)
    for text in ("readonly", "Enter MFA code…", "Refresh now", "Stop (remove keys)",
                 "Open console as platform", "Copy credential_process line for platform",
                 "Diagnose…", "Copy “export", "Open AWS config", "Open log", "Start at login",
                 "Quit"):
        node = find(model, text)
        assert node is not None and node.action is not None and node.enabled, text
        node.action()
    assert calls == [("switch", "readonly"), "mfa", "refresh", "stop", ("console", "platform"),
                     ("line", "platform"), "diagnose", "copy", "config", "log", "autostart",
                     "quit"]
    assert "[x] Start at login" in render_text(model)


def test_mfa_item_only_when_a_code_is_needed() -> None:
    for state in RefreshState:
        model = build_menu_model(fresh(state=state), PROFILES, now=NOW, tz=PARIS,
                                 actions=MenuActions())
        assert (find(model, "Enter MFA code") is not None) == (state is RefreshState.NEEDS_INPUT)


def test_copy_names_the_target() -> None:
    model = build_menu_model(fresh(target="work"), PROFILES, now=NOW, tz=PARIS,
                             actions=MenuActions())
    assert find(model, "Copy “export AWS_PROFILE=work”") is not None


def test_no_profiles_and_problems() -> None:
    text = render_text(build_menu_model(Snapshot(now=NOW), {}, now=NOW, tz=PARIS,
                                        actions=MenuActions(), problems=2,
                                        config_hint="~/.aws/config"))
    assert "No role profiles in ~/.aws/config [disabled]" in text
    assert "2 profiles not usable (Diagnose… says why) [disabled]" in text


def test_flat_up_to_the_limit_then_grouped_by_account() -> None:
    flat = {f"r{i:02d}": role(f"r{i:02d}", ACCT if i % 2 else "210987654321")
            for i in range(FLAT_MAX)}
    model = build_menu_model(fresh(role="r03"), flat, now=NOW, tz=PARIS, actions=MenuActions())
    assert [n.text for n in submenus(model)] == ["Keep fresh in its own profile…"]
    many = {f"r{i:02d}": role(f"r{i:02d}", ACCT if i % 2 else "210987654321")
            for i in range(FLAT_MAX + 1)}
    model = build_menu_model(fresh(role="r03"), many, now=NOW, tz=PARIS, actions=MenuActions())
    text = render_text(model)
    assert f"\n{ACCT} (8 roles) ✓ >" in text
    assert "\n210987654321 (8 roles) >" in text
    assert "  (*) r03" in text


def test_rows_that_open_a_submenu_carry_no_check_state() -> None:
    """GTK toggles check/radio items as their submenus open (issue 15, bug 2): only the
    role items are radio items; the way to the active role is marked in the labels."""
    profiles = _big(40, 40)  # ranges of accounts, accounts split in chunks
    active = sorted(profiles)[777]
    model = build_menu_model(fresh(role=active), profiles, now=NOW, tz=PARIS,
                             actions=MenuActions())
    groups = submenus(model)
    assert groups and all(g.checked is None and not g.radio for g in groups)
    marked = [g for g in groups if is_marked(g)]
    assert len(marked) == 3, [g.text for g in marked]  # range, account, chunk
    assert marked[0].text.startswith("Accounts ") and marked[0].text.endswith(" ✓")
    assert active in {n.text for n in marked[-1].children if n.checked}
    assert "(*)" not in render_text([n for n in model if n.children]).replace(
        f"(*) {active}", "")


def _big(accounts: int, per: int) -> dict[str, RoleProfile]:
    out: dict[str, RoleProfile] = {}
    for a in range(accounts):
        acct = f"{100000000000 + a * 7919:012d}"
        for r in range(per):
            name = f"team{r:02d}-{acct[-4:]}-{['dev', 'ops', 'ro'][r % 3]}"
            out[name] = role(name, acct)
    return out


def test_two_thousand_profiles_in_two_hundred_accounts_stay_usable() -> None:
    profiles = _big(200, 10)
    assert len(profiles) == 2000
    active = sorted(profiles)[1234]
    start = time.perf_counter()
    model = build_menu_model(fresh(role=active), profiles, now=NOW, tz=PARIS,
                             actions=MenuActions())
    elapsed = time.perf_counter() - start
    radios = [n for n in leaves(model) if n.radio]
    assert sorted(n.text for n in radios) == sorted(profiles)  # each exactly once
    assert [n.text for n in radios if n.checked] == [active]
    for menu in submenus(model):
        assert len(menu.children) <= CHUNK_MAX, menu.text
    top_roles = [n for n in model if n.children]
    assert len(top_roles) <= CHUNK_MAX
    assert top_roles[0].text.startswith("Accounts 100000000000 … ")
    # The path to the active role is marked at every level.
    path = [n for n in submenus(model) if is_marked(n)]
    assert len(path) == 2 and active in render_text(list(path[-1].children))
    # A generous bound here; bench/menu_build.py measures against the 100 ms target.
    assert elapsed < 1.0


def test_one_big_account_is_chunked_alphabetically() -> None:
    names = [f"{c}{i}" for c in "abcdefghij" for i in range(10)]  # 100 roles, one account
    profiles = {n: role(n) for n in names}
    profiles["other"] = role("other", "210987654321")
    model = build_menu_model(fresh(role="c5"), profiles, now=NOW, tz=PARIS, actions=MenuActions())
    account = find(model, f"{ACCT} (100 roles)")
    assert account is not None and is_marked(account)
    chunks = account.children
    assert len(chunks) == 4 and all(len(c.children) == 25 for c in chunks)
    assert [c.text for c in chunks] == ["a0 … c4", "c5 … e9 ✓", "f0 … h4", "h5 … j9"]
    flat = [leaf.text for c in chunks for leaf in c.children]
    assert flat == sorted(flat, key=str.casefold)


@pytest.mark.parametrize(("state", "left", "colour", "badge"), [
    (RefreshState.FRESH, 52 * 60, "fresh", 50),  # in 5-minute steps down to 15
    (RefreshState.FRESH, 15 * 60 + 59, "fresh", 15),
    (RefreshState.FRESH, 14 * 60 + 59, "fresh", 14),  # then each minute
    (RefreshState.FRESH, 3 * 3600, "fresh", None),
    (RefreshState.REFRESHING, 600, "warning", 10),
    (RefreshState.RETRYING, 600, "warning", 10),
    (RefreshState.NEEDS_INPUT, 300, "warning", 5),
    (RefreshState.EXPIRED, 0, "error", None),
    (RefreshState.ERROR, 1200, "warning", 20),  # refused, but the keys still work
    (RefreshState.ERROR, 0, "error", None),
    (RefreshState.FRESH, 30, "fresh", 1),
])
def test_tray_look(state: RefreshState, left: int, colour: str, badge: int | None) -> None:
    snap = fresh(state=state, expiration=NOW + timedelta(seconds=left))
    look = tray_look(snap, NOW)
    assert (look.state, look.minutes_left) == (colour, badge)


@pytest.mark.parametrize(("state", "colour"), [
    (RefreshState.REFRESHING, "warning"), (RefreshState.RETRYING, "error"),
    (RefreshState.NEEDS_INPUT, "error"), (RefreshState.FRESH, "error")])
def test_no_keys_at_all_is_red_unless_a_refresh_runs(state: RefreshState, colour: str) -> None:
    look = tray_look(fresh(state=state, expiration=None, identity_arn=None), NOW)
    assert (look.state, look.minutes_left) == (colour, None)


def test_tray_look_idle_and_tooltip() -> None:
    assert tray_look(Snapshot(now=NOW), NOW).state == "idle"
    look = tray_look(fresh(expiration=NOW + timedelta(minutes=42)), NOW, tz=PARIS)
    # A clock time: the tooltip changes with the keys, not every minute.
    assert look.tooltip == f"platform · {ACCT} · expires 14:16 CET"
    assert tray_look(fresh(expiration=NOW + timedelta(minutes=42)),
                     NOW + timedelta(minutes=7), tz=PARIS).tooltip == look.tooltip
    late = tray_look(fresh(), EXP + timedelta(seconds=1), tz=PARIS)
    assert late.state == "error" and late.tooltip.endswith("expired 14:26 CET")
    mfa = tray_look(fresh(state=RefreshState.NEEDS_INPUT), NOW, tz=PARIS)
    assert mfa.tooltip == f"platform · {ACCT} · expires 14:26 CET · MFA code needed"


def test_a_refused_refresh_with_good_keys_is_amber_and_says_until_when() -> None:
    """Issue 15, bug 4: red means the keys no longer work; before that, amber with the
    reason and the time the tools keep working."""
    refused = fresh(state=RefreshState.ERROR,
                    problem=Problem("access_denied", DENIAL, profile="platform", hint=TRUST))
    look = tray_look(refused, NOW)
    assert look.state == "warning" and look.tooltip.endswith("refresh refused")
    text = render_text(build_menu_model(refused, PROFILES, now=NOW, tz=PARIS,
                                        actions=MenuActions()))
    assert f"Refresh refused: {TRUST}; keys work until 14:26 CET [disabled]" in text
    assert "Not working" not in text and "⚠" not in text
    gone = tray_look(refused, EXP + timedelta(seconds=1))
    assert gone.state == "error" and gone.tooltip.endswith("error")
    late = render_text(build_menu_model(refused, PROFILES, now=EXP + timedelta(seconds=1),
                                        tz=PARIS, actions=MenuActions()))
    assert "Not working [disabled]" in late and f"⚠ platform: {TRUST}" in late


def test_without_relative_times_the_menu_changes_only_with_the_keys() -> None:
    def text(now: datetime) -> str:
        return render_text(build_menu_model(fresh(), PROFILES, now=now, tz=PARIS,
                                            actions=MenuActions(), relative=False))
    assert "expires 14:26 CET [disabled]" in text(NOW)
    assert text(NOW) == text(NOW + timedelta(minutes=7))
    with_session = fresh(mfa_session_expiration=NOW + timedelta(hours=11, minutes=40))
    sessions = {render_text(build_menu_model(with_session, PROFILES, now=NOW + timedelta(minutes=m),
                                             tz=PARIS, actions=MenuActions(), relative=False))
                for m in (0, 1, 30)}
    assert len(sessions) == 1 and "MFA session ends tomorrow 01:14 CET [disabled]" in sessions.pop()
    assert "expired 14:26 CET [disabled]" in text(EXP + timedelta(minutes=1))


def test_menu_module_imports_no_gui() -> None:
    import subprocess

    code = ("import sys, tray.ui.menu, tray.platform.notify; "
            "bad = [m for m in ('pystray', 'PIL', 'gi', 'tkinter') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ------------------------------------------------------------ what needs-input waits for

def _recording() -> tuple[MenuActions, list[str]]:
    calls: list[str] = []
    acts = MenuActions(enter_mfa=lambda: calls.append("mfa"),
                       sso_login=lambda: calls.append("sso"),
                       retry=lambda: calls.append("retry"),
                       refresh=lambda: calls.append("refresh"))
    return acts, calls


INPUT_ITEMS = ("Enter MFA code…", "Sign in to AWS SSO…", "Try again")
CODES: dict[InputKind | None, ProblemCode] = {
    None: "needs_mfa", "mfa": "needs_mfa", "sso": "needs_sso", "process": "process_timeout",
    "keyring": "needs_keyring"}


@pytest.mark.parametrize(("kind", "item", "action", "state_line", "hint"), [
    (None, "Enter MFA code…", "mfa", "MFA code needed", "MFA code needed"),
    ("mfa", "Enter MFA code…", "mfa", "MFA code needed", "MFA code needed"),
    ("sso", "Sign in to AWS SSO…", "sso", "SSO sign-in needed", "SSO sign-in needed"),
    ("process", "Try again", "retry", "Credential process is waiting",
     "credential process is waiting"),
    ("keyring", "Try again", "retry", "Keyring locked — unlock it",
     "keyring locked — unlock it"),
])
def test_the_input_item_and_labels_follow_what_is_needed(
        kind: InputKind | None, item: str, action: str, state_line: str, hint: str) -> None:
    acts, calls = _recording()
    snap = fresh(state=RefreshState.NEEDS_INPUT,
                 problem=Problem(CODES[kind], "something is needed", profile="sso-dev",
                                 input_kind=kind))
    model = build_menu_model(snap, PROFILES, now=NOW, tz=PARIS, actions=acts)
    lines = render_text(model).splitlines()
    node = find(model, item)
    assert node is not None and node.enabled and node.action is not None
    node.action()
    assert calls == [action]
    # Exactly one way out is offered, under the state line and the reason.
    assert [t for t in INPUT_ITEMS if find(model, t) is not None] == [item]
    assert lines.index(f"{state_line} [disabled]") < lines.index(item)
    assert lines.index("⚠ something is needed [disabled]") < lines.index(item)
    look = tray_look(snap, NOW, tz=PARIS)
    assert look.state == "warning"
    assert look.tooltip == f"platform · {ACCT} · expires 14:26 CET · {hint}"
    if kind in ("sso", "process", "keyring"):
        assert "MFA" not in look.tooltip and "MFA code" not in render_text(model)


def test_no_input_item_outside_needs_input() -> None:
    for state in RefreshState:
        if state is RefreshState.NEEDS_INPUT:
            continue
        sso = Problem("needs_sso", "sign in", profile="sso-dev", input_kind="sso")
        model = build_menu_model(fresh(state=state, problem=sso), PROFILES, now=NOW,
                                 tz=PARIS, actions=MenuActions())
        assert all(find(model, t) is None for t in INPUT_ITEMS), state


def test_mfa_session_end_is_an_info_line_after_the_expiry() -> None:
    snap = fresh(mfa_session_expiration=NOW + timedelta(hours=3))
    model = build_menu_model(snap, PROFILES, now=NOW, tz=PARIS, actions=MenuActions())
    lines = render_text(model).splitlines()
    assert lines[3:5] == ["expires 14:26 CET (in 52 min) [disabled]",
                          "MFA session ends 16:34 CET (in 3 h) [disabled]"]
    seoul = render_text(build_menu_model(
        fresh(mfa_session_expiration=NOW + timedelta(hours=11, minutes=58)), PROFILES,
        now=NOW, tz=SEOUL, actions=MenuActions()))
    assert "MFA session ends tomorrow 09:32 KST (in 11 h 58 min) [disabled]" in seoul
    ended = render_text(build_menu_model(
        fresh(mfa_session_expiration=NOW - timedelta(minutes=3)), PROFILES, now=NOW, tz=PARIS,
        actions=MenuActions()))
    assert "MFA session ended 13:31 CET (3 min ago) [disabled]" in ended
    without = render_text(build_menu_model(fresh(), PROFILES, now=NOW, tz=PARIS,
                                           actions=MenuActions()))
    assert "MFA session" not in without


def test_extra_kept_sections_are_shown_each_with_its_state_and_a_way_to_remove_it() -> None:
    did: list[tuple[str, str]] = []
    acts = MenuActions(keep=lambda name: did.append(("keep", name)),
                       unkeep=lambda target: did.append(("unkeep", target)))
    second = fresh(role="readonly", target="second", identity_arn=None)
    third = fresh(role="admin", target="admin-roletray", state=RefreshState.RETRYING,
                  problem=Problem("endpoint", "STS unreachable", profile="admin"))
    model = build_menu_model(fresh(), PROFILES, now=NOW, tz=PARIS, actions=acts,
                             kept=[second, third])
    text = render_text(model)
    assert "Also kept fresh: readonly → [second] >" in text
    assert "Also kept fresh: admin → [admin-roletray] · Refresh failed; retrying >" in text
    assert "⚠ STS unreachable" in text  # the section's own problem, under its entry
    keep = find(model, "Keep fresh in its own profile…")
    assert keep is not None  # admin's own section is kept already: not offered again
    assert [n.text for n in keep.children] == ["platform → [platform-roletray]",
                                               "readonly → [readonly-roletray]"]
    stop = find(model, "Stop keeping [second] fresh")
    assert stop is not None and stop.action is not None
    stop.action()
    keep.children[0].action()  # type: ignore[misc]
    assert did == [("unkeep", "second"), ("keep", "platform")]


def test_the_trays_menu_without_relative_times_has_none_in_kept_sections_either() -> None:
    """The tray builds its menu with ``relative=False`` so that an idle menu stays the same
    menu; a kept section's "(in 52 min)" rebuilt it every minute."""
    second = fresh(role="readonly", target="second")
    text = render_text(build_menu_model(fresh(), PROFILES, now=NOW, tz=PARIS,
                                        actions=MenuActions(), relative=False, kept=[second]))
    assert "expires 14:26 CET [disabled]" in text and "(in " not in text


def test_own_target_is_a_valid_target_name() -> None:
    from tray.awsfiles import awsconfig

    assert own_target("platform") == "platform-roletray"
    # The switch checks it like every target (a refusal is shown as a refused switch).
    awsconfig.check_target(own_target("platform"), {}, role("platform"), "config")


def test_console_and_credential_process_line_for_the_active_role_and_each_kept_one() -> None:
    """Offered where a role is kept (not per radio row: 2,000 profiles stay one row each);
    the console only while that role's keys work."""
    kept = [fresh(role="readonly", target="second"),
            fresh(role="admin", target="third", state=RefreshState.EXPIRED,
                  expiration=NOW - timedelta(minutes=1))]
    model = build_menu_model(fresh(), PROFILES, now=NOW, tz=PARIS, actions=MenuActions(),
                             kept=kept)
    text = render_text(model)
    assert "\nOpen console as platform\nCopy credential_process line for platform\n" in text
    assert ("  Open console as readonly\n  Copy credential_process line for readonly\n"
            "  Stop keeping [second] fresh (remove keys)") in text
    assert "  Open console as admin [disabled]\n  Copy credential_process line for admin\n" \
        in text
    assert text.count("Open console") == 3  # never on the radio rows
    idle = render_text(build_menu_model(Snapshot(now=NOW), PROFILES, now=NOW, tz=PARIS,
                                        actions=MenuActions()))
    assert "Open console" not in idle and "credential_process" not in idle


def test_a_kept_section_in_trouble_colours_the_icon_and_is_named_in_the_tooltip() -> None:
    second = fresh(role="readonly", target="second")
    assert tray_look(fresh(), NOW, [second]).state == "fresh"
    assert tray_look(fresh(), NOW, [replace_state(second, RefreshState.REFRESHING)]
                     ).state == "fresh"  # its routine refresh stays quiet
    mfa = replace_state(second, RefreshState.NEEDS_INPUT)
    look = tray_look(fresh(), NOW, [mfa])
    assert look.state == "warning" and look.minutes_left == 50  # the badge stays the active's
    assert look.tooltip.endswith(" · [second] readonly: MFA code needed")
    dead = replace_state(second, RefreshState.EXPIRED)
    assert tray_look(fresh(), NOW, [mfa, dead]).state == "error"  # the worst one wins
    assert tray_look(fresh(state=RefreshState.EXPIRED, expiration=NOW), NOW, [mfa]
                     ).state == "error"  # never better than the active role's own
    idle = tray_look(Snapshot(now=NOW), NOW, [mfa])
    assert idle.state == "warning"
    assert idle.tooltip == "roletray · no role active · [second] readonly: MFA code needed"


def replace_state(s: Snapshot, state: RefreshState) -> Snapshot:
    from dataclasses import replace

    return replace(s, state=state)
