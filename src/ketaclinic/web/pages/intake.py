"""Staff pages of intake: the lead queue and registering a lead, the intake form, the
prescriber's eligibility decision, a patient's consent, and the director's consent texts.

Forms re-render with the error next to the field (422) and store nothing on bad input. A
request that repeats something already done (signing a signed intake, converting a converted
lead, consenting twice) answers with a redirect and a message rather than an error page, so a
double click never shows a failure.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from ketaclinic.adapters.notify.smtp import notifier_in
from ketaclinic.domain.errors import Conflict, InvalidInput, PermissionDenied
from ketaclinic.domain.intake import Condition
from ketaclinic.domain.people import NewPatient, Role, Sex, Site
from ketaclinic.locale import N_, gettext, supported
from ketaclinic.services import clinic_settings, intake_assessment, intake_consent, intake_leads
from ketaclinic.services.intake_common import local_today
from ketaclinic.services.intake_models import ConsentText, IntakeNotes
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web import i18n
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor, active_site
from ketaclinic.web.pages import intake_public, intake_schedule
from ketaclinic.web.pages.mbc_staff_forms import embedded_form
from ketaclinic.web.templating import flash, render

router = APIRouter()
# The public pages and the scheduling pages are routers of their own, served under this one.
router.include_router(intake_public.router)
router.include_router(intake_schedule.router)

# Our own short labels for the condition codes of DESIGN.md §4.2.
CONDITION_LABELS: dict[Condition, str] = {
    Condition.KETAMINE_HYPERSENSITIVITY: "Hypersensitivity to ketamine or an excipient",
    Condition.UNCONTROLLED_HYPERTENSION: "Untreated or poorly controlled hypertension",
    Condition.SEVERE_CARDIOVASCULAR_DISEASE: "Severe coronary or heart muscle disease",
    Condition.STROKE_HISTORY: "Stroke or cerebral trauma",
    Condition.RAISED_INTRACRANIAL_PRESSURE: "Raised intracranial pressure",
    Condition.RAISED_INTRAOCULAR_PRESSURE: "Raised intraocular pressure",
    Condition.PRE_ECLAMPSIA: "Eclampsia or pre-eclampsia",
    Condition.UNTREATED_HYPERTHYROIDISM: "Untreated hyperthyroidism",
    Condition.PSYCHOSIS_HISTORY: "History of psychosis",
    Condition.CURRENT_MANIA: "Current mania",
    Condition.ACTIVE_SUBSTANCE_USE_DISORDER: "Active substance use disorder",
    Condition.KETAMINE_MISUSE_HISTORY: "History of ketamine or PCP misuse",
    Condition.LIVER_DISEASE: "Liver disease",
    Condition.SEIZURE_DISORDER: "Seizure disorder",
}
PCL5_FIELDS = [f"p{n:02d}" for n in range(1, 21)]
PHQ9_FIELDS = [f"q{n}" for n in range(1, 10)]
GAD7_FIELDS = [f"g{n}" for n in range(1, 8)]
NUMBERS = ("bp_systolic", "bp_diastolic", "heart_rate", "spo2", "weight_kg", "height_cm")


async def posted_form(request: Request) -> FormData:
    """The submitted form, read once (the CSRF check reads the same cached copy)."""
    return await request.form(max_fields=200, max_files=0)


PostedForm = Annotated[FormData, Depends(posted_form)]


def _text(form: FormData, name: str, limit: int = 10_000) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


# --- leads ----------------------------------------------------------------------------------


@router.get("/leads", response_class=HTMLResponse)
def lead_list(request: Request, actor: PageActor, c: AppContainer) -> Response:
    site = active_site(request)
    with c.uow(readonly=True) as uow:
        leads = intake_leads.list_leads(uow, c.clock, actor, site_id=site.id if site else None)
    return render(request, "intake/leads.html", {"leads": leads})


@router.post("/leads/{lead_id}/dismiss", dependencies=[Csrf])
def dismiss_lead(request: Request, lead_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    with c.uow() as uow:
        try:
            intake_leads.dismiss_lead(uow, c.clock, actor, lead_id)
            flash(request, "Lead dismissed.")
        except Conflict as error:
            flash(request, error.message)
    return RedirectResponse("/leads", status_code=303)


def _register_form(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, "intake/lead_register.html", context, status=status)


@router.get("/leads/{lead_id}/register", response_class=HTMLResponse)
def register_lead_form(
    request: Request, lead_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    with c.uow(readonly=True) as uow:
        lead = intake_leads.get_lead(uow, c.clock, actor, lead_id)
    if lead.patient_id is not None:
        flash(request, f"Lead {lead.id} is already registered.")
        return RedirectResponse(f"/patients/{lead.patient_id}", status_code=303)
    given, family = lead.suggested_names
    form = {
        "given_name": given,
        "family_name": family,
        "email": lead.email,
        "phone": lead.phone,
        "preferred_language": lead.language,
    }
    return _register_form(request, {"lead": lead, "form": form, "error": None})


@router.post("/leads/{lead_id}/register", response_class=HTMLResponse, dependencies=[Csrf])
def register_lead(
    request: Request,
    lead_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    mrn: Annotated[str, Form(max_length=200)] = "",
    given_name: Annotated[str, Form(max_length=200)] = "",
    family_name: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[str, Form(max_length=20)] = "",
    sex: Annotated[str, Form(max_length=20)] = "",
    email: Annotated[str, Form(max_length=300)] = "",
    phone: Annotated[str, Form(max_length=64)] = "",
    preferred_language: Annotated[str, Form(max_length=5)] = "en",
) -> Response:
    form = {
        "mrn": mrn,
        "given_name": given_name,
        "family_name": family_name,
        "birth_date": birth_date,
        "sex": sex,
        "email": email,
        "phone": phone,
        "preferred_language": preferred_language,
    }
    with c.uow() as uow:
        lead = intake_leads.get_lead(uow, c.clock, actor, lead_id)
        if lead.patient_id is not None:
            flash(request, f"Lead {lead.id} is already registered.")
            return RedirectResponse(f"/patients/{lead.patient_id}", status_code=303)
        try:
            new = NewPatient(
                site_id=lead.site_id,
                mrn=mrn.strip(),
                given_name=given_name.strip(),
                family_name=family_name.strip(),
                birth_date=_birth_date(birth_date, local_today(c.clock, _site(uow, lead.site_id))),
                sex=_sex(sex),
                email=email.strip(),
                phone=phone.strip(),
                preferred_language=preferred_language,
            )
            patient = intake_leads.convert_lead(uow, c.clock, actor, lead.id, new)
        except (InvalidInput, Conflict) as error:
            context = {
                "lead": lead,
                "form": form,
                "error": error.message,
                "error_field": error.field,
            }
            return _register_form(request, context, status=422)
    flash(request, f"Registered {patient.mrn} from the inquiry.")
    return RedirectResponse(f"/patients/{patient.id}", status_code=303)


def _site(uow: UnitOfWork, site_id: int) -> Site:
    site = uow.sites.get(site_id)
    if site is None:
        raise PermissionDenied("the lead's site no longer exists")
    return site


def _birth_date(text: str, today: dt.date) -> dt.date:
    try:
        value = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.for_field("birth_date", text, "a date as YYYY-MM-DD") from None
    if value > today or value.year < 1900:
        raise InvalidInput.for_field("birth_date", text, "a date between 1900 and today")
    return value


def _sex(text: str) -> Sex:
    try:
        return Sex(text)
    except ValueError:
        raise InvalidInput.for_field("sex", text, "female, male, other or unknown") from None


# --- intake ---------------------------------------------------------------------------------


BASELINE_FORMS = (
    ("pcl5", PCL5_FIELDS, "PCL-5 baseline (past month)", ""),
    (
        "phq9",
        PHQ9_FIELDS,
        "PHQ-9 baseline (past two weeks)",
        "Item 9 at 1 or more asks for a same-day risk assessment: saving raises a safety review "
        "for the prescribers today.",
    ),
    (
        "gad7",
        GAD7_FIELDS,
        "GAD-7 baseline (past two weeks, optional)",
        "Leave every answer blank to skip it; once started, all seven are needed.",
    ),
)


def _intake_context(
    uow: UnitOfWork,
    start: intake_assessment.IntakeStart,
    form: dict[str, Any],
    error: InvalidInput | None = None,
) -> dict[str, Any]:
    error_field = _form_field(error.field) if error is not None else None
    message = error.message if error is not None else None
    # The questionnaires as on score entry (web/pages/mbc_staff_forms.py): official wording if
    # the clinic loaded it, live totals; field names p01…, q1…, g1… as intake_data() reads them.
    baseline = [
        (
            title,
            note,
            embedded_form(uow, i, fields, form, problem_field=error_field, problem=message),
        )
        for i, fields, title, note in BASELINE_FORMS
    ]
    return {
        "patient": start.patient,
        "form": form,
        "last": start.last,
        "conditions": CONDITION_LABELS,
        "baseline_forms": baseline,
        "error": message,
        "error_field": error_field,
        "findings": [],
    }


@router.get("/patients/{patient_id}/intake", response_class=HTMLResponse)
def intake_form(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    with c.uow(readonly=True) as uow:
        start = intake_assessment.start_intake(uow, c.clock, actor, patient_id)
        last = start.last
        form = {
            "assessment_date": start.today.isoformat(),
            "weight_kg": f"{last.weight_kg:g}" if last else "",
            "height_cm": f"{last.height_cm:g}" if last and last.height_cm else "",
        }
        context = _intake_context(uow, start, form)
    return render(request, "intake/intake_form.html", context)


def _number(form: FormData, name: str) -> float | str | None:
    """A number field: the number, the text as typed when it is not one (the intake parser then
    names the field and the text), or ``None`` when blank."""
    text = _text(form, name, 30).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _answers(form: FormData, fields: list[str]) -> list[int | str]:
    answers: list[int | str] = []
    for field in fields:
        text = _text(form, field, 5)
        answers.append(int(text) if text.isdigit() else text)
    return answers


def intake_data(form: FormData) -> dict[str, object]:
    """The intake JSON of DESIGN.md §4.2 from the page's fields, as typed: ``parse_intake``
    checks it and names the field of any problem. ``age_years`` and ``sex`` come from the
    patient's record."""
    data: dict[str, object] = {
        "assessment_date": _text(form, "assessment_date", 20).strip(),
        "trauma_date": _text(form, "trauma_date", 20).strip(),
        "pregnant": _text(form, "pregnant", 5) == "yes",
    }
    for name in NUMBERS:
        data[name] = _number(form, name)
    data["pcl5"] = _answers(form, PCL5_FIELDS)
    data["phq9"] = _answers(form, PHQ9_FIELDS)
    if any(_text(form, field, 5).strip() for field in GAD7_FIELDS):  # optional: all blank skips it
        data["gad7"] = _answers(form, GAD7_FIELDS)
    data["conditions"] = [v for v in form.getlist("conditions") if isinstance(v, str)][:20]
    lines = _text(form, "medications", 6000).splitlines()
    data["medications"] = [line.strip() for line in lines if line.strip()]
    return data


