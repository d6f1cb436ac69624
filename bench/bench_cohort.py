"""Cohort outcome report: 10,000 patients on SQLite (issue 3).

A SQLite clinic of two sites with ``N`` patients (default 10,000): each has ten weekly PCL-5
totals (100,000 responses); four in five have a booked series (feder-2021 or abdallah-2022) whose
first visit comes after their second score, half of those an infusion session that started
then; one in ten has only a signed plan. ``services.mbc_cohort.outcome_report`` (one query for
the scores, one set for the infusion anchors, NumPy for the rest) is timed best-of-three for the
director of both sites, with and without a date range. The peer is the same report over a
tenth of the patients in the same run: the time should grow about linearly.

Run alone with ``.venv/bin/python -m bench cohort``; ``run(n)`` takes a smaller ``n`` for a quick
check.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
import time
from pathlib import Path

from ketaclinic.adapters.db import migrate
from ketaclinic.adapters.db import tables as t
from ketaclinic.adapters.db import tables_chair as ch
from ketaclinic.adapters.db import tables_intake as ti
from ketaclinic.adapters.db import tables_mbc as m
from ketaclinic.adapters.db.engine import make_engine
from ketaclinic.adapters.db.uow import SqlUnitOfWorkFactory
from ketaclinic.domain.people import Principal, Role
from ketaclinic.services.audit import Actor
from ketaclinic.services.mbc_cohort import outcome_report
from ketaclinic.services.ports import FixedClock

N_PATIENTS = 10_000
WEEKS = 10
T0 = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)
PROTOCOLS = ("feder-2021", "abdallah-2022")
BATCH = 1000


def populate(url: str, patients: int) -> None:
    """Sites, a director, chairs, ``patients`` patients with scores, series, sessions, plans."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    rng = random.Random(3)
    with engine.begin() as conn:
        conn.execute(t.organisation.insert().values(id=1, name="Bench Clinic"))
        for site_id, code in ((1, "MIA"), (2, "FLL")):
            conn.execute(
                t.site.insert().values(
                    id=site_id, code=code, name=code, timezone="America/New_York"
                )
            )
            conn.execute(
                t.chair.insert().values(id=site_id, site_id=site_id, code=f"{code}-1", name="1")
            )
        conn.execute(
            t.staff_user.insert().values(
                id=1,
                username="director",
                display_name="Director",
                role="director",
                password_hash="x",
                email="",
                active=True,
            )
        )
        conn.execute(
            t.user_site.insert(), [{"user_id": 1, "site_id": 1}, {"user_id": 1, "site_id": 2}]
        )
        plan_id = series_id = visit_id = session_id = 0
        for start in range(0, patients, BATCH):
            people, scores, plans, series, visits, sessions = [], [], [], [], [], []
            for n in range(start, min(start + BATCH, patients)):
                pid, site = n + 1, 1 + n % 2
                people.append(
                    {
                        "id": pid,
                        "site_id": site,
                        "mrn": f"B-{pid:06d}",
                        "given_name": "Test",
                        "family_name": f"Patient{pid}",
                        "birth_date": dt.date(1960 + n % 40, 1 + n % 12, 1 + n % 28),
                        "sex": "female" if n % 2 else "male",
                        "created_at": T0,
                    }
                )
                base = rng.randint(35, 75)
                depth = rng.uniform(0.0, 0.7)
                for week in range(WEEKS):
                    at = T0 + dt.timedelta(weeks=week, minutes=pid % 600)
                    fraction = depth * min(1.0, max(0, week - 1) / 3)
                    total = max(0, min(80, round(base * (1 - fraction) + rng.gauss(0, 3))))
                    scores.append(_response(pid, at, total))
                kind = n % 10
                protocol = PROTOCOLS[n % 2]
                signed = T0 + dt.timedelta(days=3)
                if kind < 9:
                    plan_id += 1
                    plans.append(
                        {
                            "id": plan_id,
                            "patient_id": pid,
                            "protocol_id": protocol,
                            "dose_mg_per_kg": 0.5,
                            "start_date": signed.date(),
                            "note": "",
                            "signed_by": 1,
                            "signed_at": signed,
                        }
                    )
                if kind < 8:
                    series_id += 1
                    series.append(
                        {
                            "id": series_id,
                            "patient_id": pid,
                            "site_id": site,
                            "plan_id": plan_id,
                            "protocol_id": protocol,
                            "booked_by": 1,
                            "booked_at": signed,
                            "decision_note": "",
                        }
                    )
                    for number in range(1, 7):
                        visit_id += 1
                        starts = T0 + dt.timedelta(days=8 + 2 * number, seconds=visit_id)
                        visits.append(
                            {
                                "id": visit_id,
                                "series_id": series_id,
                                "patient_id": pid,
                                "site_id": site,
                                "chair_id": site,
                                "number": number,
                                "starts_at": starts,
                                "ends_at": starts + dt.timedelta(hours=2),
                                "local_day": starts.date(),
                            }
                        )
                    if kind < 4:
                        session_id += 1
                        began = T0 + dt.timedelta(days=10, hours=1)
                        sessions.append(
                            {
                                "id": session_id,
                                "patient_id": pid,
                                "site_id": site,
                                "chair_id": site,
                                "protocol_id": protocol,
                                "state": "discharged",
                                "checked_in_at": began - dt.timedelta(minutes=30),
                                "checked_in_by": 1,
                                "infusion_started_at": began,
                                "closed_at": began + dt.timedelta(hours=3),
                                "updated_at": began + dt.timedelta(hours=3),
                            }
                        )
            conn.execute(t.patient.insert(), people)
            conn.execute(m.questionnaire_response.insert(), scores)
            for table, rows in (
                (ti.treatment_plan, plans),
                (ti.treatment_series, series),
                (ti.series_visit, visits),
                (ch.infusion_session, sessions),
            ):
                if rows:
                    conn.execute(table.insert(), rows)
    engine.dispose()


