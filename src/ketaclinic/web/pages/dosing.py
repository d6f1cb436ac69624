"""Dose pages for a patient: the dose form with its live result, the order page with the limit
evaluation, signature and second-person override, and the order's predicted concentration plot.

The live result is an htmx GET of ``/patients/{id}/dose/preview`` with the form's values (the
page computes it once on load, so it works without scripts). Confirming an override on a shared
tablet: the signed-in user must be allowed to see the order, and the second person proves who
they are with their own username and password (throttled like sign-in; failures count towards
their account's lockout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketaclinic.adapters.plots.concentration import render_concentration_plot
from ketaclinic.domain.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    OverrideRequired,
    PermissionDenied,
)
from ketaclinic.domain.people import Role
from ketaclinic.pk.landmarks import END_OF_INFUSION_NG_PER_ML, END_OF_INFUSION_PROVENANCE, LANDMARKS
from ketaclinic.pk.models import MODELS
from ketaclinic.pk.simulate import DISCLAIMER
from ketaclinic.services import dosing, dosing_tools
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import authenticate, principal_of
from ketaclinic.services.dosing_calc import (
    DEFAULT_BAG_ML,
    DEFAULT_DURATION_MIN,
    DEFAULT_MG_PER_KG,
    DoseRequest,
    FieldError,
    preparation_from,
)
from ketaclinic.services.dosing_ports import ConfirmationMethod, DoseOrder, OrderStatus
from ketaclinic.services.ports import UnitOfWork
from ketaclinic.web.deps import AppContainer, Csrf, IdPath, PageActor, client_address
from ketaclinic.web.pages import dosing_tools as tools_pages
from ketaclinic.web.templating import flash, render
from ketaclinic.web.throttle import TooManyRequests, login_throttle

router = APIRouter()
router.include_router(tools_pages.router)

FIELDS = (
    "basis",
    "mg_per_kg",
    "minutes",
    "preparation",
    "bag_ml",
    "concentration_mg_per_ml",
    "diluent_ml",
    "stock_mg_per_ml",
    "protocol",
    "pump_resolution_ml_per_h",
    "confirm_weight",
    "override_reason",
    "note",
)
# The form fields that decide the dose and so its plot (not the reason, the note or the weight
# confirmation).
PLOT_FIELDS = FIELDS[:10]
FIELD_MAX = 2000  # longer than any field may be; the services name the real limits
PREPARATIONS = (
    ("bag", "Bag of known final volume"),
    ("stock", "Fixed concentration"),
    ("dilution", "Drawn from a vial into a diluent bag"),
)
SVG = "image/svg+xml"
# An SVG served on its own is a document: allow its own internal styles, nothing else.
SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}


async def dose_fields(request: Request) -> dict[str, str]:
    """The dose form's fields from the query (preview) or the posted form, as text."""
    source: Mapping[str, Any]
    source = await request.form() if request.method == "POST" else request.query_params
    fields: dict[str, str] = {}
    for name in FIELDS:
        value = source.get(name)
        if isinstance(value, str):
            fields[name] = value[:FIELD_MAX]
    return fields


DoseFields = Annotated[dict[str, str], Depends(dose_fields)]


@router.get("/patients/{patient_id}/dose", response_class=HTMLResponse)
def dose_page(request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer) -> Response:
    return _render_dose_page(request, patient_id, actor, c, {})


@router.get("/patients/{patient_id}/dose/preview", response_class=HTMLResponse)
def dose_preview(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer, form: DoseFields
) -> Response:
    """The live result: numbers, limits and weight findings for the form's current values."""
    values = _with_defaults(form, DEFAULT_MG_PER_KG, "")
    with c.uow(readonly=True) as uow:
        preview = _preview(uow, c, actor, patient_id, values)
    return render(request, "dosing/_result.html", _result_context(preview, values, patient_id))


