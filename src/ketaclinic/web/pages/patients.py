"""Patient pages: list and search, registration, the patient page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.domain.errors import Conflict, InvalidInput, PermissionDenied
from ketaclinic.domain.people import CLINICAL_ROLES, NewPatient, Sex
from ketaclinic.services import patients as svc
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor, active_site
from ketaclinic.web.pages import mbc as mbc_pages
from ketaclinic.web.templating import flash, render

router = APIRouter(prefix="/patients")

PAGE = 50


@router.get("", response_class=HTMLResponse)
def patient_list(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    site = active_site(request)
    with c.uow(readonly=True) as uow:
        found = svc.list_patients(
            uow,
            c.clock,
            actor,
            site_id=site.id if site else None,
            query=q,
            limit=PAGE + 1,
            offset=(page - 1) * PAGE,
        )
    return render(
        request,
        "patients.html",
        {"patients": found[:PAGE], "q": q, "page": page, "more": len(found) > PAGE},
    )


@router.get("/new", response_class=HTMLResponse)
def new_patient_form(request: Request, actor: PageActor) -> Response:
    del actor
    return render(request, "patient_new.html", {"form": {}, "error": None})


@router.post("/new", response_class=HTMLResponse, dependencies=[Csrf])
def register_patient(
    request: Request,
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
    weight_kg: Annotated[str, Form(max_length=20)] = "",
    height_cm: Annotated[str, Form(max_length=20)] = "",
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
        "weight_kg": weight_kg,
        "height_cm": height_cm,
    }
    site = active_site(request)
    try:
        if site is None:
            raise PermissionDenied("you are not assigned to any site")
        new = NewPatient(
            site_id=site.id,
            mrn=mrn.strip(),
            given_name=given_name.strip(),
            family_name=family_name.strip(),
            birth_date=_parse_birth_date(birth_date),
            sex=_parse_sex(sex),
            email=email.strip(),
            phone=phone.strip(),
            preferred_language=preferred_language,
        )
        weight = _optional_float("weight_kg", weight_kg)
        height = _optional_float("height_cm", height_cm)
        with c.uow() as uow:
            patient = svc.register_patient(
                uow, c.clock, actor, new, weight_kg=weight, height_cm=height
            )
    except (InvalidInput, Conflict) as error:
        context = {"form": form, "error": error.message, "error_field": error.field}
        return render(request, "patient_new.html", context, status=422)
    flash(request, f"Registered {patient.mrn}.")
    return RedirectResponse(f"/patients/{patient.id}", status_code=303)


def _parse_birth_date(text: str) -> dt.date:
    try:
        value = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.for_field("birth_date", text, "a date as YYYY-MM-DD") from None
    if value > dt.date.today() or value.year < 1900:
        raise InvalidInput.for_field("birth_date", text, "a date between 1900 and today")
    return value


def _parse_sex(text: str) -> Sex:
    try:
        return Sex(text)
    except ValueError:
        raise InvalidInput.for_field("sex", text, "female, male, other or unknown") from None


def _optional_float(field: str, text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput.for_field(field, text, "a number") from None


@router.get("/{patient_id}", response_class=HTMLResponse)
def patient_page(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer
) -> Response:
    with c.uow(readonly=True) as uow:
        chart = svc.patient_chart(uow, c.clock, actor, patient_id)
        site = uow.sites.get(chart.patient.site_id)
    principal = actor.principal
    clinical = principal is not None and principal.role in CLINICAL_ROLES
    today = dt.datetime.now(dt.UTC).date()
    return render(
        request,
        "patient.html",
        {
            "patient": chart.patient,
            "site": site,
            "age": chart.patient.age_on(today),
            "measurements": list(reversed(chart.measurements)),
            "clinical": clinical,
            "mbc": mbc_pages.patient_panel(c, actor, chart.patient),
        },
    )


@router.post("/{patient_id}/measurements", dependencies=[Csrf])
def add_measurement(
    request: Request,
    patient_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    weight_kg: Annotated[str, Form(max_length=20)] = "",
    height_cm: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    weight = _optional_float("weight_kg", weight_kg)
    if weight is None:
        raise InvalidInput.for_field("weight_kg", weight_kg, "a weight in kg")
    with c.uow() as uow:
        svc.record_measurement(
            uow, c.clock, actor, patient_id, weight, _optional_float("height_cm", height_cm)
        )
    flash(request, "Measurement recorded.")
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)
