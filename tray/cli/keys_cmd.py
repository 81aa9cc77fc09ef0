"""``roletray keys``: a source profile's long-term keys moved into the OS keyring,
listed, put back into the credentials file, or forgotten."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from tray.cli.common import Root, emit
from tray.cli.roles import yes_no
from tray.cli.snapshot_text import columns, shown
from tray.domain.errors import EXIT_OK, UsageError
from tray.domain.text import Text
from tray.i18n import N_, _


def cmd_keys(args: argparse.Namespace, root: Root) -> int:
    from tray import keys

    if (args.action == "list") != (args.source is None):
        if args.source:
            raise UsageError(Text(N_("`roletray keys list` takes no SOURCE")))
        raise UsageError(N_("`roletray keys {action}` needs SOURCE (a credentials-file "
                            "section, e.g. default)"), action=args.action)
    ctx = keys_context(root)
    creds, config = root.paths.display(root.paths.aws_credentials), \
        root.paths.display(root.paths.aws_config)
    doc: dict[str, Any]
    if args.action == "list":
        held = keys.list_keys(ctx)
        if args.json:
            emit({"ok": True, "sources": [h.to_json() for h in held]})
        elif not held:
            print(_("roletray holds no keys (`roletray keys import SOURCE` moves them there)"))
        else:
            rows = [(_("SOURCE"), _("KEY"), _("IN KEYRING"), _("CONFIG LINE"),
                     _("KEYS IN FILE"), _("FILE"))]
            rows += [(shown(h.source), h.masked_key, yes_no(h.in_keyring),
                      yes_no(h.config_line), yes_no(h.file_has_keys),
                      shown(h.file) if h.file else _("(from before file ids)"))
                     for h in held]
            for line in columns(rows):
                print(line)
            print(shown(_("keyring: {backend}").format(backend=held[0].backend)))
        return EXIT_OK
    if args.action == "import":
        imported = keys.import_keys(args.source, ctx)
        doc = {"source": imported.source, "key": imported.masked_key,
               "backend": imported.backend, "identity_arn": imported.identity_arn,
               "credential_process": imported.line, "already": imported.identity_arn is None}
        fields = {"source": imported.source, "key": imported.masked_key,
                  "backend": imported.backend, "identity": imported.identity_arn,
                  "config": config, "line": imported.line, "credentials": creds}
        text = (_("the keys of '{source}' ({key}) were in {backend} already, and the config "
                  "line in place: nothing to do") if imported.identity_arn is None else
                _("moved the keys of '{source}' ({key}) into {backend}; AWS accepts them "
                  "({identity})\n{config}: credential_process = {line}\n{credentials}: the "
                  "two key lines of [{source}] removed")).format(**fields)
    elif args.action == "export":
        exported = keys.export_keys(args.source, ctx)
        doc = {"source": exported.source, "key": exported.masked_key,
               "line_removed": exported.line_removed}
        text = (_("put the keys of '{source}' ({key}) back into {credentials}; removed "
                  "roletray's credential_process line from {config}\nthe OS keyring still "
                  "holds them: `roletray keys remove {source}` forgets them")
                if exported.line_removed else
                _("put the keys of '{source}' ({key}) back into {credentials}\nthe OS keyring "
                  "still holds them: `roletray keys remove {source}` forgets them")).format(
            source=exported.source, key=exported.masked_key, credentials=creds, config=config)
    else:
        removed = keys.remove_keys(args.source, ctx, force=args.force)
        doc = {"source": removed.source, "forgot": removed.forgot,
               "line_removed": removed.line_removed}
        text = ({(True, True): _("forgot the keys of '{source}' in the OS keyring; removed "
                                 "roletray's credential_process line from {config}"),
                 (True, False): _("forgot the keys of '{source}' in the OS keyring"),
                 (False, True): _("the OS keyring held no keys of '{source}'; removed "
                                  "roletray's credential_process line from {config}"),
                 (False, False): _("the OS keyring held no keys of '{source}'")}
                [(removed.forgot, removed.line_removed)]).format(source=removed.source,
                                                                 config=config)
    if args.json:
        emit({"ok": True, **doc})
    else:
        print("\n".join(shown(line) for line in text.splitlines()))
    return EXIT_OK


def keys_context(root: Root) -> Any:
    """The keys use cases' collaborators: the OS keyring, GetCallerIdentity (botocore,
    loaded here only), this installation's command, and the kill -9 tests' pause."""
    from tray.keys import KeysContext, test_pause
    from tray.platform.autostart import this_roletray
    from tray.platform.secret_store import SecretStore, StoredKeys

    def verify(k: StoredKeys) -> Mapping[str, str]:
        from tray.aws import sts

        return sts.keys_identity(k.source, k.access_key_id, k.secret_access_key, env=root.env)

    return KeysContext(paths=root.paths, store=SecretStore(), verify=verify,
                       program=this_roletray(root.env),
                       pause=test_pause(root.env.get("ROLETRAY_TEST_PAUSE_FILE"),
                                        root.env.get("ROLETRAY_TEST_PAUSE_AT")))
