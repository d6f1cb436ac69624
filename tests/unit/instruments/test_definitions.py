"""The shipped instrument definitions: they load, carry only short labels, and follow
REFERENCE.md for licence status, codes, items and who completes them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.instruments import get_instrument, instrument_ids, parse_instrument
from ketaclinic.domain.instruments.model import (
    LABEL_MAX_CHARS,
    LOINC_SYSTEM,
    Anchor,
    CodeStatus,
    Item,
    LicenceStatus,
    RecallPeriod,
    Respondent,
)

SHIPPED = {"pcl5", "pcl5-week", "phq9", "gad7", "who5", "cadss6", "bprs4", "cssrs"}
# LOINC codes REFERENCE.md §9 marks as cited: the PHQ-9 panel and its nine items.
CITED_LOINC = {
    "44249-1",
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
}
# Keys whose text is ours and may be longer than a label (notes, sources, licence basis).
NOTE_KEYS = {"labels_note", "recall_note", "note", "basis", "reference", "name", "display"}


def raw_definition(instrument_id: str) -> dict[str, Any]:
    path = (
        resources.files("ketaclinic.domain.instruments") / "definitions" / f"{instrument_id}.json"
    )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def strings_with_keys(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings_with_keys(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from strings_with_keys(v, key)
    elif isinstance(node, str):
        yield key, node


def test_every_expected_instrument_is_shipped() -> None:
    assert set(instrument_ids()) == SHIPPED


@pytest.mark.parametrize("instrument_id", sorted(SHIPPED))
def test_definition_file_holds_no_text_longer_than_a_label(instrument_id: str) -> None:
    """Official wording cannot slip in: apart from our own notes, every string is a label of at
    most 60 characters, and no item carries anything but id, label, range, code and skip rule."""
    data = raw_definition(instrument_id)
    for key, text in strings_with_keys(data):
        if key not in NOTE_KEYS:
            assert len(text) <= LABEL_MAX_CHARS, (key, text)
    for item in data["items"]:
        assert set(item) <= {"id", "label", "min", "max", "code", "asked_if"}
        assert set(item["label"]) == {"en", "es"}
        assert all(0 < len(text) <= LABEL_MAX_CHARS for text in item["label"].values())


@pytest.mark.parametrize("instrument_id", sorted(SHIPPED))
def test_every_item_and_anchor_has_an_english_and_spanish_label(instrument_id: str) -> None:
    instrument = get_instrument(instrument_id)
    entries: list[Item | Anchor] = [*instrument.items, *instrument.anchors]
    assert all(e.label.get("en") and e.label.get("es") for e in entries)
    # Cognates may match ("Considerable"), but Spanish must not be a copy of the English.
    assert any(e.label.en != e.label.es for e in entries)


def test_labels_are_served_for_a_regional_language_tag() -> None:
    label = get_instrument("phq9").items[0].label
    assert label.get("es-MX") == label.es


def test_label_in_an_unshipped_language_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="language: got 'fr'"):
        get_instrument("phq9").items[0].label.get("fr")


def test_unknown_instrument_is_not_found_and_lists_the_known_ids() -> None:
    with pytest.raises(NotFound, match=r"got 'pcl6'.*pcl5"):
        get_instrument("pcl6")


def test_licence_status_follows_reference_section_10() -> None:
    status = {i: get_instrument(i).licence.status for i in SHIPPED}
    public = {i for i, s in status.items() if s is LicenceStatus.PUBLIC_DOMAIN}
    # WHO-5 is not in §10, so it is treated as restricted until its licence is confirmed.
    assert public == {"pcl5", "pcl5-week", "phq9", "gad7", "bprs4"}


def test_clinician_rated_instruments_are_marked_as_such() -> None:
    clinician = {i for i in SHIPPED if get_instrument(i).completed_by is Respondent.CLINICIAN}
    assert clinician == {"cadss6", "bprs4", "cssrs"}


def test_loinc_codes_appear_only_where_reference_marks_them_cited() -> None:
    for instrument_id in SHIPPED:
        instrument = get_instrument(instrument_id)
        codes = [c for _, c in instrument.codes] + [i.code for i in instrument.items if i.code]
        for code in codes:
            if code.system == LOINC_SYSTEM:
                assert code.code in CITED_LOINC
                assert code.status is CodeStatus.VERIFIED
            else:
                assert code.status is CodeStatus.LOCAL


def test_pcl5_and_gad7_totals_use_local_codes_naming_the_unverified_candidates() -> None:
    pcl5_total = get_instrument("pcl5").code("total")
    gad7_total = get_instrument("gad7").code("total")
    assert pcl5_total is not None
    assert pcl5_total.status is CodeStatus.LOCAL
    assert "91006-2" in pcl5_total.note
    assert gad7_total is not None
    assert "70274-6" in gad7_total.note


def test_past_week_pcl5_differs_from_past_month_only_in_recall_and_version() -> None:
    month, week = get_instrument("pcl5"), get_instrument("pcl5-week")
    assert month.recall_period is RecallPeriod.PAST_MONTH
    assert week.recall_period is RecallPeriod.PAST_WEEK
    assert month.version != week.version
    assert month.items == week.items
    assert month.scoring == week.scoring


def test_cadss6_holds_the_six_items_of_rodrigues_2021() -> None:
    instrument = get_instrument("cadss6")
    assert instrument.item_ids == tuple(f"cadss_{n:02d}" for n in (1, 2, 6, 7, 15, 22))
    assert instrument.total_range == (0, 24)


def test_bprs_positive_subscale_rates_items_1_to_7_with_0_as_not_assessed() -> None:
    instrument = get_instrument("bprs4")
    assert instrument.item_ids == ("bprs_04", "bprs_11", "bprs_12", "bprs_15")
    assert instrument.missing_values == (0,)
    assert instrument.total_range == (4, 28)
    assert [a.value for a in instrument.anchors] == list(range(8))


def test_cssrs_stores_clinician_levels_and_never_a_computed_score() -> None:
    instrument = get_instrument("cssrs")
    assert [r.id for r in instrument.risk_levels] == ["low", "moderate", "high"]
    assert instrument.scoring.severity is None
    assert instrument.scoring.subscales == ()


# --- the loader refuses malformed definitions --------------------------------------------------


def test_definition_with_an_unknown_key_is_refused() -> None:
    data = raw_definition("phq9")
    data["scoring"]["severty"] = {}
    with pytest.raises(InvalidInput, match=r"scoring\.severty"):
        parse_instrument(data)


def test_definition_with_a_gap_between_severity_bands_is_refused() -> None:
    data = raw_definition("phq9")
    data["scoring"]["severity"]["bands"][1]["min"] = 6
    with pytest.raises(InvalidInput, match="bands tiling 0–27"):
        parse_instrument(data)


def test_definition_with_a_subscale_naming_an_unknown_item_is_refused() -> None:
    data = raw_definition("pcl5")
    data["scoring"]["subscales"][0]["items"].append("pcl5_21")
    with pytest.raises(InvalidInput, match=r"subscales\.B"):
        parse_instrument(data)


def test_definition_with_a_loinc_code_not_marked_cited_is_refused() -> None:
    data = raw_definition("phq9")
    data["codes"]["total"] = {
        "system": LOINC_SYSTEM,
        "code": "44261-6",
        "display": "PHQ-9 total",
        "status": "verified",
        "provenance": {"tag": "unverified", "reference": "FHIR implementations"},
    }
    with pytest.raises(InvalidInput, match="LOINC only with a cited provenance"):
        parse_instrument(data)


def test_definition_with_a_long_label_is_refused() -> None:
    data = raw_definition("gad7")
    data["items"][0]["label"]["en"] = "x" * (LABEL_MAX_CHARS + 1)
    with pytest.raises(InvalidInput, match=r"items\[0\]\.label\.en"):
        parse_instrument(data)


def test_definition_with_skip_logic_in_a_summed_score_is_refused() -> None:
    data = raw_definition("gad7")
    data["items"][1]["asked_if"] = {"item": "gad7_01", "equals": 1}
    with pytest.raises(InvalidInput, match="no skip logic in a summed score"):
        parse_instrument(data)


def test_definition_with_an_item_range_outside_the_anchors_is_refused() -> None:
    data = raw_definition("gad7")
    data["items"][2]["max"] = 4
    with pytest.raises(InvalidInput, match=r"items\[2\]\.max"):
        parse_instrument(data)


def test_definition_with_a_cut_point_outside_the_total_range_is_refused() -> None:
    data = raw_definition("pcl5")
    data["scoring"]["cut_point"]["default"] = 81
    with pytest.raises(InvalidInput, match=r"cut_point\.default"):
        parse_instrument(data)
