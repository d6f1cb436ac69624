"""Group commit for the audit entries of reads.

A read of health data writes one audit entry. Written inside the read's own transaction, every
chart view would take the database's write lock (SQLite) and wait for its own fsync, so reads
would queue behind each other. Instead, a read-only unit of work reads in a read-only
transaction and, on commit, hands its entries to the engine's :class:`AuditGroupCommit`, and
waits until they are durable — the response still leaves only after its audit entry is on disk.

Whoever arrives while no write is in progress becomes the *leader*: it writes every entry that
is waiting, from every thread, in one transaction (one lock, one fsync), then wakes the others.
Entries that arrive during that write go in the next one. There is no background thread, so
nothing needs starting or stopping, and an idle engine costs nothing. Entries keep the order in
which they were handed over; each keeps its own time.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine

from ketaclinic.adapters.db.engine import READONLY_KEY
from ketaclinic.adapters.db.repositories import SqlAuditLog
from ketaclinic.domain.audit import AuditEntry, AuditRecord

Item = tuple[AuditRecord, dt.datetime]


@dataclass(eq=False)
class _Ticket:
    items: Sequence[Item]
    done: bool = False
    error: BaseException | None = None


@dataclass(eq=False)
class AuditGroupCommit:
    _waiting: list[_Ticket] = field(default_factory=list)
    _writing: bool = False
    _cond: threading.Condition = field(default_factory=threading.Condition)
    batches: int = 0  # transactions written, for tests and the benchmark

    def write(self, items: Sequence[Item], conn: Connection) -> None:
        """Append ``items`` to the audit chain and return once they are committed (or raise
        what the write raised). ``conn`` is the caller's connection, outside any transaction:
        a leader writes on its own connection, so waiting never needs another one from the
        pool (where the waiters hold theirs)."""
        if not items:
            return None
        ticket = _Ticket(items)
        with self._cond:
            self._waiting.append(ticket)
            while not ticket.done and self._writing:
                self._cond.wait()
            if ticket.done:
                return self._outcome(ticket)
            # No write in progress and ours is not done: lead the next one.
            batch, self._waiting = self._waiting, []
            self._writing = True
        error: BaseException | None = None
        readonly = conn.info.get(READONLY_KEY, False)
        conn.info[READONLY_KEY] = False  # a write transaction (BEGIN IMMEDIATE on SQLite)
        try:
            with conn.begin():
                SqlAuditLog(conn).append_many([item for t in batch for item in t.items])
        except BaseException as raised:  # handed to every waiter, re-raised below
            error = raised
        finally:
            conn.info[READONLY_KEY] = readonly
        with self._cond:
            for waiter in batch:
                waiter.done, waiter.error = True, error
            self._writing = False
            self.batches += 1
            self._cond.notify_all()
        return self._outcome(ticket)

    @staticmethod
    def _outcome(ticket: _Ticket) -> None:
        if ticket.error is not None:
            raise ticket.error


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, AuditGroupCommit] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def group_commit_for(engine: Engine) -> AuditGroupCommit:
    """The one group commit of ``engine`` (per process; processes serialise on the chain head)."""
    with _LOCK:
        found = _BY_ENGINE.get(engine)
        if found is None:
            found = _BY_ENGINE[engine] = AuditGroupCommit()
        return found


class DeferredAuditLog:
    """The audit log of a read-only unit of work: appends are kept until the unit commits, then
    written through the engine's group commit; a rollback drops them, as it would drop rows."""

    def __init__(self, conn: Connection, group: AuditGroupCommit) -> None:
        self._conn = conn
        self._log = SqlAuditLog(conn)
        self._group = group
        self._pending: list[Item] = []

    def append(self, record: AuditRecord, at: dt.datetime) -> None:
        self._pending.append((record, at))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        self._group.write(pending, self._conn)

    def discard(self) -> None:
        self._pending = []

    # Reading the chain goes to the unit's own connection.
    def entries(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[AuditEntry]:
        return self._log.entries(after_seq=after_seq, batch=batch)

    def head(self) -> tuple[int, str] | None:
        return self._log.head()

    def for_patient(self, patient_id: int, limit: int = 500) -> list[AuditEntry]:
        return self._log.for_patient(patient_id, limit)

    def recent(self, limit: int = 200, site_ids: frozenset[int] | None = None) -> list[AuditEntry]:
        return self._log.recent(limit, site_ids)
