"""The ``make bench`` runner: order of the modules and partial runs that keep other sections."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bench import __main__ as runner  # noqa: E402


def test_latency_sensitive_modules_run_before_the_api_load() -> None:
    paths = [Path(f"bench_{name}.py") for name in ("api", "cohort", "hl7", "mixed", "pk")]
    order = [p.stem for p in runner.ordered(paths)]
    assert order == ["bench_hl7", "bench_pk", "bench_api", "bench_cohort", "bench_mixed"]


def test_marked_sections_read_back_with_their_run_time() -> None:
    text = (
        "# Benchmarks\n\n- Run: x\n\n"
        + runner.MARK.format("bench_api", "2026-11-24 21:55 UTC")
        + "\n## API\n\nrow\n\n"
        + runner.MARK.format("bench_hl7", "2026-11-25 09:00 UTC")
        + "\n## HL7\n\nother row\n"
    )
    sections = runner.sections_of(text)
    assert sections == {
        "bench_api": ("2026-11-24 21:55 UTC", "## API\n\nrow\n"),
        "bench_hl7": ("2026-11-25 09:00 UTC", "## HL7\n\nother row\n"),
    }


def test_a_partial_run_replaces_its_section_and_keeps_the_rest(tmp_path, monkeypatch) -> None:
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    for name in ("bench_alpha", "bench_beta"):
        (bench_dir / f"{name}.py").write_text("")
    out = tmp_path / "benchmarks.md"
    out.write_text(
        "# Benchmarks\n\n"
        + runner.MARK.format("bench_alpha", "2026-01-01 00:00 UTC")
        + "\n## Alpha\n\nold alpha\n\n"
        + runner.MARK.format("bench_beta", "2026-01-01 00:00 UTC")
        + "\n## Beta\n\nold beta\n"
    )

    class Beta:
        @staticmethod
        def run() -> str:
            return "## Beta\n\nnew beta\n"

    monkeypatch.setattr(runner, "HERE", bench_dir)
    monkeypatch.setattr(runner, "OUT", out)
    monkeypatch.setattr(runner, "settle", lambda: 0.0)
    monkeypatch.setattr(runner, "calibrate", lambda: (100.0, 0.5))
    monkeypatch.setattr(runner.importlib, "import_module", lambda name: Beta)
    assert runner.main(["beta"]) == 0

    written = out.read_text()
    assert "old alpha" in written
    assert "new beta" in written
    assert "workload took 100 ms and a 4 KiB write with fsync 0.50 ms" in written
    assert "old beta" not in written
    assert "- Run: 2026-01-01 00:00 UTC (alpha)" in written
    assert written.index("## Alpha") < written.index("## Beta")


def test_the_calibration_line_follows_the_sections_heading() -> None:
    text = runner.with_calibration("## HL7\n\nIntro.\n\n| a |", 212.4, 0.4321)
    lines = text.splitlines()
    assert lines[0] == "## HL7"
    assert lines[2].startswith("Machine just before this section: a fixed pure-Python workload")
    assert "212 ms" in lines[2]
    assert "0.43 ms" in lines[2]
    assert lines[3:] == ["", "Intro.", "", "| a |"]
