"""Exact solution of mammillary compartment models under piecewise-constant input.

Internal to ``ketaclinic.pk``: arrays in, arrays out, no validation (callers validate). Every
function works on a batch of B patients at once (B = 1 for one patient); n is the number of
compartments (2 or 3); T the number of time points. Time in minutes, amounts in mg, volumes in
L, so concentrations come out in mg/L (= µg/mL).

The maths (symbols: see ``pk/models.py``). With amounts A in the compartments and an input
R (mg/min) into the central one, dA/dt = K·A + e1·R. Because each inter-compartmental clearance
Qj flows both ways, K is similar to the symmetric matrix M = D^-½·K·D^½ with D = diag(V)::

    M[0,0] = −(CL + Q2 + Q3)/V1,   M[j,j] = −Qj/Vj,   M[0,j] = M[j,0] = Qj/√(V1·Vj)

so M = U·Λ·Uᵀ with real negative λ and orthonormal U (``numpy.linalg.eigh``, batched over
patients: no complex arithmetic, no ill-conditioned eigenvectors). In modal coordinates
z = Uᵀ·D^-½·A, with b_i = U[0,i]/√V1::

    dz/dt = Λ·z + b·R,      Cp = A1/V1 = Σ b_i·z_i,      a bolus D adds b·D to z

and for τ ≥ 0 after the start of a segment of constant R (z0, Ce0 at its start)::

    z_i(τ)   = e^(λi·τ)·z0_i + b_i·R·(e^(λi·τ) − 1)/λi
    Cp(τ)    = Σ b_i·z0_i·e^(λi·τ) + Σ b_i²·R·(e^(λi·τ) − 1)/λi
    ∫₀^τ Cp  = Σ b_i·z0_i·(e^(λi·τ) − 1)/λi + Σ b_i²·R·((e^(λi·τ) − 1)/λi − τ)/λi
    Ce(τ)    = Ce0·e^(−ke0·τ)
               + ke0·Σ [b_i·z0_i·φi + (b_i²·R/λi)·(φi − (1 − e^(−ke0·τ))/ke0)]
    φi(τ)    = (e^(λi·τ) − e^(−ke0·τ)) / (λi + ke0)       (→ τ·e^(λi·τ) when λi = −ke0)

The effect site is solved by this convolution rather than as a fourth state because
ke0 = −λi would make the augmented matrix defective. ``precise`` evaluates e^x − 1 with expm1
(exact zeros at τ = 0 and full relative accuracy at small τ); without it the input term is
folded into the exponentials (e^x rather than expm1, which NumPy evaluates faster) for population
runs, at a relative error below 1e-11 on the grids we use.

Evenly spaced times (the usual grid) are split as τ = coarse + fine with about √T values of
each, so e^(λ·τ) = e^(λ·coarse)·e^(λ·fine): some 2·√T exponentials per mode instead of T, and
one multiplication per point. Nothing here steps through time: every point of a segment comes
from the closed form above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Below this many points per segment, plain exponentials beat the factorised grid's set-up.
_FACTOR_MIN_POINTS = 64


@dataclass(frozen=True, slots=True, eq=False)
class Modes:
    """Modal form of B patients' systems.

    ``rates`` (B, n): λ in 1/min, negative; ``vectors`` (B, n, n): U; ``sqrt_volumes`` (B, n):
    √V in √L; ``input_weights`` (B, n): b in 1/√L.
    """

    rates: FloatArray
    vectors: FloatArray
    sqrt_volumes: FloatArray
    input_weights: FloatArray


def decompose(volumes_l: FloatArray, clearances_l_per_min: FloatArray) -> Modes:
    """Batched eigendecomposition. ``volumes_l`` (B, n) = (V1, V2[, V3]); ``clearances`` (B, n)
    = (CL, Q2[, Q3]) in L/min."""
    volumes = np.asarray(volumes_l, dtype=np.float64)
    clearances = np.asarray(clearances_l_per_min, dtype=np.float64)
    batch, n = volumes.shape
    root = np.sqrt(volumes)
    matrix = np.zeros((batch, n, n))
    matrix[:, 0, 0] = -clearances.sum(axis=1) / volumes[:, 0]
    for j in range(1, n):
        matrix[:, j, j] = -clearances[:, j] / volumes[:, j]
        coupling = clearances[:, j] / (root[:, 0] * root[:, j])
        matrix[:, 0, j] = coupling
        matrix[:, j, 0] = coupling
    rates, vectors = np.linalg.eigh(matrix)
    return Modes(rates, vectors, root, vectors[:, 0, :] / root[:, :1])


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """Piecewise-constant input shared by every patient of a batch.

    ``starts_min`` (K,) strictly increasing from 0; over [starts[k], starts[k+1]) the rate is
    ``rates_mg_per_min[k]`` (the last segment runs on for ever); ``boluses_mg[k]`` is given at
    ``starts[k]``.
    """

    starts_min: FloatArray
    rates_mg_per_min: FloatArray
    boluses_mg: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class Trajectory:
    """Solution on a time grid. ``plasma`` (T, B) mg/L; ``effect`` (T, B) mg/L or ``None``;
    ``auc`` (T, B) cumulative ∫Cp in mg·min/L or ``None``; ``amounts`` (T, B, n) mg or
    ``None``."""

    plasma: NDArray[np.floating[Any]]
    effect: FloatArray | None
    auc: FloatArray | None
    amounts: FloatArray | None


@dataclass(slots=True)
class _State:
    """Modal state at a segment start: z (B, n), Ce (B,) in mg/L, ∫Cp (B,) in mg·min/L."""

    z: FloatArray
    effect: FloatArray
    auc: FloatArray


def solve(
    modes: Modes,
    plan: Plan,
    times_min: FloatArray,
    *,
    ke0_per_min: FloatArray | None = None,
    precise: bool = True,
    with_auc: bool = False,
    with_amounts: bool = False,
    plasma_out: NDArray[np.floating] | None = None,
) -> Trajectory:
    """Concentrations at sorted ``times_min`` (T,) for every patient of ``modes``.

    ``ke0_per_min`` (B,) adds the effect site. ``plasma_out`` (T, B), if given, receives the
    plasma concentrations (any float dtype, possibly a strided view) instead of a new array; it
    is what ``Trajectory.plasma`` then refers to.
    """
    times = np.asarray(times_min, dtype=np.float64)
    batch, n = modes.rates.shape
    count = times.shape[0]
    plasma = np.zeros((count, batch)) if plasma_out is None else plasma_out
    effect = np.zeros((count, batch)) if ke0_per_min is not None else None
    auc = np.zeros((count, batch)) if with_auc else None
    amounts = np.zeros((count, batch, n)) if with_amounts else None
    state = _State(np.zeros((batch, n)), np.zeros(batch), np.zeros(batch))
    starts = plan.starts_min
    first = np.searchsorted(times, starts, side="left")
    for k in range(starts.shape[0]):
        if k and starts[k] > times[-1]:
            break
        state.z = state.z + modes.input_weights * plan.boluses_mg[k]
        rate = float(plan.rates_mg_per_min[k])
        lo = int(first[k])
        hi = int(first[k + 1]) if k + 1 < starts.shape[0] else count
        if hi > lo:
            tau = times[lo:hi] - starts[k]
            block = _evaluate(modes, state, rate, tau, ke0_per_min, precise, with_auc, with_amounts)
            plasma[lo:hi] = block.plasma
            if effect is not None and block.effect is not None:
                effect[lo:hi] = block.effect
            if auc is not None and block.auc is not None:
                auc[lo:hi] = block.auc
            if amounts is not None and block.amounts is not None:
                amounts[lo:hi] = block.amounts
        if k + 1 < starts.shape[0]:
            state = _advance(modes, state, rate, float(starts[k + 1] - starts[k]), ke0_per_min)
    return Trajectory(plasma, effect, auc, amounts)


def _evaluate(
    modes: Modes,
    state: _State,
    rate: float,
    tau: FloatArray,
    ke0: FloatArray | None,
    precise: bool,
    with_auc: bool,
    with_amounts: bool,
) -> Trajectory:
    """One segment's solution at offsets ``tau`` (T,) from its start; arrays (T, B[, n])."""
    lam = modes.rates
    b = modes.input_weights
    free = b * state.z  # b_i·z0_i: the decay of what is already in the body
    driven = b * b * rate / lam  # b_i²·R/λi: the input term's weight
    weight = free + driven
    if not precise:
        return Trajectory(_plasma_fast(lam, weight, driven, tau), None, None, None)
    # Arrays are (B, T) or (B, n, T): time innermost, so every pass runs over long rows.
    plasma = _weighted_rise(lam, tau, weight) + free.sum(axis=1)[:, None]
    auc = None
    if with_auc:
        auc = (
            state.auc[:, None]
            + _weighted_rise(lam, tau, weight / lam)
            - np.multiply.outer(driven.sum(axis=1), tau)
        ).T
    effect = None
    if ke0 is not None:
        decay = np.exp(-np.multiply.outer(ke0, tau))  # (B, T)
        washin = (1.0 - decay) / ke0[:, None]
        phi = _phi(lam, -ke0, tau)
        effect = (
            state.effect[:, None] * decay
            + ke0[:, None] * (_contract(phi, weight) - washin * driven.sum(axis=1)[:, None])
        ).T
    amounts = None
    if with_amounts:
        rise = _rise(lam, tau)
        start = state.z[:, :, None]
        z = start + (start + (b * rate / lam)[:, :, None]) * rise
        # A = √V ⊙ (U·z) for every patient and time: (B, n, n) @ (B, n, T) → (B, n, T).
        mixed = np.matmul(modes.vectors, z) * modes.sqrt_volumes[:, :, None]
        amounts = mixed.transpose(2, 0, 1)
    return Trajectory(plasma.T, effect, auc, amounts)


