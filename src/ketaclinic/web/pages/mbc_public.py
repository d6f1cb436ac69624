"""The patient's one-time questionnaire page, ``/r/{token}``: no account, mobile-first, in the
patient's language (``web/i18n.py``: ``?lang=``, then the language cookie of an earlier switch,
then the patient's preferred language), with ``<html lang>`` set. Answering in a language makes
it the patient's preferred language for the next link and e-mail. An unknown, altered, expired
or used link gets a clear page and stores nothing; missing answers re-render the form with each
problem next to its question. Every request is throttled per client address. The page never
shows the patient's name or any clinical detail: whoever holds the link sees only the questions
and the phone number of the site that sent it, when the site has one, so a patient with a
question (or a used or expired link) can call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.bootstrap import Container
from ketaclinic.domain.people import Site
from ketaclinic.locale import N_, gettext
from ketaclinic.services import mbc_content, mbc_self_report, patient_language
from ketaclinic.services.audit import Actor
from ketaclinic.services.mbc_model import SelfReportLink
from ketaclinic.web import i18n
from ketaclinic.web.deps import AppContainer, Csrf, client_address
from ketaclinic.web.templating import render
from ketaclinic.web.throttle import SlidingWindow

router = APIRouter()

self_report_throttle = SlidingWindow(limit=60, window_s=60)
"""Per client address: a patient needs a handful of requests; a token guesser gets nowhere."""

TokenPath = Annotated[str, "the link's token"]

MISSING = N_("Please answer this question.")
INVALID_ANSWER = N_("Please choose one of the answers.")
UNUSABLE = {
    "invalid": (
        N_("This link is not valid"),
        N_("Please check that you opened the whole link, or contact the clinic."),
    ),
    "expired": (N_("This link has expired"), N_("Please contact the clinic for a new link.")),
    "used": (
        N_("This link has already been used"),
        N_("Your answers were already received. Contact the clinic if you need to change them."),
    ),
}
UNUSABLE_STATUS = {"invalid": 404, "expired": 410, "used": 410}
THANKS = N_("Your answers have been sent to %(org)s. You can close this page.")
SAFETY = N_(
    "Your care team will review your answers today. If you are thinking about harming yourself "
    "or are in danger now, call your local emergency number or go to the nearest emergency "
    "department."
)


def _throttle(request: Request) -> None:
    self_report_throttle.check(client_address(request))


Throttled = Depends(_throttle)


def _org_and_site(c: Container, site_id: int | None) -> tuple[str, Site | None]:
    """The clinic's name, and the site whose phone number the page gives (none when the link
    is unknown)."""
    with c.uow(readonly=True) as uow:
        org = uow.sites.organisation_name() or "ketaclinic"
        return org, (uow.sites.get(site_id) if site_id is not None else None)


def _unusable(
    request: Request,
    c: Container,
    error: mbc_self_report.LinkNotUsable,
    choice: i18n.LanguageChoice,
) -> Response:
    heading, message = UNUSABLE[error.reason]
    org, site = _org_and_site(c, error.site_id)
    context = {
        **i18n.page_context(request, choice),
        "org_name": org,
        "phone_site": site,
        "heading": gettext(choice.lang, heading),
        "message": gettext(choice.lang, message),
        "switch": True,
    }
    response = render(
        request, "mbc/respond_message.html", context, status=UNUSABLE_STATUS[error.reason]
    )
    return i18n.remember(request, response, choice)


def _form_page(
    request: Request,
    c: Container,
    link: SelfReportLink,
    choice: i18n.LanguageChoice,
    values: dict[str, int],
    problems: dict[str, str],
    status: int = 200,
) -> Response:
    lang = choice.lang
    with c.uow(readonly=True) as uow:
        forms = [mbc_content.instrument_form(uow, i, lang) for i in link.instrument_ids]
        org = uow.sites.organisation_name() or "ketaclinic"
        site = uow.sites.get(link.site_id)
    zone = ZoneInfo(site.timezone if site is not None else "UTC")
    context: dict[str, Any] = {
        **i18n.page_context(request, choice),
        "org_name": org,
        "due_date": link.due_at.astimezone(zone).date() if link.due_at else None,
        "forms": forms,
        "prefixes": field_prefixes(link.instrument_ids),
        "item_count": sum(len(f.items) for f in forms),
        "values": values,
        "problems": {item: gettext(lang, message) for item, message in problems.items()},
        "problem_count": len(problems),
        "first_problem": next(iter(problems), ""),
        "phone_site": site,
        "switch": True,
    }
    response = render(request, "mbc/respond.html", context, status=status)
    return i18n.remember(request, response, choice)


@router.get("/r/{token}", response_class=HTMLResponse, dependencies=[Throttled])
def respond_form(
    request: Request,
    token: TokenPath,
    c: AppContainer,
    lang: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    del lang  # read by i18n.negotiate() from the query string
    try:
        with c.uow(readonly=True) as uow:
            link = mbc_self_report.usable_link(uow, c.clock, token)
    except mbc_self_report.LinkNotUsable as error:
        return _unusable(request, c, error, i18n.negotiate(request))
    # The link opens in the patient's language unless this browser chose another.
    return _form_page(request, c, link, i18n.negotiate(request, link.language), {}, {})


async def _form(request: Request) -> FormData:
    return await request.form()


@router.post("/r/{token}", response_class=HTMLResponse, dependencies=[Throttled, Csrf])
def respond(
    request: Request,
    token: TokenPath,
    c: AppContainer,
    form: Annotated[FormData, Depends(_form)],
) -> Response:
    chosen = form.get("language")
    try:
        with c.uow() as uow:
            link = mbc_self_report.usable_link(uow, c.clock, token)
    except mbc_self_report.LinkNotUsable as error:
        fallback = i18n.LanguageChoice(i18n.form_language(chosen, request))
        return _unusable(request, c, error, fallback)
    choice = i18n.LanguageChoice(i18n.form_language(chosen, request, link.language))
    lang = choice.lang
    answers, values, problems = _parse(form, link)
    if problems:
        return _form_page(request, c, link, choice, values, problems, status=422)
    actor = Actor(None, client_address(request))
    try:
        with c.uow() as uow:
            submitted = mbc_self_report.submit_self_report(
                uow, c.clock, actor, token, answers, language=lang, notifier=notifier_in(c.extras)
            )
    except mbc_self_report.LinkNotUsable as error:
        return _unusable(request, c, error, choice)
    with c.uow() as uow:
        # Answering in a language is the patient's own choice: the next link opens in it.
        patient_language.remember_language(
            uow, c.clock, actor, link.patient_id, lang, why="answered a self-report link"
        )
    org, site = _org_and_site(c, link.site_id)
    context = {
        **i18n.page_context(request, choice),
        "org_name": org,
        "phone_site": site,
        "heading": gettext(lang, N_("Thank you")),
        "message": gettext(lang, THANKS) % {"org": org},
        "safety": gettext(lang, SAFETY) if submitted.tasks else "",
        "switch": False,
    }
    return render(request, "mbc/respond_message.html", context)


def field_prefixes(instrument_ids: Sequence[str]) -> dict[str, str]:
    """The prefix of each instrument's form fields on one page: ``""`` (the field is the item
    id) unless another instrument of the page has an item with the same id — both PCL-5 forms
    share ``pcl5_01``… — in which case every such instrument's fields are named
    ``"<instrument>--<item>"``, so one answer never lands in the other form. Forms without a
    shared id keep their plain names (a page opened before an upgrade still submits)."""
    seen: dict[str, int] = {}
    for instrument_id in instrument_ids:
        for item in mbc_content.known_instrument(instrument_id).items:
            seen[item.id] = seen.get(item.id, 0) + 1
    return {
        instrument_id: f"{instrument_id}--"
        if any(seen[i.id] > 1 for i in mbc_content.known_instrument(instrument_id).items)
        else ""
        for instrument_id in instrument_ids
    }


def _parse(
    form: FormData, link: SelfReportLink
) -> tuple[dict[str, dict[str, int | None]], dict[str, int], dict[str, str]]:
    """Answers by instrument and item, the valid values to re-show, and a problem message per
    unanswered or invalid item (English source text, translated when shown); the last two are
    keyed by form field name (``field_prefixes``)."""
    answers: dict[str, dict[str, int | None]] = {}
    values: dict[str, int] = {}
    problems: dict[str, str] = {}
    prefixes = field_prefixes(link.instrument_ids)
    for instrument_id in link.instrument_ids:
        instrument = mbc_content.known_instrument(instrument_id)
        given: dict[str, int | None] = {}
        for item in instrument.items:
            field = prefixes[instrument_id] + item.id
            raw = form.get(field)
            value: int | None = None
            if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw) < 6:
                value = int(raw)
            if value is None:
                problems[field] = MISSING if not raw else INVALID_ANSWER
            elif not item.min_value <= value <= item.max_value:
                problems[field] = INVALID_ANSWER
                value = None
            else:
                values[field] = value
            given[item.id] = value
        answers[instrument_id] = given
    return answers, values, problems
