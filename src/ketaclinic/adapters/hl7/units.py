"""Units that monitors send in OBX-6, and how to turn each into the unit a vital is stored in.

Every vital kind is stored in one UCUM unit (``SPECS[kind].unit`` in ``domain/vitals.py``). A
monitor may name the unit in UCUM (``mm[Hg]``), with an IEEE 11073 MDC dimension (IHE PCD-01
sends ``266016^MDC_DIM_MMHG^MDC``), or in plain text (``mmHg``, ``bpm``). A unit we do not know is
refused rather than guessed: a pressure in kPa stored as mmHg would be a silent, dangerous error.

An empty OBX-6 is read as the stored unit. Simple monitors omit it for HR and SpO2; for the
kinds where a wrong assumption could matter (temperature in °F) the value then falls outside the
storable range and is refused by ``VitalReading``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ketaclinic.domain.vitals import VitalKind


def _same(value: float) -> float:
    return value


def _fahrenheit_to_celsius(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


@dataclass(frozen=True, slots=True)
class UnitRule:
    """Spellings (lower case) of one unit, and the conversion into the stored unit."""

    spellings: frozenset[str]
    convert: Callable[[float], float]


# MDC dimension codes are the IEEE 11073-10101 numeric codes for the MDC_DIM_* reference ids
# written beside them; both spellings are accepted because gateways send either or both.
_MMHG = UnitRule(frozenset({"mm[hg]", "mmhg", "mm hg", "266016", "mdc_dim_mmhg"}), _same)
_PER_MIN_BEATS = UnitRule(
    frozenset(
        {"/min", "1/min", "{beats}/min", "{beat}/min", "bpm", "264864", "mdc_dim_beat_per_min"}
    ),
    _same,
)
_PERCENT = UnitRule(frozenset({"%", "percent", "262688", "mdc_dim_percent"}), _same)
_PER_MIN_BREATHS = UnitRule(
    frozenset(
        {
            "/min",
            "1/min",
            "{breaths}/min",
            "{breath}/min",
            "{resp}/min",
            "brpm",
            "rpm",
            "264928",
            "mdc_dim_resp_per_min",
        }
    ),
    _same,
)
_CELSIUS = UnitRule(frozenset({"cel", "degc", "°c", "c", "268192", "mdc_dim_degc"}), _same)
_FAHRENHEIT = UnitRule(
    frozenset({"[degf]", "degf", "°f", "f", "mdc_dim_fahr"}), _fahrenheit_to_celsius
)

RULES: dict[VitalKind, tuple[UnitRule, ...]] = {
    VitalKind.BP_SYSTOLIC: (_MMHG,),
    VitalKind.BP_DIASTOLIC: (_MMHG,),
    VitalKind.BP_MEAN: (_MMHG,),
    VitalKind.HEART_RATE: (_PER_MIN_BEATS,),
    VitalKind.SPO2: (_PERCENT,),
    VitalKind.RESPIRATORY_RATE: (_PER_MIN_BREATHS,),
    VitalKind.TEMPERATURE: (_CELSIUS, _FAHRENHEIT),
}


def converter_for(kind: VitalKind, unit_codes: tuple[str, ...]) -> Callable[[float], float] | None:
    """The conversion into ``kind``'s stored unit, or ``None`` when the unit is not known.

    ``unit_codes`` are the spellings found in OBX-6 (identifier, text, alternate identifier...);
    the first one that a rule knows decides. All empty means "the stored unit".
    """
    spellings = [code.strip().lower() for code in unit_codes if code.strip()]
    if not spellings:
        return _same
    for spelling in spellings:
        for rule in RULES[kind]:
            if spelling in rule.spellings:
                return rule.convert
    return None
