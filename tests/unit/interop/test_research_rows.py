"""The de-identified research rows: pseudonyms from the clinic's key, days instead of dates,
nothing identifying, and the infusion summary computed from the administration record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import stat

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.services import interop_research as research
from ketaclinic.services.interop_records import PatientRecord

KEY = research.ResearchKey(bytes(range(32)))


def table(
    record: PatientRecord, name: str, key: research.ResearchKey = KEY
) -> list[dict[str, object]]:
    return [row for t, row in research.rows(record, key) if t == name]


def test_the_pseudonym_is_an_hmac_of_the_mrn_under_the_clinic_key(record: PatientRecord) -> None:
    (patient,) = table(record, "patients")
    expected = hmac.new(bytes(range(32)), b"patient|TEST-0012", hashlib.sha256).hexdigest()[:20]
    assert patient["patient"] == expected
    other = research.ResearchKey(b"\x01" * 32)
    assert table(record, "patients", other)[0]["patient"] != expected


def test_dates_become_days_since_the_series_start(record: PatientRecord) -> None:
    (infusion,) = table(record, "infusions")
    assert infusion["day"] == 0
    assert [s["day"] for s in table(record, "scores")] == [-3, -3]
    (patient,) = table(record, "patients")
    assert patient["anchor"] == "series_start"
    assert patient["age_years"] == 42  # born 1984-05-17, series starts 2026-11-02


def test_without_a_series_days_count_from_first_contact(record: PatientRecord) -> None:
    no_series = dataclasses.replace(record, series=())
    (patient,) = table(no_series, "patients")
    assert patient["anchor"] == "first_contact"
    # first contact: registration and the first weight, 40 days before the infusion
    assert table(no_series, "infusions")[0]["day"] == 40


def test_ages_above_89_are_capped(record: PatientRecord) -> None:
    old = dataclasses.replace(
        record, patient=dataclasses.replace(record.patient, birth_date=dt.date(1920, 1, 1))
    )
    assert table(old, "patients")[0]["age_years"] == 90


def test_no_row_holds_anything_identifying(record: PatientRecord) -> None:
    p = record.patient
    forbidden = {
        p.mrn,
        p.given_name,
        p.family_name,
        p.email,
        p.phone,
        p.birth_date.isoformat(),
        "LOT-7781",
        "MIA-1",
        "MIA",
        "nurse.mia",
        "prescriber.mia",
    }
    for _table, row in research.rows(record, KEY):
        for value in row.values():
            assert str(value) not in forbidden
            assert not isinstance(value, dt.date | dt.datetime)
        assert set(row) <= {c for schema in research.TABLES.values() for c, _ in schema}


def test_the_infusion_row_summarises_what_was_delivered(record: PatientRecord) -> None:
    (row,) = table(record, "infusions")
    # 10 + 10.667 + 16 mg over 10 + 10 + 15 minutes (conftest's MAR)
    assert row["delivered_dose_mg"] == pytest.approx(36.67, abs=0.005)  # rounded to 2 decimals
    assert row["delivered_mg_per_kg"] == pytest.approx(36.667 / 71.5, abs=0.0005)
    assert row["infusion_min"] == 35.0
    assert row["rate_periods"] == 3
    assert row["clinical_alerts"] == 1
    assert row["plausibility_alerts"] == 0
    assert row["max_systolic_mmhg"] == 142
    assert row["min_spo2_percent"] == 97
    assert row["max_cadss6"] == 5


def test_scores_carry_totals_and_pcl5_clusters(record: PatientRecord) -> None:
    phq9, pcl5 = table(record, "scores")
    assert (phq9["instrument"], phq9["total"], phq9["subscale_b"]) == ("phq9", 18, None)
    assert (pcl5["subscale_b"], pcl5["subscale_c"], pcl5["subscale_d"], pcl5["subscale_e"]) == (
        15,
        6,
        21,
        18,
    )


def test_a_new_key_file_is_private_and_never_overwritten(tmp_path) -> None:
    path = tmp_path / "research.key"
    key = research.new_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert research.load_key(path) == key
    with pytest.raises(InvalidInput, match="never overwrites"):
        research.new_key(path)


def test_a_missing_or_malformed_key_is_refused(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="create one with --new-key"):
        research.load_key(tmp_path / "absent.key")
    short = tmp_path / "short.key"
    short.write_text("abcd")
    with pytest.raises(InvalidInput, match="at least 32 bytes"):
        research.load_key(short)