def _plasma_fast(
    lam: FloatArray, weight: FloatArray, driven: FloatArray, tau: FloatArray
) -> FloatArray:
    """Cp (T, B) = Σ weight_i·e^(λi·τ) − Σ driven_i, mode by mode over contiguous (T, B)
    blocks: the layout the population's row sort wants."""
    count, batch = tau.shape[0], lam.shape[0]
    plasma = np.empty((count, batch))
    plasma[:] = -driven.sum(axis=1)
    grid = _factor_grid(tau)
    if grid is None:
        for i in range(lam.shape[1]):
            plasma += weight[:, i] * np.exp(np.multiply.outer(tau, lam[:, i]))
        return plasma
    coarse_t, fine_t = grid
    # e^(λ·(coarse + fine)) = e^(λ·coarse)·e^(λ·fine), written into one reused buffer.
    buffer = np.empty((coarse_t.shape[0], fine_t.shape[0], batch))
    flat = buffer.reshape(-1, batch)[:count]
    for i in range(lam.shape[1]):
        coarse = np.exp(np.multiply.outer(coarse_t, lam[:, i])) * weight[:, i]  # (rows, B)
        fine = np.exp(np.multiply.outer(fine_t, lam[:, i]))  # (width, B)
        np.multiply(coarse[:, None, :], fine[None, :, :], out=buffer)
        plasma += flat
    return plasma


