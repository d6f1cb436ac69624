"""The keyed messages of the public screening and inquiry pages: the error a visitor sees next to
a field. Our English is the source text, marked for the catalogues; the translation comes from
``ketaclinic/locale`` in the page's language.

The screening questions, answers and outcomes themselves are keyed the same way in
:mod:`ketaclinic.domain.screening` (``MESSAGES``); the page furniture is written in the
templates with ``_()``.
"""

from __future__ import annotations

from ketaclinic.domain.screening import MESSAGES
from ketaclinic.locale import N_, gettext

ERRORS: dict[str, str] = {
    "errors.summary": N_("Please check the answers marked below."),
    "errors.symptom": N_("Please choose an answer here."),
    "errors.months": N_("Please enter a whole number of months, from 0 to 1200."),
    "errors.yes_no": N_("Please answer yes or no."),
    "errors.too_many": N_(
        "You have sent this form many times in a short while. Please wait a few minutes and try "
        "again."
    ),
    "errors.name": N_("Please enter your name (up to 100 characters)."),
    "errors.email": N_("Please enter a valid e-mail address."),
    "errors.phone": N_("Please enter a valid phone number (digits, spaces and + ( ) - . only)."),
    "errors.contact": N_("Please give an e-mail address or a phone number."),
    "errors.consent": N_("Please agree to be contacted; without it we cannot keep your message."),
    "errors.message": N_("Your message is too long (at most 2000 characters)."),
    "errors.site": N_("Please choose a clinic."),
    "errors.too_fast": N_(
        "That was very quick. Please check your details and send the form again."
    ),
    "errors.expired": N_(
        "The form was open for a long time. Please check your details and send it again."
    ),
    "errors.form": N_("The form could not be read. Please send it again."),
}


def source(key: str) -> str:
    """The English source sentence of a page or screening message key (``KeyError`` if none)."""
    return ERRORS[key] if key in ERRORS else MESSAGES[key]


def text(key: str, lang: str) -> str:
    """The sentence for ``key`` in ``lang``."""
    return gettext(lang, source(key))
