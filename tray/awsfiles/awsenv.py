"""The environment variables that make the AWS tools look somewhere other than a
profile: pure, so the use cases warn without loading botocore."""

from __future__ import annotations

from collections.abc import Mapping


def env_warnings(target: str, env: Mapping[str, str]) -> list[str]:
    """Environment variables (of ``env``) that make tools look somewhere other than ``target``."""
    e = env
    warnings: list[str] = []
    if e.get("AWS_ACCESS_KEY_ID"):
        warnings.append(f"AWS_ACCESS_KEY_ID is set in the environment: tools use it, even with "
                        f"AWS_PROFILE={target}; only --profile {target} overrides it")
    elif e.get("AWS_SECRET_ACCESS_KEY"):
        warnings.append("AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID: "
                        "some tools fail on the partial keys")
    if e.get("AWS_SESSION_TOKEN") or e.get("AWS_SECURITY_TOKEN"):
        var = "AWS_SESSION_TOKEN" if e.get("AWS_SESSION_TOKEN") else "AWS_SECURITY_TOKEN"
        warnings.append(f"{var} is set in the environment: tools may pair it with other keys "
                        f"instead of profile '{target}'")
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        value = e.get(var)
        if value and value != target:
            warnings.append(f"{var}={value} in the environment: tools use profile '{value}', "
                            f"not '{target}'")
            break
    return warnings
