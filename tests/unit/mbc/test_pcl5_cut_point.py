"""The clinic's PCL-5 cut-point ("probable PTSD", default 33 [cited: VA PCL-5 guide,
REFERENCE.md §8.1]) scores staff entries and self-reports of both PCL-5 forms
(services/mbc.py, services/mbc_self_report.py, services/clinic_settings.py)."""

from __future__ import annotations

import pytest

from ketaclinic.domain.errors import InvalidInput, PermissionDenied
from ketaclinic.services import clinic_settings, mbc
from ketaclinic.services import mbc_self_report as sr
from ketaclinic.services.audit import Actor

FLAG = "probable_ptsd_cut_point"
PUBLIC = Actor(None, "203.0.113.9")


def pcl5_total(total: int) -> list[int]:
    """20 answers 0–4 adding up to ``total``."""
    answers = [0] * 20
    for n in range(total):
        answers[n % 20] += 1
    return answers


def staff_entry(world, total: int, instrument: str = "pcl5"):
    with world.uow() as uow:
        recorded = mbc.record_response(
            uow,
            world.clock,
            world.actor("nurse.mia"),
            world.patient,
            instrument,
            pcl5_total(total),
            notifier=world.notifier,
        )
    world.clock.advance(minutes=1)
    return recorded.response


def set_cut_point(world, value: float | None, who: str = "director.mia"):
    with world.uow() as uow:
        return clinic_settings.set_value(
            uow,
            world.clock,
            world.actor(who),
            kind="outcome",
            key="pcl5.cut_point",
            value=value,
            reason="Screening at intake: lower end of the range",
        )


def test_the_shipped_cut_point_is_33_with_its_source(world) -> None:
    assert FLAG not in staff_entry(world, 32).flags
    assert FLAG in staff_entry(world, 33).flags
    with world.uow() as uow:
        view = clinic_settings.settings_view(uow, world.clock, world.actor("nurse.mia"), "outcome")
    (row,) = [r for r in view.rows if r.item.key == "pcl5.cut_point"]
    assert row.effective.value == 33
    assert row.item.default.provenance.label() == "[cited: VA PCL-5 guide, REFERENCE.md §8.1]"
    assert not row.overridden


@pytest.mark.parametrize("instrument", ["pcl5", "pcl5-week"])
def test_a_clinic_cut_point_scores_staff_entries_of_both_forms(world, instrument) -> None:
    set_cut_point(world, 31)
    assert FLAG in staff_entry(world, 31, instrument).flags
    assert FLAG not in staff_entry(world, 30, instrument).flags
    with world.uow() as uow:
        used = clinic_settings.clinic_pcl5_cut_point(uow)
    assert used.value == 31
    assert "clinic value (approved by director.mia" in used.provenance.label()
    assert (
        "default 33 {score}, source cited: VA PCL-5 guide, REFERENCE.md §8.1"
        in used.provenance.label()
    )
    set_cut_point(world, None)  # reset: the default applies again
    assert FLAG not in staff_entry(world, 32, instrument).flags


def test_a_clinic_cut_point_scores_self_reports(world) -> None:
    set_cut_point(world, 30)
    with world.uow() as uow:
        issued = sr.request_self_report(
            uow, world.clock, world.actor("nurse.mia"), world.patient, ["pcl5", "pcl5-week"]
        )
    month = dict(zip((f"pcl5_{n:02d}" for n in range(1, 21)), pcl5_total(30), strict=True))
    week = dict(zip((f"pcl5_{n:02d}" for n in range(1, 21)), pcl5_total(29), strict=True))
    with world.uow() as uow:
        done = sr.submit_self_report(
            uow,
            world.clock,
            PUBLIC,
            issued.token,
            {"pcl5": month, "pcl5-week": week},
            language="en",
            notifier=world.notifier,
        )
    flagged = {r.instrument_id: FLAG in r.flags for r in done.responses}
    assert flagged == {"pcl5": True, "pcl5-week": False}


@pytest.mark.parametrize("value", [-1, 81, float("nan")])
def test_a_cut_point_outside_the_pcl5_range_is_refused_and_nothing_changes(world, value) -> None:
    with pytest.raises(InvalidInput) as raised:
        set_cut_point(world, value)
    assert raised.value.field == "pcl5.cut_point"
    assert "0–80" in str(raised.value)
    with world.uow() as uow:
        assert clinic_settings.clinic_pcl5_cut_point(uow).value == 33


def test_only_the_director_sets_the_cut_point(world) -> None:
    with pytest.raises(PermissionDenied):
        set_cut_point(world, 31, who="prescriber.mia")
    assert FLAG not in staff_entry(world, 32).flags
