"""One error base; each subclass carries its exit code and a one-line message.

The CLI prints ``error.localized`` on one line of stderr and exits with
``error.exit_code``. Messages never contain a secret: build them from names,
paths and AWS error codes, never from a credential value.

``str(error)`` is English, always: logs, ``--json`` output and state files keep it.
``error.localized`` is the same message in the user's language (``tray.i18n``): a
``fmt`` template is translated as a whole sentence, then filled in.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from tray.domain.text import Text, fields_of

EXIT_OK = 0
EXIT_AWS = 1  # AWS refused, or could not be reached
EXIT_USAGE = 2  # bad usage, bad input file, or a refused write

# What a person must provide to get past a NeedsInputError (see ``tray.domain.problems``).
InputKind = Literal["mfa", "sso", "process", "keyring", "signin"]


class RoletrayError(Exception):
    """Base of every error roletray reports to the user.

    Subclasses set ``fmt`` and pass its fields as keyword arguments::

        raise UnknownProfileError(profile="platform", path="~/.aws/config")

    A one-off message is a template marked with ``N_`` and its fields, translated as a
    whole sentence like a ``fmt`` (a plain string without fields stays English; a
    ``tray.domain.text.Text`` brings its template and fields, with or without fields)::

        raise UsageError(N_("--duration {value}: must be from 900 to 43200 seconds"),
                         value=seconds)
        raise UsageError(Text(N_("no web browser could be started")))
    """

    exit_code: ClassVar[int] = EXIT_USAGE
    fmt: ClassVar[str] = "{message}"
    template: str | None = None  # the fmt or one-off template the message was filled from

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        template = self.fmt
        if isinstance(message, Text) and not kwargs and template == RoletrayError.fmt:
            kwargs = {**message.fields, "message": str(message)}
            template, message = message.template, None
        if message is not None and kwargs and template == RoletrayError.fmt:
            template = message  # a one-off template: N_("... {field} ..."), field=...
            kwargs["message"] = message.format(**kwargs)
        elif message is not None:
            kwargs.setdefault("message", message)
        self.kwargs = kwargs
        text = kwargs["message"] if template is not self.fmt else self.fmt.format(**kwargs)
        # One line, always: a multi-line AWS message would break the CLI contract.
        super().__init__(" ".join(text.split()))
        if template != RoletrayError.fmt:
            self.template = template
            said = self.text
            if said is not None:
                self._localized = " ".join(said.localized.split())

    @property
    def text(self) -> Text | None:
        """The message as its template and the fields it names (to say it later in another
        reader's language: ``tray.domain.problems``, ``tray.domain.wire``); None for a
        plain message. The fields are the message's own: no secret."""
        template = getattr(self, "template", None)
        if template is None:
            return None
        names = fields_of(template)
        try:
            return Text(template, **{k: v for k, v in self.kwargs.items() if k in names})
        except (KeyError, IndexError, ValueError):
            return None

    @property
    def localized(self) -> str:
        """The message in the user's language; ``str(self)`` where it has no translation."""
        return getattr(self, "_localized", None) or str(self)

    @localized.setter
    def localized(self, text: str) -> None:
        self._localized = " ".join(text.split())


class UsageError(RoletrayError):
    """Bad command-line usage."""


class ConfigError(RoletrayError):
    """The AWS config file, or a profile in it, is not usable."""


class UnknownProfileError(ConfigError):
    fmt = "{path}: no profile named '{profile}'"


class NotAProfileError(UnknownProfileError):
    """A bare ``[name]`` section of the config file, which botocore does not read as a profile."""

    fmt = ("{path}: no profile named '{profile}'; the section [{profile}] is not a profile "
           "in the config file, name it [profile {profile}]")


class CredentialsFileError(RoletrayError):
    """The shared credentials file cannot be parsed, or a write was refused."""


class SettingsError(RoletrayError):
    """roletray's config.toml is broken."""


class StateError(RoletrayError):
    """roletray's state file is broken."""


class RemoteError(RoletrayError):
    """An error the running tray/daemon reported back over the control channel."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


class InstanceRunningError(RoletrayError):
    fmt = "roletray is already running (pid {pid}); {hint}"


class NeedsInputError(RoletrayError):
    """A person must act (an MFA code, an SSO sign-in) before roletray can go on."""


class MfaRequiredError(NeedsInputError):
    fmt = "profile '{profile}' needs an MFA code for {mfa_serial}: pass --mfa-code or run in a terminal"


class MfaProcessError(MfaRequiredError):
    """A profile's ``mfa_process`` gave no code; its output is never repeated."""

    fmt = ("profile '{profile}': its mfa_process {how}; its messages are not repeated here "
           "(they may hold a secret): run it in a terminal to see them, or enter the code")


class MfaSessionEndedError(MfaRequiredError):
    """AWS refused the MFA session's keys (it ended early, or was revoked)."""

    fmt = ("profile '{profile}': AWS no longer accepts the MFA session for {mfa_serial} "
           "({code}); enter a new MFA code")


class SsoLoginRequiredError(NeedsInputError):
    """The SSO token of ``profile`` is missing, expired or was refused."""

    input_kind: ClassVar[InputKind] = "sso"
    fmt = ("SSO sign-in needed for profile '{profile}' ({reason}); choose \"Sign in to AWS "
           "SSO…\" in the tray or run `aws sso login --profile {profile}`")


class SignInRequiredError(NeedsInputError):
    """The ``aws login`` sign-in of ``profile`` is missing or has ended (its refresh token
    expired, or the user's credentials changed): only the person can sign in again."""

    input_kind: ClassVar[InputKind] = "signin"
    fmt = ("the aws login sign-in of profile '{profile}' {reason}; sign in again with "
           "`aws login --profile {profile}`")


class SignInNotAllowedError(SignInRequiredError):
    """AWS refused to renew the sign-in: the user lacks ``signin:CreateOAuth2Token``."""

    fmt = ("the aws login sign-in of profile '{profile}' may not be renewed "
           "(INSUFFICIENT_PERMISSIONS): the IAM user needs the AWS managed policy "
           "SignInLocalDevelopmentAccess; once it has it, run `aws login --profile {profile}`")


class CredentialProcessTimeoutError(NeedsInputError):
    """A ``credential_process`` took longer than roletray waits; it was stopped."""

    input_kind: ClassVar[InputKind] = "process"
    fmt = ("credential_process for profile '{profile}' did not answer within {seconds} s "
           "(it may be waiting for you)")


class KeyringUnavailableError(RoletrayError):
    """No OS secret store can be used (no backend, or the backend failed to start)."""

    fmt = "no OS keyring to keep keys in: {reason}; nothing was moved"


class KeyringLockedError(NeedsInputError):
    """The OS keyring is locked and was not unlocked (the prompt was dismissed, or none
    could be shown)."""

    input_kind: ClassVar[InputKind] = "keyring"
    fmt = "the OS keyring holding the keys of '{source}' is locked: {how}"


class AwsError(RoletrayError):
    """AWS refused the request or could not be reached."""

    exit_code = EXIT_AWS


class AccessDeniedError(AwsError):
    """AssumeRole (or another call) was denied."""


class TemporarySourceKeysError(AccessDeniedError):
    """GetSessionToken refused because the source's keys are session keys themselves
    (a role, SSO, most processes): no MFA session can start; the code was not used."""


class EndpointError(AwsError):
    """STS could not be reached, timed out, or answered with a server error."""


class SourceCredentialsError(AwsError):
    """The source profile yields no usable credentials."""


class KeyringKeysMissingError(SourceCredentialsError):
    """A source's ``credential_process`` line says its keys are in the OS keyring, and
    the keyring holds none: the user's to fix (exit 2), not AWS's."""

    exit_code = EXIT_USAGE
