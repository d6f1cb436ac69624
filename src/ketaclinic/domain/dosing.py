"""Dose and pump rate: from a mg/kg order to the numbers a nurse programs into the pump.

The formulas are REFERENCE.md §3.4 [derived]::

    dose_mg        = mg_per_kg × dosing weight (kg, on the chosen basis, see domain/weight.py)
    concentration  = drug mg / final volume mL        (the final volume includes the added drug)
    volume_ml      = dose_mg / concentration           (the volume to be infused, VTBI)
    rate_ml_per_h  = volume_ml / (duration_min / 60)

Three preparations cover practice: the dose in a bag of known final volume
(:class:`BagPreparation`), the dose drawn from a stock vial and added to a diluent bag
(:class:`DilutionPreparation`, final volume = diluent + drug volume) and a fixed concentration
drawn as needed (:class:`StockPreparation`, e.g. a premixed 1 mg/mL bag).

A pump accepts rates in steps of its resolution (0.1 mL/h by default, design). The rate is
rounded to the nearest step, halves up (design), and the residual dose error of running the
rounded rate for the planned duration is reported rather than hidden (REFERENCE.md §3.4).

Limits (soft/hard) are not checked here: see ``domain/drug_library.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.weight import DosingWeight

# Accepted input ranges (design). Outside them a number is a typing error, not a dose to weigh
# against the drug library: 10 mg/kg is over twice the top of the anaesthetic induction range
# (1–4.5 mg/kg [cited: Ketalar US PI, REFERENCE.md §3.1]); a day is the longest infusion.
ACCEPTED_MG_PER_KG = (0.0, 10.0)  # exclusive lower bound
ACCEPTED_DURATION_MIN = (0.0, 24 * 60.0)  # exclusive lower bound
ACCEPTED_VOLUME_ML = (1.0, 1000.0)
# 100 mg/mL is the strongest US strength [cited: Handbook; openFDA NDC, REFERENCE.md §3.3]; no
# preparation can be stronger. The 50 mg/mL ceiling for infusion is a drug-library hard limit.
ACCEPTED_STOCK_MG_PER_ML = (0.0, 100.0)  # exclusive lower bound
ACCEPTED_PUMP_RESOLUTION_ML_PER_H = (0.0, 10.0)  # exclusive lower bound
DEFAULT_PUMP_RESOLUTION_ML_PER_H = 0.1  # design: a common volumetric pump step
# Smallest values accepted as real input (design): anything positive below these is a typing
# error (and tiny divisors would overflow the volume, rate or rounding).
TYPING_ERROR_FLOORS = {
    "mg_per_kg": 0.001,
    "duration_min": 1.0,
    "stock_mg_per_ml": 0.001,
    "concentration_mg_per_ml": 0.001,
    "pump_resolution_ml_per_h": 1e-6,
}


@dataclass(frozen=True, slots=True)
class BagPreparation:
    """The whole dose in a bag or syringe whose final volume (drug included) is known, in mL."""

    final_volume_ml: float

    def __post_init__(self) -> None:
        _check_range("final_volume_ml", self.final_volume_ml, ACCEPTED_VOLUME_ML, "mL")


@dataclass(frozen=True, slots=True)
class DilutionPreparation:
    """The dose drawn from a stock vial (mg/mL) and added to ``diluent_ml`` of diluent.

    Final volume = diluent + dose / stock concentration (REFERENCE.md §3.4, overfill ignored
    unless the caller includes it in ``diluent_ml``).
    """

    diluent_ml: float
    stock_mg_per_ml: float

    def __post_init__(self) -> None:
        _check_range("diluent_ml", self.diluent_ml, ACCEPTED_VOLUME_ML, "mL")
        _check_open_range(
            "stock_mg_per_ml", self.stock_mg_per_ml, ACCEPTED_STOCK_MG_PER_ML, "mg/mL"
        )


@dataclass(frozen=True, slots=True)
class StockPreparation:
    """A fixed concentration in mg/mL, infused until the dose is given (volume = dose / C)."""

    concentration_mg_per_ml: float

    def __post_init__(self) -> None:
        _check_open_range(
            "concentration_mg_per_ml",
            self.concentration_mg_per_ml,
            ACCEPTED_STOCK_MG_PER_ML,
            "mg/mL",
        )


Preparation = BagPreparation | DilutionPreparation | StockPreparation


@dataclass(frozen=True, slots=True)
class DoseCalculation:
    """Everything a dose order turns into. Units are in the names.

    ``rate_ml_per_h`` is the exact rate; ``pump_rate_ml_per_h`` is what the pump is set to.
    ``dose_error_mg`` is (pump rate − exact rate) × duration × concentration: positive means the
    pump reaches the volume to be infused early (at ``pump_duration_min``), negative means the
    dose is not complete at the planned end time.
    """

    weight: DosingWeight
    mg_per_kg: float
    duration_min: float
    preparation: Preparation
    dose_mg: float
    concentration_mg_per_ml: float
    volume_ml: float
    rate_ml_per_h: float
    rate_mg_per_kg_per_h: float
    pump_resolution_ml_per_h: float
    pump_rate_ml_per_h: float
    pump_duration_min: float
    dose_error_mg: float

    @property
    def rate_mg_per_min(self) -> float:
        """The drug rate in mg/min, as the PK simulation takes it."""
        return self.dose_mg / self.duration_min

    @property
    def dose_error_percent(self) -> float:
        return 100.0 * self.dose_error_mg / self.dose_mg


def compute_dose(
    weight: DosingWeight,
    mg_per_kg: float,
    duration_min: float,
    preparation: Preparation,
    *,
    pump_resolution_ml_per_h: float = DEFAULT_PUMP_RESOLUTION_ML_PER_H,
) -> DoseCalculation:
    """Dose, concentration, volume and pump rate for one infusion (REFERENCE.md §3.4).

    Inputs: a :class:`DosingWeight` (kg, basis chosen), the ordered ``mg_per_kg``, the infusion
    ``duration_min`` and a preparation. Raises :class:`InvalidInput` for values outside the
    accepted ranges above, or when the rate rounds to zero at the pump's resolution.
    """
    check_mg_per_kg(mg_per_kg)
    check_duration_min(duration_min)
    _check_open_range(
        "pump_resolution_ml_per_h",
        pump_resolution_ml_per_h,
        ACCEPTED_PUMP_RESOLUTION_ML_PER_H,
        "mL/h",
    )
    dose_mg = mg_per_kg * weight.dosing_kg
    concentration, volume = _concentration_and_volume(dose_mg, preparation)
    hours = duration_min / 60.0
    rate = volume / hours
    pump_rate = round_to_resolution(rate, pump_resolution_ml_per_h)
    if pump_rate <= 0:
        raise InvalidInput.for_field(
            "rate_ml_per_h",
            rate,
            f"a rate of at least one pump step ({pump_resolution_ml_per_h:g} mL/h)",
        )
    return DoseCalculation(
        weight=weight,
        mg_per_kg=float(mg_per_kg),
        duration_min=float(duration_min),
        preparation=preparation,
        dose_mg=dose_mg,
        concentration_mg_per_ml=concentration,
        volume_ml=volume,
        rate_ml_per_h=rate,
        rate_mg_per_kg_per_h=mg_per_kg / hours,
        pump_resolution_ml_per_h=float(pump_resolution_ml_per_h),
        pump_rate_ml_per_h=pump_rate,
        pump_duration_min=60.0 * volume / pump_rate,
        dose_error_mg=(pump_rate - rate) * hours * concentration,
    )


def check_mg_per_kg(mg_per_kg: float) -> float:
    """``mg_per_kg`` if it can be a ketamine dose at all (above 0, at most 10 mg/kg), else
    :class:`InvalidInput`. Whether it is allowed is the drug library's decision."""
    _check_open_range("mg_per_kg", mg_per_kg, ACCEPTED_MG_PER_KG, "mg/kg")
    return float(mg_per_kg)


