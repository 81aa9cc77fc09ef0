"""``MenuNode``s as a pystray ``Menu``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
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
    """``MenuNode``s as a pystray ``Menu`` (static values: the menu is rebuilt on change).

    A submenu's items are made when a backend first reads them: with ``lazy_icon_class``,
    when the submenu first opens."""
    import pystray

    return pystray.Menu(*_items(model, pystray))


def _items(model: Sequence[MenuNode], pystray: Any) -> list[Any]:
    items: list[Any] = []
    for node in model:
        if node.separator:
            items.append(pystray.Menu.SEPARATOR)
            continue
        checked = None if node.checked is None else _constant(node.checked)
        if node.children:
            action: Any = _lazy_menu_class(pystray)(node.children)
        elif node.action is not None:
            action = _call(node.action)
        else:
            action = None
        items.append(pystray.MenuItem(node.text, action, checked=checked, radio=node.radio,
                                      enabled=node.enabled))
    return items


@cache
def _lazy_menu_class(pystray: Any) -> type:
    class LazyMenu(pystray.Menu):  # type: ignore[misc, name-defined]
        """A submenu whose pystray items are made when first read."""

        def __init__(self, nodes: Sequence[MenuNode]) -> None:
            super().__init__()
            self._nodes = nodes
            self._made: tuple[Any, ...] | None = None

        @property
        def items(self) -> tuple[Any, ...]:
            if self._made is None:
                self._made = tuple(_items(self._nodes, pystray))
            return self._made

        def __bool__(self) -> bool:
            return bool(self._nodes)

    return LazyMenu

def lazy_icon_class(icon_class: type) -> type:
    """pystray's ``Icon`` for the GTK backends, building each submenu's widgets when it
    first opens: a menu with 2,000 roles in 200 accounts then costs its top level and
    the submenus a person opens, instead of ~4,000 widgets at every change. Other
    backends' ``Icon`` is returned as it is."""
    if not hasattr(icon_class, "_create_menu_item"):  # not pystray's GtkIcon
        return icon_class
    from tray.ui import gtk_glue

    class LazyMenuIcon(icon_class):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)  # AppIndicator's set_menu runs later, in the loop
            indicator = getattr(self, "_appindicator", None)
            if indicator is not None:
                gtk_glue.quiet_set_menu(indicator)

        def _create_menu_item(self, descriptor: Any) -> Any:
            submenu = getattr(descriptor, "submenu", None)
            if not submenu:
                return super()._create_menu_item(descriptor)
            return gtk_glue.lazy_submenu_item(
                descriptor.text, descriptor.enabled,
                lambda: [self._create_menu_item(d) for d in submenu])

    LazyMenuIcon.__name__ = icon_class.__name__
    LazyMenuIcon.__module__ = icon_class.__module__
    return LazyMenuIcon
