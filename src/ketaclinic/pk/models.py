"""Published ketamine compartment models, as frozen, named, unit-carrying parameter sets.

Every model (REFERENCE.md §4.2, racemic ketamine) carries its citation, the population it was
built on, a validity range (age, weight) and a provenance tag. Using a model outside its validity
range is allowed and returns warnings saying why; it is never an exception, because cross-checks
outside the range are a legitimate use. The ke0 values are not published for any of these models
(REFERENCE.md §4.2): they are opentiva's assumption of a 1-min time to peak, so every effect-site
curve is labelled "assumed".

One internal time unit: minutes. Symbol table (used only inside ``ketaclinic.pk``)::

    symbol   meaning                                            unit
    V1       central volume (plasma sampled here)               L
    V2, V3   fast and slow peripheral volumes (V3 = 0: 2-comp)  L
    CL       elimination clearance from V1                      L/min
    Q2, Q3   inter-compartmental clearances (Q3 = 0: 2-comp)    L/min
    k10      CL / V1, elimination rate constant                 1/min
    k12      Q2 / V1,  k21 = Q2 / V2                            1/min
    k13      Q3 / V1,  k31 = Q3 / V3                            1/min
    ke0      effect-site equilibration rate constant            1/min
    λi       eigenvalues of the system matrix (all negative)    1/min
    Vss      V1 + V2 + V3 = V1·(1 + k12/k21 + k13/k31)          L
    t½,i     ln 2 / |λi|                                        min

Papers give clearances in L/h; they are divided by 60 once, here, where the parameters are built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.provenance import Provenance, cited, derived, design, unverified
from ketaclinic.domain.weight import check_weight_kg
from ketaclinic.pk.linear import decompose

MINUTES_PER_HOUR = 60.0
REFERENCE_WEIGHT_KG = 70.0  # the allometric models scale from a 70 kg adult


@dataclass(frozen=True, slots=True)
class ModelParams:
    """One patient's parameters for a 2- or 3-compartment model (V in L, CL/Q in L/min).

    A two-compartment model has ``q3_l_per_min == v3_l == 0``. ``ke0_per_min`` is ``None`` when
    no effect-site rate exists (Domino). Invariants (checked): every volume and clearance is
    finite and positive, except Q3 and V3 which are both zero or both positive.
    """

    model: str
    weight_kg: float
    v1_l: float
    cl_l_per_min: float
    q2_l_per_min: float
    v2_l: float
    q3_l_per_min: float = 0.0
    v3_l: float = 0.0
    ke0_per_min: float | None = None

    def __post_init__(self) -> None:
        for name in ("v1_l", "cl_l_per_min", "q2_l_per_min", "v2_l"):
            value = getattr(self, name)
            if not _positive(value):
                raise InvalidInput.for_field(name, value, "a finite positive number")
        third = (self.q3_l_per_min, self.v3_l)
        if third != (0.0, 0.0) and not (_positive(third[0]) and _positive(third[1])):
            raise InvalidInput.for_field(
                "q3_l_per_min/v3_l", third, "both zero (two compartments) or both positive"
            )
        if self.ke0_per_min is not None and not _positive(self.ke0_per_min):
            raise InvalidInput.for_field("ke0_per_min", self.ke0_per_min, "a positive rate")

    @classmethod
    def from_rate_constants(
        cls,
        model: str,
        weight_kg: float,
        v1_l: float,
        k10: float,
        k12: float,
        k21: float,
        k13: float = 0.0,
        k31: float = 0.0,
        ke0: float | None = None,
    ) -> ModelParams:
        """Build from V1 (L) and rate constants (1/min), as REFERENCE.md §4.1 defines them."""
        for name, value in (("k10", k10), ("k12", k12), ("k21", k21)):
            if not _positive(value):
                raise InvalidInput.for_field(name, value, "a finite positive rate in 1/min")
        has_third = k13 > 0 or k31 > 0
        if has_third and not (_positive(k13) and _positive(k31)):
            raise InvalidInput.for_field("k13/k31", (k13, k31), "both zero or both positive")
        return cls(
            model=model,
            weight_kg=weight_kg,
            v1_l=v1_l,
            cl_l_per_min=k10 * v1_l,
            q2_l_per_min=k12 * v1_l,
            v2_l=k12 * v1_l / k21,
            q3_l_per_min=k13 * v1_l if has_third else 0.0,
            v3_l=k13 * v1_l / k31 if has_third else 0.0,
            ke0_per_min=ke0,
        )

    @property
    def compartments(self) -> int:
        return 3 if self.v3_l > 0 else 2

    @property
    def volumes_l(self) -> tuple[float, ...]:
        """(V1, V2[, V3]) in L."""
        base = (self.v1_l, self.v2_l)
        return base + ((self.v3_l,) if self.compartments == 3 else ())

    @property
    def clearances_l_per_min(self) -> tuple[float, ...]:
        """(CL, Q2[, Q3]) in L/min, in the same order as :attr:`volumes_l`."""
        base = (self.cl_l_per_min, self.q2_l_per_min)
        return base + ((self.q3_l_per_min,) if self.compartments == 3 else ())

    @property
    def k10(self) -> float:
        return self.cl_l_per_min / self.v1_l

    @property
    def k12(self) -> float:
        return self.q2_l_per_min / self.v1_l

    @property
    def k21(self) -> float:
        return self.q2_l_per_min / self.v2_l

    @property
    def k13(self) -> float:
        return self.q3_l_per_min / self.v1_l

    @property
    def k31(self) -> float:
        return self.q3_l_per_min / self.v3_l if self.v3_l > 0 else 0.0

    @property
    def vss_l(self) -> float:
        return self.v1_l + self.v2_l + self.v3_l

    @property
    def eigenvalues_per_min(self) -> tuple[float, ...]:
        """λi of the system matrix in 1/min, most negative (fastest) first."""
        modes = decompose(np.array([self.volumes_l]), np.array([self.clearances_l_per_min]))
        return tuple(float(x) for x in modes.rates[0])

    @property
    def half_lives_min(self) -> tuple[float, ...]:
        """Distribution and elimination half-lives ln 2/|λi|, shortest first, in minutes."""
        return tuple(sorted(math.log(2) / -rate for rate in self.eigenvalues_per_min))


# --- how a model turns a weight into parameters -------------------------------------------------


@dataclass(frozen=True, slots=True)
class PerKgRateConstants:
    """V1 proportional to weight (L/kg) and weight-independent rate constants (1/min)."""

    v1_l_per_kg: float
    k10: float
    k12: float
    k21: float
    k13: float = 0.0
    k31: float = 0.0

    def at(self, model: str, weight_kg: float, ke0: float | None) -> ModelParams:
        return ModelParams.from_rate_constants(
            model,
            weight_kg,
            self.v1_l_per_kg * weight_kg,
            self.k10,
            self.k12,
            self.k21,
            self.k13,
            self.k31,
            ke0,
        )


@dataclass(frozen=True, slots=True)
class Allometric:
    """``value × (weight / 70 kg) ** exponent``; exponent 0 means no weight scaling."""

    value: float
    exponent: float = 0.0

    def at(self, weight_kg: float) -> float:
        return float(self.value * (weight_kg / REFERENCE_WEIGHT_KG) ** self.exponent)


@dataclass(frozen=True, slots=True)
class AllometricClearances:
    """Volumes (L) and clearances (L/h, as published) scaled from a 70 kg adult."""

    v1_l: Allometric
    cl_l_per_h: Allometric
    q2_l_per_h: Allometric
    v2_l: Allometric
    q3_l_per_h: Allometric | None = None
    v3_l: Allometric | None = None

    def at(self, model: str, weight_kg: float, ke0: float | None) -> ModelParams:
        q3_l_per_min = v3_l = 0.0  # two compartments unless both third-compartment values exist
        if self.q3_l_per_h is not None and self.v3_l is not None:
            q3_l_per_min = self.q3_l_per_h.at(weight_kg) / MINUTES_PER_HOUR
            v3_l = self.v3_l.at(weight_kg)
        return ModelParams(
            model=model,
            weight_kg=weight_kg,
            v1_l=self.v1_l.at(weight_kg),
            cl_l_per_min=self.cl_l_per_h.at(weight_kg) / MINUTES_PER_HOUR,
            q2_l_per_min=self.q2_l_per_h.at(weight_kg) / MINUTES_PER_HOUR,
            v2_l=self.v2_l.at(weight_kg),
            q3_l_per_min=q3_l_per_min,
            v3_l=v3_l,
            ke0_per_min=ke0,
        )


@dataclass(frozen=True, slots=True)
class Validity:
    """Where a model was built: weight (kg) and age (years, ``None`` = not stated)."""

    weight_kg: tuple[float, float]
    age_years: tuple[float, float] | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Parameterised:
    """A model's parameters for one patient and the warnings that go with them."""

    params: ModelParams
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PkModel:
    """A named model: how it is parameterised, where it comes from and where it is valid."""

    name: str
    title: str
    citation: str
    population: str
    form: PerKgRateConstants | AllometricClearances
    provenance: Provenance
    validity: Validity
    ke0_per_min: float | None = None
    ke0_provenance: Provenance | None = None
    notes: tuple[str, ...] = ()

    @property
    def compartments(self) -> int:
        form = self.form
        if isinstance(form, PerKgRateConstants):
            return 3 if form.k13 > 0 else 2
        return 3 if form.q3_l_per_h is not None else 2

    def parameters(self, weight_kg: float, age_years: float | None = None) -> Parameterised:
        """Parameters at ``weight_kg`` (and ``age_years`` if known), with validity warnings.

        Raises :class:`InvalidInput` only for a weight (or age) that cannot be a person's; a
        patient outside the model's population gets warnings instead.
        """
        weight = check_weight_kg(weight_kg)
        warnings = list(self.notes)
        low, high = self.validity.weight_kg
        label = self.validity.provenance.label()
        if not (low <= weight <= high):
            warnings.append(
                f"weight {weight:g} kg is outside the {self.name} model's validity range "
                f"{low:g}–{high:g} kg {label}"
            )
        if age_years is not None:
            if not (math.isfinite(age_years) and 0 <= age_years <= 120):
                raise InvalidInput.for_field("age_years", age_years, "an age of 0–120 years")
            if self.validity.age_years is not None:
                a_low, a_high = self.validity.age_years
                if not (a_low <= age_years <= a_high):
                    warnings.append(
                        f"age {age_years:g} y is outside the {self.name} model's validity range "
                        f"{a_low:g}–{a_high:g} y {label}"
                    )
        return Parameterised(self.form.at(self.name, weight, self.ke0_per_min), tuple(warnings))


