"""The clinician's PK explorer (``/pk``) and the director's drug library (``/admin/drug-library``).

The explorer takes a model, weight, dose and duration from the query string (so a result is a
link that can be shared) and shows the typical curve with the population 5–95 % band, the
landmark ranges, Cmax/Tmax, time above 100 ng/mL and AUC. Nothing about a patient is involved.

The drug library lists every protocol's soft and hard limits with their provenance and who
approved a clinic value; the director sets a clinic value (with a reason) and the PK model the
clinic's plots use.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.adapters.plots.concentration import render_concentration_plot
from ketaclinic.domain.drug_library import Quantity
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.pk.landmarks import LANDMARKS
from ketaclinic.pk.models import MODELS
from ketaclinic.pk.simulate import DISCLAIMER
from ketaclinic.services import dosing_library, dosing_tools
from ketaclinic.services.audit import Actor
from ketaclinic.services.dosing_calc import FieldError
from ketaclinic.services.dosing_json import THRESHOLD_NG_PER_ML
from ketaclinic.services.dosing_pk import explore
from ketaclinic.web.deps import AppContainer, Csrf, PageActor
from ketaclinic.web.templating import flash, render

router = APIRouter()

Text20 = Annotated[str, Query(max_length=20)]
SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
EXPLORER_DEFAULTS = {"weight_kg": "70", "mg_per_kg": "0.5", "minutes": "40", "age_years": ""}


@router.get("/pk", response_class=HTMLResponse)
def pk_explorer(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    model: Text20 = "",
    weight_kg: Text20 = "",
    mg_per_kg: Text20 = "",
    minutes: Text20 = "",
    age_years: Text20 = "",
) -> Response:
    with c.uow(readonly=True) as uow:
        clinic_model = dosing_tools.check_clinician(uow, c.clock, actor)
    form = _explorer_form(clinic_model, model, weight_kg, mg_per_kg, minutes, age_years)
    context: dict[str, Any] = {
        "form": form,
        "models": MODELS,
        "clinic_model": clinic_model,
        "disclaimer": DISCLAIMER,
        "landmarks": LANDMARKS,
        "threshold": THRESHOLD_NG_PER_ML,
        "error": None,
        "result": None,
    }
    try:
        run, bands = explore(*_explorer_args(form))
    except InvalidInput as error:
        context["error"] = FieldError.of(error)
        return render(request, "dosing/pk.html", context, status=422)
    assert run.result is not None  # explore() always computes the typical curve
    summary = run.result.summary(threshold_ng_per_ml=THRESHOLD_NG_PER_ML)
    minutes_value = float(form["minutes"])
    end_index = int(abs(run.result.times_min - minutes_value).argmin())
    context["result"] = {
        "run": run,
        "summary": summary,
        "end_of_infusion_ng_per_ml": float(run.result.plasma_ng_per_ml[end_index]),
        "cmax_percentiles": {
            p: float(np.percentile(bands.cmax_ng_per_ml, p)) for p in (5.0, 50.0, 95.0)
        },
        "peak_above": [(lm, bands.probability_peak_above(lm.low_ng_per_ml)) for lm in LANDMARKS],
        "plot_query": urlencode(form),
    }
    return render(request, "dosing/pk.html", context)


@router.get("/pk/plot.svg")
def pk_plot(
    actor: PageActor,
    c: AppContainer,
    model: Text20 = "",
    weight_kg: Text20 = "",
    mg_per_kg: Text20 = "",
    minutes: Text20 = "",
    age_years: Text20 = "",
) -> Response:
    """The explorer's figure: typical curve, population band, landmarks (illustrative)."""
    with c.uow(readonly=True) as uow:
        clinic_model = dosing_tools.check_clinician(uow, c.clock, actor)
    form = _explorer_form(clinic_model, model, weight_kg, mg_per_kg, minutes, age_years)
    run, bands = explore(*_explorer_args(form))
    assert run.result is not None
    image = render_concentration_plot(
        curves=(run.result,),
        population=bands,
        title=f"{run.model.title}: {run.dose_mg:.1f} mg over {float(form['minutes']):g} min",
    )
    return Response(image, media_type="image/svg+xml", headers=SVG_HEADERS)


