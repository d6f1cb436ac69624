"""The in-memory :class:`~ketaclinic.services.interop_ports.RecordReader`.

Patients, sites, body measurements and staff come from the shared :class:`MemoryStore`. The
sections other capabilities keep in storage of their own (vitals, responses, sessions, ...) are
read from :class:`ExtraSections`, a field of the store that unit tests fill directly: the fake
is a real reader of whatever the store holds, with the same ordering and batching contract as
the SQL reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from ketaclinic.services.interop_records import PatientRecord

if TYPE_CHECKING:
    from ketaclinic.adapters.memory import MemoryStore


@dataclass
class ExtraSections:
    """Per patient id: a record whose non-core sections (vitals, responses, intakes, consents,
    series, sessions, administrations, boluses, alerts, dissociation) are added to what the
    store holds."""

    by_patient: dict[int, PatientRecord] = field(default_factory=dict)


_SECTIONS = (
    "vitals",
    "responses",
    "intakes",
    "consents",
    "series",
    "sessions",
    "administrations",
    "boluses",
    "alerts",
    "dissociation",
)


class MemoryRecordReader:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def patient_ids(
        self, site_ids: frozenset[int], *, after_id: int = 0, limit: int = 500
    ) -> list[int]:
        ids = sorted(
            p.id for p in self.store.patients.values() if p.site_id in site_ids and p.id > after_id
        )
        return ids[:limit]

    def records(self, patient_ids: Sequence[int]) -> list[PatientRecord]:
        staff = MappingProxyType({uid: row.user.username for uid, row in self.store.users.items()})
        result: list[PatientRecord] = []
        for pid in patient_ids:
            patient = self.store.patients.get(pid)
            if patient is None:
                continue
            measurements = sorted(
                (m for m in self.store.measurements if m.patient_id == pid),
                key=lambda m: (m.measured_at, m.id or 0),
            )
            base = PatientRecord(
                patient=patient,
                site=self.store.sites[patient.site_id],
                organisation=self.store.organisation,
                measurements=tuple(measurements),
                staff=staff,
            )
            extra = self.store.interop.by_patient.get(pid)
            if extra is not None:
                base = replace(base, **{name: getattr(extra, name) for name in _SECTIONS})
            result.append(base)
        return result