def check_duration_min(duration_min: float) -> float:
    """``duration_min`` if it can be an infusion duration (above 0, at most a day)."""
    _check_open_range("duration_min", duration_min, ACCEPTED_DURATION_MIN, "min")
    return float(duration_min)


def round_to_resolution(value: float, resolution: float) -> float:
    """``value`` rounded to the nearest multiple of ``resolution``, halves up.

    Decimal arithmetic on the shortest decimal forms, so 155.25 at 0.1 is 155.3 as a nurse
    would round it, not 155.2 as binary floating point would.
    """
    steps = (Decimal(repr(float(value))) / Decimal(repr(float(resolution)))).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return float(steps * Decimal(repr(float(resolution))))


def _concentration_and_volume(dose_mg: float, preparation: Preparation) -> tuple[float, float]:
    """(mg/mL, mL to be infused) for a dose in a preparation."""
    if isinstance(preparation, BagPreparation):
        return dose_mg / preparation.final_volume_ml, preparation.final_volume_ml
    if isinstance(preparation, DilutionPreparation):
        final_ml = preparation.diluent_ml + dose_mg / preparation.stock_mg_per_ml
        return dose_mg / final_ml, final_ml
    return preparation.concentration_mg_per_ml, dose_mg / preparation.concentration_mg_per_ml


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_range(field: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    low, high = bounds
    if not _is_number(value) or not (low <= value <= high):
        raise InvalidInput.for_field(field, value, f"{low:g}–{high:g} {unit}")


def _check_open_range(field: str, value: float, bounds: tuple[float, float], unit: str) -> None:
    """Like :func:`_check_range`, with the lower bound excluded (zero is never a dose)."""
    low, high = bounds
    if not _is_number(value) or not (low < value <= high):
        raise InvalidInput.for_field(field, value, f"more than {low:g} and at most {high:g} {unit}")
    floor = TYPING_ERROR_FLOORS.get(field)
    if floor is not None and value < floor:
        # Positive but far below anything real: a typing error, and a value that would make
        # the volume, the rate or the rounding overflow downstream.
        raise InvalidInput.for_field(field, value, f"at least {floor:g} {unit}")
