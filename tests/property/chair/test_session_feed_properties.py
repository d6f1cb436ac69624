"""Properties of the chair's reading path (services/chair_vitals.SessionFeed) on the in-memory
store, under any sequence of measurements, acknowledgements and resolutions:

- every reading is stored, and exactly those the plausibility screen found are set aside;
- a session never has two open alerts for one rule, whatever interleaves;
- no finding is lost: the occurrences of a rule's alerts add up to its findings.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ketaclinic.adapters.memory import MemoryUnitOfWorkFactory
from ketaclinic.domain.alerts import AlertState, AlertTier, acknowledge, resolve
from ketaclinic.domain.people import NewPatient, Role, Sex
from ketaclinic.domain.session_lifecycle import Actor, SessionState
from ketaclinic.domain.vitals import VitalKind, VitalReading, VitalSource
from ketaclinic.services.chair_ports import FLAG_IMPLAUSIBLE, NewSession
from ketaclinic.services.chair_vitals import SessionFeed

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
NURSE_ROLE = Role.NURSE

measurement = st.fixed_dictionaries(
    {},
    optional={
        VitalKind.HEART_RATE: st.integers(0, 200),
        VitalKind.SPO2: st.integers(70, 105),
        VitalKind.BP_SYSTOLIC: st.integers(60, 220),
        VitalKind.BP_DIASTOLIC: st.integers(40, 140),
    },
).filter(bool)
step = st.one_of(
    st.tuples(st.just("measure"), measurement, st.integers(1, 600)),
    st.tuples(st.just("acknowledge"), st.none(), st.integers(1, 60)),
    st.tuples(st.just("resolve"), st.none(), st.integers(1, 60)),
)


def running_session(factory: MemoryUnitOfWorkFactory) -> tuple[int, Actor]:
    with factory() as uow:
        site = uow.sites.add("MIA", "Miami", "America/New_York")
        chair = uow.sites.add_chair(site.id, "MIA-1", "Chair 1")
        patient = uow.patients.add(
            NewPatient(site.id, "P-1", "Ana", "Redfern", dt.date(1980, 1, 2), Sex.FEMALE), T0
        )
        user = uow.users.add("n", "N", NURSE_ROLE, frozenset({site.id}), "h")
        row = uow.chair.add_session(
            NewSession(patient.id, site.id, chair.id, "feder-2021", False, T0, user.id)
        )
        uow.chair.save_session(replace(row, state=SessionState.RUNNING, infusion_started_at=T0))
        uow.commit()
    return row.id, Actor(user.id, NURSE_ROLE)


@settings(max_examples=60)
@given(st.lists(step, min_size=1, max_size=25))
def test_the_feed_stores_everything_and_never_duplicates_an_open_alert(steps) -> None:
    factory = MemoryUnitOfWorkFactory()
    session_id, nurse = running_session(factory)
    now = T0
    stored_readings = 0
    set_aside = 0
    findings: Counter[str] = Counter()
    for action, values, seconds in steps:
        now += dt.timedelta(seconds=seconds)
        with factory() as uow:
            row = uow.chair.get_session(session_id)
            assert row is not None
            if action == "measure":
                readings = [
                    VitalReading(kind, float(value), now, VitalSource.MONITOR)
                    for kind, value in values.items()
                ]
                result = SessionFeed(uow, row, now).ingest(readings, now)
                stored_readings += len(readings)
                findings.update(f.rule_key for f in result.findings)
                flagged = {f.vital for f in result.findings if f.tier is AlertTier.PLAUSIBILITY}
                if flagged & {VitalKind.BP_SYSTOLIC, VitalKind.BP_DIASTOLIC}:
                    flagged |= {VitalKind.BP_SYSTOLIC, VitalKind.BP_DIASTOLIC, VitalKind.BP_MEAN}
                set_aside += sum(1 for r in readings if r.kind in flagged)
            else:
                for stored in uow.chair.session_alerts([session_id], open_only=True):
                    alert = stored.alert
                    if action == "acknowledge" and alert.state is AlertState.RAISED:
                        alert = acknowledge(alert, nurse, now, "checked")
                    elif action == "resolve" and alert.state is AlertState.ACKNOWLEDGED:
                        alert = resolve(alert, nurse, now)
                    uow.chair.save_alert(replace(stored, alert=alert))
            uow.commit()
        with factory() as uow:
            open_rules = [
                a.alert.rule_key for a in uow.chair.session_alerts([session_id], open_only=True)
            ]
            assert len(open_rules) == len(set(open_rules)), open_rules
    with factory() as uow:
        readings = uow.chair.session_readings(session_id)
        alerts = uow.chair.session_alerts([session_id])
    assert len(readings) == stored_readings
    assert sum(1 for r in readings if r.flag == FLAG_IMPLAUSIBLE) == set_aside
    occurrences: Counter[str] = Counter()
    for stored in alerts:
        occurrences[stored.alert.rule_key] += stored.alert.occurrences
    assert occurrences == findings
