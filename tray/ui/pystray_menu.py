"""``MenuNode``s as a pystray ``Menu``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tray.ui.menu import MenuNode


def _constant(value: bool) -> Callable[[Any], bool]:
    def checked(item: Any) -> bool:
        return value
    return checked


def _call(fn: Callable[[], None]) -> Callable[[Any, Any], None]:
    # Exactly two parameters: pystray inspects the arity of what it is given.
    def action(icon: Any, item: Any) -> None:
        fn()
    return action


def to_pystray(model: list[MenuNode] | tuple[MenuNode, ...]) -> Any:
    """``MenuNode``s as a pystray ``Menu`` (static values: the menu is rebuilt on change)."""
    import pystray

    items: list[Any] = []
    for node in model:
        if node.separator:
            items.append(pystray.Menu.SEPARATOR)
            continue
        checked = None if node.checked is None else _constant(node.checked)
        if node.children:
            action: Any = to_pystray(node.children)
        elif node.action is not None:
            action = _call(node.action)
        else:
            action = None
        items.append(pystray.MenuItem(node.text, action, checked=checked, radio=node.radio,
                                      enabled=node.enabled))
    return pystray.Menu(*items)
