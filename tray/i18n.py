"""Messages in the user's language, through gettext catalogs.

English is the source: every message a person reads is written in English in the code,
wrapped in ``_()`` (or ``ngettext`` where a number decides the form), and looked up in
``tray/locale/<lang>/LC_MESSAGES/roletray.mo``. Korean is the first translation.

The language comes from the environment mapping a composition root passes to ``setup``
(never from the process environment here): ``LC_ALL``, then ``LC_MESSAGES``, then
``LANG``, as the C library reads them; ``LANGUAGE`` (a list such as ``ko:en``) is heeded
as GNU gettext does, only when that locale is not ``C``/``POSIX``. Until ``setup`` runs,
and for a language with no catalog, messages stay English.

``--json`` output and log files stay English: call ``_()`` only where text is shown to
a person, never in a log call or a JSON document. ``N_()`` marks a message for the
extractor where it is defined (a table of labels) and is translated where it is shown.
Give the translator whole sentences with named fields (``_("{n} roles").format(n=n)``),
never a sentence assembled from translated parts.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from pathlib import Path

DOMAIN = "roletray"
LOCALEDIR = Path(__file__).resolve().parent / "locale"

_current: gettext.NullTranslations = gettext.NullTranslations()


def languages(env: Mapping[str, str]) -> list[str]:
    """The languages ``env`` asks for, most wanted first; empty for the C locale."""
    locale = next((env[k] for k in ("LC_ALL", "LC_MESSAGES", "LANG") if env.get(k)), "")
    if not locale or locale in ("C", "POSIX") or locale.startswith(("C.", "POSIX.")):
        return []
    wanted = [lang for lang in env.get("LANGUAGE", "").split(":") if lang]
    return wanted or [locale]


def translation_for(env: Mapping[str, str]) -> gettext.NullTranslations:
    """The catalog for ``env``'s language; English (no catalog) when there is none."""
    langs = languages(env)
    if not langs:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=LOCALEDIR, languages=langs, fallback=True)


def setup(env: Mapping[str, str]) -> None:
    """Show messages in ``env``'s language from now on. Composition roots call this."""
    global _current
    _current = translation_for(env)


def _(message: str) -> str:
    """``message`` in the user's language."""
    return _current.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the number ``n``, in the user's language."""
    return _current.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for translation where it is defined; ``_()`` translates it later."""
    return message
