"""The dosing API on SQLite and PostgreSQL with the demo clinic: the calculator and simulator
answer exactly as the command line does; dose orders are site-scoped and audited; a soft limit
needs a reason and a *different* second person's own token; hard limits, doubtful weights and
bad input are 422s naming field, value and range, and store nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_dosing as td
from ketaclinic.cli.pk import register
from ketaclinic.domain.people import BodyMeasurement
from ketaclinic.services import dosing_library
from ketaclinic.services.audit import Actor
from ketaclinic.services.auth import principal_of

REASON = "Partial response at 0.5 mg/kg after two infusions"


def cli_json(command: str, *args: str, database: str = "", exit_code: int = 0) -> dict[str, Any]:
    """The command's JSON, run against ``database`` (a URL) or with none configured."""
    app = typer.Typer()
    register(app)
    env = {"KETACLINIC_DATABASE_URL": database or None, "KETACLINIC_DATA_DIR": "/nonexistent"}
    result = CliRunner().invoke(app, [command, *args, "--json"], env=env)
    assert result.exit_code == exit_code, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def patient_id(demo, mrn: str = "DEMO-0001") -> int:
    with demo.engine.connect() as conn:
        found: int = conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar()
    return found


def order_count(demo) -> int:
    with demo.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(td.dose_order)).scalar())


def audited(demo, resource: str) -> list[tuple[str, str, str]]:
    with demo.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.audit_event.c.action, t.audit_event.c.outcome, t.audit_event.c.detail)
            .where(t.audit_event.c.resource == resource)
            .order_by(t.audit_event.c.seq)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


# --- calculator and simulator -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "args"),
    [
        (
            {"weight_kg": 70, "mg_per_kg": 0.5, "minutes": 40, "bag_ml": 100},
            ["--weight-kg", "70", "--mg-per-kg", "0.5", "--minutes", "40", "--bag-ml", "100"],
        ),
        (
            {
                "weight_kg": 100,
                "mg_per_kg": 0.6,
                "minutes": 40,
                "concentration_mg_per_ml": 1,
                "basis": "adjusted",
                "height_cm": 175,
                "sex": "male",
                "protocol": "feder-2021",
                "previous_weight_kg": 98,
                "pump_resolution_ml_per_h": 1,
            },
            [
                *("--weight-kg", "100", "--mg-per-kg", "0.6", "--minutes", "40"),
                *("--concentration-mg-per-ml", "1", "--basis", "adjusted", "--height-cm", "175"),
                *("--sex", "male", "--protocol", "feder-2021", "--previous-weight-kg", "98"),
                *("--pump-resolution-ml-per-h", "1"),
            ],
        ),
    ],
)
def test_the_dose_calculator_answers_as_the_command_line(
    client, token_for, demo, body, args
) -> None:
    response = client.post("/api/v1/dose", json=body, headers=token_for("nurse.mia"))
    assert response.status_code == 200, response.text
    database = demo.settings.effective_database_url
    assert response.json() == cli_json("dose", *args, database=database)
    assert response.json()["library"] == "clinic"


