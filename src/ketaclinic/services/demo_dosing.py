"""Dose orders in the demo clinic (DESIGN.md §4.5): synthetic, the same every time.

* Every infusion of the demo (today's at the chair and the past ones) has a verified order:
  0.5 mg/kg over 40 min in a 100 mL bag on actual body weight, prepared and signed by the
  site's prescriber half an hour before check-in (``services/demo_chair.py`` orders them with
  :func:`order` and links the sessions whose dose is verified, as the chair's dose check does).
* DEMO-0003 (site MIA): 0.6 mg/kg over 40 min, above the 0.5 mg/kg soft limit: signed by
  ``prescriber.mia`` with an override reason and confirmed by ``nurse.mia`` as second person.

Orders are computed as the service computes them (on each patient's latest weight, against the
clinic's drug library) and stored without committing or auditing each step: the demo loader
commits the whole clinic at once.
"""

from __future__ import annotations

import datetime as dt
import random

from ketaclinic.domain.dosing import BagPreparation
from ketaclinic.domain.drug_library import LimitLevel
from ketaclinic.domain.errors import NotFound
from ketaclinic.domain.people import Patient, StaffUser
from ketaclinic.services.dosing_calc import DoseRequest, build_order, compute
from ketaclinic.services.dosing_library import clinic_library
from ketaclinic.services.dosing_ports import ConfirmationMethod, DoseOrder, OverrideRequest
from ketaclinic.services.ports import Clock, UnitOfWork

STANDARD = DoseRequest(mg_per_kg=0.5, duration_min=40.0, preparation=BagPreparation(100.0))
OVERRIDE_REASON = "Partial response after two infusions at 0.5 mg/kg; planned step to 0.6 mg/kg"


def load(uow: UnitOfWork, clock: Clock, rng: random.Random) -> None:
    """Add the demo's dose orders (``rng`` is unused: the orders are fixed)."""
    del rng
    prescriber = _user(uow, "prescriber.mia")
    nurse = _user(uow, "nurse.mia")
    at = clock.now() - dt.timedelta(minutes=50)
    stepped = DoseRequest(0.6, 40.0, BagPreparation(100.0), override_reason=OVERRIDE_REASON)
    patient = uow.patients.by_mrn("DEMO-0003")
    if patient is None:
        raise NotFound("demo patient DEMO-0003 not found")
    order = order_for(uow, patient, stepped, prescriber, at)
    confirmed = uow.dosing.record_override_confirmation(
        order.id, nurse.id, at + dt.timedelta(minutes=3), ConfirmationMethod.PASSWORD
    )
    assert confirmed  # the order was just stored with an override awaiting confirmation


def order_for(
    uow: UnitOfWork, patient: Patient, request: DoseRequest, prescriber: StaffUser, at: dt.datetime
) -> DoseOrder:
    """Store the order ``prescriber`` prepares and signs for ``request`` at ``at``, computed on
    the patient's latest weight against the clinic's library (a soft limit passed with the
    request's reason; it awaits a second person's confirmation)."""
    computation = compute(uow, patient, request, clinic_library(uow))
    override = None
    if computation.evaluation.level is LimitLevel.SOFT:
        override = OverrideRequest(request.override_reason, prescriber.id, at)
    return uow.dosing.add_order(
        build_order(
            patient,
            computation,
            request,
            prepared_by=prescriber.id,
            at=at,
            signed=True,
            override=override,
        )
    )


def _user(uow: UnitOfWork, username: str) -> StaffUser:
    user = uow.users.by_username(username)
    if user is None:
        raise NotFound(f"demo user {username} not found")
    return user
