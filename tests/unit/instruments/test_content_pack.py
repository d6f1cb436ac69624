"""Content packs: official wording a clinic loads, checked against the instrument's structure
with every problem reported by field (item id). Texts here are placeholders, never real wording."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments import (
    content_pack_problems,
    decode_content_pack,
    get_instrument,
    validate_content_pack,
)


def pack(instrument_id: str = "phq9", **overrides: Any) -> dict[str, Any]:
    instrument = get_instrument(instrument_id)
    data: dict[str, Any] = {
        "format": "ketaclinic.content-pack/1",
        "instrument": instrument_id,
        "language": "es-MX",
        "items": {i: f"Placeholder text for {i}" for i in instrument.item_ids},
        "anchors": [f"Placeholder anchor {a.value}" for a in instrument.anchors],
    }
    if instrument.restricted:
        data["licence"] = {
            "attested_by": "Medical Director",
            "attested_on": "2026-01-15",
            "statement": "Placeholder: licence number and terms relied on",
        }
    return data | overrides


def fields(data: Any) -> list[str]:
    return [p.field for p in content_pack_problems(data)]


def test_complete_pack_becomes_a_content_pack_in_item_order() -> None:
    result = validate_content_pack(pack("phq9"))
    assert result.instrument_id == "phq9"
    assert result.language == "es-MX"
    assert list(result.item_text) == list(get_instrument("phq9").item_ids)
    assert result.text_for("phq9_09") == "Placeholder text for phq9_09"
    assert len(result.anchors) == 4
    assert result.licence is None


def test_restricted_instrument_pack_keeps_its_attestation() -> None:
    result = validate_content_pack(pack("cadss6"))
    assert result.licence is not None
    assert result.licence.attested_on.isoformat() == "2026-01-15"


def test_restricted_instrument_without_attestation_is_refused() -> None:
    data = pack("cssrs")
    del data["licence"]
    assert fields(data) == ["licence"]


def test_every_missing_and_unknown_item_is_reported_by_id() -> None:
    data = pack("gad7")
    del data["items"]["gad7_02"]
    del data["items"]["gad7_05"]
    data["items"]["gad7_08"] = "Placeholder"
    assert fields(data) == ["items.gad7_08", "items.gad7_02", "items.gad7_05"]


def test_empty_item_text_is_reported() -> None:
    data = pack("who5")
    data["items"]["who5_03"] = "   "
    assert fields(data) == ["items.who5_03"]


def test_item_given_twice_is_reported_when_decoded_from_text() -> None:
    text = json.dumps(pack("gad7")).replace('"gad7_02":', '"gad7_01": "again", "gad7_02":')
    assert fields(decode_content_pack(text)) == ["items.gad7_01"]


def test_anchor_count_must_match_the_response_scale() -> None:
    # BPRS has 8 anchors: 0 = not assessed, then 1–7.
    data = pack("bprs4", anchors=["Placeholder"] * 7)
    problems = content_pack_problems(data)
    assert [p.field for p in problems] == ["anchors"]
    assert "8 anchor texts for the values 0–7" in problems[0].message


@pytest.mark.parametrize("language", ["", "english", "EN", "en_US", "en-us", 7])
def test_malformed_language_tag_is_reported(language: Any) -> None:
    assert fields(pack(language=language)) == ["language"]


@pytest.mark.parametrize("language", ["en", "es", "es-MX", "es-419", "zh-Hant-TW"])
def test_well_formed_language_tags_are_accepted(language: str) -> None:
    assert fields(pack(language=language)) == []


def test_unknown_instrument_and_wrong_format_are_both_reported() -> None:
    data = pack(instrument="ies-r", format="ketaclinic.content-pack/9")
    assert set(fields(data)) == {"format", "instrument"}


def test_malformed_attestation_reports_each_field() -> None:
    data = pack("cadss6")
    data["licence"] = {"attested_by": "", "attested_on": "15/01/2026", "statement": "x", "by": 1}
    assert fields(data) == ["licence.by", "licence.attested_by", "licence.attested_on"]


def test_unknown_top_level_key_is_reported() -> None:
    assert fields(pack(wording="x")) == ["wording"]


def test_pack_that_is_not_an_object_is_reported() -> None:
    assert fields([1, 2]) == ["content_pack"]


def test_invalid_pack_raises_listing_every_problem() -> None:
    data = pack("phq9", language="xx_YY")
    del data["items"]["phq9_09"]
    with pytest.raises(InvalidInput) as caught:
        validate_content_pack(data)
    assert "2 problems" in caught.value.message
    assert "language" in caught.value.message
    assert "items.phq9_09" in caught.value.message


def test_text_that_is_not_json_is_bad_input() -> None:
    with pytest.raises(InvalidInput, match="valid JSON"):
        decode_content_pack('{"format": ')
