"""The concentration landmarks against REFERENCE.md §4.3, and the adult models against the one
measurement it gives.

Sources (REFERENCE.md §4.3, "Concentration landmarks (plasma)"):
- 0.5 mg/kg over 40 min (the antidepressant regimen): about 185 ng/mL (0.78 µM) at the end of
  the infusion [cited: Zanos 2018, Table 1];
- dissociation with the same regimen: 100–250 ng/mL (0.42–1.1 µM) [cited: Zanos 2018];
- analgesia: 70–160 ng/mL [cited: Zanos 2018; Hornik 2018];
- general anaesthesia: 1,200–2,400 ng/mL (5–10 µM) [cited: Zanos 2018; Idvall 1979].
- REFERENCE.md §4.1: µM × 237.7 = ng/mL [derived: molar mass], which ties the ng/mL figures to
  the µM figures the same rows give.
- REFERENCE.md §4.2: Domino, Clements, Hijazi and Kamp are the adult models (Herd and Hornik are
  paediatric, for cross-checks only).
"""

from __future__ import annotations

import pytest

from ketaclinic.domain.provenance import Tag
from ketaclinic.pk.landmarks import (
    ANAESTHESIA,
    ANALGESIA,
    DISSOCIATION,
    END_OF_INFUSION_NG_PER_ML,
    END_OF_INFUSION_PROVENANCE,
    LANDMARKS,
    Landmark,
)
from ketaclinic.pk.models import MODELS, get_model
from ketaclinic.pk.schedule import Schedule
from ketaclinic.pk.simulate import simulate

NG_PER_ML_PER_MICROMOLAR = 237.7  # REFERENCE.md §4.1 [derived: molar mass]
ADULT_MODELS = ("domino", "clements", "hijazi", "kamp")  # REFERENCE.md §4.2
PAEDIATRIC_MODELS = ("herd", "hornik")


@pytest.mark.parametrize(
    ("landmark", "low", "high", "sources"),
    [
        (ANALGESIA, 70.0, 160.0, "Zanos 2018; Hornik 2018"),
        (DISSOCIATION, 100.0, 250.0, "Zanos 2018"),
        (ANAESTHESIA, 1200.0, 2400.0, "Zanos 2018; Idvall 1979"),
    ],
)
def test_each_landmark_is_the_range_and_source_reference_gives(
    landmark: Landmark, low: float, high: float, sources: str
) -> None:
    assert (landmark.low_ng_per_ml, landmark.high_ng_per_ml) == (low, high)
    assert landmark.provenance.tag is Tag.CITED
    assert landmark.provenance.reference == sources
    assert landmark.provenance.section == "§4.3"


def test_the_plots_draw_exactly_these_three_landmarks_in_rising_order() -> None:
    assert LANDMARKS == (ANALGESIA, DISSOCIATION, ANAESTHESIA)
    lows = [landmark.low_ng_per_ml for landmark in LANDMARKS]
    assert lows == sorted(lows)


def test_the_end_of_infusion_measurement_is_zanos_table_1() -> None:
    assert END_OF_INFUSION_NG_PER_ML == 185.0
    assert END_OF_INFUSION_PROVENANCE.tag is Tag.CITED
    assert END_OF_INFUSION_PROVENANCE.reference == "Zanos 2018, Table 1"
    assert END_OF_INFUSION_PROVENANCE.section == "§4.3"
    # It lies inside the dissociation range measured with the same regimen.
    assert DISSOCIATION.low_ng_per_ml <= END_OF_INFUSION_NG_PER_ML <= DISSOCIATION.high_ng_per_ml


@pytest.mark.parametrize(
    ("ng_per_ml", "micromolar", "printed_to"),
    [
        (END_OF_INFUSION_NG_PER_ML, 0.78, 0.005),  # "~185 ng/mL (0.78 µM)"
        (DISSOCIATION.low_ng_per_ml, 0.42, 0.005),  # "100–250 ng/mL (0.42–1.1 µM)"
        (DISSOCIATION.high_ng_per_ml, 1.1, 0.05),
        (ANAESTHESIA.low_ng_per_ml, 5.0, 0.5),  # "1,200–2,400 ng/mL (5–10 µM)"
        (ANAESTHESIA.high_ng_per_ml, 10.0, 0.5),
    ],
)
def test_the_ng_per_ml_figures_match_the_micromolar_figures_beside_them(
    ng_per_ml: float, micromolar: float, printed_to: float
) -> None:
    assert ng_per_ml / NG_PER_ML_PER_MICROMOLAR == pytest.approx(micromolar, abs=printed_to)


def test_the_adult_and_paediatric_models_are_the_ones_reference_names() -> None:
    assert set(MODELS) == {*ADULT_MODELS, *PAEDIATRIC_MODELS}
    for name in ADULT_MODELS:
        age = get_model(name).validity.age_years
        assert age is not None
        assert age[0] >= 18.0, name
    for name in PAEDIATRIC_MODELS:
        age = get_model(name).validity.age_years
        assert age is not None
        assert age[1] < 18.0, name


def test_the_adult_models_bracket_the_measured_end_of_infusion_concentration() -> None:
    """0.5 mg/kg over 40 min at 70 kg (35 mg): the adult models' plasma concentrations at the
    end of the infusion lie on both sides of the measured mean of about 185 ng/mL."""
    at_end = {
        name: float(
            simulate(
                get_model(name).parameters(70.0).params,
                Schedule.single_infusion(35.0, 40.0),
                [40.0],
            ).plasma_ng_per_ml[0]
        )
        for name in ADULT_MODELS
    }
    assert min(at_end.values()) < END_OF_INFUSION_NG_PER_ML < max(at_end.values()), at_end
    # REFERENCE.md §4.4 gives them as 240 / 177 / 225 / 253 ng/mL (rounded to whole ng/mL).
    assert at_end["clements"] == pytest.approx(177.0, abs=1.0)
    assert at_end["kamp"] == pytest.approx(253.0, abs=1.0)
