"""Time the network engine at its row limit, in process and as whole processes.

In process: `load_network` + `analyse` on specs of about 1k, 10k and 100k rows (the limit,
``MAX_ROWS``). The spec cycles through conv (with bn + act shorthand), dsconv, batchnorm, relu6,
pwconv, a stride-1 inverted residual and an inception-like ``branches`` block (three paths,
concatenated) on a small input, so every kind of walk is there. Goal: 100k rows with branches in
well under 2 s, growing linearly.

Whole processes (``--cli``): the costliest paths at the limit, each its wall time and peak RSS:
a what-if redesign of every row beside a roofline as JSON, and 100k weightless rows as JSON. Goal:
within 10 s and 1 GB each; a spec past the limit is refused at once.
Run: python benchmarks/network_scale.py [--repeats 3] [--rows 1000,10000,100000] [--cli]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dsc_calc.network.load import load_network
from dsc_calc.network.walk import MAX_ROWS, analyse

BRANCHES: dict[str, object] = {
    "type": "branches",
    "branches": [
        [{"type": "pwconv", "out": 8, "bn": True, "act": "relu"}],
        [{"type": "pwconv", "out": 4}, {"type": "conv", "out": 4, "k": 3, "bn": True}],
        [{"type": "pool", "k": 3, "stride": 1, "padding": 1}, {"type": "pwconv", "out": 4}],
    ],
}
CYCLE: tuple[tuple[dict[str, object], int], ...] = (
    ({"type": "conv", "out": 16, "k": 3, "bn": True, "act": "relu"}, 3),
    ({"type": "dsconv", "out": 16, "k": 3}, 2),
    ({"type": "batchnorm"}, 1),
    ({"type": "relu6"}, 1),
    ({"type": "pwconv", "out": 16}, 1),
    ({"type": "inverted_residual", "out": 16, "expand": 2}, 10),
    (BRANCHES, 9),
)


def spec_bytes(rows: int) -> bytes:
    """A spec of listed layers (no repeat) unrolling into about ``rows`` rows."""
    body: list[dict[str, object]] = []
    count = index = 0
    while count + 10 <= rows:
        layer, produced = CYCLE[index % len(CYCLE)]
        body.append(layer)
        count += produced
        index += 1
    document = {"name": f"scale{rows}", "input": {"channels": 16, "height": 8, "width": 8}}
    return json.dumps({**document, "layers": body}).encode()


def in_process(sizes: list[int], repeats: int) -> None:
    headers = ("rows", "JSON", "decode", "analyse", "total", "µs/row")
    print(" ".join(f"{header:>9}" for header in headers))
    for size in sizes:
        data = spec_bytes(size)
        best_decode = best_analyse = float("inf")
        rows = 0
        for _ in range(repeats):
            start = time.perf_counter()
            network = load_network("-", stdin=data)
            decoded = time.perf_counter()
            report = analyse(network)
            done = time.perf_counter()
            rows = len(report.rows)
            best_decode = min(best_decode, decoded - start)
            best_analyse = min(best_analyse, done - decoded)
        total = best_decode + best_analyse
        print(
            f"{rows:>9} {len(data) / 2**20:>7.2f}MB {best_decode * 1e3:>7.1f}ms "
            f"{best_analyse * 1e3:>7.1f}ms {total * 1e3:>7.1f}ms {total / rows * 1e6:>9.2f}"
        )


def whole_processes() -> None:
    """Wall time and peak RSS of the costliest CLI paths at the limit, and past it."""
    half = MAX_ROWS // 2
    cases = {
        "what-if standard + roofline, JSON": (
            {"repeat": half, "layers": [{"type": "dsconv", "out": 8}]},
            ["--what-if", "standard", "--profile", "example-desktop", "--json"],
        ),
        "what-if separable + roofline, JSON": (
            {"repeat": half, "layers": [{"type": "conv", "out": 8}]},
            ["--what-if", "separable", "--profile", "example-desktop", "--json"],
        ),
        "weightless rows, JSON": ({"repeat": MAX_ROWS, "layers": [{"type": "relu"}]}, ["--json"]),
        "past the limit (refused)": (
            {"repeat": 10 * MAX_ROWS, "layers": [{"type": "relu"}]},
            ["--json"],
        ),
    }
    script = Path(sys.executable).with_name("dsc-calc")
    print(f"{'case':<38} {'wall':>8} {'peak RSS':>10} {'stdout':>10} exit")
    with tempfile.TemporaryDirectory() as folder:
        for label, (block, options) in cases.items():
            path = Path(folder) / "spec.json"
            spec = {"input": {"channels": 8, "height": 8, "width": 8}, "layers": [block]}
            path.write_text(json.dumps(spec))
            command = [str(script), "network", str(path), *options]
            start = time.perf_counter()
            with tempfile.TemporaryFile() as out:
                child = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
                _, status, usage = os.wait4(child.pid, 0)
                wall = time.perf_counter() - start
                size = out.tell()
            peak = usage.ru_maxrss / 2**10
            code = os.waitstatus_to_exitcode(status)
            print(f"{label:<38} {wall:>7.2f}s {peak:>7.0f}MiB {size / 2**20:>8.1f}MB {code:>4}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per size")
    parser.add_argument("--rows", default=f"1000,10000,{MAX_ROWS}")
    parser.add_argument("--cli", action="store_true", help="also time the CLI's costliest paths")
    options = parser.parse_args()
    in_process([int(part) for part in options.rows.split(",")], options.repeats)
    if options.cli:
        print()
        whole_processes()


if __name__ == "__main__":
    main()
