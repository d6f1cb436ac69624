"""Side effects charted during and after an infusion, and the flag that routes them to the
prescriber.

Entries are structured: a kind from a fixed list (the expected short-lived effects of
DESIGN.md §1 plus anxiety and headache), a severity, the interventions given and any
serious-adverse-event criteria. Free text is accepted only where the list has no word for it:
the ``other`` kind and the ``other`` intervention, which then require it. Keeping free text out
elsewhere keeps health data out of places nobody reviews.

An entry is *flagged for the prescriber* when it is severe or meets a serious-adverse-event
criterion. Severity and seriousness differ: severe nausea is not serious; a hospital admission
is serious however mild it looked. The criteria follow the usual regulatory definition of a
serious adverse event (death, life-threatening, hospitalisation, persistent disability,
congenital anomaly, other medically important event); they are a design choice, not a
REFERENCE.md value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput, PermissionDenied
from ketaclinic.domain.session_lifecycle import CHAIR_ROLES, Actor, require_aware

OTHER_TEXT_MAX = 200


class SideEffectKind(StrEnum):
    DISSOCIATION = "dissociation"
    DIZZINESS = "dizziness"
    NAUSEA_VOMITING = "nausea_vomiting"
    BP_RISE = "bp_rise"
    ANXIETY = "anxiety"
    HEADACHE = "headache"
    OTHER = "other"


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Intervention(StrEnum):
    NONE = "none"
    REASSURANCE = "reassurance"
    INFUSION_PAUSED = "infusion_paused"
    RATE_REDUCED = "rate_reduced"
    INFUSION_STOPPED = "infusion_stopped"
    ANTIEMETIC = "antiemetic"
    ANTIHYPERTENSIVE = "antihypertensive"
    BENZODIAZEPINE = "benzodiazepine"
    OXYGEN = "oxygen"
    EMERGENCY_SERVICES = "emergency_services"
    OTHER = "other"


class SeriousCriterion(StrEnum):
    DEATH = "death"
    LIFE_THREATENING = "life_threatening"
    HOSPITALISATION = "hospitalisation"
    PERSISTENT_DISABILITY = "persistent_disability"
    CONGENITAL_ANOMALY = "congenital_anomaly"
    MEDICALLY_IMPORTANT = "medically_important"


@dataclass(frozen=True, slots=True)
class SideEffectEntry:
    """One charted side effect.

    ``other_text`` is required for kind ``other`` and forbidden otherwise;
    ``intervention_text`` likewise for the ``other`` intervention. ``none`` cannot be combined
    with another intervention. ``resolved_at``, when given, is not before ``onset_at``.

    Raises InvalidInput for any of those, and PermissionDenied when the author is not a nurse
    or prescriber."""

    kind: SideEffectKind
    severity: Severity
    onset_at: dt.datetime
    recorded_by: Actor
    interventions: frozenset[Intervention] = field(
        default_factory=lambda: frozenset({Intervention.NONE})
    )
    serious_criteria: frozenset[SeriousCriterion] = frozenset()
    other_text: str = ""
    intervention_text: str = ""
    resolved_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.recorded_by.role not in CHAIR_ROLES:
            raise PermissionDenied(
                f"role {self.recorded_by.role.value!r} may not chart side effects"
            )
        require_aware("onset_at", self.onset_at)
        _free_text("other_text", self.other_text, needed=self.kind is SideEffectKind.OTHER)
        _free_text(
            "intervention_text",
            self.intervention_text,
            needed=Intervention.OTHER in self.interventions,
        )
        if not self.interventions:
            raise InvalidInput.for_field("interventions", [], "at least one (or 'none')")
        if Intervention.NONE in self.interventions and len(self.interventions) > 1:
            raise InvalidInput.for_field(
                "interventions",
                sorted(i.value for i in self.interventions),
                "'none' on its own, or only the interventions given",
            )
        if self.resolved_at is not None:
            require_aware("resolved_at", self.resolved_at)
            if self.resolved_at < self.onset_at:
                raise InvalidInput.for_field(
                    "resolved_at", self.resolved_at.isoformat(), "a time at or after the onset"
                )

    @property
    def is_serious(self) -> bool:
        """A serious adverse event: meets at least one seriousness criterion."""
        return bool(self.serious_criteria)

    @property
    def flagged_for_prescriber(self) -> bool:
        """Severe, or serious: the prescriber must review it."""
        return self.severity is Severity.SEVERE or self.is_serious

    def flag_reasons(self) -> list[str]:
        """Why the entry is flagged, for the prescriber's worklist; empty when it is not."""
        reasons: list[str] = []
        if self.severity is Severity.SEVERE:
            reasons.append("severe")
        reasons.extend(
            f"serious: {c.value}" for c in sorted(self.serious_criteria, key=lambda c: c.value)
        )
        return reasons


def _free_text(name: str, value: str, *, needed: bool) -> None:
    if needed and not value.strip():
        raise InvalidInput.for_field(name, value, "a short description (required for 'other')")
    if not needed and value:
        raise InvalidInput.for_field(name, value, "empty: free text is only for 'other'")
    if len(value) > OTHER_TEXT_MAX:
        raise InvalidInput.for_field(name, value, f"at most {OTHER_TEXT_MAX} characters")
