"""Worked examples from the published scoring rules.

Sources (REFERENCE.md): PCL-5 totals, clusters B 1–5 / C 6–7 / D 8–14 / E 15–20, the DSM-5
cluster rule (item ≥ 2 endorsed; B≥1, C≥1, D≥2, E≥2) and cut-point 33 [cited: VA PCL-5 guide;
CamCOPS docs, §8.1]. PHQ-9 bands 0–4/5–9/10–14/15–19/20–27 and the major/other syndrome
algorithm; GAD-7 bands 0–4/5–9/10–14/15–21 [cited: CamCOPS docs, §8.2]. CADSS-6 items 1, 2, 6,
7, 15, 22, range 0–24 [cited: Rodrigues 2021; derived, §6]. BPRS positive subscale 4–28
[derived, §6]. WHO-5: raw 0–25, percentage = raw × 4 (issue 3).
"""

from __future__ import annotations

import pytest

from ketaclinic.domain.instruments import score
from ketaclinic.domain.provenance import Threshold, design


@pytest.mark.parametrize(
    ("instrument_id", "count", "low", "high"),
    [
        ("pcl5", 20, 0, 4),
        ("pcl5-week", 20, 0, 4),
        ("phq9", 9, 0, 3),
        ("gad7", 7, 0, 3),
        ("who5", 5, 0, 5),
        ("cadss6", 6, 0, 4),
        ("bprs4", 4, 1, 7),
    ],
)
def test_all_lowest_and_all_highest_answers_give_the_published_range(
    instrument_id: str, count: int, low: int, high: int
) -> None:
    expected = {
        "pcl5": (0, 80),
        "pcl5-week": (0, 80),
        "phq9": (0, 27),
        "gad7": (0, 21),
        "who5": (0, 25),
        "cadss6": (0, 24),
        "bprs4": (4, 28),
    }[instrument_id]
    assert score(instrument_id, [low] * count).total == expected[0]
    assert score(instrument_id, [high] * count).total == expected[1]


def test_pcl5_all_zero_has_empty_clusters_and_no_provisional_diagnosis() -> None:
    result = score("pcl5", [0] * 20)
    assert result.subscales == {"B": 0, "C": 0, "D": 0, "E": 0}
    assert result.flags == ()
    assert result.provisional_diagnosis is not None
    assert result.provisional_diagnosis.cluster_rule is not None
    assert not result.provisional_diagnosis.cluster_rule.met


def test_pcl5_all_max_fills_every_cluster_range() -> None:
    result = score("pcl5", [4] * 20)
    assert result.subscales == {"B": 20, "C": 8, "D": 28, "E": 24}
    assert result.flags == ("dsm5_cluster_rule_met", "probable_ptsd_cut_point")


def minimal_cluster_pattern() -> list[int]:
    """Exactly one B, one C, two D and two E items endorsed at 2; every other item 0."""
    answers = [0] * 20
    for position in (1, 6, 8, 9, 15, 16):  # B1, C1, D1, D2, E1, E2 (1-based)
        answers[position - 1] = 2
    return answers


def test_pcl5_minimal_endorsement_meets_the_cluster_rule_below_the_cut_point() -> None:
    result = score("pcl5", minimal_cluster_pattern())
    assert result.total == 12
    assert result.flags == ("dsm5_cluster_rule_met",)
    diagnosis = result.provisional_diagnosis
    assert diagnosis is not None
    assert diagnosis.cluster_rule is not None
    assert dict(diagnosis.cluster_rule.endorsed) == {"B": 1, "C": 1, "D": 2, "E": 2}
    assert diagnosis.cut_point is not None
    assert not diagnosis.cut_point.met


@pytest.mark.parametrize("dropped", [1, 6, 9, 16])
def test_pcl5_one_endorsement_short_in_any_cluster_fails_the_rule(dropped: int) -> None:
    answers = minimal_cluster_pattern()
    answers[dropped - 1] = 1  # rated 1 = present but not endorsed
    result = score("pcl5", answers)
    assert "dsm5_cluster_rule_met" not in result.flags