def test_the_command_line_and_the_api_agree_after_the_clinic_lowers_a_limit(
    client, token_for, demo
) -> None:
    with demo.uow() as uow:
        director = Actor(principal_of(uow.users.by_username("director.mia")), "test")
    for level, value in (("soft", 0.4), ("hard", 0.45)):
        with demo.uow() as uow:
            dosing_library.set_limit(
                uow,
                demo.clock,
                director,
                protocol_id="default",
                quantity="dose_mg_per_kg",
                level=level,
                value=value,
                reason="clinic ceiling for new patients",
            )
    database = demo.settings.effective_database_url
    headers = token_for("nurse.mia")
    args = ["--weight-kg", "70", "--minutes", "40", "--bag-ml", "100"]
    body = {"weight_kg": 70, "minutes": 40, "bag_ml": 100}
    # 0.42 mg/kg: ok in the shipped library, soft in the clinic's.
    api = client.post("/api/v1/dose", json={**body, "mg_per_kg": 0.42}, headers=headers)
    cli = cli_json("dose", *args, "--mg-per-kg", "0.42", database=database)
    assert api.json() == cli
    assert (cli["limit"], cli["library"]) == ("soft", "clinic")
    assert cli_json("dose", *args, "--mg-per-kg", "0.42")["limit"] == "ok"  # shipped library
    # 0.5 mg/kg: the trials' dose, above the clinic's hard limit: refused by both.
    api = client.post("/api/v1/dose", json={**body, "mg_per_kg": 0.5}, headers=headers)
    assert (api.status_code, api.json()["error"]["code"]) == (422, "hard_limit")
    cli = cli_json("dose", *args, "--mg-per-kg", "0.5", database=database, exit_code=2)
    assert (cli["limit"], cli["library"]) == ("hard", "clinic")
    assert any(hit["limit"] == 0.45 and hit["level"] == "hard" for hit in cli["limits_hit"])


