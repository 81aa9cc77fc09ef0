"""The use cases the CLI and the refresher share: assume, write, clear, status.

Each takes a ``Context`` holding the collaborators (paths, environment, settings,
clock, and the ``AwsPort`` every AWS call goes through), built by a composition root
(``tray.compose``), so tests and the refresher inject their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from tray.awsfiles import awsconfig, awsenv, configedit, credfile
from tray.domain.arn import Arn
from tray.domain.errors import RoletrayError, StateError
from tray.domain.mfa import MfaSession, session_key
from tray.domain.models import AssumeResult, RefreshState, RoleProfile, Snapshot, utcnow
from tray.domain.problems import Problem
from tray.domain.text import N_, Text
from tray.engine.mfa_session import start_session
from tray.engine.ports import AwsPort
from tray.paths import Paths
from tray.settings import Settings, check_target, load_settings
from tray.state import State, clear_state, forget_state, load_states, save_state
from tray.state import check_writable as check_state_writable

# Gets an MFA session the moment a code started it: the code is spent, so the session
# is the caller's to keep even when the AssumeRole after it fails.
OnMfaSession = Callable[[MfaSession], None]


@dataclass(frozen=True)
class Context:
    """Who and where a use case runs for. Building one does no I/O: ``from_env`` (for
    a composition root) reads the settings file; other callers pass the ``settings``
    they hold (no silent defaults: a context without the file's settings would write
    to the wrong target)."""

    paths: Paths
    env: Mapping[str, str]  # what the AWS tools will see: AWS_PROFILE warnings, the worker
    settings: Settings
    now: Callable[[], datetime] = utcnow
    # Every AWS call: ``tray.aws.port.InProcessAws`` (one-shot commands, the worker) or
    # ``tray.child.aws.ChildAws`` (the tray and the daemon), chosen by the composition
    # root. None: a context for work that never calls AWS (status, clear).
    aws: AwsPort | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, settings: Settings | None = None,
                 now: Callable[[], datetime] = utcnow, aws: AwsPort | None = None) -> Context:
        """Paths from ``env``, and the settings file they name unless ``settings`` is given.

        Raises ``SettingsError`` for a broken settings file.
        """
        where = Paths.from_env(env)
        return cls(paths=where, env=env,
                   settings=load_settings(where) if settings is None else settings,
                   now=now, aws=aws)

    @property
    def port(self) -> AwsPort:
        """``aws``; a context built without it cannot call AWS (a bug of its root)."""
        if self.aws is None:
            raise RoletrayError(Text(N_("internal error: this context has no way to call AWS")))
        return self.aws

    @property
    def config_path(self) -> Path:
        return self.paths.aws_config

    @property
    def credentials_path(self) -> Path:
        return self.paths.aws_credentials

    @property
    def target(self) -> str:
        return self.settings.target


@dataclass(frozen=True)
class Outcome:
    """An assumed role, written into its target."""

    result: AssumeResult
    role: RoleProfile
    target: str
    region: str | None
    warnings: tuple[str, ...] = ()
    mfa_session: MfaSession | None = None  # started by this call (a code was given); secret


def prepare(profile_name: str, target: str, ctx: Context, *, force: bool = False) -> RoleProfile:
    """Everything that can be refused locally, checked before any call to AWS."""
    return _prepare(profile_name, target, ctx, force=force)[0]


def _prepare(profile_name: str, target: str, ctx: Context, *, force: bool,
             raw: Mapping[str, Mapping[str, str]] | None = None
             ) -> tuple[RoleProfile, awsconfig.ProfileMap]:
    """``prepare``, and the profile map of the config file (read once: here, unless the
    caller passes it parsed as ``raw``)."""
    check_target(target)
    if raw is None:
        raw = awsconfig.raw_config_parse(ctx.config_path, home=ctx.paths.home)
    profile_map = awsconfig.build_profile_map(raw)
    role = awsconfig.get_role_profile(profile_name, ctx.config_path,
                                      credentials_path=ctx.credentials_path, raw=raw,
                                      home=ctx.paths.home)
    awsconfig.check_target(target, profile_map, role, ctx.config_path, home=ctx.paths.home)
    credfile.check_writable(ctx.credentials_path, target, force=force, home=ctx.paths.home)
    # The switch changes up to three files together: each must be writable before
    # AWS is asked, so that a refusal never comes after the keys changed.
    credfile.check_can_write(ctx.credentials_path, home=ctx.paths.home)
    region = awsconfig.region_for(role, profile_map)
    if region and profile_map.get(target, {}).get("region") != region:
        credfile.check_can_write(ctx.config_path, home=ctx.paths.home)
    check_state_writable(ctx.paths)
    return role, profile_map


def assume(
    profile_name: str,
    *,
    target: str | None = None,
    duration: int | None = None,
    mfa_code: str | None = None,
    force: bool = False,
    ctx: Context,
    mfa_session: MfaSession | None = None,
    mfa_session_hours: int | None = None,
    on_mfa_session: OnMfaSession | None = None,
    raw: Mapping[str, Mapping[str, str]] | None = None,
) -> Outcome:
    """AssumeRole once, write the target section, make the profile the active role.

    For a role with ``mfa_serial``: ``mfa_session`` (its source's and device's) is
    used instead of a code; with ``mfa_code`` and ``mfa_session_hours``, the code
    first starts a new MFA session (given to ``on_mfa_session`` as soon as it starts,
    and in ``Outcome.mfa_session``). ``raw``: the
    config file as the caller already parsed it (``awsconfig.raw_config_parse``).
    """
    target = target or ctx.target
    role, profile_map = _prepare(profile_name, target, ctx, force=force, raw=raw)
    started, session = _mfa_sessions(role, profile_map, ctx, mfa_code=mfa_code,
                                     mfa_session=mfa_session,
                                     mfa_session_hours=mfa_session_hours,
                                     on_mfa_session=on_mfa_session)
    result = _assume_role(role, profile_map, ctx, duration=duration, mfa_code=mfa_code,
                          session=session)
    outcome = write(result, role, target, ctx, force=force, profile_map=profile_map)
    return replace(outcome, mfa_session=started) if started is not None else outcome


def _mfa_sessions(role: RoleProfile, profile_map: awsconfig.ProfileMap, ctx: Context, *,
                  mfa_code: str | None, mfa_session: MfaSession | None,
                  mfa_session_hours: int | None, on_mfa_session: OnMfaSession | None
                  ) -> tuple[MfaSession | None, MfaSession | None]:
    """(the session ``mfa_code`` started, the session to sign with): with ``mfa_code``
    and ``mfa_session_hours`` the code first starts a new MFA session, handed to
    ``on_mfa_session`` at once (the code is spent whatever happens next); without a
    code, ``mfa_session`` is used when it is the role's (its source's and device's)."""
    started: MfaSession | None = None
    if role.mfa_serial and mfa_code and mfa_session_hours:
        started = start_session(role, mfa_code, hours=mfa_session_hours, aws=ctx.port,
                                profile_map=profile_map)
        if started is not None and on_mfa_session is not None:
            on_mfa_session(started)
    session = started
    if session is None and mfa_code is None and mfa_session is not None \
            and mfa_session.key == session_key(role):
        session = mfa_session
    return started, session


