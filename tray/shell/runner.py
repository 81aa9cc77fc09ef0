"""``roletray exec PROFILE -- CMD``: CMD as the role, for as long as it runs.

By default CMD gets a loopback container endpoint (``tray.serve.container``) that this
process opens for CMD's lifetime. Its keys come from the running tray or daemon (its
served roles, kept fresh in memory) when one runs for the caller's AWS files, else from
a keeper in this process that refreshes the role before its keys end. The SDKs ask the
endpoint again near expiry, so a long ``terraform apply`` never runs on expired keys.
The AssumeRole runs in the worker child: this process, which lives as long as CMD,
never loads botocore. The token is in a private file, never in argv or the environment.

Signals: SIGINT, SIGTERM and SIGHUP that a process sends to ``exec`` are passed on to
CMD. The ones a terminal sends (Ctrl-C, a hangup) go to the whole foreground process
group, CMD included, and are not sent a second time (a second Ctrl-C makes terraform
give up at once). ``sigwaitinfo`` tells the two apart by ``si_code``; the signals are
blocked in every thread of this process (``signals_held``, before any thread starts)
and CMD is started with the mask this process had before.

CMD's exit status is returned; a CMD ended by signal N gives 128+N, as a shell says.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tray import fsutil
from tray.domain.errors import CredentialsFileError, MfaRequiredError
from tray.domain.models import TempCredentials, parse_iso_utc
from tray.engine import actions, worker
from tray.engine.scheduler import ApsScheduler, Scheduler
from tray.i18n import _
from tray.instance import control
from tray.serve import foreground
from tray.serve.container import ContainerEndpoint
from tray.serve.keeper import instance_keeper
from tray.shell import childenv

PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_WAITED = {*PASSED_ON, signal.SIGCHLD}
# Python ignores these two; a child must start with their default action (`cmd | head`).
_DEFAULTED = (signal.SIGPIPE, signal.SIGXFSZ)

AskCode = Callable[[str], str]


@dataclass(frozen=True)
class Role:
    """What the child's environment needs to know of PROFILE and the AWS files."""

    profile: str
    region: str | None
    credentials_default: bool  # the credentials file has a [default] (or cannot be read)
    config_default: bool  # the config's [default] says where keys come from


def role_of(profile: str, ctx: actions.Context) -> Role:
    """PROFILE checked (an unknown or broken profile is refused before anything starts),
    its region, and which of the shared files would answer a child before the role."""
    from tray.awsfiles import awsconfig, credfile

    raw = awsconfig.raw_config_parse(ctx.config_path, home=ctx.paths.home)
    role = awsconfig.get_role_profile(profile, ctx.config_path,
                                      credentials_path=ctx.credentials_path, raw=raw,
                                      home=ctx.paths.home)
    profile_map = awsconfig.build_profile_map(raw)
    try:
        in_credentials = "default" in credfile.section_names(ctx.credentials_path,
                                                             home=ctx.paths.home)
    except (CredentialsFileError, OSError):
        in_credentials = True  # the SDKs may read it otherwise: keep it from the child
    return Role(profile, awsconfig.region_for(role, profile_map), in_credentials,
                childenv.gives_keys(profile_map.get("default")))


# ------------------------------------------------------------------ plain keys

def plain_keys(profile: str, ctx: actions.Context, ask_code: AskCode) -> TempCredentials:
    """PROFILE's keys (more than 15 minutes left): the running instance's served keys,
    else one AssumeRole in the worker child; an MFA code is asked only when needed."""
    from tray.domain import wire

    reply = control.send_asking("credentials", {"profile": profile},
                                lambda: ask_code(profile), where=ctx.paths)
    if reply is not None:
        wire.raise_for(reply)
        doc = reply["document"]
        return TempCredentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc["SessionToken"],
                               parse_iso_utc(doc["Expiration"]))
    try:
        out = worker.assume_only_in_child(profile, ctx=ctx)
    except MfaRequiredError:
        out = worker.assume_only_in_child(profile, ctx=ctx, mfa_code=ask_code(profile))
    return out.result.credentials


# ------------------------------------------------------------------ the endpoint

