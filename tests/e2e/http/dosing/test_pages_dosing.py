"""The dosing pages on SQLite and PostgreSQL: the dose form with its live result, orders and the
second-person override on a shared tablet, the order's plot, the PK explorer and the drug
library. Bad input re-renders the form with the error next to the field (422) and stores
nothing."""

from __future__ import annotations

import re

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as tc
from ketaclinic.adapters.db import tables_dosing as td

PASSWORD = "demo-clinic-2026"
REASON = "Partial response at 0.5 mg/kg after two infusions"


def csrf(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found is not None
    return found.group(1)


def patient_id(demo, mrn: str = "DEMO-0001") -> int:
    with demo.engine.connect() as conn:
        found: int = conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar()
    return found


def order_count(demo) -> int:
    with demo.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(td.dose_order)).scalar())


def dose_form(token: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf_token": token,
        "basis": "actual",
        "mg_per_kg": "0.5",
        "minutes": "40",
        "preparation": "bag",
        "bag_ml": "100",
        "protocol": "default",
        "pump_resolution_ml_per_h": "0.1",
    }
    form.update(changes)
    return form


def test_the_dose_page_shows_each_weight_basis_and_a_result(client, login_as, demo) -> None:
    login_as("nurse.mia")
    page = client.get(f"/patients/{patient_id(demo)}/dose")
    assert page.status_code == 200
    for basis in ("actual", "ideal", "adjusted"):
        assert f'data-testid="basis-{basis}"' in page.text
    assert "[cited: Feder 2014; Feder 2021; Abdallah 2022, REFERENCE.md §3.2]" in page.text
    assert "Within the drug library's limits" in page.text
    assert 'data-testid="pump-rate">150 mL/h' in page.text  # 100 mL over 40 min
    assert "Prepare for prescriber's signature" in page.text
    assert 'hx-get="/patients/' in page.text  # the live result


def test_the_live_result_shows_soft_and_hard_limits_and_bad_input(client, login_as, demo) -> None:
    login_as("prescriber.mia")
    url = f"/patients/{patient_id(demo)}/dose/preview"
    soft = client.get(url, params={"mg_per_kg": "0.6", "protocol": "default"})
    assert "Soft limit reached" in soft.text
    assert "dose mg per kg" in soft.text
    hard = client.get(url, params={"mg_per_kg": "1.2", "protocol": "default"})
    assert "Hard limit reached: this dose cannot be ordered" in hard.text
    bad = client.get(url, params={"mg_per_kg": "half"})
    assert bad.status_code == 200
    assert "mg_per_kg: got &#39;half&#39;, expected a number" in bad.text


def test_bad_input_re_renders_the_form_with_the_error_and_stores_nothing(
    client, login_as, demo
) -> None:
    login_as("prescriber.mia")
    url = f"/patients/{patient_id(demo)}/dose"
    token = csrf(client.get(url).text)
    before = order_count(demo)
    for changes, message in (
        ({"mg_per_kg": "50"}, "mg_per_kg: got 50.0"),
        ({"minutes": "0"}, "duration_min: got 0.0"),
        ({"bag_ml": ""}, "preparation: got &#39;none&#39;"),
        ({"mg_per_kg": "0.6"}, "soft limit reached"),
        ({"mg_per_kg": "1.2", "override_reason": REASON}, "no override exists"),
    ):
        response = client.post(url, data=dose_form(token, **changes))
        assert response.status_code == 422, changes
        assert message in response.text
        assert 'data-testid="form-error"' in response.text
    assert order_count(demo) == before


