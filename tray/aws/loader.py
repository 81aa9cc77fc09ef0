"""botocore's model loader, asked about one service at a time.

Before it loads a model (``sts``'s API, its endpoint rules), botocore's ``Loader`` lists
every service it ships to check that the one asked for is among them: ~400 folders and
thousands of ``stat`` calls, once per kind of model, 15-30 ms of a cold
``roletray assume`` (which needs two kinds, for one service). ``OneServiceLoader``
answers that check by looking at that service's folder alone (botocore's own
``list_api_versions``: the same folders, the same test of a model file), and lists them
all only when the service is not there (the error names the known ones, as botocore's).
The models themselves are loaded by botocore, unchanged.

botocore is imported by ``loader()``, not with this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any, overload


def loader(data_path: str | None) -> Any:
    """``botocore.loaders.create_loader(data_path)``, as a ``OneServiceLoader``."""
    from botocore.loaders import Loader

    class OneServiceLoader(Loader):  # type: ignore[misc]
        def list_available_services(self, type_name: str) -> Sequence[str]:
            return KnownServices(self, type_name, Loader.list_available_services)

    if data_path is None:  # as create_loader makes it
        return OneServiceLoader()
    return OneServiceLoader(extra_search_paths=[
        os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)])


class KnownServices(Sequence[str]):
    """The services with a ``type_name`` model, as ``Loader.list_available_services``
    lists them; ``in`` looks at that one service's folders only."""

    def __init__(self, loader: Any, type_name: str, list_all: Any) -> None:
        self._loader = loader
        self._type = type_name
        self._list_all = list_all
        self._all: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        from botocore.exceptions import DataNotFoundError

        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            return name in self._listed()
        try:
            return bool(self._loader.list_api_versions(name, self._type))
        except DataNotFoundError:
            return False

    def _listed(self) -> list[str]:
        if self._all is None:
            self._all = list(self._list_all(self._loader, self._type))
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self._listed())

    def __len__(self) -> int:
        return len(self._listed())

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._listed()[index]
