"""The environment variables that make the AWS tools look somewhere other than a
profile: pure, so the use cases warn without loading botocore."""

from __future__ import annotations

from collections.abc import Mapping

from tray.domain.text import N_, Text


def env_warnings(target: str, env: Mapping[str, str]) -> list[Text]:
    """Environment variables (of ``env``) that make tools look somewhere other than ``target``,
    each a whole sentence (a ``Text``: English in ``--json``, the reader's language on a
    terminal)."""
    e = env
    warnings: list[Text] = []
    if e.get("AWS_ACCESS_KEY_ID"):
        warnings.append(Text(N_("AWS_ACCESS_KEY_ID is set in the environment: tools use it, "
                                "even with AWS_PROFILE={target}; only --profile {target} "
                                "overrides it"), target=target))
    elif e.get("AWS_SECRET_ACCESS_KEY"):
        warnings.append(Text(N_("AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID: "
                                "some tools fail on the partial keys")))
    if e.get("AWS_SESSION_TOKEN") or e.get("AWS_SECURITY_TOKEN"):
        var = "AWS_SESSION_TOKEN" if e.get("AWS_SESSION_TOKEN") else "AWS_SECURITY_TOKEN"
        warnings.append(Text(N_("{var} is set in the environment: tools may pair it with other "
                                "keys instead of profile '{target}'"), var=var, target=target))
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        value = e.get(var)
        if value and value != target:
            warnings.append(Text(N_("{var}={value} in the environment: tools use profile "
                                    "'{value}', not '{target}'"),
                                 var=var, value=value, target=target))
            break
    return warnings
