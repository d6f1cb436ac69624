"""Small helpers every FHIR mapper uses: ids, references, times, quantities, validation.

Mappers build plain JSON-shaped dicts; :func:`validated` turns one into its ``fhir.resources``
R4B model, which checks required elements, types, choice types and formats. A mapper that
produced an invalid resource therefore fails loudly at export, never downstream.

Resource ids are stable and derived from internal ids (``pat-12``, ``vital-340``), so exporting
twice gives the same ids and references across NDJSON files line up. Ids carry no MRN, name or
date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any, cast

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from ketaclinic.adapters.fhir.codes import STAFF_SYSTEM, UCUM

Json = dict[str, Any]
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9\-.]")


def fhir_id(*parts: object) -> str:
    """A FHIR id (``[A-Za-z0-9-.]{1,64}``) from parts joined by ``-``; other characters become
    ``-`` and an over-long id is shortened with a digest so it stays unique."""
    text = _ID_UNSAFE.sub("-", "-".join(str(p) for p in parts))
    if len(text) <= 64:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[:47]}-{digest}"


def ref(resource_type: str, resource_id: str, display: str | None = None) -> Json:
    body: Json = {"reference": f"{resource_type}/{resource_id}"}
    if display:
        body["display"] = display
    return body


def staff_ref(username: str | None) -> Json | None:
    """A logical reference to a staff member (username only; staff are not exported)."""
    if not username:
        return None
    return {"identifier": {"system": STAFF_SYSTEM, "value": username}, "display": username}


def instant(value: dt.datetime) -> str:
    """FHIR instant/dateTime in UTC. Naive values are refused: every stored time is UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime reached the FHIR mapper")
    return value.astimezone(dt.UTC).isoformat()


def quantity(value: float, unit: str, *, digits: int | None = None) -> Json:
    shown = round(value, digits) if digits is not None else value
    return {"value": shown, "unit": unit, "system": UCUM, "code": unit}


def prune(body: Json) -> Json:
    """Drop keys whose value is None or empty: FHIR forbids empty elements."""
    return {k: v for k, v in body.items() if v is not None and v not in ([], {}, "")}


def validated(body: Json) -> Resource:
    """The ``fhir.resources`` R4B model of ``body`` (pydantic validation error if invalid)."""
    model = get_fhir_model_class(body["resourceType"])
    return cast(Resource, model.model_validate(body))
