"""The scoring engine: answers in, a :class:`ScoreResult` out, driven only by the definition.

Rules, all read from the instrument's JSON definition (``definitions/<id>.json``):

- **Completeness guard.** Every item must have exactly one answer, a whole number in the item's
  range. A missing answer (``None`` or an answer that means "not assessed", e.g. BPRS 0), an
  out-of-range answer, an unknown item id or a wrong number of answers raises
  :class:`InvalidInput` naming the item (``answers[7]`` for a list, ``pcl5_07`` for a mapping).
  Nothing is ever prorated or summed over a partial set (REFERENCE.md §6, §8.1).
- **Total** = sum of items; **subscales** = sums over their items (PCL-5 clusters B–E).
- **Severity** = the band containing the total (PHQ-9, GAD-7, §8.2), or for WHO-5 the total as a
  percentage (raw × 4).
- **Flags**: item rules (PHQ-9 item 9 ≥ 1), symptom-count syndromes (PHQ-9 major / other
  depressive syndrome, §8.2), the DSM-5 cluster rule and the cut-point (PCL-5, §8.1).
- **Provisional diagnosis** (PCL-5): the cluster rule (item ≥ 2 endorsed; B≥1, C≥1, D≥2, E≥2)
  and total ≥ cut-point (default 33 [cited: VA PCL-5 guide], the clinic may set its own).

Pure functions; no I/O beyond reading the shipped definitions once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments.loader import get_instrument
from ketaclinic.domain.instruments.model import (
    BandSeverity,
    ClusterRule,
    Instrument,
    Item,
    PercentageSeverity,
    ScoringMethod,
    SyndromeRule,
)
from ketaclinic.domain.provenance import Provenance, Threshold

Answers = Sequence[int | None] | Mapping[str, int | None]
"""Answers in item order (``[0, 1, …]``) or keyed by item id (``{"pcl5_01": 0, …}``)."""


def _frozen(mapping: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class ClusterRuleResult:
    """Outcome of a symptom-cluster rule: endorsed items per cluster against the minimum."""

    met: bool
    endorsed: Mapping[str, int]
    required: Mapping[str, int]
    endorse_min: int
    provenance: Provenance

    def as_dict(self) -> dict[str, Any]:
        return {
            "met": self.met,
            "endorsed": dict(self.endorsed),
            "required": dict(self.required),
            "endorsed_if_at_least": self.endorse_min,
            "source": self.provenance.label(),
        }


@dataclass(frozen=True, slots=True)
class CutPointResult:
    """Outcome of total ≥ cut-point; ``threshold`` is the value actually used."""

    met: bool
    threshold: Threshold

    def as_dict(self) -> dict[str, Any]:
        value = self.threshold.value
        return {
            "met": self.met,
            "cut_point": int(value) if value.is_integer() else value,
            "source": self.threshold.provenance.label(),
        }


@dataclass(frozen=True, slots=True)
class ProvisionalDiagnosis:
    """A screening result, never a diagnosis: either rule may be absent for an instrument."""

    cluster_rule: ClusterRuleResult | None
    cut_point: CutPointResult | None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.cluster_rule is not None:
            body["cluster_rule"] = self.cluster_rule.as_dict()
        if self.cut_point is not None:
            body["cut_point"] = self.cut_point.as_dict()
        return body


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """A scored questionnaire.

    ``total`` is ``None`` only for a clinician-entered result (C-SSRS). ``severity`` is a band id
    (``"moderate"``), the WHO-5 percentage (0–100, whole number), or for C-SSRS the risk level as
    entered by the clinician. ``answers`` holds the validated answers by item id (what storage
    keeps); ``version`` is the definition's version (e.g. past-week PCL-5).
    """

    instrument: str
    version: str
    total: int | None
    subscales: Mapping[str, int] = field(default_factory=lambda: _frozen({}))
    severity: str | int | None = None
    flags: tuple[str, ...] = ()
    provisional_diagnosis: ProvisionalDiagnosis | None = None
    answers: Mapping[str, int] = field(default_factory=lambda: _frozen({}))

    def as_dict(self) -> dict[str, Any]:
        """The ``score`` JSON of DESIGN.md §4.2: ``instrument``, ``total``, ``subscales``,
        ``severity`` (when the instrument has one), ``flags``, ``provisional_diagnosis`` (PCL-5)."""
        body: dict[str, Any] = {
            "instrument": self.instrument,
            "total": self.total,
            "subscales": dict(self.subscales),
        }
        if self.severity is not None:
            body["severity"] = self.severity
        body["flags"] = list(self.flags)
        if self.provisional_diagnosis is not None:
            body["provisional_diagnosis"] = self.provisional_diagnosis.as_dict()
        return body


def score(
    instrument_id: str, answers: Answers, *, cut_point: Threshold | None = None
) -> ScoreResult:
    """Score ``answers`` for the shipped instrument ``instrument_id``.

    ``cut_point`` replaces the definition's default cut-point (PCL-5: 33) with the clinic's own
    :class:`Threshold`. Raises :class:`NotFound` for an unknown instrument and
    :class:`InvalidInput` for incomplete or out-of-range answers (see module docstring).
    """
    return score_instrument(get_instrument(instrument_id), answers, cut_point=cut_point)


def score_instrument(
    instrument: Instrument, answers: Answers, *, cut_point: Threshold | None = None
) -> ScoreResult:
    """Score ``answers`` against an already loaded definition (same contract as :func:`score`)."""
    if instrument.scoring.method is not ScoringMethod.SUM:
        raise InvalidInput.for_field(
            "instrument",
            instrument.id,
            "an item-scored instrument (C-SSRS is recorded as the clinician's result)",
        )
    values = validate_answers(instrument, answers)
    total = sum(values.values())
    scoring = instrument.scoring
    subscales = {s.id: sum(values[i] for i in s.item_ids) for s in scoring.subscales}

    flags: list[str] = [f.flag for f in scoring.item_flags if values[f.item_id] >= f.min_value]
    if scoring.syndrome is not None:
        flags.extend(_syndrome_flags(scoring.syndrome, values))

    cluster = None
    if scoring.cluster_rule is not None:
        cluster = _cluster_rule(scoring.cluster_rule, instrument, values)
        if cluster.met:
            flags.append(scoring.cluster_rule.flag)

    cut = None
    if cut_point is not None and scoring.cut_point is None:
        raise InvalidInput.for_field(
            "cut_point", cut_point.value, f"no cut-point: {instrument.id} has none"
        )
    if scoring.cut_point is not None:
        threshold = cut_point if cut_point is not None else scoring.cut_point.threshold
        low, high = instrument.total_range
        if not low <= threshold.value <= high:
            raise InvalidInput.for_field(
                "cut_point", threshold.value, f"a total between {low} and {high}"
            )
        cut = CutPointResult(met=total >= threshold.value, threshold=threshold)
        if cut.met:
            flags.append(scoring.cut_point.flag)

    diagnosis = None
    if cluster is not None or cut is not None:
        diagnosis = ProvisionalDiagnosis(cluster_rule=cluster, cut_point=cut)
    return ScoreResult(
        instrument=instrument.id,
        version=instrument.version,
        total=total,
        subscales=_frozen(subscales),
        severity=_severity(scoring.severity, total),
        flags=tuple(flags),
        provisional_diagnosis=diagnosis,
        answers=_frozen(values),
    )


def validate_answers(instrument: Instrument, answers: Answers) -> dict[str, int]:
    """The completeness guard: ``answers`` as ``{item_id: value}`` in item order, or
    :class:`InvalidInput` naming the first offending item."""
    items = instrument.items
    if isinstance(answers, Mapping):
        for key in answers:
            if not isinstance(key, str) or key not in instrument.item_ids:
                raise InvalidInput.for_field(
                    str(key), answers[key], f"an item id of {instrument.id}"
                )
        return {
            item.id: _checked(instrument, item, answers.get(item.id), item.id) for item in items
        }
    if isinstance(answers, str | bytes) or not isinstance(answers, Sequence):
        raise InvalidInput.for_field(
            "answers", answers, "a list of answers in item order or a mapping by item id"
        )
    if len(answers) != len(items):
        raise InvalidInput.for_field(
            "answers",
            len(answers),
            f"{len(items)} answers for {instrument.id} "
            f"({items[0].id}…{items[-1].id}), one per item; none may be left out",
        )
    return {
        item.id: _checked(instrument, item, value, f"answers[{position}]")
        for position, (item, value) in enumerate(zip(items, answers, strict=True), start=1)
    }


def _checked(instrument: Instrument, item: Item, value: object, field_name: str) -> int:
    where = "" if field_name == item.id else f" for {item.id}"
    expected = f"a whole number {item.min_value}–{item.max_value}{where}"
    if value is None:
        raise InvalidInput.for_field(
            field_name, value, f"{expected} (missing answers are never prorated)"
        )
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput.for_field(field_name, value, expected)
    if value in instrument.missing_values:
        raise InvalidInput.for_field(
            field_name,
            value,
            f"{expected} ({value} means not assessed; the score needs every item rated)",
        )
    if not item.min_value <= value <= item.max_value:
        raise InvalidInput.for_field(field_name, value, expected)
    return value


def _severity(severity: BandSeverity | PercentageSeverity | None, total: int) -> str | int | None:
    if isinstance(severity, BandSeverity):
        for band in severity.bands:
            if band.min_total <= total <= band.max_total:
                return band.id
        # The loader proves bands tile the total range, so a complete total always has a band.
        raise InvalidInput.for_field("total", total, "a total inside the severity bands")
    if isinstance(severity, PercentageSeverity):
        return total * severity.multiplier
    return None


def _syndrome_flags(rule: SyndromeRule, values: Mapping[str, int]) -> list[str]:
    present = [c for c in rule.criteria if values[c.item_id] >= c.min_value]
    core = sum(1 for c in present if c.core)
    count = len(present)
    return [
        o.flag for o in rule.outcomes if core >= o.core_min and o.count_min <= count <= o.count_max
    ]


def _cluster_rule(
    rule: ClusterRule, instrument: Instrument, values: Mapping[str, int]
) -> ClusterRuleResult:
    members = {s.id: s.item_ids for s in instrument.scoring.subscales}
    endorsed = {
        sub_id: sum(1 for i in members[sub_id] if values[i] >= rule.endorse_min)
        for sub_id, _ in rule.minimum_endorsed
    }
    required = dict(rule.minimum_endorsed)
    return ClusterRuleResult(
        met=all(endorsed[k] >= n for k, n in required.items()),
        endorsed=_frozen(endorsed),
        required=_frozen(required),
        endorse_min=rule.endorse_min,
        provenance=rule.provenance,
    )
