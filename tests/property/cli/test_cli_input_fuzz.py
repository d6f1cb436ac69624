"""Fuzzing the command line's input parsers (issue 8; DESIGN.md §4.2 and §6): whatever the
arguments and files, ``ketaclinic`` ends with exit code 0, 1 or 2, never a traceback, and a
refusal is exactly one ``error:`` line on stderr. Runs the real entry point in this process on
the commands that need no database or network (score, dose, simulate, plan, eligibility,
instruments validate), with no database configured."""

from __future__ import annotations

import contextlib
import io
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketaclinic.cli.main import main
from ketaclinic.web.api.intake import INTAKE_EXAMPLE

SETTINGS = settings(
    max_examples=80,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KETACLINIC_DATABASE_URL", raising=False)
    monkeypatch.setenv("KETACLINIC_DATA_DIR", str(tmp_path / "var"))


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        else:  # pragma: no cover - main always exits
            raise AssertionError("main() returned instead of exiting")
    return code, out.getvalue(), err.getvalue()


def assert_clean_outcome(args: list[str]) -> None:
    code, out, err = run(args)
    assert code in (0, 1, 2), (args, code, err)
    assert "Traceback" not in out + err, args
    if code == 0:
        return
    if code == 2 and not err:  # a command group without its command: its help
        assert "Usage" in out, args
        return
    lines = err.splitlines()
    assert len(lines) == 1, (args, err)
    assert lines[0].startswith("error: "), (args, err)


NUMBER_CHARS = string.digits + ".-+eE,_ xinfa"
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.text(alphabet=NUMBER_CHARS, max_size=12),
    st.text(max_size=10),
)
small_counts = st.sampled_from(["1", "20", "0", "-3", "x", "1e3", "100001", "2.5", ""])
words = st.one_of(st.text(max_size=20), st.sampled_from(["", "[red]", "[/]", "\x00", "é", "-"]))


def with_extras(base: list[str], extras: list[tuple[str, str]]) -> list[str]:
    return base + [part for pair in extras for part in pair]


@SETTINGS
@given(
    instrument=st.one_of(
        st.sampled_from(["pcl5", "pcl5-week", "phq9", "gad7", "who5", "cadss6", "bprs4"]), words
    ),
    answers=st.one_of(
        st.lists(st.integers(-2, 6).map(str), max_size=25).map(",".join),
        st.text(alphabet=NUMBER_CHARS, max_size=60),
        words,
    ),
    as_json=st.booleans(),
)
def test_score_never_crashes(instrument: str, answers: str, as_json: bool) -> None:
    assert_clean_outcome(
        ["score", instrument, "--answers", answers, *(["--json"] if as_json else [])]
    )


DOSE_EXTRAS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "--bag-ml",
                "--concentration-mg-per-ml",
                "--height-cm",
                "--previous-weight-kg",
                "--pump-resolution-ml-per-h",
            ]
        ),
        numbers,
    )
    | st.tuples(st.sampled_from(["--basis", "--sex", "--protocol"]), words),
    max_size=4,
)


@SETTINGS
@given(
    weight=numbers, mg_per_kg=numbers, minutes=numbers, extras=DOSE_EXTRAS, as_json=st.booleans()
)
def test_dose_never_crashes(
    weight: str, mg_per_kg: str, minutes: str, extras: list[tuple[str, str]], as_json: bool
) -> None:
    base = ["dose", "--weight-kg", weight, "--mg-per-kg", mg_per_kg, "--minutes", minutes]
    assert_clean_outcome(with_extras(base, extras) + (["--json"] if as_json else []))


SIMULATE_EXTRAS = st.lists(
    st.tuples(
        st.sampled_from(["--horizon-min", "--step-s", "--age-years", "--threshold-ng-per-ml"]),
        numbers,
    )
    | st.tuples(st.sampled_from(["--population", "--seed"]), small_counts)
    | st.tuples(st.just("--cv"), words),
    max_size=4,
)


@SETTINGS
@given(
    model=st.one_of(st.sampled_from(["domino", "clements", "hijazi", "kamp"]), words),
    weight=numbers,
    mg_per_kg=numbers,
    minutes=numbers,
    extras=SIMULATE_EXTRAS,
    as_json=st.booleans(),
)
def test_simulate_never_crashes(
    model: str,
    weight: str,
    mg_per_kg: str,
    minutes: str,
    extras: list[tuple[str, str]],
    as_json: bool,
) -> None:
    base = ["simulate", "--model", model, "--weight-kg", weight]
    base += ["--mg-per-kg", mg_per_kg, "--minutes", minutes]
    assert_clean_outcome(with_extras(base, extras) + (["--json"] if as_json else []))


@SETTINGS
@given(
    protocol=st.one_of(st.sampled_from(["feder-2021", "abdallah-2022", "maintenance"]), words),
    start=st.one_of(st.dates().map(str), st.text(alphabet=string.digits + "-/T:", max_size=12)),
    as_json=st.booleans(),
)
def test_plan_never_crashes(protocol: str, start: str, as_json: bool) -> None:
    assert_clean_outcome(["plan", protocol, "--start", start, *(["--json"] if as_json else [])])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
# The API's documented example intake (web/api/intake.py), with what the command line takes
# from the file rather than from a registered patient.
VALID_INTAKE = {**INTAKE_EXAMPLE, "age_years": 42, "sex": "female"}
# A complete record with up to three fields replaced by anything JSON can hold: the checks
# behind the first field get exercised, not only "this is not an intake record".
intake_like = st.dictionaries(st.sampled_from(sorted(VALID_INTAKE)), json_values, max_size=3).map(
    lambda changed: {**VALID_INTAKE, **changed}
)


def test_the_record_the_fuzzing_starts_from_is_accepted(tmp_path: Path) -> None:
    # Else every changed record would be refused for the same first field, whatever changed.
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(VALID_INTAKE))
    code, out, err = run(["eligibility", str(path), "--json"])
    assert (code, err) == (0, "")
    assert json.loads(out)["decision"] in {"eligible", "needs_review", "excluded"}


file_contents = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    intake_like.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@SETTINGS
@given(command=st.sampled_from([["eligibility"], ["instruments", "validate"]]), data=file_contents)
def test_file_commands_never_crash(tmp_path: Path, command: list[str], data: bytes) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(data)
    assert_clean_outcome([*command, str(path)])
    assert_clean_outcome([*command, str(path), "--json"])


SAFE_COMMANDS = ["score", "dose", "simulate", "plan", "eligibility", "instruments"]
TOKENS = st.one_of(
    st.sampled_from(
        ["--json", "--help", "--answers", "--weight-kg", "--start", "pcl5", "validate", "--", "="]
    ),
    words,
)


@SETTINGS
@given(command=st.sampled_from(SAFE_COMMANDS), tokens=st.lists(TOKENS, max_size=6))
def test_any_arguments_to_a_command_end_cleanly(command: str, tokens: list[str]) -> None:
    assert_clean_outcome([command, *tokens])
