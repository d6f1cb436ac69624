"""One contract for every implementation of the storage ports: the in-memory fake, SQLite and
PostgreSQL must behave the same (STYLE.md §3)."""

from __future__ import annotations

import datetime as dt

import pytest

from ketaclinic.domain.audit import AuditAction, AuditRecord
from ketaclinic.domain.errors import Conflict, NotFound
from ketaclinic.domain.people import BodyMeasurement, NewPatient, Role, Sex
from ketaclinic.services import audit as audit_svc

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def patient(mrn: str, site_id: int, family: str = "Redfern") -> NewPatient:
    return NewPatient(site_id, mrn, "Ana", family, dt.date(1980, 1, 2), Sex.FEMALE)


def seed(uow_factory: object) -> tuple[int, int]:
    with uow_factory() as uow:  # type: ignore[operator]
        mia = uow.sites.add("MIA", "Miami", "America/New_York")
        fll = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        uow.commit()
    return mia.id, fll.id


def test_it_stores_and_finds_sites_and_chairs(uow_factory: object) -> None:
    mia, _fll = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        uow.sites.add_chair(mia, "MIA-2", "Chair 2")
        uow.sites.add_chair(mia, "MIA-1", "Chair 1")
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        assert [s.code for s in uow.sites.all()] == ["FLL", "MIA"]
        assert [c.code for c in uow.sites.chairs(mia)] == ["MIA-1", "MIA-2"]
        assert uow.sites.by_code("MIA").id == mia
        with pytest.raises(Conflict):
            uow.sites.add("MIA", "again", "UTC")


def test_a_sites_phone_is_stored_changed_and_cleared(uow_factory: object) -> None:
    with uow_factory() as uow:  # type: ignore[operator]
        added = uow.sites.add("MIA", "Miami", "America/New_York", "+1 305 555 0142")
        plain = uow.sites.add("FLL", "Fort Lauderdale", "America/New_York")
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.sites.get(added.id).phone == "+1 305 555 0142"
        assert uow.sites.by_code("FLL").phone == ""
        changed = uow.sites.set_phone(plain.id, "954 555 0178 x2")
        assert changed.phone == "954 555 0178 x2"
        assert changed.code == "FLL"
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        assert {s.code: s.phone for s in uow.sites.all()} == {
            "FLL": "954 555 0178 x2",
            "MIA": "+1 305 555 0142",
        }
        uow.sites.set_phone(added.id, "")
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.sites.get(added.id).phone == ""
        with pytest.raises(NotFound):
            uow.sites.set_phone(999_999, "305 555 0100")


def test_uncommitted_work_is_rolled_back(uow_factory: object) -> None:
    mia, _ = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        uow.patients.add(patient("P-1", mia), T0)
    with uow_factory() as uow:  # type: ignore[operator]
        assert uow.patients.by_mrn("P-1") is None


def test_mrn_is_unique_across_the_organisation(uow_factory: object) -> None:
    mia, fll = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        uow.patients.add(patient("P-1", mia), T0)
        uow.commit()
    with uow_factory() as uow, pytest.raises(Conflict, match="mrn"):  # type: ignore[operator]
        uow.patients.add(patient("P-1", fll), T0)


def test_several_patients_are_found_at_once_by_id(uow_factory: object) -> None:
    mia, fll = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        one = uow.patients.add(patient("P-1", mia, "Ocampo"), T0)
        two = uow.patients.add(patient("P-2", fll, "Northway"), T0)
        uow.patients.add(patient("P-3", mia), T0)
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        found = uow.patients.get_many([two.id, one.id, two.id, 10_000])
        assert found == {one.id: uow.patients.get(one.id), two.id: uow.patients.get(two.id)}
        assert found[two.id].family_name == "Northway"
        assert uow.patients.get_many([]) == {}


def test_search_is_scoped_to_sites_and_filters_by_name_or_mrn(uow_factory: object) -> None:
    mia, fll = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        uow.patients.add(patient("P-1", mia, "Ocampo"), T0)
        uow.patients.add(patient("P-2", mia, "Northway"), T0)
        uow.patients.add(patient("P-3", fll, "Ocampo"), T0)
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        only_mia = frozenset({mia})
        assert [p.mrn for p in uow.patients.search(only_mia)] == ["P-2", "P-1"]
        assert [p.mrn for p in uow.patients.search(only_mia, query="ocam")] == ["P-1"]
        assert [p.mrn for p in uow.patients.search(only_mia, mrn="P-3")] == []
        assert uow.patients.count(frozenset({mia, fll})) == 3
        assert len(uow.patients.search(frozenset({mia, fll}), limit=2)) == 2


def test_measurements_keep_their_history_in_time_order(uow_factory: object) -> None:
    mia, _ = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        p = uow.patients.add(patient("P-1", mia), T0)
        uow.patients.add_measurement(BodyMeasurement(p.id, T0 + dt.timedelta(days=7), 81.0, 170))
        uow.patients.add_measurement(BodyMeasurement(p.id, T0, 80.0, 170))
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        history = uow.patients.measurements(p.id)
    assert [m.weight_kg for m in history] == [80.0, 81.0]
    assert history[0].measured_at == T0


def test_users_tokens_and_login_state(uow_factory: object) -> None:
    mia, fll = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        user = uow.users.add("nurse.a", "Nurse A", Role.NURSE, frozenset({mia, fll}), "hash")
        uow.users.add_token("jti-1", user.id, T0, T0 + dt.timedelta(hours=1))
        uow.users.set_login_state(user.id, 3, T0)
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        found = uow.users.by_username("nurse.a")
        assert found is not None
        assert found.site_ids == frozenset({mia, fll})
        assert uow.users.login_state(user.id) == (3, T0)
        assert uow.users.token_valid("jti-1", T0 + dt.timedelta(minutes=5))
        assert not uow.users.token_valid("jti-1", T0 + dt.timedelta(hours=2))
        uow.users.revoke_token("jti-1", T0)
        assert not uow.users.token_valid("jti-1", T0 + dt.timedelta(minutes=5))
        assert not uow.users.token_valid("unknown", T0)
        with pytest.raises(Conflict):
            uow.users.add("nurse.a", "again", Role.NURSE, frozenset({mia}), "hash")


def test_the_audit_log_chains_and_verifies(uow_factory: object) -> None:
    mia, _ = seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        for i in range(5):
            uow.audit.append(
                AuditRecord(AuditAction.READ, "patient", site_id=mia, patient_id=10 + i % 2),
                T0 + dt.timedelta(seconds=i),
            )
        uow.commit()
    with uow_factory() as uow:  # type: ignore[operator]
        report = audit_svc.verify(uow)
        assert report.ok
        assert report.entries_checked == 5
        assert [e.seq for e in uow.audit.for_patient(10)] == [5, 3, 1]
        assert uow.audit.head()[0] == 5
        assert len(uow.audit.recent(3)) == 3


def test_a_rolled_back_audit_append_leaves_the_chain_intact(uow_factory: object) -> None:
    seed(uow_factory)
    with uow_factory() as uow:  # type: ignore[operator]
        uow.audit.append(AuditRecord(AuditAction.READ, "patient"), T0)
        uow.commit()
        uow.audit.append(AuditRecord(AuditAction.READ, "patient"), T0)
        uow.rollback()
    with uow_factory() as uow:  # type: ignore[operator]
        assert audit_svc.verify(uow).entries_checked == 1
        uow.audit.append(AuditRecord(AuditAction.READ, "patient"), T0)
        uow.commit()
        assert audit_svc.verify(uow).ok