# --- the shipped models (REFERENCE.md §4.2) -----------------------------------------------------

# No validity weight range is published for the adult models; 40–120 kg is a design default
# spanning ordinary adult weights, so an extreme patient is at least warned about.
_ADULT = Validity((40.0, 120.0), (18.0, 100.0), design("adult models: range not published", "§4.2"))
_KE0 = unverified("opentiva, assumed 1-min time to peak; no ke0 published", "§4.2")
_PAEDIATRIC = "paediatric model: use for cross-checks only (design, REFERENCE.md §4.2)"

DOMINO = PkModel(
    name="domino",
    title="Domino (3-compartment)",
    citation=(
        "Domino EF, et al. Clin Pharmacol Ther 1984;36(5):645–653, PMID 6488686 "
        "(attribution disputed: opentiva cites PMID 7198883)"
    ),
    population="adults; details not established",
    form=PerKgRateConstants(0.063, 0.4381, 0.5921, 0.2470, 0.5900, 0.0146),
    provenance=unverified("stanpumpR/opentiva values; source disputed", "§4.2"),
    validity=_ADULT,
)

CLEMENTS = PkModel(
    name="clements",
    title="Clements & Nimmo 1981 (2-compartment, 'Clements250')",
    citation=(
        "Clements JA, Nimmo WS. Pharmacokinetics and analgesic effect of ketamine in man. "
        "Br J Anaesth 1981;53:27–30, PMID 7459184"
    ),
    population="adult volunteers (unverified), 250 µg/kg bolus",
    form=PerKgRateConstants(1.7522, 0.0109, 0.0186, 0.0137),
    provenance=unverified("opentiva", "§4.2"),
    validity=_ADULT,
    ke0_per_min=5.2,
    ke0_provenance=_KE0,
)

