"""``roletray keys``: a source profile's long-term keys moved into the OS keyring,
listed, put back into the credentials file, or forgotten."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from tray.cli.common import Root, emit
from tray.cli.snapshot_text import shown
from tray.domain.errors import EXIT_OK, UsageError


def cmd_keys(args: argparse.Namespace, root: Root) -> int:
    from tray import keys

    if (args.action == "list") != (args.source is None):
        raise UsageError("`roletray keys list` takes no SOURCE" if args.source else
                         f"`roletray keys {args.action}` needs SOURCE (a credentials-file "
                         "section, e.g. default)")
    ctx = keys_context(root)
    creds, config = root.paths.display(root.paths.aws_credentials), \
        root.paths.display(root.paths.aws_config)
    doc: dict[str, Any]
    if args.action == "list":
        held = keys.list_keys(ctx)
        if args.json:
            emit({"ok": True, "sources": [h.to_json() for h in held]})
        elif not held:
            print("roletray holds no keys (`roletray keys import SOURCE` moves them there)")
        else:
            rows = [("SOURCE", "KEY", "IN KEYRING", "CONFIG LINE", "KEYS IN FILE", "FILE")]
            rows += [(h.source, h.masked_key, yes_no(h.in_keyring), yes_no(h.config_line),
                      yes_no(h.file_has_keys), h.file or "(from before file ids)")
                     for h in held]
            width = [max(len(r[i]) for r in rows) for i in range(5)]
            for r in rows:
                print(shown("  ".join(c.ljust(w) for c, w in zip(r, width, strict=False))
                            + "  " + r[5]))
            print(f"keyring: {held[0].backend}")
        return EXIT_OK
    if args.action == "import":
        imported = keys.import_keys(args.source, ctx)
        doc = {"source": imported.source, "key": imported.masked_key,
               "backend": imported.backend, "identity_arn": imported.identity_arn,
               "credential_process": imported.line, "already": imported.identity_arn is None}
        text = (f"the keys of '{imported.source}' ({imported.masked_key}) were in "
                f"{imported.backend} already, and the config line in place: nothing to do"
                if imported.identity_arn is None else
                f"moved the keys of '{imported.source}' ({imported.masked_key}) into "
                f"{imported.backend}; AWS accepts them ({imported.identity_arn})\n"
                f"{config}: credential_process = {imported.line}\n"
                f"{creds}: the two key lines of [{imported.source}] removed")
    elif args.action == "export":
        exported = keys.export_keys(args.source, ctx)
        doc = {"source": exported.source, "key": exported.masked_key,
               "line_removed": exported.line_removed}
        text = (f"put the keys of '{exported.source}' ({exported.masked_key}) back into "
                f"{creds}" + (f"; removed roletray's credential_process line from {config}"
                              if exported.line_removed else "")
                + f"\nthe OS keyring still holds them: `roletray keys remove "
                f"{exported.source}` forgets them")
    else:
        removed = keys.remove_keys(args.source, ctx, force=args.force)
        doc = {"source": removed.source, "forgot": removed.forgot,
               "line_removed": removed.line_removed}
        text = (f"forgot the keys of '{removed.source}' in the OS keyring" if removed.forgot
                else f"the OS keyring held no keys of '{removed.source}'") + (
            f"; removed roletray's credential_process line from {config}"
            if removed.line_removed else "")
    if args.json:
        emit({"ok": True, **doc})
    else:
        print("\n".join(shown(line) for line in text.splitlines()))
    return EXIT_OK


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


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