@router.get("/admin/drug-library", response_class=HTMLResponse)
def drug_library(request: Request, actor: PageActor, c: AppContainer) -> Response:
    return _render_library(request, actor, c)


@router.post("/admin/drug-library", response_class=HTMLResponse, dependencies=[Csrf])
def set_limit(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    protocol_id: Annotated[str, Form(max_length=40)] = "",
    quantity: Annotated[str, Form(max_length=40)] = "",
    level: Annotated[str, Form(max_length=10)] = "",
    value: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    form = {
        "protocol_id": protocol_id,
        "quantity": quantity,
        "level": level,
        "value": value,
        "reason": reason,
    }
    try:
        number = _required("value", value)
        with c.uow() as uow:
            stored = dosing_library.set_limit(
                uow,
                c.clock,
                actor,
                protocol_id=protocol_id,
                quantity=quantity,
                level=level,
                value=number,
                reason=reason,
            )
    except InvalidInput as error:
        return _render_library(request, actor, c, form=form, error=FieldError.of(error), status=422)
    flash(
        request,
        f"{stored.protocol_id}: {stored.quantity.value} {stored.level.value} limit set to "
        f"{stored.value:g} {stored.unit}.",
    )
    return RedirectResponse("/admin/drug-library", status_code=303)


@router.post("/admin/drug-library/model", response_class=HTMLResponse, dependencies=[Csrf])
def set_model(
    request: Request,
    actor: PageActor,
    c: AppContainer,
    model: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        with c.uow() as uow:
            chosen = dosing_library.set_pk_model(uow, c.clock, actor, model)
    except InvalidInput as error:
        return _render_library(request, actor, c, model_error=FieldError.of(error), status=422)
    flash(request, f"Concentration plots now use the {MODELS[chosen].title} model.")
    return RedirectResponse("/admin/drug-library", status_code=303)


# --- helpers -----------------------------------------------------------------------------------


def _render_library(
    request: Request,
    actor: Actor,
    c: AppContainer,
    *,
    form: dict[str, str] | None = None,
    error: FieldError | None = None,
    model_error: FieldError | None = None,
    status: int = 200,
) -> Response:
    with c.uow(readonly=True) as uow:
        view = dosing_library.library_view(uow, c.clock, actor)
    return render(
        request,
        "dosing/drug_library.html",
        {
            "view": view,
            "quantities": list(Quantity),
            "bounds": dosing_library.CLINIC_VALUE_BOUNDS,
            "models": MODELS,
            "form": form or {},
            "error": error,
            "model_error": model_error,
        },
        status=status,
    )


def _explorer_form(
    clinic_model: str, model: str, weight_kg: str, mg_per_kg: str, minutes: str, age_years: str
) -> dict[str, str]:
    given = {
        "weight_kg": weight_kg,
        "mg_per_kg": mg_per_kg,
        "minutes": minutes,
        "age_years": age_years,
    }
    form = {"model": model.strip() or clinic_model}
    for name, text in given.items():
        form[name] = text.strip() or EXPLORER_DEFAULTS[name]
    return form


def _explorer_args(form: dict[str, str]) -> tuple[str, float, float, float, float | None]:
    return (
        form["model"],
        _required("weight_kg", form["weight_kg"]),
        _required("mg_per_kg", form["mg_per_kg"]),
        _required("minutes", form["minutes"]),
        _float("age_years", form["age_years"]),
    )


def _required(field: str, text: str) -> float:
    value = _float(field, text)
    if value is None:
        raise InvalidInput.for_field(field, text, "a number")
    return value


def _float(field: str, text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput.for_field(field, text, "a number") from None
