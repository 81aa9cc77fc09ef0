"""One codec for results and errors that cross a process boundary.

Every channel uses it: the control socket (CLI -> running tray/daemon) and the
children's pipes (``tray.child.codec``: the refresh worker, the doctor, the SSO
sign-in), each framed by ``tray.domain.wireline``. A reply is one JSON object::

    {"ok": true, ...fields of the result}
    {"ok": false, "code": "mfa_required", "error": "profile 'x' needs ...",
     "exit_code": 2, "profile": "x"}

Errors travel by a stable ``code`` registered per class below, never by a Python
class name: renaming or moving a class does not change the wire, and a code this
side does not know becomes the nearest base by exit code. ``profile`` is the
profile a person must act on (``needs.input_profile``), so a rebuilt error asks
for the same input as the original. ``template`` and ``fields`` (``RoletrayError.text``),
when the error has them, let the reading side say the message in its own language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tray.domain import errors
from tray.domain.errors import EXIT_AWS, EXIT_USAGE, RoletrayError
from tray.domain.text import Text, text_of
from tray.i18n import N_

# Stable: a code, once shipped, keeps its meaning (tests/test_wire.py pins every class).
ERROR_CODES: dict[type, str] = {
    errors.RoletrayError: "error",
    errors.UsageError: "usage",
    errors.ConfigError: "config",
    errors.UnknownProfileError: "unknown_profile",
    errors.NotAProfileError: "not_a_profile",
    errors.CredentialsFileError: "credentials_file",
    errors.SettingsError: "settings",
    errors.StateError: "state",
    errors.RemoteError: "remote",
    errors.InstanceRunningError: "instance_running",
    errors.NeedsInputError: "needs_input",
    errors.MfaRequiredError: "mfa_required",
    errors.MfaSessionEndedError: "mfa_session_ended",
    errors.MfaProcessError: "mfa_process_failed",
    errors.SsoLoginRequiredError: "sso_login_required",
    errors.SignInRequiredError: "signin_required",
    errors.SignInNotAllowedError: "signin_not_allowed",
    errors.CredentialProcessTimeoutError: "credential_process_timeout",
    errors.KeyringUnavailableError: "keyring_unavailable",
    errors.KeyringLockedError: "keyring_locked",
    errors.AwsError: "aws",
    errors.AccessDeniedError: "access_denied",
    errors.TemporarySourceKeysError: "temporary_source_keys",
    errors.EndpointError: "endpoint",
    errors.SourceCredentialsError: "source_credentials",
    errors.KeyringKeysMissingError: "keyring_keys_missing",
}
_CLASSES: dict[str, type[RoletrayError]] = {code: cls for cls, code in ERROR_CODES.items()}
INTERNAL = "internal"  # not a RoletrayError: a bug on the other side, reported by type only

# One set of deadlines, read by both ends. The worker's backstop for one AssumeRole
# (botocore's own timeouts and the credential_process timeout end a call before it);
# a handed-over command may first wait for a refresh in flight, then run its own:
# the CLI waits longer than both, so it never reports a failure the instance then
# turns into a success.
WORKER_TIMEOUT = 60.0
HANDOVER_TIMEOUT = 2 * WORKER_TIMEOUT + 15.0


def code_of(error: RoletrayError) -> str:
    """The registered code of ``error``'s class, or of its nearest registered base."""
    for cls in type(error).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]
    return ERROR_CODES[RoletrayError]


def ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def encode_error(error: RoletrayError) -> dict[str, Any]:
    profile = error.kwargs.get("profile")
    doc = {"ok": False, "code": code_of(error), "error": str(error),
           "exit_code": error.exit_code,
           "profile": profile if isinstance(profile, str) else None}
    if error.localized != str(error):  # the same, in the language of the side that failed
        doc["localized"] = error.localized
    text = error.text
    if text is not None:  # to say it in the reader's language (older readers ignore it)
        doc.update(text.to_json())
    return doc


def internal_error(message: str) -> dict[str, Any]:
    """A failure that is not a RoletrayError; ``message`` must name a type, never a value."""
    return {"ok": False, "code": INTERNAL, "error": message, "exit_code": EXIT_USAGE,
            "profile": None}


