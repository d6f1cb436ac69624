"""Every route × every role × own site / other site / anonymous (web/policy.py).

For each route the expected answer follows from its declared policy: anonymous callers are
sent to sign in (pages) or get 401 (API); a role outside the policy gets 403; a patient of
another site is 404; everyone else succeeds. Refusals change nothing and are audited. A route
the app serves without a declared policy fails ``test_every_route_declares_a_policy``.
"""

from __future__ import annotations

import base64
import itertools
import re

import pytest
import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.domain.people import Role
from ketaclinic.web.app import create_app
from ketaclinic.web.policy import POLICIES, route_keys

PASSWORD = "demo-clinic-2026"
PREFIX = {
    Role.FRONT_DESK: "frontdesk",
    Role.NURSE: "nurse",
    Role.PRESCRIBER: "prescriber",
    Role.DIRECTOR: "director",
}
counter = itertools.count(1)


def test_every_route_declares_a_policy(demo) -> None:
    served = set(route_keys(create_app(demo)))
    assert served - set(POLICIES) == set(), "routes without a declared policy"
    assert set(POLICIES) - served == set(), "policies for routes that no longer exist"


def sample(key: str, csrf: str, site: str) -> dict[str, object]:
    """A valid request for each route at the caller's own site (a fresh MRN each time so
    creations never clash)."""
    n = next(counter)
    payloads: dict[str, dict[str, object]] = {
        "POST /api/v1/auth/token": {"data": {"username": "nurse.mia", "password": PASSWORD}},
        "POST /api/v1/patients": {
            "json": {
                "site": site,
                "mrn": f"MX-{n}",
                "given_name": "Mat",
                "family_name": "Rix",
                "birth_date": "1980-01-01",
                "sex": "male",
            }
        },
        "POST /login": {
            "data": {"username": "nurse.mia", "password": PASSWORD, "csrf_token": csrf}
        },
        "POST /patients/new": {
            "data": {
                "csrf_token": csrf,
                "mrn": f"MP-{n}",
                "given_name": "Mat",
                "family_name": "Rix",
                "birth_date": "1980-01-01",
                "sex": "male",
            }
        },
        "POST /patients/{patient_id}/measurements": {
            "data": {"csrf_token": csrf, "weight_kg": "80"}
        },
        "POST /site": {"data": {"csrf_token": csrf, "site_id": "1"}},
        "POST /logout": {"data": {"csrf_token": csrf}},
        "GET /admin/data/fhir": {"params": {"mrn": "DEMO-0001" if site == "MIA" else "DEMO-0002"}},
        "POST /admin/data/research": {
            "data": {"csrf_token": csrf, "format": "csv"},
            "files": {"key_file": ("research.key", "ab" * 32)},
        },
        "POST /admin/data/import": {
            "data": {"csrf_token": csrf},
            "files": {"file": ("patients.csv", import_csv(f"MI-{n}"))},
        },
        "POST /admin/data/import/confirm": {
            "data": {
                "csrf_token": csrf,
                "content": base64.b64encode(import_csv(f"MC-{n}").encode()).decode(),
            }
        },
    }
    payloads.update(mbc_samples(csrf))
    payloads.update(chair_samples(csrf, site))
    payloads.update(dosing_samples(csrf))
    payloads.update(intake_samples(csrf, site, n))
    return payloads.get(key, {})


def dosing_samples(csrf: str) -> dict[str, dict[str, object]]:
    """Dosing: an ordinary dose (0.5 mg/kg over 40 min, 100 mL bag) reaches no limit."""
    dose = {"mg_per_kg": 0.5, "minutes": 40, "bag_ml": 100}
    form = {"csrf_token": csrf, "preparation": "bag", **{k: str(v) for k, v in dose.items()}}
    return {
        "POST /api/v1/dose": {"json": {"weight_kg": 70, **dose}},
        "POST /api/v1/simulate": {
            "json": {"model": "kamp", "weight_kg": 70, "mg_per_kg": 0.5, "minutes": 40}
        },
        "POST /api/v1/patients/{patient_id}/dose-orders": {"json": dose},
        "POST /patients/{patient_id}/dose": {"data": form},
        "POST /patients/{patient_id}/dose-orders/{order_id}/sign": {"data": {"csrf_token": csrf}},
        "POST /patients/{patient_id}/dose-orders/{order_id}/override-confirmation": {
            "data": {"csrf_token": csrf, "username": "nurse.mia", "password": PASSWORD}
        },
        "POST /admin/drug-library": {
            "data": {
                "csrf_token": csrf,
                "protocol_id": "default",
                "quantity": "dose_mg",
                "level": "soft",
                "value": "80",
                "reason": "Matrix check",
            }
        },
        "POST /admin/drug-library/model": {"data": {"csrf_token": csrf, "model": "kamp"}},
        "POST /admin/alert-rules": {
            "data": {"csrf_token": csrf, "key": "spo2_min", "value": "92", "reason": "Matrix"}
        },
        "POST /admin/outcome-definitions": {
            "data": {
                "csrf_token": csrf,
                "key": "pcl5.remission_below",
                "reset": "1",
                "reason": "Matrix",
            }
        },
        "PUT /api/v1/settings/alert-rules": {
            "json": {"key": "hr_max", "value": 110, "reason": "Matrix check"}
        },
        "PUT /api/v1/settings/outcome-definitions": {
            "json": {"key": "pcl5.reliable_change_min", "value": None, "reason": "Matrix check"}
        },
    }


