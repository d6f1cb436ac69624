"""Every scoring rule against an independent formulation written here from REFERENCE.md §6 and
§8 (slices, bisect and plain counting rather than the engine's data-driven rules)."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.instruments import get_instrument, score
from ketaclinic.domain.provenance import Threshold, design


def answers(count: int, low: int, high: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(low, high), min_size=count, max_size=count)


def pcl5_reference(a: list[int], cut: int = 33) -> dict[str, object]:
    """REFERENCE.md §8.1 written out: clusters by position, endorsed = item ≥ 2."""
    b, c, d, e = a[0:5], a[5:7], a[7:14], a[14:20]

    def endorsed(cluster: list[int]) -> int:
        return len([x for x in cluster if x > 1])

    return {
        "total": sum(a),
        "subscales": {"B": sum(b), "C": sum(c), "D": sum(d), "E": sum(e)},
        "dx_clusters": endorsed(b) >= 1
        and endorsed(c) >= 1
        and endorsed(d) >= 2
        and endorsed(e) >= 2,
        "dx_cut": sum(a) >= cut,
    }


@given(answers(20, 0, 4))
def test_pcl5_matches_the_written_out_rules(a: list[int]) -> None:
    expected = pcl5_reference(a)
    result = score("pcl5", a)
    assert result.total == expected["total"]
    assert dict(result.subscales) == expected["subscales"]
    assert ("dsm5_cluster_rule_met" in result.flags) is expected["dx_clusters"]
    assert ("probable_ptsd_cut_point" in result.flags) is expected["dx_cut"]
    assert (
        result.as_dict()["provisional_diagnosis"]["cluster_rule"]["met"] is expected["dx_clusters"]
    )


@given(answers(20, 0, 4), st.integers(0, 80))
def test_pcl5_clinic_cut_point_is_total_at_or_above_it(a: list[int], cut: int) -> None:
    threshold = Threshold("pcl5.cut_point", cut, "{score}", design("clinic setting"))
    result = score("pcl5", a, cut_point=threshold)
    assert ("probable_ptsd_cut_point" in result.flags) is pcl5_reference(a, cut)["dx_cut"]


@given(answers(20, 0, 4))
def test_pcl5_list_and_mapping_answers_score_the_same(a: list[int]) -> None:
    keyed: dict[str, int | None] = {f"pcl5_{n:02d}": v for n, v in enumerate(a, start=1)}
    assert score("pcl5", keyed) == score("pcl5", a)


# Upper band edges; bisect_left counts the edges below the total, i.e. the band index.
PHQ9_BANDS = ["minimal", "mild", "moderate", "moderately_severe", "severe"]
GAD7_BANDS = ["minimal", "mild", "moderate", "severe"]


@given(answers(9, 0, 3))
def test_phq9_matches_the_written_out_rules(a: list[int]) -> None:
    total = sum(a)
    core = (a[0] >= 2) + (a[1] >= 2)
    n = core + len([x for x in a[2:8] if x >= 2]) + (a[8] >= 1)
    result = score("phq9", a)
    assert result.total == total
    assert result.severity == PHQ9_BANDS[bisect.bisect_left([4, 9, 14, 19], total)]
    assert ("phq9_item9_positive" in result.flags) is (a[8] > 0)
    assert ("phq9_major_depressive_syndrome" in result.flags) is (core > 0 and n > 4)
    assert ("phq9_other_depressive_syndrome" in result.flags) is (core > 0 and n in (2, 3, 4))


@given(answers(7, 0, 3))
def test_gad7_total_and_band(a: list[int]) -> None:
    result = score("gad7", a)
    assert result.total == sum(a)
    assert result.severity == GAD7_BANDS[bisect.bisect_left([4, 9, 14], sum(a))]
    assert result.flags == ()


@given(answers(5, 0, 5))
def test_who5_percentage_is_four_times_the_raw_score(a: list[int]) -> None:
    result = score("who5", a)
    assert result.total == sum(a)
    assert result.severity == 100 * sum(a) // 25


@given(answers(6, 0, 4))
def test_cadss6_is_the_sum_of_its_items(a: list[int]) -> None:
    assert score("cadss6", a).total == sum(a)


@given(answers(4, 1, 7))
def test_bprs4_is_the_sum_when_all_four_are_rated(a: list[int]) -> None:
    assert score("bprs4", a).total == sum(a)


@given(answers(4, 1, 7), st.integers(0, 3))
def test_bprs4_with_an_item_not_assessed_has_no_score(a: list[int], position: int) -> None:
    a[position] = 0
    with pytest.raises(InvalidInput) as caught:
        score("bprs4", a)
    assert caught.value.field == f"answers[{position + 1}]"


SUMMED = ["pcl5", "pcl5-week", "phq9", "gad7", "who5", "cadss6", "bprs4"]


@given(st.sampled_from(SUMMED), st.data())
def test_any_single_bad_answer_is_refused_naming_its_position(
    instrument_id: str, data: st.DataObject
) -> None:
    instrument = get_instrument(instrument_id)
    items = instrument.items
    a: list[int | None] = [data.draw(st.integers(i.min_value, i.max_value)) for i in items]
    position = data.draw(st.integers(0, len(items) - 1))
    item = items[position]
    a[position] = data.draw(
        st.none()
        | st.integers(max_value=item.min_value - 1)
        | st.integers(min_value=item.max_value + 1)
    )
    with pytest.raises(InvalidInput) as caught:
        score(instrument_id, a)
    assert caught.value.field == f"answers[{position + 1}]"
    assert item.id in caught.value.message


@given(st.sampled_from(SUMMED), st.data())
def test_dropping_any_answer_is_refused_rather_than_prorated(
    instrument_id: str, data: st.DataObject
) -> None:
    items = get_instrument(instrument_id).items
    a = [data.draw(st.integers(i.min_value, i.max_value)) for i in items]
    del a[data.draw(st.integers(0, len(a) - 1))]
    with pytest.raises(InvalidInput) as caught:
        score(instrument_id, a)
    assert caught.value.field == "answers"
