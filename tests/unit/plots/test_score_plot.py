"""The symptom-score plot (adapters/plots/scores.py) marks started infusions and booked visits
with no infusion started differently, each with its legend entry."""

from __future__ import annotations

import datetime as dt

from ketaclinic.adapters.plots.scores import ScorePoint, render_score_plot

DAY = dt.datetime(2026, 11, 2, 9, 0)
POINTS = [ScorePoint(DAY + dt.timedelta(days=n), 50.0 - n) for n in (0, 7, 14)]
UNSTARTED = "booked visit, no infusion started"


def test_started_infusions_and_unstarted_visits_have_their_own_legend_entries() -> None:
    svg = render_score_plot(
        pcl5=POINTS,
        infusions_at=[DAY + dt.timedelta(days=1)],
        unstarted_visits_at=[DAY + dt.timedelta(days=4), DAY + dt.timedelta(days=8)],
    ).decode()
    assert svg.count("<!-- infusion -->") == 1
    assert svg.count(f"<!-- {UNSTARTED} -->") == 1  # one legend entry for both visits
    # Two visits on two axes: four dashed lines in the unstarted colour, plus the legend's.
    assert svg.count("stroke: #b5477a") == 5


def test_without_unstarted_visits_there_is_no_such_legend_entry() -> None:
    svg = render_score_plot(pcl5=POINTS, infusions_at=[DAY + dt.timedelta(days=1)]).decode()
    assert UNSTARTED not in svg
    assert "#b5477a" not in svg
