"""Time dsc-calc's NumPy conv kernels against PyTorch's CPU kernels (oneDNN), one thread each.

For each shape: the standard conv, the depthwise conv, the pointwise conv and the separable pair, on
both sides, float32, batch 1, "same" padding. NumPy runs channels-last (its fastest layout, see
dsc_calc/bench/kernels.py) and PyTorch NCHW (its default); each side gets its inputs and weights
outside the timed region. The two sides are interleaved run by run, so background load from other
processes hits both alike, and medians are printed. Goal: each NumPy kernel within 2x of PyTorch,
and the measured separable speedup within 25% of PyTorch's.

With numba installed (the ``fast`` extra) a third side, "numba", runs the same kernels with the
compiled depthwise conv (``--engine numba``); ``--engine numpy`` or ``numba`` times one side only.

Run: .venv/bin/python benchmarks/bench_vs_torch.py [--seconds 3] [--shape 64,128,56,3 ...]
     [--engine both|numpy|numba]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from dsc_calc.bench.kernels import SeparablePlan, numba_available, plan_conv
from dsc_calc.cost.conv import Conv2d, Shape

if TYPE_CHECKING:
    from collections.abc import Callable

    from dsc_calc.choices import Engine

SHAPES = [(64, 128, 56, 3), (256, 512, 14, 3), (512, 512, 14, 5)]
KERNELS = ("standard", "depthwise", "pointwise", "separable")
WARM_UP_SECONDS = 0.3
BURST_SECONDS = 0.02
BURST_RUNS = 20

#: glibc returns freed multi-MB blocks to the OS and page-faults them back on the next allocation.
#: PyTorch allocates each output afresh (our plans preallocate), so the script re-runs itself with
#: the allocator told to keep freed memory: the fair setting for the side that allocates.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**31)}


def numpy_side(
    cin: int, cout: int, size: int, k: int, engine: Engine = "numpy"
) -> dict[str, Callable[[], object]]:
    """The four dsc-calc kernels of one shape, ready to call (the depthwise one by ``engine``)."""
    rng = np.random.default_rng(0)
    conv = Conv2d(cin, cout, k)
    source = Shape(cin, size, size)
    x = rng.standard_normal((1, size, size, cin), dtype=np.float32)
    standard = plan_conv(conv, source, 1, rng.standard_normal((cout, cin, k, k), np.float32))
    depthwise = plan_conv(
        conv.depthwise(), source, 1, rng.standard_normal((cin, 1, k, k), np.float32), None, engine
    )
    pointwise = plan_conv(
        conv.pointwise(), source, 1, rng.standard_normal((cout, cin, 1, 1), np.float32)
    )
    separable = SeparablePlan(depthwise, pointwise)
    middle = depthwise(x).copy()  # also the numba JIT compile (or cache load), before any timing
    return {
        "standard": lambda: standard(x),
        "depthwise": lambda: depthwise(x),
        "pointwise": lambda: pointwise(middle),
        "separable": lambda: separable(x),
    }


def torch_side(
    torch: object, cin: int, cout: int, size: int, k: int
) -> dict[str, Callable[[], object]]:
    """The same four convs as torch.nn.Conv2d modules in inference mode."""
    nn = torch.nn  # type: ignore[attr-defined]
    torch.manual_seed(0)  # type: ignore[attr-defined]
    x = torch.randn(1, cin, size, size)  # type: ignore[attr-defined]
    standard = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False).eval()
    depthwise = nn.Conv2d(cin, cin, k, padding=k // 2, groups=cin, bias=False).eval()
    pointwise = nn.Conv2d(cin, cout, 1, bias=False).eval()
    with torch.inference_mode():  # type: ignore[attr-defined]
        middle = depthwise(x)

    def run(module: Callable[[object], object], value: object) -> Callable[[], object]:
        def call() -> object:
            with torch.inference_mode():  # type: ignore[attr-defined]
                return module(value)

        return call

    def pair() -> object:
        with torch.inference_mode():  # type: ignore[attr-defined]
            return pointwise(depthwise(x))

    return {
        "standard": run(standard, x),
        "depthwise": run(depthwise, x),
        "pointwise": run(pointwise, middle),
        "separable": pair,
    }


def interleaved(
    sides: dict[str, dict[str, Callable[[], object]]], seconds: float, minimum: int
) -> dict[str, dict[str, list[float]]]:
    """Time every kernel of every side round-robin for ``seconds`` (at least ``minimum`` runs)."""
    for runs in sides.values():
        for call in runs.values():
            # Warm every kernel before timing any, for WARM_UP_SECONDS: oneDNN's first ~50 calls
            # of a depthwise conv here take ~10x longer than later ones.
            warm_until = time.perf_counter() + WARM_UP_SECONDS
            while time.perf_counter() < warm_until:
                call()
    times: dict[str, dict[str, list[float]]] = {s: {k: [] for k in KERNELS} for s in sides}
    stop = time.perf_counter() + seconds
    order = list(sides)
    rounds = 0
    while rounds < minimum or time.perf_counter() < stop:
        order.reverse()  # alternate which side goes first
        for kernel in KERNELS:
            for side in order:
                # A short burst per side: its first call refills the caches the other side
                # evicted and is dropped, so both sides are timed in the same (warm) state.
                call = sides[side][kernel]
                call()
                burst_end = time.perf_counter() + BURST_SECONDS
                for _ in range(BURST_RUNS):
                    begin = time.perf_counter()
                    call()
                    end = time.perf_counter()
                    times[side][kernel].append(end - begin)
                    if end > burst_end:
                        break
        rounds += 1
    return times


def report(
    cin: int,
    cout: int,
    size: int,
    k: int,
    engines: list[str],
    times: dict[str, dict[str, list[float]]],
) -> None:
    """Print one shape's medians, the ratios to torch and the separable speedups."""
    median = {s: {k_: statistics.median(v) for k_, v in t.items()} for s, t in times.items()}
    has_torch = "torch" in median
    print(
        f"\n{cin}->{cout} @ {size}x{size} k{k}  (timed runs of the standard conv per side: "
        f"{len(times[engines[0]]['standard'])})"
    )
    header = "".join(f" {side + ' ms':>9}" for side in median)
    if has_torch:
        header += "".join(f" {engine + '/torch':>12}" for engine in engines)
    print(f"  {'kernel':<10}{header}")
    for kernel in KERNELS:
        line = f"  {kernel:<10}" + "".join(f" {median[side][kernel] * 1e3:9.3f}" for side in median)
        if has_torch:
            ratios = [median[e][kernel] / median["torch"][kernel] for e in engines]
            line += "".join(f" {ratio:11.2f}x" for ratio in ratios)
            line += "  ok" if ratios[-1] <= 2 else "  MISSES 2x"
        print(line)
    speedups = {s: median[s]["standard"] / median[s]["separable"] for s in median}
    macs = Conv2d(cin, cout, k).cost(Shape(cin, size, size)).macs
    pair = Conv2d(cin, cout, k)
    sep_macs = (
        pair.depthwise().cost(Shape(cin, size, size)).macs
        + pair.pointwise().cost(Shape(cin, size, size)).macs
    )
    line = f"  separable speedup: theory {macs / sep_macs:.2f}x"
    for engine in engines:
        line += f", {engine} {speedups[engine]:.2f}x"
        if has_torch:
            line += f" ({100 * (speedups[engine] / speedups['torch'] - 1):+.0f}%)"
    if has_torch:
        gap = speedups[engines[-1]] / speedups["torch"] - 1
        flag = "ok" if abs(gap) <= 0.25 else "MISSES 25%"
        line += f", torch {speedups['torch']:.2f}x  {flag} ({engines[-1]})"
    print(line)


