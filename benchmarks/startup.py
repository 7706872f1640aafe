"""Time the whole `dsc-calc layer ... --json` process against `python -c "import typer"`.

Prints the median wall time of each over N runs and their ratio; the target is 1.3x or less.
Run: python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

LAYER = [
    sys.executable,
    "-m",
    "dsc_calc",
    "layer",
    "--cin",
    "32",
    "--cout",
    "64",
    "-k",
    "3",
    "--hw",
    "112",
    "--json",
]
BASELINE = [sys.executable, "-c", "import typer"]


#: As after `pip install`: bytecode is written (on the warm-up run) and then used. Some shells and
#: sandboxes set PYTHONDONTWRITEBYTECODE, which would recompile every module on every run.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``runs`` runs of ``command`` after one warm-up run."""
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=ENV)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    baseline = median_seconds(BASELINE, args.runs)
    layer = median_seconds(LAYER, args.runs)
    print(f"python -c 'import typer'          median {baseline * 1000:7.1f} ms")
    print(f"dsc-calc layer ... --json          median {layer * 1000:7.1f} ms")
    print(f"ratio                              {layer / baseline:7.2f}x (target <= 1.30x)")


if __name__ == "__main__":
    main()
