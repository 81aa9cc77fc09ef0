"""The role workflows a person starts: switch, refresh, MFA code, SSO sign-in, clear, diagnose.

One place for what the tray's menu and notifications do (and what the CLI's
hand-over to a running instance repeats): ask for an MFA code only when no MFA
session can be used, ask again when the session ended meanwhile, sign in to
SSO then refresh at once. No GUI here: the caller passes how to ask for a code
and how to show progress, and decides how to tell the person what happened.

Every method blocks (AssumeRole, a prompt, a browser sign-in): call them off
the GUI thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Protocol, TypeVar

from tray.domain.errors import MfaRequiredError, RoletrayError
from tray.domain.models import RefreshState, RoleProfile, Snapshot
from tray.i18n import _

log = logging.getLogger(__name__)

T = TypeVar("T")

Progress = Callable[["str | None"], None]  # "Switching to X…" while busy; None when done
SsoLogin = Callable[..., Path]  # tray.aws.sso.start_sso_login's signature
Doctor = Callable[["str | None"], "tuple[str, str]"]  # profile -> (summary, report)


class AskCode(Protocol):
    """Asks a person for the code of ``serial`` for ``profile`` (kept in ``target``, a
    section besides the active role's, when given); None: cancelled."""

    def __call__(self, serial: str, profile: str, target: str | None = None
                 ) -> str | None: ...


class RefresherPort(Protocol):
    """What the workflows need of ``tray.engine.refresher.Refresher``."""

    def snapshot(self, target: str | None = None) -> Snapshot: ...
    def needs_mfa_code(self, profile: str) -> bool: ...
    def switch(self, profile: str, mfa_code: str | None = None, *,
               target: str | None = None) -> Snapshot: ...
    def refresh_now(self, mfa_code: str | None = None, *,
                    target: str | None = None) -> Snapshot: ...
    def provide_mfa_code(self, code: str, *, target: str | None = None) -> Snapshot: ...
    def clear(self, target: str | None = None) -> Snapshot: ...


class Done(Enum):
    DONE = "done"
    CANCELLED = "cancelled"  # the person closed the MFA prompt (or one was already open)
    NOT_NEEDED = "not-needed"  # e.g. a second click on "Sign in" after the sign-in


class StepFailed(RoletrayError):
    """A workflow of several steps failed at ``step``; ``error`` is the step's own error."""

    def __init__(self, step: str, error: RoletrayError) -> None:
        super().__init__(message=str(error))
        self.step = step
        self.error = error

    def __str__(self) -> str:
        return str(self.error)


def ask_and_retry(attempt: Callable[[str | None], T], ask: Callable[[], str | None], *,
                  ask_first: bool) -> T | Done:
    """``attempt(code)``, asking for the code first or only once the attempt needs one.

    ``ask_first``: no MFA session can be used, so a code is needed at once. Else the
    attempt runs without a code; if AWS (or the running instance) says a code is
    needed after all (the session ended meanwhile), ask then and attempt once more.
    ``Done.CANCELLED`` when the person gives no code.
    """
    code = ask() if ask_first else None
    if ask_first and code is None:
        return Done.CANCELLED
    try:
        return attempt(code)
    except MfaRequiredError:
        if code is not None:
            raise
        code = ask()
        if code is None:
            return Done.CANCELLED
        return attempt(code)


def run_doctor_in_child(profile: str | None, *, env: Mapping[str, str]) -> tuple[str, str]:
    """(summary, report) from a child process: the doctor loads botocore, which would
    otherwise stay in the long-running parent's memory for good."""
    from tray.engine.child import call_in_child

    summary, report = call_in_child("tray.doctor.brief:brief", env=env, profile=profile)
    return str(summary), str(report)


class ProfileCache:
    """The role profiles of the AWS config, read again only when the file changes."""

    def __init__(self, config_path: Path, credentials_path: Path) -> None:
        self.path = config_path
        self._credentials_path = credentials_path
        self._key: tuple[int, int] | None = None
        self._profiles: dict[str, RoleProfile] = {}
        self._problems = 0
        self._sessions = 0
        self._lock = threading.Lock()

    def get(self) -> tuple[dict[str, RoleProfile], int]:
        """(role profiles by name, how many profiles could not be read)."""
        from tray.awsfiles import awsconfig

        try:
            st = self.path.stat()
            key: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        with self._lock:
            if key != self._key or key is None:
                try:
                    raw = awsconfig.raw_config_parse(self.path)
                    self._profiles, errors = awsconfig.build_role_profiles(
                        awsconfig.build_profile_map(raw), self.path,
                        credentials_path=self._credentials_path)
                    self._problems = len(errors)
                    self._sessions = sum(1 for name in raw if name.startswith("sso-session "))
                except RoletrayError as e:
                    log.warning("%s", e)
                    self._profiles, self._problems, self._sessions = {}, 1, 0
                self._key = key
            return self._profiles, self._problems

    def sso_sessions(self) -> int:
        """How many ``[sso-session]`` the config has (as of the last ``get``)."""
        with self._lock:
            return self._sessions


class RoleService:
    """The workflows, over one refresher. ``ask_code`` opens at most one prompt at a time."""

    def __init__(self, refresher: RefresherPort, profiles: ProfileCache, *, ask_code: AskCode,
                 sso_login: SsoLogin, doctor: Doctor, child_env: Mapping[str, str],
                 progress: Progress = lambda text: None) -> None:
        self.refresher = refresher
        self.profiles = profiles
        self._ask_code = ask_code
        self._sso_login = sso_login
        self._doctor = doctor
        self._child_env = child_env
        self._progress = progress
        self._prompt_lock = threading.Lock()

    # -- helpers -------------------------------------------------------------------
    def _profile(self, name: str | None) -> RoleProfile | None:
        return self.profiles.get()[0].get(name) if name else None

    def _asker(self, name: str, target: str | None = None) -> Callable[[], str | None]:
        def ask() -> str | None:
            profile = self._profile(name)
            if profile is None or not profile.mfa_serial:
                return None
            if not self._prompt_lock.acquire(blocking=False):
                log.info("an MFA prompt is already open")
                return None
            try:
                return self._ask_code(profile.mfa_serial, name, target)
            finally:
                self._prompt_lock.release()
        return ask

    def _code_needed_now(self, name: str | None) -> bool:
        # The refresher keeps MFA sessions: a code is asked only when none is usable.
        profile = self._profile(name)
        return bool(name and profile is not None and profile.mfa_serial
                    and self.refresher.needs_mfa_code(name))

    def _busy(self, text: str, fn: Callable[[], T]) -> T:
        self._progress(text)
        try:
            return fn()
        finally:
            self._progress(None)

    # -- workflows -----------------------------------------------------------------
    def switch(self, name: str, *, target: str | None = None) -> Done:
        """Make ``name`` the active role (or keep it fresh in ``target`` too). Raises
        ``RoletrayError`` when refused."""
        def attempt(code: str | None) -> Done:
            if target is None:  # the active role
                self._busy(_("Switching to {name}…").format(name=name),
                           lambda: self.refresher.switch(name, mfa_code=code))
            else:
                self._busy(_("Keeping {name} fresh in [{target}]…").format(name=name,
                                                                           target=target),
                           lambda: self.refresher.switch(name, mfa_code=code, target=target))
            return Done.DONE
        return ask_and_retry(attempt, self._asker(name), ask_first=self._code_needed_now(name))

    def refresh(self) -> Done:
        """Refresh the active role now, asking for a code first if no session is usable."""
        name = self.refresher.snapshot().role
        code = None
        if name is not None and self._code_needed_now(name):
            code = self._asker(name)()
            if code is None:
                return Done.CANCELLED
        self._busy(_("Refreshing…"), lambda: self.refresher.refresh_now(mfa_code=code))
        return Done.DONE

    def enter_mfa_code(self, target: str | None = None) -> Done:
        """"Enter MFA code…": ask, then refresh with it (a plain refresh without MFA).

        ``target``: a section kept besides the active role's ("Enter MFA code for
        [NAME]…"); the prompt names it, and the code refreshes that section only. The MFA
        session the code starts is the instance's, for every role that can use it. A
        refused code is not tried again: the section waits for a code as before, and the
        menu and notification ask again, as for the active role."""
        if target is None:
            name = self.refresher.snapshot().role
        else:
            snap = self.refresher.snapshot(target)
            if snap.target != target or snap.role is None:
                log.info("[%s] is no longer kept: no MFA code asked", target)
                return Done.NOT_NEEDED
            name = snap.role
        profile = self._profile(name)
        if name is None or profile is None or not profile.mfa_serial:
            if target is None:
                return self.refresh()
            self._busy(_("Refreshing [{target}]…").format(target=target),
                       lambda: self.refresher.refresh_now(target=target))
            return Done.DONE
        code = self._asker(name, target)()
        if code is None:
            return Done.CANCELLED
        self._busy(_("Refreshing…") if target is None
                   else _("Refreshing [{target}]…").format(target=target),
                   lambda: self.refresher.provide_mfa_code(code, target=target))
        return Done.DONE

    def retry(self) -> Done:
        """"Try again" once the person has answered their credential process."""
        self._busy(_("Refreshing…"), self.refresher.refresh_now)
        return Done.DONE

    def sso_sign_in(self, on_code: Callable[[str, str], None]) -> Done:
        """Sign in to AWS SSO for the profile that needs it, then refresh at once.

        ``on_code(code, url)``: the code the browser page shows, to match (no secret).
        Raises ``StepFailed`` with ``step`` "sign-in" or "refresh".
        """
        snap = self.refresher.snapshot()
        profile = snap.input_profile or snap.role
        if (snap.state is not RefreshState.NEEDS_INPUT or snap.input_needed != "sso"
                or profile is None):
            log.info("no AWS SSO sign-in is needed any more")  # e.g. a second click
            return Done.NOT_NEEDED
        try:
            self._busy(_("Signing in to AWS SSO ({profile})…").format(profile=profile),
                       lambda: self._sso_login(profile, config_path=self.profiles.path,
                                               env=dict(self._child_env), on_code=on_code))
        except RoletrayError as e:
            raise StepFailed("sign-in", e) from e
        try:
            self._busy(_("Refreshing…"), self.refresher.refresh_now)
        except RoletrayError as e:
            raise StepFailed("refresh", e) from e
        return Done.DONE

    def clear(self) -> Done:
        """Remove the keys and forget the active role."""
        self.refresher.clear()
        return Done.DONE

    def diagnose(self, role: str | None = None) -> tuple[str | None, str, str]:
        """(role, summary, report) of the doctor for ``role`` (default: the active role)."""
        role = role or self.refresher.snapshot().role
        summary, report = self._busy(_("Diagnosing…"), lambda: self._doctor(role))
        return role, summary, report

    def finding(self, role: str) -> str | None:
        """The doctor's one-line finding for a refused switch, as the CLI gives it; None
        when the doctor itself fails (the refusal is still said, without it)."""
        try:
            summary, _report = self._busy(_("Diagnosing {role}…").format(role=role),
                                          lambda: self._doctor(role))
        except Exception:
            log.info("no diagnosis for %s", role, exc_info=True)
            return None
        return summary
