"""Properties of the dosing edge (services/dosing_calc.py):
any numbers at all give a dose or an :class:`InvalidInput` naming a field — never another
exception (the HTTP API would answer 500). (The command line prints the very dictionaries of
``services/dosing_json.py``; tests/e2e/http/dosing compares its output with the API's.)
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.domain.dosing import BagPreparation, DilutionPreparation, StockPreparation
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.weight import dosing_weight
from ketaclinic.services.dosing_calc import checked_compute_dose

anything = st.floats(allow_nan=True, allow_infinity=True)
# Each preparation as its constructor and arguments: building one may itself refuse a value
# (the typing-error floors of domain/dosing.py), which counts as a named refusal too.
preparations = st.one_of(
    st.tuples(st.just(BagPreparation), st.floats(1.0, 1000.0)),
    st.tuples(st.just(StockPreparation), st.floats(1e-300, 100.0)),
    st.tuples(st.just(DilutionPreparation), st.floats(1.0, 1000.0), st.floats(1e-300, 100.0)),
)


@given(
    weight_kg=st.floats(2.0, 350.0),
    mg_per_kg=anything,
    minutes=anything,
    preparation=preparations,
    step=anything,
)
def test_any_numbers_give_a_dose_or_a_named_refusal(
    weight_kg: float,
    mg_per_kg: float,
    minutes: float,
    preparation: tuple[Any, ...],
    step: float,
) -> None:
    make, *arguments = preparation
    try:
        dose = checked_compute_dose(
            dosing_weight(weight_kg),
            mg_per_kg,
            minutes,
            make(*arguments),
            pump_resolution_ml_per_h=step,
        )
    except InvalidInput as refused:
        ok = bool(refused.field)  # a refusal names its field
    else:
        ok = dose.pump_rate_ml_per_h > 0
    assert ok
