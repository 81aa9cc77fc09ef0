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


def _shape(d: Any) -> tuple[Any, ...]:
    """What a row is, as far as a widget can change into another: its kind."""
    if getattr(d, "submenu", None):
        return ("submenu", _content(d))
    if d.checked is not None:
        return ("check", bool(d.radio))
    return ("item",)


def _content(d: Any) -> tuple[Any, ...]:
    """A submenu's rows as data: the same content keeps its widgets (and dbusmenu ids)."""
    return tuple((c.text, c.checked, c.radio, c.enabled,
                  _content(c) if getattr(c, "submenu", None) else None) for c in d.submenu)


class MenuRows:
    """The rows of one GTK menu that ``reconcile`` keeps: (shape, widget, handler id)."""

    def __init__(self) -> None:
        self.rows: list[tuple[tuple[Any, ...], Any, int | None]] = []


def reconcile(menu: Any, rows: MenuRows, descriptors: list[Any],
              make_submenu_item: Callable[[Any], Any],
              handler: Callable[[Any], Callable[..., None]]) -> None:
    """Make ``menu``'s rows show ``descriptors`` (pystray ``MenuItem``s), keeping the
    widgets already there: a row with the same kind and text is kept (moved if needed),
    and a row of the same kind in the same place takes the new text; a check mark or a
    sensitivity changes in place. Over D-Bus (AppIndicator's dbusmenu export) a kept row
    keeps its id, and a host sees a property change, not a new menu.
    ``make_submenu_item(d)`` builds a row that opens a submenu; ``handler(d)`` is what a
    click runs."""
    import gi

    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    separator = _separator_descriptor()
    shapes = [("separator",) if d is separator else _shape(d) for d in descriptors]
    old = list(rows.rows)
    taken: list[int | None] = [None] * len(descriptors)
    used: set[int] = set()
    by_text: dict[tuple[Any, ...], list[int]] = {}
    for j, (shape, widget, _) in enumerate(old):
        text = "" if shape[0] == "separator" else widget.get_label()
        by_text.setdefault((shape, text), []).append(j)
    for i, d in enumerate(descriptors):  # the same row: same kind and text
        text = "" if shapes[i][0] == "separator" else d.text
        candidates = by_text.get((shapes[i], text))
        if candidates:
            taken[i] = candidates.pop(0)
            used.add(taken[i])  # type: ignore[arg-type]
    for i in range(len(descriptors)):  # the same kind in the same place: new text
        if taken[i] is None and i < len(old) and i not in used and old[i][0] == shapes[i]:
            taken[i] = i
            used.add(i)
    for k, (_, widget, _) in enumerate(old):
        if k not in used:
            menu.remove(widget)
    new_rows: list[tuple[tuple[Any, ...], Any, int | None]] = []
    for i, d in enumerate(descriptors):
        shape = shapes[i]
        at = taken[i]
        if at is not None:
            _, widget, handler_id = old[at]
            if shape[0] == "submenu":
                widget.set_label(d.text)
                widget.set_sensitive(d.enabled)
            elif shape[0] != "separator":
                if handler_id is not None:
                    widget.disconnect(handler_id)
                if widget.get_label() != d.text:
                    widget.set_label(d.text)
                if shape[0] == "check":
                    widget.set_active(bool(d.checked))  # GTK activates it: no handler yet
                widget.set_sensitive(d.enabled)
                handler_id = widget.connect("activate", handler(d))
            menu.reorder_child(widget, i)
        else:
            handler_id = None
            if shape[0] == "separator":
                widget = Gtk.SeparatorMenuItem()
            elif shape[0] == "submenu":
                widget = make_submenu_item(d)
            else:
                if shape[0] == "check":
                    widget = Gtk.CheckMenuItem.new_with_label(d.text)
                    widget.set_active(bool(d.checked))
                    widget.set_draw_as_radio(bool(d.radio))
                else:
                    widget = Gtk.MenuItem.new_with_label(d.text)
                widget.set_sensitive(d.enabled)
                handler_id = widget.connect("activate", handler(d))
            menu.insert(widget, i)
            widget.show_all()
        new_rows.append((shape, widget, handler_id))
    rows.rows = new_rows


def _separator_descriptor() -> Any:
    import pystray

    return pystray.Menu.SEPARATOR
