"""Where a clinical number comes from.

REFERENCE.md §0 tags every clinical fact: ``cited`` (confirmed in a named source), ``unverified``
(believed; a configurable default the clinic must acknowledge) or ``derived`` (computed from cited
values). ``design`` marks a software choice rather than a clinical fact. Every threshold, limit and
rule in ketaclinic carries one of these so the UI can show it beside the number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput


class Tag(StrEnum):
    CITED = "cited"
    UNVERIFIED = "unverified"
    DERIVED = "derived"
    DESIGN = "design"


@dataclass(frozen=True, slots=True)
class Provenance:
    """The source of a clinical value.

    ``reference`` is the key used in REFERENCE.md §12 (e.g. ``"Feder 2021"``) or a method for
    derived values; ``section`` points into REFERENCE.md (e.g. ``"§5"``).
    """

    tag: Tag
    reference: str
    section: str = ""

    @property
    def needs_acknowledgement(self) -> bool:
        """Unverified defaults are shown as such and acknowledged by the clinic before use."""
        return self.tag is Tag.UNVERIFIED

    def label(self) -> str:
        where = f", REFERENCE.md {self.section}" if self.section else ""
        return f"[{self.tag.value}: {self.reference}{where}]"


def cited(reference: str, section: str = "") -> Provenance:
    return Provenance(Tag.CITED, reference, section)


def unverified(reference: str, section: str = "") -> Provenance:
    return Provenance(Tag.UNVERIFIED, reference, section)


def derived(method: str, section: str = "") -> Provenance:
    return Provenance(Tag.DERIVED, method, section)


def design(note: str, section: str = "") -> Provenance:
    return Provenance(Tag.DESIGN, note, section)


@dataclass(frozen=True, slots=True)
class Threshold:
    """A clinic-owned clinical default: ``{value, unit, tag, reference, approved_by,
    effective_from}`` as REFERENCE.md §0 asks. ``approved_by`` is empty for shipped defaults
    until the medical director approves them."""

    key: str
    value: float
    unit: str
    provenance: Provenance
    approved_by: str = ""
    effective_from: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.key:
            raise InvalidInput.for_field("key", self.key, "a non-empty threshold key")
        if self.value != self.value:  # NaN never equals itself
            raise InvalidInput.for_field(self.key, self.value, "a number")

    def with_value(self, value: float, approved_by: str, effective_from: dt.date) -> Threshold:
        """A clinic's own value: keeps the original provenance visible, records who approved."""
        return Threshold(
            key=self.key,
            value=value,
            unit=self.unit,
            provenance=design(f"clinic setting (default from {self.provenance.reference})"),
            approved_by=approved_by,
            effective_from=effective_from,
        )
