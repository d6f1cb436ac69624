"""Vital signs: the kinds we record, their codes and units.

Codes: LOINC from the FHIR R4 vital-signs profile and US Core [cited: FHIR R4 vitals; US Core,
REFERENCE.md §9]; IEEE 11073 MDC codes as DESIGN.md §4.4 lists them for bedside monitors.
A reading is stored under its :class:`VitalKind`; the codes it arrived with are kept beside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.errors import InvalidInput


class VitalKind(StrEnum):
    BP_SYSTOLIC = "bp_systolic"
    BP_DIASTOLIC = "bp_diastolic"
    BP_MEAN = "bp_mean"
    HEART_RATE = "heart_rate"
    SPO2 = "spo2"
    RESPIRATORY_RATE = "respiratory_rate"
    TEMPERATURE = "temperature"


class VitalSource(StrEnum):
    MANUAL = "manual"
    API = "api"
    MONITOR = "monitor"


@dataclass(frozen=True, slots=True)
class VitalSpec:
    kind: VitalKind
    label: str
    unit: str  # UCUM
    loinc: str  # primary LOINC code used on export
    # The widest range a stored reading may take. Outside it the value is bad input, not an
    # artefact: it cannot be a measurement of a living patient in these units (design).
    storable_min: float
    storable_max: float


SPECS: dict[VitalKind, VitalSpec] = {
    VitalKind.BP_SYSTOLIC: VitalSpec(
        VitalKind.BP_SYSTOLIC, "Systolic BP", "mm[Hg]", "8480-6", 0, 400
    ),
    VitalKind.BP_DIASTOLIC: VitalSpec(
        VitalKind.BP_DIASTOLIC, "Diastolic BP", "mm[Hg]", "8462-4", 0, 300
    ),
    VitalKind.BP_MEAN: VitalSpec(VitalKind.BP_MEAN, "Mean BP", "mm[Hg]", "8478-0", 0, 350),
    VitalKind.HEART_RATE: VitalSpec(VitalKind.HEART_RATE, "Heart rate", "/min", "8867-4", 0, 350),
    VitalKind.SPO2: VitalSpec(VitalKind.SPO2, "SpO2", "%", "59408-5", 0, 110),
    VitalKind.RESPIRATORY_RATE: VitalSpec(
        VitalKind.RESPIRATORY_RATE, "Respiratory rate", "/min", "9279-1", 0, 150
    ),
    VitalKind.TEMPERATURE: VitalSpec(VitalKind.TEMPERATURE, "Temperature", "Cel", "8310-5", 20, 46),
}

# LOINC → kind. SpO2 arrives as 59408-5 or 2708-6 (US Core requires both on export)
# [cited: FHIR R4 vitals; US Core].
LOINC_TO_KIND: dict[str, VitalKind] = {
    "8480-6": VitalKind.BP_SYSTOLIC,
    "8462-4": VitalKind.BP_DIASTOLIC,
    "8478-0": VitalKind.BP_MEAN,
    "8867-4": VitalKind.HEART_RATE,
    "59408-5": VitalKind.SPO2,
    "2708-6": VitalKind.SPO2,
    "9279-1": VitalKind.RESPIRATORY_RATE,
    "8310-5": VitalKind.TEMPERATURE,
}

# IEEE 11073 MDC numeric codes (DESIGN.md §4.4).
MDC_TO_KIND: dict[str, VitalKind] = {
    "150021": VitalKind.BP_SYSTOLIC,  # MDC_PRESS_BLD_NONINV_SYS
    "150022": VitalKind.BP_DIASTOLIC,  # MDC_PRESS_BLD_NONINV_DIA
    "150023": VitalKind.BP_MEAN,  # MDC_PRESS_BLD_NONINV_MEAN
    "147842": VitalKind.HEART_RATE,  # MDC_ECG_HEART_RATE
    "149530": VitalKind.HEART_RATE,  # MDC_PULS_OXIM_PULS_RATE
    "150456": VitalKind.SPO2,  # MDC_PULS_OXIM_SAT_O2
    "151562": VitalKind.RESPIRATORY_RATE,  # MDC_RESP_RATE
    "151578": VitalKind.RESPIRATORY_RATE,  # MDC_TTHOR_RESP_RATE
    "150344": VitalKind.TEMPERATURE,  # MDC_TEMP
}


def kind_for_code(code: str) -> VitalKind | None:
    """The vital kind for a LOINC or MDC code, or ``None`` when the code is not one we record."""
    return LOINC_TO_KIND.get(code) or MDC_TO_KIND.get(code)


@dataclass(frozen=True, slots=True)
class VitalReading:
    """One measured value. ``observed_at`` is timezone-aware UTC."""

    kind: VitalKind
    value: float
    observed_at: dt.datetime
    source: VitalSource
    code: str = ""  # the code it arrived with (LOINC or MDC), kept for export

    def __post_init__(self) -> None:
        spec = SPECS[self.kind]
        if not (spec.storable_min <= self.value <= spec.storable_max):
            raise InvalidInput.for_field(
                "value",
                self.value,
                f"{spec.label} between {spec.storable_min:g} and {spec.storable_max:g} {spec.unit}",
            )
        if self.observed_at.tzinfo is None:
            raise InvalidInput.for_field(
                "observed_at", self.observed_at.isoformat(), "a timezone-aware time"
            )

    @property
    def unit(self) -> str:
        return SPECS[self.kind].unit
