"""One contract for the measurement-based-care repositories: the in-memory fake, SQLite and
PostgreSQL must store and return the same things (STYLE.md §3)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.errors import Conflict
from ketaclinic.domain.instruments import record_cssrs, score, validate_content_pack
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.services.mbc_model import CssrsDetail, QuestionnaireResponse, ResponseSource

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def seed(uow_factory) -> dict[str, int]:
    with uow_factory() as uow:
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        p1 = uow.patients.add(
            NewPatient(mia.id, "P-1", "Ana", "Ocampo", dt.date(1980, 1, 2), Sex.FEMALE), T0
        )
        p2 = uow.patients.add(
            NewPatient(fll.id, "P-2", "Bea", "Redfern", dt.date(1981, 1, 2), Sex.FEMALE), T0
        )
        nurse = uow.users.add("nurse.a", "Nurse A", Role.NURSE, frozenset({mia.id}), "hash")
        uow.commit()
    return {"mia": mia.id, "fll": fll.id, "p1": p1.id, "p2": p2.id, "nurse": nurse.id}


def phq9(patient_id: int, at: dt.datetime, answers: list[int], by: int | None = None):
    return QuestionnaireResponse.scored(
        score("phq9", answers),
        patient_id=patient_id,
        source=ResponseSource.STAFF_ENTRY if by else ResponseSource.SELF_REPORT,
        entered_by=by,
        completed_at=at,
        language="es",
    )


def test_a_response_and_its_score_come_back_as_stored(uow_factory) -> None:
    ids = seed(uow_factory)
    answers = [3, 2, 1, 0, 0, 1, 2, 0, 1]
    with uow_factory() as uow:
        stored = uow.responses.add(phq9(ids["p1"], T0, answers, ids["nurse"]), T0)
        uow.commit()
    with uow_factory() as uow:
        found = uow.responses.get(stored.id)
    assert found is not None
    assert found == stored
    assert list(found.answers.values()) == answers
    assert list(found.answers) == [f"phq9_{n:02d}" for n in range(1, 10)]
    assert found.total == 10
    assert found.severity == "moderate"
    assert "phq9_item9_positive" in found.flags
    assert found.source is ResponseSource.STAFF_ENTRY
    assert found.entered_by == ids["nurse"]
    assert found.language == "es"
    assert found.completed_at == T0
    assert found.recorded_at == T0


def test_pcl5_clusters_and_the_who5_percentage_survive_storage(uow_factory) -> None:
    ids = seed(uow_factory)
    pcl5 = score("pcl5", [2] * 20)
    who5 = score("who5", [3, 3, 3, 3, 3])
    with uow_factory() as uow:
        for n, result in enumerate((pcl5, who5)):
            uow.responses.add(
                QuestionnaireResponse.scored(
                    result,
                    patient_id=ids["p1"],
                    source=ResponseSource.INTAKE,
                    entered_by=ids["nurse"],
                    completed_at=T0 + dt.timedelta(minutes=n),
                    language="en",
                ),
                T0,
            )
        uow.commit()
    with uow_factory() as uow:
        stored_pcl5, stored_who5 = uow.responses.for_patient(ids["p1"])
    assert dict(stored_pcl5.subscales) == {"B": 10, "C": 4, "D": 14, "E": 12}
    assert stored_pcl5.flags == pcl5.flags
    assert stored_who5.severity == 60  # an int percentage, not the text "60"


def test_a_clinician_cssrs_result_is_kept_with_its_response(uow_factory) -> None:
    ids = seed(uow_factory)
    result = record_cssrs(
        form="since_last_contact",
        risk_level="moderate",
        positive_questions=[1, 2],
        q6_within_3_months=None,
        clinician_id="nurse.a",
        action="Safety plan reviewed",
    )
    with uow_factory() as uow:
        stored = uow.responses.add(
            QuestionnaireResponse.scored(
                result.as_score_result(),
                patient_id=ids["p1"],
                source=ResponseSource.STAFF_ENTRY,
                entered_by=ids["nurse"],
                completed_at=T0,
                language="en",
                cssrs=CssrsDetail(result.form, result.risk_level, result.action),
            ),
            T0,
        )
        uow.commit()
    with uow_factory() as uow:
        found = uow.responses.get(stored.id)
    assert found is not None
    assert found.total is None
    assert found.severity == "moderate"
    assert found.cssrs == CssrsDetail("since_last_contact", "moderate", "Safety plan reviewed")
    assert dict(found.answers) == {
        "cssrs_01": 1,
        "cssrs_02": 1,
        "cssrs_03": 0,
        "cssrs_04": 0,
        "cssrs_05": 0,
        "cssrs_06": 0,
    }


def test_a_repeated_submission_is_refused_and_the_first_is_kept(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        first = uow.responses.add(phq9(ids["p1"], T0, [0] * 9, ids["nurse"]), T0)
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(Conflict, match="already recorded"):
            uow.responses.add(phq9(ids["p1"], T0, [1] * 9, ids["nurse"]), T0)
        # The unit of work stays usable after the refusal.
        later = uow.responses.add(phq9(ids["p1"], T0 + dt.timedelta(days=1), [1] * 9), T0)
        uow.commit()
    with uow_factory() as uow:
        stored = uow.responses.for_patient(ids["p1"])
    assert [r.id for r in stored] == [first.id, later.id]
    assert stored[0].total == 0


def test_responses_come_oldest_first_and_filter_by_instrument(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        uow.responses.add(phq9(ids["p1"], T0 + dt.timedelta(days=7), [1] * 9), T0)
        uow.responses.add(phq9(ids["p1"], T0, [2] * 9), T0)
        uow.responses.add(
            QuestionnaireResponse.scored(
                score("gad7", [1] * 7),
                patient_id=ids["p1"],
                source=ResponseSource.SELF_REPORT,
                entered_by=None,
                completed_at=T0 + dt.timedelta(days=3),
                language="en",
            ),
            T0,
        )
        uow.commit()
    with uow_factory() as uow:
        assert [r.total for r in uow.responses.for_patient(ids["p1"])] == [18, 7, 9]
        assert [r.total for r in uow.responses.for_patient(ids["p1"], ["phq9"])] == [18, 9]
        assert uow.responses.for_patient(ids["p2"]) == []


def test_cohort_totals_are_scoped_to_sites_and_dates_in_patient_time_order(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        for patient, days, value in (
            ("p2", 0, 3),
            ("p1", 14, 1),
            ("p1", 0, 2),
            ("p1", 40, 0),
            ("p2", 7, 1),
        ):
            at = T0 + dt.timedelta(days=days)
            uow.responses.add(phq9(ids[patient], at, [value] * 9), T0)
        uow.commit()
    with uow_factory() as uow:
        both = frozenset({ids["mia"], ids["fll"]})
        cols = uow.responses.cohort_totals(frozenset({"phq9"}), both)
        p1, p2 = ids["p1"], ids["p2"]
        expected = [(p1, 0, 18), (p1, 14, 9), (p1, 40, 0), (p2, 0, 27), (p2, 7, 9)]
        if p2 < p1:
            expected = expected[3:] + expected[:3]
        day_s = 86400.0
        assert [
            (p, round((s - T0.timestamp()) / day_s), total)
            for p, s, total in zip(cols.patient_id, cols.completed_s, cols.total, strict=True)
        ] == expected
        # Seconds since the epoch to the microsecond (float rounding only).
        assert min(cols.completed_s) == pytest.approx(T0.timestamp(), abs=1e-3)
        sites = dict(zip(cols.patient_id, cols.site_id, strict=True))
        assert sites == {p1: ids["mia"], p2: ids["fll"]}
        mia_only = uow.responses.cohort_totals(frozenset({"phq9"}), frozenset({ids["mia"]}))
        assert set(mia_only.patient_id) == {p1}
        window = uow.responses.cohort_totals(
            frozenset({"phq9"}), both, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=40)
        )
        assert (
            list(zip(window.patient_id, window.total, strict=True))
            == [(p1, 9), (p2, 9)][:: 1 if p1 < p2 else -1]
        )
        assert len(uow.responses.cohort_totals(frozenset({"gad7"}), both)) == 0


def test_cohort_totals_of_several_instruments_interleave_in_time_order(uow_factory) -> None:
    """Both PCL-5 forms together (as the cohort report asks), one list in time order."""
    ids = seed(uow_factory)
    with uow_factory() as uow:
        for form, minutes, value in (
            ("pcl5-week", 30, 1),
            ("pcl5", 0, 2),
            ("pcl5", 60, 3),
            ("phq9", 45, 0),
        ):
            at = T0 + dt.timedelta(minutes=minutes)
            answers = [value] * (9 if form == "phq9" else 20)
            uow.responses.add(
                QuestionnaireResponse.scored(
                    score(form, answers),
                    patient_id=ids["p1"],
                    source=ResponseSource.SELF_REPORT,
                    entered_by=None,
                    completed_at=at,
                    language="en",
                ),
                T0,
            )
        uow.commit()
    with uow_factory() as uow:
        both = uow.responses.cohort_totals(
            frozenset({"pcl5", "pcl5-week"}), frozenset({ids["mia"]})
        )
        only_week = uow.responses.cohort_totals(frozenset({"pcl5-week"}), frozenset({ids["mia"]}))
    assert list(both.total) == [40, 20, 60]
    assert list(only_week.total) == [20]


def test_safety_tasks_open_close_once_and_record_who_and_when(uow_factory) -> None:
    ids = seed(uow_factory)
    due = T0 + dt.timedelta(hours=10)
    with uow_factory() as uow:
        response = uow.responses.add(phq9(ids["p1"], T0, [1] * 9), T0)
        task = uow.safety_tasks.add(
            patient_id=ids["p1"],
            site_id=ids["mia"],
            response_id=response.id,
            reason="phq9_item9_positive",
            raised_at=T0,
            due_at=due,
        )
        other = uow.safety_tasks.add(
            patient_id=ids["p2"],
            site_id=ids["fll"],
            response_id=None,
            reason="suicide_risk_review",
            raised_at=T0,
            due_at=due,
        )
        uow.safety_tasks.mark_notified(task.id, T0 + dt.timedelta(seconds=5))
        uow.commit()
    with uow_factory() as uow:
        assert [t.id for t in uow.safety_tasks.open_for_sites(frozenset({ids["mia"]}))] == [task.id]
        found = uow.safety_tasks.get(task.id)
        assert found is not None
        assert found.is_open
        assert found.notified_at == T0 + dt.timedelta(seconds=5)
        assert found.due_at == due
        closed_at = T0 + dt.timedelta(hours=1)
        assert uow.safety_tasks.close(
            task.id, closed_by=ids["nurse"], closed_at=closed_at, action="Called; safe"
        )
        assert not uow.safety_tasks.close(
            task.id, closed_by=ids["nurse"], closed_at=closed_at, action="again"
        )
        uow.commit()
    with uow_factory() as uow:
        closed = uow.safety_tasks.get(task.id)
        assert closed is not None
        assert not closed.is_open
        assert (closed.closed_by, closed.closed_at, closed.action) == (
            ids["nurse"],
            closed_at,
            "Called; safe",
        )
        assert uow.safety_tasks.open_for_sites(frozenset({ids["mia"]})) == []
        assert [t.id for t in uow.safety_tasks.for_patient(ids["p2"])] == [other.id]
        assert uow.safety_tasks.get(999_999) is None


PACK = {
    "format": "ketaclinic.content-pack/1",
    "instrument": "gad7",
    "language": "es",
    "licence": {"attested_by": "Dr Test", "attested_on": "2026-01-15", "statement": "Public"},
    "title": "Título de prueba",
    "items": {f"gad7_{n:02d}": f"Texto del ítem de prueba {n}" for n in range(1, 8)},
    "anchors": ["cero", "uno", "dos", "tres"],
}


def test_content_packs_keep_every_load_and_serve_the_newest(uow_factory) -> None:
    seed(uow_factory)
    first = validate_content_pack(PACK)
    second = validate_content_pack({**PACK, "title": "Título nuevo", "licence": None})
    english = validate_content_pack({**PACK, "language": "en", "title": "Test title"})
    with uow_factory() as uow:
        uow.content_packs.add(first, T0)
        newest = uow.content_packs.add(second, T0 + dt.timedelta(days=1))
        uow.content_packs.add(english, T0)
        uow.commit()
    with uow_factory() as uow:
        latest = uow.content_packs.latest("gad7", "es")
        assert latest is not None
        assert latest.id == newest.id
        assert latest.pack == second
        assert latest.pack.licence is None
        assert uow.content_packs.latest("gad7", "fr") is None
        assert [
            (p.pack.instrument_id, p.pack.language, p.pack.title)
            for p in uow.content_packs.all_latest()
        ] == [
            ("gad7", "en", "Test title"),
            ("gad7", "es", "Título nuevo"),
        ]
        assert uow.content_packs.all_latest()[0].pack.licence == first.licence


def test_a_self_report_link_is_found_by_its_hash_and_used_only_once(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        link = uow.self_report_links.add(
            patient_id=ids["p1"],
            site_id=ids["mia"],
            token_hash="a" * 64,
            instrument_ids=("pcl5", "phq9"),
            created_by=ids["nurse"],
            created_at=T0,
            expires_at=T0 + dt.timedelta(days=7),
            language="es",
            due_at=None,
        )
        uow.commit()
    with uow_factory() as uow:
        found = uow.self_report_links.by_token_hash("a" * 64)
        assert found == link
        assert uow.self_report_links.by_token_hash("b" * 64) is None
        assert uow.self_report_links.mark_used(link.id, T0 + dt.timedelta(hours=1))
        assert not uow.self_report_links.mark_used(link.id, T0 + dt.timedelta(hours=2))
        uow.self_report_links.mark_mailed(link.id, T0)
        uow.commit()
    with uow_factory() as uow:
        (stored,) = uow.self_report_links.for_patient(ids["p1"])
    assert stored.used_at == T0 + dt.timedelta(hours=1)
    assert stored.mailed_at == T0
    assert stored.instrument_ids == ("pcl5", "phq9")


def test_uncommitted_mbc_work_is_rolled_back(uow_factory) -> None:
    ids = seed(uow_factory)
    with uow_factory() as uow:
        uow.responses.add(phq9(ids["p1"], T0, [1] * 9), T0)
        uow.safety_tasks.add(
            patient_id=ids["p1"],
            site_id=ids["mia"],
            response_id=None,
            reason="phq9_item9_positive",
            raised_at=T0,
            due_at=T0,
        )
    with uow_factory() as uow:
        assert uow.responses.for_patient(ids["p1"]) == []
        assert uow.safety_tasks.for_patient(ids["p1"]) == []


def test_a_bulk_insert_stores_all_or_nothing(uow_factory) -> None:
    ids = seed(uow_factory)
    from dataclasses import replace

    batch = [
        replace(phq9(ids["p1"], T0 + dt.timedelta(days=n), [n % 4] * 9), recorded_at=T0)
        for n in range(3)
    ]
    with uow_factory() as uow:
        assert uow.responses.add_many(batch) == 3
        uow.commit()
    with uow_factory() as uow:
        with pytest.raises(Conflict, match="nothing was stored"):
            uow.responses.add_many(
                [
                    replace(phq9(ids["p1"], T0 + dt.timedelta(days=9), [1] * 9), recorded_at=T0),
                    batch[0],
                ]
            )
        uow.commit()
    with uow_factory() as uow:
        stored = uow.responses.for_patient(ids["p1"])
    assert [r.total for r in stored] == [0, 9, 18]
    assert all(r.recorded_at == T0 for r in stored)


def test_a_bulk_insert_needs_recorded_times_and_takes_no_cssrs(uow_factory) -> None:
    from ketaclinic.domain.errors import InvalidInput

    ids = seed(uow_factory)
    with uow_factory() as uow, pytest.raises(InvalidInput, match="recorded_at"):
        uow.responses.add_many([phq9(ids["p1"], T0, [1] * 9)])
