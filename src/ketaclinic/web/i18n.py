"""Which language a page speaks, and the Jinja2 side of translation.

A patient-facing page picks its language in this order (DESIGN.md §4.3, docs/i18n.md):

1. ``?lang=xx`` — the language switch on every patient page; a supported choice is also kept
   in a cookie (:data:`COOKIE`) so the next page opens in it. An unsupported one gives English
   and a visible note beside the switch;
2. the cookie, from an earlier switch in this browser;
3. the page's own fallback, if it has one: a patient's one-time link opens in the patient's
   preferred language, and discharge instructions are written in it;
4. the browser's ``Accept-Language``, best quality first;
5. English.

Templates translate with ``{{ _("English text") }}`` (and ``ngettext``); the language comes from
the template's ``lang`` variable, so one environment serves every request, and a page without
``lang`` (every staff page) stays English. Dates, times and numbers are written per language
with the ``ldate``, ``ldatetime`` and ``lnumber`` filters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from ketaclinic import locale
from ketaclinic.domain.people import Patient

COOKIE = "ketaclinic_lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600  # design: a year; it holds a language code and nothing else
HEADER_MAX_CHARS = 500
HEADER_MAX_ENTRIES = 20


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """The page's language; ``asked`` is an unsupported ``?lang=`` value (shown as a note);
    ``switched`` says the visitor chose it with ``?lang=`` just now (so it is remembered)."""

    lang: str
    asked: str = ""
    switched: bool = False

    @property
    def unsupported(self) -> bool:
        return bool(self.asked)


def negotiate(request: Request, fallback: str | None = None) -> LanguageChoice:
    """The language of this request, by the order in the module docstring."""
    asked = request.query_params.get("lang")
    if asked is not None:
        chosen = locale.supported(asked)
        if chosen is not None:
            return LanguageChoice(chosen, switched=True)
        return LanguageChoice(locale.SOURCE_LANGUAGE, asked=asked[:20] or "?")
    remembered = locale.supported(request.cookies.get(COOKIE))
    if remembered is not None:
        return LanguageChoice(remembered)
    if fallback is not None and locale.supported(fallback) is not None:
        return LanguageChoice(locale.supported(fallback) or locale.SOURCE_LANGUAGE)
    return LanguageChoice(accept_language(request.headers.get("accept-language", "")))


def for_patient(request: Request, patient: Patient) -> LanguageChoice:
    """A document staff open for a patient (discharge instructions): ``?lang=`` if supported,
    else the patient's preferred language (also for an unsupported ``?lang=``). The staff
    member's cookie and browser do not count, and nothing is remembered: the next patient's
    document opens in that patient's language."""
    chosen = locale.supported(request.query_params.get("lang"))
    if chosen is not None:
        return LanguageChoice(chosen)
    return LanguageChoice(locale.supported(patient.preferred_language) or locale.SOURCE_LANGUAGE)


def form_language(value: object, request: Request, fallback: str | None = None) -> str:
    """The language a posted form was filled in (its hidden ``lang`` field), else negotiated."""
    if isinstance(value, str):
        chosen = locale.supported(value) if len(value) <= 5 else None
        if chosen is not None:
            return chosen
    return negotiate(request, fallback).lang


def accept_language(header: str) -> str:
    """The supported language with the highest quality in an ``Accept-Language`` header (ties go
    to the earlier entry); English if none. Only the first entries of a long header count."""
    best, best_q = locale.SOURCE_LANGUAGE, 0.0
    for part in header[:HEADER_MAX_CHARS].split(",")[:HEADER_MAX_ENTRIES]:
        tag, *params = part.strip().split(";")
        quality = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        chosen = locale.supported(tag.strip())
        if chosen is not None and quality > best_q:
            best, best_q = chosen, quality
    return best


