"""Python children of the long-running parent: ONE runner (``runner``) that starts them,
bounds them and ends them with their helpers; what they say crosses the pipe in the
line codec of ``tray.domain.wire``."""
