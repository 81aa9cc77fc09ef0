"""What went wrong, as data: the ``Problem`` a snapshot carries instead of an error's text.

The menu and the notifications read its fields (what kind of problem, which profile,
what a person must provide, the likely cause in plain words); none of them parses an
error message. ``problem_from`` is the one place an error becomes a problem::

    >>> from tray.domain.errors import SsoLoginRequiredError
    >>> p = problem_from(SsoLoginRequiredError(profile="sso-dev", reason="token expired"),
    ...                  role="platform")
    >>> (p.code, p.profile, p.input_kind)
    ('needs_sso', 'sso-dev', 'sso')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from tray.domain.errors import (
    AccessDeniedError,
    AwsError,
    ConfigError,
    CredentialProcessTimeoutError,
    CredentialsFileError,
    EndpointError,
    InputKind,
    KeyringLockedError,
    MfaRequiredError,
    NeedsInputError,
    RoletrayError,
    SettingsError,
    SignInRequiredError,
    SourceCredentialsError,
    SsoLoginRequiredError,
    StateError,
    UsageError,
)
from tray.domain.text import N_, Text, text_of
from tray.i18n import _

__all__ = ["Problem", "ProblemCode", "input_kind", "input_profile", "problem_from"]

ProblemCode = Literal[
    "access_denied",  # AWS refused (AssumeRole denied, an MFA code rejected)
    "needs_mfa",  # an MFA code is needed
    "mfa_session_ending",  # the MFA session ends soon: a code keeps the keys fresh
    "needs_sso",  # an AWS SSO sign-in is needed
    "needs_signin",  # an `aws login` sign-in is missing, has ended, or may not be renewed
    "process_timeout",  # a credential_process did not answer (it may wait for a person)
    "needs_keyring",  # the OS keyring holding a source's keys is locked
    "endpoint",  # STS could not be reached or failed on its side
    "source_credentials",  # the source profile gives no usable keys
    "aws",  # any other refusal by AWS
    "bad_file",  # the credentials, state or settings file is not usable
    "missing_section",  # the target section is gone from the credentials file
    "foreign_section",  # the target section holds keys that are not roletray's
    "config",  # the AWS config does not describe a usable role
    "usage",  # a bad request (a malformed MFA code, a bad duration)
    "internal",  # a bug or an error without a class of its own
]
PROBLEM_CODES: frozenset[str] = frozenset(get_args(ProblemCode))
_INPUT_KINDS: frozenset[str] = frozenset(get_args(InputKind))

# Most specific first: the first class an error is an instance of gives its code.
_CODES: tuple[tuple[type[RoletrayError], ProblemCode], ...] = (
    (SsoLoginRequiredError, "needs_sso"),
    (SignInRequiredError, "needs_signin"),
    (CredentialProcessTimeoutError, "process_timeout"),
    (KeyringLockedError, "needs_keyring"),
    (NeedsInputError, "needs_mfa"),
    (AccessDeniedError, "access_denied"),
    (EndpointError, "endpoint"),
    (SourceCredentialsError, "source_credentials"),
    (AwsError, "aws"),
    (CredentialsFileError, "bad_file"),
    (StateError, "bad_file"),
    (SettingsError, "bad_file"),
    (ConfigError, "config"),
    (UsageError, "usage"),
)


@dataclass(frozen=True)
class Problem:
    """Why roletray cannot go on by itself. No secret in any field.

    ``message`` is the whole reason on one line (AWS's own text included): the CLI's
    "last error", the log, the full report. ``hint`` is the likely cause in plain words
    (the doctor's finding), when one is known. ``input_kind`` says what a person must
    provide to get past it, for ``profile``. ``text`` is ``message`` as its template and
    fields (``RoletrayError.text``), so ``localized()`` says it in the reader's language
    (a daemon's state file is read by a CLI, a menu, a notification of another language).
    """

    code: ProblemCode
    message: str
    profile: str | None = None
    input_kind: InputKind | None = None
    hint: str | None = None
    text: Text | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.text is None and isinstance(self.message, Text):
            object.__setattr__(self, "text", self.message)  # Problem(code, Text(N_(...)))
        if self.code not in PROBLEM_CODES:
            raise ValueError(f"problem code must be one of {sorted(PROBLEM_CODES)}, "
                             f"not {self.code!r}")
        if self.input_kind is not None and self.input_kind not in _INPUT_KINDS:
            raise ValueError(f"input kind must be one of {sorted(_INPUT_KINDS)}, "
                             f"not {self.input_kind!r}")
        # One line, always, like the CLI's error contract.
        object.__setattr__(self, "message", " ".join(self.message.split()))
        if self.hint is not None:
            object.__setattr__(self, "hint", " ".join(self.hint.split()) or None)

    def waiting_for(self, kind: InputKind, profile: str | None) -> Problem:
        """The same problem, now waiting for ``kind`` from a person about ``profile``."""
        return replace(self, input_kind=kind, profile=profile)

    def with_hint(self, hint: str | None) -> Problem:
        return replace(self, hint=hint) if hint else self

    def localized(self) -> str:
        """``message`` in the reader's language (``tray.i18n``), on one line; ``message``
        itself where it has no template (a state file of an older roletray, a plain one)."""
        if self.text is None:
            return self.message
        return " ".join(self.text.localized.split()) or self.message

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"code": self.code, "profile": self.profile,
                                  "input_kind": self.input_kind, "message": self.message,
                                  "hint": self.hint}
        if self.text is not None:
            said = self.text.to_json()
            doc["template"], doc["fields"] = said["template"], said["fields"]
        return doc

    @classmethod
    def from_json(cls, doc: object) -> Problem | None:
        """The problem of ``to_json``; None for ``null``. An unknown code (from a newer
        roletray on the other end of the socket) reads as ``internal``."""
        if not isinstance(doc, Mapping):
            return None
        code = doc.get("code")
        kind = doc.get("input_kind")
        return cls(code=code if code in PROBLEM_CODES else "internal",
                   message=str(doc.get("message") or ""),
                   profile=_str_or_none(doc.get("profile")),
                   input_kind=kind if kind in _INPUT_KINDS else None,
                   hint=_str_or_none(doc.get("hint")),
                   text=text_of(doc.get("template"), doc.get("fields")))


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def problem_code(error: RoletrayError) -> ProblemCode:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return "internal"


def input_profile(error: RoletrayError) -> str | None:
    """The profile a person must act on, when the error names one."""
    value = error.kwargs.get("profile")
    return value if isinstance(value, str) else None


def input_kind(error: RoletrayError, *, code_given: bool = False) -> InputKind | None:
    """What a person must provide to get past ``error``; None if it is not theirs to fix.

    A code that was given and refused (AccessDenied) asks for the next code.
    """
    if isinstance(error, (SsoLoginRequiredError, CredentialProcessTimeoutError,
                          KeyringLockedError, SignInRequiredError)):
        return error.input_kind
    if isinstance(error, NeedsInputError):
        return "mfa"  # MfaRequiredError, and the generic class
    if code_given and isinstance(error, AccessDeniedError):
        return "mfa"
    return None


def problem_from(error: RoletrayError, *, role: str | None = None,
                 code_given: bool = False) -> Problem:
    """The problem ``error`` stands for, while working on ``role`` (if any).

    The profile is the one a person must act on: the SSO profile to sign in, the
    process's profile; for an MFA code it is the role, which the code is asked for.
    A ``hint`` the error carries (its ``hint`` keyword) becomes the problem's hint.
    """
    kind = input_kind(error, code_given=code_given)
    named = input_profile(error)
    if kind == "mfa" or isinstance(error, MfaRequiredError):
        profile = role or named
    else:
        profile = named or role
    hint = error.kwargs.get("hint")
    return Problem(code=problem_code(error), message=str(error), profile=profile,
                   input_kind=kind, hint=hint if isinstance(hint, str) else None,
                   text=error.text)


# --- wording: a problem in one line of plain words, for the menu and the notifications ---

# Only to recognise a message's opening in the reader's language (never to build one):
# the opening "profile 'NAME': " of the messages that name their profile first.
PROFILE_OPENING = N_("profile '{profile}': ")


def _plain_words(p: Problem) -> str | None:
    return p.hint


def _without_profile(p: Problem) -> str:
    """The message in the reader's language, without its ``profile 'NAME': `` opening;
    the whole message if it does not open so."""
    said = p.localized()
    if p.profile is None:
        return said
    for opening in {_(PROFILE_OPENING).format(profile=p.profile),
                    PROFILE_OPENING.format(profile=p.profile)}:
        if said.startswith(opening):
            return said[len(opening):]
    return said


def plain_reason(p: Problem) -> str:
    """The problem in plain words, one line: the finding (``hint``) when one is known, else
    the message without its ``profile 'NAME': `` opening (the title names the role). A
    denied AssumeRole's message leads with its finding already (``tray.domain.denied``)."""
    words = _plain_words(p)
    if words is not None:
        return words
    return _without_profile(p)


def problem_line(p: Problem) -> str:
    """The menu's line for a problem: ``platform: <plain words>``.

    A message that opens with its own profile (``profile 'platform': ...``, as the
    CLI says it) is shortened to that form; any other message is said whole.
    """
    words = _plain_words(p)
    if p.profile is None:
        return words or p.localized()
    if words is None:
        words = _without_profile(p)
        if words == p.localized():
            return words
    return f"{p.profile}: {words}"
