""""Find a role…": a small GTK window in the tray's own process (its GTK loop is running,
and the profiles are in memory: it opens at once).

A search field over a list filtered as you type (``finder_index``: by profile, account
name or id, role); Up and Down move in the list, Enter switches to the selected role
(the first one unless another was chosen), Escape or closing the window hides it.
The switch goes through the same handler as the menu's rows, so a guarded profile
asks first. GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, Gtk, Pango

from tray.i18n import N_, _, ngettext
from tray.ui.finder_index import Entry, RoleIndex

log = logging.getLogger(__name__)

TITLE = N_("roletray: find a role")
NAME, SHOWN, ACCOUNT, ROLE = range(4)


def _shown(e: Entry) -> str:
    return f"{e.name} [{e.guard}]" if e.guard else e.name


class Finder:
    """One window, made when first shown and hidden (not destroyed) between uses."""

    def __init__(self, switch: Callable[[str], None]) -> None:
        self._switch = switch
        self._index: RoleIndex | None = None
        self._filtered: str | None = None  # the text the list was filtered for
        self.window: Any = None
        self.entry: Any = None
        self.view: Any = None
        self.store: Any = None
        self.count: Any = None

    # -- building ------------------------------------------------------------------
    def _build(self) -> None:
        win = Gtk.Window(title=_(TITLE))
        win.set_default_size(560, 420)
        win.set_position(Gtk.WindowPosition.CENTER)
        win.set_keep_above(True)
        win.set_type_hint(Gdk.WindowTypeHint.DIALOG)
        win.connect("delete-event", self._on_close)
        win.connect("key-press-event", self._on_key)
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        box.set_border_width(8)
        entry = Gtk.SearchEntry()
        entry.set_placeholder_text(_("Profile, account name or id, role…"))
        # At each keystroke ("changed"), not after SearchEntry's 150 ms pause: it is fast.
        entry.connect("changed", lambda *_: self.refill())
        entry.connect("activate", lambda *_: self.choose())
        store = Gtk.ListStore(str, str, str, str)
        view = Gtk.TreeView(model=store)
        view.set_headers_visible(True)
        view.set_enable_search(False)
        view.set_fixed_height_mode(True)
        for title, col, width in ((_("Profile"), SHOWN, 280), (_("Account"), ACCOUNT, 120),
                                  (_("Role"), ROLE, 140)):
            cell = Gtk.CellRendererText(ellipsize=Pango.EllipsizeMode.END)
            column = Gtk.TreeViewColumn(title, cell, text=col)
            column.set_sizing(Gtk.TreeViewColumnSizing.FIXED)
            column.set_fixed_width(width)
            column.set_resizable(True)
            view.append_column(column)
        view.connect("row-activated", lambda _v, path, _c: self.choose(path))
        scroll = Gtk.ScrolledWindow()
        scroll.set_vexpand(True)
        scroll.add(view)
        count = Gtk.Label(xalign=0)
        box.pack_start(entry, False, False, 0)
        box.pack_start(scroll, True, True, 0)
        box.pack_start(count, False, False, 0)
        win.add(box)
        self.window, self.entry, self.view, self.store, self.count = win, entry, view, store, count

    # -- showing -------------------------------------------------------------------
    def show(self, index: RoleIndex) -> None:
        """Open (or bring forward) the window over ``index``, the field empty."""
        if self.window is None:
            self._build()
        self._index = index
        self.entry.set_text("")
        self.refill()
        self.window.show_all()
        self.window.present()
        self.entry.grab_focus()

    def _on_close(self, *_args: Any) -> bool:
        self.hide()
        return True  # kept for the next time

    def hide(self) -> None:
        if self.window is not None:
            self.window.hide()

    @property
    def visible(self) -> bool:
        return self.window is not None and bool(self.window.get_visible())

    def refill(self) -> int:
        """The list for the field's text now; returns how many rows are shown."""
        if self._index is None:
            return 0
        self._filtered = self.entry.get_text()
        found = self._index.search(self._filtered)
        fill(self.view, self.store, found.entries)
        shown = len(found.entries)
        total = len(self._index)
        if shown < found.total:
            text = ngettext("{found:,} of {total:,} role (first {shown} shown: type more)",
                            "{found:,} of {total:,} roles (first {shown} shown: type more)",
                            total)
        else:
            text = ngettext("{found:,} of {total:,} role", "{found:,} of {total:,} roles", total)
        self.count.set_text(text.format(found=found.total, total=total, shown=shown))
        if shown:
            self.view.get_selection().select_path(Gtk.TreePath.new_first())
            if self.view.get_realized():
                self.view.scroll_to_point(0, 0)
        return shown

    # -- choosing ------------------------------------------------------------------
    def selected(self) -> str | None:
        model, it = self.view.get_selection().get_selected()
        return None if it is None else str(model.get_value(it, NAME))

    def choose(self, path: Any = None) -> None:
        if path is None and self.entry.get_text() != self._filtered:
            self.refill()  # the field changed without telling (nothing else refills)
        if path is not None:
            name: str | None = str(self.store[path][NAME])
        else:
            name = self.selected()
        if name is None:
            return
        self.hide()
        log.info("switching to %s from the finder", name)
        self._switch(name)

    def _move(self, step: int) -> None:
        n = len(self.store)
        if not n:
            return
        model, it = self.view.get_selection().get_selected()
        at = model.get_path(it).get_indices()[0] if it is not None else -1
        to = max(0, min(n - 1, at + step))
        path = Gtk.TreePath.new_from_indices([to])
        self.view.get_selection().select_path(path)
        self.view.scroll_to_cell(path, None, False, 0, 0)

    def _on_key(self, _widget: Any, event: Any) -> bool:
        key = event.keyval
        if key == Gdk.KEY_Escape:
            self.hide()
            return True
        if key in (Gdk.KEY_Down, Gdk.KEY_Up, Gdk.KEY_Page_Down, Gdk.KEY_Page_Up):
            step = {Gdk.KEY_Down: 1, Gdk.KEY_Up: -1, Gdk.KEY_Page_Down: 10,
                    Gdk.KEY_Page_Up: -10}[key]
            self._move(step)
            return True
        if key in (Gdk.KEY_Return, Gdk.KEY_KP_Enter):
            self.choose()
            return True
        return False


def fill(view: Any, store: Any, entries: list[Entry]) -> None:
    """Replace the list's rows with ``entries``: the model is detached while it is
    refilled, so the view redraws once, not once per row."""
    view.set_model(None)
    store.clear()
    for e in entries:
        store.insert_with_valuesv(-1, (NAME, SHOWN, ACCOUNT, ROLE),
                                  (e.name, _shown(e), e.account, e.role))
    view.set_model(store)
