"""The drug library: soft and hard limits per protocol, as smart infusion pumps have them.

Each protocol's limits are data (:class:`ProtocolLimits`, one frozen value per protocol) so a
clinic can ship its own. Every bound is a :class:`~ketaclinic.domain.provenance.Threshold` that
names its source. Evaluating a dose (:func:`evaluate`) gives a :class:`LimitEvaluation`:

* ``ok``   – no limit reached;
* ``soft`` – at least one soft limit reached: proceed only with an :class:`Override` (a reason,
  the requester and a *different* person who confirms, at a time) [design, REFERENCE.md §3.1];
* ``hard`` – a hard limit reached: never proceeds; :meth:`LimitEvaluation.require_permitted`
  raises :class:`~ketaclinic.domain.errors.LimitExceeded`.

REFERENCE.md §3.1 (design): a dose above 0.5 mg/kg or a duration under 40 min is a soft limit;
a clinic ceiling is a hard stop; there is no push mode. Two invariants hold for every protocol,
shipped or clinic-made: the concentration hard maximum is at most 50 mg/mL [derived: 1:1
dilution rule, §3.3], and a hard minimum duration exists (no push mode: rapid injection causes
respiratory depression and a stronger pressor response [cited: Ketalar US PI, §3.1]).

Shipped protocols: ``feder-2021``, ``abdallah-2022`` and a general ``default``. Their numbers
are design defaults unless a citation is given; the clinic's medical director owns them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ketaclinic.domain.dosing import DoseCalculation
from ketaclinic.domain.errors import InvalidInput, LimitExceeded, OverrideRequired
from ketaclinic.domain.provenance import Provenance, Threshold, cited, derived, design

MAX_CONCENTRATION_MG_PER_ML = 50.0  # [derived: 1:1 dilution rule, REFERENCE.md §3.3]
MIN_REASON_CHARS = 5  # design: "ok" or "x" is not a reason a reviewer can judge


class LimitLevel(StrEnum):
    OK = "ok"
    SOFT = "soft"
    HARD = "hard"


class Quantity(StrEnum):
    """The quantities a protocol limits; values are the field names used in messages."""

    DOSE_MG_PER_KG = "dose_mg_per_kg"
    DOSE_MG = "dose_mg"
    RATE_MG_PER_KG_PER_H = "rate_mg_per_kg_per_h"
    RATE_ML_PER_H = "rate_ml_per_h"
    DURATION_MIN = "duration_min"
    CONCENTRATION_MG_PER_ML = "concentration_mg_per_ml"


# Relative difference that is floating-point noise, not a dose: far below any pump's or
# syringe's resolution (1e-9 of 0.75 mg/kg/h is under a nanogram per kilogram per hour).
ROUNDING = 1e-9


@dataclass(frozen=True, slots=True)
class Limit:
    """Soft and hard bounds on one quantity.

    ``upper`` True: a value above a bound reaches it (maximum); False: a value below reaches it
    (minimum). Either bound may be ``None`` (not limited at that level). The soft bound must lie
    inside the hard one, or it could never be seen before the hard stop.
    """

    quantity: Quantity
    unit: str
    upper: bool
    soft: Threshold | None
    hard: Threshold | None

    def __post_init__(self) -> None:
        for bound in (self.soft, self.hard):
            if bound is not None and bound.value <= 0:
                raise InvalidInput.for_field(bound.key, bound.value, "a positive limit")
        if self.soft is None or self.hard is None:
            return
        soft, hard = self.soft.value, self.hard.value
        inside = soft <= hard if self.upper else soft >= hard
        if not inside:
            relation = "at most" if self.upper else "at least"
            raise InvalidInput.for_field(
                self.soft.key,
                self.soft.value,
                f"{relation} the hard limit {self.hard.value:g} {self.unit}",
            )

    def level_of(self, value: float) -> tuple[LimitLevel, Threshold | None]:
        """The level ``value`` reaches and the bound it reaches (the hard one first).

        A value at a bound is within it, and so is one that differs from it by floating-point
        rounding alone (relative :data:`ROUNDING`): the chair derives mg/kg/h from the pump's
        programme, and 0.5 mg/kg over 40 min may come out as 0.7500000000000001 there."""
        for level, bound in ((LimitLevel.HARD, self.hard), (LimitLevel.SOFT, self.soft)):
            if bound is None:
                continue
            slack = ROUNDING * abs(bound.value)
            beyond = value > bound.value + slack if self.upper else value < bound.value - slack
            if beyond:
                return level, bound
        return LimitLevel.OK, None


@dataclass(frozen=True, slots=True)
class ProtocolLimits:
    """One protocol's limits. ``studied_doses_mg_per_kg`` lists the doses its trial used."""

    protocol_id: str
    title: str
    dose_mg_per_kg: Limit
    dose_mg: Limit
    rate_mg_per_kg_per_h: Limit
    rate_ml_per_h: Limit
    duration_min: Limit
    concentration_mg_per_ml: Limit
    studied_doses_mg_per_kg: tuple[float, ...] = ()
    studied_provenance: Provenance | None = None

    def __post_init__(self) -> None:
        if not self.protocol_id:
            raise InvalidInput.for_field("protocol_id", self.protocol_id, "a non-empty id")
        for name, limit in self._named():
            if limit.quantity.value != name:
                raise InvalidInput.for_field(name, limit.quantity.value, f"a limit on {name}")
            expected_upper = name != Quantity.DURATION_MIN
            if limit.upper is not expected_upper:
                kind = "maximum" if expected_upper else "minimum"
                raise InvalidInput.for_field(f"{name}.upper", limit.upper, f"a {kind}")
        conc_hard = self.concentration_mg_per_ml.hard
        if conc_hard is None or conc_hard.value > MAX_CONCENTRATION_MG_PER_ML:
            raise InvalidInput.for_field(
                "concentration_mg_per_ml.hard",
                None if conc_hard is None else conc_hard.value,
                f"a hard maximum of at most {MAX_CONCENTRATION_MG_PER_ML:g} mg/mL "
                "(1:1 dilution rule, REFERENCE.md §3.3)",
            )
        if self.duration_min.hard is None:
            raise InvalidInput.for_field(
                "duration_min.hard", None, "a hard minimum duration (there is no push mode)"
            )

    def _named(self) -> tuple[tuple[str, Limit], ...]:
        return (
            ("dose_mg_per_kg", self.dose_mg_per_kg),
            ("dose_mg", self.dose_mg),
            ("rate_mg_per_kg_per_h", self.rate_mg_per_kg_per_h),
            ("rate_ml_per_h", self.rate_ml_per_h),
            ("duration_min", self.duration_min),
            ("concentration_mg_per_ml", self.concentration_mg_per_ml),
        )

    @property
    def limits(self) -> tuple[Limit, ...]:
        return tuple(limit for _, limit in self._named())


