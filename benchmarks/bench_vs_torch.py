"""Time dsc-calc's NumPy conv kernels against PyTorch's CPU kernels (oneDNN), on 1 and 2 threads.

For each shape: the standard conv, the depthwise conv, the pointwise conv and the separable pair, on
both sides, float32, batch 1, "same" padding. NumPy runs channels-last (its fastest layout, see
dsc_calc/bench/kernels.py) and PyTorch NCHW (its default); each side gets its inputs and weights
outside the timed region. The two sides are interleaved run by run, so background load from other
processes hits both alike. Each (threads, shape) is measured ``--runs`` times (default 3), the runs
of all shapes interleaved, and the median of the per-run medians is printed. Goal (issue 15): each
NumPy kernel within 2x of PyTorch on 1 thread, and the measured separable speedup within 20% of
PyTorch's.

PyTorch is timed twice: as it dispatches (``torch``: nn.Conv2d modules), and as oneDNN's conv
itself for every kernel (``onednn``: ``aten.mkldnn_convolution``, the call PyTorch makes when it
hands a conv to oneDNN, checked to give the modules' results). The two differ where PyTorch's
dispatcher does not pick oneDNN, which each shape's header names: on one thread it runs the 1x1
conv as a GEMM of its own (``slow2d``: MKL's GEMM in PyTorch's wheels; 1.35 to 2.05x the time of
oneDNN's own 1x1 conv on an AMD EPYC Zen 5), so "within 2x of oneDNN" is checked against both,
and the speedup against both.

With numba installed (the ``fast`` extra) a third side, "numba", runs the same kernels with the
compiled depthwise conv (``--engine numba``); ``--engine numpy`` or ``numba`` times one side only.
The last lines are a Markdown table for the README, with the BLAS library and the kernel path
(threadpoolctl's "architecture") that ran.

To benchmark (not in tests or CI), unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this command
alone where they are set, and check the kernel path printed:

How busy other processes kept the cores during each run is printed (from /proc/stat): figures
from a run with other load are not comparable; ``--wait S`` waits up to S seconds before each run
for the machine to go quiet. On more than one thread each run also prints how much of two CPUs
two threads of this process really got (a kernel's scheduler can give a process one core's worth
while another session is busy, even with a core idle), and the two sides' bursts are ``--settle``
seconds apart (default 0.01), long enough for the OpenMP threads PyTorch leaves spinning after a
parallel region (a few ms) to stop before our threads start, and OpenBLAS's after ours.

The header lists what is needed to redo the table elsewhere: CPU model and caches, Python, NumPy
and its SIMD levels, the BLAS and its kernel path, PyTorch and its oneDNN, and per shape the
dsc-calc depthwise kernel path (einsums per call, threads it really uses) and how its pointwise
GEMM runs (one call, or chunks of pixels when those were measured faster as the plan was made).

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_vs_torch.py
     [--seconds 2] [--runs 3] [--threads 1,2] [--wait 60] [--settle 0.01]
     [--shape 64,128,56,3 ...] [--engine both|numpy|numba]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from dsc_calc.bench.depthwise import DepthwisePlan
from dsc_calc.bench.kernels import PointwisePlan, SeparablePlan, numba_available, plan_conv
from dsc_calc.bench.notes import NOISY_SPREAD
from dsc_calc.bench.vs_torch import conv_backend
from dsc_calc.cost.conv import Conv2d, Shape

if TYPE_CHECKING:
    from collections.abc import Callable

    from dsc_calc.choices import Engine

SHAPES = [(32, 64, 112, 3), (64, 128, 56, 3), (256, 512, 14, 3), (512, 512, 14, 5)]
KERNELS = ("standard", "depthwise", "pointwise", "separable")
WARM_UP_SECONDS = 0.3
BURST_SECONDS = 0.02
BURST_RUNS = 20
SETTLE_SECONDS = 0.01
RATIO_GOAL = 2.0
SPEEDUP_GOAL = 0.20

#: glibc returns freed multi-MB blocks to the OS and page-faults them back on the next allocation.
#: PyTorch allocates each output afresh (our plans preallocate), so the script re-runs itself with
#: the allocator told to keep freed memory: the fair setting for the side that allocates.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(2**30), "MALLOC_TRIM_THRESHOLD_": str(2**31)}

Shape4 = tuple[int, int, int, int]


@dataclass(frozen=True)
class Row:
    """One (threads, shape) of the closing table: ours / torch per kernel, and the speedups."""

    shape: Shape4
    threads: int
    ratios: dict[str, dict[str, dict[str, float]]]  # reference -> engine -> kernel -> ours / its
    speedups: dict[str, float]


#: Per-run medians: side -> kernel -> seconds.
Medians = dict[str, dict[str, float]]


def numpy_side(
    cin: int, cout: int, size: int, k: int, engine: Engine = "numpy", threads: int = 1
) -> tuple[dict[str, Callable[[], object]], str]:
    """The four dsc-calc kernels of one shape, ready to call (the depthwise one by ``engine``),
    and which depthwise kernel path runs."""
    rng = np.random.default_rng(0)
    conv = Conv2d(cin, cout, (k, k))
    source = Shape(cin, size, size)
    x = rng.standard_normal((1, size, size, cin), dtype=np.float32)
    standard = plan_conv(conv, source, 1, rng.standard_normal((cout, cin, k, k), np.float32))
    depthwise = plan_conv(
        conv.depthwise(),
        source,
        1,
        rng.standard_normal((cin, 1, k, k), np.float32),
        None,
        engine,
        threads,
    )
    pointwise = plan_conv(
        conv.pointwise(), source, 1, rng.standard_normal((cout, cin, 1, 1), np.float32)
    )
    separable = SeparablePlan(depthwise, pointwise)
    middle = depthwise(x).copy()  # also the numba JIT compile (or cache load), before any timing
    runs: dict[str, Callable[[], object]] = {
        "standard": lambda: standard(x),
        "depthwise": lambda: depthwise(x),
        "pointwise": lambda: pointwise(middle),
        "separable": lambda: separable(x),
    }
    return runs, f"{depthwise_path(depthwise)}; pointwise: {pointwise_path(pointwise)}"


def depthwise_path(plan: object) -> str:
    """What the depthwise plan runs: engine, einsums per call, threads it really uses."""
    if not isinstance(plan, DepthwisePlan):
        return type(plan).__name__
    layout = "stride-1 regions" if plan.unit_stride else "stride phases"
    return f"numpy einsum, {layout}, {plan.einsum_calls} einsums a call, {plan.threads} thread(s)"


def pointwise_path(plan: object) -> str:
    """How the pointwise plan runs: one GEMM, or GEMMs over the chunks it measured faster."""
    if not isinstance(plan, PointwisePlan):
        return type(plan).__name__
    if plan.chunk_pixels == plan.pixels:
        return f"one GEMM of {plan.pixels} pixels"
    return f"GEMMs of {plan.chunk_pixels} of {plan.pixels} pixels (measured faster than one)"


Convs = dict[str, tuple[Any, Any]]  # conv name -> (nn.Conv2d module, its input)


def torch_convs(torch: Any, cin: int, cout: int, size: int, k: int) -> Convs:
    """The three convs as torch.nn.Conv2d modules in inference mode, each with its input."""
    nn = torch.nn
    torch.manual_seed(0)
    x = torch.randn(1, cin, size, size)
    standard = nn.Conv2d(cin, cout, k, padding=k // 2, bias=False).eval()
    depthwise = nn.Conv2d(cin, cin, k, padding=k // 2, groups=cin, bias=False).eval()
    pointwise = nn.Conv2d(cin, cout, 1, bias=False).eval()
    with torch.inference_mode():
        middle = depthwise(x)
    return {
        "standard": (standard, x),
        "depthwise": (depthwise, x),
        "pointwise": (pointwise, middle),
    }


def timed_runs(
    torch: Any, calls: dict[str, Callable[[Any], Any]], convs: Convs
) -> dict[str, Callable[[], object]]:
    """Each conv's call on its input, and the separable pair, in inference mode."""

    def run(call: Callable[[Any], Any], value: object) -> Callable[[], object]:
        def timed() -> object:
            with torch.inference_mode():
                return call(value)

        return timed

    runs = {name: run(calls[name], value) for name, (_, value) in convs.items()}
    image = convs["depthwise"][1]
    runs["separable"] = run(lambda value: calls["pointwise"](calls["depthwise"](value)), image)
    return runs