HIJAZI = PkModel(
    name="hijazi",
    title="Hijazi 2003 (2-compartment)",
    citation=(
        "Hijazi Y, et al. Pharmacokinetics and haemodynamics of ketamine in intensive care "
        "patients with brain or spinal cord injury. Br J Anaesth 2003;90(2):155–160, PMID 12538370"
    ),
    population="12 adult ICU patients with brain or spinal-cord injury; racemic ketamine",
    form=PerKgRateConstants(1.08, 0.0333, 0.0088, 0.0030),
    provenance=unverified("opentiva; matches the paper's CL 36.0 mL/kg/min, t½ 4.9 h", "§4.2"),
    # opentiva caps Hijazi at age < 18 despite its adult population; not inherited (§4.2).
    validity=_ADULT,
    ke0_per_min=4.773,
    ke0_provenance=_KE0,
)

KAMP = PkModel(
    name="kamp",
    title="Kamp 2020 (3-compartment; opentiva 'Klamp')",
    citation=(
        "Kamp J, et al. Ketamine pharmacokinetics: a systematic review of the literature, "
        "meta-analysis, and population analysis. Anesthesiology 2020;133(6):1192–1213, "
        "PMID 32997732"
    ),
    population="pooled raw data of 14 sets; meta-analysis of 18 studies",
    form=AllometricClearances(
        v1_l=Allometric(25.0, 1.0),
        cl_l_per_h=Allometric(84.0, 1.0),
        q2_l_per_h=Allometric(161.0),
        v2_l=Allometric(56.0),
        q3_l_per_h=Allometric(79.0),
        v3_l=Allometric(157.0),
    ),
    provenance=unverified("opentiva; the paper reports Vd 252 L/70 kg, CL 79 L/h", "§4.2"),
    validity=_ADULT,
    ke0_per_min=2.791,
    ke0_provenance=_KE0,
)

