"""Time `load_network` + `analyse` on specs of 1k, 10k and 100k layers (each listed, not repeated).

The spec cycles through conv (with bn + act shorthand), dsconv, batchnorm, relu6, pwconv and a
stride-1 inverted residual on a small input, so every layer type that matters to the walk is there.
Prints, per size: the JSON size, primitive rows, decode time, analyse time, their sum, and the time
per layer; the goal is 100k layers in well under 2 s, growing linearly.
Run: python benchmarks/network_scale.py [--repeats 3] [--sizes 1000,10000,100000] [--distinct]
"""

from __future__ import annotations

import argparse
import json
import time

from dsc_calc.network.load import load_network
from dsc_calc.network.walk import analyse

CYCLE = (
    {"type": "conv", "out": 16, "k": 3, "bn": True, "act": "relu"},
    {"type": "dsconv", "out": 16, "k": 3},
    {"type": "batchnorm"},
    {"type": "relu6"},
    {"type": "pwconv", "out": 16},
    {"type": "inverted_residual", "out": 16, "expand": 2},
)


def spec_bytes(layers: int, *, distinct: bool = False) -> bytes:
    """A spec of ``layers`` listed layers; ``distinct`` gives every conv its own width, so no two
    rows share a (conv, input) pair and the engine's memo never hits (the worst case)."""
    if distinct:
        body = [
            {"type": "conv", "out": 8 + (index * 7919) % 4093, "k": 3, "bn": True}
            for index in range(layers)
        ]
    else:
        body = [CYCLE[index % len(CYCLE)] for index in range(layers)]
    document = {
        "name": f"scale{layers}",
        "input": {"channels": 16, "height": 8, "width": 8},
        "layers": body,
    }
    return json.dumps(document).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs per size")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="every conv a different width (no repeated layer: the worst case)",
    )
    options = parser.parse_args()
    headers = ("layers", "JSON", "rows", "decode", "analyse", "total", "µs/layer")
    print(" ".join(f"{header:>9}" for header in headers))
    for size in (int(part) for part in options.sizes.split(",")):
        data = spec_bytes(size, distinct=options.distinct)
        best_decode = best_analyse = float("inf")
        rows = 0
        for _ in range(options.repeats):
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
            f"{size:>8} {len(data) / 2**20:>7.2f}MB {rows:>8} {best_decode * 1e3:>7.1f}ms "
            f"{best_analyse * 1e3:>7.1f}ms {total * 1e3:>7.1f}ms {total / size * 1e6:>9.2f}"
        )


if __name__ == "__main__":
    main()
