"""``make bench``: run every benchmark module in this folder and write docs/benchmarks.md.

Each module named ``bench_*.py`` exposes ``run() -> str``, returning a Markdown section
(heading level 2) with its figures, its peer's figures from the same run, and the target from
DESIGN.md §5. Timings never live in the test suite.
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


def main(argv: list[str]) -> int:
    only = set(argv)
    sys.path.insert(0, str(HERE.parent))
    sections: list[str] = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if only and name not in only and name.removeprefix("bench_") not in only:
            continue
        print(f"bench: running {name} ...", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        sections.append(module.run().rstrip() + "\n")
        print(f"bench: {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    header = (
        "# Benchmarks\n\n"
        "Written by `make bench` (bench/__main__.py); do not edit by hand.\n\n"
        f"- Run: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}\n"
        f"- Machine: {machine()}\n\n"
        "Each figure is measured against its peer in the same run. Targets: DESIGN.md §5.\n\n"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(header + "\n".join(sections))
    print(f"bench: wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
