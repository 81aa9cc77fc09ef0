"""English text that can still be said in the reader's language: a template and its fields.

A ``Text`` is a ``str`` (the English sentence: logs, ``--json``, state files and tests read
it as before) that keeps the ``N_`` template it was filled from and its fields, so the
sentence is translated whole, later, where a person reads it::

    >>> t = Text(N_("role '{name}' does not exist"), name="locked")
    >>> t, t.localized   # the second in the language tray.i18n was set up for
    ("role 'locked' does not exist", "role 'locked' does not exist")

A field may be a ``Text`` itself (or an error, which has ``localized``): it is said in the
reader's language too. ``to_json``/``from_json`` carry a text across a process or into a
state file; fields are names, paths, numbers and AWS codes, never a secret.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

from tray.i18n import N_, _

__all__ = ["N_", "Text", "fields_of", "join", "localized", "shaped", "text_of"]

_FORMATTER = string.Formatter()


def localized(value: object) -> object:
    """``value`` in the reader's language where it knows one (a ``Text``, an error)."""
    said = getattr(value, "localized", None)
    return said if isinstance(said, str) else value


def fields_of(template: str) -> set[str]:
    """The names of the fields ``template`` fills in (``{name}``, ``{n:>3}``)."""
    try:
        return {name.split(".")[0].split("[")[0]
                for _lit, name, _spec, _conv in _FORMATTER.parse(template) if name}
    except ValueError:
        return set()


class Text(str):
    """The English sentence, with the template and the fields it was filled from."""

    template: str
    fields: dict[str, Any]

    def __new__(cls, template: str, /, **fields: Any) -> Self:
        self = super().__new__(cls, template.format(**fields))
        self.template = template
        self.fields = fields
        return self

    @property
    def localized(self) -> str:
        """The sentence in the reader's language: its template translated whole, then
        filled with its fields (each said in that language too); English without a
        translation, or if a translation does not fit the fields."""
        said = {k: localized(v) for k, v in self.fields.items()}
        try:
            return _(self.template).format(**said)
        except (KeyError, IndexError, ValueError):
            return self.template.format(**said)

    def to_json(self) -> dict[str, Any]:
        return {"template": self.template, "fields": fields_json(self.fields)}

    @classmethod
    def from_json(cls, doc: object) -> Text | None:
        """The text of ``to_json``; None if ``doc`` is not one (or its fields do not fit)."""
        if not isinstance(doc, Mapping):
            return None
        return text_of(doc.get("template"), doc.get("fields"))


def fields_json(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` as JSON: numbers stay numbers, a ``Text`` keeps its template, the rest
    is its English text."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, Text):
            out[key] = value.to_json()
        elif isinstance(value, bool) or value is None:
            out[key] = str(value)
        elif isinstance(value, int | float | str):
            out[key] = value
        else:
            out[key] = str(value)
    return out


def text_of(template: object, fields: object) -> Text | None:
    """The ``Text`` of a template and its JSON fields; None where they do not make one."""
    if not isinstance(template, str) or not isinstance(fields, Mapping):
        return None
    read: dict[str, Any] = {}
    for key, value in fields.items():
        if not isinstance(key, str):
            return None
        if isinstance(value, Mapping):
            value = Text.from_json(value)
            if value is None:
                return None
        elif isinstance(value, bool) or not isinstance(value, int | float | str):
            return None
        read[key] = value
    try:
        return Text(template, **read)
    except (KeyError, IndexError, ValueError):
        return None


class _Shaped(Text):
    """A text with one change of shape (one line, a length limit) made to both languages."""

    _shape: Callable[[str], str]

    def __new__(cls, inner: Text, shape: Callable[[str], str], /) -> Self:
        self = str.__new__(cls, shape(str(inner)))
        self.template, self.fields, self._shape = inner.template, inner.fields, shape
        return self

    @property
    def localized(self) -> str:
        return self._shape(super().localized)


def shaped(text: Text, shape: Callable[[str], str]) -> Text:
    """``text`` with ``shape`` applied to its English and to its translation alike."""
    return _Shaped(text, shape)


def join(sep: str, parts: Iterable[str]) -> Text:
    """``sep.join(parts)`` that says each part in the reader's language (lines of a
    report, each a whole sentence; ``sep`` is punctuation, never words)."""
    items = list(parts)
    template = sep.replace("{", "{{").replace("}", "}}").join(
        "{p" + str(i) + "}" for i in range(len(items)))
    return Text(template, **{f"p{i}": p for i, p in enumerate(items)})


def lines_to_json(lines: Iterable[object]) -> list[dict[str, Any] | None]:
    """Each of ``lines`` (English ``str``, some of them ``Text``) as its template and
    fields, None for a plain one: sent beside the English lines, so the other side can
    say them in its reader's language (``lines_from_json``)."""
    return [line.to_json() if isinstance(line, Text) else None for line in lines]


def lines_from_json(english: object, docs: object) -> list[str]:
    """The lines ``lines_to_json`` described: a ``Text`` where a template came with the
    English line, the English line itself otherwise (an older roletray sent none)."""
    if not isinstance(english, list):
        return []
    said = docs if isinstance(docs, list) and len(docs) == len(english) else [None] * len(english)
    out: list[str] = []
    for line, doc in zip(english, said, strict=True):
        text = Text.from_json(doc) if isinstance(doc, Mapping) else None
        out.append(text if text is not None else str(line))
    return out
