"""Discharge after an infusion: Modified Aldrete, PADSS and the readiness rule (REFERENCE.md §7).

Modified Aldrete [cited: Aldrete tables]: five items scored 0–2; ready at ≥ 9, or at ≥ 8 when
respiration and SpO2 both score 2. PADSS [cited: Chung 1995; PADSS table]: five items scored
0–2; ready at ≥ 9 plus an adult escort. The circulation (Aldrete) and vital-sign (PADSS) items
compare the systolic pressure with the pre-infusion baseline.

Readiness (design, REFERENCE.md §7)::

    ready = elapsed since the infusion ended ≥ minimum observation (clinic-set)
          ∧ the clinic's scale criterion (Aldrete or PADSS)
          ∧ escort confirmed
          ∧ a clinician attests mental status is at baseline
          ∧ dissociation back to baseline (CADSS-6 pre-discharge ≤ pre-dose, or attested)
          ∧ no open clinical alerts

:func:`assess_readiness` lists every unmet criterion. :func:`clear_for_discharge` turns a
readiness into the :class:`~ketaclinic.domain.session_lifecycle.DischargeClearance` the session
machine needs: directly when ready, otherwise only as a prescriber's override with a reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput, OverrideRequired, PermissionDenied
from ketaclinic.domain.provenance import Threshold, cited, unverified
from ketaclinic.domain.session_lifecycle import (
    CHAIR_ROLES,
    Actor,
    DischargeClearance,
    require_aware,
)

ALDRETE_READY = Threshold("aldrete_ready", 9, "points", cited("Aldrete tables", "§7"))
ALDRETE_READY_RESP_SPO2 = Threshold(
    "aldrete_ready_resp_spo2", 8, "points", cited("Aldrete tables", "§7")
)
PADSS_READY = Threshold("padss_ready", 9, "points", cited("Chung 1995; PADSS table", "§7"))
DEFAULT_MIN_OBSERVATION = Threshold(
    "min_observation",
    120,
    "min",
    unverified("esketamine-label analogue ≥2 h; ~3 h on site per visit [cited: Albott 2018]", "§7"),
)
CADSS6_MAX = 24  # six items scored 0–4 [derived: Rodrigues 2021 items × 0–4, REFERENCE.md §6]


class CirculationMode(StrEnum):
    ABSOLUTE = "absolute"  # ±20 / ±50 mmHg
    PERCENT = "percent"  # ±20 % / 20–49 % / ≥ 50 %


def aldrete_circulation(
    baseline_systolic_mmhg: float, current_systolic_mmhg: float, mode: CirculationMode
) -> int:
    """The Aldrete circulation item from the pre-infusion baseline [cited: Aldrete tables]:

    - absolute: |Δ| ≤ 20 mmHg → 2; 20 < |Δ| ≤ 50 → 1; |Δ| > 50 → 0
    - percent:  |Δ| ≤ 20 % → 2; 20 % < |Δ| < 50 % → 1; |Δ| ≥ 50 % → 0

    Raises InvalidInput for a non-positive pressure."""
    _pressure("baseline_systolic_mmhg", baseline_systolic_mmhg)
    _pressure("current_systolic_mmhg", current_systolic_mmhg)
    delta = abs(current_systolic_mmhg - baseline_systolic_mmhg)
    if mode is CirculationMode.ABSOLUTE:
        return 2 if delta <= 20 else 1 if delta <= 50 else 0
    percent = 100.0 * delta / baseline_systolic_mmhg
    return 2 if percent <= 20 else 1 if percent < 50 else 0


def padss_vital_signs(baseline_systolic_mmhg: float, current_systolic_mmhg: float) -> int:
    """The PADSS vital-signs item [cited: Chung 1995; PADSS table]: within 20 % of baseline
    → 2; 20–40 % → 1; beyond 40 % → 0. Raises InvalidInput for a non-positive pressure."""
    _pressure("baseline_systolic_mmhg", baseline_systolic_mmhg)
    _pressure("current_systolic_mmhg", current_systolic_mmhg)
    percent = 100.0 * abs(current_systolic_mmhg - baseline_systolic_mmhg) / baseline_systolic_mmhg
    return 2 if percent <= 20 else 1 if percent <= 40 else 0


@dataclass(frozen=True, slots=True)
class AldreteScore:
    """Modified Aldrete: each item 0–2 (2 = moves four limbs / breathes deeply and coughs /
    BP near baseline / fully awake / SpO2 above 92 % on room air)."""

    activity: int
    respiration: int
    circulation: int
    consciousness: int
    spo2: int

    def __post_init__(self) -> None:
        for name in ("activity", "respiration", "circulation", "consciousness", "spo2"):
            _item(f"aldrete.{name}", getattr(self, name))

    @property
    def total(self) -> int:
        return self.activity + self.respiration + self.circulation + self.consciousness + self.spo2

    @property
    def meets_criterion(self) -> bool:
        if self.total >= ALDRETE_READY.value:
            return True
        return self.total >= ALDRETE_READY_RESP_SPO2.value and self.respiration == self.spo2 == 2


@dataclass(frozen=True, slots=True)
class PadssScore:
    """Original PADSS (Chung 1995): each item 0–2. ``surgical_bleeding`` does not apply after
    an infusion and scores 2, as the PADSS table directs for n/a."""

    vital_signs: int
    activity_mental_status: int
    pain_nausea_vomiting: int
    intake_output: int
    surgical_bleeding: int = 2

    def __post_init__(self) -> None:
        for name in (
            "vital_signs",
            "activity_mental_status",
            "pain_nausea_vomiting",
            "intake_output",
            "surgical_bleeding",
        ):
            _item(f"padss.{name}", getattr(self, name))

    @property
    def total(self) -> int:
        return (
            self.vital_signs
            + self.activity_mental_status
            + self.pain_nausea_vomiting
            + self.intake_output
            + self.surgical_bleeding
        )

    @property
    def meets_criterion(self) -> bool:
        """The score part of PADSS readiness; the escort is checked by the readiness rule."""
        return self.total >= PADSS_READY.value


class DischargeScale(StrEnum):
    ALDRETE = "aldrete"
    PADSS = "padss"


@dataclass(frozen=True, slots=True)
class DischargePolicy:
    """The clinic's choices: which scale, how long to observe, how to score circulation."""

    scale: DischargeScale = DischargeScale.ALDRETE
    min_observation: Threshold = DEFAULT_MIN_OBSERVATION
    circulation_mode: CirculationMode = CirculationMode.ABSOLUTE

    def __post_init__(self) -> None:
        if self.min_observation.value < 0:
            raise InvalidInput.for_field(
                "min_observation", self.min_observation.value, "minutes ≥ 0"
            )


