"""One contract for every RecordReader: the in-memory fake, SQLite and PostgreSQL return the
same records in the same order, page through a site by id, and leave unknown ids out; the SQL
readers join vitals with their monitor message and give a series its cancelled visits."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Role, Sex
from ketaclinic.domain.vitals import VitalKind, VitalSource
from ketaclinic.services.intake_models import NewVisit, Series, TreatmentPlan

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def seed(uow_factory) -> dict[str, int]:
    with uow_factory() as uow:
        uow.sites.set_organisation_name("Contract Clinic")
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        nurse = uow.users.add("nurse.c", "Nurse C", Role.NURSE, frozenset({mia.id}), "hash")
        ids: dict[str, int] = {"mia": mia.id, "fll": fll.id, "nurse": nurse.id}
        for n in range(1, 6):
            site = mia if n != 3 else fll
            p = uow.patients.add(
                NewPatient(site.id, f"C-{n}", "Ana", f"Family{n}", dt.date(1980, 1, n), Sex.FEMALE),
                T0,
            )
            ids[f"C-{n}"] = p.id
            uow.patients.add_measurement(
                BodyMeasurement(p.id, T0 + dt.timedelta(days=1), 71.0, None, nurse.id)
            )
            uow.patients.add_measurement(BodyMeasurement(p.id, T0, 70.0, 160.0, nurse.id))
        uow.commit()
    return ids


def test_patient_ids_page_through_a_site_in_id_order(uow_factory) -> None:
    ids = seed(uow_factory)
    mia = frozenset({ids["mia"]})
    expected = [ids[f"C-{n}"] for n in (1, 2, 4, 5)]
    with uow_factory() as uow:
        first = uow.records.patient_ids(mia, limit=3)
        rest = uow.records.patient_ids(mia, after_id=first[-1], limit=3)
        assert uow.records.patient_ids(frozenset(), limit=3) == []
    assert first + rest == expected


def test_records_come_in_the_order_asked_without_unknown_ids(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        found = uow.records.records([ids["C-4"], 999_999, ids["C-1"]])
    assert [r.patient.mrn for r in found] == ["C-4", "C-1"]
    first = found[0]
    assert first.site.code == "MIA"
    assert first.organisation == "Contract Clinic"
    assert [m.weight_kg for m in first.measurements] == [70.0, 71.0]
    assert first.username(first.measurements[0].recorded_by) == "nurse.c"
    assert first.access == ()


def test_sql_reader_joins_vitals_with_their_monitor_message(db_url: str) -> None:
    """Vital readings live in SQL tables only (the fake is fed by its tests), so this part of
    the contract runs on the two databases."""
    engine = make_engine(db_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
    ids = seed(uow_factory)
    with engine.begin() as conn:
        message = conn.execute(
            t.monitor_message.insert()
            .values(
                sending_application="MON",
                sending_facility="MIA",
                control_id="CTL-9",
                patient_id=ids["C-1"],
                chair_code="MIA-1",
                message_time=T0,
                received_at=T0,
            )
            .returning(t.monitor_message.c.id)
        ).scalar_one()
        for kind, code, message_id in (
            ("heart_rate", "147842", message),
            ("spo2", "59408-5", None),
        ):
            conn.execute(
                sa.insert(t.vital_reading).values(
                    patient_id=ids["C-1"],
                    kind=kind,
                    value=90.0,
                    unit="/min",
                    code=code,
                    observed_at=T0,
                    source="monitor" if message_id else "manual",
                    monitor_message_id=message_id,
                    recorded_at=T0,
                )
            )
    with uow_factory() as uow:
        (record,) = uow.records.records([ids["C-1"]])
    heart, spo2 = sorted(record.vitals, key=lambda v: v.kind.value)
    assert heart.kind is VitalKind.HEART_RATE
    assert heart.source is VitalSource.MONITOR
    assert heart.monitor is not None
    assert heart.monitor.control_id == "CTL-9"
    assert heart.observed_at == T0
    assert spo2.monitor is None
    engine.dispose()


def test_sql_reader_keeps_a_series_booked_and_cancelled_visits_apart(db_url: str) -> None:
    """A cancelled visit leaves ``series_visit`` for ``cancelled_visit`` (intake); the reader
    gives it back on its series with the booked start and end, who cancelled it, when and why."""
    engine = make_engine(db_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
    ids = seed(uow_factory)
    day = dt.timedelta(days=1)
    with uow_factory() as uow:
        chair = uow.sites.add_chair(ids["mia"], "MIA-3", "Chair 3")
        plan = uow.schedule.add_plan(
            TreatmentPlan(0, ids["C-2"], "feder-2021", 0.5, T0.date(), ids["nurse"], T0)
        )
        series = uow.schedule.add_series(
            Series(0, ids["C-2"], ids["mia"], plan.id, "feder-2021", ids["nurse"], T0),
            [
                NewVisit(chair.id, n, T0 + n * day, T0 + n * day + dt.timedelta(hours=3), d)
                for n, d in ((1, (T0 + day).date()), (2, (T0 + 2 * day).date()))
            ],
        )
        second = series.visits[1]
        uow.schedule.cancel_visit(second.id, ids["nurse"], T0 + dt.timedelta(hours=2), "Ill")
        uow.commit()
    with uow_factory() as uow:
        (record,) = uow.records.records([ids["C-2"]])
    (row,) = record.series
    assert [v.number for v in row.visits] == [1]
    (cancelled,) = row.cancelled
    assert cancelled.visit.id == second.id
    assert (cancelled.visit.number, cancelled.visit.chair_code) == (2, "MIA-3")
    assert (cancelled.visit.starts_at, cancelled.visit.ends_at) == (
        second.starts_at,
        second.ends_at,
    )
    assert cancelled.cancelled_at == T0 + dt.timedelta(hours=2)
    assert record.username(cancelled.cancelled_by) == "nurse.c"
    assert cancelled.reason == "Ill"
    engine.dispose()
