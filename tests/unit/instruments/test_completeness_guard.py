"""The completeness guard: an incomplete or out-of-range answer set is refused, naming the item,
and never prorated or summed (REFERENCE.md §6, §8.1)."""

from __future__ import annotations

import pytest

from ketaclinic.domain.errors import InvalidInput, NotFound
from ketaclinic.domain.instruments import score
from ketaclinic.domain.provenance import Threshold, design


def test_too_few_answers_are_refused_with_the_expected_count() -> None:
    with pytest.raises(InvalidInput) as caught:
        score("pcl5", [1] * 19)
    assert caught.value.field == "answers"
    assert "got 19, expected 20 answers for pcl5" in caught.value.message


def test_too_many_answers_are_refused() -> None:
    with pytest.raises(InvalidInput, match="got 10, expected 9 answers for phq9"):
        score("phq9", [0] * 10)


def test_missing_answer_in_a_list_names_its_position_and_item() -> None:
    answers: list[int | None] = [0] * 20
    answers[6] = None
    with pytest.raises(InvalidInput) as caught:
        score("pcl5", answers)
    assert caught.value.field == "answers[7]"
    assert "pcl5_07" in caught.value.message
    assert "never prorated" in caught.value.message


def test_answer_above_the_item_range_names_the_item() -> None:
    with pytest.raises(InvalidInput, match=r"answers\[3\]: got 4, expected a whole number 0–3"):
        score("gad7", [0, 0, 4, 0, 0, 0, 0])


def test_negative_answer_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"answers\[1\]: got -1"):
        score("who5", [-1, 0, 0, 0, 0])


@pytest.mark.parametrize("bad", [2.0, "2", True])
def test_answer_that_is_not_a_whole_number_is_refused(bad: object) -> None:
    answers: list[object] = [0] * 9
    answers[4] = bad
    with pytest.raises(InvalidInput) as caught:
        score("phq9", answers)  # type: ignore[arg-type]
    assert caught.value.field == "answers[5]"


def test_missing_item_in_a_mapping_is_named_by_its_id() -> None:
    answers: dict[str, int | None] = {f"gad7_0{n}": 1 for n in range(1, 8)}
    del answers["gad7_04"]
    with pytest.raises(InvalidInput) as caught:
        score("gad7", answers)
    assert caught.value.field == "gad7_04"


def test_unknown_item_id_in_a_mapping_is_refused() -> None:
    answers: dict[str, int | None] = {f"gad7_0{n}": 1 for n in range(1, 8)}
    answers["gad7_08"] = 1
    with pytest.raises(InvalidInput, match="gad7_08: got 1, expected an item id of gad7"):
        score("gad7", answers)


def test_bprs_item_not_assessed_leaves_the_subscale_uncomputed() -> None:
    with pytest.raises(InvalidInput) as caught:
        score("bprs4", [3, 0, 2, 2])
    assert caught.value.field == "answers[2]"
    assert "bprs_11" in caught.value.message
    assert "not assessed" in caught.value.message


def test_text_instead_of_a_list_is_refused() -> None:
    with pytest.raises(InvalidInput, match="answers"):
        score("who5", "12345")  # type: ignore[arg-type]


def test_cssrs_cannot_be_scored_from_answers() -> None:
    with pytest.raises(InvalidInput, match="instrument: got 'cssrs'"):
        score("cssrs", [0] * 7)


def test_unknown_instrument_is_not_found() -> None:
    with pytest.raises(NotFound, match="instrument: got 'phq2'"):
        score("phq2", [0, 0])


def test_clinic_cut_point_outside_the_total_range_is_refused() -> None:
    cut = Threshold("pcl5.cut_point", 81, "{score}", design("clinic setting"))
    with pytest.raises(InvalidInput, match="cut_point: got 81"):
        score("pcl5", [0] * 20, cut_point=cut)


def test_cut_point_for_an_instrument_without_one_is_refused() -> None:
    cut = Threshold("phq9.cut_point", 10, "{score}", design("clinic setting"))
    with pytest.raises(InvalidInput, match="cut_point"):
        score("phq9", [0] * 9, cut_point=cut)