def torch_side(
    torch: Any, cin: int, cout: int, size: int, k: int
) -> dict[str, Callable[[], object]]:
    """The four kernels as PyTorch dispatches them (nn.Conv2d modules). Nothing else runs, so
    that ``--onednn``'s ONEDNN_VERBOSE lists only the kernels PyTorch itself picks."""
    convs = torch_convs(torch, cin, cout, size, k)
    return timed_runs(torch, {name: module for name, (module, _) in convs.items()}, convs)


def torch_sides(
    torch: Any, cin: int, cout: int, size: int, k: int
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]], dict[str, str]]:
    """The same four kernels twice: as PyTorch dispatches them (:func:`torch_side`), and as calls
    of oneDNN's conv itself (``aten.mkldnn_convolution``, what PyTorch calls when it hands a conv
    to oneDNN) on the same weights, checked to give the modules' results; and the backend
    PyTorch's dispatcher picks for each conv at the current thread count."""
    convs = torch_convs(torch, cin, cout, size, k)

    def onednn(module: Any) -> Callable[[object], object]:
        weight = module.weight.detach()
        arguments = (list(module.padding), list(module.stride), list(module.dilation))

        def call(value: object) -> object:
            return torch.ops.aten.mkldnn_convolution(value, weight, None, *arguments, module.groups)

        return call

    direct = {name: onednn(module) for name, (module, _) in convs.items()}
    with torch.inference_mode():  # the direct calls compute what the modules do
        for name, (module, value) in convs.items():
            if not torch.allclose(direct[name](value), module(value), rtol=1e-4, atol=1e-4):
                raise SystemExit(f"aten.mkldnn_convolution differs from nn.Conv2d ({name})")
    backends = {
        name: conv_backend(torch, value, m.weight, None, m.stride, m.padding, m.dilation, m.groups)
        or "?"
        for name, (m, value) in convs.items()
    }
    dispatched = timed_runs(torch, {name: module for name, (module, _) in convs.items()}, convs)
    return dispatched, timed_runs(torch, direct, convs), backends


