"""``roletray serve PROFILE...``: the container endpoint in the foreground, until Ctrl-C.

Prints the two lines a shell evaluates to point SDK processes at it::

    export AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/role/platform
    export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/proc/PID/fd/N

The token lives at that path (a sealed 0600 memfd this process holds open, gone with
the process however it stops, even on ``kill -9``; elsewhere than Linux, a 0600 file in
the private runtime folder, removed on the way out), never in argv, the environment or
the output. Keys come from the running tray or daemon (its served
roles, kept in memory) when one runs, else from a keeper in this process; either way
the AssumeRole runs in the worker child, so this process never loads botocore.

A role with ``mfa_serial`` is asked its code here, on the terminal, before the endpoint
opens (its callers cannot be asked): the MFA session that code starts is kept
(``MfaKeeper``), so the role is refreshed without a code until the session ends.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping

from tray.domain.errors import MfaRequiredError
from tray.domain.models import TempCredentials, parse_iso_utc, utcnow
from tray.engine import actions, worker
from tray.engine.scheduler import ApsScheduler
from tray.i18n import _
from tray.instance import control
from tray.platform import stop_signals
from tray.serve import tokenfile
from tray.serve.container import ContainerEndpoint
from tray.serve.keeper import ServedKeeper, instance_keeper

log = logging.getLogger(__name__)


KeysFor = Callable[..., TempCredentials]  # (profile, mfa_code=None) -> keys


def key_source(ctx: actions.Context, keeper: ServedKeeper) -> KeysFor:
    """The running instance's served keys when one runs, else this process's keeper."""
    def keys_for(profile: str, mfa_code: str | None = None) -> TempCredentials:
        reply = control.send("credentials", {"profile": profile, "mfa_code": mfa_code},
                             where=ctx.paths)
        if reply is None:
            return keeper.credentials(profile, mfa_code)
        from tray.domain import wire

        wire.raise_for(reply)
        doc = reply["document"]
        return TempCredentials(doc["AccessKeyId"], doc["SecretAccessKey"], doc["SessionToken"],
                               parse_iso_utc(doc["Expiration"]))

    return keys_for


def first_keys(profile: str, keys_for: KeysFor, ask_code: Callable[[str], str]) -> None:
    """An MFA role's first keys, asking ``ask_code(profile)`` only when no MFA session can
    be used (the running instance's, or one this process keeps)."""
    try:
        keys_for(profile)
    except MfaRequiredError:
        keys_for(profile, ask_code(profile))


def run(profile: str, env: Mapping[str, str], *,
        ask_code: Callable[[str], str] | None = None) -> int:
    """Serve ``profile`` until SIGINT or SIGTERM; the token is unreadable once it stops.

    One profile: a process reads one ``AWS_CONTAINER_CREDENTIALS_FULL_URI``. ``ask_code``:
    how to ask for an MFA code (the terminal), for a role with ``mfa_serial``.
    """
    from tray.awsfiles import awsconfig

    ctx = actions.Context.from_env(env)
    role = awsconfig.get_role_profile(  # refused before anything starts
        profile, ctx.config_path, credentials_path=ctx.credentials_path, home=ctx.paths.home)
    scheduler = ApsScheduler()
    keeper = instance_keeper(ctx, scheduler)
    keys_for = key_source(ctx, keeper)
    scheduler.start()
    try:
        if role.mfa_serial and ask_code is not None:
            first_keys(profile, keys_for, ask_code)  # before Ctrl-C is taken over
    except BaseException:
        scheduler.shutdown(wait=False)
        worker.terminate_children()
        raise
    token = tokenfile.publish(ctx.paths.runtime_dir)
    try:
        endpoint = ContainerEndpoint(keys_for, {profile}, token.token, now=utcnow)
    except BaseException:
        token.close()
        raise
    with stop_signals.blocked_until_stop() as rsock:
        try:
            endpoint.start()
            print(f"export AWS_CONTAINER_CREDENTIALS_FULL_URI={endpoint.url_for(profile)}")
            print(f"export AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={token.path}", flush=True)
            print(_("# serving until Ctrl-C"), file=sys.stderr, flush=True)
            stop_signals.wait(rsock)
        finally:
            token.close()  # first: no SDK reads it from here on
            endpoint.stop()
            scheduler.shutdown(wait=False)
            worker.terminate_children()
    return 0