def dose_order(demo, patient_id: int, *, override: bool) -> int:
    """A fresh dose order: an override requested by director.mia awaiting a second person (any
    nurse or prescriber may confirm it), or else a nurse's order awaiting signature."""
    import datetime as dt

    from ketaclinic.domain.dosing import BagPreparation
    from ketaclinic.services.dosing_calc import DoseRequest, build_order, compute
    from ketaclinic.services.dosing_library import clinic_library
    from ketaclinic.services.dosing_ports import OverrideRequest

    now = dt.datetime.now(dt.UTC)
    with demo.uow() as uow:
        patient = uow.patients.get(patient_id)
        by = uow.users.by_username("director.mia" if override else "nurse.mia")
        request = DoseRequest(0.6 if override else 0.5, 40.0, BagPreparation(100.0))
        computation = compute(uow, patient, request, clinic_library(uow))
        order = uow.dosing.add_order(
            build_order(
                patient,
                computation,
                request,
                prepared_by=by.id,
                at=now,
                signed=override,
                override=OverrideRequest("Matrix check", by.id, now) if override else None,
            )
        )
        uow.commit()
    return order.id


def mbc_samples(csrf: str) -> dict[str, dict[str, object]]:
    """Measurement-based care: valid bodies (answers that raise no safety task)."""
    phq9 = {f"phq9_{n:02d}": "0" for n in range(1, 10)}
    return {
        "POST /api/v1/patients/{patient_id}/questionnaire-responses": {
            "json": {
                "questionnaire": "phq9",
                "item": [{"linkId": k, "answer": 0} for k in phq9],
            }
        },
        "POST /api/v1/patients/{patient_id}/cssrs-results": {
            "json": {"form": "since_last_contact", "risk_level": "low", "positive_questions": []}
        },
        "POST /api/v1/patients/{patient_id}/self-report-links": {
            "json": {"instruments": ["pcl5"], "send_email": False}
        },
        "POST /patients/{patient_id}/scores/new": {
            "data": {"csrf_token": csrf, "instrument": "phq9", "source": "staff_entry", **phq9}
        },
        "POST /patients/{patient_id}/cssrs/new": {
            "data": {"csrf_token": csrf, "form": "since_last_contact", "risk_level": "low"}
        },
        "POST /patients/{patient_id}/self-report": {
            "data": {"csrf_token": csrf, "instruments": "pcl5", "expires_in_days": "7"}
        },
        "POST /safety-tasks/{task_id}/close": {"data": {"csrf_token": csrf, "action": "Called"}},
        "POST /api/v1/safety-tasks/{task_id}/close": {"json": {"action": "Called"}},
        "POST /self-report/schedules": {
            "data": {
                "csrf_token": csrf,
                "protocol_id": "feder-2021",
                "before_infusion": ["pcl5", "phq9"],
                "before_hours": "48",
                "after_series": "pcl5",
                "after_weeks": "4",
            }
        },
        "POST /self-report/notices/{notice_id}/done": {"data": {"csrf_token": csrf}},
        "POST /r/{token}": {"data": {"csrf_token": csrf, "language": "en", **phq9}},
    }