def interleaved(
    sides: dict[str, dict[str, Callable[[], object]]],
    seconds: float,
    minimum: int,
    warm: bool,
    settle: float = 0.0,
) -> Medians:
    """Time every kernel of every side round-robin for ``seconds`` (at least ``minimum`` rounds),
    sleeping ``settle`` seconds before each side's burst."""
    if warm:
        for runs in sides.values():
            for call in runs.values():
                # Warm every kernel before timing any, for WARM_UP_SECONDS: oneDNN's first ~50
                # calls of a depthwise conv here take ~10x longer than later ones.
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
                if settle:
                    time.sleep(settle)
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
    return {s: {k: statistics.median(v) for k, v in t.items()} for s, t in times.items()}


def cpu_ticks() -> tuple[int, int]:
    """(busy ticks of the machine, ticks of this process) so far, from /proc (0s elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        with open("/proc/self/stat", encoding="ascii") as own:
            mine = own.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, int(mine[11]) + int(mine[12])  # utime + stime


def others_load(before: tuple[int, int], after: tuple[int, int], seconds: float) -> float:
    """Cores that other processes kept busy between two :func:`cpu_ticks` readings."""
    ticks = os.sysconf("SC_CLK_TCK")
    others = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, others / ticks / seconds) if seconds > 0 else 0.0


def wait_quiet(limit: float, threshold: float = 0.2) -> float:
    """Wait (up to ``limit`` s) for other processes to use under ``threshold`` cores; the load."""
    until = time.perf_counter() + limit
    while True:
        before, begin = cpu_ticks(), time.perf_counter()
        time.sleep(0.5)
        load = others_load(before, cpu_ticks(), time.perf_counter() - begin)
        if load < threshold or time.perf_counter() > until:
            return load


_HASHED = os.urandom(4 << 20)


def parallel_share() -> float:
    """How much of two CPUs two threads of this process get (1.0: a core each), by hashing."""
    import threading

    shares: list[float] = []

    def work() -> None:
        cpu, wall = time.thread_time(), time.perf_counter()
        for _ in range(4):
            hashlib.sha256(_HASHED).digest()
        shares.append((time.thread_time() - cpu) / (time.perf_counter() - wall))

    other = threading.Thread(target=work)
    other.start()
    work()
    other.join()
    return min(shares)


def machine() -> str:
    """CPU model, family/model/stepping, logical CPUs, caches and the load average (Linux)."""

    def read(path: str) -> str:
        try:
            return Path(path).read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            return ""

    fields: dict[str, str] = {}
    for line in read("/proc/cpuinfo").splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    letters = {"Data": "d", "Instruction": "i"}
    caches = []
    for index in range(8):
        base = f"/sys/devices/system/cpu/cpu0/cache/index{index}/"
        level, kind, size = (read(base + name) for name in ("level", "type", "size"))
        if level:
            caches.append(f"L{level}{letters.get(kind, '')} {size}")
    model = fields.get("model name") or platform.processor() or platform.machine()
    family = "/".join(fields.get(key, "?") for key in ("cpu family", "model", "stepping"))
    return (
        f"CPU {model} (family/model/stepping {family}), {os.cpu_count()} logical CPUs, "
        f"{len(os.sched_getaffinity(0))} usable; caches a core {', '.join(caches) or '?'}; "
        f"load average {' '.join(read('/proc/loadavg').split()[:3]) or '?'}"
    )


def theory(cin: int, cout: int, size: int, k: int) -> float:
    """Standard MACs / separable MACs of the shape."""
    pair = Conv2d(cin, cout, (k, k))
    source = Shape(cin, size, size)
    separable = pair.depthwise().cost(source).macs + pair.pointwise().cost(source).macs
    return pair.cost(source).macs / separable


def summarise(runs: list[Medians]) -> tuple[Medians, dict[str, float]]:
    """The median over runs of each side's kernel medians, and of each side's speedup."""
    sides = list(runs[0])
    median = {s: {k: statistics.median(r[s][k] for r in runs) for k in KERNELS} for s in sides}
    speedups = {
        s: statistics.median(r[s]["standard"] / r[s]["separable"] for r in runs) for s in sides
    }
    return median, speedups


def report(shape: Shape4, threads: int, engines: list[str], runs: list[Medians]) -> Row:
    """Print one (shape, threads)'s median-of-runs figures; return them for the closing table.

    Ours is set against two references: PyTorch as it dispatches (``torch``), and oneDNN's conv
    called for every kernel (``onednn``); they differ where PyTorch does not hand a conv to oneDNN
    (the 1x1 conv on one thread)."""
    cin, cout, size, k = shape
    median, speedups = summarise(runs)
    references = [side for side in ("torch", "onednn") if side in median]
    print(f"\n{cin}->{cout} @ {size}x{size} k{k}, {threads} thread(s), median of {len(runs)} runs")
    header = "".join(f" {side + ' ms':>9}" for side in median)
    header += "".join(f" {e + '/' + ref:>13}" for e in engines for ref in references)
    print(f"  {'kernel':<10}{header}")
    ratios: dict[str, dict[str, dict[str, float]]] = {
        ref: {e: {} for e in engines} for ref in references
    }
    for kernel in KERNELS:
        line = f"  {kernel:<10}" + "".join(f" {median[side][kernel] * 1e3:9.3f}" for side in median)
        for e in engines:
            for ref in references:
                ratios[ref][e][kernel] = median[e][kernel] / median[ref][kernel]
                line += f" {ratios[ref][e][kernel]:12.2f}x"
        if threads == 1 and kernel != "separable" and references:
            missed = [ref for ref in references if ratios[ref][engines[0]][kernel] > RATIO_GOAL]
            line += f"  MISSES 2x ({', '.join(missed)})" if missed else "  ok"
        print(line)
    line = f"  separable speedup: theory {theory(*shape):.2f}x"
    for side in median:
        line += f", {side} {speedups[side]:.2f}x"
    print(line)
    for ref in references:
        gaps = ", ".join(f"{e} {100 * (speedups[e] / speedups[ref] - 1):+.0f}%" for e in engines)
        gap = speedups[engines[0]] / speedups[ref] - 1
        flag = "ok" if abs(gap) <= SPEEDUP_GOAL else "MISSES 20%"
        print(f"  speedup against {ref}'s: {gaps}  {flag} ({engines[0]})")
    spread = {
        side: max(
            (max(r[side][k] for r in runs) - min(r[side][k] for r in runs)) / median[side][k]
            for k in KERNELS
        )
        for side in median
    }
    print(
        "  run-to-run spread (max-min)/median, worst kernel: "
        + ", ".join(f"{side} {100 * value:.0f}%" for side, value in spread.items())
    )
    if max(spread.values()) > NOISY_SPREAD:
        print(
            f"  noisy: a kernel's runs differ by more than {100 * NOISY_SPREAD:.0f}% of its "
            "median; for figures to compare, rerun with --wait 60 (a quiet machine), more "
            "--runs or --seconds, or pinned to cores (taskset -c 0 for one thread)"
        )
    return Row(shape, threads, ratios, speedups)


def markdown(rows: list[Row], engines: list[str]) -> None:
    """The README table, a line per threads, shape and engine: ours / PyTorch's time per kernel,
    ours / oneDNN's own 1x1 conv, and the separable speedups of ours, PyTorch's and oneDNN's."""
    print(
        "\n| threads | Cin, Cout, HW, k | engine | std | dw | pw | pw / oneDNN's "
        "| speedup ours / PyTorch / oneDNN |"
    )
    print("| --: | --- | --- | --: | --: | --: | --: | --: |")
    for row in rows:
        speedups = row.speedups
        shape = ", ".join(str(v) for v in row.shape)
        for engine in engines:
            r, direct = row.ratios["torch"][engine], row.ratios["onednn"][engine]
            ours = speedups[engine]
            torch_gap = 100 * (ours / speedups["torch"] - 1)
            onednn_gap = 100 * (ours / speedups["onednn"] - 1)
            print(
                f"| {row.threads} | {shape} | {engine} | {r['standard']:.2f}\u00d7 | "
                f"{r['depthwise']:.2f}\u00d7 | {r['pointwise']:.2f}\u00d7 | "
                f"{direct['pointwise']:.2f}\u00d7 | {ours:.2f} / {speedups['torch']:.2f} "
                f"({torch_gap:+.0f} %) / {speedups['onednn']:.2f} ({onednn_gap:+.0f} %) |"
            )


