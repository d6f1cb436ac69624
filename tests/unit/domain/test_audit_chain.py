"""The audit hash chain detects edits, deletions and a truncated tail."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.audit import (
    GENESIS,
    AuditAction,
    AuditOutcome,
    AuditRecord,
    canonical,
    seal,
    verify_chain,
)

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


# The hashed bytes are a stored format: chains written by earlier releases must keep verifying,
# so these are fixed here, not recomputed (hash = SHA-256(previous hash ‖ canonical bytes)).
FIXED = [
    (
        GENESIS,
        3,
        dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC),
        AuditRecord(
            AuditAction.READ,
            "patient",
            user_id=7,
            username="nurse.mia",
            role="nurse",
            site_id=1,
            patient_id=42,
            resource_id="42",
            client="10.0.0.5",
            detail='chart: vitals "today" é',
        ),
        b'{"action":"read","at":"2026-11-25T09:30:00.000000Z","client":"10.0.0.5",'
        b'"detail":"chart: vitals \\"today\\" \\u00e9","outcome":"ok","patient_id":42,'
        b'"resource":"patient","resource_id":"42","role":"nurse","seq":3,"site_id":1,'
        b'"user_id":7,"username":"nurse.mia"}',
        "e273a7b2135f516e7cf5a6d46166380dc18ba4a37a5040e51b2e3eef6a4434bb",
    ),
    (
        "a" * 64,
        4,
        # Not UTC and with microseconds: hashed as the same instant in UTC.
        dt.datetime(2026, 11, 25, 4, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        AuditRecord(AuditAction.LOGIN_FAILED, "user", outcome=AuditOutcome.DENIED),
        b'{"action":"login_failed","at":"2026-11-25T09:30:00.123456Z","client":"","detail":"",'
        b'"outcome":"denied","patient_id":null,"resource":"user","resource_id":"","role":"",'
        b'"seq":4,"site_id":null,"user_id":null,"username":""}',
        "6ea3424bfc7ba638dcd7f0754bff1e3c8f8cace0d80c1f892ad8b0b4f7f5330b",
    ),
]


@pytest.mark.parametrize(("prev", "seq", "at", "record", "expected_bytes", "expected_hash"), FIXED)
def test_the_hashed_form_of_an_entry_is_fixed(
    prev: str,
    seq: int,
    at: dt.datetime,
    record: AuditRecord,
    expected_bytes: bytes,
    expected_hash: str,
) -> None:
    assert canonical(seq, at, record) == expected_bytes
    assert hashlib.sha256(prev.encode() + expected_bytes).hexdigest() == expected_hash
    assert seal(prev, seq, at, record).hash == expected_hash


def _sorted_json(seq: int, at: dt.datetime, record: AuditRecord) -> bytes:
    """The hashed form as first written: every field, keys sorted by the encoder."""
    fields = {
        "seq": seq,
        "at": at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": record.action.value,
        "resource": record.resource,
        "outcome": record.outcome.value,
        "user_id": record.user_id,
        "username": record.username,
        "role": record.role,
        "site_id": record.site_id,
        "patient_id": record.patient_id,
        "resource_id": record.resource_id,
        "client": record.client,
        "detail": record.detail,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


@given(
    seq=st.integers(1, 2**62),
    at=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2200, 1, 1),
        timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
    ),
    record=st.builds(
        AuditRecord,
        action=st.sampled_from(AuditAction),
        resource=st.text(max_size=20),
        outcome=st.sampled_from(AuditOutcome),
        user_id=st.none() | st.integers(1, 10**9),
        username=st.text(max_size=20),
        site_id=st.none() | st.integers(1, 10**6),
        patient_id=st.none() | st.integers(1, 10**9),
        detail=st.text(max_size=60),
    ),
)
def test_the_hashed_form_is_the_key_sorted_json_of_every_field(
    seq: int, at: dt.datetime, record: AuditRecord
) -> None:
    assert canonical(seq, at, record) == _sorted_json(seq, at, record)
