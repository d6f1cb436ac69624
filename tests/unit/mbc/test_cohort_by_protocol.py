"""The cohort report groups by protocol as well as by site, and takes each patient's baseline
as the last PCL-5 on or before their first infusion (services/mbc_cohort.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.instruments import score
from ketaclinic.domain.people import NewPatient, Sex
from ketaclinic.services import mbc, mbc_cohort
from ketaclinic.services.mbc_cohort import Grouping
from ketaclinic.services.mbc_model import QuestionnaireResponse, ResponseSource

T0 = dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC)


def day(n: int, hour: int = 14) -> dt.datetime:
    return T0.replace(hour=hour) + dt.timedelta(days=n)


def put(world, patient: int, n: int, total: int) -> None:
    answers = [min(4, max(0, total - 4 * k)) for k in range(20)]
    with world.uow() as uow:
        uow.responses.add(
            QuestionnaireResponse.scored(
                score("pcl5", answers),
                patient_id=patient,
                source=ResponseSource.STAFF_ENTRY,
                entered_by=None,
                completed_at=day(n),
                language="en",
            ),
            day(n),
        )
        uow.commit()


def patient(world, mrn: str) -> int:
    with world.uow() as uow:
        p = uow.patients.add(
            NewPatient(world.mia, mrn, "Test", "Person", dt.date(1970, 1, 1), Sex.MALE), T0
        )
        uow.commit()
    return p.id


def report(world, **kwargs):
    with world.uow() as uow:
        return mbc_cohort.outcome_report(uow, world.clock, world.actor("director.mia"), **kwargs)


@pytest.fixture
def clinic(world) -> dict[str, int]:
    """A: feder-2021 series from day −30 (responds on day −21). B: only an abdallah-2022 plan
    and a session on day −30 (no response). C: nothing recorded (anchored on its first
    score)."""
    a, b, c = world.patient, patient(world, "B-1"), patient(world, "C-1")
    world.book(a, "feder-2021", [day(-30, 13), day(-28, 13), day(-26, 13)])
    for n, total in ((-45, 70), (-35, 50), (-28, 40), (-21, 30)):
        put(world, a, n, total)
    world.plan(b, "abdallah-2022", day(-40))
    world.infuse(b, day(-30, 15), protocol_id="abdallah-2022")
    for n, total in ((-40, 60), (-31, 55), (-20, 50)):
        put(world, b, n, total)
    for n, total in ((-40, 40), (-30, 20)):
        put(world, c, n, total)
    return {"a": a, "b": b, "c": c}


def test_groups_are_all_sites_then_sites_then_protocols(world, clinic) -> None:
    result = report(world)
    rows = [(g.grouping, g.label) for g in result.groups]
    assert rows == [
        (Grouping.ALL, "All sites"),
        (Grouping.SITE, "MIA"),
        (Grouping.PROTOCOL, "abdallah-2022"),
        (Grouping.PROTOCOL, "feder-2021"),
        (Grouping.PROTOCOL, "none"),
    ]
    by_label = {g.label: g for g in result.groups}
    assert "Feder 2021" in by_label["feder-2021"].name
    assert [
        by_label[k].summary.n for k in ("All sites", "abdallah-2022", "feder-2021", "none")
    ] == [
        3,
        1,
        1,
        1,
    ]


def test_each_baseline_follows_the_first_infusion_rule(world, clinic) -> None:
    by_label = {g.label: g for g in report(world).groups}
    # A: baseline 50 (day −35, the last on or before the first visit on day −30), current 30.
    feder = by_label["feder-2021"].summary
    assert feder.mean_change.mean == pytest.approx(20)
    assert feder.response.count == 1
    # Days to response count from the first infusion (day −30) to day −21, as the patient's
    # own outcome page counts days since the first infusion.
    assert by_label["feder-2021"].median_days_to_response == pytest.approx(9)
    # B: baseline 55 (day −31, before the session on day −30), current 50.
    assert by_label["abdallah-2022"].summary.mean_change.mean == pytest.approx(5)
    # C: anchored on its first score: baseline 40, current 20.
    assert by_label["none"].summary.mean_change.mean == pytest.approx(20)


def test_the_cohort_agrees_with_each_patients_outcome_page(world, clinic) -> None:
    by_label = {g.label: g for g in report(world).groups}
    for label, key in (("feder-2021", "a"), ("abdallah-2022", "b"), ("none", "c")):
        with world.uow() as uow:
            view = mbc.patient_outcomes(uow, world.clock, world.actor("nurse.mia"), clinic[key])
        assert view.outcome is not None
        latest = view.outcome.latest
        assert latest is not None
        summary = by_label[label].summary
        assert summary.mean_change.mean == pytest.approx(latest.change)
        assert summary.response.count == int(latest.response)


def test_a_range_keeps_follow_ups_in_range_and_the_older_baseline(world, clinic) -> None:
    result = report(world, start=day(-25).date())
    by_label = {g.label: g for g in result.groups}
    # A keeps baseline 50 though it predates the range; its follow-up in range is day −21.
    assert by_label["feder-2021"].summary.mean_change.mean == pytest.approx(20)
    # C's only follow-up (day −30) is before the range: C no longer counts.
    assert by_label["none"].summary is None
    assert by_label["All sites"].summary.n == 2


def test_the_report_as_json_and_csv_carry_the_grouping(world, clinic) -> None:
    result = report(world)
    body = result.as_dict()
    assert [g["grouping"] for g in body["groups"]] == [
        "all",
        "site",
        "protocol",
        "protocol",
        "protocol",
    ]
    assert "protocol" in body["grouping"]
    lines = mbc_cohort.report_csv(result).strip().split("\n")
    assert lines[0].startswith("grouping,group,")
    assert lines[4].startswith("protocol,feder-2021,,,1,1,1,")