class ExecEndpoint:
    """The child's endpoint: ``first_keys`` (may ask a code: before signals are held),
    then ``start()`` (threads: with signals held) gives the child's environment,
    ``close()`` stops it and removes the private files."""

    def __init__(self, role: Role, ctx: actions.Context, *,
                 scheduler: Scheduler | None = None) -> None:
        self.role = role
        self._ctx = ctx
        self._sched = scheduler if scheduler is not None else ApsScheduler()
        self.keys_for = foreground.key_source(ctx, instance_keeper(ctx, self._sched))
        self._endpoint: ContainerEndpoint | None = None
        self._files: list[Path] = []
        self._started = False

    def first_keys(self, ask_code: AskCode) -> None:
        """Keys before CMD starts: a refusal is said now, and an MFA role asks its code
        here (its session is then kept, by the instance or by this process)."""
        foreground.first_keys(self.role.profile, self.keys_for, ask_code)

    def start(self) -> dict[str, str]:
        self._sched.start()
        self._started = True
        folder = fsutil.private_dir(self._ctx.paths.runtime_dir)
        stem = f"exec-{os.getpid()}"
        token = secrets.token_urlsafe(32)
        token_file = self._private(folder / f"{stem}.token", token)
        empty_credentials = self._private(folder / f"{stem}.credentials", "") \
            if self.role.credentials_default else None
        empty_config = self._private(folder / f"{stem}.config", "") \
            if self.role.config_default else None
        self._endpoint = ContainerEndpoint(self.keys_for, {self.role.profile}, token,
                                           now=self._ctx.now).start()
        return childenv.container_env(
            self._ctx.env, self._endpoint.url_for(self.role.profile), str(token_file),
            region=self.role.region, role=self.role.profile,
            empty_credentials=str(empty_credentials) if empty_credentials else None,
            empty_config=str(empty_config) if empty_config else None)

    def close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.stop()
            self._endpoint = None
        if self._started:
            self._sched.shutdown(wait=False)
        worker.terminate_children()
        for path in self._files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._files.clear()

    def _private(self, path: Path, text: str) -> Path:
        """``text`` in a new file born 0600 (a stale one of a reused pid is replaced)."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
        self._files.append(path)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
        return path


# ------------------------------------------------------------------ the child

@contextlib.contextmanager
def signals_held() -> Iterator[set[int]]:
    """SIGINT, SIGTERM, SIGHUP and SIGCHLD blocked in this thread and every thread it
    starts from now on, so that ``run_child``'s ``sigwaitinfo`` takes them all. Yields
    the mask before, which the child gets. Call from the main thread, before any
    thread that should not take these signals starts."""
    before: set[int] = set(signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED))
    try:
        yield before
    finally:
        # One that came after CMD ended is dropped, not raised in this process on unblock.
        while _WAITED & signal.sigpending():
            signal.sigtimedwait(_WAITED, 0)
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def run_child(argv: Sequence[str], env: Mapping[str, str], mask: set[int]) -> int:
    """Run ``argv`` (found on ``env``'s PATH) with ``env`` and signal mask ``mask``, inside
    ``signals_held``; returns its exit status. A command that cannot be started: 127 (not
    found) or 126, with one line on stderr, as a shell does."""
    try:
        pid = os.posix_spawnp(argv[0], list(argv), dict(env), setsigmask=mask,
                              setsigdef=_DEFAULTED)
    except OSError as e:
        said = _("roletray: {command}: command not found") if isinstance(
            e, FileNotFoundError) else _("roletray: {command}: {reason}")
        print(said.format(command=argv[0], reason=e.strerror or type(e).__name__),
              file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126
    return wait_passing_signals(pid)


def wait_passing_signals(pid: int) -> int:
    """Wait for ``pid`` (with ``_WAITED`` held), passing on the signals a process sends."""
    while True:
        info = signal.sigwaitinfo(_WAITED)
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                code = os.waitstatus_to_exitcode(status)
                return code if code >= 0 else 128 - code
            continue  # a worker child, or CMD stopped (Ctrl-Z)
        if info.si_code <= 0:  # SI_USER, SI_QUEUE, SI_TKILL: kill(2) did not reach CMD
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, info.si_signo)
        # else SI_KERNEL: the terminal sent it to the foreground group, CMD included


def serve_and_run(endpoint: ExecEndpoint, argv: Sequence[str]) -> int:
    """``endpoint`` started for the child, the child run, everything stopped after."""
    with signals_held() as mask:
        try:
            env = endpoint.start()
            return run_child(argv, env, mask)
        finally:
            endpoint.close()
