"""The port the exports read through: whole patient records, in batches.

Implemented by ``adapters/db/repositories_interop.py`` (read-only SQL over every capability's
tables) and ``adapters/memory_interop.py`` (the in-memory fake);
``tests/integration/interop/test_record_reader_contract.py`` holds them to one contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ketaclinic.services.interop_records import PatientRecord


class RecordReader(Protocol):
    def patient_ids(
        self, site_ids: frozenset[int], *, after_id: int = 0, limit: int = 500
    ) -> list[int]:
        """Ids of the patients of ``site_ids`` greater than ``after_id``, ascending, at most
        ``limit`` (keyset pagination: a bulk export walks a site without an OFFSET scan)."""
        ...

    def records(self, patient_ids: Sequence[int]) -> list[PatientRecord]:
        """The records of these patients in the order given; unknown ids are left out.

        The access log (``PatientRecord.access``) is left empty: the audit port serves it."""
        ...
