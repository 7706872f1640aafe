"""Time whole `dsc-calc` processes against `python -c "import typer"`.

`dsc-calc layer ... --json` (target 1.25x or less) and `dsc-calc network mobilenet_v2 --json`
(target 1.4x or less, decoding the preset included). Prints the median wall time and CPU time
(user + system) of each over N interleaved runs, and their ratios to the baseline's.
Run: python benchmarks/startup.py [--runs 40]
"""

from __future__ import annotations

import argparse
import os
import resource
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


def run_seconds(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, from the OS's child accounting) of one run.

    CPU time is the steadier figure on a shared machine: another process on the same core makes
    the wall time longer but leaves this process's own CPU time nearly as it was.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    commands = {"baseline": BASELINE, "layer": LAYER, "network": NETWORK}
    for command in commands.values():  # warm-up: bytecode written, files cached
        run_seconds(command)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so drift in the machine's load hits all alike
        for name, command in commands.items():
            times[name].append(run_seconds(command))
    print(f"load average {os.getloadavg()[0]:.2f} at the end; medians over {args.runs} runs")
    base = [statistics.median(sample[i] for sample in times["baseline"]) for i in (0, 1)]
    print(
        f"{'python -c import typer':<38} wall {base[0] * 1000:6.1f} ms        "
        f"cpu {base[1] * 1000:6.1f} ms"
    )
    for name, label, target in (
        ("layer", "dsc-calc layer ... --json", 1.25),
        ("network", "dsc-calc network mobilenet_v2 --json", 1.4),
    ):
        wall, cpu = (statistics.median(sample[i] for sample in times[name]) for i in (0, 1))
        print(
            f"{label:<38} wall {wall * 1000:6.1f} ms {wall / base[0]:5.2f}x  "
            f"cpu {cpu * 1000:6.1f} ms {cpu / base[1]:5.2f}x  (target <= {target}x)"
        )


if __name__ == "__main__":
    main()