DEFAULT_POLICY = DischargePolicy()


class Criterion(StrEnum):
    OBSERVATION_TIME = "observation_time"
    SCALE = "scale"
    ESCORT = "escort"
    MENTAL_STATUS = "mental_status"
    DISSOCIATION = "dissociation"
    OPEN_ALERTS = "open_alerts"


@dataclass(frozen=True, slots=True)
class DischargeAssessment:
    """The facts at the moment of assessment. ``open_clinical_alerts`` are the rule keys of
    the session's open clinical alerts; attestations name the clinician who made them.

    Raises InvalidInput (CADSS-6 outside 0–24, naive or reversed times) or PermissionDenied
    (an attestation by someone who is not a nurse or prescriber)."""

    infusion_ended_at: dt.datetime
    assessed_at: dt.datetime
    aldrete: AldreteScore | None = None
    padss: PadssScore | None = None
    escort_confirmed: bool = False
    mental_status_attested_by: Actor | None = None
    cadss6_pre_dose: int | None = None
    cadss6_pre_discharge: int | None = None
    dissociation_attested_by: Actor | None = None
    open_clinical_alerts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_aware("infusion_ended_at", self.infusion_ended_at)
        require_aware("assessed_at", self.assessed_at)
        if self.assessed_at < self.infusion_ended_at:
            raise InvalidInput.for_field(
                "assessed_at", self.assessed_at.isoformat(), "a time after the infusion ended"
            )
        for name in ("cadss6_pre_dose", "cadss6_pre_discharge"):
            score = getattr(self, name)
            if score is not None and not (
                isinstance(score, int) and not isinstance(score, bool) and 0 <= score <= CADSS6_MAX
            ):
                raise InvalidInput.for_field(name, score, f"a whole number 0–{CADSS6_MAX}")
        for who in (self.mental_status_attested_by, self.dissociation_attested_by):
            if who is not None and who.role not in CHAIR_ROLES:
                raise PermissionDenied(
                    f"role {who.role.value!r} may not attest a patient's state; "
                    "expected nurse or prescriber"
                )

    @property
    def elapsed_min(self) -> float:
        return (self.assessed_at - self.infusion_ended_at).total_seconds() / 60.0