def _assume_role(role: RoleProfile, profile_map: awsconfig.ProfileMap, ctx: Context, *,
                 duration: int | None, mfa_code: str | None,
                 session: MfaSession | None) -> AssumeResult:
    """One sts:AssumeRole, signed by ``session`` (no code then) or by the role's source."""
    return ctx.port.assume(role, mfa_code=None if session else mfa_code, duration=duration,
                           now=ctx.now, session=session.credentials if session else None,
                           profile_map=profile_map)


def write(result: AssumeResult, role: RoleProfile, target: str, ctx: Context,
          *, force: bool = False, profile_map: awsconfig.ProfileMap | None = None) -> Outcome:
    """Write keys already obtained into the target, then check and record them.

    ``profile_map``: the config file as ``prepare`` read it (read here when None).
    """
    before = credfile.previous(ctx.credentials_path, ctx.config_path, target,
                               home=ctx.paths.home)
    key = result.credentials.access_key_id
    credfile.write_credentials(ctx.credentials_path, target, result.credentials,
                               role=role.name, force=force, home=ctx.paths.home)
    try:
        if profile_map is None:
            profile_map = awsconfig.load_profile_map(ctx.config_path, home=ctx.paths.home)
        region = awsconfig.region_for(role, profile_map)
        if region:
            configedit.set_profile_region(ctx.config_path, target, region, home=ctx.paths.home)
        ctx.port.verify_target(target, key, profile_map=profile_map)
        save_state(State(active_role=role.name, target=target,
                         expiration=result.credentials.expiration,
                         identity_arn=result.identity_arn, updated_at=ctx.now()), ctx.paths)
    except Exception as e:  # a bug too: the switch must not stay half done
        _roll_back(e, before, key, ctx)
        raise
    warnings = (*credfile.file_warnings(ctx.credentials_path, home=ctx.paths.home),
                *awsenv.env_warnings(target, ctx.env))
    return Outcome(result=result, role=role, target=target, region=region, warnings=warnings)


# A served role asks STS for at least this long: with the 15-minute minimum session,
# keys would be inside botocore's 15-minute advisory window at birth, so every SDK call
# would run the process again. One hour (every role allows it, even a chained one) hands
# the same keys out for 35 minutes before ``SERVE_MARGIN`` renews them.
SERVE_DURATION = 3600