def test_a_hard_limit_is_a_422_naming_the_limit_and_its_source(client, token_for, demo) -> None:
    before = order_count(demo)
    response = client.post(
        "/api/v1/dose",
        json={"weight_kg": 70, "mg_per_kg": 1.5, "minutes": 40, "bag_ml": 100},
        headers=token_for("prescriber.mia"),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "hard_limit"
    assert error["field"] == "dose_mg_per_kg"
    assert "at most 1 mg/kg" in error["message"]
    assert "REFERENCE.md §3.1" in error["message"]
    assert order_count(demo) == before


@pytest.mark.parametrize(
    ("path", "change", "field", "shown"),
    [
        ("/api/v1/dose", {"weight_kg": -70}, "weight_kg", "-70"),
        ("/api/v1/dose", {"weight_kg": 0}, "weight_kg", "0"),
        ("/api/v1/dose", {"weight_kg": 700}, "weight_kg", "700"),
        ("/api/v1/dose", {"mg_per_kg": 50}, "mg_per_kg", "50"),
        ("/api/v1/dose", {"mg_per_kg": 0}, "mg_per_kg", "0"),
        ("/api/v1/dose", {"minutes": 0}, "minutes", "0"),
        ("/api/v1/dose", {"minutes": -40}, "minutes", "-40"),
        ("/api/v1/dose", {"bag_ml": None}, "preparation", "none"),
        ("/api/v1/dose", {"concentration_mg_per_ml": 1}, "preparation", "bag_ml"),
        ("/api/v1/dose", {"previous_weight_kg": 31.8}, "weight_kg", "70"),  # lb/kg mix-up
        ("/api/v1/simulate", {"model": "propofol"}, "model", "propofol"),
        ("/api/v1/simulate", {"horizon_min": 1, "step_s": 120}, "step_s", "120"),
        ("/api/v1/simulate", {"population": 0}, "population", "0"),
        ("/api/v1/simulate", {"population": 10**9}, "population", "1000000000"),
        ("/api/v1/simulate", {"population": 10000, "step_s": 1}, "population", "10000"),
        ("/api/v1/simulate", {"weight_kg": 700}, "weight_kg", "700"),
        ("/api/v1/simulate", {"population": 10, "cv": {"v1_l": 30}}, "cv.v1_l", "30"),
        ("/api/v1/simulate", {"population": 10, "cv": {"clearance": 0.3}}, "cv", "clearance"),
        ("/api/v1/simulate", {"cv": {"v1_l": 0.5}}, "cv", "v1_l"),
        ("/api/v1/simulate", {"threshold_ng_per_ml": 0}, "threshold_ng_per_ml", "0"),
    ],
)
def test_bad_input_is_a_422_naming_field_value_and_range(
    client, token_for, path: str, change: dict[str, object], field: str, shown: str
) -> None:
    base: dict[str, object] = {"weight_kg": 70, "mg_per_kg": 0.5, "minutes": 40}
    base.update({"bag_ml": 100} if path.endswith("dose") else {"model": "kamp"})
    base.update(change)
    body = {k: v for k, v in base.items() if v is not None}
    response = client.post(path, json=body, headers=token_for("nurse.mia"))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert shown in error["message"]
    assert "expected" in error["message"] or "should be" in error["message"]


def test_the_simulator_answers_as_the_command_line(client, token_for) -> None:
    headers = token_for("prescriber.mia")
    standard = {"model": "kamp", "weight_kg": 70, "mg_per_kg": 0.5, "minutes": 40}
    args = ["--model", "kamp", "--weight-kg", "70", "--mg-per-kg", "0.5", "--minutes", "40"]
    single = client.post("/api/v1/simulate", json=standard, headers=headers)
    assert single.status_code == 200
    assert single.json() == cli_json("simulate", *args)
    population = client.post(
        "/api/v1/simulate", json={**standard, "population": 300, "seed": 4}, headers=headers
    )
    assert population.status_code == 200
    assert population.json() == cli_json("simulate", *args, "--population", "300", "--seed", "4")


def test_population_cvs_and_the_threshold_answer_as_the_command_line(client, token_for) -> None:
    body = {
        "model": "kamp",
        "weight_kg": 70,
        "mg_per_kg": 0.5,
        "minutes": 40,
        "step_s": 60,
        "population": 300,
        "seed": 2,
        "cv": {"cl_l_per_min": 0.6},
        "threshold_ng_per_ml": 150,
    }
    response = client.post("/api/v1/simulate", json=body, headers=token_for("nurse.mia"))
    assert response.status_code == 200, response.text
    args = ["--model", "kamp", "--weight-kg", "70", "--mg-per-kg", "0.5", "--minutes", "40"]
    args += ["--step-s", "60", "--population", "300", "--seed", "2"]
    args += ["--cv", "cl_l_per_min=0.6", "--threshold-ng-per-ml", "150"]
    expected = cli_json("simulate", *args)
    assert response.json() == expected
    assert expected["cv"]["cl_l_per_min"] == 0.6
    assert expected["cv_given"] == ["cl_l_per_min"]
    assert "150" in expected["probability_peak_above_ng_per_ml"]


def test_an_explicit_schedule_with_a_pause_is_simulated(client, token_for) -> None:
    body = {
        "model": "domino",
        "weight_kg": 70,
        "schedule": {
            "infusions": [
                {"start_min": 0, "duration_min": 20, "rate_mg_per_min": 0.875},
                {"start_min": 30, "duration_min": 20, "rate_mg_per_min": 0.875},
            ]
        },
        "horizon_min": 120,
        "step_s": 60,
    }
    response = client.post("/api/v1/simulate", json=body, headers=token_for("nurse.mia"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["dose_mg"] == pytest.approx(35.0, rel=1e-12)  # 2 × 20 min × 0.875 mg/min
    assert result["minutes"] is None
    assert result["tmax_min"] == 50.0  # the end of the second infusion
    assert len(result["times_min"]) == 121


def test_the_six_models_are_listed_with_their_sources(client, token_for) -> None:
    response = client.get("/api/v1/models", headers=token_for("nurse.mia"))
    assert response.status_code == 200
    items = {m["name"]: m for m in response.json()["items"]}
    assert list(items) == ["domino", "clements", "hijazi", "kamp", "herd", "hornik"]
    assert items["kamp"]["validity"]["weight_kg"] == [40.0, 120.0]
    assert items["herd"]["provenance"].startswith("[cited: Herd 2007")
    assert items["domino"]["ke0_per_min"] is None
    assert "never drives dosing" in response.json()["note"]


def test_the_front_desk_may_not_use_the_calculator(client, token_for, demo) -> None:
    response = client.get("/api/v1/models", headers=token_for("frontdesk.mia"))
    assert response.status_code == 403
    assert ("denied", "denied", "forbidden") in audited(demo, "pk_simulation")


# --- dose orders --------------------------------------------------------------------------------


def test_a_soft_limit_override_is_confirmed_with_the_second_persons_own_token(
    client, token_for, demo
) -> None:
    url = f"/api/v1/patients/{patient_id(demo)}/dose-orders"
    prescriber = token_for("prescriber.mia")
    stepped = {"mg_per_kg": 0.6, "minutes": 40, "bag_ml": 100}
    before = order_count(demo)
    refused = client.post(url, json=stepped, headers=prescriber)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "override_required"
    assert refused.json()["error"]["field"] == "override_reason"
    assert order_count(demo) == before

    created = client.post(url, json={**stepped, "override_reason": REASON}, headers=prescriber)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "awaiting_confirmation"
    assert order["limit"] == "soft"
    assert {hit["quantity"] for hit in order["limits_hit"]} == {
        "dose_mg_per_kg",
        "rate_mg_per_kg_per_h",
    }
    assert order["override"]["requested_by"] == "prescriber.mia"

    confirm = f"/api/v1/dose-orders/{order['id']}/override-confirmation"
    own = client.post(confirm, headers=prescriber)
    assert own.status_code == 403
    assert own.json()["error"]["field"] == "confirmed_by"
    second = client.post(confirm, headers=token_for("nurse.mia"))
    assert second.status_code == 200
    confirmed = second.json()
    assert confirmed["status"] == "verified"
    assert confirmed["override"]["confirmed_by"] == "nurse.mia"
    assert confirmed["override"]["confirmed_via"] == "token"
    again = client.post(confirm, headers=token_for("prescriber.fll"))
    assert again.status_code == 404  # another site's staff cannot even see the order

    listed = client.get(url, headers=token_for("director.mia")).json()["items"]
    assert listed[0] == confirmed
    assert ("update", "ok", "second person confirmed via token") in audited(demo, "dose_override")
    assert ("denied", "denied", "forbidden") in audited(demo, "dose_override")


def test_a_nurses_order_is_signed_by_a_prescriber(client, token_for, demo) -> None:
    url = f"/api/v1/patients/{patient_id(demo)}/dose-orders"
    body = {"mg_per_kg": 0.5, "minutes": 40, "diluent_ml": 100, "stock_mg_per_ml": 10}
    created = client.post(url, json=body, headers=token_for("nurse.mia"))
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "awaiting_signature"
    assert order["preparation"] == {"kind": "dilution", "volume_ml": 100.0, "mg_per_ml": 10.0}
    sign = f"/api/v1/dose-orders/{order['id']}/signature"
    assert client.post(sign, headers=token_for("nurse.mia")).status_code == 403
    signed = client.post(sign, json={}, headers=token_for("prescriber.mia"))
    assert signed.status_code == 200
    assert signed.json()["status"] == "verified"
    assert signed.json()["signed_by"] == "prescriber.mia"
    assert client.post(sign, headers=token_for("prescriber.mia")).status_code == 409
    read = client.get(f"/api/v1/dose-orders/{order['id']}", headers=token_for("nurse.mia"))
    assert read.json() == signed.json()


def test_a_doubtful_weight_must_be_confirmed_and_the_confirmation_is_stored(
    client, token_for, demo
) -> None:
    pid = patient_id(demo)
    with demo.uow() as uow:
        latest = uow.patients.measurements(pid)[-1]
        pounds = round(latest.weight_kg / 0.45359237, 1)  # the same weight, typed in pounds
        uow.patients.add_measurement(BodyMeasurement(pid, demo.clock.now(), pounds, None))
        uow.commit()
    url = f"/api/v1/patients/{pid}/dose-orders"
    body = {"mg_per_kg": 0.3, "minutes": 40, "bag_ml": 100}
    headers = token_for("prescriber.mia")
    before = order_count(demo)
    refused = client.post(url, json=body, headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "confirm_weight"
    assert "likely pounds" in refused.json()["error"]["message"]
    assert order_count(demo) == before
    confirmed = client.post(url, json={**body, "confirm_weight": True}, headers=headers)
    assert confirmed.status_code == 201, confirmed.text
    weight = confirmed.json()["weight"]
    assert weight["actual_kg"] == pounds
    assert weight["confirmed_by"] == "prescriber.mia"
    assert weight["confirmed_at"] is not None
    assert any("pounds" in finding for finding in weight["findings"])


def test_a_hard_limit_order_is_refused_and_only_the_attempt_is_recorded(
    client, token_for, demo
) -> None:
    before = order_count(demo)
    response = client.post(
        f"/api/v1/patients/{patient_id(demo)}/dose-orders",
        json={"mg_per_kg": 0.5, "minutes": 10, "bag_ml": 100, "override_reason": REASON},
        headers=token_for("prescriber.mia"),
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "hard_limit"
    assert response.json()["error"]["field"] == "duration_min"  # under the 20-min hard minimum
    assert order_count(demo) == before
    assert audited(demo, "dose_order")[-1][:2] == ("create", "denied")


def test_the_demo_clinic_has_a_verified_order_and_a_confirmed_override(
    client, token_for, demo
) -> None:
    headers = token_for("nurse.mia")
    first = client.get(f"/api/v1/patients/{patient_id(demo)}/dose-orders", headers=headers)
    # Today's infusion has its order, and so has each past one the demo's calendar puts within
    # the list (how many depends on the day the demo is loaded): all standard and verified.
    standard = [o for o in first.json()["items"] if o["prepared_by"] == "prescriber.mia"]
    assert standard, "DEMO-0001 has no order from prescriber.mia"
    for order in standard:
        assert order["status"] == "verified"
        assert (order["mg_per_kg"], order["minutes"]) == (0.5, 40.0)
        assert order["preparation"]["volume_ml"] == 100.0
    third = client.get(
        f"/api/v1/patients/{patient_id(demo, 'DEMO-0003')}/dose-orders", headers=headers
    )
    (stepped,) = third.json()["items"]
    assert stepped["mg_per_kg"] == 0.6
    assert stepped["status"] == "verified"
    assert stepped["override"]["confirmed_by"] == "nurse.mia"


def test_a_sessions_prediction_is_served_with_the_clinics_model_and_audited(
    client, token_for, demo
) -> None:
    nurse = token_for("nurse.mia")
    sessions = client.get("/api/v1/sessions?state=active", headers=nurse).json()["items"]
    running = next(s for s in sessions if s["mrn"] == "DEMO-0001")
    path = f"/api/v1/sessions/{running['id']}/prediction"
    response = client.get(path, headers=nurse)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["session_id"], body["model"]) == (running["id"], "kamp")
    assert "unverified" in body["provenance"]
    assert len(body["times_min"]) == len(body["plasma_ng_per_ml"]) > 100
    assert 0 < body["now_ng_per_ml"] <= body["cmax_ng_per_ml"]
    assert body["note"].startswith("Illustrative")
    assert ("read", "ok", "prediction") in audited(demo, "administration")
    with demo.uow() as uow:
        director = Actor(principal_of(uow.users.by_username("director.mia")), "test")
    with demo.uow() as uow:
        dosing_library.set_pk_model(uow, demo.clock, director, "clements")
    other = client.get(path, headers=nurse).json()
    assert other["model"] == "clements"
    assert other["now_ng_per_ml"] != pytest.approx(body["now_ng_per_ml"], rel=1e-3)
    # Another site's nurse gets "not found"; the front desk is refused; no start, no curve.
    assert client.get(path, headers=token_for("nurse.fll")).status_code == 404
    assert client.get(path, headers=token_for("frontdesk.mia")).status_code == 403
    waiting = [s for s in sessions if s["infusion_started_at"] is None]
    assert waiting  # the demo has patients at the chair before their start
    none = client.get(f"/api/v1/sessions/{waiting[0]['id']}/prediction", headers=nurse)
    assert none.status_code == 404
    assert "no prediction" in none.json()["error"]["message"]