@dataclass(frozen=True, slots=True)
class UnmetCriterion:
    criterion: Criterion
    message: str


@dataclass(frozen=True, slots=True)
class DischargeReadiness:
    assessed_at: dt.datetime
    earliest_at: dt.datetime  # when the minimum observation time is over
    unmet: tuple[UnmetCriterion, ...]

    @property
    def ready(self) -> bool:
        return not self.unmet


def assess_readiness(
    assessment: DischargeAssessment, policy: DischargePolicy = DEFAULT_POLICY
) -> DischargeReadiness:
    """Every unmet criterion of the readiness rule, in a fixed order; ready when none."""
    unmet: list[UnmetCriterion] = []

    def miss(criterion: Criterion, message: str) -> None:
        unmet.append(UnmetCriterion(criterion, message))

    minimum = policy.min_observation.value
    if assessment.elapsed_min < minimum:
        miss(
            Criterion.OBSERVATION_TIME,
            f"observed {assessment.elapsed_min:.0f} min of the minimum {minimum:g} min "
            f"{policy.min_observation.provenance.label()}",
        )
    if policy.scale is DischargeScale.ALDRETE:
        if assessment.aldrete is None:
            miss(Criterion.SCALE, "Modified Aldrete not scored")
        elif not assessment.aldrete.meets_criterion:
            miss(
                Criterion.SCALE,
                f"Modified Aldrete {assessment.aldrete.total}: needs ≥ 9, or ≥ 8 with "
                "respiration 2 and SpO2 2 [cited: Aldrete tables]",
            )
    elif assessment.padss is None:
        miss(Criterion.SCALE, "PADSS not scored")
    elif not assessment.padss.meets_criterion:
        miss(Criterion.SCALE, f"PADSS {assessment.padss.total}: needs ≥ 9 [cited: Chung 1995]")
    if not assessment.escort_confirmed:
        miss(Criterion.ESCORT, "no responsible adult escort confirmed [cited: Ketalar US PI]")
    if assessment.mental_status_attested_by is None:
        miss(Criterion.MENTAL_STATUS, "no clinician has attested mental status at baseline")
    if assessment.dissociation_attested_by is None:
        pre, now = assessment.cadss6_pre_dose, assessment.cadss6_pre_discharge
        if pre is None or now is None:
            miss(
                Criterion.DISSOCIATION,
                "CADSS-6 pre-dose and pre-discharge scores missing, and no clinician attestation",
            )
        elif now > pre:
            miss(Criterion.DISSOCIATION, f"CADSS-6 {now} is above the pre-dose {pre}")
    if assessment.open_clinical_alerts:
        keys = ", ".join(assessment.open_clinical_alerts)
        miss(Criterion.OPEN_ALERTS, f"open clinical alerts: {keys}")
    return DischargeReadiness(
        assessed_at=assessment.assessed_at,
        earliest_at=assessment.infusion_ended_at + dt.timedelta(minutes=minimum),
        unmet=tuple(unmet),
    )


def clear_for_discharge(
    readiness: DischargeReadiness,
    by: Actor,
    at: dt.datetime,
    override_reason: str | None = None,
) -> DischargeClearance:
    """Permission to discharge.

    Ready: any nurse or prescriber. Not ready: raises OverrideRequired when no override reason
    is given; with one, only a prescriber may override (PermissionDenied) and the reason must
    not be blank (InvalidInput). InvalidInput as well when ``at`` precedes the assessment."""
    require_aware("at", at)
    if at < readiness.assessed_at:
        raise InvalidInput.for_field(
            "at", at.isoformat(), f"at or after the assessment ({readiness.assessed_at})"
        )
    if readiness.ready:
        return DischargeClearance(by=by, at=at)
    unmet = tuple(f"{u.criterion.value}: {u.message}" for u in readiness.unmet)
    if override_reason is None:
        raise OverrideRequired(
            "not ready for discharge ("
            + "; ".join(unmet)
            + "); a prescriber may discharge with an override and a reason"
        )
    return DischargeClearance(by=by, at=at, unmet=unmet, override_reason=override_reason)


def _item(name: str, value: int) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2):
        raise InvalidInput.for_field(name, value, "0, 1 or 2")


def _pressure(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and 0 < value < 400):
        raise InvalidInput.for_field(name, value, "a pressure in mmHg above 0 and below 400")
