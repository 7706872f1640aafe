"""Time the whole `dsc-calc layer ... --json` process against `python -c "import typer"`.

Prints the median wall time of each over N interleaved runs and their ratio; the target is 1.3x
or less. Run: python benchmarks/startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ARGS = ["layer", "--cin", "32", "--cout", "64", "-k", "3", "--hw", "112", "--json"]
#: The installed console script, as a user runs it (`python -m dsc_calc` adds runpy's ~7 ms).
SCRIPT = Path(sys.executable).with_name("dsc-calc")
LAYER = [str(SCRIPT), *ARGS] if SCRIPT.exists() else [sys.executable, "-m", "dsc_calc", *ARGS]
BASELINE = [sys.executable, "-c", "import typer"]


#: As after `pip install`: bytecode is written (on the warm-up run) and then used. Some shells and
#: sandboxes set PYTHONDONTWRITEBYTECODE, which would recompile every module on every run.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def run_seconds(command: list[str]) -> float:
    """Wall time of one run of ``command``."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    for command in (BASELINE, LAYER):  # warm-up: bytecode written, files in the page cache
        run_seconds(command)
    baseline: list[float] = []
    layer: list[float] = []
    for _ in range(args.runs):  # interleaved, so drift in the machine's load hits both alike
        baseline.append(run_seconds(BASELINE))
        layer.append(run_seconds(LAYER))
    base, ours = statistics.median(baseline), statistics.median(layer)
    print(f"python -c 'import typer'          median {base * 1000:7.1f} ms")
    print(f"dsc-calc layer ... --json          median {ours * 1000:7.1f} ms  ({LAYER[0]})")
    print(f"ratio                              {ours / base:7.2f}x (target <= 1.30x)")


if __name__ == "__main__":
    main()