def chair_samples(csrf: str, site: str) -> dict[str, dict[str, object]]:
    """The infusion chair: valid bodies for sessions in the state chair_fill puts them in."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC).isoformat()
    form = {"csrf_token": csrf}
    own = {"chair": f"{site}-4", "mrn": "DEMO-0009" if site == "MIA" else "DEMO-0010"}
    aldrete = {"activity": 2, "respiration": 2, "circulation": 2, "consciousness": 2, "spo2": 2}
    api = "/api/v1/sessions/{session_id}"
    page = "/sessions/{session_id}"
    return {
        "POST /api/v1/sessions": {"json": own},
        f"POST {api}/transitions": {"json": {"transition": "pause"}},
        f"POST {api}/checks": {
            "json": {
                "item": "escort_confirmed",
                "escort_name": "Sam Doe",
                "escort_phone": "555 0101",
            }
        },
        f"POST {api}/start": {"json": {"lot_number": "L-1", "pump_id": "P-1"}},
        f"POST {api}/administration": {"json": {"kind": "rate_change", "rate_ml_per_h": 140}},
        f"POST {api}/vitals": {
            "json": {
                "readings": [{"code": "8867-4", "value": 80, "unit": "/min", "observed_at": now}]
            }
        },
        f"POST {api}/side-effects": {
            "json": {
                "kind": "headache",
                "severity": "mild",
                "onset_at": now,
                "interventions": ["none"],
            }
        },
        f"POST {api}/dissociation": {"json": {"timepoint": "pre_dose", "items": [0] * 6}},
        f"POST {api}/discharge-assessment": {
            "json": {
                "aldrete": aldrete,
                "escort_confirmed": True,
                "mental_status_attested": True,
                "dissociation_attested": True,
            }
        },
        f"POST {api}/discharge": {"json": {}},
        "POST /api/v1/alerts/{alert_id}/acknowledge": {"json": {"action_taken": "re-measured"}},
        "POST /api/v1/alerts/{alert_id}/resolve": {"json": {"note": "settled"}},
        "GET /board/stream": {"params": {"once": "1"}},
        "POST /chairs/{chair_code}/check-in": {"data": {**form, "mrn": own["mrn"]}},
        f"POST {page}/transition": {"data": {**form, "transition": "begin_checks"}},
        f"POST {page}/weight": {"data": {**form, "weight_kg": "80", "confirmed": "1"}},
        f"POST {page}/baseline": {
            "data": {**form, "systolic": "120", "diastolic": "80", "heart_rate": "70", "spo2": "98"}
        },
        f"POST {page}/escort": {
            "data": {**form, "escort_name": "Pat Doe", "escort_phone": "+1 555 0101"}
        },
        f"POST {page}/override": {
            "data": {**form, "item": "baseline_vitals_within_limits", "reason": "settled at rest"}
        },
        f"POST {page}/dose": {
            "data": {
                **form,
                "dose_mg": "20",
                "concentration_mg_per_ml": "0.2",
                "volume_ml": "100",
                "rate_ml_per_h": "150",
            }
        },
        f"POST {page}/start": {"data": {**form, "lot_number": "L-1", "pump_id": "P-1"}},
        f"POST {page}/pump": {"data": {**form, "step": "pause"}},
        f"POST {page}/rate": {"data": {**form, "rate_ml_per_h": "140"}},
        f"POST {page}/bolus": {"data": {**form, "dose_mg": "2"}},
        f"POST {page}/correction": {
            "data": {**form, "entry": "1", "lot_number": "L-2", "reason": "lot misread"}
        },
        f"POST {page}/vitals": {"data": {**form, "heart_rate": "80"}},
        f"POST {page}/alerts/{{alert_id}}": {
            "data": {**form, "action": "acknowledge", "action_taken": "re-measured"}
        },
        f"POST {page}/side-effects": {"data": {**form, "kind": "headache", "severity": "mild"}},
        f"POST {page}/side-effects/{{effect_id}}/review": {"data": form},
        f"POST {page}/dissociation": {
            "data": {**form, "timepoint": "pre_dose"}
            | {f"item_{n}": "0" for n in (1, 2, 6, 7, 15, 22)}
        },
        f"POST {page}/assessment": {
            "data": {**form, "escort_confirmed": "1", "mental_status_attested": "1"}
            | {f"aldrete_{k}": "2" for k in aldrete}
        },
        f"POST {page}/discharge": {"data": form},
    }


def chair_fill(demo, path: str) -> str:
    """A fresh infusion session per call, at MIA on a new chair, in the state the route needs
    (a step used up by one caller must be there for the next). Check-ins get chair 4 freed."""
    import datetime as dt
    import random
    from dataclasses import replace

    from ketaclinic.domain.alerts import acknowledge
    from ketaclinic.domain.session_lifecycle import (
        Actor,
        CheckItem,
        CheckOutcome,
        CheckResult,
        SessionState,
    )
    from ketaclinic.domain.side_effects import Intervention, Severity, SideEffectEntry
    from ketaclinic.domain.side_effects import SideEffectKind as Kind
    from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource
    from ketaclinic.services import demo_intake
    from ketaclinic.services.chair_vitals import SessionFeed
    from ketaclinic.services.demo_chair import Target, build_session

    now = dt.datetime.now(dt.UTC)
    n = next(counter)
    with demo.uow() as uow:
        if path == "/api/v1/sessions" or "{chair_code}" in path:
            for code in ("MIA-4", "FLL-4"):
                site = uow.sites.by_code(code.split("-")[0])
                chair = next(c for c in uow.sites.chairs(site.id) if c.code == code)
                row = uow.chair.open_session_for_chair(chair.id)
                if row is not None:
                    uow.chair.save_session(replace(row, state=SessionState.CANCELLED))
            uow.commit()
            return path.replace("{chair_code}", "MIA-4")
        if not {"{session_id}", "{alert_id}"} & set(re.findall(r"{\w+}", path)):
            return path
        mia = uow.sites.by_code("MIA")
        chair = uow.sites.add_chair(mia.id, f"MTX-{n}", f"Matrix {n}")
        busy = uow.chair.open_sessions_for_patients([p.id for p in uow.patients.search({mia.id})])
        patient = next(
            p
            for p in uow.patients.search({mia.id}, limit=500)
            if p.id not in busy
            and not (
                path.endswith("/start")
                and any(t.is_open for t in uow.safety_tasks.for_patient(p.id))
            )
        )
        nurse = uow.users.by_username("nurse.mia")
        prescriber = uow.users.by_username("prescriber.mia")
        suffix = path.rsplit("/", 1)[-1]
        target = {
            "start": Target.READY_TO_START,
            "assessment": Target.OBSERVATION,
            "discharge-assessment": Target.OBSERVATION,
            "discharge": Target.READY_FOR_DISCHARGE,
            "override": Target.CHECKING,
            "checks": Target.CHECKED_IN,
            "weight": Target.CHECKED_IN,
            "baseline": Target.CHECKED_IN,
            "escort": Target.CHECKED_IN,
            "dose": Target.CHECKED_IN,
            "dissociation": Target.CHECKED_IN,
            "transition": Target.CHECKED_IN,
        }.get(suffix, Target.RUNNING)
        if suffix == "start":  # the start reads consent and eligibility from the record
            demo_intake.clear_for_treatment(uow, demo.clock, patient)
        if suffix == "dose":  # the chair verifies the dose against the patient's verified order
            _order_twenty_mg(uow, patient, prescriber, now)
        row = build_session(
            uow,
            patient=patient,
            chair=chair,
            nurse=nurse,
            prescriber=prescriber,
            now=now,
            target=target,
            rng=random.Random(n),
            bolus_allowed=suffix == "bolus",
        )
        by = Actor(nurse.id, nurse.role)
        if suffix == "override":
            uow.chair.add_check(
                row.id,
                CheckResult(
                    CheckItem.BASELINE_VITALS_WITHIN_LIMITS,
                    CheckOutcome.FAILED,
                    by,
                    now,
                    "BP 150/95",
                ),
            )
        if "{alert_id}" in path:
            feed = SessionFeed(uow, row, now)
            low = VitalReading(VitalKind.SPO2, 88, now, VitalSource.MANUAL, "59408-5")
            alert = feed.ingest([low], now).raised[0]
            if suffix == "resolve":
                alert = replace(alert, alert=acknowledge(alert.alert, by, now, "airway checked"))
                uow.chair.save_alert(alert)
            path = path.replace("{alert_id}", str(alert.id))
        if "{effect_id}" in path:
            effect = uow.chair.add_side_effect(
                row.id,
                SideEffectEntry(
                    Kind.NAUSEA_VOMITING,
                    Severity.SEVERE,
                    now,
                    by,
                    frozenset({Intervention.ANTIEMETIC}),
                ),
                now,
            )
            path = path.replace("{effect_id}", str(effect.id))
        uow.commit()
    return path.replace("{session_id}", str(row.id))


def _order_twenty_mg(uow, patient, prescriber, now) -> None:
    """A verified order (signed by ``prescriber``) of 20 mg in a 100 mL bag over 40 min under
    feder-2021 on the patient's latest weight: the programme the chair's dose sample posts."""
    from ketaclinic.domain.dosing import BagPreparation
    from ketaclinic.services.dosing_calc import DoseRequest, build_order, compute
    from ketaclinic.services.dosing_library import clinic_library

    weight = uow.patients.measurements(patient.id)[-1].weight_kg
    request = DoseRequest(20.0 / weight, 40.0, BagPreparation(100.0), protocol_id="feder-2021")
    computation = compute(uow, patient, request, clinic_library(uow))
    order = build_order(
        patient, computation, request, prepared_by=prescriber.id, at=now, signed=True, override=None
    )
    uow.dosing.add_order(order)


def fill_path(demo, path: str, patient_id: int) -> str:
    """A fresh safety task or self-report link per call: both are used up by one call."""
    import datetime as dt

    from ketaclinic.services.audit import SYSTEM
    from ketaclinic.services.mbc_self_report import request_self_report

    if "{task_id}" in path:
        now = dt.datetime.now(dt.UTC)
        with demo.uow() as uow:
            site_id = uow.patients.get(patient_id).site_id
            task = uow.safety_tasks.add(
                patient_id=patient_id,
                site_id=site_id,
                response_id=None,
                reason="phq9_item9_positive",
                raised_at=now,
                due_at=now + dt.timedelta(hours=8),
            )
            uow.commit()
        path = path.replace("{task_id}", str(task.id))
    if "{token}" in path:
        with demo.uow() as uow:
            issued = request_self_report(uow, demo.clock, SYSTEM, patient_id, ["phq9"])
        path = path.replace("{token}", issued.token)
    if "{notice_id}" in path:
        path = path.replace("{notice_id}", str(self_report_notice(demo, patient_id)))
    path = path.replace("{instrument_id}", "pcl5")
    if "{order_id}" in path:
        order_id = dose_order(demo, patient_id, override=path.endswith("override-confirmation"))
        path = path.replace("{order_id}", str(order_id))
    path = intake_fill(demo, path, patient_id)
    return chair_fill(demo, path)


def self_report_notice(demo, patient_id: int) -> int:
    """A fresh open front-desk notice of the patient (a scheduled link with no e-mail)."""
    import datetime as dt

    from ketaclinic.services.mbc_model import RequestOutcome, SlotKind

    now = dt.datetime.now(dt.UTC)
    with demo.uow() as uow:
        site_id = uow.patients.get(patient_id).site_id
        notice = uow.self_report_schedules.claim(
            patient_id=patient_id,
            site_id=site_id,
            slot_key=f"matrix-{next(counter)}",
            kind=SlotKind.AFTER_SERIES,
            due_at=now,
            instrument_ids=("pcl5",),
            created_at=now,
            outcome=RequestOutcome.NO_EMAIL,
        )
        uow.commit()
    return notice.id


def import_csv(mrn: str) -> str:
    return f"mrn,given_name,family_name,birth_date,sex\n{mrn},Mat,Rix,1980-01-01,male\n"


def counts(demo) -> tuple[int, int, int]:
    with demo.engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in (t.patient, t.body_measurement, t.staff_user)
        )


def shows_health_data(key: str, status: int) -> bool:
    """A successful request on a patient's record: every read (GET) of a patient-scoped route,
    and every write the route answered with 200/201. (A page form's 303 may be a refusal of a
    repeated action, e.g. consent already recorded, which changes and shows nothing.) Site
    settings such as clinic hours are site-scoped but hold no health data."""
    policy = POLICIES[key]
    if not policy.patient_scoped or "{site_code}" in key:
        return False
    return key.startswith("GET ") or status in {200, 201}


def audit_entries(demo) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t.audit_event)).scalar()


def denied_entries(demo) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(t.audit_event)
            .where(t.audit_event.c.action == "denied")
        ).scalar()


def signed_in(client, username: str | None, api: bool) -> dict[str, str]:
    client.cookies.clear()
    if username is None:
        return {}
    if api:
        token = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {token.json()['access_token']}"}
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf, "next": "/"}
    )
    return {}


def csrf_of(client) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return found.group(1) if found else ""


@pytest.mark.parametrize("key", sorted(POLICIES))
def test_route_answers_each_caller_as_its_policy_says(client, demo, key: str) -> None:
    policy = POLICIES[key]
    method, template = key.split(" ", 1)
    api = template.startswith("/api/")
    with demo.engine.connect() as conn:
        mia_patient = conn.execute(
            sa.select(t.patient.c.id).where(t.patient.c.mrn == "DEMO-0001")
        ).scalar()
    path = template.replace("{patient_id}", str(mia_patient))

    callers: list[tuple[str | None, Role | None, bool]] = [(None, None, True)]
    for role in Role:
        callers.append((f"{PREFIX[role]}.mia", role, True))
        callers.append((f"{PREFIX[role]}.fll", role, False))

    for username, role, own_site in callers:
        headers = signed_in(client, username, api)
        before, denied_before = counts(demo), denied_entries(demo)
        audit_before = audit_entries(demo)
        site = "FLL" if username and username.endswith(".fll") else "MIA"
        request = sample(key, csrf_of(client) if not api else "", site)
        response = client.request(
            method,
            fill_path(demo, path, mia_patient),
            headers=headers,
            follow_redirects=False,
            **request,
        )
        who = f"{username or 'anonymous'} on {key}"

        if policy.public:
            assert response.status_code < 400, f"{who}: {response.status_code}"
        elif username is None:
            expected = 401 if api else 303
            assert response.status_code == expected, f"{who}: {response.status_code}"
            if not api:
                assert response.headers["location"].startswith("/login")
        elif role not in policy.roles:
            assert response.status_code == 403, f"{who}: {response.status_code}"
        elif policy.patient_scoped and not own_site:
            assert response.status_code == 404, f"{who}: {response.status_code}"
        else:
            assert response.status_code in {200, 201, 204, 303}, (
                f"{who}: {response.status_code} {response.text[:200]}"
            )
            if shows_health_data(key, response.status_code):
                # Audit completeness: a patient's record was shown or changed, so the audit
                # trail holds at least one new entry for it.
                assert audit_entries(demo) > audit_before, f"{who}: the access was not audited"
            continue

        if response.status_code in {403, 404}:
            assert counts(demo) == before, f"{who}: a refused request changed stored data"
            assert denied_entries(demo) == denied_before + 1, f"{who}: the refusal was not audited"


# --- intake ---------------------------------------------------------------------------------
# The test container signs with tests/conftest.py's TEST_SECRET; an inquiry needs a form token
# older than the minimum fill time.
INTAKE_SECRET = "test-secret-key-" + "x" * 40
intake_days = itertools.count(1)


def intake_samples(csrf: str, site: str, n: int) -> dict[str, dict[str, object]]:
    """Intake: complete answers, a fresh lead MRN, a series start far enough ahead that each
    call books free days (DEMO-0001 is cleared in the demo clinic)."""
    import datetime as dt
    import time
    from zoneinfo import ZoneInfo

    from ketaclinic.web.pages.intake_guard import issue_form_token

    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    token = issue_form_token(INTAKE_SECRET, time.time() - 60)
    questions = ("high_blood_pressure", "heart_disease", "stroke", "pregnancy", "psychosis")
    questions += ("substance_use",)
    health = dict.fromkeys(questions, False)
    screening = {"symptoms": [2] * 20, "months_since_event": 6, "health": health}
    screening_form = {f"s{i:02d}": "2" for i in range(1, 21)} | {"months": "6"}
    screening_form |= {f"h_{q}": "no" for q in questions}
    inquiry = {"name": "Mat Rix", "email": "mat@example.org", "site": site, "form_token": token}
    intake = {
        "assessment_date": (today - dt.timedelta(days=1)).isoformat(),
        "trauma_date": "2020-01-01",
        "bp_systolic": "120",
        "bp_diastolic": "80",
        "heart_rate": "70",
        "spo2": "98",
        "weight_kg": "80",
        "height_cm": "170",
        "weight_confirmed": "yes",
    }
    intake |= {f"p{i:02d}": "2" for i in range(1, 21)} | {f"q{i}": "0" for i in range(1, 10)}
    numbers = ("bp_systolic", "bp_diastolic", "heart_rate", "spo2", "weight_kg", "height_cm")
    intake_api = {
        **{name: float(intake[name]) for name in numbers},
        "assessment_date": intake["assessment_date"],
        "trauma_date": "2020-01-01",
        "pregnant": False,
        "pcl5": [2] * 20,
        "phq9": [0] * 9,
        "conditions": [],
        "medications": [],
        "weight_confirmed": True,
    }
    start = (today + dt.timedelta(days=120 + 21 * n)).isoformat()
    weekdays = {f"open_{d}": "yes" for d in range(5)} | {f"opens_{d}": "08:00" for d in range(5)}
    weekdays |= {f"closes_{d}": "18:00" for d in range(5)}
    return {
        "POST /screening": {"data": screening_form},
        "POST /api/v1/screening": {"json": screening},
        "POST /inquiry": {"data": {**inquiry, "contact_consent": "yes"}},
        "POST /api/v1/inquiries": {"json": {**inquiry, "contact_consent": True}},
        "POST /leads/{lead_id}/dismiss": {"data": {"csrf_token": csrf}},
        "POST /leads/{lead_id}/register": {
            "data": {
                "csrf_token": csrf,
                "mrn": f"ML-{n}",
                "given_name": "Mat",
                "family_name": "Rix",
                "birth_date": "1980-01-01",
                "sex": "male",
            }
        },
        "POST /patients/{patient_id}/intake": {"data": {"csrf_token": csrf, **intake}},
        "POST /api/v1/patients/{patient_id}/intake": {"json": intake_api},
        "POST /patients/{patient_id}/eligibility": {"data": {"csrf_token": csrf}},
        "POST /patients/{patient_id}/consent": {
            "data": {"csrf_token": csrf, "signer_name": "Mat Rix", "language": "en"}
        },
        "POST /admin/consent": {"data": {"csrf_token": csrf, "body_en": f"Consent text {n}"}},
        "POST /patients/{patient_id}/plan": {
            "data": {
                "csrf_token": csrf,
                "protocol_id": "feder-2021",
                "dose_mg_per_kg": "0.5",
                "start_date": (today + dt.timedelta(days=7)).isoformat(),
            }
        },
        "POST /patients/{patient_id}/series": {"data": {"csrf_token": csrf, "start_date": start}},
        "POST /api/v1/patients/{patient_id}/series": {"json": {"start_date": start}},
        "POST /patients/{patient_id}/series/{series_id}/move": {
            "data": {"csrf_token": csrf, "visit_number": "1", "at": "14:00"}
        },
        "POST /patients/{patient_id}/series/{series_id}/decision": {
            "data": {"csrf_token": csrf, "decision": "maintenance"}
        },
        "POST /admin/protocols": {
            "data": {
                "csrf_token": csrf,
                "protocol_id": f"clinic-{n}",
                "name": "Matrix weekly",
                "infusion_count": "4",
                "duration_weeks": "4",
                "dose_mg_per_kg": "0.5",
                "infusion_min": "40",
                "rhythm": "spacing",
                "spacing_days": "7",
                "observation_min": "90",
                "setup_min": "15",
            }
        },
        "POST /admin/hours": {"data": {"csrf_token": csrf, "slot_min": "15", **weekdays}},
        "POST /admin/chairs": {"data": {"csrf_token": csrf, "code": f"{site}-M{n}"}},
        "POST /admin/chairs/{chair_id}/retire": {"data": {"csrf_token": csrf}},
        "POST /admin/site-phone": {
            "data": {"csrf_token": csrf, "phone": f"+1 305 555 01{n % 100:02d}"}
        },
        "POST /admin/eligibility-rules": {
            "data": {"csrf_token": csrf, "key": "age_max", "reset": "1", "reason": "Matrix"}
        },
        **intake_api_samples(site, n, today),
    }


def intake_api_samples(site: str, n: int, today: object) -> dict[str, dict[str, object]]:
    """Intake over the API: valid bodies (intake_fill gives each call a fresh intake, consent
    version, lead or series to act on)."""
    import datetime as dt

    assert isinstance(today, dt.date)
    api = "/api/v1/patients/{patient_id}"
    visit = f"{api}/series/{{series_id}}/visits/{{visit_number}}"
    open_days = [{"weekday": d, "opens": "08:00", "closes": "18:00"} for d in range(5)]
    return {
        f"POST {api}/eligibility/signature": {"json": {}},
        f"POST {api}/consent": {"json": {"signer_name": "Mat Rix", "language": "en"}},
        f"POST {api}/plan": {
            "json": {
                "protocol_id": "feder-2021",
                "dose_mg_per_kg": 0.5,
                "start_date": (today + dt.timedelta(days=7)).isoformat(),
            }
        },
        "POST /api/v1/leads/{lead_id}/register": {
            "json": {
                "mrn": f"MA-{n}",
                "given_name": "Mat",
                "family_name": "Rix",
                "birth_date": "1980-01-01",
                "sex": "male",
            }
        },
        f"POST {visit}/move": {"json": {"at": "14:00"}},
        f"POST {visit}/cancel": {"json": {"reason": "patient asked to cancel"}},
        f"POST {api}/series/{{series_id}}/decision": {"json": {"decision": "maintenance"}},
        "PUT /api/v1/sites/{site_code}/hours": {"json": {"slot_min": 15, "days": open_days}},
        "POST /api/v1/consent/versions": {"json": {"body_en": f"Consent text {n}"}},
        "POST /api/v1/protocols": {
            "json": {
                "id": f"api-clinic-{n}",
                "name": "Matrix weekly",
                "infusion_count": 4,
                "duration_weeks": 4,
                "dose_mg_per_kg": 0.5,
                "infusion_min": 40,
                "spacing_days": 7,
            }
        },
        "PUT /api/v1/settings/eligibility-rules": {
            "json": {"key": "age_max", "value": None, "reason": "Matrix check"}
        },
        "GET /api/v1/export/ndjson": {"params": {"site": site, "type": "Patient"}},
        "POST /api/v1/export/research": {"json": {"site": site, "key": "ab" * 32}},
        "POST /api/v1/import/patients": {
            "params": {"site": site, "dry_run": "false"},
            "content": import_csv(f"MJ-{n}"),
        },
    }


def intake_fill(demo, path: str, patient_id: int) -> str:
    """A new lead at MIA per call; for series routes a fresh one-visit series of the patient on
    its own weekday: ended (review, decision) or ahead, at 08:00 on MIA-2 (move)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from ketaclinic.services.intake_models import Inquiry, NewVisit, Series

    if "{lead_id}" in path:
        with demo.uow() as uow:
            site = uow.sites.by_code("MIA")
            lead = uow.leads.add(
                Inquiry(site.id, "Lead Person", "lead@example.org", "", True),
                dt.datetime.now(dt.UTC),
            )
            uow.commit()
        path = path.replace("{lead_id}", str(lead.id))
    path = intake_api_fill(demo, path, patient_id)
    if "{chair_id}" in path:  # a new chair at MIA per call: retiring uses one up
        with demo.uow() as uow:
            site = uow.sites.by_code("MIA")
            chair = uow.sites.add_chair(site.id, f"MIA-R{next(counter)}", "Matrix chair")
            uow.commit()
        path = path.replace("{chair_id}", str(chair.id))
    if "{series_id}" in path:
        zone = ZoneInfo("America/New_York")
        today = dt.datetime.now(zone).date()
        # The n-th weekday after a start point: each call gets a day of its own.
        ahead = path.endswith(("/move", "/cancel"))
        day = today + dt.timedelta(days=60 if ahead else -200)
        for _ in range(next(intake_days)):
            day += dt.timedelta(days=1)
            while day.weekday() > 4:
                day += dt.timedelta(days=1)
        with demo.uow() as uow:
            patient = uow.patients.get(patient_id)
            chair = next(c for c in uow.sites.chairs(patient.site_id) if c.code.endswith("-2"))
            # The demo clinic's own series occupy some days: take the next one the chair is free.
            while True:
                start = dt.datetime.combine(day, dt.time(8), tzinfo=zone).astimezone(dt.UTC)
                window = (start - dt.timedelta(hours=4), start + dt.timedelta(hours=4))
                taken = uow.schedule.visits_between(patient.site_id, *window)
                if day.weekday() < 5 and not any(v.chair_id == chair.id for v in taken):
                    break
                day += dt.timedelta(days=1)
            plan = uow.schedule.plans(patient_id)[0]
            series = uow.schedule.add_series(
                Series(0, patient_id, patient.site_id, plan.id, plan.protocol_id, 1, start),
                [NewVisit(chair.id, 1, start, start + dt.timedelta(hours=3), day)],
            )
            uow.commit()
        path = path.replace("{series_id}", str(series.id))
    return path


def intake_api_fill(demo, path: str, patient_id: int) -> str:
    """For the intake API: a fresh unsigned intake (a copy of the patient's latest) before each
    signature, a new consent version before each consent, visit 1 of the series, site MIA. No
    body measurement is added, so a refused call still changes nothing the matrix counts."""
    import datetime as dt
    from dataclasses import replace

    from ketaclinic.services.intake_models import ConsentText

    now = dt.datetime.now(dt.UTC)
    if path.endswith("/eligibility/signature"):
        with demo.uow() as uow:
            latest = uow.intake.intakes(patient_id)[0]
            uow.intake.add_intake(replace(latest, id=0, recorded_at=now))
            uow.commit()
    if path.startswith("/api/") and path.endswith("/consent"):
        with demo.uow() as uow:
            uow.intake.add_consent_version(ConsentText(f"Matrix consent {now}"), None, now)
            uow.commit()
    return path.replace("{visit_number}", "1").replace("{site_code}", "MIA")
