"""pystray's AppIndicator icon as a StatusNotifierItem host (KDE Plasma, GNOME's
AppIndicator extension) reads it well. Imported only under the appindicator backend.

What pystray does and this changes:
- the icon is a temporary file without an extension, a new one at each change:
  here it is a themed name (``roletray-fresh-12``) under an ``IconThemePath`` of
  roletray's own (``icon_dir``), which a host outside /tmp can read;
- every menu change calls ``set_menu``, and libayatana-appindicator registers the
  item with the watcher again each time (a host sees it leave and come back): here
  ``set_menu`` runs once and the menu's rows are updated in place (``gtk_glue.reconcile``),
  so unchanged rows keep their dbusmenu ids;
- a label beside the icon (``set_label``: GNOME's extension shows it, and shows no
  tooltips) and ``NeedsAttention`` (KDE brings a hidden icon back for it).
Submenus are built with their menu, not when first opened: libdbusmenu answers every
AboutToShow with ``needUpdate=false``, which is only true when nothing is left to fill.
"""

from __future__ import annotations

import io
import logging
import zlib
from pathlib import Path
from typing import Any

from tray import fsutil
from tray.ui import gtk_glue

log = logging.getLogger(__name__)


def icon_name(image: Any) -> str:
    """The themed name for ``image``: ``PngIcon.name`` when it has one, else a digest."""
    name = getattr(image, "name", None)
    if name:
        return str(name)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    data = buf.getvalue()  # zlib's checksums, not hashlib: that maps OpenSSL (~3 MiB)
    return f"roletray-{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def write_icon(icon_dir: Path, image: Any) -> str:
    """``image`` as ``icon_dir/NAME.png`` (written once per name); returns NAME."""
    name = icon_name(image)
    path = icon_dir / f"{name}.png"
    if not path.exists():
        fsutil.make_dirs(icon_dir)
        png = io.BytesIO()
        image.save(png, "PNG")
        fsutil.atomic_write(path, png.getvalue(), mode=0o644)
    return name


# What GDK says when libayatana-appindicator falls back to an XEmbed icon (no
# StatusNotifierWatcher): its ``fallback()`` calls ``gtk_status_icon_set_name`` on the
# GtkStatusIcon it has just made, which GTK has already shown (realized); GTK then hides,
# unrealizes and shows the icon's plug again, and GDK asserts on the MapNotify of the new
# window. Harmless (the icon works), but printed at every start, and nothing roletray
# calls can avoid it: the fallback is not overridable from Python (no ``do_fallback``).
FALLBACK_ASSERTION = ("gdk_window_thaw_toplevel_updates: assertion "
                      "'window->update_and_descendants_freeze_count > 0' failed")


def quiet_fallback_assertion() -> None:
    """Drop exactly ``FALLBACK_ASSERTION`` from GDK's log; every other GDK message still
    reaches GLib's default handler (G_DEBUG=fatal-criticals still aborts on it)."""
    from gi.repository import GLib

    levels = GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING

    def handler(domain: str, level: Any, message: str, *_: Any) -> None:
        if message != FALLBACK_ASSERTION:
            GLib.log_default_handler(domain, level, message, None)

    GLib.log_set_handler("Gdk", levels, handler, None)