def describe_blas() -> str:
    """Which BLAS and which of its kernel paths NumPy runs, as threadpoolctl sees it."""
    from threadpoolctl import threadpool_info

    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        return "no BLAS found by threadpoolctl"
    pool = pools[0]
    coretype = {
        key: os.environ[key]
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        if key in os.environ
    }
    return (
        f"{pool.get('internal_api')} {pool.get('version')}, kernel path "
        f"{pool.get('architecture', '?')}, {pool.get('threading_layer')} threads"
        + (f"; set: {coretype}" if coretype else "; OPENBLAS_CORETYPE/L2_SIZE not set")
    )


def measure(
    threads: int,
    shapes: list[Shape4],
    engines: list[Engine],
    torch: Any,
    runs: int,
    seconds: float,
    minimum: int,
    quiet_wait: float = 0.0,
    settle: float = SETTLE_SECONDS,
) -> list[Row]:
    """Every shape on ``threads`` threads, ``runs`` times, the runs of all shapes interleaved."""
    if torch is not None:
        torch.set_num_threads(threads)
    settle = settle if threads > 1 else 0.0
    with threadpool_limits(limits=threads):
        sides: dict[Shape4, dict[str, dict[str, Callable[[], object]]]] = {}
        paths: dict[Shape4, dict[str, str]] = {}
        for shape in shapes:
            built = {e: numpy_side(*shape, e, threads) for e in engines}
            sides[shape] = {e: runs_ for e, (runs_, _) in built.items()}
            paths[shape] = {e: path for e, (_, path) in built.items()}
            if torch is not None:
                dispatched, onednn, backends = torch_sides(torch, *shape)
                sides[shape]["torch"], sides[shape]["onednn"] = dispatched, onednn
                paths[shape]["torch"] = ", ".join(f"{n} {b}" for n, b in backends.items())
        results: dict[Shape4, list[Medians]] = {shape: [] for shape in shapes}
        loads: list[float] = []
        shares: list[float] = []
        for run in range(runs):
            if quiet_wait:
                wait_quiet(quiet_wait)
            if threads > 1:
                time.sleep(settle)
                shares.append(parallel_share())
            before, begin = cpu_ticks(), time.perf_counter()
            for shape in shapes:
                results[shape].append(interleaved(sides[shape], seconds, minimum, run == 0, settle))
            loads.append(others_load(before, cpu_ticks(), time.perf_counter() - begin))
    print(
        f"\n{threads} thread(s): other processes kept "
        + ", ".join(f"{load:.2f}" for load in loads)
        + f" of {os.cpu_count()} cores busy during the {runs} runs"
        + (
            "; two threads of this process got "
            + ", ".join(f"{share:.2f}" for share in shares)
            + " of a CPU each just before them"
            if shares
            else ""
        )
        + (f"; {settle * 1e3:.0f} ms between the sides' bursts" if settle else "")
    )
    rows = []
    for shape in shapes:
        for engine, path in paths[shape].items():
            if engine == "torch":
                print(f"\n{shape}: PyTorch's conv dispatcher picks: {path}", end="")
            else:
                print(f"\n{shape}: dsc-calc depthwise ({engine}): {path}", end="")
        rows.append(report(shape, threads, list(engines), results[shape]))
    return rows