def served_duration(role: RoleProfile, duration: int | None = None) -> int | None:
    """The session length a served role asks for: the given or configured one, at least
    ``SERVE_DURATION``. None for a permission set or an ``aws login`` sign-in, whose
    keys last as long as AWS says (only a ``--duration`` given is passed on, and refused)."""
    if role.kind != "assume":
        return duration
    return max(SERVE_DURATION, duration or role.duration_seconds or 0)


def assume_only(
    profile_name: str,
    *,
    duration: int | None = None,
    mfa_code: str | None = None,
    ctx: Context,
    mfa_session: MfaSession | None = None,
    mfa_session_hours: int | None = None,
    on_mfa_session: OnMfaSession | None = None,
) -> Outcome:
    """AssumeRole once for a served role (``credential-process``) and return the keys:
    nothing is written, neither a section nor the state. ``Outcome.target`` is ''.
    MFA sessions as ``assume``: the refresher's and the served roles' are one."""
    raw = awsconfig.raw_config_parse(ctx.config_path, home=ctx.paths.home)
    profile_map = awsconfig.build_profile_map(raw)
    role = awsconfig.get_role_profile(profile_name, ctx.config_path,
                                      credentials_path=ctx.credentials_path, raw=raw,
                                      home=ctx.paths.home)
    started, session = _mfa_sessions(role, profile_map, ctx, mfa_code=mfa_code,
                                     mfa_session=mfa_session,
                                     mfa_session_hours=mfa_session_hours,
                                     on_mfa_session=on_mfa_session)
    result = _assume_role(role, profile_map, ctx, mfa_code=mfa_code, session=session,
                          duration=served_duration(role, duration))
    return Outcome(result=result, role=role, target="",
                   region=awsconfig.region_for(role, profile_map), mfa_session=started)


def _roll_back(e: Exception, before: credfile.Previous, key: str, ctx: Context) -> None:
    """Undo a half-done switch, and say in ``e`` (one line, when it is ours) whether
    that worked. Only ``RoletrayError`` messages are shown to people as they are."""
    try:
        credfile.restore(ctx.credentials_path, ctx.config_path, before, key, home=ctx.paths.home)
    except RoletrayError as undo:
        said = (f"{e}; and roletray could not put back the previous [{before.target}] "
                f"section: {undo}")
    else:
        said = f"{e}; roletray put back the previous [{before.target}] section"
    if isinstance(e, RoletrayError):
        e.args = (said,)


@dataclass(frozen=True)
class Cleared:
    """What ``clear`` removed."""

    target: str
    section: bool  # the target section, from the credentials file
    state: bool  # the state file
    unreadable_state: bool = False  # ... which could not be read (removed all the same)

    @property
    def anything(self) -> bool:
        return self.section or self.state


def clear(target: str | None = None, *, ctx: Context) -> Cleared:
    """Remove a kept section and forget its role (the others stay kept).

    A state file that cannot be read is removed too: ``roletray clear`` is the way out
    its error names. Without ``target``: the settings' target. Nothing but the state
    file is touched in roletray's state folder.
    """
    try:
        load_states(ctx.paths)
    except StateError:
        unreadable = True
    else:
        unreadable = False
    target = check_target(target) or ctx.target  # as a running instance does: the others stay kept
    removed = credfile.remove_credentials(ctx.credentials_path, target, home=ctx.paths.home)
    forgotten = clear_state(ctx.paths) if unreadable else forget_state(ctx.paths, target)
    return Cleared(target=target, section=removed, state=forgotten,
                   unreadable_state=unreadable and forgotten)


def status(ctx: Context) -> Snapshot:
    """What the files say now about the default target (or the first kept section when
    that is not kept), without calling AWS."""
    return statuses(ctx)[0]


def statuses(ctx: Context) -> list[Snapshot]:
    """Every kept section, the default target's (or the first kept) first; without
    calling AWS."""
    now = ctx.now()
    states = load_states(ctx.paths)
    if not states:
        return [Snapshot(state=RefreshState.IDLE, target=ctx.target, now=now)]
    states.sort(key=lambda s: s.target != ctx.target)  # stable: the rest keep their order
    return [_status_of(state, ctx, now) for state in states]


def _status_of(state: State, ctx: Context, now: datetime) -> Snapshot:
    creds = credfile.read_owned(ctx.credentials_path, state.target, home=ctx.paths.home)
    account = Arn.account_of(state.identity_arn)
    base = Snapshot(role=state.active_role, target=state.target, identity_arn=state.identity_arn,
                    account=account, expiration=state.expiration, now=now)
    if creds is None:
        return replace(base, state=RefreshState.ERROR, problem=Problem(
            "missing_section", Text(N_("section [{target}] is missing from {path}"),
                                    target=state.target,
                                    path=ctx.paths.display(ctx.credentials_path)),
            profile=state.active_role))
    expiration = creds.expiration
    if expiration <= now:
        return replace(base, state=RefreshState.EXPIRED, expiration=expiration)
    return replace(base, state=RefreshState.FRESH, expiration=expiration)
