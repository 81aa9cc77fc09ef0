"""``python -m tray``: the same as the ``roletray`` command."""

import sys

from tray.cli import main

sys.exit(main())
