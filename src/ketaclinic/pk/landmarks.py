"""Plasma concentration landmarks of racemic ketamine (REFERENCE.md §4.3), for orientation.

They put a simulated curve in context on plots and in population summaries ("share of virtual
patients above the dissociation range"). They are population observations from the cited
studies, not targets, and never drive dosing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ketaclinic.domain.provenance import Provenance, cited


@dataclass(frozen=True, slots=True)
class Landmark:
    """A concentration band in ng/mL with its source."""

    key: str
    label: str
    low_ng_per_ml: float
    high_ng_per_ml: float
    provenance: Provenance


ANALGESIA = Landmark(
    "analgesia", "Analgesia", 70.0, 160.0, cited("Zanos 2018; Hornik 2018", "§4.3")
)
DISSOCIATION = Landmark(
    "dissociation",
    "Dissociation (0.5 mg/kg over 40 min)",
    100.0,
    250.0,
    cited("Zanos 2018", "§4.3"),
)
ANAESTHESIA = Landmark(
    "anaesthesia",
    "General anaesthesia",
    1200.0,
    2400.0,
    cited("Zanos 2018; Idvall 1979", "§4.3"),
)
LANDMARKS: tuple[Landmark, ...] = (ANALGESIA, DISSOCIATION, ANAESTHESIA)

# Measured mean at the end of 0.5 mg/kg over 40 min, the antidepressant regimen.
END_OF_INFUSION_NG_PER_ML = 185.0
END_OF_INFUSION_PROVENANCE = cited("Zanos 2018, Table 1", "§4.3")
