"""The ``roletray`` command's entry point (and ``python -m tray``'s).

``roletray credential-process PROFILE`` runs before every SDK process that uses the
profile: when a running instance answers it, ``tray.serve.fastpath`` prints the
document without loading the full command line. ``roletray prompt`` runs before every
command line of a shell that shows it: ``tray.shell.prompt`` answers it on a lean path
too, and so does ``roletray assume PROFILE [--json]`` with an instance running
(``tray.instance.handover``). Everything else is ``tray.cli`` (the package; ``main``
loads the rest).
"""

from __future__ import annotations

import sys


def entry() -> int:
    import os

    from tray.domain import chain

    refused = chain.refusal(sys.argv[1:], os.environ)
    if refused is not None:  # a loop of credential_process helpers: stop it here
        sys.stderr.write(refused + "\n")
        return 2
    if sys.argv[1:2] == ["credential-process"]:
        from tray.serve import fastpath

        code = fastpath.main()
        if code is not None:
            return code
    if sys.argv[1:2] == ["assume"]:
        from tray.instance import handover

        try:
            code = handover.main(sys.argv[1:], os.environ, _switched)
        except BrokenPipeError:  # as tray.cli.main: the reader left, as is its right
            from tray.cli import drop_stdout

            drop_stdout()
            return 141  # as a shell reports a command ended by SIGPIPE
        if code is not None:
            return code
    if sys.argv[1:2] == ["prompt"]:
        from tray.shell import prompt

        code = prompt.main(sys.argv[1:])
        if code is not None:
            return code
    from tray.cli import main

    return main()


def _switched(profile: str, reply: dict[str, object]) -> str:
    """The lines ``roletray assume`` prints after a running instance switched, in the
    user's language, by the full command line's own code (``tray.cli.snapshot_text``,
    which loads no more than it needs)."""
    import os

    from tray import i18n
    from tray.cli import snapshot_text

    i18n.setup(os.environ)
    snap = reply["snapshot"]
    assert isinstance(snap, dict)
    for warning in snapshot_text.warning_lines(reply):  # on stderr, as the full path
        sys.stderr.write(warning + "\n")
    line = snapshot_text.switched_line(profile, snap.get("target"), reply.get("default_target"))
    return snapshot_text.snapshot_table(snap, extra=line)
