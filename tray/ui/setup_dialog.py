"""The tray's "Set up…": the first run as a dialog, a process of its own.

    python -m tray.ui.setup_dialog

The same three ways as ``roletray setup`` (``tray.setup`` writes the sections): IAM
Identity Center (start URL and region; the sign-in's code is shown here and the browser
opens once; then every account and permission set), an ``aws login`` sign-in (offered
when AWS CLI 2.32+ is on PATH), or a role ARN over keys in the credentials file. On
success it prints one line saying what it wrote (the tray shows it) and exits 0;
Cancel or closing the window exits 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tray import i18n, paths, setup
from tray.domain.errors import RoletrayError
from tray.i18n import _

TITLE = i18n.N_("roletray: Set up")
SIGN_IN_TIMEOUT = 660.0  # the device sign-in's own 600 s, and the child's start


def _run_sso(env: Mapping[str, str], url: str, region: str, name: str,
             show: Callable[[str], None]) -> str:
    """The sso-session written here; the sign-in and the accounts in a child (botocore
    stays out of this process, as out of the tray's)."""
    from tray.engine.child import call_in_child

    config = paths.aws_config_file(env)
    setup.add_sso_session(config, name, url, region, home=paths.home_of(env))

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "device_code":
            show(_("Confirm code {code} in your browser…").format(code=event.get("code")))

    show(_("Signing in…"))
    [done] = call_in_child("tray.aws.sso_populate:sync", env=env, timeout=SIGN_IN_TIMEOUT,
                           on_event=on_event, session=name)
    return i18n.ngettext("Wrote {n} profile for sso-session {name} to {path}",
                         "Wrote {n} profiles for sso-session {name} to {path}",
                         done["profiles"]).format(n=done["profiles"], name=name,
                                                  path=paths.display_path(config, env))


def _run_login(env: Mapping[str, str], name: str, region: str,
               show: Callable[[str], None]) -> str:
    aws = setup.aws_cli_login(env=env)
    if aws is None:
        raise RoletrayError(i18n.N_("aws login needs the AWS CLI {version} or later on PATH"),
                            version="2.32")
    show(_("Sign in in your browser…"))
    done = subprocess.run([aws, "login", "--profile", name, "--region", region],
                          env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False)
    config = paths.aws_config_file(env)
    if done.returncode != 0 or setup.login_profile(config, name,
                                                   home=paths.home_of(env)) is None:
        raise RoletrayError(i18n.N_("`aws login --profile {name}` did not sign in (exit {code})"),
                            name=name, code=done.returncode)
    return _("Signed in as profile {name} (aws login); choose it in the menu").format(name=name)


def _run_role(env: Mapping[str, str], arn: str, source: str, name: str, region: str,
              show: Callable[[str], None]) -> str:
    config = paths.aws_config_file(env)
    written = setup.add_role(config, name, arn, source, region or None,
                             home=paths.home_of(env))
    return _("Wrote [{section}] to {path}").format(section=written.section,
                                                    path=paths.display_path(config, env))


def main(argv: list[str] | None = None) -> int:
    import argparse

    import gi

    parser = argparse.ArgumentParser(prog="python -m tray.ui.setup_dialog")
    parser.add_argument("--way", choices=("sso", "login", "role"), default=None,
                        help="the way chosen when the dialog opens (default: a role when "
                             "the credentials file has access keys, else Identity Center)")
    args = parser.parse_args(argv)

    gi.require_version("Gtk", "3.0")
    from gi.repository import GLib, Gtk

    if not Gtk.init_check()[0]:
        print("no display for the setup dialog", file=sys.stderr)
        return 2
    env = dict(os.environ)
    i18n.setup(env)
    sources = setup.key_sources(paths.aws_credentials_file(env), home=paths.home_of(env))
    has_login = setup.aws_cli_login(env=env) is not None

    dialog = Gtk.Dialog(title=_(TITLE))
    dialog.set_keep_above(True)
    dialog.set_position(Gtk.WindowPosition.CENTER)
    dialog.set_default_size(480, -1)
    dialog.add_button(_("Cancel"), Gtk.ResponseType.CANCEL)
    go = dialog.add_button(_("Set up"), Gtk.ResponseType.OK)
    dialog.set_default_response(Gtk.ResponseType.OK)
    box = dialog.get_content_area()
    box.set_spacing(8)
    box.set_border_width(12)
    box.add(Gtk.Label(label=_("How do you get into AWS?"), xalign=0))

    sso_radio = Gtk.RadioButton.new_with_label(None, _("IAM Identity Center (AWS SSO)"))
    login_radio = Gtk.RadioButton.new_with_label_from_widget(
        sso_radio, _("aws login (AWS CLI 2.32+)") if has_login
        else _("aws login (needs AWS CLI 2.32+ on PATH)"))
    role_radio = Gtk.RadioButton.new_with_label_from_widget(
        sso_radio, _("A role ARN over your access keys") if sources
        else _("A role ARN (no access keys in your credentials file)"))
    login_radio.set_sensitive(has_login)
    role_radio.set_sensitive(bool(sources))
    for r in (sso_radio, login_radio, role_radio):
        box.add(r)

    def field(grid: Any, row: int, label: str, default: str = "") -> Any:
        grid.attach(Gtk.Label(label=label, xalign=1), 0, row, 1, 1)
        entry = Gtk.Entry(text=default, hexpand=True, activates_default=True)
        grid.attach(entry, 1, row, 1, 1)
        return entry

    stack = Gtk.Stack()
    grids = {}
    for key in ("sso", "login", "role"):
        g = Gtk.Grid(column_spacing=8, row_spacing=6)
        grids[key] = g
        stack.add_named(g, key)
    sso_url = field(grids["sso"], 0, _("Start URL"), "https://")
    sso_region = field(grids["sso"], 1, _("Region"), "us-east-1")
    sso_name = field(grids["sso"], 2, _("Name"), "")
    login_name = field(grids["login"], 0, _("Profile"), "dev")
    login_region = field(grids["login"], 1, _("Region"), "us-east-1")
    grids["role"].attach(Gtk.Label(label=_("Keys of"), xalign=1), 0, 0, 1, 1)
    role_source = Gtk.ComboBoxText()
    for s in sources:
        role_source.append_text(s)
    role_source.set_active(0 if sources else -1)
    grids["role"].attach(role_source, 1, 0, 1, 1)
    role_arn = field(grids["role"], 1, _("Role ARN"), "arn:aws:iam::")
    role_name = field(grids["role"], 2, _("Profile"), "")
    role_region = field(grids["role"], 3, _("Region"), "us-east-1")
    box.add(stack)
    status = Gtk.Label(xalign=0, wrap=True, selectable=True)
    box.add(status)

    def chosen() -> str:
        return "sso" if sso_radio.get_active() else "login" if login_radio.get_active() else "role"

    def on_toggle(_w: Any) -> None:
        stack.set_visible_child_name(chosen())

    for r in (sso_radio, login_radio, role_radio):
        r.connect("toggled", on_toggle)
    sso_url.connect("changed", lambda e: sso_name.set_placeholder_text(
        setup.session_name_for(e.get_text())))
    role_arn.connect("changed", lambda e: role_name.set_placeholder_text(
        e.get_text().rsplit("/", 1)[-1] if "/" in e.get_text() else ""))
    outcome: dict[str, Any] = {}

    def show(text: str) -> None:
        GLib.idle_add(status.set_text, text)

    def work() -> None:
        try:
            way = chosen()
            if way == "sso":
                said = _run_sso(env, sso_url.get_text(), sso_region.get_text(),
                                sso_name.get_text() or setup.session_name_for(
                                    sso_url.get_text()), show)
            elif way == "login":
                said = _run_login(env, login_name.get_text(), login_region.get_text(), show)
            else:
                said = _run_role(env, role_arn.get_text(), role_source.get_active_text() or "",
                                 role_name.get_text() or role_name.get_placeholder_text() or "",
                                 role_region.get_text(), show)
        except RoletrayError as e:
            GLib.idle_add(failed, e.localized)
            return
        outcome["said"] = said
        GLib.idle_add(dialog.response, Gtk.ResponseType.OK)

    def failed(text: str) -> None:
        status.set_markup(f"<span foreground='#b00020'>{GLib.markup_escape_text(text)}</span>")
        go.set_sensitive(True)

    def on_response(_d: Any, response: int) -> None:
        if response == Gtk.ResponseType.OK and "said" not in outcome:
            dialog.stop_emission_by_name("response")
            go.set_sensitive(False)
            status.set_text(_("Working…"))
            threading.Thread(target=work, daemon=True).start()
            return
        Gtk.main_quit()

    dialog.connect("response", on_response)
    dialog.connect("delete-event", lambda *_: Gtk.main_quit())
    dialog.show_all()
    radios = {"sso": sso_radio, "login": login_radio, "role": role_radio}
    way = args.way or ("role" if sources else "sso")
    if radios[way].get_sensitive():
        radios[way].set_active(True)
    on_toggle(None)
    first = {"sso": sso_url, "login": login_name, "role": role_arn}[chosen()]
    first.grab_focus()
    first.set_position(-1)
    Gtk.main()
    if "said" in outcome:
        print(outcome["said"], flush=True)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
