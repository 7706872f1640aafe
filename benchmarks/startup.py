"""Time whole `dsc-calc` processes against `python -c "import typer"`.

`dsc-calc layer ... --json` (target 1.25x or less) and `dsc-calc network mobilenet_v2 --json`
(target 1.4x or less, decoding the preset included). Prints the median wall time of each over N
interleaved runs and their ratios. Run: python benchmarks/startup.py [--runs 40]
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
PREFIX = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "dsc_calc"]
LAYER = [*PREFIX, *ARGS]
NETWORK = [*PREFIX, "network", "mobilenet_v2", "--json"]
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
    for command in (BASELINE, LAYER, NETWORK):  # warm-up: bytecode written, files cached
        run_seconds(command)
    baseline: list[float] = []
    layer: list[float] = []
    network: list[float] = []
    for _ in range(args.runs):  # interleaved, so drift in the machine's load hits all alike
        baseline.append(run_seconds(BASELINE))
        layer.append(run_seconds(LAYER))
        network.append(run_seconds(NETWORK))
    base = statistics.median(baseline)
    print(f"python -c 'import typer'               median {base * 1000:7.1f} ms")
    for label, times, target in (
        ("dsc-calc layer ... --json", layer, 1.25),
        ("dsc-calc network mobilenet_v2 --json", network, 1.4),
    ):
        ours = statistics.median(times)
        print(
            f"{label:<38} median {ours * 1000:7.1f} ms  {ours / base:5.2f}x (target <= {target}x)"
        )


if __name__ == "__main__":
    main()