def _weighted_rise(lam: FloatArray, tau: FloatArray, weights: FloatArray) -> FloatArray:
    """Σ_i weights[b, i]·(e^(λi·τ) − 1) as (B, T), by the same identity as :func:`_rise`.

    Summed mode by mode into one buffer without materialising the (B, n, T) array: on a
    virtual machine, faulting in fresh pages for large temporaries costs more than the
    arithmetic itself.
    """
    grid = _factor_grid(tau)
    if grid is None:
        return _contract(np.expm1(lam[:, :, None] * tau[None, None, :]), weights)
    coarse_t, fine_t = grid
    batch, count = lam.shape[0], tau.shape[0]
    total = np.zeros((batch, coarse_t.shape[0], fine_t.shape[0]))
    term = np.empty_like(total)
    offsets = np.zeros((batch, coarse_t.shape[0]))
    for i in range(lam.shape[1]):
        coarse = lam[:, i, None] * coarse_t  # (B, rows)
        fine = np.expm1(lam[:, i, None] * fine_t)  # (B, width)
        scaled = weights[:, i, None] * np.exp(coarse)
        np.multiply(scaled[:, :, None], fine[:, None, :], out=term)
        total += term
        offsets += weights[:, i, None] * np.expm1(coarse)
    total += offsets[:, :, None]
    result: FloatArray = total.reshape(batch, -1)[:, :count]
    return result