HERD = PkModel(
    name="herd",
    title="Herd 2007 (2-compartment, children)",
    citation=(
        "Herd DW, Anderson BJ, Holford NHG. Ketamine disposition in children presenting for "
        "procedural sedation and analgesia in a children's emergency department. "
        "Paediatr Anaesth 2007;17(7):622–629, PMID 17564643"
    ),
    population="54 children, 8.3 ± 3.5 y, 32.5 ± 15.6 kg",
    form=AllometricClearances(
        v1_l=Allometric(38.7, 1.0),
        cl_l_per_h=Allometric(90.0, 0.75),
        q2_l_per_h=Allometric(215.0, 0.75),
        v2_l=Allometric(102.0, 1.0),
    ),
    provenance=cited("Herd 2007", "§4.2"),
    # Mean ± 2 SD of the study population, the lower weight bound floored at our accepted
    # minimum; the paper's own range is not in REFERENCE.md.
    validity=Validity(
        (2.0, 63.7), (1.3, 15.3), derived("mean ± 2 SD of the Herd 2007 population", "§4.2")
    ),
    ke0_per_min=2.995,
    ke0_provenance=_KE0,
    notes=(_PAEDIATRIC,),
)

HORNIK = PkModel(
    name="hornik",
    title="Hornik 2018 (2-compartment, children)",
    # As REFERENCE.md §12 gives it: volume, pages and PMID are not in the reference yet and
    # are not guessed here.
    citation=(
        "Hornik CP, et al. Population pharmacokinetics of intramuscular and intravenous "
        "ketamine in children. J Clin Pharmacol 2018"
    ),
    population="113 children, 0.02–17.6 y, 2.4–176 kg (IV/IM)",
    form=AllometricClearances(
        v1_l=Allometric(32.8, 1.0),
        cl_l_per_h=Allometric(38.9, 0.75),
        q2_l_per_h=Allometric(54.9, 0.75),
        v2_l=Allometric(152.0, 1.0),
    ),
    provenance=unverified("values; allometry cited: Hornik 2018", "§4.2"),
    validity=Validity((2.4, 176.0), (0.02, 17.6), cited("Hornik 2018", "§4.2")),
    ke0_per_min=4.212,
    ke0_provenance=_KE0,
    notes=(_PAEDIATRIC,),
)

MODELS: dict[str, PkModel] = {
    model.name: model for model in (DOMINO, CLEMENTS, HIJAZI, KAMP, HERD, HORNIK)
}


def get_model(name: str) -> PkModel:
    """The model called ``name`` (``domino``, ``clements``, ``hijazi``, ``kamp``, ``herd``,
    ``hornik``); anything else is :class:`InvalidInput` listing the names."""
    try:
        return MODELS[name]
    except KeyError:
        raise InvalidInput.for_field("model", name, f"one of {', '.join(MODELS)}") from None


def _positive(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0