@dataclass(frozen=True, slots=True)
class LimitHit:
    """One limit reached: the quantity, its value, the bound and the level."""

    quantity: Quantity
    value: float
    level: LimitLevel
    bound: Threshold
    unit: str
    upper: bool

    @property
    def message(self) -> str:
        relation = "above the maximum" if self.upper else "below the minimum"
        return (
            f"{self.quantity.value} {self.value:.4g} {self.unit} is {relation} "
            f"{self.bound.value:g} {self.unit} ({self.level.value} limit, "
            f"{self.bound.provenance.label()})"
        )


@dataclass(frozen=True, slots=True)
class Override:
    """A prescriber's decision to proceed past soft limits.

    ``requested_by`` and ``confirmed_by`` are staff identifiers (usernames); they must differ.
    ``at`` is timezone-aware. Hard limits have no override.
    """

    reason: str
    requested_by: str
    confirmed_by: str
    at: dt.datetime

    def __post_init__(self) -> None:
        if len(self.reason.strip()) < MIN_REASON_CHARS:
            raise InvalidInput.for_field(
                "reason", self.reason, f"a reason of at least {MIN_REASON_CHARS} characters"
            )
        for field in ("requested_by", "confirmed_by"):
            if not getattr(self, field).strip():
                raise InvalidInput.for_field(field, getattr(self, field), "a staff identifier")
        if self.requested_by.strip().casefold() == self.confirmed_by.strip().casefold():
            raise InvalidInput.for_field(
                "confirmed_by",
                self.confirmed_by,
                "a second person, different from the requester",
            )
        if self.at.tzinfo is None:
            raise InvalidInput.for_field("at", self.at.isoformat(), "a timezone-aware time")


