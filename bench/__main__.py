"""``make bench``: run every benchmark module in this folder and write docs/benchmarks.md.

Each module named ``bench_*.py`` exposes ``run() -> str``, returning a Markdown section
(heading level 2) with its figures, its peer's figures from the same run, and the target from
DESIGN.md §5. Timings never live in the test suite.

``python -m bench hl7 api`` runs only the named modules and replaces their sections, keeping
the others as the run that wrote them left them (the header gives each run's time and modules).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


# The latency-sensitive benchmarks run first, before the API benchmark's servers and
# 5 M-row databases have warmed the machine; the rest follow in name order.
FIRST = ("bench_hl7", "bench_pk")
# Before each module the machine is given time to settle (2 shared cores: the previous
# module's servers, vacuum and page-cache writeback otherwise show up in the next figures).
SETTLE_LOAD = 0.7
SETTLE_MAX_S = 90.0
MARK = "<!-- bench:{} {} -->"


def ordered(paths: list[Path]) -> list[Path]:
    rank = {name: n for n, name in enumerate(FIRST)}
    return sorted(paths, key=lambda p: (rank.get(p.stem, len(FIRST)), p.stem))


def settle() -> float:
    """Wait until the one-minute load average drops below SETTLE_LOAD (at most SETTLE_MAX_S)."""
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_MAX_S:
        try:
            if os.getloadavg()[0] < SETTLE_LOAD:
                break
        except OSError:
            break
        time.sleep(2.0)
    return time.perf_counter() - started


def calibrate() -> tuple[float, float]:
    """How fast the machine is right now: a fixed pure-Python workload (best of 3, ms) and a
    4 KiB write with fsync in the system's temporary folder (median of 30, ms). Shared cores
    and disks vary from hour to hour; these two numbers let runs be compared."""
    import statistics
    import tempfile

    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for n in range(1_000_000):
            total += n * n % 7
        best = min(best, time.perf_counter() - started)
    syncs = []
    with tempfile.NamedTemporaryFile() as handle:
        for _ in range(30):
            started = time.perf_counter()
            handle.write(b"k" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
            syncs.append(time.perf_counter() - started)
    return best * 1000, statistics.median(syncs) * 1000


def with_calibration(text: str, cpu_ms: float, fsync_ms: float) -> str:
    """The section with a line after its heading saying how fast the machine was."""
    heading, _, rest = text.partition("\n")
    line = (
        f"Machine just before this section: a fixed pure-Python workload took {cpu_ms:.0f} ms"
        f" and a 4 KiB write with fsync {fsync_ms:.2f} ms (lower is faster; compare runs by"
        " these)."
    )
    return f"{heading}\n\n{line}\n{rest}"


def sections_of(text: str) -> dict[str, tuple[str, str]]:
    """The marked sections of an earlier docs/benchmarks.md: module name -> (run time, text)."""
    found: dict[str, tuple[str, str]] = {}
    for part in text.split("<!-- bench:")[1:]:
        mark, _, body = part.partition(" -->\n")
        name, _, when = mark.partition(" ")
        found[name] = (when, body.rstrip() + "\n")
    return found


def write(
    paths: list[Path], fresh: dict[str, tuple[str, str]], previous: dict[str, tuple[str, str]]
) -> None:
    """docs/benchmarks.md from the sections run now and, for the others, the last run's (name
    order; each section marked with its run time)."""
    body: list[str] = []
    runs: dict[str, list[str]] = {}
    for path in sorted(paths, key=lambda p: p.stem):
        kept = fresh.get(path.stem) or previous.get(path.stem)
        if kept is not None:
            when, text = kept
            body.append(MARK.format(path.stem, when) + "\n" + text)
            runs.setdefault(when, []).append(path.stem.removeprefix("bench_"))
    if len(runs) == 1:
        run_lines = f"- Run: {next(iter(runs))}\n"
    else:
        run_lines = "".join(f"- Run: {when} ({', '.join(names)})\n" for when, names in runs.items())
    header = (
        "# Benchmarks\n\n"
        "Written by `make bench` (bench/__main__.py); do not edit by hand.\n\n"
        f"{run_lines}"
        f"- Machine: {machine()}\n\n"
        "Each figure is measured against its peer in the same run. Targets: DESIGN.md §5.\n\n"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(header + "\n".join(body))


def main(argv: list[str]) -> int:
    only = set(argv)
    sys.path.insert(0, str(HERE.parent))
    # A run replaces the sections of the modules it runs (all, or those named: ``python -m
    # bench hl7``) and keeps the others, marked with their own run time. The document is
    # written after every module, so a module that fails keeps the figures of those before it.
    previous = sections_of(OUT.read_text()) if OUT.exists() else {}
    fresh: dict[str, tuple[str, str]] = {}
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    paths = ordered(list(HERE.glob("bench_*.py")))
    for path in paths:
        name = path.stem
        if only and name not in only and name.removeprefix("bench_") not in only:
            continue
        waited = settle()
        cpu_ms, fsync_ms = calibrate()
        print(
            f"bench: running {name} (waited {waited:.0f} s for the machine; reference"
            f" {cpu_ms:.0f} ms CPU, {fsync_ms:.2f} ms fsync) ...",
            flush=True,
        )
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        fresh[name] = (now, with_calibration(module.run().rstrip(), cpu_ms, fsync_ms) + "\n")
        print(f"bench: {name} done in {time.perf_counter() - started:.1f} s", flush=True)
        write(paths, fresh, previous)
        print(f"bench: wrote {OUT}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
