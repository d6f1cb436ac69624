"""``ketaclinic dose`` and ``ketaclinic simulate``: dosing and pharmacokinetics on the command line
(DESIGN.md §4.2).

- ``dose --weight-kg W --mg-per-kg D --minutes M (--bag-ml V | --concentration-mg-per-ml C)``
  computes dose, concentration, volume and pump rate on the chosen weight basis and checks them
  against a protocol's drug-library limits: the clinic's library (the director's approved
  values, as ``POST /api/v1/dose`` uses) when a database is configured and can be read, else the
  shipped defaults; the result says which (``library``, ``library_note``). A soft limit is
  reported (``limit: soft``, with every limit hit and its source); a hard limit is refused: one
  line on stderr, exit code 2 (with ``--json`` the result with ``limit: hard`` is still printed
  on stdout). A weight that fails the plausibility checks is refused until confirmed with
  ``--weight-confirmed``.
- ``simulate --model NAME --weight-kg W --mg-per-kg D --minutes M`` predicts the plasma
  concentration of one infusion, or with ``--population N`` percentile bands of N virtual
  patients (``--cv NAME=FRACTION`` sets a parameter's variability); ``--plot FILE.svg|png``
  draws it; ``--threshold-ng-per-ml`` sets the concentration "time above" is measured at.

Bad input is one line on stderr naming field, value and expectation, exit code 2.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ketaclinic.cli.clinic_values import CLINIC, SHIPPED, read_clinic_values
from ketaclinic.cli.common import JSON_OPTION, emit, handles_errors
from ketaclinic.domain.dosing import (
    DEFAULT_PUMP_RESOLUTION_ML_PER_H,
    BagPreparation,
    Preparation,
    StockPreparation,
    check_duration_min,
    check_mg_per_kg,
    compute_dose,
)
from ketaclinic.domain.drug_library import (
    DEFAULT_LIBRARY,
    LimitLevel,
    ProtocolLimits,
    evaluate,
    limits_for,
)
from ketaclinic.domain.errors import InvalidInput
from ketaclinic.domain.weight import check_plausibility, dosing_weight
from ketaclinic.pk.models import get_model
from ketaclinic.pk.population import PopulationResult, simulate_population
from ketaclinic.pk.schedule import Schedule, time_grid
from ketaclinic.pk.simulate import DISCLAIMER, SimulationResult, simulate
from ketaclinic.services.dosing_json import (
    check_threshold,
    dose_body,
    population_body,
    simulation_header,
    single_body,
)

if TYPE_CHECKING:
    from ketaclinic.adapters.plots.concentration import PlotFormat

DEFAULT_AFTER_INFUSION_MIN = 240.0  # 4 h of observation after the infusion, as in §5 benchmarks
DEFAULT_STEP_S = 10.0
PLOT_OPTION = typer.Option(None, "--plot", help="Write a figure: FILE.svg or FILE.png.")
CV_OPTION = typer.Option(
    None,
    "--cv",
    help="With --population: NAME=FRACTION, a parameter's coefficient of variation in place "
    "of the default (e.g. --cv cl_l_per_min=0.5); repeat for several.",
)


def register(app: typer.Typer) -> None:
    """Add ``dose`` and ``simulate`` to ``app``."""
    app.command("dose", help="Dose, concentration and pump rate; enforces drug-library limits.")(
        dose_command
    )
    app.command("simulate", help="Predicted plasma concentration of one infusion.")(
        simulate_command
    )


@handles_errors
def dose_command(
    weight_kg: float = typer.Option(..., "--weight-kg", help="Measured body weight in kg."),
    mg_per_kg: float = typer.Option(..., "--mg-per-kg", help="Ordered dose in mg/kg."),
    minutes: float = typer.Option(..., "--minutes", help="Infusion duration in minutes."),
    bag_ml: float | None = typer.Option(
        None, "--bag-ml", help="Final bag volume in mL (drug included)."
    ),
    concentration_mg_per_ml: float | None = typer.Option(
        None, "--concentration-mg-per-ml", help="Fixed concentration infused, mg/mL."
    ),
    basis: str = typer.Option("actual", "--basis", help="Weight basis: actual, ideal, adjusted."),
    height_cm: float | None = typer.Option(None, "--height-cm", help="Height, for IBW/AdjBW."),
    sex: str | None = typer.Option(None, "--sex", help="male or female, for IBW/AdjBW."),
    protocol: str = typer.Option("default", "--protocol", help="Drug-library protocol id."),
    previous_weight_kg: float | None = typer.Option(
        None, "--previous-weight-kg", help="Weight at the previous visit, for plausibility."
    ),
    weight_confirmed: bool = typer.Option(
        False, "--weight-confirmed", help="The weight was re-checked despite a finding."
    ),
    pump_resolution_ml_per_h: float = typer.Option(
        DEFAULT_PUMP_RESOLUTION_ML_PER_H, "--pump-resolution-ml-per-h", help="Pump rate step."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    preparation = _preparation(bag_ml, concentration_mg_per_ml)
    weight = dosing_weight(weight_kg, basis, height_cm=height_cm, sex=sex)
    findings = check_plausibility(weight_kg, previous_weight_kg)
    if findings and not weight_confirmed:
        reasons = "; ".join(finding.message for finding in findings)
        raise InvalidInput.for_field(
            "weight_kg", weight_kg, f"a confirmed weight ({reasons}); pass --weight-confirmed"
        )
    library = drug_library()
    limits = limits_for(protocol, library.limits)
    calculation = compute_dose(
        weight, mg_per_kg, minutes, preparation, pump_resolution_ml_per_h=pump_resolution_ml_per_h
    )
    evaluation = evaluate(limits, calculation)
    body = dose_body(calculation, evaluation, [f.message for f in findings])
    body.update(library.body())
    if evaluation.level is LimitLevel.HARD:
        if as_json:  # the result with limit "hard" on stdout; the refusal on stderr, exit 2
            emit(body, as_json=True, human=lambda _console: None)
            sys.stdout.flush()
        evaluation.require_permitted()  # raises LimitExceeded: no override exists

    def human(console: Console) -> None:
        table = Table(title=f"Dose ({escape(limits.title)})", show_header=False)
        table.add_column("what")
        table.add_column("value")
        table.add_row("Weight basis", f"{weight.basis} ({weight.dosing_kg:.1f} kg)")
        table.add_row("Dose", f"{calculation.dose_mg:.2f} mg")
        table.add_row("Concentration", f"{calculation.concentration_mg_per_ml:.4g} mg/mL")
        table.add_row("Volume to infuse", f"{calculation.volume_ml:.2f} mL")
        table.add_row("Rate (exact)", f"{calculation.rate_ml_per_h:.3f} mL/h")
        table.add_row("Pump rate", f"{calculation.pump_rate_ml_per_h:g} mL/h")
        table.add_row("Residual dose error", f"{calculation.dose_error_mg:+.3f} mg")
        table.add_row("Rate", f"{calculation.rate_mg_per_kg_per_h:.3g} mg/kg/h")
        table.add_row("Limit", evaluation.level.value)
        where = f" ({library.database})" if library.database else ""
        table.add_row("Library", escape(f"{library.source}{where}: {library.note}"))
        console.print(table)
        for hit in evaluation.hits:
            console.print(f"[yellow]soft limit:[/yellow] {escape(hit.message)}")
        for warning in (*weight.warnings, *body["weight_findings"]):
            console.print(f"[yellow]warning:[/yellow] {escape(warning)}")

    emit(body, as_json=as_json, human=human)


@handles_errors
def simulate_command(
    model: str = typer.Option(..., "--model", help="domino, clements, hijazi, kamp, herd, hornik"),
    weight_kg: float = typer.Option(..., "--weight-kg", help="Body weight in kg."),
    mg_per_kg: float = typer.Option(..., "--mg-per-kg", help="Dose in mg/kg."),
    minutes: float = typer.Option(..., "--minutes", help="Infusion duration in minutes."),
    horizon_min: float | None = typer.Option(
        None, "--horizon-min", help="Minutes simulated from the start (default: infusion + 240)."
    ),
    step_s: float = typer.Option(DEFAULT_STEP_S, "--step-s", help="Grid step in seconds."),
    population: int | None = typer.Option(
        None, "--population", help="Number of virtual patients for percentile bands."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed for --population."),
    age_years: float | None = typer.Option(
        None, "--age-years", help="Age, to check the model's validity range."
    ),
    cv: list[str] | None = CV_OPTION,
    threshold_ng_per_ml: float | None = typer.Option(
        None,
        "--threshold-ng-per-ml",
        help="Concentration that time above (and the share of peaks above) is reported at; "
        "default 100.",
    ),
    plot: Path | None = PLOT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    chosen = get_model(model)
    plot_format = _check_plot_path(plot) if plot is not None else None
    check_mg_per_kg(mg_per_kg)
    check_duration_min(minutes)
    threshold = check_threshold(threshold_ng_per_ml)
    cvs = _parse_cv(cv or [])
    if cvs and population is None:
        raise InvalidInput.for_field("cv", ",".join(cv or []), "--population as well")
    parameterised = chosen.parameters(weight_kg, age_years)
    horizon = minutes + DEFAULT_AFTER_INFUSION_MIN if horizon_min is None else horizon_min
    times = time_grid(horizon, step_s)
    dose_mg = mg_per_kg * parameterised.params.weight_kg
    schedule = Schedule.single_infusion(dose_mg, minutes)
    body = simulation_header(
        chosen, parameterised.params.weight_kg, dose_mg, minutes, parameterised.warnings
    )
    result: SimulationResult | None = None
    bands: PopulationResult | None = None
    if population is None:
        result = simulate(parameterised.params, schedule, times)
        body.update(single_body(result, chosen, threshold))
    else:
        bands = simulate_population(
            parameterised.params, schedule, times, population, seed, cv=cvs or None
        )
        body.update(population_body(bands, threshold, cvs))
    if plot is not None and plot_format is not None:
        from ketaclinic.adapters.plots.concentration import render_concentration_plot

        image = render_concentration_plot(
            curves=() if result is None else (result,), population=bands, fmt=plot_format
        )
        _write_plot(plot, image)
        body["plot"] = str(plot)

    def human(console: Console) -> None:
        console.print(f"[bold]{escape(chosen.title)}[/bold], {weight_kg:g} kg, {dose_mg:.1f} mg")
        console.print(f"over {minutes:g} min. {escape(chosen.citation)}")
        if result is not None:
            summary = result.summary()
            console.print(
                f"Cmax {summary.cmax_ng_per_ml:.1f} ng/mL at {summary.tmax_min:.1f} min; "
                f"AUC {summary.auc_ng_min_per_ml:,.0f} ng·min/mL"
            )
        else:
            cmax = body["cmax_percentiles_ng_per_ml"]
            console.print(
                f"{body['population']} virtual patients: Cmax 5/50/95 % "
                f"{cmax['5']:.1f} / {cmax['50']:.1f} / {cmax['95']:.1f} ng/mL"
            )
        for warning in parameterised.warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
        if plot is not None:
            console.print(f"plot written to {escape(str(plot))}")
        console.print(DISCLAIMER)

    emit(body, as_json=as_json, human=human)


# --- helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Library:
    """The drug library ``dose`` checks against, where it came from and why."""

    limits: dict[str, ProtocolLimits]
    source: str  # "clinic" or "shipped"
    note: str
    database: str = ""  # where the clinic's library was read (password hidden)

    def body(self) -> dict[str, str]:
        return {"library": self.source, "library_note": self.note}


def drug_library() -> Library:
    """The clinic's effective library when a database is configured and can be read; otherwise
    the shipped defaults, with the reason (cli/clinic_values.py). Reading the library needs no
    sign-in: it holds no health data (``services/dosing_library.clinic_library``)."""
    from ketaclinic.services.dosing_library import CLINIC_LIBRARY_NOTE, clinic_library

    found = read_clinic_values(clinic_library, dict(DEFAULT_LIBRARY))
    if found.source == SHIPPED:
        return Library(found.values, SHIPPED, f"shipped defaults: {found.reason}")
    return Library(found.values, CLINIC, CLINIC_LIBRARY_NOTE, found.database)


def _preparation(bag_ml: float | None, concentration_mg_per_ml: float | None) -> Preparation:
    if (bag_ml is None) == (concentration_mg_per_ml is None):
        given = "both" if bag_ml is not None else "neither"
        raise InvalidInput.for_field(
            "bag_ml", given, "exactly one of --bag-ml or --concentration-mg-per-ml"
        )
    if bag_ml is not None:
        return BagPreparation(bag_ml)
    assert concentration_mg_per_ml is not None  # the check above leaves exactly one
    return StockPreparation(concentration_mg_per_ml)


def _parse_cv(items: list[str]) -> dict[str, float]:
    """``NAME=FRACTION`` pairs (``--cv``); names and ranges are checked by the population core."""
    chosen: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise InvalidInput.for_field("cv", item, "NAME=FRACTION, e.g. cl_l_per_min=0.5")
        try:
            chosen[name.strip()] = float(text)
        except ValueError:
            raise InvalidInput.for_field(f"cv.{name.strip()}", text, "a number") from None
    return chosen


def _check_plot_path(path: Path) -> PlotFormat:
    """Refuse a bad plot path before any work: unknown extension, or a directory we cannot
    write into. matplotlib is imported here, only when a plot is asked for: it would add about
    half a second to every command's start."""
    from ketaclinic.adapters.plots.concentration import format_for_path

    plot_format = format_for_path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise InvalidInput.for_field("plot", str(path), "a writable file path")
    return plot_format


def _write_plot(path: Path, image: bytes) -> None:
    try:
        path.write_bytes(image)
    except OSError as error:
        raise InvalidInput.for_field(
            "plot", str(path), f"a writable file path ({error.strerror})"
        ) from None
