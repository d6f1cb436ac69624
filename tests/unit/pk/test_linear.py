"""The exact solver's numerical building blocks (pk/linear.py)."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from ketaclinic.pk import linear
from ketaclinic.pk.models import MODELS, ModelParams, get_model
from ketaclinic.pk.schedule import Bolus, Infusion, Schedule, time_grid
from ketaclinic.pk.simulate import simulate

LAMBDAS = np.array([[-1.73, -0.151, -0.00603]])  # Domino's eigenvalues at 70 kg, 1/min


def modes_of(params: ModelParams) -> linear.Modes:
    return linear.decompose(np.array([params.volumes_l]), np.array([params.clearances_l_per_min]))


def test_the_factorised_grid_matches_expm1_to_a_few_ulps() -> None:
    tau = np.arange(14_401) / 60.0
    fast = linear._rise(LAMBDAS, tau)
    direct = np.expm1(LAMBDAS[:, :, None] * tau)
    # The product rule combines three correctly rounded values: a few ulps (2.2e-16 each).
    nonzero = direct != 0
    assert np.max(np.abs(fast[nonzero] - direct[nonzero]) / np.abs(direct[nonzero])) < 2e-15
    assert np.all(fast[:, :, 0] == 0.0)


def test_uneven_or_short_grids_are_not_factorised() -> None:
    assert linear._factor_grid(np.array([0.0, 1.0, 3.0, *range(4, 100)], dtype=float)) is None
    assert linear._factor_grid(np.arange(10.0)) is None
    assert linear._factor_grid(np.arange(100.0)) is not None


def test_fast_and_precise_plasma_agree() -> None:
    """The population path folds the input term into the exponentials (pk/linear.py)."""
    schedule = Schedule((Infusion(0.0, 40.0, 0.875), Infusion(60.0, 20.0, 0.5)), (Bolus(100, 10),))
    grid = time_grid(400.0, 10.0)
    for model in MODELS.values():
        modes = modes_of(model.parameters(70.0).params)
        precise = linear.solve(modes, schedule.plan(), grid).plasma[:, 0]
        fast = linear.solve(modes, schedule.plan(), grid, precise=False).plasma[:, 0]
        # Measured ≤ 1e-15 of the peak; 1e-11 is the bound the module documents.
        assert np.max(np.abs(precise - fast)) <= 1e-11 * precise.max()


def test_phi_at_coinciding_rates_is_the_limit() -> None:
    tau = np.linspace(0.0, 10.0, 11)
    a = np.array([[-0.5]])
    at_limit = linear._phi(a, np.array([-0.5]), tau)[0, 0]
    assert np.allclose(at_limit, tau * np.exp(-0.5 * tau), rtol=1e-15, atol=0)
    nearby = linear._phi(a, np.array([-0.5 - 1e-9]), tau)[0, 0]
    # A gap of 1e-9/min moves φ by about gap·τ/2 relative: 5e-9 at τ = 10.
    assert np.allclose(nearby, at_limit, rtol=1e-8, atol=0)


def test_effect_site_with_ke0_equal_to_a_system_rate_matches_numerical_integration() -> None:
    """ke0 = −λ would make an augmented 4-state matrix defective; the convolution form copes."""
    base = get_model("hijazi").parameters(70.0).params
    slow = -max(base.eigenvalues_per_min)
    params = ModelParams(
        model="hijazi",
        weight_kg=70.0,
        v1_l=base.v1_l,
        cl_l_per_min=base.cl_l_per_min,
        q2_l_per_min=base.q2_l_per_min,
        v2_l=base.v2_l,
        ke0_per_min=slow,
    )
    schedule = Schedule.single_infusion(35.0, 40.0)
    times = np.array([10.0, 40.0, 120.0, 400.0])
    ours = simulate(params, schedule, times).effect_ng_per_ml
    assert ours is not None

    def rhs(t: float, y: np.ndarray) -> list[float]:
        rate = 35.0 / 40.0 if t < 40.0 else 0.0
        a1, a2, ce = y
        cp = a1 / params.v1_l
        return [
            rate - (params.k10 + params.k12) * a1 + params.k21 * a2,
            params.k12 * a1 - params.k21 * a2,
            slow * (cp - ce),
        ]

    # Two legs, so the step in the infusion rate at 40 min falls on a leg boundary.
    first = solve_ivp(rhs, (0.0, 40.0), [0.0, 0.0, 0.0], rtol=1e-11, atol=1e-14, dense_output=True)
    second = solve_ivp(
        rhs, (40.0, 400.0), first.y[:, -1], rtol=1e-11, atol=1e-14, dense_output=True
    )
    reference = [(first.sol(t) if t <= 40.0 else second.sol(t))[2] * 1000.0 for t in times]
    # The integrator's relative tolerance is 1e-11; 1e-7 leaves room for dense-output
    # interpolation error.
    assert np.allclose(ours, reference, rtol=1e-7, atol=0)
