"""The environment a child gets as a role, and the lines ``roletray env`` prints.

The SDKs look for keys in one order, and the first that answers wins. botocore's:
environment variables, then the shared credentials file (profile ``default`` when no
``AWS_PROFILE``), the config file, ``credential_process``, SSO, and only after those a
container endpoint; the JS SDK's is alike. The seed's user keeps long-term keys in
``[default]`` of the credentials file, so a child pointed only at the endpoint would be
the user, not the role. A child therefore gets:

- none of the variables that name a profile or keys (``AWS_PROFILE`` also makes botocore
  skip the environment provider), nor another endpoint's or web identity's;
- ``AWS_SHARED_CREDENTIALS_FILE`` pointing at an empty private file when the credentials
  file has a ``[default]``, and ``AWS_CONFIG_FILE`` likewise when the config's
  ``[default]`` says where keys come from (``credential_process``, ``role_arn``, ``sso_*``,
  keys); both left alone otherwise, so the child's other profiles still work;
- ``AWS_REGION`` and ``AWS_DEFAULT_REGION`` from the role's profile (its source chain's,
  else the default profile's), since an emptied config no longer says it.

>>> child = container_env({"AWS_PROFILE": "dev", "HOME": "/h"}, "http://127.0.0.1:5/role/p",
...                       "/run/t", region="eu-west-1", empty_credentials="/run/c")
>>> sorted(child)  # doctest: +NORMALIZE_WHITESPACE
['AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI',
 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_SHARED_CREDENTIALS_FILE', 'HOME', 'ROLETRAY_ROLE']
>>> print(lines({"AWS_REGION": "eu-west-1", "AWS_PROFILE": None}, "fish"))
set -gx AWS_REGION 'eu-west-1'
set -e AWS_PROFILE
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from tray.domain.errors import UsageError
from tray.domain.models import TempCredentials, iso_utc
from tray.domain.text import Text
from tray.i18n import N_

# Variables that would make an SDK use other keys than the role's, or name a profile.
STEERING = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
)

# Settings of a config profile that make it a source of keys (botocore's and the JS SDK's
# profile providers): a [default] with one of them would answer before the endpoint.
CREDENTIAL_SETTINGS = frozenset({
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token",
    "role_arn", "source_profile", "credential_source", "credential_process",
    "web_identity_token_file", "sso_session", "sso_start_url", "sso_account_id",
    "sso_role_name", "login_session",
})

# Set in the child: which role it runs as (for a prompt, or a script that checks).
ROLE_VAR = "ROLETRAY_ROLE"

SHELLS = ("sh", "fish", "powershell")


def gives_keys(profile: Mapping[str, str] | None) -> bool:
    """Whether a config profile's settings make it a source of keys."""
    return bool(profile) and any(k in CREDENTIAL_SETTINGS for k in (profile or {}))


def _base(env: Mapping[str, str], role: str | None, region: str | None) -> dict[str, str]:
    child = {k: v for k, v in env.items() if k not in STEERING}
    if region:
        child["AWS_REGION"] = child["AWS_DEFAULT_REGION"] = region
    if role:
        child[ROLE_VAR] = role
    return child


def container_env(env: Mapping[str, str], url: str, token_file: str, *,
                  region: str | None, empty_credentials: str | None = None,
                  empty_config: str | None = None, role: str | None = None) -> dict[str, str]:
    """``env`` for a child that asks the loopback endpoint at ``url`` for its keys.
    ``empty_credentials``/``empty_config``: an empty file to read instead of a shared
    file whose ``[default]`` would answer first (None: that file is harmless)."""
    child = _base(env, role or url.rsplit("/", 1)[-1], region)
    child["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = url
    child["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = token_file
    if empty_credentials is not None:
        child["AWS_SHARED_CREDENTIALS_FILE"] = empty_credentials
    if empty_config is not None:
        child["AWS_CONFIG_FILE"] = empty_config
    return child


def keys_vars(creds: TempCredentials, region: str | None) -> dict[str, str | None]:
    """The variables that hand ``creds`` over as plain keys (the environment provider
    comes first in every SDK); None: a variable to remove."""
    out: dict[str, str | None] = {k: None for k in STEERING}
    out.update(AWS_ACCESS_KEY_ID=creds.access_key_id,
               AWS_SECRET_ACCESS_KEY=creds.secret_access_key,
               AWS_SESSION_TOKEN=creds.session_token,
               AWS_CREDENTIAL_EXPIRATION=iso_utc(creds.expiration))
    if region:
        out.update(AWS_REGION=region, AWS_DEFAULT_REGION=region)
    return out


def keys_env(env: Mapping[str, str], creds: TempCredentials, *, region: str | None,
             role: str | None = None) -> dict[str, str]:
    """``env`` for a child given ``creds`` as plain keys (``exec --env``)."""
    child = _base(env, role, region)
    child.update({k: v for k, v in keys_vars(creds, region).items() if v is not None})
    return child


# ------------------------------------------------------------------ roletray env

def quote(value: str, shell: str) -> str:
    """``value`` as one literal word of ``shell``, whatever it holds.

    sh (and bash, dash, zsh): single quotes, a quote as ``'"'"'``. fish: single quotes,
    where only ``\\`` and ``'`` are special. PowerShell: single quotes, where a quote is
    doubled, and the typographic single quotes count as quotes too.
    """
    if "\0" in value:
        raise UsageError(Text(N_("a value holds a NUL character; no shell can take it")))
    if shell == "sh":
        return shlex.quote(value)
    if shell == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if shell == "powershell":
        for q in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
            value = value.replace(q, q + q)
        return "'" + value + "'"
    raise UsageError(N_("--shell {shell}: one of {shells}"), shell=shell,
                     shells=", ".join(SHELLS))


def lines(variables: Mapping[str, str | None], shell: str) -> str:
    """The lines that set (or, for None, remove) ``variables`` in ``shell``."""
    if shell not in SHELLS:
        raise UsageError(N_("--shell {shell}: one of {shells}"), shell=shell,
                         shells=", ".join(SHELLS))
    out: list[str] = []
    for name, value in variables.items():
        if not name.replace("_", "").isalnum() or not name.isascii():
            raise UsageError(N_("{name} is not a variable name"), name=repr(name))
        if value is None:
            out.append({"sh": f"unset {name}", "fish": f"set -e {name}",
                        "powershell": f"Remove-Item Env:{name} -ErrorAction SilentlyContinue"
                        }[shell])
        elif shell == "sh":
            out.append(f"export {name}={quote(value, shell)}")
        elif shell == "fish":
            out.append(f"set -gx {name} {quote(value, shell)}")
        else:
            out.append(f"$Env:{name} = {quote(value, shell)}")
    return "\n".join(out)
