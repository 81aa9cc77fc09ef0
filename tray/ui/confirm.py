"""The guarded profile's dialog, run as a process of its own by the tray.

    python -m tray.ui.confirm --profile prod --label production [--target prod-roletray]

asks "Switch to prod [production]?" (or "Keep prod [production] fresh in
[prod-roletray]?") with Cancel as the default button. Exit 0: the person chose
Switch (or Keep); 1: Cancel, Escape or closing the window; 2: no toolkit or no
display. GTK 3 when PyGObject is there, else tkinter (``ROLETRAY_PROMPT_TOOLKIT=tk``
forces it), as ``tray.ui.prompt``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tray import i18n
from tray.i18n import _


def wording(profile: str, label: str, target: str | None) -> tuple[str, str, str]:
    """(title, message, the button that goes ahead)."""
    title = _("roletray: guarded profile {profile} [{label}]").format(profile=profile,
                                                                       label=label)
    if target:
        return (title,
                _("{profile} is guarded: {label}.\n\nKeep its keys fresh in [{target}] too? "
                  "Tools using AWS_PROFILE={target} then act as {profile}.").format(
                    profile=profile, label=label, target=target),
                _("Keep fresh"))
    return (title,
            _("{profile} is guarded: {label}.\n\nSwitch to it? Every tool using the active "
              "role then acts as it.").format(profile=profile, label=label),
            _("Switch to {profile}").format(profile=profile))


def ask_gtk(profile: str, label: str, target: str | None) -> bool:
    import gi

    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    if not Gtk.init_check()[0]:
        raise RuntimeError("GTK could not open the display")
    title, message, go = wording(profile, label, target)
    dialog = Gtk.MessageDialog(message_type=Gtk.MessageType.WARNING,
                               buttons=Gtk.ButtonsType.NONE, text=message.split("\n\n")[0])
    dialog.set_title(title)
    dialog.format_secondary_text(message.split("\n\n", 1)[1])
    dialog.set_keep_above(True)
    dialog.set_position(Gtk.WindowPosition.CENTER)
    cancel = dialog.add_button(_("Cancel"), Gtk.ResponseType.CANCEL)
    # Alt+S (Alt+K) goes ahead: the button's first letter, a mnemonic; the name's own
    # underscores are doubled so that they show.
    dialog.add_button("_" + go.replace("_", "__"), Gtk.ResponseType.OK)
    dialog.set_default_response(Gtk.ResponseType.CANCEL)  # Enter alone never goes ahead
    dialog.show_all()
    dialog.present()
    cancel.grab_focus()
    response = dialog.run()
    dialog.destroy()
    while Gtk.events_pending():
        Gtk.main_iteration()
    return bool(response == Gtk.ResponseType.OK)


def ask_tk(profile: str, label: str, target: str | None) -> bool:
    import tkinter as tk

    title, message, go = wording(profile, label, target)
    root = tk.Tk()
    root.title(title)
    root.attributes("-topmost", True)
    chosen: list[bool] = []
    tk.Label(root, text=message, justify="left", wraplength=380).pack(padx=12, pady=12,
                                                                      anchor="w")
    buttons = tk.Frame(root)
    buttons.pack(padx=12, pady=(0, 12), anchor="e")

    def done(answer: bool) -> None:
        chosen.append(answer)
        root.destroy()

    tk.Button(buttons, text=go, command=lambda: done(True)).pack(side="right")
    cancel = tk.Button(buttons, text=_("Cancel"), command=lambda: done(False))
    cancel.pack(side="right", padx=(0, 6))
    root.bind("<Escape>", lambda _e: done(False))
    root.protocol("WM_DELETE_WINDOW", lambda: done(False))
    cancel.focus_force()
    root.mainloop()
    return bool(chosen and chosen[0])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tray.ui.confirm",
                                description="Ask before a guarded profile is used.")
    p.add_argument("--profile", required=True)
    p.add_argument("--label", required=True, help="its roletray_guard label")
    p.add_argument("--target", help="the section it would be kept fresh in, when not the "
                   "active role's")
    args = p.parse_args(argv)
    i18n.setup(os.environ)
    try:
        if os.environ.get("ROLETRAY_PROMPT_TOOLKIT", "") != "tk":
            try:
                yes = ask_gtk(args.profile, args.label, args.target)
            except (ImportError, ValueError):
                yes = ask_tk(args.profile, args.label, args.target)
        else:
            yes = ask_tk(args.profile, args.label, args.target)
    except Exception as e:  # noqa: BLE001 - no toolkit, no display
        print(f"roletray confirm: cannot open a dialog ({e.__class__.__name__}: {e})",
              file=sys.stderr)
        return 2
    return 0 if yes else 1


if __name__ == "__main__":
    sys.exit(main())
