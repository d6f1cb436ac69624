"""Load instrument definitions from the JSON files shipped in ``definitions/``.

Each file is parsed into a frozen :class:`~ketaclinic.domain.instruments.model.Instrument` and
checked for internal consistency (subscales name real items, severity bands tile the total
range, anchors cover every item value, labels are short, LOINC codes only where REFERENCE.md §9
marks them cited). A malformed definition raises :class:`InvalidInput` naming the JSON path, so a
broken file fails at load time rather than producing a wrong score.

Public API: :func:`instrument_ids`, :func:`get_instrument`, :func:`parse_instrument`.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from typing import Any, TypeVar

from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.instruments.model import (
    LABEL_MAX_CHARS,
    LOINC_SYSTEM,
    Anchor,
    BandSeverity,
    ClusterRule,
    Code,
    CodeStatus,
    Condition,
    CutPoint,
    Instrument,
    Item,
    ItemFlag,
    Licence,
    LicenceStatus,
    PercentageSeverity,
    RecallPeriod,
    Respondent,
    ResultOption,
    Scoring,
    ScoringMethod,
    SeverityBand,
    Subscale,
    SyndromeCriterion,
    SyndromeOutcome,
    SyndromeRule,
    Text,
)
from ketaclinic.domain.provenance import Provenance, Tag, Threshold

E = TypeVar("E", bound=StrEnum)

_ROOT_KEYS = (
    "id name short_name version recall_period recall_note completed_by licence labels_note "
    "anchors items missing_values codes scoring risk_levels forms"
)

_PACKAGE = "ketaclinic.domain.instruments"
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_ITEM_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*_[0-9]{2}[a-z_]*$")


def instrument_ids() -> tuple[str, ...]:
    """Ids of every shipped instrument, sorted."""
    return tuple(sorted(_load_all()))


def get_instrument(instrument_id: str) -> Instrument:
    """The shipped definition of ``instrument_id``.

    Raises :class:`NotFound` (message names the id and the known ids) for an unknown id.
    """
    definitions = _load_all()
    try:
        return definitions[instrument_id]
    except KeyError:
        known = ", ".join(sorted(definitions))
        raise NotFound(
            f"instrument: got {instrument_id!r}, expected one of {known}", field="instrument"
        ) from None


@functools.cache
def _load_all() -> dict[str, Instrument]:
    loaded: dict[str, Instrument] = {}
    for entry in (resources.files(_PACKAGE) / "definitions").iterdir():
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        instrument = parse_instrument(data, source=entry.name)
        if f"{instrument.id}.json" != entry.name:
            raise InvalidInput.for_field(
                f"{entry.name}.id", instrument.id, "the file name without .json"
            )
        loaded[instrument.id] = instrument
    return loaded


def parse_instrument(data: Any, *, source: str = "definition") -> Instrument:
    """Build and check an :class:`Instrument` from decoded JSON.

    Raises :class:`InvalidInput` whose field is the JSON path (``pcl5.json.items[3].max``).
    """
    root = _obj(data, source, _ROOT_KEYS)
    instrument_id = _str(root, "id", source)
    if not _ID_PATTERN.match(instrument_id):
        raise InvalidInput.for_field(f"{source}.id", instrument_id, "a lower-case id like pcl5")
    anchors = tuple(
        _anchor(raw, f"{source}.anchors[{n}]")
        for n, raw in enumerate(_list(root, "anchors", source))
    )
    items = tuple(
        _item(raw, f"{source}.items[{n}]") for n, raw in enumerate(_list(root, "items", source))
    )
    instrument = Instrument(
        id=instrument_id,
        name=_str(root, "name", source),
        short_name=_str(root, "short_name", source),
        version=_str(root, "version", source),
        recall_period=_enum(RecallPeriod, root, "recall_period", source),
        recall_note=_str(root, "recall_note", source),
        completed_by=_enum(Respondent, root, "completed_by", source),
        licence=_licence(root.get("licence"), f"{source}.licence"),
        items=items,
        anchors=anchors,
        missing_values=tuple(
            _int_value(v, f"{source}.missing_values[{n}]")
            for n, v in enumerate(_list(root, "missing_values", source, default=[]))
        ),
        scoring=_scoring(root.get("scoring"), f"{source}.scoring"),
        codes=tuple(
            (role, _code(raw, f"{source}.codes.{role}"))
            for role, raw in _obj(root.get("codes", {}), f"{source}.codes").items()
        ),
        labels_note=_str(root, "labels_note", source),
        risk_levels=tuple(
            _option(raw, f"{source}.risk_levels[{n}]")
            for n, raw in enumerate(_list(root, "risk_levels", source, default=[]))
        ),
        forms=tuple(
            _option(raw, f"{source}.forms[{n}]")
            for n, raw in enumerate(_list(root, "forms", source, default=[]))
        ),
    )
    _check_consistency(instrument, source)
    return instrument


# --- consistency -----------------------------------------------------------------------------


def _check_consistency(ins: Instrument, source: str) -> None:
    ids = ins.item_ids
    if not ids:
        raise InvalidInput.for_field(f"{source}.items", [], "at least one item")
    if len(set(ids)) != len(ids):
        raise InvalidInput.for_field(f"{source}.items", list(ids), "unique item ids")
    anchor_values = [a.value for a in ins.anchors]
    if anchor_values != list(
        range(min(anchor_values, default=0), max(anchor_values, default=-1) + 1)
    ):
        raise InvalidInput.for_field(
            f"{source}.anchors", anchor_values, "consecutive values in ascending order"
        )
    for n, item in enumerate(ins.items):
        where = f"{source}.items[{n}]"
        if not (item.min_value in anchor_values and item.max_value in anchor_values):
            raise InvalidInput.for_field(
                f"{where}.max", item.max_value, f"a range covered by the anchors {anchor_values}"
            )
        if item.asked_if is not None:
            # Forms walk items in order, so a condition may only look back.
            if item.asked_if.item_id not in ids[:n]:
                raise InvalidInput.for_field(
                    f"{where}.asked_if", item.asked_if.item_id, "the id of an earlier item"
                )
            # A summed score needs every item answered, so skip logic belongs only to
            # clinician-entered instruments.
            if ins.scoring.method is not ScoringMethod.CLINICIAN_ENTERED:
                raise InvalidInput.for_field(
                    f"{where}.asked_if", item.asked_if.item_id, "no skip logic in a summed score"
                )
        if item.code is not None:
            _check_code(item.code, f"{where}.code")
    for role, code in ins.codes:
        _check_code(code, f"{source}.codes.{role}")
    for value in ins.missing_values:
        if value not in anchor_values or any(
            i.min_value <= value <= i.max_value for i in ins.items
        ):
            raise InvalidInput.for_field(
                f"{source}.missing_values", value, "an anchor value outside every item's range"
            )
    _check_scoring(ins, source)


def _check_code(code: Code, where: str) -> None:
    # LOINC only where REFERENCE.md §9 marks the code cited; anything else is a local code.
    if code.system == LOINC_SYSTEM and (
        code.status is not CodeStatus.VERIFIED or code.provenance.tag is not Tag.CITED
    ):
        raise InvalidInput.for_field(where, code.code, "LOINC only with a cited provenance")
    if code.status is CodeStatus.VERIFIED and code.system != LOINC_SYSTEM:
        raise InvalidInput.for_field(where, code.system, f"{LOINC_SYSTEM} for a verified code")


def _check_scoring(ins: Instrument, source: str) -> None:
    where = f"{source}.scoring"
    ids = set(ins.item_ids)
    scoring = ins.scoring
    for sub in scoring.subscales:
        unknown = [i for i in sub.item_ids if i not in ids]
        if unknown or not sub.item_ids:
            raise InvalidInput.for_field(f"{where}.subscales.{sub.id}", unknown, "known item ids")
    low, high = ins.total_range
    if isinstance(scoring.severity, BandSeverity):
        edges = [(b.min_total, b.max_total) for b in scoring.severity.bands]
        tiled = (
            bool(edges)
            and edges[0][0] == low
            and edges[-1][1] == high
            and all(a[1] + 1 == b[0] for a, b in itertools.pairwise(edges))
            and all(lo <= hi for lo, hi in edges)
        )
        if not tiled:
            raise InvalidInput.for_field(
                f"{where}.severity.bands", edges, f"ascending bands tiling {low}–{high}"
            )
    for flag in scoring.item_flags:
        if flag.item_id not in ids:
            raise InvalidInput.for_field(f"{where}.item_flags", flag.item_id, "a known item id")
    if scoring.cluster_rule is not None:
        subscale_ids = {s.id for s in scoring.subscales}
        for sub_id, _ in scoring.cluster_rule.minimum_endorsed:
            if sub_id not in subscale_ids:
                raise InvalidInput.for_field(
                    f"{where}.cluster_rule.minimum_endorsed", sub_id, "a subscale id"
                )
    if scoring.cut_point is not None and not low <= scoring.cut_point.threshold.value <= high:
        raise InvalidInput.for_field(
            f"{where}.cut_point.default", scoring.cut_point.threshold.value, f"{low}–{high}"
        )
    if scoring.syndrome is not None:
        for criterion in scoring.syndrome.criteria:
            if criterion.item_id not in ids:
                raise InvalidInput.for_field(
                    f"{where}.syndrome.criteria", criterion.item_id, "a known item id"
                )
    clinician_entered = scoring.method is ScoringMethod.CLINICIAN_ENTERED
    if clinician_entered != bool(ins.risk_levels):
        raise InvalidInput.for_field(
            f"{source}.risk_levels",
            [r.id for r in ins.risk_levels],
            "risk levels exactly when scoring is clinician_entered",
        )


# --- pieces ----------------------------------------------------------------------------------


def _licence(raw: Any, where: str) -> Licence:
    obj = _obj(raw, where, "status basis provenance")
    return Licence(
        status=_enum(LicenceStatus, obj, "status", where),
        basis=_str(obj, "basis", where),
        provenance=_provenance(obj.get("provenance"), f"{where}.provenance"),
    )


def _anchor(raw: Any, where: str) -> Anchor:
    obj = _obj(raw, where, "value label")
    return Anchor(value=_int(obj, "value", where), label=_text(obj.get("label"), f"{where}.label"))


def _item(raw: Any, where: str) -> Item:
    obj = _obj(raw, where, "id label min max code asked_if")
    item_id = _str(obj, "id", where)
    if not _ITEM_ID_PATTERN.match(item_id):
        raise InvalidInput.for_field(f"{where}.id", item_id, "a neutral id like pcl5_07")
    low, high = _int(obj, "min", where), _int(obj, "max", where)
    if low > high:
        raise InvalidInput.for_field(f"{where}.max", high, f"at least min ({low})")
    asked_if = None
    if "asked_if" in obj:
        cond = _obj(obj["asked_if"], f"{where}.asked_if", "item equals")
        asked_if = Condition(
            item_id=_str(cond, "item", f"{where}.asked_if"),
            equals=_int(cond, "equals", f"{where}.asked_if"),
        )
    code = _code(obj["code"], f"{where}.code") if "code" in obj else None
    return Item(
        id=item_id,
        label=_text(obj.get("label"), f"{where}.label"),
        min_value=low,
        max_value=high,
        code=code,
        asked_if=asked_if,
    )


def _code(raw: Any, where: str) -> Code:
    obj = _obj(raw, where, "system code display status provenance note")
    return Code(
        system=_str(obj, "system", where),
        code=_str(obj, "code", where),
        display=_str(obj, "display", where),
        status=_enum(CodeStatus, obj, "status", where),
        provenance=_provenance(obj.get("provenance"), f"{where}.provenance"),
        note=_str(obj, "note", where, default=""),
    )


def _option(raw: Any, where: str) -> ResultOption:
    obj = _obj(raw, where, "id label")
    return ResultOption(id=_str(obj, "id", where), label=_text(obj.get("label"), f"{where}.label"))


def _scoring(data: Any, where: str) -> Scoring:
    raw = _obj(
        data,
        where,
        "method provenance subscales severity item_flags cluster_rule cut_point syndrome",
    )
    subscales = tuple(
        _subscale(s, f"{where}.subscales[{n}]")
        for n, s in enumerate(_list(raw, "subscales", where, default=[]))
    )
    return Scoring(
        method=_enum(ScoringMethod, raw, "method", where),
        provenance=_provenance(raw.get("provenance"), f"{where}.provenance"),
        subscales=subscales,
        severity=_severity(raw.get("severity"), f"{where}.severity"),
        item_flags=tuple(
            _item_flag(f, f"{where}.item_flags[{n}]")
            for n, f in enumerate(_list(raw, "item_flags", where, default=[]))
        ),
        cluster_rule=(
            _cluster_rule(raw["cluster_rule"], f"{where}.cluster_rule")
            if "cluster_rule" in raw
            else None
        ),
        cut_point=(
            _cut_point(raw["cut_point"], f"{where}.cut_point") if "cut_point" in raw else None
        ),
        syndrome=_syndrome(raw["syndrome"], f"{where}.syndrome") if "syndrome" in raw else None,
    )


def _subscale(raw: Any, where: str) -> Subscale:
    obj = _obj(raw, where, "id name items")
    return Subscale(
        id=_str(obj, "id", where),
        name=_text(obj.get("name"), f"{where}.name"),
        item_ids=tuple(
            _str_value(i, f"{where}.items[{n}]") for n, i in enumerate(_list(obj, "items", where))
        ),
    )


def _severity(raw: Any, where: str) -> BandSeverity | PercentageSeverity | None:
    if raw is None:
        return None
    obj = _obj(raw, where, "kind provenance bands multiplier")
    kind = _str(obj, "kind", where)
    provenance = _provenance(obj.get("provenance"), f"{where}.provenance")
    if kind == "bands":
        bands = []
        for n, b in enumerate(_list(obj, "bands", where)):
            band = _obj(b, f"{where}.bands[{n}]", "id min max label")
            bands.append(
                SeverityBand(
                    id=_str(band, "id", f"{where}.bands[{n}]"),
                    min_total=_int(band, "min", f"{where}.bands[{n}]"),
                    max_total=_int(band, "max", f"{where}.bands[{n}]"),
                    label=_text(band.get("label"), f"{where}.bands[{n}].label"),
                )
            )
        return BandSeverity(bands=tuple(bands), provenance=provenance)
    if kind == "percentage":
        multiplier = _int(obj, "multiplier", where)
        if multiplier < 1:
            raise InvalidInput.for_field(f"{where}.multiplier", multiplier, "a whole number ≥ 1")
        return PercentageSeverity(multiplier=multiplier, provenance=provenance)
    raise InvalidInput.for_field(f"{where}.kind", kind, "'bands' or 'percentage'")


def _item_flag(raw: Any, where: str) -> ItemFlag:
    obj = _obj(raw, where, "item min flag provenance")
    return ItemFlag(
        item_id=_str(obj, "item", where),
        min_value=_int(obj, "min", where),
        flag=_str(obj, "flag", where),
        provenance=_provenance(obj.get("provenance"), f"{where}.provenance"),
    )


def _cluster_rule(raw: Any, where: str) -> ClusterRule:
    obj = _obj(raw, where, "endorse_min minimum_endorsed flag provenance")
    minima = _obj(obj.get("minimum_endorsed"), f"{where}.minimum_endorsed")
    return ClusterRule(
        endorse_min=_int(obj, "endorse_min", where),
        minimum_endorsed=tuple(
            (k, _int_value(v, f"{where}.minimum_endorsed.{k}")) for k, v in minima.items()
        ),
        flag=_str(obj, "flag", where),
        provenance=_provenance(obj.get("provenance"), f"{where}.provenance"),
    )


def _cut_point(raw: Any, where: str) -> CutPoint:
    obj = _obj(raw, where, "key default unit flag note provenance")
    threshold = Threshold(
        key=_str(obj, "key", where),
        value=float(_int(obj, "default", where)),
        unit=_str(obj, "unit", where),
        provenance=_provenance(obj.get("provenance"), f"{where}.provenance"),
    )
    return CutPoint(
        threshold=threshold,
        flag=_str(obj, "flag", where),
        note=_str(obj, "note", where, default=""),
    )


def _syndrome(raw: Any, where: str) -> SyndromeRule:
    obj = _obj(raw, where, "criteria outcomes provenance")
    criteria = []
    for n, c in enumerate(_list(obj, "criteria", where)):
        crit = _obj(c, f"{where}.criteria[{n}]", "item min core")
        core = crit.get("core", False)
        if not isinstance(core, bool):
            raise InvalidInput.for_field(f"{where}.criteria[{n}].core", core, "true or false")
        criteria.append(
            SyndromeCriterion(
                item_id=_str(crit, "item", f"{where}.criteria[{n}]"),
                min_value=_int(crit, "min", f"{where}.criteria[{n}]"),
                core=core,
            )
        )
    outcomes = []
    for n, o in enumerate(_list(obj, "outcomes", where)):
        out = _obj(o, f"{where}.outcomes[{n}]", "flag core_min count_min count_max")
        outcomes.append(
            SyndromeOutcome(
                flag=_str(out, "flag", f"{where}.outcomes[{n}]"),
                core_min=_int(out, "core_min", f"{where}.outcomes[{n}]"),
                count_min=_int(out, "count_min", f"{where}.outcomes[{n}]"),
                count_max=_int(out, "count_max", f"{where}.outcomes[{n}]"),
            )
        )
    return SyndromeRule(
        criteria=tuple(criteria),
        outcomes=tuple(outcomes),
        provenance=_provenance(obj.get("provenance"), f"{where}.provenance"),
    )


def _provenance(raw: Any, where: str) -> Provenance:
    obj = _obj(raw, where, "tag reference section")
    return Provenance(
        tag=_enum(Tag, obj, "tag", where),
        reference=_str(obj, "reference", where),
        section=_str(obj, "section", where, default=""),
    )


def _text(raw: Any, where: str) -> Text:
    obj = _obj(raw, where, "en es")
    text = Text(en=_str(obj, "en", where), es=_str(obj, "es", where))
    for language, value in (("en", text.en), ("es", text.es)):
        if len(value) > LABEL_MAX_CHARS:
            raise InvalidInput.for_field(
                f"{where}.{language}", value, f"a short label of at most {LABEL_MAX_CHARS} chars"
            )
    return text


# --- typed access to decoded JSON ------------------------------------------------------------

_MISSING: Any = object()


def _obj(raw: Any, where: str, keys: str = "") -> Mapping[str, Any]:
    """``raw`` as a JSON object; with ``keys`` (space-separated), any other key is refused so a
    misspelt rule cannot be silently ignored."""
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise InvalidInput.for_field(where, raw, "a JSON object")
    if keys:
        allowed = keys.split()
        for key in raw:
            if key not in allowed:
                raise InvalidInput.for_field(f"{where}.{key}", key, f"one of {', '.join(allowed)}")
    return raw


def _list(raw: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> list[Any]:
    value = raw.get(key, default)
    if not isinstance(value, list):
        raise InvalidInput.for_field(f"{where}.{key}", value, "a JSON array")
    return value


def _str(raw: Mapping[str, Any], key: str, where: str, default: Any = _MISSING) -> str:
    value = raw.get(key, default)
    if value is _MISSING or not isinstance(value, str) or (default is _MISSING and not value):
        raise InvalidInput.for_field(f"{where}.{key}", None if value is _MISSING else value, "text")
    return value


def _str_value(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput.for_field(where, value, "text")
    return value


def _int(raw: Mapping[str, Any], key: str, where: str) -> int:
    return _int_value(raw.get(key), f"{where}.{key}")


def _int_value(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput.for_field(where, value, "a whole number")
    return value


def _enum(kind: type[E], raw: Mapping[str, Any], key: str, where: str) -> E:
    value = raw.get(key)
    for member in kind:
        if member.value == value:
            return member
    allowed = ", ".join(member.value for member in kind)
    raise InvalidInput.for_field(f"{where}.{key}", value, f"one of {allowed}")
