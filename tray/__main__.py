"""``python -m tray``: the same as the ``roletray`` command."""

import sys

from tray.serve.fastpath import entry

sys.exit(entry())
