"""Scores entered inside other staff pages on SQLite and PostgreSQL: the intake baseline
(PCL-5, PHQ-9, GAD-7) and the chair's CADSS-6 use the score-entry form (radio groups with live
totals, web/pages/mbc_staff_forms.py) under the pages' own field names, and show the clinic's
official wording once a content pack is loaded."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as c
from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.services import mbc_content
from ketaclinic.services.audit import SYSTEM

MIAMI = ZoneInfo("America/New_York")


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def patient_id(demo, mrn: str) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(t.patient.c.id).where(t.patient.c.mrn == mrn)).scalar_one()


def count(demo, table) -> int:
    with demo.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def load_pack(demo, instrument: str, item_ids: list[str], anchors: int, **extra) -> None:
    pack = {
        "format": "ketaclinic.content-pack/1",
        "instrument": instrument,
        "language": "en",
        "title": f"Clinic title of {instrument}",
        "items": {item: f"Clinic wording of {item}" for item in item_ids},
        "anchors": [f"Clinic anchor {n}" for n in range(anchors)],
        **extra,
    }
    with demo.uow() as uow:
        mbc_content.load_content_pack(uow, demo.clock, SYSTEM, json.dumps(pack))


def intake_fields(**changes: str) -> dict[str, str]:
    form = {
        "assessment_date": dt.datetime.now(MIAMI).date().isoformat(),
        "trauma_date": "2022-05-01",
        "bp_systolic": "124",
        "bp_diastolic": "78",
        "heart_rate": "72",
        "spo2": "98",
        "height_cm": "170",
        "medications": "sertraline",
        "allergies": "none",
    }
    form |= {f"p{i:02d}": "3" for i in range(1, 21)} | {f"q{i}": "1" for i in range(1, 10)}
    form["q9"] = "0"
    form.update(changes)
    return form


def test_the_intake_baseline_uses_the_score_form_with_live_totals(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0021")
    page = client.get(f"/patients/{pid}/intake")
    assert page.status_code == 200
    assert "data-score-form" in page.text
    assert '<script src="/static/mbc.js" defer></script>' in page.text
    for name in ("p01", "p20", "q1", "q9", "g1", "g7"):
        assert page.text.count(f'type="radio" name="{name}"') >= 4, name
    assert '<select id="p01"' not in page.text
    for instrument in ("pcl5", "phq9", "gad7"):
        assert f'data-total-for="{instrument}"' in page.text
    assert 'data-subscale-total="B" data-subscale-for="pcl5"' in page.text
    assert "Our own short labels, not the official wording" in page.text


def test_the_intake_baseline_shows_the_clinics_official_wording(client, demo, login_as):
    load_pack(demo, "pcl5", [f"pcl5_{n:02d}" for n in range(1, 21)], 5)
    login_as("nurse.mia")
    page = client.get(f"/patients/{patient_id(demo, 'DEMO-0021')}/intake")
    assert "Clinic wording of pcl5_07" in page.text
    assert "Clinic anchor 4" in page.text
    assert "Official wording loaded by the clinic (en)" in page.text
    assert "Clinic wording of phq9" not in page.text  # no PHQ-9 pack: our labels there


def test_a_missing_intake_answer_is_marked_and_the_others_kept(client, demo, login_as):
    login_as("nurse.mia")
    pid = patient_id(demo, "DEMO-0021")
    page = client.get(f"/patients/{pid}/intake")
    before = count(demo, ti.intake_assessment)
    weight = re.search(r'name="weight_kg"[^>]*value="([^"]+)"', page.text).group(1)  # last one
    form = intake_fields(q3="", weight_kg=weight)
    response = client.post(f"/patients/{pid}/intake", data=form | {"csrf_token": csrf(page.text)})
    assert response.status_code == 422
    assert 'id="problem-q3"' in response.text
    assert re.search(r'name="q3" value="\d"[^>]*aria-invalid="true"', response.text)
    assert 'name="p05" value="3" checked' in response.text  # answers given are shown again
    assert 'name="q2" value="1" checked' in response.text
    assert count(demo, ti.intake_assessment) == before


def checked_in_session(client, demo) -> str:
    """DEMO-0009 checked in at MIA-4 (pre-dose: the CADSS-6 form is open)."""
    chair = client.get("/chairs/MIA-4")
    moved = client.post(
        "/chairs/MIA-4/check-in",
        data={"csrf_token": csrf(chair.text), "mrn": "DEMO-0009", "protocol": "feder-2021"},
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text[-500:]
    return moved.headers["location"]


CADSS = (1, 2, 6, 7, 15, 22)


def test_the_chair_cadss6_form_has_live_totals_and_keeps_its_field_names(client, demo, login_as):
    login_as("nurse.mia")
    path = checked_in_session(client, demo)
    page = client.get(path)
    assert 'data-total-for="cadss6"' in page.text
    for n in CADSS:
        assert page.text.count(f'type="radio" name="item_{n}"') == 5
    assert "our own labels, not the official wording" in page.text
    token = csrf(page.text)
    before = count(demo, c.dissociation_score)
    partial = {f"item_{n}": "2" for n in CADSS if n != 7}
    refused = client.post(
        f"{path}/dissociation", data={"csrf_token": token, "timepoint": "pre_dose", **partial}
    )
    assert refused.status_code == 422
    assert 'id="problem-item_7"' in refused.text
    assert 'name="item_15" value="2" checked' in refused.text
    assert count(demo, c.dissociation_score) == before
    done = client.post(
        f"{path}/dissociation",
        data={"csrf_token": token, "timepoint": "pre_dose", **partial, "item_7": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[-500:]
    assert count(demo, c.dissociation_score) == before + 1
    assert "<strong>11</strong>/24" in client.get(path).text


def test_the_chair_cadss6_form_shows_the_clinics_licensed_wording(client, demo, login_as):
    licence = {
        "licence": {
            "attested_by": "Medical Director",
            "attested_on": "2026-01-15",
            "statement": "Synthetic test attestation",
        }
    }
    load_pack(demo, "cadss6", [f"cadss_{n:02d}" for n in CADSS], 5, **licence)
    login_as("nurse.mia")
    page = client.get(checked_in_session(client, demo))
    assert "Clinic wording of cadss_22" in page.text
    assert "the clinic&#39;s licensed wording" in page.text
