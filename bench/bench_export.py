"""Bulk FHIR export: memory stays flat however large the site (DESIGN.md §5, issue 7).

A SQLite clinic of 10,000 patients at one site, each with three body measurements and six
vital readings (two blood-pressure pairs, heart rate, SpO2), is exported with
``ketaclinic.adapters.fhir.ndjson.export_site`` (batches of 200 patients). The peer is the same
export of a 1,000-patient clinic in the same run: if memory is flat, the resident set grows by
about the same amount for both, however many patients are written. Resident memory is sampled
from /proc/self/statm after every batch.

Run alone with ``.venv/bin/python -m bench export``.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from ketaclinic.adapters.db import migrate
from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.adapters.fhir import ndjson
from ketaclinic.services.interop import Operator
from ketaclinic.services.ports import FixedClock

SIZES = (1_000, 10_000)
T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
PAGE_BYTES = 4096


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        resident_pages = int(handle.read().split()[1])
    return resident_pages * PAGE_BYTES / 2**20


def populate(url: str, patients: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    rng = random.Random(7)
    with engine.begin() as conn:
        conn.execute(t.organisation.insert().values(id=1, name="Bench Clinic"))
        site_id = conn.execute(
            t.site.insert()
            .values(code="MIA", name="Miami", timezone="America/New_York")
            .returning(t.site.c.id)
        ).scalar_one()
        for start in range(0, patients, 1000):
            rows = [
                {
                    "id": n + 1,
                    "site_id": site_id,
                    "mrn": f"B-{n + 1:06d}",
                    "given_name": "Test",
                    "family_name": f"Patient{n + 1}",
                    "birth_date": dt.date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                    "sex": "female" if n % 2 else "male",
                    "created_at": T0,
                }
                for n in range(start, min(start + 1000, patients))
            ]
            conn.execute(t.patient.insert(), rows)
            ids = [r["id"] for r in rows]
            conn.execute(
                t.body_measurement.insert(),
                [
                    {
                        "patient_id": pid,
                        "measured_at": T0 + dt.timedelta(weeks=w),
                        "weight_kg": round(rng.uniform(55, 110), 1),
                        "height_cm": 170.0,
                    }
                    for pid in ids
                    for w in range(3)
                ],
            )
            vitals = []
            for pid in ids:
                for minute in (0, 15):
                    at = T0 + dt.timedelta(minutes=minute)
                    for kind, code, unit, value in (
                        ("bp_systolic", "8480-6", "mm[Hg]", rng.uniform(110, 150)),
                        ("bp_diastolic", "8462-4", "mm[Hg]", rng.uniform(65, 95)),
                        ("heart_rate", "8867-4", "/min", rng.uniform(60, 100)),
                    ):
                        vitals.append(
                            {
                                "patient_id": pid,
                                "kind": kind,
                                "value": round(value),
                                "unit": unit,
                                "code": code,
                                "observed_at": at,
                                "source": "manual",
                                "recorded_at": at,
                            }
                        )
            conn.execute(t.vital_reading.insert(), vitals)
    engine.dispose()


def export(patients: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        populate(url, patients)
        engine = make_engine(url)
        samples: list[float] = []
        before = rss_mib()
        started = time.perf_counter()
        counts = ndjson.export_site(
            SqlUnitOfWorkFactory(engine),
            FixedClock(T0 + dt.timedelta(days=60)),
            Operator("bench"),
            "MIA",
            folder / "out",
            progress=lambda done, total: samples.append(rss_mib()),
        )
        seconds = time.perf_counter() - started
        engine.dispose()
        with sa.create_engine(url).connect() as conn:
            audited = conn.execute(
                sa.select(sa.func.count()).select_from(t.audit_event)
            ).scalar_one()
        first_tenth = samples[max(0, len(samples) // 10 - 1)]
        return {
            "patients": patients,
            "resources": sum(counts.values()),
            "seconds": seconds,
            "growth_mib": max(samples) - before,
            "late_growth_mib": samples[-1] - first_tenth,
            "audited": audited,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run() -> str:
    results = [export(n) for n in SIZES]
    lines = [
        "## Export",
        "",
        "Bulk NDJSON export of one site (`ketaclinic export ndjson`), SQLite, batches of 200",
        "patients; each patient has 3 body measurements and 6 vital readings. *Growth* is the",
        "resident memory added during the export (peak − before); *late growth* is what it added",
        "between the first tenth and the end. Flat memory: the 10,000-patient export grows no",
        "more than the 1,000-patient peer.",
        "",
        "| patients | resources | time (s) | resources/s | growth (MiB) | late growth (MiB) "
        "| audit entries |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['patients']:,.0f} | {r['resources']:,.0f} | {r['seconds']:.1f} "
            f"| {r['resources'] / r['seconds']:,.0f} | {r['growth_mib']:.1f} "
            f"| {r['late_growth_mib']:.1f} | {r['audited']:,.0f} |"
        )
    small, large = results
    verdict = "flat" if large["growth_mib"] <= small["growth_mib"] + 16 else "NOT flat"
    lines += [
        "",
        f"Target: memory flat on a 10,000-patient export — **{verdict}** "
        f"({large['growth_mib']:.1f} MiB for 10,000 vs {small['growth_mib']:.1f} MiB for "
        "1,000 patients; 16 MiB allows for allocator noise).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())