@router.get("/patients/{patient_id}/dose/plot.svg")
def dose_plot(patient_id: IdPath, actor: PageActor, c: AppContainer, form: DoseFields) -> Response:
    """The predicted plasma concentration of the dose form's values before anything is ordered:
    the typical curve, the population 5–95 % band and the landmark ranges (illustrative; never
    drives dosing). Bad input or a dose at a hard limit is a 422 naming the field."""
    values = _with_defaults(form, DEFAULT_MG_PER_KG, "")
    with c.uow(readonly=True) as uow:
        prediction = dosing_tools.preview_curve(uow, c.clock, actor, patient_id, _request(values))
    image = render_concentration_plot(
        curves=(prediction.result,),
        population=prediction.bands,
        title=f"Predicted plasma concentration of this dose ({prediction.model.title})",
    )
    return Response(image, media_type=SVG, headers=SVG_HEADERS)


@router.post("/patients/{patient_id}/dose", response_class=HTMLResponse, dependencies=[Csrf])
def order_dose(
    request: Request, patient_id: IdPath, actor: PageActor, c: AppContainer, form: DoseFields
) -> Response:
    try:
        dose_request = _request(form)
        with c.uow() as uow:
            order = dosing.order_dose(uow, c.clock, actor, patient_id, dose_request)
    except (InvalidInput, OverrideRequired) as error:
        return _render_dose_page(request, patient_id, actor, c, form, FieldError.of(error), 422)
    if order.status is OrderStatus.VERIFIED:
        flash(request, f"Dose order {order.id} signed and verified.")
    else:
        flash(request, f"Dose order {order.id} stored: {order.status.label.lower()}.")
    return RedirectResponse(f"/patients/{patient_id}/dose-orders/{order.id}", status_code=303)


