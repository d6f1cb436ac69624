"""The public pages: self-screening (``/screening``) and the inquiry form (``/inquiry``).

No sign-in, their own simple layout, in the visitor's language (``web/i18n.py``: ``?lang=``,
then the language cookie a switch left, then ``Accept-Language``), built for a phone first. The
screening evaluates answers and stores nothing; only a submitted inquiry is kept, as a lead for
the front desk. Both are throttled per client; the inquiry form
carries a honeypot and a signed serving time (``intake_guard``). No session cookie is set; a
language switch leaves only the language cookie.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.screening import (
    MONTHS_MAX,
    SYMPTOM_COUNT,
    SYMPTOM_MAX,
    HealthQuestion,
    ScreeningAnswers,
    evaluate_screening,
)
from ketaclinic.locale import translator
from ketaclinic.services import intake_leads
from ketaclinic.services.audit import Actor
from ketaclinic.services.intake_models import Inquiry
from ketaclinic.web import i18n
from ketaclinic.web.deps import AppContainer
from ketaclinic.web.pages.intake_guard import (
    HONEYPOT,
    FormExpired,
    FormTooFast,
    check_form_token,
    client_key,
    new_form_token,
    throttles,
)
from ketaclinic.web.pages.intake_text import text
from ketaclinic.web.templating import templates
from ketaclinic.web.throttle import TooManyRequests

router = APIRouter()

SYMPTOMS = [f"s{n:02d}" for n in range(1, SYMPTOM_COUNT + 1)]
INQUIRY_FIELD_ERRORS = {
    "name": "errors.name",
    "email": "errors.email",
    "phone": "errors.phone",
    "contact_consent": "errors.consent",
    "message": "errors.message",
    "site": "errors.site",
}


def _page(
    request: Request,
    template: str,
    choice: i18n.LanguageChoice,
    context: dict[str, Any],
    status: int = 200,
) -> HTMLResponse:
    c = request.app.state.container
    with c.uow(readonly=True) as uow:
        org = uow.sites.organisation_name() or "ketaclinic"
    lang = choice.lang
    base = {
        **i18n.page_context(request, choice),
        "t": lambda key: text(key, lang),
        "org_name": org,
        "path": request.url.path,
    }
    base.update(context)
    response = templates.TemplateResponse(request, template, base, status_code=status)
    i18n.remember(request, response, choice)
    return response


# --- screening ------------------------------------------------------------------------------


def _screening_context(form: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "symptoms": SYMPTOMS,
        "answers": range(SYMPTOM_MAX + 1),
        "questions": [q.value for q in HealthQuestion],
        "form": form,
        "errors": errors,
        "months_max": MONTHS_MAX,
        "result": None,
    }


@router.get("/screening", response_class=HTMLResponse)
def screening_form(request: Request) -> Response:
    choice = i18n.negotiate(request)
    return _page(request, "intake/screening.html", choice, _screening_context({}, {}))


def parse_screening_form(form: dict[str, str]) -> tuple[ScreeningAnswers | None, dict[str, str]]:
    """Answers from the page's fields, or the error key of every field that is missing or bad
    (so each is marked next to its question)."""
    errors: dict[str, str] = {}
    symptoms: list[int] = []
    for name in SYMPTOMS:
        value = form.get(name, "")
        if value not in {str(n) for n in range(SYMPTOM_MAX + 1)}:
            errors[name] = "errors.symptom"
        else:
            symptoms.append(int(value))
    months_text = form.get("months", "").strip()
    months = int(months_text) if months_text.isdigit() and len(months_text) <= 4 else -1
    if not (0 <= months <= MONTHS_MAX):
        errors["months"] = "errors.months"
    yes_to: set[HealthQuestion] = set()
    for question in HealthQuestion:
        value = form.get(f"h_{question.value}", "")
        if value not in {"yes", "no"}:
            errors[f"h_{question.value}"] = "errors.yes_no"
        elif value == "yes":
            yes_to.add(question)
    if errors:
        return None, errors
    return ScreeningAnswers(tuple(symptoms), months, frozenset(yes_to)), {}


@router.post("/screening", response_class=HTMLResponse)
async def screening_submit(request: Request) -> Response:
    # Read by hand: 27 answers as parameters would say less than this loop. Values longer than
    # any valid answer are dropped, so they count as missing.
    raw = await request.form(max_fields=64, max_files=0)
    form = {k: v for k, v in raw.items() if isinstance(v, str) and len(v) <= 20}
    choice = i18n.LanguageChoice(i18n.form_language(form.get("lang"), request))
    context = _screening_context(form, {})
    status = 200
    try:
        throttles(request).screening.check(client_key(request))
    except TooManyRequests:
        context["errors"], status = {"form": "errors.too_many"}, 429
    else:
        answers, errors = parse_screening_form(form)
        if answers is None:
            context["errors"], status = errors, 422
        else:
            result = evaluate_screening(answers)
            context["result"] = result.as_dict(translator(choice.lang))
    # _page reads the organisation's name from the database: not on the event loop.
    return await run_in_threadpool(_page, request, "intake/screening.html", choice, context, status)


# --- inquiry --------------------------------------------------------------------------------


def _inquiry_context(
    request: Request, c: AppContainer, form: dict[str, str], errors: dict[str, str]
) -> dict[str, Any]:
    with c.uow(readonly=True) as uow:
        sites = intake_leads.public_sites(uow)
    return {
        "sites": sites,
        "form": form,
        "errors": errors,
        "form_token": new_form_token(request),
        "honeypot": HONEYPOT,
    }


@router.get("/inquiry", response_class=HTMLResponse)
def inquiry_form(request: Request, c: AppContainer) -> Response:
    choice = i18n.negotiate(request)
    preselect = request.query_params.get("site", "")[:10]
    context = _inquiry_context(request, c, {"site": preselect}, {})
    return _page(request, "intake/inquiry.html", choice, context)


@router.post("/inquiry", response_class=HTMLResponse)
def inquiry_submit(
    request: Request,
    c: AppContainer,
    name: Annotated[str, Form(max_length=2000)] = "",
    email: Annotated[str, Form(max_length=2000)] = "",
    phone: Annotated[str, Form(max_length=2000)] = "",
    site: Annotated[str, Form(max_length=20)] = "",
    message: Annotated[str, Form(max_length=50_000)] = "",
    contact_consent: Annotated[str, Form(max_length=10)] = "",
    website: Annotated[str, Form(max_length=2000)] = "",
    form_token: Annotated[str, Form(max_length=500)] = "",
    lang: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    language = i18n.form_language(lang, request)
    choice = i18n.LanguageChoice(language)
    form = {
        "name": name,
        "email": email,
        "phone": phone,
        "site": site,
        "message": message,
        "contact_consent": contact_consent,
    }

    def again(error_key: str, field: str = "form", status: int = 422) -> Response:
        context = _inquiry_context(request, c, form, {field: error_key})
        return _page(request, "intake/inquiry.html", choice, context, status=status)

    try:
        throttles(request).inquiry.check(client_key(request))
    except TooManyRequests:
        return again("errors.too_many", status=429)
    if website.strip():
        # A bot filled the hidden field: answer as for anyone, keep nothing.
        return _page(request, "intake/inquiry_thanks.html", choice, {})
    try:
        check_form_token(request, form_token)
    except FormTooFast:
        return again("errors.too_fast")
    except FormExpired:
        return again("errors.expired")
    except InvalidInput:
        return again("errors.form")
    with c.uow() as uow:
        sites = intake_leads.public_sites(uow)
    chosen = next((s for s in sites if s.code == site), None)
    try:
        if chosen is None:
            raise InvalidInput.for_field("site", site, "one of the clinic's sites")
        inquiry = Inquiry.from_form(
            site_id=chosen.id,
            name=name,
            email=email,
            phone=phone,
            contact_consent=contact_consent == "yes",
            message=message,
            language=language,
        )
    except InvalidInput as error:
        field = error.field or "form"
        key = INQUIRY_FIELD_ERRORS.get(field, "errors.form")
        if field == "email" and not email.strip():
            key = "errors.contact"
        return again(key, field)
    with c.uow() as uow:
        intake_leads.submit_inquiry(uow, c.clock, Actor(None, client_key(request)), inquiry)
    return _page(request, "intake/inquiry_thanks.html", choice, {})