def _form_field(error_field: str | None) -> str | None:
    """The page field an error belongs to (``pcl5[3]`` is select ``p04``)."""
    if error_field is None:
        return None
    for prefix, fields in (("pcl5[", PCL5_FIELDS), ("phq9[", PHQ9_FIELDS), ("gad7[", GAD7_FIELDS)):
        if error_field.startswith(prefix):
            index = error_field[len(prefix) : -1]
            return fields[int(index)] if index.isdigit() and int(index) < len(fields) else None
    return error_field.split("[", 1)[0]


@router.post("/patients/{patient_id}/intake", response_class=HTMLResponse, dependencies=[Csrf])
def record_intake(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer, form: PostedForm
) -> Response:
    kept: dict[str, Any] = {
        k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"
    }
    kept["conditions"] = [v for v in form.getlist("conditions") if isinstance(v, str)]
    confirmed = _text(form, "weight_confirmed", 5) == "yes"
    with c.uow() as uow:
        # Role and site first (audited): nothing about the patient is shown to anyone else,
        # not even in an error page.
        start = intake_assessment.start_intake(uow, c.clock, actor, patient_id)
        try:
            notes = IntakeNotes(
                psychiatric_history=_text(form, "psychiatric_history", 10_000).strip(),
                medical_history=_text(form, "medical_history", 10_000).strip(),
                allergies=_text(form, "allergies", 2000).strip(),
            )
            stored = intake_assessment.record_intake(
                uow, c.clock, actor, patient_id, intake_data(form), notes,
                weight_confirmed=confirmed, notifier=notifier_in(c.extras),
                settings=clinic_settings.clinic_eligibility_settings(uow),
            )  # fmt: skip
        except InvalidInput as error:
            context = _intake_context(uow, start, kept, error)
            weight = _number(form, "weight_kg")
            if error.field == "weight_confirmed" and isinstance(weight, float):
                context["findings"] = intake_assessment.weight_findings(uow, patient_id, weight)
            return render(request, "intake/intake_form.html", context, status=422)
    flash(request, f"Intake recorded: {stored.decision.value.replace('_', ' ')}.")
    return RedirectResponse(f"/patients/{patient_id}/eligibility", status_code=303)


