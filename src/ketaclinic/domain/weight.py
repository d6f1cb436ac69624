"""Body weight for dosing: which weight a dose is computed on, and whether a weight is believable.

Two concerns live here because both decide the number a mg/kg dose is multiplied by:

* **Weight basis** (REFERENCE.md §3.2). Trials dosed on actual body weight (ABW) [cited: Feder
  2014; Feder 2021; Abdallah 2022]; some practices use ideal (IBW) or adjusted (AdjBW) body
  weight. The basis is an explicit choice on every order (design), defaulting to actual::

      IBW   = 50 kg (male) | 45.5 kg (female) + 0.9055 kg/cm × (height_cm − 152.4)   [unverified]
      AdjBW = IBW + 0.4 × (ABW − IBW)                                             [unverified]

  A warning is raised when IBW exceeds ABW (design): the "lighter" basis would then dose above
  the patient's real weight.

* **Plausibility** (design). A weight outside a believable adult range, a weight that looks like
  pounds typed as kilograms (or the reverse) against the previous visit, or a large change since
  the previous visit each produce a :class:`WeightFinding`. Every finding blocks dosing until a
  person confirms the weight; how that is confirmed is the caller's business.

Weights are kilograms and heights centimetres throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Provenance, Threshold, cited, derived, design, unverified

# Outside these a number cannot be a human body weight or height in these units, whatever the
# clinic (design). The lower weight bound admits the smallest patient of the paediatric PK
# models (Hornik 2018: 2.4 kg) so that cross-checks can run; clinic plausibility is finer below.
ACCEPTED_WEIGHT_KG = (2.0, 350.0)
ACCEPTED_HEIGHT_CM = (100.0, 250.0)

# 1 lb = 0.45359237 kg exactly (international avoirdupois pound), so kg → lb multiplies by this.
LB_PER_KG = 1.0 / 0.45359237

DEVINE_PROVENANCE = unverified("Devine ideal body weight formula", "§3.2")
ADJUSTED_PROVENANCE = unverified("adjusted body weight, IBW + 0.4 × (ABW − IBW)", "§3.2")
ACTUAL_PROVENANCE = cited("Feder 2014; Feder 2021; Abdallah 2022", "§3.2")

# Devine: base weight at 152.4 cm (5 ft), plus 0.9055 kg per cm above it [unverified].
_DEVINE_BASE_KG = {"male": 50.0, "female": 45.5}
_DEVINE_BASE_HEIGHT_CM = 152.4
_DEVINE_KG_PER_CM = 0.9055
_ADJUSTMENT_FACTOR = 0.4


class WeightBasis(StrEnum):
    """Which body weight a mg/kg dose is multiplied by."""

    ACTUAL = "actual"
    IDEAL = "ideal"
    ADJUSTED = "adjusted"


def parse_basis(value: str) -> WeightBasis:
    """``"actual"``, ``"ideal"`` or ``"adjusted"``; anything else is :class:`InvalidInput`."""
    try:
        return WeightBasis(value)
    except ValueError:
        allowed = ", ".join(b.value for b in WeightBasis)
        raise InvalidInput.for_field("basis", value, f"one of {allowed}") from None


def check_weight_kg(weight_kg: float, field: str = "weight_kg") -> float:
    """``weight_kg`` as a float if it can be a body weight in kg, else :class:`InvalidInput`."""
    low, high = ACCEPTED_WEIGHT_KG
    if not _finite(weight_kg) or not (low <= weight_kg <= high):
        raise InvalidInput.for_field(field, weight_kg, f"a body weight of {low:g}–{high:g} kg")
    return float(weight_kg)


def check_height_cm(height_cm: float, field: str = "height_cm") -> float:
    """``height_cm`` as a float if it can be a body height in cm, else :class:`InvalidInput`."""
    low, high = ACCEPTED_HEIGHT_CM
    if not _finite(height_cm) or not (low <= height_cm <= high):
        raise InvalidInput.for_field(field, height_cm, f"a height of {low:g}–{high:g} cm")
    return float(height_cm)


def ideal_body_weight_kg(height_cm: float, sex: str) -> float:
    """Devine ideal body weight in kg [unverified, REFERENCE.md §3.2].

    ``sex`` is ``"male"`` or ``"female"`` (``ketaclinic.domain.people.Sex`` values compare equal);
    the formula has no other form, so any other value is :class:`InvalidInput`.
    """
    height = check_height_cm(height_cm)
    base = _DEVINE_BASE_KG.get(str(sex))
    if base is None:
        raise InvalidInput.for_field(
            "sex", sex, "male or female (the Devine formula is defined for these only)"
        )
    return base + _DEVINE_KG_PER_CM * (height - _DEVINE_BASE_HEIGHT_CM)


def adjusted_body_weight_kg(actual_kg: float, ideal_kg: float) -> float:
    """AdjBW = IBW + 0.4 × (ABW − IBW) in kg [unverified, REFERENCE.md §3.2]."""
    return ideal_kg + _ADJUSTMENT_FACTOR * (actual_kg - ideal_kg)


@dataclass(frozen=True, slots=True)
class DosingWeight:
    """The weight a dose is computed on, and how it was chosen.

    ``dosing_kg`` is the number mg/kg is multiplied by. ``ideal_kg`` and ``adjusted_kg`` are
    filled whenever height and sex were given, so a screen can show all three side by side.
    ``warnings`` are human sentences (e.g. IBW above ABW); they do not block dosing.
    """

    basis: WeightBasis
    actual_kg: float
    dosing_kg: float
    provenance: Provenance
    ideal_kg: float | None = None
    adjusted_kg: float | None = None
    warnings: tuple[str, ...] = ()


def dosing_weight(
    actual_kg: float,
    basis: WeightBasis | str = WeightBasis.ACTUAL,
    *,
    height_cm: float | None = None,
    sex: str | None = None,
) -> DosingWeight:
    """Choose the dosing weight (kg) for ``basis``.

    Ideal and adjusted bases need ``height_cm`` and ``sex``; without them the call is
    :class:`InvalidInput` naming the missing field. With actual basis they are optional and, when
    given, only fill in ``ideal_kg`` / ``adjusted_kg`` for display.
    """
    actual = check_weight_kg(actual_kg)
    chosen_basis = basis if isinstance(basis, WeightBasis) else parse_basis(basis)
    if chosen_basis is WeightBasis.ACTUAL:
        if height_cm is None or sex is None:
            return DosingWeight(chosen_basis, actual, actual, ACTUAL_PROVENANCE)
        ideal, adjusted, warnings = _alternatives(actual, height_cm, sex)
        return DosingWeight(
            chosen_basis, actual, actual, ACTUAL_PROVENANCE, ideal, adjusted, warnings
        )
    if height_cm is None:
        raise InvalidInput.for_field(
            "height_cm", None, f"a height in cm for the {chosen_basis} basis"
        )
    if sex is None:
        raise InvalidInput.for_field("sex", None, f"male or female for the {chosen_basis} basis")
    ideal, adjusted, warnings = _alternatives(actual, height_cm, sex)
    if chosen_basis is WeightBasis.IDEAL:
        return DosingWeight(
            chosen_basis, actual, ideal, DEVINE_PROVENANCE, ideal, adjusted, warnings
        )
    return DosingWeight(
        chosen_basis, actual, adjusted, ADJUSTED_PROVENANCE, ideal, adjusted, warnings
    )


def _alternatives(
    actual_kg: float, height_cm: float, sex: str
) -> tuple[float, float, tuple[str, ...]]:
    """IBW and AdjBW (kg) with the warnings a prescriber should see beside them."""
    ideal = ideal_body_weight_kg(height_cm, sex)
    if ideal <= 0:
        raise InvalidInput.for_field(
            "height_cm", height_cm, "a height giving a positive ideal body weight"
        )
    warnings: list[str] = []
    if height_cm < _DEVINE_BASE_HEIGHT_CM:
        warnings.append(
            f"height {height_cm:g} cm is below the Devine base height of "
            f"{_DEVINE_BASE_HEIGHT_CM:g} cm; ideal body weight is extrapolated"
        )
    if ideal > actual_kg:
        warnings.append(
            f"ideal body weight {ideal:.1f} kg exceeds actual weight {actual_kg:.1f} kg: an "
            "ideal or adjusted basis doses above the patient's real weight"
        )
    return ideal, adjusted_body_weight_kg(actual_kg, ideal), tuple(warnings)


# --- plausibility -------------------------------------------------------------------------------


class WeightFindingCode(StrEnum):
    BELOW_PLAUSIBLE = "below_plausible"
    ABOVE_PLAUSIBLE = "above_plausible"
    LIKELY_POUNDS = "likely_pounds"  # this weight ≈ previous × 2.2046: pounds typed as kg
    LIKELY_PREVIOUS_POUNDS = "likely_previous_pounds"  # ≈ previous ÷ 2.2046: one of them is off
    LARGE_CHANGE = "large_change"


@dataclass(frozen=True, slots=True)
class WeightPolicy:
    """A clinic's plausibility settings; every value is a design default until it sets its own."""

    plausible_min_kg: Threshold
    plausible_max_kg: Threshold
    max_change_percent: Threshold
    unit_mixup_tolerance_percent: Threshold

    def __post_init__(self) -> None:
        if not (0 < self.plausible_min_kg.value < self.plausible_max_kg.value):
            raise InvalidInput.for_field(
                "plausible_min_kg",
                self.plausible_min_kg.value,
                f"positive and below plausible_max_kg ({self.plausible_max_kg.value:g})",
            )
        if not (0 < self.max_change_percent.value < 100):
            raise InvalidInput.for_field(
                "max_change_percent", self.max_change_percent.value, "a percentage in (0, 100)"
            )
        # A tolerance of 20 % or more would let ordinary weight changes look like unit mix-ups.
        if not (0 < self.unit_mixup_tolerance_percent.value < 20):
            raise InvalidInput.for_field(
                "unit_mixup_tolerance_percent",
                self.unit_mixup_tolerance_percent.value,
                "a percentage in (0, 20)",
            )