@dataclass(frozen=True, slots=True)
class LimitEvaluation:
    """The outcome of checking a dose against a protocol: the level and every limit hit."""

    protocol_id: str
    level: LimitLevel
    hits: tuple[LimitHit, ...]

    @property
    def hard_hits(self) -> tuple[LimitHit, ...]:
        return tuple(hit for hit in self.hits if hit.level is LimitLevel.HARD)

    @property
    def soft_hits(self) -> tuple[LimitHit, ...]:
        return tuple(hit for hit in self.hits if hit.level is LimitLevel.SOFT)

    def require_permitted(self, override: Override | None = None) -> Override | None:
        """Check that the dose may proceed; return the override that allowed it, if any.

        Raises :class:`LimitExceeded` for any hard limit (an override changes nothing), and
        :class:`OverrideRequired` for soft limits without an override.
        """
        hard = self.hard_hits
        if hard:
            first = hard[0]
            relation = "at most" if first.upper else "at least"
            more = f"; also {', '.join(h.quantity.value for h in hard[1:])}" if hard[1:] else ""
            raise LimitExceeded.for_field(
                first.quantity.value,
                first.value,
                f"{relation} {first.bound.value:g} {first.unit} (hard limit of protocol "
                f"{self.protocol_id}, {first.bound.provenance.label()}; no override exists"
                f"{more})",
            )
        if self.soft_hits and override is None:
            reached = "; ".join(hit.message for hit in self.soft_hits)
            raise OverrideRequired(
                f"soft limit reached: {reached}; proceed only with a reason and a second person",
                field=self.soft_hits[0].quantity.value,
            )
        return override if self.soft_hits else None


def evaluate_values(limits: ProtocolLimits, values: Mapping[Quantity, float]) -> LimitEvaluation:
    """Check the given quantities (units as :class:`Quantity` names them) against ``limits``.

    Quantities missing from ``values`` are not checked, so a rate change at the chair can be
    evaluated on rates alone.
    """
    hits: list[LimitHit] = []
    for limit in limits.limits:
        if limit.quantity not in values:
            continue
        value = float(values[limit.quantity])
        level, bound = limit.level_of(value)
        if bound is not None:
            hits.append(LimitHit(limit.quantity, value, level, bound, limit.unit, limit.upper))
    if any(hit.level is LimitLevel.HARD for hit in hits):
        level = LimitLevel.HARD
    elif hits:
        level = LimitLevel.SOFT
    else:
        level = LimitLevel.OK
    return LimitEvaluation(limits.protocol_id, level, tuple(hits))


def evaluate(limits: ProtocolLimits, dose: DoseCalculation) -> LimitEvaluation:
    """Check every quantity of a computed dose against ``limits``.

    The mL/h limit is checked on the rate the pump will actually run (``pump_rate_ml_per_h``).
    """
    return evaluate_values(
        limits,
        {
            Quantity.DOSE_MG_PER_KG: dose.mg_per_kg,
            Quantity.DOSE_MG: dose.dose_mg,
            Quantity.RATE_MG_PER_KG_PER_H: dose.rate_mg_per_kg_per_h,
            Quantity.RATE_ML_PER_H: dose.pump_rate_ml_per_h,
            Quantity.DURATION_MIN: dose.duration_min,
            Quantity.CONCENTRATION_MG_PER_ML: dose.concentration_mg_per_ml,
        },
    )


# --- shipped defaults ---------------------------------------------------------------------------

_TRIALS = "Feder 2014; Feder 2021; Abdallah 2022"


def _t(key: str, value: float, unit: str, provenance: Provenance) -> Threshold:
    return Threshold(key, value, unit, provenance)


