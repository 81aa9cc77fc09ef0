"""The errors that wait for a person, and what kind of input each one waits for.

The refresher publishes the kind with its needs-input state, so the tray can
offer the right thing: the MFA prompt (``mfa``), "Sign in to AWS SSO…"
(``sso``, for ``input_profile``), or a plain retry once the person has answered
their credential process (``process``).

The error classes live in ``tray.domain.errors`` with the others (so ``tray.engine.worker``
rebuilds them from there).
"""

from __future__ import annotations

from tray.domain.errors import AccessDeniedError, InputKind, NeedsInputError, RoletrayError

__all__ = ["input_kind", "input_profile"]


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
    if isinstance(error, NeedsInputError):
        return "mfa"  # MfaRequiredError, and the generic class as before this module existed
    if code_given and isinstance(error, AccessDeniedError):
        return "mfa"
    return None
