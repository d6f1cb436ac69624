"""The audit hash chain detects edits, deletions and a truncated tail."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from ketaclinic.domain.audit import GENESIS, AuditAction, AuditRecord, seal, verify_chain

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


def chain(n: int) -> list:
    entries = []
    prev = GENESIS
    for i in range(1, n + 1):
        record = AuditRecord(
            AuditAction.READ, "patient", user_id=7, patient_id=i, client="10.0.0.5"
        )
        entry = seal(prev, i, T0 + dt.timedelta(seconds=i), record)
        entries.append(entry)
        prev = entry.hash
    return entries


def test_an_intact_chain_verifies() -> None:
    entries = chain(5)
    report = verify_chain(entries, 5, entries[-1].hash)
    assert report.ok
    assert report.entries_checked == 5


def test_an_empty_log_with_no_head_verifies() -> None:
    assert verify_chain([], None, None).ok


def test_an_edited_entry_is_detected() -> None:
    entries = chain(5)
    entries[2] = replace(entries[2], record=replace(entries[2].record, patient_id=99))
    report = verify_chain(entries, 5, entries[-1].hash)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "altered" in report.problem


def test_a_deleted_middle_entry_is_detected() -> None:
    entries = chain(5)
    del entries[1]
    report = verify_chain(entries, 5, entries[-1].hash)
    assert not report.ok
    assert report.first_bad_seq == 2


def test_a_deleted_last_entry_is_detected_by_the_head() -> None:
    entries = chain(5)
    head_hash = entries[-1].hash
    report = verify_chain(entries[:-1], 5, head_hash)
    assert not report.ok
    assert "head" in report.problem


def test_a_rehashed_forgery_breaks_the_next_link() -> None:
    entries = chain(4)
    forged_record = replace(entries[1].record, username="someone-else")
    entries[1] = seal(entries[1].prev_hash, 2, entries[1].at, forged_record)
    report = verify_chain(entries, 4, entries[-1].hash)
    assert not report.ok
    assert report.first_bad_seq == 3


def test_entries_hash_the_time_in_utc_whatever_zone_they_arrive_in() -> None:
    record = AuditRecord(AuditAction.READ, "patient")
    eastern = dt.timezone(dt.timedelta(hours=-5))
    a = seal(GENESIS, 1, T0, record)
    b = seal(GENESIS, 1, T0.astimezone(eastern), record)
    assert a.hash == b.hash
