"""Where the listener puts parsed monitor messages: the sink port and its in-memory fake.

The listener hands the sink a batch of messages that arrived close together (group commit) and
acknowledges each message only after :meth:`ObservationSink.store` returned for its batch, so a
sink must make the batch durable before it returns. It is called from a worker thread, one batch
at a time, and must answer one :class:`StoreOutcome` per message, in order:

- ``stored``: the observations are durably kept → ``AA``.
- ``duplicate``: a message with the same :attr:`MonitorMessage.dedup_key` was stored before
  (or earlier in the same batch) → ``AA``, nothing stored twice. Monitors resend when an ACK was
  lost, so a repeat is normal, not an error.
- ``rejected``: the sink refuses it with a :class:`KetaclinicError` → ``AE``/``AR`` by the
  exception tree (``ack.ack_code_for``), e.g. ``NotFound`` for an MRN the clinic does not know.

A sink that raises instead fails the whole batch: every message in it gets ``AE`` and the
monitor sends it again. :class:`InMemorySink` is the reference behaviour (and the fake the tests
use); the database sink keeps readings for a patient without an active infusion session and
flags them (DESIGN.md §4.4).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ketaclinic.adapters.hl7.parser import MonitorMessage
from ketaclinic.domain.errors import KetaclinicError, NotFound


class StoreStatus(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What the sink did with one message; ``error`` is set exactly when rejected."""

    status: StoreStatus
    error: KetaclinicError | None = None

    def __post_init__(self) -> None:
        if (self.status is StoreStatus.REJECTED) != (self.error is not None):
            raise KetaclinicError("StoreOutcome: a rejection, and only a rejection, has an error")

    @classmethod
    def stored(cls) -> StoreOutcome:
        return cls(StoreStatus.STORED)

    @classmethod
    def duplicate(cls) -> StoreOutcome:
        return cls(StoreStatus.DUPLICATE)

    @classmethod
    def rejected(cls, error: KetaclinicError) -> StoreOutcome:
        return cls(StoreStatus.REJECTED, error)


class ObservationSink(Protocol):
    """Durable storage for monitor messages (see the module docstring for the contract)."""

    def store(self, batch: Sequence[MonitorMessage]) -> list[StoreOutcome]:
        """Store ``batch`` durably; one outcome per message, in the same order."""
        ...


class InMemorySink:
    """The reference sink: keeps messages in a list, detects repeats by ``dedup_key``.

    ``known_mrns``, when given, is the clinic's patient list: a message for any other MRN is
    rejected with :class:`NotFound` (``AE``). Without it every patient is accepted. Thread-safe.
    """

    def __init__(self, known_mrns: Iterable[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._seen: set[tuple[str, str, str]] = set()
        self._messages: list[MonitorMessage] = []
        self._batch_sizes: list[int] = []
        self._known = None if known_mrns is None else frozenset(known_mrns)

    def store(self, batch: Sequence[MonitorMessage]) -> list[StoreOutcome]:
        outcomes: list[StoreOutcome] = []
        with self._lock:
            self._batch_sizes.append(len(batch))
            for message in batch:
                if self._known is not None and message.mrn not in self._known:
                    # The message names the field only: an MRN is never echoed into errors.
                    error = NotFound(
                        "PID-3: no patient with this MRN at this clinic", field="PID-3"
                    )
                    outcomes.append(StoreOutcome.rejected(error))
                elif message.dedup_key in self._seen:
                    outcomes.append(StoreOutcome.duplicate())
                else:
                    self._seen.add(message.dedup_key)
                    self._messages.append(message)
                    outcomes.append(StoreOutcome.stored())
        return outcomes

    @property
    def messages(self) -> list[MonitorMessage]:
        """The stored messages, in the order they were stored (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def batch_sizes(self) -> list[int]:
        """The size of every batch :meth:`store` was called with, in order (a copy)."""
        with self._lock:
            return list(self._batch_sizes)
