"""Which pystray backend can show roletray's menu here: appindicator, else gtk.

``select_backend`` only looks: it returns the backend and the variables this
process needs, and ``load_pystray`` applies them just before pystray is
imported (pystray reads ``PYSTRAY_BACKEND`` at import). Programs the tray
opens get the environment it was started with, without them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

from tray.domain.errors import RoletrayError
from tray.i18n import N_, _

INSTALL_HINT = N_(
    "the tray needs PyGObject (the `gi` module) for its menu; pystray's xorg backend has "
    "none. Install it with `apt install python3-gi gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1` for Debian's python3, or in a virtualenv: "
    "`apt install libgirepository1.0-dev libcairo2-dev pkg-config python3-dev gcc gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1` then `pip install \"pygobject<3.51\"`. "
    "Without a desktop, run `roletray daemon`"
)


class TrayUnavailableError(RoletrayError):
    """No tray backend with a menu can run here (exit 2)."""


def _unavailable(*sentences: str) -> TrayUnavailableError:
    """The error of ``sentences`` (``N_`` messages, each whole), joined by "; ": English
    in ``str()``, the user's language on the screen (``localized``)."""
    error = TrayUnavailableError("; ".join(sentences))
    error.localized = "; ".join(_(s) for s in sentences)
    return error


@dataclass(frozen=True)
class TrayBackend:
    """pystray's backend ("" on macOS and Windows: pystray's own choice) and the
    variables the tray process needs for it, which its children do not get."""

    name: str
    process_env: Mapping[str, str] = field(default_factory=dict)


def _gi_has(namespace: str, version: str) -> bool:
    """Whether the typelib is installed. Not imported here: importing Gtk (AppIndicator
    pulls it in) initialises GDK, before ``load_pystray`` has set GDK_GL=disable, and its
    GLX probe then maps Mesa and LLVM (~55 MiB resident) into the tray."""
    import gi

    try:
        gi.require_version(namespace, version)
    except ValueError:
        return False
    return True


def select_backend(env: Mapping[str, str], platform: str | None = None) -> TrayBackend:
    """The backend for a tray with a menu, given the environment ``env``.

    Raises ``TrayUnavailableError`` when only the menu-less xorg backend could run.
    """
    platform = platform or sys.platform
    if platform == "darwin" or platform.startswith("win"):
        return TrayBackend(env.get("PYSTRAY_BACKEND", ""))
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        raise _unavailable(N_("no graphical display (DISPLAY is not set); run `roletray "
                              "daemon` for the refresher without a tray"))
    extra: dict[str, str] = {}
    if "GDK_GL" not in env:
        # A tray icon draws no OpenGL, but GDK probes GLX visuals on start, which can
        # map Mesa and LLVM: ~50 MiB of resident memory for nothing.
        extra["GDK_GL"] = "disable"
    chosen = env.get("PYSTRAY_BACKEND")
    if chosen == "xorg":
        raise _unavailable(N_("PYSTRAY_BACKEND=xorg has no menu"), INSTALL_HINT)
    try:
        import gi  # noqa: F401
    except ImportError:
        raise _unavailable(INSTALL_HINT) from None
    if chosen:
        return TrayBackend(chosen, extra)
    if _gi_has("AyatanaAppIndicator3", "0.1") or _gi_has("AppIndicator3", "0.1"):
        backend = "appindicator"
    elif _gi_has("Gtk", "3.0"):
        backend = "gtk"
    else:
        raise _unavailable(N_("PyGObject is installed but GTK 3 is not (apt install "
                              "gir1.2-gtk-3.0)"), INSTALL_HINT)
    return TrayBackend(backend, {**extra, "PYSTRAY_BACKEND": backend})


def load_pystray(backend: TrayBackend) -> ModuleType:
    """pystray with ``backend``: its variables are set for this process first (GDK
    and pystray read them from the process environment, at start and import)."""
    os.environ.update(backend.process_env)
    import pystray

    return pystray