def decode_error(doc: Mapping[str, Any]) -> RoletrayError:
    """The error ``encode_error`` wrote, as the same class with the same message and fields."""
    message = doc.get("error")
    message = message if isinstance(message, str) and message else "the other side failed"
    exit_code = doc.get("exit_code")
    if not isinstance(exit_code, int) or isinstance(exit_code, bool):
        exit_code = EXIT_USAGE
    code = doc.get("code")
    cls = _CLASSES.get(code) if isinstance(code, str) else None
    if cls is None or cls is errors.RemoteError:
        cls = errors.AwsError if exit_code == EXIT_AWS else RoletrayError
    # Bypass the class's message template: the text is already formatted.
    error = cls.__new__(cls)
    Exception.__init__(error, " ".join(message.split()))
    error.kwargs = {"message": message}
    profile = doc.get("profile")
    if isinstance(profile, str):
        error.kwargs["profile"] = profile
    localized = doc.get("localized")
    if isinstance(localized, str) and localized:
        error.localized = localized
    text = text_of(doc.get("template"), doc.get("fields"))
    if text is not None:  # the reader's language, where the other side sent the template
        error.template = text.template
        error.kwargs.update(text.fields)
        error.localized = text.localized
    return error


def raise_for(reply: Mapping[str, Any]) -> Mapping[str, Any]:
    """``reply`` when it says ok; else its error, raised."""
    if reply.get("ok") is True:
        return reply
    raise decode_error(reply)


# ------------------------------------------------------------- the control protocol
# A request on the control socket is one envelope: the caller's protocol, its version,
# the AWS files it resolved (real paths), and the command as before::
#
#     {"proto": 3, "version": "0.1.0", "files": {"config": "/home/u/.aws/config",
#      "credentials": "/home/u/.aws/credentials"}, "call": {"cmd": "status"}}
#
# Every reply of an instance carries ``"proto"`` and ``"version"``. 1 is the bare
# ``{"cmd": ...}`` of the versions before the number: an instance of those finds no
# ``cmd`` in an envelope and declines it ("unknown command"), so it never acts on a
# request it cannot read. 3: an ``assume`` may be ``unattended`` (the lean hand-over):
# the instance declines a guarded profile, ``NEEDS_PERSON``; an instance of 2 would
# ignore the mark and switch to it unasked, so it declines the envelope instead.
PROTO = 3
OTHER_FILES = "other_files"  # declined: the instance answers for other AWS files
OTHER_PROTO = "other_proto"  # declined: the two ends speak different protocols
# declined: an ``assume`` sent ``unattended`` (the lean hand-over, ``tray.instance.handover``)
# for a profile a person must confirm first (``roletray_guard``); the full command line asks
NEEDS_PERSON = "needs_person"


def declined(code: str, message: str) -> dict[str, Any]:
    """A request the instance does not serve (``OTHER_FILES``, ``OTHER_PROTO``,
    ``NEEDS_PERSON``); an older
    caller reads it as an error with ``message`` (a ``Text``: said in the reader's
    language too)."""
    doc = {"ok": False, "code": code, "error": str(message), "exit_code": EXIT_USAGE,
           "profile": None}
    if isinstance(message, Text):
        doc.update(message.to_json())
    return doc


def _named(proto: object, version: object) -> Text:
    if not isinstance(proto, int) or isinstance(proto, bool):
        proto = 1  # before the number
    if isinstance(version, str) and version:
        return Text(N_("roletray {version} (control protocol {proto})"),
                    version=version, proto=proto)
    if proto < PROTO:
        return Text(N_("control protocol {proto}, an older version"), proto=proto)
    return Text(N_("control protocol {proto}"), proto=proto)


def mismatch(*, running: tuple[object, object], caller: tuple[object, object],
             pid: int | None) -> Text:
    """One line for a CLI and an instance that speak different protocols: both versions
    (proto, version) and how to restart the instance."""
    if pid:
        return Text(N_("the running roletray (pid {pid}) speaks {running} and this command "
                       "{caller}: restart it so that both are one version (quit the tray or "
                       "`kill {pid}`, then start `roletray` or `roletray daemon` again)"),
                    pid=pid, running=_named(*running), caller=_named(*caller))
    return Text(N_("the running roletray speaks {running} and this command {caller}: restart "
                   "it so that both are one version (quit the tray or stop the daemon, then "
                   "start `roletray` or `roletray daemon` again)"),
                running=_named(*running), caller=_named(*caller))