# --- eligibility ----------------------------------------------------------------------------


def _eligibility_page(
    request: Request, c: AppContainer, actor: PageActor, patient_id: int, **extra: Any
) -> Response:
    with c.uow(readonly=True) as uow:
        view = intake_assessment.eligibility_view(uow, c.clock, actor, patient_id)
        users = {u.id: u.display_name for u in uow.users.all()}
    principal = actor.principal
    context = {
        "view": view,
        "users": users,
        "can_sign": principal is not None and principal.role is Role.PRESCRIBER,
        "conditions": CONDITION_LABELS,
        "error": None,
        "reason": "",
    }
    context.update(extra)
    status = 422 if extra.get("error") else 200
    return render(request, "intake/eligibility.html", context, status=status)


@router.get("/patients/{patient_id}/eligibility", response_class=HTMLResponse)
def eligibility(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    return _eligibility_page(request, c, actor, patient_id)


@router.post("/patients/{patient_id}/eligibility", dependencies=[Csrf])
def sign_eligibility(
    request: Request,
    patient_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    action: Annotated[str, Form(max_length=10)] = "sign",
    intake_id: Annotated[int | None, Form(ge=1)] = None,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    here = RedirectResponse(f"/patients/{patient_id}/eligibility", status_code=303)
    bad: InvalidInput | None = None
    with c.uow() as uow:
        try:
            signoff = intake_assessment.sign_eligibility(
                uow, c.clock, actor, patient_id, intake_id,
                override_reason=reason if action == "override" else None,
            )  # fmt: skip
        except Conflict as error:
            flash(request, error.message)
            return here
        except InvalidInput as error:
            bad = error
    # Pages are rendered after the unit of work ends: they open their own.
    if bad is not None:
        return _eligibility_page(request, c, actor, patient_id, error=bad.message, reason=reason)
    word = "overridden to eligible" if signoff.overridden else signoff.decision.value
    flash(request, f"Eligibility signed: {word.replace('_', ' ')}.")
    return here


# --- consent --------------------------------------------------------------------------------


def _consent_page(
    request: Request, c: AppContainer, actor: PageActor, patient_id: int, **extra: Any
) -> Response:
    with c.uow(readonly=True) as uow:
        view = intake_consent.consent_view(uow, c.clock, actor, patient_id)
        users = {u.id: u.display_name for u in uow.users.all()}
    # The consent text, and the words the patient reads beside it, are in the patient's language
    # (or the one the nurse switched to); the rest of the page is staff English.
    asked = supported(str(extra.pop("text_lang", "")))
    text_lang = asked or i18n.for_patient(request, view.patient).lang
    patient_words = {
        "heading": gettext(text_lang, N_("Consent to treatment")),
        "sign_hint": gettext(text_lang, N_("Please read the text, then type your full name.")),
    }
    context = {
        "view": view,
        "users": users,
        "text_lang": text_lang,
        "patient_words": patient_words,
        "error": None,
        "form": {},
    }
    context.update(extra)
    return render(
        request, "intake/consent.html", context, status=422 if extra.get("error") else 200
    )


@router.get("/patients/{patient_id}/consent", response_class=HTMLResponse)
def consent(request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    return _consent_page(request, c, actor, patient_id)


@router.post("/patients/{patient_id}/consent", dependencies=[Csrf])
def record_consent(
    request: Request,
    patient_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    signer_name: Annotated[str, Form(max_length=1000)] = "",
    language: Annotated[str, Form(max_length=5)] = "en",
    version_id: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    here = RedirectResponse(f"/patients/{patient_id}/consent", status_code=303)
    bad: InvalidInput | None = None
    with c.uow() as uow:
        try:
            intake_consent.record_consent(
                uow, c.clock, actor, patient_id, version_id, signer_name, language
            )
        except Conflict as error:
            flash(request, error.message)
            return here
        except InvalidInput as error:
            bad = error
    if bad is not None:
        form = {"signer_name": signer_name, "language": language}
        return _consent_page(
            request, c, actor, patient_id, error=bad.message, form=form, text_lang=language
        )
    flash(request, "Consent recorded.")
    return here


@router.get("/admin/consent", response_class=HTMLResponse)
def consent_admin(request: Request, actor: PageActor, c: AppContainer) -> Response:
    with c.uow(readonly=True) as uow:
        versions = intake_consent.consent_versions(uow, c.clock, actor)
    return render(request, "intake/admin_consent.html", {"versions": versions, "error": None})


@router.post("/admin/consent", response_class=HTMLResponse, dependencies=[Csrf])
def save_consent_version(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    body_en: Annotated[str, Form(max_length=50_000)] = "",
    body_es: Annotated[str, Form(max_length=50_000)] = "",
    version_id: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    with c.uow() as uow:
        try:
            text = ConsentText(body_en, body_es)
            if version_id is None:
                saved = intake_consent.add_consent_version(uow, c.clock, actor, text)
                message = f"Consent version {saved.version} is now in force."
            else:
                saved = intake_consent.edit_consent_version(uow, c.clock, actor, version_id, text)
                message = f"Consent version {saved.version} corrected."
        except (InvalidInput, Conflict) as error:
            versions = intake_consent.consent_versions(uow, c.clock, actor)
            context = {
                "versions": versions,
                "error": error.message,
                "draft": {"body_en": body_en, "body_es": body_es, "version_id": version_id},
            }
            status = 409 if isinstance(error, Conflict) else 422
            return render(request, "intake/admin_consent.html", context, status=status)
    flash(request, message)
    return RedirectResponse("/admin/consent", status_code=303)
