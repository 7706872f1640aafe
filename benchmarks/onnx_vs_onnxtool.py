"""dsc-calc against onnx-tool on torchvision's resnet50 exported to ONNX: time and peak RSS.

Each tool runs as a whole process (interpreter start-up, imports, reading the file, the report),
interleaved, ``--runs`` times; the script prints the median wall time and the median peak RSS of
each (from ``os.wait4``), their ratios, and the params each counts. Goal: dsc-calc >= 10x faster
than onnx-tool with <= half its peak RSS. It also times the ways of reading the graph that the
reader's docstring compares (``import onnx``, ``onnx.load``, protobuf's import, dsc-calc's reader).

Needs, in the environment running it: torch and torchvision (to export the model once; random
weights, nothing downloaded), onnx and onnx-tool (``pip install onnx onnx-tool``).

    python benchmarks/onnx_vs_onnxtool.py [--runs 5] [--model resnet50.onnx]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}

EXPORT = """
import sys, warnings
import torch, torch.library
# torchvision 0.28 registers fake kernels through an API this torch build lacks; not needed here.
torch.library.register_fake = lambda *a, **k: (lambda f: f)
import torchvision
warnings.simplefilter("ignore")
model = torchvision.models.resnet50(weights=None).eval()
torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), sys.argv[1], dynamo=False)
"""

ONNX_TOOL = "import sys, onnx_tool; onnx_tool.model_profile(sys.argv[1])"
READER = (
    "import sys, time; t = time.perf_counter(); from dsc_calc.onnx.reader import read_graph; "
    "u = time.perf_counter(); g = read_graph(sys.argv[1]); v = time.perf_counter(); "
    "print(f'import {(u - t) * 1000:.1f} ms, read_graph {(v - u) * 1000:.1f} ms in-process')"
)


def measure(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one run of ``command`` as its own process."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds, usage.ru_maxrss * 1024


def medians(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float, int]]:
    """(minimum seconds, median seconds, median peak RSS) of each command, runs interleaved.

    The minimum is the figure least disturbed by other load on a shared machine."""
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for command in commands.values():
        measure(command)  # warm-up: bytecode written, the file in the page cache
    for _ in range(runs):
        for name, command in commands.items():
            samples[name].append(measure(command))
    return {
        name: (
            min(s for s, _ in values),
            statistics.median(s for s, _ in values),
            int(statistics.median(r for _, r in values)),
        )
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", type=Path, help="an exported resnet50.onnx (else exported)")
    args = parser.parse_args()
    python = sys.executable
    model = args.model
    if model is None:
        model = Path(tempfile.gettempdir()) / "dsc_calc_resnet50.onnx"
        if not model.exists():
            print(f"exporting torchvision resnet50 to {model} ...", flush=True)
            subprocess.run([python, "-c", EXPORT, str(model)], check=True, env=ENV)
    size = model.stat().st_size
    print(f"model: {model} ({size / 2**20:.1f} MiB), {args.runs} interleaved runs each\n")

    whole = medians(
        {
            "dsc-calc network --json": [python, "-m", "dsc_calc", "network", str(model), "--json"],
            "onnx-tool model_profile": [python, "-c", ONNX_TOOL, str(model)],
            # The same command on a preset: dsc-calc's own start-up, with no ONNX at all.
            "dsc-calc network (a preset)": [
                python,
                "-m",
                "dsc_calc",
                "network",
                "mobilenet_v2",
                "--json",
            ],
            "python -c 'import typer'": [python, "-c", "import typer"],
        },
        args.runs,
    )
    ours, theirs = whole["dsc-calc network --json"], whole["onnx-tool model_profile"]
    print(f"{'':28} {'min':>7}    {'median':>7}    peak RSS (median)")
    for name, (fastest, seconds, rss) in whole.items():
        print(f"{name:28} {fastest:7.3f} s  {seconds:7.3f} s  {rss / 2**20:7.1f} MiB")
    print(
        f"\ndsc-calc is {theirs[0] / ours[0]:.1f}x faster by the minimum, "
        f"{theirs[1] / ours[1]:.1f}x by the median (goal >= 10x), and uses "
        f"{ours[2] / theirs[2]:.2f} of onnx-tool's peak RSS (goal <= 0.5)"
    )
    preset = whole["dsc-calc network (a preset)"]
    print(
        f"the ONNX import adds {1000 * (ours[0] - preset[0]):+.0f} ms (min) to dsc-calc's own "
        "start-up on a preset\n"
    )

    readers = medians(
        {
            "import onnx": [python, "-c", "import onnx"],
            "onnx.load": [python, "-c", f"import onnx; onnx.load({str(model)!r})"],
            "import google.protobuf": [python, "-c", "import google.protobuf.message"],
            "dsc-calc reader": [python, "-c", READER, str(model)],
        },
        args.runs,
    )
    print("Reading the graph (whole processes):")
    for name, (fastest, seconds, rss) in readers.items():
        print(f"  {name:24} {fastest:7.3f} s  {seconds:7.3f} s  {rss / 2**20:7.1f} MiB")
    inside = subprocess.run(
        [python, "-c", READER, str(model)], check=True, capture_output=True, text=True, env=ENV
    )
    print(f"  dsc-calc reader alone: {inside.stdout.strip()}")

    from dsc_calc.onnx.model import import_model

    imported = import_model(model)
    print(f"\ndsc-calc counts {imported.params:,} params and {imported.macs:,} MACs")


if __name__ == "__main__":
    main()