def _rise(lam: FloatArray, tau: FloatArray) -> FloatArray:
    """e^(λ·τ) − 1 as (B, n, T), to full relative accuracy: expm1 directly, or on a factorised
    grid the exact identity expm1(a + b) = e^a·expm1(b) + expm1(a), whose two terms share a
    sign (a, b ≤ 0) so nothing cancels."""
    grid = _factor_grid(tau)
    if grid is None:
        result: FloatArray = np.expm1(lam[:, :, None] * tau[None, None, :])
        return result
    coarse_t, fine_t = grid
    coarse = lam[:, :, None] * coarse_t
    fine = np.expm1(lam[:, :, None] * fine_t)[:, :, None, :]
    # One full-size array, filled in place: large temporaries cost more than the arithmetic.
    full = np.exp(coarse)[:, :, :, None] * fine
    full += np.expm1(coarse)[:, :, :, None]
    batch, modes = lam.shape
    product: FloatArray = full.reshape(batch, modes, -1)[:, :, : tau.shape[0]]
    return product


def _factor_grid(tau: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """For an evenly spaced ``tau`` (T,), coarse and fine offsets with
    tau[q·width + r] = coarse[q] + fine[r], else ``None``.

    e^(λ·τ) is then e^(λ·coarse)·e^(λ·fine): about 2·√T exponentials instead of T, and one
    multiplication per point. Spacing counts as even when every point is within 1e-12 of the
    span of its ideal position, which moves a concentration by a relative 1e-12 at most.
    """
    count = tau.shape[0]
    if count < _FACTOR_MIN_POINTS:
        return None
    step = (tau[-1] - tau[0]) / (count - 1)
    if not step > 0:
        return None
    offsets = np.arange(count) * step
    if np.max(np.abs(tau - tau[0] - offsets)) > 1e-12 * max(1.0, float(tau[-1])):
        return None
    width = math.isqrt(count - 1) + 1
    rows = -(-count // width)
    coarse = tau[0] + np.arange(rows) * (width * step)
    return coarse, np.arange(width) * step


def _contract(per_mode: FloatArray, weights: FloatArray) -> FloatArray:
    """Σ_i weights[b, i]·per_mode[b, i, t] → (B, T).

    An explicit sum over the two or three modes: ``per_mode`` is often a strided view of the
    factorised grid, on which a matrix product would first copy it.
    """
    result: FloatArray = weights[:, 0, None] * per_mode[:, 0, :]
    for i in range(1, weights.shape[1]):
        result += weights[:, i, None] * per_mode[:, i, :]
    return result


def _advance(
    modes: Modes, state: _State, rate: float, duration_min: float, ke0: FloatArray | None
) -> _State:
    """The state ``duration_min`` after a segment start, under constant ``rate``."""
    tau = np.array([duration_min])
    end = _evaluate(modes, state, rate, tau, ke0, True, True, False)
    lam = modes.rates
    rise = np.expm1(lam * duration_min)
    z = state.z * np.exp(lam * duration_min) + modes.input_weights * rate * rise / lam
    effect = end.effect[0] if end.effect is not None else state.effect
    auc = end.auc[0] if end.auc is not None else state.auc
    return _State(z, effect, auc)


def _phi(a: FloatArray, c: FloatArray, tau: FloatArray) -> FloatArray:
    """(e^(a·τ) − e^(c·τ)) / (a − c) as (B, n, T) for a (B, n), c (B,) and τ (T,).

    Written as e^(hi·τ)·(1 − e^(−g·τ))/g with hi = max(a, c) and gap g = |a − c| ≥ 0, using
    expm1, so nothing cancels; at g = 0 it is the limit τ·e^(hi·τ).
    """
    hi = np.maximum(a, c[:, None])[:, :, None]
    gap = np.abs(a - c[:, None])[:, :, None]
    times = tau[None, None, :]
    safe = np.where(gap > 0, gap, 1.0)
    ratio = np.where(gap > 0, -np.expm1(-gap * times) / safe, times)
    result: FloatArray = np.exp(hi * times) * ratio
    return result
