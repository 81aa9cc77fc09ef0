"""The few GTK calls the presenter makes itself: run on the GUI thread, stop signals,
the clipboard. Imported only where a GTK loop runs (the pystray gtk/appindicator backends)."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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


PLACEHOLDER = "…"
# Set while roletray hands a menu to GTK or fills a submenu: dbusmenu (AppIndicator's
# export over D-Bus) "activates" every row it parses, which would build every submenu.
_handing_over = 0


@contextmanager
def _handing() -> Iterator[None]:
    global _handing_over
    _handing_over += 1
    try:
        yield
    finally:
        _handing_over -= 1


def quiet_set_menu(indicator: Any) -> None:
    """Make ``indicator.set_menu`` (AppIndicator's) build no lazy submenu while dbusmenu
    parses the menu: only a tray host's AboutToShow, or GTK showing it, builds one."""
    set_menu = indicator.set_menu

    def handed_over(menu: Any) -> None:
        with _handing():
            set_menu(menu)

    indicator.set_menu = handed_over


def lazy_submenu_item(text: str, enabled: bool, build: Callable[[], list[Any]]) -> Any:
    """A menu row that opens a submenu whose items ``build()`` makes when it first opens.

    Until then the submenu holds one disabled "…" row, so that a tray host reading the
    menu over D-Bus (dbusmenu) still sees a submenu. In a GTK popup the row is selected
    (highlighted) before its submenu opens; dbusmenu activates the row before a host
    shows it (AboutToShow), and also as it parses rows (ignored: see ``quiet_set_menu``).
    "show" is no sign: AppIndicator shows every submenu when it is handed the menu. The
    row is a plain item: a row that opens a submenu carries no check state (issue 15).
    """
    import gi

    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    item = Gtk.MenuItem.new_with_label(text)
    menu = Gtk.Menu.new()
    placeholder = Gtk.MenuItem.new_with_label(PLACEHOLDER)
    placeholder.set_sensitive(False)
    menu.append(placeholder)
    placeholder.show()
    filled = False

    def fill() -> None:
        nonlocal filled
        if filled:
            return
        filled = True
        with _handing():
            for child in build():
                menu.append(child)
                child.show_all()
            menu.remove(placeholder)

    def opening(_item: Any) -> None:
        if not _handing_over:
            fill()

    item.connect("select", opening)  # GTK: the row is highlighted, its submenu opens next
    item.connect("activate", opening)  # dbusmenu: a host's AboutToShow; a click
    item.set_submenu(menu)
    item.set_sensitive(enabled)
    return item
