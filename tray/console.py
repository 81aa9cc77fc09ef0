"""``roletray console``: a console sign-in URL for a role profile.

Everything that can be refused locally (the profile, the region, the destination,
the federation endpoint) is checked before any call; then the role's keys (a running
instance's, or one AssumeRole by the caller: no credentials file is written), then
the federation endpoint. A refused role never
reaches the federation endpoint. The URL returned is a bearer credential.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from tray import paths
from tray.aws import federation
from tray.awsfiles import awsconfig, credfile
from tray.domain.errors import EXIT_OK, RoletrayError, UsageError
from tray.domain.models import RoleProfile, TempCredentials, parse_iso_utc, utcnow
from tray.domain.text import N_, Text
from tray.i18n import _
from tray.platform import signin_page

DEFAULT_REGION = "us-east-1"
_TOKEN_KEYS = ("aws_session_token", "aws_security_token")


# (role, profile_map) -> the role's temporary keys: one AssumeRole (the CLI's, tray.aws.sts)
AssumeFn = Callable[[RoleProfile, Mapping[str, Mapping[str, str]]], TempCredentials]


def console_url(profile: str, *, env: Mapping[str, str],
                destination: str | None = None, region: str | None = None,
                keys: TempCredentials | None = None, assume: AssumeFn | None = None,
                now: Callable[[], datetime] = utcnow) -> str:
    """The login URL that opens the console as ``profile``'s role.

    ``keys``: the role's temporary keys if already in hand (a running instance's);
    otherwise ``assume(role, profile_map)`` gets them, once every local check passed.
    ``env`` locates the AWS files and the endpoint override. This module never
    imports botocore: the tray calls it with ``keys`` in its own process.
    """
    config_path = paths.aws_config_file(env)
    home = paths.home_of(env)
    raw = awsconfig.raw_config_parse(config_path, home=home)
    role = awsconfig.get_role_profile(
        profile, config_path, credentials_path=paths.aws_credentials_file(env), raw=raw,
        home=home)
    profile_map = awsconfig.build_profile_map(raw)
    partition = federation.partition_of(role.role_arn)
    if region is not None:
        federation.check_region(region)
    else:
        region = federation.check_region(
            awsconfig.region_for(role, profile_map) or env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION, f"profile '{role.name}': region")
    dest = federation.destination(partition, region, destination)
    url = federation.endpoint(partition, env)
    if keys is None:
        if assume is None:
            raise UsageError(N_("profile '{name}': no keys to open the console with"),
                             name=role.name)
        keys = assume(role, profile_map)
    # AWS takes SessionDuration only for a session that long-term user keys assumed.
    duration = federation.session_duration(keys, now()) \
        if long_term_source(role, profile_map, env) else None
    token = federation.get_signin_token(url, keys, session_duration=duration)
    return federation.login_url(url, token, dest)


def instance_keys(profile: str, *, where: paths.Paths) -> TempCredentials | None:
    """The keys a running tray or daemon keeps for ``profile``, handed over its private
    socket (``where``'s), or None: no instance runs, it answers for other AWS files than
    ``where``'s, or none of its sections keeps the role with keys that still work."""
    from tray.instance import control

    reply = control.send("section_keys", {"profile": profile}, where=where)
    # An error reply (an older instance without the command): the caller assumes itself.
    doc = reply.get("document") if reply is not None and reply.get("ok") is True else None
    if not isinstance(doc, dict):
        return None
    try:
        return TempCredentials(str(doc["AccessKeyId"]), str(doc["SecretAccessKey"]),
                               str(doc["SessionToken"]), parse_iso_utc(str(doc["Expiration"])))
    except (KeyError, ValueError):
        raise RoletrayError(Text(N_("the running roletray handed over keys in a form this "
                                    "version does not read"))) from None


def long_term_source(role: RoleProfile, profile_map: Mapping[str, Mapping[str, str]],
                     env: Mapping[str, str]) -> bool:
    """Whether AssumeRole for ``role`` is signed by an IAM user's long-term keys.

    Not when its source is itself a role (a chained session: another role profile,
    SSO, an instance or container role) or may be (a credential_process, keys with
    a session token): then the federation endpoint refuses a SessionDuration.
    """
    if role.credential_source is not None:
        return (role.credential_source == "Environment" and bool(env.get("AWS_ACCESS_KEY_ID"))
                and not any(env.get(k.upper()) for k in _TOKEN_KEYS))
    source = str(role.source_profile)
    values = profile_map.get(source, {})
    # botocore assumes a source's role before looking at its keys (unless it is the role itself).
    if source != role.name and "role_arn" in values:
        return False
    try:
        cred_keys = credfile.key_names(paths.aws_credentials_file(env), source,
                                       home=paths.home_of(env))
    except (RoletrayError, OSError):
        return False  # AssumeRole has read it already; when unsure, no SessionDuration
    config_keys = frozenset(k for k, v in values.items() if v)
    for keys in (cred_keys, config_keys):  # the credentials file first, as botocore reads them
        if "aws_access_key_id" in keys:
            return not any(k in keys for k in _TOKEN_KEYS)
    return False


def deliver(url: str, profile: str, *, folder: Path, print_only: bool = False,
            wait: float = signin_page.LIFETIME) -> int:
    """Print ``url`` alone on stdout, or open it with ``webbrowser`` (which honours $BROWSER).

    Only the person's own stdout or browser ever gets the URL: no log, no notification,
    no command line. The browser is given a page that forwards to it
    (``tray.platform.signin_page``): on Linux one served once on loopback to the user
    alone, which this waits for (at most ``wait`` seconds); else a private file.
    """
    if print_only:
        print(url)
        return EXIT_OK
    import webbrowser

    forward = signin_page.offer(url, folder)
    try:
        opened = webbrowser.open(forward.address, new=2)
    except webbrowser.Error:
        opened = False
    if not opened:
        forward.close()
        raise UsageError(Text(N_("no web browser could be started; set $BROWSER, or use "
                                 "--print and open the URL yourself")))
    try:
        fetched = forward.wait(wait)
    finally:
        forward.close()
    if not fetched:
        raise UsageError(N_("the web browser did not open the sign-in page within {wait:.0f} s; "
                            "use --print and open the URL yourself"),
                         wait=wait)
    print(_("Opened the AWS console as {profile} in your web browser.").format(
        profile=profile))
    return EXIT_OK
