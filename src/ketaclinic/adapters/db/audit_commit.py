"""Group commit for the audit entries of reads.

A read of health data writes one audit entry. Written inside the read's own transaction, every
chart view would take the database's write lock (SQLite) and wait for its own fsync, so reads
would queue behind each other. Instead, a read-only unit of work reads in a read-only
transaction and, on commit, hands its entries to the engine's :class:`AuditGroupCommit`, and
waits until they are durable — the response still leaves only after its audit entry is on disk.

Whoever arrives while no write is in progress becomes the *leader*: it writes every entry that
is waiting, from every thread, in one transaction (one lock, one fsync), then wakes the threads
whose entries it wrote. Entries that arrive during that write go in the next one, led by the
first of their threads. There is no background thread, so nothing needs starting or stopping,
and an idle engine costs nothing. Entries keep the order in which they were handed over; each
keeps its own time.
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


class _Ticket:
    """One caller's entries and its wake-up: ``_wake`` is held from creation and released once,
    when the entries are written (``done``) or when the caller is to lead the next write."""

    __slots__ = ("_wake", "done", "error", "items")

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items
        self.done = False
        self.error: BaseException | None = None
        self._wake = threading.Lock()
        self._wake.acquire()

    def wait(self) -> None:
        self._wake.acquire()

    def wake(self) -> None:
        self._wake.release()


@dataclass(eq=False)
class AuditGroupCommit:
    _waiting: list[_Ticket] = field(default_factory=list)
    _writing: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    batches: int = 0  # transactions written, for tests and the benchmark

    def write(self, items: Sequence[Item], conn: Connection) -> None:
        """Append ``items`` to the audit chain and return once they are committed (or raise
        what the write raised). ``conn`` is the caller's connection, outside any transaction:
        a leader writes on its own connection, so waiting never needs another one from the
        pool (where the waiters hold theirs).

        Only the threads whose entries were written are woken, each by its own ticket, and
        the first still waiting is woken to lead the next write: a condition shared by all
        would wake every waiter after every write, and under load those wake-ups (each a
        thread switch and a turn at the interpreter lock) cost more than the write."""
        if not items:
            return None
        ticket = _Ticket(items)
        with self._lock:
            self._waiting.append(ticket)
            lead = not self._writing
            self._writing = True
        if not lead:
            ticket.wait()
            if ticket.done:
                return self._outcome(ticket)
            # Not written yet: handed the lead of the next write (our entries are in it).
        with self._lock:
            batch, self._waiting = self._waiting, []
        error = self._append(batch, conn)
        with self._lock:
            for waiter in batch:
                waiter.done, waiter.error = True, error
            self.batches += 1
            successor = self._waiting[0] if self._waiting else None
            self._writing = successor is not None
        for waiter in batch:
            if waiter is not ticket:
                waiter.wake()
        if successor is not None:
            successor.wake()
        return self._outcome(ticket)

    @staticmethod
    def _append(batch: Sequence[_Ticket], conn: Connection) -> BaseException | None:
        """Write every entry of ``batch`` in one transaction; what it raised, if it did."""
        readonly = conn.info.get(READONLY_KEY, False)
        conn.info[READONLY_KEY] = False  # a write transaction (BEGIN IMMEDIATE on SQLite)
        try:
            with conn.begin():
                SqlAuditLog(conn).append_many([item for t in batch for item in t.items])
        except BaseException as raised:  # handed to every waiter, re-raised by each
            return raised
        finally:
            conn.info[READONLY_KEY] = readonly
        return None

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