def _response(patient_id: int, at: dt.datetime, total: int) -> dict[str, object]:
    answers = {f"pcl5_{k:02d}": min(4, max(0, total - 4 * (k - 1))) for k in range(1, 21)}
    return {
        "patient_id": patient_id,
        "instrument_id": "pcl5",
        "instrument_version": "bench",
        "source": "staff_entry",
        "entered_by": None,
        "completed_at": at,
        "recorded_at": at,
        "language": "en",
        "answers_json": str(answers).replace("'", '"'),
        "total": total,
        "subscales_json": "{}",
        "severity": None,
        "flags_json": "[]",
    }


def time_report(url: str, start: dt.date | None, repeats: int = 3) -> tuple[float, int, int]:
    """Best-of-``repeats`` seconds for the report, its patients and its protocol groups."""
    engine = make_engine(url)
    factory = SqlUnitOfWorkFactory(engine)
    clock = FixedClock(T0 + dt.timedelta(weeks=WEEKS + 1))
    director = Actor(Principal(1, "director", Role.DIRECTOR, frozenset({1, 2})), "bench")
    best = float("inf")
    patients = groups = 0
    for _ in range(repeats):
        began = time.perf_counter()
        with factory() as uow:
            report = outcome_report(uow, clock, director, start=start)
        best = min(best, time.perf_counter() - began)
        overall = report.groups[0].summary
        patients = overall.n if overall is not None else 0
        groups = sum(1 for g in report.groups if g.grouping.value == "protocol")
    engine.dispose()
    return best, patients, groups


def measure(patients: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-cohort-"))
    try:
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        began = time.perf_counter()
        populate(url, patients)
        built = time.perf_counter() - began
        whole, counted, protocols = time_report(url, None)
        ranged, ranged_counted, _ = time_report(url, (T0 + dt.timedelta(weeks=4)).date())
        return {
            "patients": patients,
            "responses": patients * WEEKS,
            "build_s": built,
            "report_s": whole,
            "counted": counted,
            "protocol_groups": protocols,
            "ranged_s": ranged,
            "ranged_counted": ranged_counted,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(n: int = N_PATIENTS) -> str:
    peer = measure(max(1, n // 10))
    full = measure(n)
    growth = full["report_s"] / peer["report_s"] if peer["report_s"] else float("nan")
    lines = [
        "## Cohort outcome report",
        "",
        "`services.mbc_cohort.outcome_report` for a director of two sites on SQLite: ten weekly",
        "PCL-5 totals per patient; 80 % with a booked series (feder-2021 or abdallah-2022), half",
        "of those with a started infusion session, 10 % with only a signed plan. Baseline = last",
        "PCL-5 on or before the first infusion; grouped overall, by site and by protocol.",
        "Best of three; the peer is a tenth of the patients in the same run.",
        "",
        "| patients | PCL-5 responses | report (s) | with a date range (s) | patients counted "
        "| protocol groups |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in (peer, full):
        lines.append(
            f"| {r['patients']:,.0f} | {r['responses']:,.0f} | {r['report_s']:.3f} "
            f"| {r['ranged_s']:.3f} | {r['counted']:,.0f} | {r['protocol_groups']:.0f} |"
        )
    lines += [
        "",
        f"{full['patients']:,.0f} patients take {growth:.1f}× the time of "
        f"{peer['patients']:,.0f} (10× the data); building the database took "
        f"{full['build_s']:.1f} s and is not counted.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(1000))