DEFAULT_WEIGHT_POLICY = WeightPolicy(
    plausible_min_kg=Threshold(
        "weight.plausible_min_kg", 35.0, "kg", design("adult plausibility bound", "§3.2")
    ),
    plausible_max_kg=Threshold(
        "weight.plausible_max_kg", 250.0, "kg", design("adult plausibility bound", "§3.2")
    ),
    max_change_percent=Threshold(
        "weight.max_change_percent", 10.0, "%", design("change since previous visit", "§3.2")
    ),
    unit_mixup_tolerance_percent=Threshold(
        "weight.unit_mixup_tolerance_percent",
        3.0,
        "%",
        design("closeness of the ratio to 2.2046 that flags a kg/lb mix-up", "§3.2"),
    ),
)

_MIXUP_PROVENANCE = derived("1 lb = 0.45359237 kg", "§3.2")


@dataclass(frozen=True, slots=True)
class WeightFinding:
    """One reason to doubt a weight. Every finding blocks dosing until the weight is confirmed."""

    code: WeightFindingCode
    message: str
    weight_kg: float
    provenance: Provenance
    previous_weight_kg: float | None = None
    blocks_dosing: bool = True


def check_plausibility(
    weight_kg: float,
    previous_weight_kg: float | None = None,
    policy: WeightPolicy = DEFAULT_WEIGHT_POLICY,
) -> tuple[WeightFinding, ...]:
    """Findings for ``weight_kg`` (kg), optionally against the previous visit's weight.

    Returns an empty tuple when the weight looks right. A suspected kg/lb mix-up replaces the
    "large change" finding, being the more specific explanation of the same jump. Both weights
    must pass :func:`check_weight_kg` (else :class:`InvalidInput`).
    """
    weight = check_weight_kg(weight_kg)
    findings: list[WeightFinding] = []
    low, high = policy.plausible_min_kg, policy.plausible_max_kg
    if weight < low.value:
        findings.append(
            WeightFinding(
                WeightFindingCode.BELOW_PLAUSIBLE,
                f"weight {weight:g} kg is below the plausible minimum of {low.value:g} kg",
                weight,
                low.provenance,
            )
        )
    if weight > high.value:
        findings.append(
            WeightFinding(
                WeightFindingCode.ABOVE_PLAUSIBLE,
                f"weight {weight:g} kg is above the plausible maximum of {high.value:g} kg",
                weight,
                high.provenance,
            )
        )
    if previous_weight_kg is None:
        return tuple(findings)
    previous = check_weight_kg(previous_weight_kg, "previous_weight_kg")
    ratio = weight / previous
    tolerance = policy.unit_mixup_tolerance_percent.value / 100
    if abs(ratio / LB_PER_KG - 1) <= tolerance:
        findings.append(
            WeightFinding(
                WeightFindingCode.LIKELY_POUNDS,
                f"weight {weight:g} kg is {ratio:.2f}× the previous {previous:g} kg: "
                "likely pounds entered as kilograms",
                weight,
                _MIXUP_PROVENANCE,
                previous,
            )
        )
    elif abs(ratio * LB_PER_KG - 1) <= tolerance:
        findings.append(
            WeightFinding(
                WeightFindingCode.LIKELY_PREVIOUS_POUNDS,
                f"weight {weight:g} kg is 1/{1 / ratio:.2f} of the previous {previous:g} kg: "
                "one of the two was likely recorded in pounds",
                weight,
                _MIXUP_PROVENANCE,
                previous,
            )
        )
    else:
        change = 100 * (weight - previous) / previous
        limit = policy.max_change_percent
        if abs(change) > limit.value:
            findings.append(
                WeightFinding(
                    WeightFindingCode.LARGE_CHANGE,
                    f"weight {weight:g} kg changed {change:+.1f} % since the previous "
                    f"{previous:g} kg (more than {limit.value:g} %)",
                    weight,
                    limit.provenance,
                    previous,
                )
            )
    return tuple(findings)


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
