"""A role for one command and for a shell: ``roletray exec``, ``env`` and ``prompt``.

- ``childenv``: the environment a child gets (pure): what steers every SDK's chain to
  the role and nothing else, and the lines ``env`` prints for sh, fish and PowerShell.
- ``runner``: ``exec``'s loopback endpoint for the child's lifetime, and the child itself
  (its exit status returned, SIGINT/SIGTERM/SIGHUP passed on).
- ``prompt``: the prompt line, on a lean path (no botocore, not even ``tray.cli``).
"""
