"""Pharmacokinetic models and exact simulation of ketamine. NumPy/SciPy only.

- ``models``: the published models (domino, clements, hijazi, kamp, herd, hornik) as frozen,
  unit-carrying parameter sets with citation, population, validity range and provenance; the
  symbol table of the package is in its docstring.
- ``schedule``: infusions, boluses and time grids (minutes, mg).
- ``simulate``: the exact solution for one patient, in ng/mL, with summary figures.
- ``population``: seeded virtual patients with log-normal variability, percentile bands and
  exceedance probabilities.
- ``landmarks``: the concentration ranges of REFERENCE.md §4.3.
- ``linear``: the batched eigendecomposition solver the others share (internal).

Every curve is illustrative and never drives dosing (REFERENCE.md §4.4).
"""