def indicator_icon_class(icon_class: type, icon_dir: Path) -> type:
    """``icon_class`` (pystray's appindicator ``Icon``, made lazy or not) reading well
    over SNI; see the module's docstring."""
    import gi

    try:
        gi.require_version("AyatanaAppIndicator3", "0.1")
        from gi.repository import AyatanaAppIndicator3 as AppIndicator
    except ValueError:
        gi.require_version("AppIndicator3", "0.1")
        from gi.repository import AppIndicator3 as AppIndicator
    from gi.repository import GLib

    quiet_fallback_assertion()
    status = AppIndicator.IndicatorStatus

    class IndicatorIcon(icon_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._root_menu: Any = None
            self._rows = gtk_glue.MenuRows()
            self._label = ""
            self._attention = False
            self._icon_name = ""
            self._on_sni = False  # registered with a StatusNotifierWatcher (else XEmbed)
            super().__init__(*args, **kwargs)
            self._connection_handler = self._appindicator.connect(
                "connection-changed", self._connection_changed)

        def _connection_changed(self, _indicator: Any, connected: bool) -> None:
            self._on_sni = bool(connected)
            self._apply_icon()
            self._apply_status()

        # pystray's hooks (each runs on the GUI thread: ``mainloop``)
        def _update_icon(self) -> None:
            def apply() -> bool:
                self._apply_icon()
                return False
            GLib.idle_add(apply)

        def _apply_icon(self) -> None:
            if self.icon is None:
                return
            name = write_icon(icon_dir, self.icon)
            # Without an SNI host Ayatana shows an XEmbed icon itself, looked up in GTK's
            # icon theme, which does not see a file written in the same second as its
            # last look: there the file's path, which no host has to read.
            shown = name if self._on_sni else str(icon_dir / f"{name}.png")
            indicator = self._appindicator
            indicator.set_icon_theme_path(str(icon_dir))
            indicator.set_icon_full(shown, self.title or "roletray")
            # Shown in NeedsAttention: the same picture (it is red or amber already).
            indicator.set_attention_icon_full(shown, self.title or "roletray")
            self._icon_name = name

        def _show(self) -> None:
            def apply() -> bool:
                self._apply_icon()
                self._set_menu_once()
                self._appindicator.set_title(self.title)
                self._appindicator.set_label(self._label, "")
                self._apply_status()
                return False
            GLib.idle_add(apply)

        def _apply_status(self) -> None:
            # Only for an SNI host: Ayatana's XEmbed fallback shows no icon in ATTENTION.
            if not self.visible:
                return
            attention = self._attention and self._on_sni
            self._appindicator.set_status(status.ATTENTION if attention else status.ACTIVE)

        def _update_menu(self) -> None:
            def apply() -> bool:
                if self._root_menu is None:
                    self._set_menu_once()
                else:
                    self._fill(self._root_menu)
                return False
            GLib.idle_add(apply)

        def _set_menu_once(self) -> None:
            # Ayatana registers the item with the watcher again at each set_menu.
            if self._root_menu is None:
                self._appindicator.set_menu(self._root())

        def _root(self) -> Any:
            if self._root_menu is None:
                from gi.repository import Gtk

                self._root_menu = Gtk.Menu.new()
                self._fill(self._root_menu)
            return self._root_menu

        def _fill(self, menu: Any) -> None:
            descriptors = list(self.menu.items) if self.menu else []
            gtk_glue.reconcile(menu, self._rows, descriptors, self._create_menu_item,
                               self._handler)

        def _create_menu_item(self, descriptor: Any) -> Any:
            submenu = getattr(descriptor, "submenu", None)
            if not submenu:
                return super()._create_menu_item(descriptor)
            from gi.repository import Gtk

            item = Gtk.MenuItem.new_with_label(descriptor.text)
            child = Gtk.Menu.new()
            for d in submenu:
                child.append(self._create_menu_item(d))
            child.show_all()
            item.set_submenu(child)
            item.set_sensitive(descriptor.enabled)
            return item

        # roletray's additions
        def show_state(self, label: str, attention: bool) -> None:
            """The label beside the icon and whether the icon wants attention."""
            def apply() -> bool:
                if label != self._label:
                    self._label = label
                    self._appindicator.set_label(label, "")
                if attention != self._attention:
                    self._attention = attention
                    self._apply_status()
                return False
            GLib.idle_add(apply)

        def _finalize(self) -> None:
            # pystray's drops the indicator, whose dispose says "connection-changed" (False)
            # to a handler that would look for the indicator just dropped.
            self._appindicator.disconnect(self._connection_handler)
            # pystray's hides its last notification over a bus that may be gone (Ctrl-C in
            # a session whose bus ended): nothing to hide then, and no traceback.
            try:
                super()._finalize()
            except GLib.Error as e:
                log.info("tray icon cleanup: %s", e.message)

    IndicatorIcon.__name__ = icon_class.__name__
    IndicatorIcon.__module__ = icon_class.__module__
    return IndicatorIcon
