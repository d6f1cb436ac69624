"""The tamper-evident audit trail: what an entry holds and how the chain is computed.

Every read and write of health data appends an :class:`AuditEntry`. Entries form a hash chain:

    hash_n = SHA-256( hash_{n-1} ‖ canonical(entry_n) )      hash_0 = GENESIS

where ``canonical`` is the entry's fields as compact, key-sorted JSON including its sequence
number. Editing any stored field breaks that entry's hash; deleting an entry breaks the next
entry's link (or, for the last entry, the stored chain head). :func:`verify_chain` reports the
first break it finds.

Entries carry internal ids only: never names, MRNs or birth dates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

GENESIS = "0" * 64
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


class AuditAction(StrEnum):
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    DENIED = "denied"


class AuditOutcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What a caller asks to append; the log adds sequence, time and hashes."""

    action: AuditAction
    resource: str
    outcome: AuditOutcome = AuditOutcome.OK
    user_id: int | None = None
    username: str = ""
    role: str = ""
    site_id: int | None = None
    patient_id: int | None = None
    resource_id: str = ""
    client: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: dt.datetime
    record: AuditRecord
    prev_hash: str
    hash: str


def canonical(seq: int, at: dt.datetime, record: AuditRecord) -> bytes:
    """The bytes that are hashed for an entry. Times are UTC ISO-8601 to the microsecond."""
    at_utc = at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at
    # The keys in sorted order, so the encoder need not sort them (every chart view and monitor
    # message seals an entry); the test of the hashed form holds the bytes fixed.
    payload = {
        "action": record.action.value,
        "at": at_utc.isoformat("T", "microseconds") + "Z",
        "client": record.client,
        "detail": record.detail,
        "outcome": record.outcome.value,
        "patient_id": record.patient_id,
        "resource": record.resource,
        "resource_id": record.resource_id,
        "role": record.role,
        "seq": seq,
        "site_id": record.site_id,
        "user_id": record.user_id,
        "username": record.username,
    }
    return _ENCODE(payload).encode()


def chain_hash(prev_hash: str, seq: int, at: dt.datetime, record: AuditRecord) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(canonical(seq, at, record))
    return digest.hexdigest()


def seal(prev_hash: str, seq: int, at: dt.datetime, record: AuditRecord) -> AuditEntry:
    return AuditEntry(
        seq=seq,
        at=at,
        record=record,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, seq, at, record),
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    entries_checked: int
    problem: str = ""
    first_bad_seq: int | None = None


def verify_chain(
    entries: Iterable[AuditEntry], head_seq: int | None, head_hash: str | None
) -> ChainReport:
    """Check every link and hash, in sequence order, then the stored head.

    ``entries`` must be ordered by ``seq``. ``head_seq``/``head_hash`` are the chain head kept
    beside the log (``None`` for an empty log).
    """
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return ChainReport(
                False, count, f"entry {expected_seq} is missing (found {entry.seq})", expected_seq
            )
        if entry.prev_hash != prev_hash:
            return ChainReport(
                False, count, f"entry {entry.seq} does not link to its predecessor", entry.seq
            )
        recomputed = chain_hash(entry.prev_hash, entry.seq, entry.at, entry.record)
        if recomputed != entry.hash:
            return ChainReport(False, count, f"entry {entry.seq} was altered", entry.seq)
        prev_hash = entry.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if head_seq is None:
        if last_seq != 0:
            return ChainReport(False, count, "the chain head is missing", None)
        return ChainReport(True, count)
    if head_seq != last_seq or head_hash != prev_hash:
        return ChainReport(
            False,
            count,
            f"the chain head says entry {head_seq} is last but the log ends at entry {last_seq}",
            last_seq + 1,
        )
    return ChainReport(True, count)
