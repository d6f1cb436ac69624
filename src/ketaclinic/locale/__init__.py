"""The message catalogues and how they are read: every patient-facing sentence, in the languages
ketaclinic speaks.

Source strings are English and are their own message ids (gettext's usual way), so a missing
translation can only ever show English, never a key. Translations live in gettext catalogues
written by us, one per language: ``<lang>/LC_MESSAGES/messages.po`` beside this file. They are
compiled in memory the first time a language is asked for (``babel.messages.pofile`` →
``mofile``), so no compiled ``.mo`` is committed; fuzzy entries are left out, as ``msgfmt`` would.

- :func:`gettext` / :func:`ngettext` translate one message for one language;
- :func:`translations` gives the :class:`gettext.NullTranslations` object (what Jinja2's i18n
  extension and other gettext users take);
- :func:`N_` marks a string for the catalogue where it is defined and translated later;
- :func:`format_date`, :func:`format_datetime`, :func:`format_number` write dates, times and
  numbers as each language does (``babel.dates``, ``babel.numbers``).

Placeholders are named, Python-format: ``"Please answer by %(date)s."`` % ``{"date": ...}``;
the catalogue test checks that every translation keeps the placeholders of its message.
Adding a language: docs/i18n.md.
"""

from __future__ import annotations

import datetime as dt
import gettext as _gettext
import io
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from zoneinfo import ZoneInfo

from babel.dates import format_date as _babel_date
from babel.dates import format_time as _babel_time
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

SOURCE_LANGUAGE = "en"
LANGUAGES: tuple[str, ...] = ("en", "es")
"""Every language a patient may choose; the first is the fallback."""
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
"""Each language named in itself (what a language switch shows)."""
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here (it is translated where
    it is shown, in the reader's language)."""
    return message


def supported(value: str | None) -> str | None:
    """The supported language for a tag such as ``es``, ``es-MX`` or ``ES_us``; else ``None``."""
    if not value or len(value) > 35:
        return None
    base = value.replace("_", "-").split("-", 1)[0].strip().lower()
    return base if base in LANGUAGES else None


def catalogue_file(language: str) -> Traversable:
    """Where the ``.po`` catalogue of ``language`` is kept (the package's data)."""
    return resources.files(__name__) / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(language: str) -> Catalog:
    """The parsed ``.po`` catalogue of ``language`` (a syntax error in it raises)."""
    with catalogue_file(language).open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN, abort_invalid=True)


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> _gettext.NullTranslations:
    """The compiled translations for ``language``; English (the source) and any unsupported
    language get the identity."""
    chosen = supported(language) or SOURCE_LANGUAGE
    if chosen == SOURCE_LANGUAGE:
        return _gettext.NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue(chosen), use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(language: str, message: str) -> str:
    """``message`` in ``language`` (English if there is no translation)."""
    return translations(language).gettext(message)


def ngettext(language: str, singular: str, plural: str, count: int) -> str:
    """The singular or plural form of a message, as ``language`` chooses for ``count``."""
    return translations(language).ngettext(singular, plural, count)


def translator(language: str) -> _TranslateOne:
    """A one-argument function translating into ``language`` (for code that takes one)."""
    return _TranslateOne(language)


class _TranslateOne:
    __slots__ = ("language",)

    def __init__(self, language: str) -> None:
        self.language = supported(language) or SOURCE_LANGUAGE

    def __call__(self, message: str) -> str:
        return gettext(self.language, message)


def format_date(value: dt.date, language: str, form: str = "long") -> str:
    """A calendar date as ``language`` writes it (``long``: "May 15, 2026", "15 de mayo de
    2026")."""
    return _babel_date(value, format=form, locale=supported(language) or SOURCE_LANGUAGE)


def format_datetime(value: dt.datetime, language: str, timezone: str = "UTC") -> str:
    """A moment as ``language`` writes it, in ``timezone`` (an IANA name): the long date and the
    short time ("May 15, 2026, 10:30 AM"; "15 de mayo de 2026, 10:30")."""
    locale = supported(language) or SOURCE_LANGUAGE
    local = value.astimezone(ZoneInfo(timezone))
    day = _babel_date(local.date(), format="long", locale=locale)
    return f"{day}, {_babel_time(local, format='short', locale=locale)}"


def format_number(value: float, language: str) -> str:
    """A number as ``language`` writes it (decimal comma and grouping in Spanish)."""
    return format_decimal(value, locale=supported(language) or SOURCE_LANGUAGE)
