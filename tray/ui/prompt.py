"""The MFA code dialog, run as a process of its own by the tray.

    python -m tray.ui.prompt --serial arn:aws:iam::123456789012:mfa/dev --profile platform

prints the six digits typed, and a newline, on stdout (a pipe to the tray:
the code is never in an argument list) and exits 0; Cancel, Escape or closing
the window exits 1 with nothing printed; no toolkit exits 2. GTK 3 when
PyGObject is there, else tkinter (``ROLETRAY_PROMPT_TOOLKIT=tk`` forces it).

It is opened only when the user asks: the tray's "Enter MFA code…" item (or "… for [NAME]…"
with `--target NAME` for a section kept besides the active role's: the title names it), the
notification's button, or choosing a role that needs a code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

from tray import i18n
from tray.i18n import _

TITLE = i18n.N_("roletray: MFA code")
CODE_RE = re.compile(r"^\d{6}$")


def title(profile: str | None, target: str | None = None) -> str:
    """The window's title: a section kept besides the active role's is named with its role."""
    if not target:
        return _(TITLE)
    if profile:
        return _("roletray: MFA code for [{target}] ({profile})").format(target=target,
                                                                       profile=profile)
    return _("roletray: MFA code for [{target}]").format(target=target)


def _message(serial: str, profile: str | None, target: str | None = None) -> str:
    if profile and target:
        text = _("Enter the 6-digit code of your MFA device for profile '{profile}', kept "
                 "fresh in [{target}].")
    elif profile:
        text = _("Enter the 6-digit code of your MFA device for profile '{profile}'.")
    elif target:
        text = _("Enter the 6-digit code of your MFA device for this role, kept fresh in "
                 "[{target}].")
    else:
        text = _("Enter the 6-digit code of your MFA device for this role.")
    return text.format(profile=profile, target=target) + f"\n{serial}"


def ask_gtk(serial: str, profile: str | None, target: str | None = None) -> str | None:
    import gi

    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    if not Gtk.init_check()[0]:
        raise RuntimeError("GTK could not open the display")
    dialog = Gtk.Dialog(title=title(profile, target))
    dialog.set_keep_above(True)
    dialog.set_position(Gtk.WindowPosition.CENTER)
    dialog.set_default_size(360, -1)
    dialog.add_button(_("Cancel"), Gtk.ResponseType.CANCEL)
    ok = dialog.add_button(_("OK"), Gtk.ResponseType.OK)
    ok.set_sensitive(False)
    dialog.set_default_response(Gtk.ResponseType.OK)
    box = dialog.get_content_area()
    box.set_spacing(8)
    box.set_border_width(12)
    label = Gtk.Label(label=_message(serial, profile, target))
    label.set_xalign(0)
    label.set_selectable(False)
    entry = Gtk.Entry()
    entry.set_max_length(6)
    entry.set_width_chars(8)
    entry.set_input_purpose(Gtk.InputPurpose.DIGITS)
    entry.set_activates_default(True)
    entry.set_placeholder_text("123456")

    def changed(widget: object) -> None:
        text = entry.get_text()
        digits = re.sub(r"\D", "", text)
        if digits != text:
            entry.set_text(digits)
            return
        ok.set_sensitive(bool(CODE_RE.match(digits)))

    entry.connect("changed", changed)
    box.add(label)
    box.add(entry)
    dialog.show_all()
    dialog.present()
    entry.grab_focus()
    code: str | None = None
    while True:
        response = dialog.run()
        if response == Gtk.ResponseType.OK:
            text = entry.get_text()
            if CODE_RE.match(text):
                code = text
                break
            continue  # Enter with fewer digits: keep the dialog open
        break
    dialog.destroy()
    while Gtk.events_pending():
        Gtk.main_iteration()
    return code


def ask_tk(serial: str, profile: str | None, target: str | None = None) -> str | None:
    import tkinter as tk

    root = tk.Tk()
    root.title(title(profile, target))
    root.attributes("-topmost", True)
    result: list[str] = []
    tk.Label(root, text=_message(serial, profile, target), justify="left").pack(padx=12, pady=(12, 6),
                                                                       anchor="w")
    var = tk.StringVar()
    entry = tk.Entry(root, textvariable=var, width=8)
    entry.pack(padx=12, anchor="w")
    buttons = tk.Frame(root)
    buttons.pack(padx=12, pady=12, anchor="e")

    def submit(_event: object = None) -> None:
        if CODE_RE.match(var.get()):
            result.append(var.get())
            root.destroy()

    def cancel(_event: object = None) -> None:
        root.destroy()

    ok = tk.Button(buttons, text=_("OK"), command=submit, state="disabled")

    def changed(*_args: object) -> None:
        digits = re.sub(r"\D", "", var.get())[:6]
        if digits != var.get():
            var.set(digits)
        ok.configure(state="normal" if CODE_RE.match(digits) else "disabled")

    var.trace_add("write", changed)
    tk.Button(buttons, text=_("Cancel"), command=cancel).pack(side="right")
    ok.pack(side="right", padx=(0, 6))
    root.bind("<Return>", submit)
    root.bind("<Escape>", cancel)
    root.protocol("WM_DELETE_WINDOW", cancel)
    entry.focus_force()
    root.mainloop()
    return result[0] if result else None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tray.ui.prompt",
                                description="Ask for an MFA code; print it on stdout.")
    p.add_argument("--serial", required=True, help="the MFA device's ARN (shown, not secret)")
    p.add_argument("--profile", help="the role profile that needs the code")
    p.add_argument("--target", help="the section it is kept fresh in, when not the "
                   "active role's (the title names it)")
    args = p.parse_args(argv)
    i18n.setup(os.environ)
    toolkit = os.environ.get("ROLETRAY_PROMPT_TOOLKIT", "")
    code: str | None
    try:
        if toolkit != "tk":
            try:
                code = ask_gtk(args.serial, args.profile, args.target)
            except (ImportError, ValueError):
                code = ask_tk(args.serial, args.profile, args.target)
        else:
            code = ask_tk(args.serial, args.profile, args.target)
    except Exception as e:  # noqa: BLE001 - no toolkit, no display
        print(f"roletray prompt: cannot open a dialog ({e.__class__.__name__}: {e})",
              file=sys.stderr)
        return 2
    if code is None:
        return 1
    sys.stdout.write(code + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
