"""MenuNodes as pystray items: a submenu's items are made when a backend first reads them."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tray.ui.menu import MenuNode


@pytest.fixture
def pystray(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(os.environ, "PYSTRAY_BACKEND", "dummy")  # no display needed
    return pytest.importorskip("pystray")


def test_a_submenu_becomes_pystray_items_only_when_read(pystray: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tray.ui import pystray_menu

    made: list[int] = []
    original = pystray_menu._items

    def counting(model: Any, module: Any) -> list[Any]:
        made.append(len(model))
        return original(model, module)

    monkeypatch.setattr(pystray_menu, "_items", counting)
    clicked: list[str] = []
    roles = tuple(MenuNode(f"role{i}", lambda i=i: clicked.append(f"role{i}"), checked=i == 1,
                           radio=True) for i in range(3))
    menu = pystray_menu.to_pystray([MenuNode("Account 1 ✓", children=roles),
                                    MenuNode("Quit", lambda: clicked.append("quit"))])
    assert made == [2]  # the top level only
    account, quit_item = menu.items
    assert account.submenu and made == [2]  # a submenu row is a submenu, still not made
    assert [i.text for i in account.submenu.items] == ["role0", "role1", "role2"]
    assert [i.checked for i in account.submenu.items] == [False, True, False]
    assert made == [2, 3]
    account.submenu.items[2](None)
    quit_item(None)
    assert clicked == ["role2", "quit"]
    assert account.checked is None  # a row that opens a submenu carries no check state


def test_backends_without_gtk_keep_pystrays_icon(pystray: Any) -> None:
    from tray.ui.pystray_menu import lazy_icon_class

    assert lazy_icon_class(pystray.Icon) is pystray.Icon
