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

from tray.serve import fastpath


def entry() -> int:
    import os

    from tray.domain import chain

    refused = chain.refusal(sys.argv[1:], os.environ)
    if refused is not None:  # a loop of credential_process helpers: stop it here
        sys.stderr.write(refused + "\n")
        return 2
    code = fastpath.main()
    if code is not None:
        return code
    if sys.argv[1:2] == ["assume"]:
        from tray.instance import handover

        code = handover.main()
        if code is not None:
            return code
    if sys.argv[1:2] == ["prompt"]:
        from tray.shell import prompt

        code = prompt.main(sys.argv[1:])
        if code is not None:
            return code
    from tray.cli import main

    return main()
