"""The errors that wait for a person, and what kind of input each one waits for.

The refresher publishes the kind with its needs-input state, so the tray can
offer the right thing: the MFA prompt (``mfa``), "Sign in to AWS SSO…"
(``sso``, for ``input_profile``), or a plain retry once the person has answered
their credential process (``process``).

These live apart from ``tray.errors`` so that this feature can grow on its
own; ``tray.worker`` rebuilds them by name like the classes there.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from tray.errors import AccessDeniedError, MfaRequiredError, NeedsInputError, RoletrayError

InputKind = Literal["mfa", "sso", "process"]


class SsoLoginRequiredError(NeedsInputError):
    """The SSO token of ``profile`` is missing, expired or was refused."""

    input_kind: ClassVar[InputKind] = "sso"
    fmt = ("SSO sign-in needed for profile '{profile}' ({reason}); choose \"Sign in to AWS "
           "SSO…\" in the tray or run `aws sso login --profile {profile}`")


class CredentialProcessTimeoutError(NeedsInputError):
    """A ``credential_process`` took longer than roletray waits; it was stopped."""

    input_kind: ClassVar[InputKind] = "process"
    fmt = ("credential_process for profile '{profile}' did not answer within {seconds} s "
           "(it may be waiting for you)")


class MfaSessionEndedError(MfaRequiredError):
    """AWS refused the MFA session's keys (it ended early, or was revoked)."""

    fmt = ("profile '{profile}': AWS no longer accepts the MFA session for {mfa_serial} "
           "({code}); enter a new MFA code")


def input_profile(error: RoletrayError) -> str | None:
    """The profile a person must act on, when the error names one."""
    value = error.kwargs.get("profile")
    return value if isinstance(value, str) else None


def input_kind(error: RoletrayError, *, code_given: bool = False) -> InputKind | None:
    """What a person must provide to get past ``error``; None if it is not theirs to fix.

    A code that was given and refused (AccessDenied) asks for the next code.
    """
    kind = getattr(error, "input_kind", None)
    if kind is not None:
        return kind  # type: ignore[no-any-return]
    if isinstance(error, MfaRequiredError):
        return "mfa"
    if isinstance(error, NeedsInputError):
        return "mfa"  # the generic class: an MFA code, as before this module existed
    if code_given and isinstance(error, AccessDeniedError):
        return "mfa"
    return None