def test_pcl5_items_rated_1_never_count_as_endorsed() -> None:
    result = score("pcl5", [1] * 20)
    assert result.total == 20
    assert "dsm5_cluster_rule_met" not in result.flags


@pytest.mark.parametrize(("total", "positive"), [(32, False), (33, True)])
def test_pcl5_cut_point_33_is_inclusive(total: int, positive: bool) -> None:
    answers = [4] * 8 + [0] * 12
    answers[8] = total - 32  # 32 from the first eight items, the rest from item 9
    result = score("pcl5", answers)
    assert result.total == total
    assert ("probable_ptsd_cut_point" in result.flags) is positive


def test_clinic_may_lower_the_pcl5_cut_point_to_screen() -> None:
    """VA PCL-5 guide: 31–33, lower to screen (REFERENCE.md §8.1)."""
    answers = [4] * 7 + [3] + [0] * 12  # total 31
    cut = Threshold("pcl5.cut_point", 31, "{score}", design("clinic setting"))
    assert "probable_ptsd_cut_point" not in score("pcl5", answers).flags
    assert "probable_ptsd_cut_point" in score("pcl5", answers, cut_point=cut).flags


def phq9_with_total(total: int) -> list[int]:
    """Answers spread from item 8 backwards (item 9 kept 0, so no item-9 flag)."""
    answers = [0] * 9
    position = 7
    while total:
        step = min(3, total)
        answers[position] += step
        total -= step
        position -= 1
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (24, "severe"),
    ],
)
def test_phq9_band_edges(total: int, band: str) -> None:
    result = score("phq9", phq9_with_total(total))
    assert result.total == total
    assert result.severity == band


@pytest.mark.parametrize(
    ("total", "band"),
    [(4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"), (14, "moderate"), (15, "severe")],
)
def test_gad7_band_edges(total: int, band: str) -> None:
    answers = [0] * 7
    for position in range(7):
        answers[position] = min(3, total - sum(answers))
    assert score("gad7", answers).severity == band


def test_phq9_item9_is_flagged_whatever_the_total() -> None:
    result = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert result.total == 1
    assert result.severity == "minimal"
    assert result.flags == ("phq9_item9_positive",)


def test_phq9_major_syndrome_needs_a_core_symptom_and_five_symptoms() -> None:
    # core: item 1; others ≥ 2: items 3, 4, 5; item 9 ≥ 1 → n = 5
    result = score("phq9", [2, 0, 2, 2, 2, 0, 0, 0, 1])
    assert "phq9_major_depressive_syndrome" in result.flags
    assert "phq9_other_depressive_syndrome" not in result.flags


def test_phq9_other_syndrome_is_two_to_four_symptoms_with_a_core_one() -> None:
    result = score("phq9", [0, 3, 2, 0, 0, 0, 0, 0, 0])
    assert result.flags == ("phq9_other_depressive_syndrome",)


def test_phq9_five_symptoms_without_a_core_one_is_no_syndrome() -> None:
    result = score("phq9", [1, 1, 3, 3, 3, 3, 3, 0, 0])
    assert result.flags == ()


def test_who5_percentage_is_raw_times_four() -> None:
    result = score("who5", [3, 4, 2, 5, 1])
    assert result.total == 15
    assert result.severity == 60


def test_cadss6_is_the_plain_sum_of_its_six_items() -> None:
    result = score("cadss6", [1, 0, 2, 3, 4, 1])
    assert result.total == 11
    assert result.severity is None
    assert result.as_dict() == {"instrument": "cadss6", "total": 11, "subscales": {}, "flags": []}


def test_bprs_positive_subscale_sums_the_four_rated_items() -> None:
    assert score("bprs4", [2, 5, 1, 7]).total == 15


def test_pcl5_week_scores_like_pcl5_and_keeps_its_version() -> None:
    answers = [3, 1, 0, 2, 4, 2, 1, 0, 3, 2, 1, 0, 4, 3, 2, 2, 1, 0, 3, 2]
    month, week = score("pcl5", answers), score("pcl5-week", answers)
    assert week.as_dict() | {"instrument": "pcl5"} == month.as_dict()
    assert week.version != month.version
