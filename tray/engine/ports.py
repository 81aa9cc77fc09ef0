"""The port: everything roletray asks of AWS, in domain types only.

The use cases (``actions``) and the instance's services reach AWS through an
``AwsPort`` and nothing else, so ``tray.engine`` never imports ``tray.aws`` (nor
botocore). Two adapters conform to it structurally (neither imports this module):

- ``tray.aws.port.InProcessAws``: botocore in this process, for one-shot commands
  and for the worker child itself;
- ``tray.child.aws.ChildAws``: each call answered by the worker child (the
  instance's warm one, or one started for the call), for the long-running tray and
  daemon, which never load botocore.

A composition root (``tray.compose``, ``cli``, ``app``, the worker's main) picks one
and puts it in ``actions.Context.aws``. Every call is keyed by what identifies it
fully: the adapter's AWS files (its ``env``) and the profile, never a name alone.
Errors are ``RoletrayError`` subclasses, the same class and exit code from either
adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from tray.domain.models import AssumeResult, RoleProfile, SourceSession, TempCredentials

ProfileMap = Mapping[str, Mapping[str, str]]


class AwsPort(Protocol):
    """What roletray asks of AWS. Blocking: call it off a GUI thread."""

    def assume(self, role: RoleProfile, *, profile_map: ProfileMap | None = None,
               mfa_code: str | None = None, duration: int | None = None,
               session: TempCredentials | None = None,
               now: Callable[[], datetime] | None = None) -> AssumeResult:
        """The keys of ``role`` whatever its kind: one ``sts:AssumeRole`` for a role
        (signed by the MFA ``session`` when given, then no code is sent), one
        ``sso:GetRoleCredentials`` for an Identity Center permission set, an ``aws
        login`` sign-in's own keys. ``now``: the clock of ``received_at`` (an adapter
        across a process boundary uses the other side's). Raises ``MfaRequiredError``,
        ``AccessDeniedError``, ``EndpointError``, ``SourceCredentialsError``,
        ``MfaSessionEndedError``..."""
        ...

    def session_token(self, role: RoleProfile, code: str, *, duration: int,
                      profile_map: ProfileMap | None = None) -> TempCredentials:
        """The start of an MFA session: one ``sts:GetSessionToken`` with ``role``'s
        device and ``code``, signed by its source. Raises
        ``TemporarySourceKeysError`` when the source's keys are temporary (the code was
        not used)."""
        ...

    def source_session(self, source: str, *, file_id: str | None,
                       mfa_code: str | None = None,
                       duration: int | None = None) -> SourceSession:
        """A session (GetSessionToken) of the keyring-held ``source`` of the
        credentials file ``file_id``. Raises ``KeyringLockedError``,
        ``MfaRequiredError``, ``SourceCredentialsError``..."""
        ...

    def verify_target(self, target: str, access_key_id: str, *,
                      profile_map: ProfileMap | None = None) -> None:
        """That the AWS tools now resolve ``target`` to ``access_key_id`` (no network);
        ``CredentialsFileError`` when they do not."""
        ...

    def diagnose(self, profile: str | None) -> tuple[str, str]:
        """The doctor's checks for ``profile`` as one call: (its one-line summary, the
        report)."""
        ...
