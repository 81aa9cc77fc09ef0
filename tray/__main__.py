"""``python -m tray``: the same as the ``roletray`` command."""

import sys

from tray.launch import entry

sys.exit(entry())