def main() -> int:
    if any(os.environ.get(key) != value for key, value in MALLOC_SETTINGS.items()):
        environment = {**os.environ, **MALLOC_SETTINGS}
        os.execve(sys.executable, [sys.executable, *sys.argv], environment)  # noqa: S606
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per shape")
    parser.add_argument("--min-runs", type=int, default=10)
    parser.add_argument(
        "--shape", action="append", help="cin,cout,size,k (repeatable); default: the issue's three"
    )
    parser.add_argument(
        "--engine",
        choices=("both", "numpy", "numba"),
        default="both",
        help="depthwise engine(s) of the dsc-calc side; both = numpy and, if installed, numba",
    )
    args = parser.parse_args()
    engines: list[Engine] = ["numpy", "numba"] if args.engine == "both" else [args.engine]
    if "numba" in engines and not numba_available():
        if args.engine == "numba":
            print("numba is not installed: pip install 'dsc-calc[fast]'", file=sys.stderr)
            return 1
        engines = ["numpy"]
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shape] if args.shape else SHAPES
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not installed: printing NumPy times only", file=sys.stderr)
    if torch is not None:
        torch.set_num_threads(1)
        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} thread; mkldnn "
            f"{torch.backends.mkldnn.is_available()}"
        )
    print(f"numpy {np.__version__}, 1 BLAS thread (threadpoolctl); {MALLOC_SETTINGS}")
    with threadpool_limits(limits=1):
        for cin, cout, size, k in shapes:
            sides = {engine: numpy_side(cin, cout, size, k, engine) for engine in engines}
            if torch is not None:
                sides["torch"] = torch_side(torch, cin, cout, size, k)
            times = interleaved(sides, args.seconds, args.min_runs)
            report(cin, cout, size, k, engines, times)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