def test_an_override_on_a_shared_tablet_needs_a_different_second_person(
    client, login_as, demo
) -> None:
    login_as("prescriber.mia")
    pid = patient_id(demo)
    token = csrf(client.get(f"/patients/{pid}/dose").text)
    created = client.post(
        f"/patients/{pid}/dose",
        data=dose_form(token, mg_per_kg="0.6", override_reason=REASON),
        follow_redirects=False,
    )
    assert created.status_code == 303
    order_url = created.headers["location"]
    page = client.get(order_url)
    assert "Override awaiting second person" in page.text
    assert REASON in page.text
    confirm = f"{order_url}/override-confirmation"

    wrong = client.post(
        confirm, data={"csrf_token": token, "username": "nurse.mia", "password": "wrong-one"}
    )
    assert wrong.status_code == 401
    assert "username or password not accepted" in wrong.text
    own = client.post(
        confirm, data={"csrf_token": token, "username": "prescriber.mia", "password": PASSWORD}
    )
    assert own.status_code == 403
    assert "different from the requester" in own.text
    assert "Override awaiting second person" in own.text

    done = client.post(
        confirm,
        data={"csrf_token": token, "username": "nurse.mia", "password": PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303
    verified = client.get(order_url)
    assert "Override of dose order" in verified.text  # the flash
    assert 'data-testid="order-status">Verified' in verified.text
    assert "nurse.mia" in verified.text
    assert "(by password)" in verified.text


def test_a_prescriber_signs_a_nurses_order_on_the_page(client, login_as, demo) -> None:
    pid = patient_id(demo)
    login_as("nurse.mia")
    token = csrf(client.get(f"/patients/{pid}/dose").text)
    created = client.post(f"/patients/{pid}/dose", data=dose_form(token), follow_redirects=False)
    order_url = created.headers["location"]
    assert "Sign order" not in client.get(order_url).text  # nurses do not sign
    login_as("prescriber.mia")
    page = client.get(order_url)
    assert "Sign order" in page.text
    signed = client.post(
        f"{order_url}/sign", data={"csrf_token": csrf(page.text)}, follow_redirects=False
    )
    assert signed.status_code == 303
    assert 'data-testid="order-status">Verified' in client.get(order_url).text


def test_the_order_page_draws_the_predicted_concentration(client, login_as, demo) -> None:
    login_as("nurse.mia")
    pid = patient_id(demo)
    orders = client.get(f"/patients/{pid}/dose").text
    order_path = re.search(rf'href="(/patients/{pid}/dose-orders/\d+)"', orders)
    assert order_path is not None
    page = client.get(order_path.group(1), params={"model": "domino"})
    assert "Illustrative; never drives dosing." in page.text
    assert "plot.svg?model=domino" in page.text
    paediatric = client.get(order_path.group(1), params={"model": "herd"})
    assert "paediatric model: use for cross-checks only" in paediatric.text
    plot = client.get(f"{order_path.group(1)}/plot.svg", params={"model": "domino"})
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/svg+xml"
    assert plot.content.lstrip().startswith(b"<?xml")
    assert b"<svg" in plot.content
    unknown = client.get(f"{order_path.group(1)}/plot.svg", params={"model": "propofol"})
    assert unknown.status_code == 422


def test_an_order_is_not_shown_under_another_patient(client, login_as, demo) -> None:
    login_as("nurse.mia")
    pid = patient_id(demo)
    orders = client.get(f"/patients/{pid}/dose").text
    order_id = re.search(rf'href="/patients/{pid}/dose-orders/(\d+)"', orders)
    assert order_id is not None
    other = patient_id(demo, "DEMO-0005")
    response = client.get(f"/patients/{other}/dose-orders/{order_id.group(1)}")
    assert response.status_code == 404


def test_the_pk_explorer_shows_figures_and_refuses_bad_input(client, login_as) -> None:
    login_as("nurse.mia")
    page = client.get("/pk", params={"model": "domino", "weight_kg": "70"})
    assert page.status_code == 200
    assert 'data-testid="cmax">240 ng/mL' in page.text  # REFERENCE.md §4.4
    assert "Time above 100 ng/mL" in page.text
    assert "/pk/plot.svg?model=domino" in page.text
    plot = client.get("/pk/plot.svg", params={"model": "domino", "weight_kg": "70"})
    assert plot.headers["content-type"] == "image/svg+xml"
    bad = client.get("/pk", params={"weight_kg": "700"})
    assert bad.status_code == 422
    assert "weight_kg: got 700.0, expected a body weight of 2–350 kg" in bad.text
    assert 'data-testid="pk-plot"' not in bad.text


def test_the_director_reviews_and_sets_the_drug_library(client, login_as) -> None:
    login_as("director.mia")
    page = client.get("/admin/drug-library")
    assert page.status_code == 200
    assert "[derived: 1:1 dilution rule, REFERENCE.md §3.3]" in page.text
    token = csrf(page.text)
    raised = client.post(
        "/admin/drug-library",
        data={
            "csrf_token": token,
            "protocol_id": "default",
            "quantity": "concentration_mg_per_ml",
            "level": "hard",
            "value": "60",
            "reason": "Stronger bags",
        },
    )
    assert raised.status_code == 422
    assert "value: got 60.0, expected 0.01–50 mg/mL" in raised.text
    lowered = client.post(
        "/admin/drug-library",
        data={
            "csrf_token": token,
            "protocol_id": "default",
            "quantity": "dose_mg",
            "level": "soft",
            "value": "60",
            "reason": "Review doses above 60 mg",
        },
        follow_redirects=False,
    )
    assert lowered.status_code == 303
    after = client.get("/admin/drug-library").text
    assert "approved by director.mia" in after
    assert "Review doses above 60 mg" in after
    model = client.post(
        "/admin/drug-library/model",
        data={"csrf_token": token, "model": "clements"},
        follow_redirects=False,
    )
    assert model.status_code == 303
    assert 'value="clements" selected' in client.get("/admin/drug-library").text


def test_only_the_director_sees_the_drug_library(client, login_as) -> None:
    login_as("prescriber.mia")
    assert client.get("/admin/drug-library").status_code == 403


def test_the_dose_form_plots_the_predicted_concentration_before_ordering(
    client, login_as, demo
) -> None:
    login_as("nurse.mia")
    pid = patient_id(demo)
    before = order_count(demo)
    page = client.get(f"/patients/{pid}/dose")
    assert 'data-testid="dose-plot"' in page.text
    found = re.search(r'<img src="([^"]+/dose/plot\.svg\?[^"]+)"', page.text)
    assert found is not None
    src = found.group(1).replace("&amp;", "&")
    assert "mg_per_kg=0.5" in src
    assert "minutes=40" in src
    assert "bag_ml=100" in src
    plot = client.get(src)
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in plot.content
    assert b"Kamp 2020" in plot.content  # the clinic's model for plots, named in the title
    # The live result follows the form: the plot's address carries the values typed.
    preview = client.get(
        f"/patients/{pid}/dose/preview",
        params={"mg_per_kg": "0.3", "minutes": "60", "preparation": "bag", "bag_ml": "250"},
    )
    assert "mg_per_kg=0.3&amp;minutes=60&amp;preparation=bag&amp;bag_ml=250" in preview.text
    other = client.get(
        f"/patients/{pid}/dose/plot.svg",
        params={"mg_per_kg": "0.3", "minutes": "60", "preparation": "bag", "bag_ml": "250"},
    )
    assert other.status_code == 200
    assert other.content != plot.content
    # A dose at a hard limit is not drawn, and bad input is a 422 naming the field.
    hard = client.get(f"/patients/{pid}/dose/preview", params={"mg_per_kg": "1.2"})
    assert 'data-testid="dose-plot"' not in hard.text
    refused = client.get(f"/patients/{pid}/dose/plot.svg", params={"mg_per_kg": "1.2"})
    assert refused.status_code == 422
    assert "dose_mg_per_kg: got 1.2" in refused.text
    bad = client.get(f"/patients/{pid}/dose/plot.svg", params={"minutes": "soon"})
    assert bad.status_code == 422
    assert "minutes: got &#39;soon&#39;, expected a number" in bad.text
    assert order_count(demo) == before  # nothing is stored


def test_the_chair_plots_the_record_with_the_clinics_pk_model(client, login_as, demo) -> None:
    with demo.engine.connect() as conn:
        running = conn.execute(
            sa.select(tc.infusion_session.c.id)
            .join(t.patient, t.patient.c.id == tc.infusion_session.c.patient_id)
            .where(t.patient.c.mrn == "DEMO-0001", tc.infusion_session.c.state == "running")
        ).scalar_one()
    login_as("nurse.mia")
    page = client.get(f"/sessions/{running}")
    assert 'data-testid="prediction-model"' in page.text
    assert "Kamp 2020" in page.text
    first = client.get(f"/sessions/{running}/concentration.svg")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in first.content
    login_as("director.mia")
    token = csrf(client.get("/admin/drug-library").text)
    chosen = client.post(
        "/admin/drug-library/model",
        data={"csrf_token": token, "model": "domino"},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    login_as("nurse.mia")
    page = client.get(f"/sessions/{running}")
    wording = re.search(r'data-testid="prediction-model">([^<]+)<', page.text)
    assert wording is not None
    assert "Domino" in wording.group(1)
    assert "Kamp" not in wording.group(1)
    second = client.get(f"/sessions/{running}/concentration.svg")
    assert second.status_code == 200
    assert b"<svg" in second.content
    assert second.content != first.content  # another model, another curve
