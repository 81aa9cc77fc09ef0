"""Keys for other processes: ``credential-process`` (an SDK's ``credential_process``
line) and ``serve`` (a loopback container-credentials endpoint)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, cast

from tray.cli import asking
from tray.cli.common import Root, diagnosed
from tray.domain.errors import EXIT_OK, AccessDeniedError, UsageError


def cmd_credential_process(args: argparse.Namespace, root: Root) -> int:
    """``credential_process = roletray credential-process PROFILE``: the Version 1 document
    on stdout and nothing else. A served answer is normally printed by
    ``tray.serve.fastpath`` before this module loads; this is the full path: an error
    reply (reported with the doctor's diagnosis), an MFA code to ask for on the
    terminal, or no running instance (the role is assumed here, nothing written)."""
    from tray.domain import wire
    from tray.domain.errors import MfaRequiredError
    from tray.instance import control
    from tray.serve import fastpath

    if args.source is not None or args.no_session or args.file_id is not None:
        if args.profile is not None or not args.source:
            raise UsageError("credential-process: give either PROFILE or --source SOURCE "
                             "(--no-session and --file-id go with --source)")
        document = source_document(args.source, args.file_id, root,
                                   session=not args.no_session)
        sys.stdout.write(json.dumps(document) + "\n")
        return EXIT_OK
    if args.profile is None:
        raise UsageError("credential-process: a PROFILE or --source SOURCE is required")
    where = root.paths
    reply = cast("dict[str, Any] | None", fastpath.handed_over(args.profile)) or \
        control.send("credentials", {"profile": args.profile}, where=where)
    if reply is not None and not reply.get("ok") \
            and isinstance(wire.decode_error(reply), MfaRequiredError):
        code = asking.tty_mfa_code(args.profile, root)
        reply = control.send("credentials", {"profile": args.profile, "mfa_code": code},
                             where=where)
        if reply is None:
            raise UsageError("the running roletray went away while asking for the code")
    if reply is not None:
        try:
            wire.raise_for(reply)
        except AccessDeniedError as e:
            raise diagnosed(args.profile, e, root) from e
        document = reply["document"]
    else:
        document = serve_here(args.profile, root)
    sys.stdout.write(json.dumps(document) + "\n")
    return EXIT_OK


def serve_here(profile: str, root: Root) -> dict[str, Any]:
    """No running instance: one AssumeRole in this process, nothing written."""
    from tray.domain.errors import MfaRequiredError
    from tray.engine import actions
    from tray.serve.document import process_document

    ctx = root.context()
    try:
        try:
            out = actions.assume_only(profile, ctx=ctx)
        except MfaRequiredError:
            out = actions.assume_only(profile, ctx=ctx,
                                      mfa_code=asking.tty_mfa_code(profile, root))
    except AccessDeniedError as e:
        raise diagnosed(profile, e, root) from e
    return process_document(out.result.credentials)


def source_document(source: str, file_id: str | None, root: Root, *,
                     session: bool) -> dict[str, Any]:
    """``credential-process --source SOURCE [--file-id=FILE_ID]``: a GetSessionToken
    session of the keyring-held keys of SOURCE of the credentials file FILE_ID, from
    the running instance (which keeps it) or made here; ``session`` False: the
    long-term pair, read here (the instance never holds it).

    Without FILE_ID (a line from before file ids) the file is the caller's own
    credentials file, and the keyring's item from before file ids is taken over here,
    with the caller's files (``tray.keys_legacy``), never by the instance."""
    from tray import keys_index
    from tray.aws import source_keys
    from tray.domain import wire
    from tray.domain.errors import KeyringKeysMissingError, MfaRequiredError
    from tray.domain.source_line import FILE_ID_RE
    from tray.instance import control
    from tray.serve import fastpath
    from tray.serve.document import process_document

    if file_id is not None and not FILE_ID_RE.fullmatch(file_id):
        raise UsageError(f"credential-process: --file-id {file_id!r} is not a credentials "
                         "file id (12 hex digits, as `roletray keys import` writes it)")
    if not session:
        return source_keys.long_term_document(
            source_keys.long_term(source, env=root.env, file_id=file_id))
    where = root.paths
    request = {"source": source,
               "file_id": file_id or keys_index.file_id(root.paths.aws_credentials)}
    reply = cast("dict[str, Any] | None", fastpath.handed_over(source, source=True)) or \
        control.send("credentials", request, where=where)
    if reply is not None and file_id is None and not reply.get("ok") \
            and isinstance(wire.decode_error(reply), KeyringKeysMissingError):
        from tray import keys_legacy
        from tray.platform.secret_store import SecretStore

        if keys_legacy.claim(source, SecretStore(), root.paths) is not None:
            reply = control.send("credentials", request, where=where)
    if reply is not None and not reply.get("ok") \
            and isinstance(wire.decode_error(reply), MfaRequiredError):
        code = asking.tty_mfa_code(source, root, source=True,
                                   serial=source_keys.needs_code(source, root.env))
        reply = control.send("credentials", {**request, "mfa_code": code}, where=where)
        if reply is None:
            raise UsageError("the running roletray went away while asking for the code")
    if reply is not None:
        wire.raise_for(reply)
        return dict(reply["document"])
    try:
        made = source_keys.start_session(source, env=root.env, file_id=file_id)
    except MfaRequiredError:
        code = asking.tty_mfa_code(source, root, source=True,
                                   serial=source_keys.needs_code(source, root.env))
        made = source_keys.start_session(source, env=root.env, file_id=file_id,
                                         mfa_code=code)
    return process_document(made.credentials)


def cmd_serve(args: argparse.Namespace, root: Root) -> int:
    from tray.serve import foreground

    # An MFA role's code is asked here, before the endpoint opens: its callers cannot be.
    return foreground.run(args.profile, root.env,
                          ask_code=lambda profile: asking.tty_mfa_code(profile, root))