def remember(request: Request, response: Response, choice: LanguageChoice) -> Response:
    """Keep a language the visitor just switched to in a cookie (nothing else is kept)."""
    if choice.switched:
        response.set_cookie(
            COOKIE,
            choice.lang,
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
    return response


@dataclass(frozen=True, slots=True)
class LanguageLink:
    code: str
    name: str
    href: str
    current: bool


def language_links(request: Request, lang: str) -> list[LanguageLink]:
    """The switch: this page in every language, other query parameters kept."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    links = []
    for code in locale.LANGUAGES:
        query = urlencode([*kept, ("lang", code)])
        links.append(
            LanguageLink(
                code, locale.LANGUAGE_NAMES[code], f"{request.url.path}?{query}", code == lang
            )
        )
    return links


def page_context(request: Request, choice: LanguageChoice) -> dict[str, Any]:
    """What every patient-facing template needs for its language: ``lang``, the switch, and
    the note for an unsupported choice."""
    return {
        "lang": choice.lang,
        "lang_links": language_links(request, choice.lang),
        "lang_unsupported": choice.asked,
    }


# --- error pages a visitor can reach ------------------------------------------------------------

VISITOR_ERRORS: dict[int, tuple[str, str]] = {
    401: (
        locale.N_("This page is for the clinic's staff"),
        locale.N_("Please sign in with a staff account to open it."),
    ),
    403: (
        locale.N_("This page is for the clinic's staff"),
        locale.N_("It cannot be opened without a staff account, or the form was out of date."),
    ),
    404: (
        locale.N_("Page not found"),
        locale.N_(
            "There is nothing at this address. Please check the link, or contact the clinic."
        ),
    ),
    405: (
        locale.N_("Page not found"),
        locale.N_(
            "There is nothing at this address. Please check the link, or contact the clinic."
        ),
    ),
    409: (
        locale.N_("This could not be done"),
        locale.N_("Something changed in the meantime. Please go back and try again."),
    ),
    413: (
        locale.N_("Please check what you entered"),
        locale.N_("What was sent is too large. Please go back, shorten it and send it again."),
    ),
    422: (
        locale.N_("Please check what you entered"),
        locale.N_(
            "Part of what was sent could not be read. Please go back, check it and send it again."
        ),
    ),
    429: (
        locale.N_("Too many attempts"),
        locale.N_("Please wait a few minutes and try again."),
    ),
    500: (
        locale.N_("Something went wrong"),
        locale.N_(
            "Something went wrong on our side and nothing was changed. Please try again later."
        ),
    ),
}
OTHER_ERROR = (
    locale.N_("Something went wrong"),
    locale.N_("This request could not be completed. Please go back and try again."),
)


def visitor_error(lang: str, status: int) -> tuple[str, str]:
    """The title and explanation of an error page for a visitor (no staff session), in
    ``lang``. The technical message is for staff and the logs, not for a patient."""
    title, explanation = VISITOR_ERRORS.get(status, OTHER_ERROR)
    return locale.gettext(lang, title), locale.gettext(lang, explanation)


# --- Jinja2 -------------------------------------------------------------------------------------


def _lang(context: Context) -> str:
    value = context.get("lang")
    return value if isinstance(value, str) else locale.SOURCE_LANGUAGE


@pass_context
def _gettext(context: Context, message: str) -> str:
    return locale.gettext(_lang(context), message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return locale.ngettext(_lang(context), singular, plural, count)


@pass_context
def _ldate(context: Context, value: dt.date | None, form: str = "long") -> str:
    return locale.format_date(value, _lang(context), form) if value is not None else ""


@pass_context
def _ldatetime(context: Context, value: dt.datetime | None, timezone: str = "UTC") -> str:
    return locale.format_datetime(value, _lang(context), timezone) if value is not None else ""


@pass_context
def _lnumber(context: Context, value: float) -> str:
    return locale.format_number(value, _lang(context))


def install(env: Environment) -> None:
    """Give ``env`` (with ``jinja2.ext.i18n`` loaded) per-request gettext and the locale
    filters. Newstyle gettext: placeholders are keyword arguments, ``_("… %(n)s", n=3)``, and
    are escaped."""
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.filters["ldate"] = _ldate
    env.filters["ldatetime"] = _ldatetime
    env.filters["lnumber"] = _lnumber
