"""The few GTK calls the presenter makes itself: run on the GUI thread, stop signals,
the clipboard. Imported only where a GTK loop runs (the pystray gtk/appindicator backends)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Mapping

from tray.platform.clipboard import copy_with_tools


def call_soon(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the GUI thread, from any thread (GLib's default main context)."""
    from gi.repository import GLib

    def once() -> bool:
        fn()
        return False  # not again

    GLib.idle_add(once)


def on_signals(signals: Iterable[signal.Signals], handler: Callable[[signal.Signals], None]
               ) -> None:
    """``handler(sig)`` on the GUI thread when one of ``signals`` arrives.

    Call it once the loop runs: pystray's GTK loop resets SIGINT to the default
    when it starts, which would otherwise kill the tray on Ctrl-C.
    """
    from gi.repository import GLib

    for sig in signals:
        def fire(sig: signal.Signals = sig) -> bool:
            handler(sig)
            return True  # keep it: a second Ctrl-C while stopping is the same request

        GLib.unix_signal_add(GLib.PRIORITY_HIGH, int(sig), fire)


def copy_text(text: str, env: Mapping[str, str]) -> str:
    """Put ``text`` on the clipboard: GTK's (on the GUI thread), else a desktop tool.
    Returns how ("" when nothing could)."""
    try:
        import gi

        gi.require_version("Gtk", "3.0")
        gi.require_version("Gdk", "3.0")
        from gi.repository import Gdk, Gtk

        clipboard = Gtk.Clipboard.get(Gdk.SELECTION_CLIPBOARD)
        clipboard.set_text(text, -1)
        clipboard.store()
        return "gtk"
    except (ImportError, ValueError, AttributeError):
        return copy_with_tools(text, env=env)