def onednn_paths(shapes: list[Shape4], thread_counts: list[int]) -> None:
    """Print which oneDNN implementation PyTorch ran for each conv (ONEDNN_VERBOSE, a subprocess).

    A conv that PyTorch does not hand to oneDNN prints nothing: on one thread that is the case for
    the 1x1 pointwise conv here, which runs PyTorch's own path instead of oneDNN's jit_1x1.
    """
    for threads in thread_counts:
        code = (
            "import sys, torch; torch.set_num_threads(int(sys.argv[1])); "
            "from bench_vs_torch import torch_side; "
            f"[f() for s in {shapes!r} for f in torch_side(torch, *s).values()]"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(threads)],
            capture_output=True,
            text=True,
            env={**os.environ, "ONEDNN_VERBOSE": "1"},
            cwd=os.path.dirname(os.path.abspath(__file__)),
            check=False,
        )
        seen = sorted(
            {
                f"{fields[6]} {fields[-2]}"
                for line in result.stdout.splitlines()
                if (fields := line.split(","))[3:6] == ["exec", "cpu", "convolution"]
            }
        )
        print(f"oneDNN kernels on {threads} thread(s): " + ("; ".join(seen) or "none seen"))


def main() -> int:
    if any(os.environ.get(key) != value for key, value in MALLOC_SETTINGS.items()):
        environment = {**os.environ, **MALLOC_SETTINGS}
        os.execve(sys.executable, [sys.executable, *sys.argv], environment)  # noqa: S606
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per shape and run")
    parser.add_argument(
        "--min-runs", type=int, default=5, help="rounds per shape and run, at least"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per shape; medians are taken")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument(
        "--onednn", action="store_true", help="print which oneDNN kernels PyTorch runs, then time"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="before each run, wait up to this many seconds for other processes to go quiet",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_SECONDS,
        help="on more than one thread, seconds between the two sides' bursts",
    )
    parser.add_argument(
        "--shape", action="append", help="cin,cout,size,k (repeatable); default: the issue's four"
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
    shapes: list[Shape4] = (
        [tuple(int(v) for v in s.split(",")) for s in args.shape]  # type: ignore[misc]
        if args.shape
        else SHAPES
    )
    thread_counts = [int(t) for t in args.threads.split(",")]
    torch: Any = None
    try:
        import torch
    except ImportError:
        print("torch is not installed: printing NumPy times only", file=sys.stderr)
    print(machine())
    simd = np.show_config(mode="dicts").get("SIMD Extensions", {})
    print(
        f"Python {platform.python_version()}; numpy {np.__version__} (SIMD baseline "
        f"{'/'.join(simd.get('baseline', ['?']))}, found {'/'.join(simd.get('found', ['?']))}); "
        f"BLAS: {describe_blas()}; {MALLOC_SETTINGS}"
    )
    if torch is not None:
        onednn = [line.strip() for line in torch.__config__.parallel_info().splitlines()]
        print(
            f"torch {torch.__version__}; mkldnn {torch.backends.mkldnn.is_available()} "
            f"({next((line for line in onednn if 'DNN' in line), '?')}); "
            f"CPU capability {torch.backends.cpu.get_cpu_capability()}; "
            f"{next((line for line in onednn if 'parallel backend' in line), '?')}"
        )
    if torch is not None and args.onednn:
        onednn_paths(shapes, thread_counts)
    rows: list[Row] = []
    for threads in thread_counts:
        rows += measure(
            threads,
            shapes,
            list(engines),
            torch,
            args.runs,
            args.seconds,
            args.min_runs,
            args.wait,
            args.settle,
        )
    if torch is not None:
        markdown(rows, list(engines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