def _default_limits(protocol_id: str) -> dict[str, Limit]:
    """The limits every shipped protocol shares (design unless cited)."""
    p = protocol_id
    return {
        "dose_mg_per_kg": Limit(
            Quantity.DOSE_MG_PER_KG,
            "mg/kg",
            True,
            soft=_t(
                f"{p}.dose_mg_per_kg.soft",
                0.5,
                "mg/kg",
                design(f"above the trial dose 0.5 mg/kg [cited: {_TRIALS}]", "§3.1"),
            ),
            hard=_t(
                f"{p}.dose_mg_per_kg.hard",
                1.0,
                "mg/kg",
                design("clinic ceiling at the top of the ASKP3 starting range", "§3.1"),
            ),
        ),
        "dose_mg": Limit(
            Quantity.DOSE_MG,
            "mg",
            True,
            soft=_t(f"{p}.dose_mg.soft", 80.0, "mg", design("total dose review point", "§3.1")),
            hard=_t(f"{p}.dose_mg.hard", 150.0, "mg", design("total dose ceiling", "§3.1")),
        ),
        "rate_mg_per_kg_per_h": Limit(
            Quantity.RATE_MG_PER_KG_PER_H,
            "mg/kg/h",
            True,
            soft=_t(
                f"{p}.rate_mg_per_kg_per_h.soft",
                0.75,
                "mg/kg/h",
                derived("0.5 mg/kg over 40 min = 0.75 mg/kg/h", "§3.1"),
            ),
            hard=_t(
                f"{p}.rate_mg_per_kg_per_h.hard",
                3.0,
                "mg/kg/h",
                design("the dose ceiling over the minimum duration (1 mg/kg in 20 min)", "§3.1"),
            ),
        ),
        "rate_ml_per_h": Limit(
            Quantity.RATE_ML_PER_H,
            "mL/h",
            True,
            soft=_t(
                f"{p}.rate_ml_per_h.soft",
                300.0,
                "mL/h",
                design("a 100 mL bag over 20 min; faster suggests a programming error", "§3.4"),
            ),
            hard=_t(
                f"{p}.rate_ml_per_h.hard",
                999.0,
                "mL/h",
                design("pump programming ceiling", "§3.4"),
            ),
        ),
        "duration_min": Limit(
            Quantity.DURATION_MIN,
            "min",
            False,
            soft=_t(
                f"{p}.duration_min.soft",
                40.0,
                "min",
                design(f"the trials' 40-min infusion [cited: {_TRIALS}]", "§3.1"),
            ),
            hard=_t(
                f"{p}.duration_min.hard",
                20.0,
                "min",
                design("no push mode: half the trial duration at the least", "§3.1"),
            ),
        ),
        "concentration_mg_per_ml": Limit(
            Quantity.CONCENTRATION_MG_PER_ML,
            "mg/mL",
            True,
            soft=_t(
                f"{p}.concentration_mg_per_ml.soft",
                10.0,
                "mg/mL",
                design("stronger than the most dilute vial: likely undiluted stock", "§3.3"),
            ),
            hard=_t(
                f"{p}.concentration_mg_per_ml.hard",
                MAX_CONCENTRATION_MG_PER_ML,
                "mg/mL",
                derived("1:1 dilution rule", "§3.3"),
            ),
        ),
    }


def _protocol(
    protocol_id: str,
    title: str,
    studied: tuple[float, ...] = (),
    studied_provenance: Provenance | None = None,
) -> ProtocolLimits:
    limits = _default_limits(protocol_id)
    return ProtocolLimits(
        protocol_id=protocol_id,
        title=title,
        dose_mg_per_kg=limits["dose_mg_per_kg"],
        dose_mg=limits["dose_mg"],
        rate_mg_per_kg_per_h=limits["rate_mg_per_kg_per_h"],
        rate_ml_per_h=limits["rate_ml_per_h"],
        duration_min=limits["duration_min"],
        concentration_mg_per_ml=limits["concentration_mg_per_ml"],
        studied_doses_mg_per_kg=studied,
        studied_provenance=studied_provenance,
    )


DEFAULT_LIBRARY: Mapping[str, ProtocolLimits] = {
    limits.protocol_id: limits
    for limits in (
        _protocol(
            "feder-2021",
            "Feder 2021: six infusions, Mon/Wed/Fri over two weeks",
            (0.5,),
            cited("Feder 2021", "§1"),
        ),
        _protocol(
            "abdallah-2022",
            "Abdallah 2022: eight infusions, twice weekly over four weeks",
            (0.2, 0.5),
            cited("Abdallah 2022", "§1"),
        ),
        _protocol("default", "General infusion limits"),
    )
}


def limits_for(
    protocol_id: str, library: Mapping[str, ProtocolLimits] = DEFAULT_LIBRARY
) -> ProtocolLimits:
    """The limits of ``protocol_id`` in ``library``; an unknown id is :class:`InvalidInput`."""
    try:
        return library[protocol_id]
    except KeyError:
        known = ", ".join(sorted(library))
        raise InvalidInput.for_field("protocol", protocol_id, f"one of {known}") from None