@router.get("/patients/{patient_id}/dose-orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request,
    patient_id: IdPath,
    order_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    model: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return _render_order(request, patient_id, order_id, actor, c, model=model)


@router.post(
    "/patients/{patient_id}/dose-orders/{order_id}/sign",
    response_class=HTMLResponse,
    dependencies=[Csrf],
)
def sign_order(
    request: Request,
    patient_id: IdPath,
    order_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    override_reason: Annotated[str, Form(max_length=FIELD_MAX)] = "",
) -> Response:
    _order_of_patient(c, actor, patient_id, order_id, dosing.SIGN_ROLES)
    try:
        with c.uow() as uow:
            order = dosing.sign_order(uow, c.clock, actor, order_id, override_reason)
    except (InvalidInput, OverrideRequired, Conflict) as error:
        return _render_order(
            request, patient_id, order_id, actor, c, sign_error=FieldError.of(error), status=422
        )
    flash(request, f"Dose order {order.id} signed: {order.status.label.lower()}.")
    return RedirectResponse(f"/patients/{patient_id}/dose-orders/{order.id}", status_code=303)


@router.post(
    "/patients/{patient_id}/dose-orders/{order_id}/override-confirmation",
    response_class=HTMLResponse,
    dependencies=[Csrf],
)
def confirm_override(
    request: Request,
    patient_id: IdPath,
    order_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    """The second person confirms with their own username and password."""
    _order_of_patient(c, actor, patient_id, order_id)
    client = client_address(request)
    try:
        login_throttle.check(client)
        with c.uow() as uow:
            user = authenticate(
                uow, c.clock, c.passwords, c.login_policy, username, password, client
            )
        second = Actor(principal_of(user), client)
        with c.uow() as uow:
            order = dosing.confirm_override(
                uow, c.clock, second, order_id, via=ConfirmationMethod.PASSWORD
            )
    except (NotAuthenticated, TooManyRequests, PermissionDenied, Conflict) as error:
        status = {NotAuthenticated: 401, TooManyRequests: 429, PermissionDenied: 403}.get(
            type(error), 409
        )
        return _render_order(
            request,
            patient_id,
            order_id,
            actor,
            c,
            confirm_error=FieldError(
                "username" if not isinstance(error, Conflict) else None, error.message, error.code
            ),
            username=username,
            status=status,
        )
    flash(request, f"Override of dose order {order.id} confirmed by {user.username}.")
    return RedirectResponse(f"/patients/{patient_id}/dose-orders/{order.id}", status_code=303)


@router.get("/patients/{patient_id}/dose-orders/{order_id}/plot.svg")
def order_plot(
    patient_id: IdPath,
    order_id: IdPath,
    actor: PageActor,
    c: AppContainer,
    model: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The order's predicted plasma concentration with the population 5–95 % band and the
    landmark ranges (illustrative; never drives dosing)."""
    _order_of_patient(c, actor, patient_id, order_id)
    with c.uow(readonly=True) as uow:
        curve = dosing_tools.order_curve(uow, c.clock, actor, order_id, model or None)
    prediction = curve.prediction
    image = render_concentration_plot(
        curves=(prediction.result,),
        population=prediction.bands,
        title=f"Predicted plasma concentration, dose order {order_id}",
    )
    return Response(image, media_type=SVG, headers=SVG_HEADERS)


# --- helpers -----------------------------------------------------------------------------------


def _render_dose_page(
    request: Request,
    patient_id: int,
    actor: Actor,
    c: AppContainer,
    form: dict[str, str],
    error: FieldError | None = None,
    status: int = 200,
) -> Response:
    with c.uow(readonly=True) as uow:
        page = dosing.dose_page(uow, c.clock, actor, patient_id)
        values = _with_defaults(form, page.default_mg_per_kg, page.default_protocol)
        preview = _preview(uow, c, actor, patient_id, values)
        names = dosing.staff_names(uow, page.orders)
    context: dict[str, Any] = {
        "page": page,
        "patient": page.patient,
        "form": values,
        "error": error,
        "preparations": PREPARATIONS,
        "names": names,
        "prescriber": actor.principal is not None and actor.principal.role is Role.PRESCRIBER,
        "may_order": actor.principal is not None and actor.principal.role in dosing.ORDER_ROLES,
    }
    context.update(_result_context(preview, values, patient_id))
    return render(request, "dosing/dose.html", context, status=status)


def _render_order(
    request: Request,
    patient_id: int,
    order_id: int,
    actor: Actor,
    c: AppContainer,
    *,
    model: str = "",
    sign_error: FieldError | None = None,
    confirm_error: FieldError | None = None,
    username: str = "",
    status: int = 200,
) -> Response:
    order = _order_of_patient(c, actor, patient_id, order_id)
    with c.uow(readonly=True) as uow:
        chosen = model if model in MODELS else dosing_tools.check_clinician(uow, c.clock, actor)
        names = dosing.staff_names(uow, [order])
        patient = uow.patients.get(order.patient_id)
    principal = actor.principal
    role = principal.role if principal is not None else None
    # The model's validity warnings for this patient, shown under the plot the image draws.
    age = patient.age_on(order.prepared_at.date()) if patient is not None else None
    warnings = MODELS[chosen].parameters(order.actual_weight_kg, age).warnings
    return render(
        request,
        "dosing/order.html",
        {
            "model_warnings": warnings,
            "order": order,
            "patient": patient,
            "names": names,
            "model": chosen,
            "models": MODELS,
            "may_sign": role is Role.PRESCRIBER,
            "sign_error": sign_error,
            "confirm_error": confirm_error,
            "username": username[:64],
            "disclaimer": DISCLAIMER,
            "landmarks": LANDMARKS,
            "end_of_infusion": (END_OF_INFUSION_NG_PER_ML, END_OF_INFUSION_PROVENANCE),
        },
        status=status,
    )


def _order_of_patient(
    c: AppContainer,
    actor: Actor,
    patient_id: int,
    order_id: int,
    roles: frozenset[Role] = dosing.VIEW_ROLES,
) -> DoseOrder:
    """The order as the signed-in user may see it (audited), and only under its own patient."""
    with c.uow(readonly=True) as uow:
        order = dosing.get_order(uow, c.clock, actor, order_id, roles)
    if order.patient_id != patient_id:
        raise NotFound(f"dose order {order_id} not found for patient {patient_id}")
    return order


def _with_defaults(form: dict[str, str], mg_per_kg: float, protocol: str) -> dict[str, str]:
    """The form's values, with the plan's (or the trials') defaults where a field is empty; an
    empty protocol lets the service choose the plan's."""
    values = {
        "basis": "actual",
        "mg_per_kg": f"{mg_per_kg:g}",
        "minutes": f"{DEFAULT_DURATION_MIN:g}",
        "preparation": "bag",
        "bag_ml": f"{DEFAULT_BAG_ML:g}",
        "concentration_mg_per_ml": "",
        "diluent_ml": "",
        "stock_mg_per_ml": "",
        "protocol": protocol,
        "pump_resolution_ml_per_h": "0.1",
        "confirm_weight": "",
        "override_reason": "",
        "note": "",
    }
    values.update({k: v for k, v in form.items() if v.strip() or k in _OPTIONAL})
    return values


_OPTIONAL = frozenset(
    {
        "concentration_mg_per_ml",
        "diluent_ml",
        "stock_mg_per_ml",
        "confirm_weight",
        "override_reason",
        "note",
    }
)


def _request(form: dict[str, str]) -> DoseRequest:
    """Parse the dose form into a request; :class:`InvalidInput` names the field."""
    kind = form.get("preparation", "bag")
    if kind not in {"bag", "stock", "dilution"}:
        raise InvalidInput.for_field("preparation", kind, "bag, stock or dilution")
    preparation = preparation_from(
        bag_ml=_number(form, "bag_ml") if kind == "bag" else None,
        concentration_mg_per_ml=_number(form, "concentration_mg_per_ml")
        if kind == "stock"
        else None,
        diluent_ml=_number(form, "diluent_ml") if kind == "dilution" else None,
        stock_mg_per_ml=_number(form, "stock_mg_per_ml") if kind == "dilution" else None,
    )
    return DoseRequest(
        mg_per_kg=_required(form, "mg_per_kg"),
        duration_min=_required(form, "minutes"),
        preparation=preparation,
        basis=form.get("basis", "actual"),
        protocol_id=form.get("protocol", "").strip(),
        pump_resolution_ml_per_h=_number(form, "pump_resolution_ml_per_h") or 0.1,
        confirm_weight=form.get("confirm_weight", "") in {"on", "true", "1", "yes"},
        override_reason=form.get("override_reason", ""),
        note=form.get("note", ""),
    )


def _preview(
    uow: UnitOfWork, c: AppContainer, actor: Actor, patient_id: int, values: dict[str, str]
) -> dosing.DosePreview:
    try:
        request = _request(values)
    except InvalidInput as error:
        return dosing.DosePreview(None, FieldError.of(error))
    return dosing.preview_dose(uow, c.clock, actor, patient_id, request)


def _result_context(
    preview: dosing.DosePreview, values: dict[str, str], patient_id: int
) -> dict[str, Any]:
    """The live result's context, with the address of its plot: the same form values."""
    query = urlencode({k: values[k] for k in PLOT_FIELDS if values.get(k, "").strip()})
    return {
        "preview": preview,
        "result_error": preview.error,
        "form": values,
        "plot_src": f"/patients/{patient_id}/dose/plot.svg?{query}",
        "disclaimer": DISCLAIMER,
    }


def _number(form: dict[str, str], field: str) -> float | None:
    text = form.get(field, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput.for_field(field, text, "a number") from None


def _required(form: dict[str, str], field: str) -> float:
    value = _number(form, field)
    if value is None:
        raise InvalidInput.for_field(field, "", "a number")
    return value
