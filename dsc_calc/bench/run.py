"""The timing engine of ``dsc-calc bench``: how much of the theoretical saving is real on this CPU.

Pure: no Typer, no Rich, no printing. :func:`run_bench` returns a plain-data :class:`BenchReport`
(``to_dict()`` / ``tables()``). NumPy and threadpoolctl are imported inside the functions that use
them, so importing this module is cheap.

How it measures (see the README): every kernel runs once before any is timed (fresh multi-MB
buffers are slower until the allocator has recycled them); inputs and weights come from a fixed
seed and are made outside the timed region; the kernels are then timed round-robin (interleaved, so
a burst of load from another process hits all of them alike) until each has ``repeat`` samples and
``min_time`` seconds, or the ``budget`` for the whole run is spent. The median is reported, with
the minimum and the spread (interquartile range / median).
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsc_calc.cost.conv import Conv2d, LayerComparison, Shape, compare
from dsc_calc.errors import DscCalcError
from dsc_calc.memory.traffic import MachineProfile, Traffic, arithmetic_intensity, conv_traffic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dsc_calc.choices import Engine

#: The kernels timed for one layer, in table order.
KERNELS = ("standard", "depthwise", "pointwise", "separable")

#: Default limit on the memory one run may allocate (inputs, buffers, machine probes).
DEFAULT_MEMORY_LIMIT = 2 * 2**30

#: A deliberately pessimistic rate used to refuse, before allocating anything, a layer whose
#: single warm-up run alone would overrun the budget.
PESSIMISTIC_GFLOPS = 5.0

#: Array sizes of the machine probes: a square GEMM and a STREAM-like copy well past the caches.
GEMM_SIZE = 1024
COPY_BYTES = 64 * 2**20

#: Seconds of timed runs wanted per kernel of one layer, and per layer of a network, by default.
LAYER_MIN_TIME = 0.2
NETWORK_MIN_TIME = 0.05


@dataclass(frozen=True, slots=True)
class BenchSettings:
    """How a run is timed and what it may use; made once (from the CLI's options) and passed down.

    ``min_time`` None is the mode's own default: :data:`LAYER_MIN_TIME` per kernel of one layer,
    :data:`NETWORK_MIN_TIME` per layer of a network. ``engine`` picks the depthwise kernel
    (:func:`dsc_calc.bench.kernels.resolve_engine`).
    """

    threads: int = 1
    budget: float = 10.0
    min_time: float | None = None
    repeat: int = 5
    seed: int = 0
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    engine: Engine = "auto"

    def min_seconds(self, default: float) -> float:
        """``min_time``, or the mode's ``default`` when it is not given."""
        return default if self.min_time is None else self.min_time

    def check(self, min_time: float) -> None:
        """Refuse settings out of range, naming the option; ``min_time`` is the run's own."""
        threads, budget, repeat, seed = self.threads, self.budget, self.repeat, self.seed
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024:
            raise DscCalcError("threads", f"must be an integer in 1..1024, got {threads!r}")
        if not 0 < budget <= 3600:
            raise DscCalcError(
                "budget", f"must be more than 0 and at most 3600 seconds, got {budget}"
            )
        if not 0 <= min_time <= budget:
            raise DscCalcError("min_time", f"must be in 0..--budget ({budget:g} s), got {min_time}")
        if not 1 <= repeat <= 100_000:
            raise DscCalcError("repeat", f"must be in 1..100000, got {repeat}")
        if not 0 <= seed < 2**63:
            raise DscCalcError("seed", f"must be a non-negative integer below 2**63, got {seed}")


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall-clock samples of one kernel, in seconds, and the process CPU time of each run."""

    samples: tuple[float, ...]
    cpu: tuple[float, ...] = ()

    @property
    def cpu_median(self) -> float:
        """Median CPU time of the process per run (0 when not recorded)."""
        return statistics.median(self.cpu) if self.cpu else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range / median (0 with fewer than 4 samples to split)."""
        if len(self.samples) < 4:
            return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0
        q1, _, q3 = statistics.quantiles(self.samples, n=4)
        return (q3 - q1) / self.median if self.median else 0.0


@dataclass(frozen=True, slots=True)
class KernelResult:
    """One timed kernel: what it computes, what it moves, how long it took."""

    name: str
    layer: str
    macs: int
    flops: int
    traffic: Traffic
    timing: Timing
    roofline: tuple[float, str] | None = None

    @property
    def gflops(self) -> float:
        median = self.timing.median
        return self.flops / median / 1e9 if median > 0 else 0.0

    @property
    def intensity(self) -> float:
        return arithmetic_intensity(self.flops, self.traffic.access_cost)

    @property
    def percent_of_bound(self) -> float | None:
        """Roofline time / measured median, as a percentage (100 = at the roof)."""
        if self.roofline is None:
            return None
        return 100.0 * self.roofline[0] / self.timing.median

    def to_dict(self) -> dict[str, object]:
        roofline: dict[str, object] | None = None
        if self.roofline is not None:
            roofline = {
                "time_s": self.roofline[0],
                "bound": self.roofline[1],
                "percent_of_bound": self.percent_of_bound,
            }
        return {
            "layer": self.layer,
            "median_s": self.timing.median,
            "min_s": self.timing.minimum,
            "spread": self.timing.spread,
            "samples": len(self.timing.samples),
            "cpu_median_s": self.timing.cpu_median,
            "macs": self.macs,
            "flops": self.flops,
            "gflops": self.gflops,
            "bytes": self.traffic.access_cost,
            "memory": self.traffic.to_dict(),
            "intensity": self.intensity,
            "roofline": roofline,
        }


@dataclass(frozen=True, slots=True)
class MachineMeasurement:
    """This machine's measured GEMM peak and copy bandwidth, and the roofline they make."""

    profile: MachineProfile
    gemm: dict[str, float | int]
    copy: dict[str, float | int]

    def profile_document(self, blas: dict[str, object], threads: int) -> dict[str, object]:
        """The ``--save-profile`` JSON: name, peak_gflops, bandwidth_gbs, source, details."""
        return {
            "name": self.profile.name,
            "peak_gflops": self.profile.peak_gflops,
            "bandwidth_gbs": self.profile.bandwidth_gbs,
            "source": self.profile.source,
            "details": {
                "gemm": self.gemm,
                "copy": self.copy,
                "threads": threads,
                "blas": blas,
                "machine": platform.machine(),
                "python": platform.python_version(),
            },
        }


@dataclass(frozen=True, slots=True)
class RunInfo:
    """How a run was made: threads, BLAS, NumPy, depthwise engine, seed, budget, wall time."""

    threads: int
    blas: dict[str, object]
    numpy_version: str
    engine: str
    seed: int
    budget_s: float
    elapsed_s: float

    def machine_dict(self) -> dict[str, object]:
        """The ``machine`` keys both bench documents share."""
        return {"threads": self.threads, "blas": self.blas, "numpy": self.numpy_version}

    def settings_dict(self, **extra: object) -> dict[str, object]:
        """The ``settings`` document, with ``extra`` keys after the engine."""
        return {
            "dtype": "fp32",
            "layout": "NHWC",
            "engine": self.engine,
            **extra,
            "seed": self.seed,
            "budget_s": self.budget_s,
            "elapsed_s": self.elapsed_s,
        }


@dataclass(frozen=True, slots=True)
class TorchTiming:
    """PyTorch's own kernels (oneDNN on x86) timed beside ours in the same run (``--vs-torch``)."""

    version: str
    threads: int
    mkldnn: bool
    kernels: dict[str, Timing]

    @property
    def speedup_measured(self) -> float:
        """PyTorch's standard time / its separable pair time."""
        return self.kernels["standard"].median / self.kernels["separable"].median

    @property
    def speedup_parts(self) -> float:
        """PyTorch's standard time / (its depthwise time + its pointwise time)."""
        parts = self.kernels["depthwise"].median + self.kernels["pointwise"].median
        return self.kernels["standard"].median / parts


@dataclass(frozen=True, slots=True)
class BenchReport:
    """Timings of a standard conv, its depthwise and pointwise parts and the separable pair."""

    comparison: LayerComparison
    kernels: dict[str, KernelResult]
    run: RunInfo
    machine: MachineMeasurement | None = None
    notes: tuple[str, ...] = field(default=())
    torch: TorchTiming | None = None

    @property
    def speedup_measured(self) -> float:
        """Standard time / separable pair time (the pair timed as one run)."""
        return self.kernels["standard"].timing.median / self.kernels["separable"].timing.median

    @property
    def speedup_parts(self) -> float:
        """Standard time / (depthwise time + pointwise time), each timed alone."""
        parts = self.kernels["depthwise"].timing.median + self.kernels["pointwise"].timing.median
        return self.kernels["standard"].timing.median / parts

    @property
    def speedup_theoretical(self) -> float:
        """Standard MACs / separable MACs."""
        return float(1 / self.comparison.macs_ratio)

    @property
    def carried_over(self) -> float:
        """Measured speedup / theoretical speedup: the share of the MAC saving that is real."""
        return self.speedup_measured / self.speedup_theoretical

    def to_dict(self) -> dict[str, object]:
        full = self.comparison.to_dict()
        machine: dict[str, object] = {
            **self.run.machine_dict(),
            "profile": None,
            "gemm": None,
            "copy": None,
        }
        if self.machine is not None:
            machine.update(
                profile={
                    **self.machine.profile.to_dict(),
                    "ridge_intensity": self.machine.profile.ridge_intensity,
                },
                gemm=self.machine.gemm,
                copy=self.machine.copy,
            )
        return {
            "input": full["input"],
            "output": full["output"],
            "config": full["config"],
            "kernels": {name: result.to_dict() for name, result in self.kernels.items()},
            "speedup": {
                "measured": self.speedup_measured,
                "measured_parts": self.speedup_parts,
                "theoretical": self.speedup_theoretical,
                "carried_over": self.carried_over,
            },
            "machine": machine,
            "settings": self.run.settings_dict(),
            "notes": list(self.notes),
            "torch": self._torch_dict(),
        }

    def _torch_dict(self) -> dict[str, object] | None:
        """The ``torch`` key: PyTorch's timings, our / its ratios, both speedups (or null)."""
        if self.torch is None:
            return None
        theirs = self.torch
        return {
            "version": theirs.version,
            "threads": theirs.threads,
            "mkldnn": theirs.mkldnn,
            "kernels": {
                name: {
                    "median_s": timing.median,
                    "min_s": timing.minimum,
                    "spread": timing.spread,
                    "samples": len(timing.samples),
                    "ratio": self.kernels[name].timing.median / timing.median,
                }
                for name, timing in theirs.kernels.items()
            },
            "speedup": {
                "measured": theirs.speedup_measured,
                "measured_parts": theirs.speedup_parts,
            },
            "speedup_gap": self.speedup_measured / theirs.speedup_measured - 1,
        }


def blas_info() -> dict[str, object]:
    """The BLAS library NumPy uses: API, version, thread count, threading layer."""
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return {
                key: pool.get(key)
                for key in ("internal_api", "version", "num_threads", "threading_layer")
            }
    return {"internal_api": "unknown", "version": None, "num_threads": None}


def estimate_memory(conv: Conv2d, source: Shape, batch: int, *, machine: bool) -> int:
    """Bytes a run allocates: input, weights, kernel buffers, and the machine probes if asked."""
    from dsc_calc.bench.kernels import ITEM, estimate_workspace_bytes

    depthwise = conv.depthwise()
    middle = depthwise.output_shape(source)
    total = ITEM * batch * (source.numel + middle.numel)  # the inputs of the kernels
    total += ITEM * (conv.params + depthwise.params + conv.pointwise().params)  # raw weights
    total += estimate_workspace_bytes(conv, source, batch)
    total += estimate_workspace_bytes(depthwise, source, batch)
    total += estimate_workspace_bytes(conv.pointwise(), middle, batch)
    if machine:
        total += 3 * ITEM * GEMM_SIZE * GEMM_SIZE + 2 * COPY_BYTES
    return total


def run_bench(
    conv: Conv2d,
    source: Shape,
    batch: int = 1,
    settings: BenchSettings | None = None,
    *,
    machine: bool = False,
    progress: Callable[[str, float], None] | None = None,
    vs_torch: bool = False,
) -> BenchReport:
    """Time ``conv`` and its depthwise separable replacement on ``batch`` samples of ``source``.

    ``settings.engine`` ``auto`` takes the numba depthwise kernel when numba is installed; its
    JIT compile falls in the warm-up run. ``machine`` also measures this machine's roofline.
    ``vs_torch`` also times PyTorch's kernels on the same layer, interleaved with ours (torch is
    imported here, only then; without it the run is refused before anything is timed).
    """
    from threadpoolctl import threadpool_limits

    from dsc_calc.bench.kernels import resolve_engine

    settings = settings or BenchSettings()
    engine = resolve_engine(settings.engine)
    threads, budget, repeat = settings.threads, settings.budget, settings.repeat
    min_time = settings.min_seconds(LAYER_MIN_TIME)

    comparison = compare(conv, source, batch)
    _check_limits(comparison, settings, min_time, machine=machine, vs_torch=vs_torch)
    torch = import_torch() if vs_torch else None  # before the clock: importing is not the run
    if torch is not None:
        _keep_freed_memory()
    started = time.perf_counter()
    deadline = started + budget
    report = _step(progress)
    with threadpool_limits(limits=threads):
        report("preparing inputs and buffers", 0.0)
        runs, layers, x, drawn = _single_layer_runs(
            conv, source, batch, settings.seed, engine, threads
        )
        for position, name in enumerate(KERNELS):
            report(f"warm-up: {name}", 0.05 * position / len(KERNELS))
            runs[name]()
        torch_threads = 0
        if torch is not None:
            report("warm-up: PyTorch", 0.05)
            torch_threads = torch.get_num_threads()
            torch.set_num_threads(threads)
            theirs = torch_runs(torch, layers, source, x, drawn)
            _warm_up(theirs, min(TORCH_WARM_UP_S, 0.1 * budget))
            runs.update({f"torch {name}": call for name, call in theirs.items()})
        if time.perf_counter() > deadline:
            raise DscCalcError(
                "budget",
                f"the warm-up run alone took {time.perf_counter() - started:.2f} s, more than the "
                f"budget of {budget:g} s; raise --budget or time a smaller layer",
            )
        probe: MachineMeasurement | None = None
        if machine:
            probe_deadline = time.perf_counter() + 0.25 * (deadline - time.perf_counter())
            report("measuring the machine: GEMM peak and copy bandwidth", 0.05)
            probe = measure_machine(threads, probe_deadline)
        try:
            samples, cpu = _interleave(runs, deadline, min_time, repeat, report)
        finally:
            if torch is not None:
                torch.set_num_threads(torch_threads)
        blas = blas_info()
    kernels = _results(comparison, samples, cpu, probe)
    torch_timing = None
    if torch is not None:
        torch_timing = TorchTiming(
            str(torch.__version__),
            threads,
            bool(torch.backends.mkldnn.is_available()),
            {
                name: Timing(tuple(samples[f"torch {name}"]), tuple(cpu[f"torch {name}"]))
                for name in KERNELS
            },
        )
    notes = _run_notes(
        [name for name in runs if len(samples[name]) < repeat], repeat, threads, engine
    )
    notes.extend(_warnings(kernels, comparison, threads, torch_timing))
    report("done", 1.0)
    return BenchReport(
        comparison=comparison,
        kernels=kernels,
        run=_run_info(settings, engine, blas, started),
        machine=probe,
        notes=tuple(notes),
        torch=torch_timing,
    )


def _run_info(
    settings: BenchSettings, engine: str, blas: dict[str, object], started: float
) -> RunInfo:
    """How the run that began at ``started`` (``perf_counter``) was made."""
    import numpy as np

    elapsed = time.perf_counter() - started
    return RunInfo(
        settings.threads, blas, np.__version__, engine, settings.seed, settings.budget, elapsed
    )


def _single_layer_runs(
    conv: Conv2d, source: Shape, batch: int, seed: int, engine: Engine, threads: int
) -> tuple[dict[str, Callable[[], object]], tuple[Conv2d, ...], Any, list[tuple[Any, Any]]]:
    """Our four kernels ready to time, the layers, the input and their (weight, bias)."""
    import numpy as np

    from dsc_calc.bench.kernels import SeparablePlan, plan_conv

    rng = np.random.default_rng(seed)

    def weights(layer: Conv2d) -> tuple[Any, Any]:
        shape = (layer.out_channels, layer.in_channels // layer.groups, *layer.kernel)
        fan_in = shape[1] * shape[2] * shape[3]
        w = rng.standard_normal(shape, dtype=np.float32) / np.float32(fan_in**0.5)
        b = rng.standard_normal(layer.out_channels, dtype=np.float32) if layer.bias else None
        return w, b

    x = rng.standard_normal((batch, source.height, source.width, source.channels), np.float32)
    depthwise_conv = conv.depthwise()
    middle = depthwise_conv.output_shape(source)
    layers = (conv, depthwise_conv, conv.pointwise())
    drawn = [weights(layer) for layer in layers]
    standard = plan_conv(conv, source, batch, *drawn[0])
    depthwise = plan_conv(depthwise_conv, source, batch, *drawn[1], engine, threads)
    pointwise = plan_conv(conv.pointwise(), middle, batch, *drawn[2])
    separable = SeparablePlan(depthwise, pointwise)
    middle_input = depthwise(x).copy()
    runs: dict[str, Callable[[], object]] = {
        "standard": lambda: standard(x),
        "depthwise": lambda: depthwise(x),
        "pointwise": lambda: pointwise(middle_input),
        "separable": lambda: separable(x),
    }
    return runs, layers, x, drawn


def _run_notes(short: list[str], repeat: int, threads: int, engine: str) -> list[str]:
    """Notes on how the run went: kernels short of ``repeat`` runs, what the threads reached."""
    notes: list[str] = []
    if short:
        notes.append(
            f"The budget ran out before {', '.join(short)} reached {repeat} runs; "
            "raise --budget for steadier figures."
        )
    if threads > 1 and engine == "numpy":
        notes.append(
            f"{threads} threads reach the BLAS GEMMs and the NumPy depthwise kernel (its row "
            "blocks are shared out); the im2col copies run on one thread."
        )
    elif threads > 1:
        notes.append(
            f"{threads} threads reach the BLAS GEMMs only: the depthwise kernel ({engine}) and "
            "the im2col copies run on one thread."
        )
    return notes


def _warm_up(runs: dict[str, Callable[[], object]], seconds: float) -> None:
    """Call each of ``runs`` TORCH_WARM_UP_RUNS times, all of them within ``seconds`` at most."""
    until = time.perf_counter() + seconds
    for call in runs.values():
        for _ in range(TORCH_WARM_UP_RUNS):
            call()
            if time.perf_counter() > until:
                break


#: PyTorch's kernels are warmed by this many calls (or TORCH_WARM_UP_S, or a tenth of the budget,
#: whichever ends first) before timing: oneDNN's first calls of a depthwise conv are ~10x slower.
TORCH_WARM_UP_RUNS = 50
TORCH_WARM_UP_S = 0.5


def import_torch() -> Any:
    """PyTorch, imported now (never at start-up), or a one-line error saying how to get it."""
    try:
        import torch
    except ImportError:
        raise DscCalcError(
            "vs_torch",
            "needs PyTorch, which is not installed: pip install torch (the CPU build is enough), "
            "or drop --vs-torch",
        ) from None
    return torch


def _keep_freed_memory() -> None:
    """Tell glibc to keep freed multi-MB blocks instead of returning them to the OS.

    PyTorch allocates every output afresh (our plans preallocate); with glibc's default
    thresholds each such block is unmapped on free and page-faulted back on the next call, which
    made PyTorch's kernels up to ~10x slower here. A framework's caching allocator avoids that, so
    this is the fair setting for the side that allocates. Elsewhere than glibc: nothing to do.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # pragma: no cover - not glibc
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 2**30)
    mallopt(m_trim_threshold, 2**31 - 1)


def torch_runs(
    torch: Any, layers: Sequence[Conv2d], source: Shape, x: Any, drawn: Sequence[tuple[Any, Any]]
) -> dict[str, Callable[[], object]]:
    """PyTorch's four kernels on the same weights and input as ours: NCHW, inference mode.

    ``layers`` is (standard, depthwise, pointwise) and ``drawn`` their (weight, bias). Symmetric
    padding goes to conv2d itself; an asymmetric one ("same" with an even kernel) is applied to
    the input once, outside the timed region.
    """
    import numpy as np

    functional = torch.nn.functional
    standard_conv = layers[0]
    (top, bottom), (left, right) = standard_conv.padding_sides(source.height, source.width)
    image = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    padding: tuple[int, int] = (top, left)
    if (top, left) != (bottom, right):
        image = functional.pad(image, (left, right, top, bottom))
        padding = (0, 0)
    tensors = [(torch.from_numpy(w), None if b is None else torch.from_numpy(b)) for w, b in drawn]

    def conv(index: int, value: Any) -> Any:
        layer = layers[index]
        weight, bias = tensors[index]
        pad = padding if index < 2 else (0, 0)
        return functional.conv2d(
            value, weight, bias, layer.stride, pad, layer.dilation, layer.groups
        )

    with torch.inference_mode():
        middle = conv(1, image)

    def run(call: Callable[[], Any]) -> Callable[[], object]:
        def timed() -> object:
            with torch.inference_mode():
                return call()

        return timed

    return {
        "standard": run(lambda: conv(0, image)),
        "depthwise": run(lambda: conv(1, image)),
        "pointwise": run(lambda: conv(2, middle)),
        "separable": run(lambda: conv(2, conv(1, image))),
    }


def _results(
    comparison: LayerComparison,
    samples: dict[str, list[float]],
    cpu: dict[str, list[float]],
    probe: MachineMeasurement | None,
) -> dict[str, KernelResult]:
    """Each kernel's work, traffic, timing and (with a machine profile) roofline prediction."""
    conv, source, batch = comparison.conv, comparison.input, comparison.batch
    depthwise_conv = conv.depthwise()
    middle = depthwise_conv.output_shape(source)
    costs = {
        "standard": (conv, comparison.standard, conv_traffic(conv, source, batch=batch)),
        "depthwise": (
            depthwise_conv,
            comparison.depthwise,
            conv_traffic(depthwise_conv, source, batch=batch),
        ),
        "pointwise": (
            conv.pointwise(),
            comparison.pointwise,
            conv_traffic(conv.pointwise(), middle, batch=batch),
        ),
    }
    kernels: dict[str, KernelResult] = {}
    for name in KERNELS:
        if name == "separable":
            traffic = costs["depthwise"][2] + costs["pointwise"][2]
            cost = comparison.separable
            label = "depthwise then pointwise"
            roofline = _pair_roofline(probe, costs) if probe else None
        else:
            layer, cost, traffic = costs[name]
            label = layer.describe()
            roofline = probe.profile.predict(cost.flops, traffic.access_cost) if probe else None
        kernels[name] = KernelResult(
            name,
            label,
            cost.macs,
            cost.flops,
            traffic,
            Timing(tuple(samples[name]), tuple(cpu[name])),
            roofline,
        )
    return kernels


#: A spread (IQR / median) above this marks a kernel's figures as noisy in the notes.
NOISY_SPREAD = 0.25

#: Wall time above this multiple of the CPU time means the process waited for a core.
DESCHEDULED = 1.25


def _warnings(
    kernels: dict[str, KernelResult],
    comparison: LayerComparison,
    threads: int = 1,
    torch: TorchTiming | None = None,
) -> list[str]:
    """Notes on figures a reader should not take at face value."""
    notes: list[str] = _descheduled(list(kernels.values()), threads)
    spreads = [(k.name, k.timing.spread) for k in kernels.values()]
    if torch is not None:
        spreads += [(f"PyTorch {name}", t.spread) for name, t in torch.kernels.items()]
    noisy = [f"{name} {spread:.2f}" for name, spread in spreads if spread > NOISY_SPREAD]
    if noisy:
        notes.append(
            f"Noisy timings (spread {', '.join(noisy)}): another process was probably busy, "
            "and the speedups"
            + (" and the comparison with PyTorch" if torch is not None else "")
            + " are as noisy as their noisiest kernel. Time on a quiet machine, raise --budget "
            "(and --min-time) for more runs, or pin the run to one core: taskset -c 1 "
            "dsc-calc bench \u2026"
        )
    measured = kernels["standard"].timing.median / kernels["separable"].timing.median
    if measured > float(1 / comparison.macs_ratio):
        notes.append(
            "The measured speedup exceeds the MAC ratio, which no kernel can earn: read it as "
            "timing noise or the standard conv running below its usual rate."
        )
    above = [k.name for k in kernels.values() if (k.percent_of_bound or 0.0) > 100.0]
    if above:
        notes.append(
            f"{', '.join(above)} beat the roofline: its data stayed in cache (the roofline "
            "assumes DRAM bandwidth) or the machine probes ran under load."
        )
    return notes


def _descheduled(results: Sequence[KernelResult | NetworkLayerTiming], threads: int) -> list[str]:
    """A note naming what spent much of its wall time off the CPU (meaningful for one thread)."""
    if threads != 1:
        return []
    waiting = [
        f"{result.name} {100 * result.timing.cpu_median / result.timing.median:.0f}%"
        for result in results
        if result.timing.cpu_median
        and result.timing.median > DESCHEDULED * result.timing.cpu_median
    ]
    if not waiting:
        return []
    return [
        f"Other processes took the CPU: share of the wall time spent computing: "
        f"{', '.join(waiting)}; the medians of those kernels are inflated."
    ]


def _step(progress: Callable[[str, float], None] | None) -> Callable[[str, float], None]:
    def report(text: str, fraction: float) -> None:
        if progress is not None:
            progress(text, min(1.0, max(0.0, fraction)))

    return report


def _check_limits(
    comparison: LayerComparison,
    settings: BenchSettings,
    min_time: float,
    *,
    machine: bool,
    vs_torch: bool,
) -> None:
    """Refuse bad settings, and layers too big for the memory limit or the budget, up front."""
    settings.check(min_time)
    memory_limit, budget = settings.memory_limit, settings.budget
    _check_stride(comparison.conv, "stride")
    weights = 4 * comparison.conv.params  # float32; a floor of the estimate, which walks taps
    needed = (
        weights
        if weights > memory_limit
        else estimate_memory(comparison.conv, comparison.input, comparison.batch, machine=machine)
    )
    if vs_torch:  # PyTorch's outputs, about ours without the im2col buffer; counted as ours
        needed *= 2
    if needed > memory_limit:
        raise DscCalcError(
            "max_memory",
            f"this run needs about {needed / 2**20:,.0f} MiB (input, weights, im2col and output "
            f"buffers), more than the limit of {memory_limit / 2**20:,.0f} MiB; time a smaller "
            "layer (--hw, --cin, --batch) or raise --max-memory",
        )
    flops = comparison.standard.flops + 2 * comparison.separable.flops
    if vs_torch:  # PyTorch's four kernels are warmed up too
        flops *= 2
    pessimistic = flops / (PESSIMISTIC_GFLOPS * 1e9)
    if pessimistic > budget:
        raise DscCalcError(
            "budget",
            f"one warm-up run of the four kernels is {flops / 1e9:,.1f} GFLOP, which may take up "
            f"to {pessimistic:,.1f} s, more than the budget of {budget:g} s; raise --budget or "
            "time a smaller layer",
        )


#: The most stride phases (sh * sw) a strided depthwise run splits its input into: 64 x 64.
#: Checked before any estimate, because grouping the taps by phase visits every phase.
MAX_STRIDE_PHASES = 64 * 64


def _check_stride(conv: Conv2d, where: str) -> None:
    """Refuse a stride whose sh * sw phases the depthwise kernel could not split in time."""
    sh, sw = conv.stride
    if sh * sw > MAX_STRIDE_PHASES:
        raise DscCalcError(
            where,
            f"stride {sh}x{sw} splits the input into {sh * sw:,} phases; bench times at most "
            f"{MAX_STRIDE_PHASES:,} (stride 64x64); count such a layer with `dsc-calc layer`",
        )


def _interleave(
    runs: dict[str, Callable[[], object]],
    deadline: float,
    min_time: float,
    repeat: int,
    report: Callable[[str, float], None],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time the kernels round-robin until each has ``repeat`` runs and ``min_time`` s, or time's up.

    A kernel is only started when its last run fits before the deadline, so the budget holds; every
    kernel gets at least one timed run if the warm-up left any time at all.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    totals = dict.fromkeys(runs, 0.0)  # running sums: re-summing every round was quadratic
    cpu_clock = time.process_time
    start = time.perf_counter()
    clock = time.perf_counter
    while True:
        pending = [
            name
            for name, taken in samples.items()
            if len(taken) < repeat or totals[name] < min_time
        ]
        if not pending:
            break
        ran = False
        for name in pending:
            taken = samples[name]
            expected = taken[-1] if taken else 0.0
            if taken and clock() + expected > deadline:
                continue
            begin, cpu_begin = clock(), cpu_clock()
            runs[name]()
            taken.append(clock() - begin)
            cpu[name].append(cpu_clock() - cpu_begin)
            totals[name] += taken[-1]
            ran = True
        if not ran:
            break
        by_runs = min(min(1.0, len(taken) / repeat) for taken in samples.values())
        by_time = min(min(1.0, total / min_time) if min_time else 1.0 for total in totals.values())
        by_deadline = (clock() - start) / max(deadline - start, 1e-9)
        report("timing (interleaved)", 0.1 + 0.9 * max(min(by_runs, by_time), by_deadline))
    return samples, cpu


def _pair_roofline(
    probe: MachineMeasurement, costs: dict[str, tuple[Conv2d, Any, Traffic]]
) -> tuple[float, str]:
    """Roofline of the pair: the sum of its parts' times; the bound names each part's."""
    total = 0.0
    bounds: list[str] = []
    for name in ("depthwise", "pointwise"):
        _, cost, traffic = costs[name]
        seconds, bound = probe.profile.predict(cost.flops, traffic.access_cost)
        total += seconds
        bounds.append(bound)
    return total, bounds[0] if bounds[0] == bounds[1] else f"{bounds[0]} + {bounds[1]}"


def measure_machine(threads: int, deadline: float) -> MachineMeasurement:
    """This machine's float32 GEMM peak and STREAM-like copy bandwidth (best of several runs)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((GEMM_SIZE, GEMM_SIZE), dtype=np.float32)
    b = rng.standard_normal((GEMM_SIZE, GEMM_SIZE), dtype=np.float32)
    c = np.empty((GEMM_SIZE, GEMM_SIZE), dtype=np.float32)
    gemm_times = _best_of(lambda: np.matmul(a, b, out=c), deadline, runs=5, share=0.6)
    gemm_flops = 2 * GEMM_SIZE**3
    source = np.ones(COPY_BYTES // 4, dtype=np.float32)
    target = np.empty_like(source)
    copy_times = _best_of(lambda: np.copyto(target, source), deadline, runs=10, share=1.0)
    peak = gemm_flops / min(gemm_times) / 1e9
    bandwidth = 2 * COPY_BYTES / min(copy_times) / 1e9
    profile = MachineProfile(
        name=f"{platform.machine() or 'this machine'} ({threads} thread(s), measured)",
        peak_gflops=peak,
        bandwidth_gbs=bandwidth,
        source=(
            f"dsc-calc bench --machine on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"float32 GEMM {GEMM_SIZE}\u00b3 and a {COPY_BYTES // 2**20} MiB copy"
        ),
    )
    return MachineMeasurement(
        profile,
        gemm={
            "m": GEMM_SIZE,
            "n": GEMM_SIZE,
            "k": GEMM_SIZE,
            "flops": gemm_flops,
            "best_s": min(gemm_times),
            "median_s": statistics.median(gemm_times),
            "runs": len(gemm_times),
            "gflops": peak,
        },
        copy={
            "bytes": 2 * COPY_BYTES,
            "best_s": min(copy_times),
            "median_s": statistics.median(copy_times),
            "runs": len(copy_times),
            "gbs": bandwidth,
        },
    )


def _best_of(
    run: Callable[[], object], deadline: float, *, runs: int, share: float
) -> Sequence[float]:
    """Time ``run`` once to warm it, then up to ``runs`` times within ``share`` of the time left."""
    run()
    stop = time.perf_counter() + share * max(deadline - time.perf_counter(), 0.0)
    times: list[float] = []
    while len(times) < runs:
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
        if time.perf_counter() + times[-1] > stop:
            break
    return times


@dataclass(frozen=True, slots=True)
class NetworkLayerTiming:
    """One conv layer of a network, timed."""

    name: str
    conv: Conv2d
    input: Shape
    macs: int
    flops: int
    timing: Timing


@dataclass(frozen=True, slots=True)
class NetworkBenchReport:
    """Every conv layer of a network timed: where the time goes beside where the MACs go."""

    layers: tuple[NetworkLayerTiming, ...]
    batch: int
    run: RunInfo
    notes: tuple[str, ...] = ()

    @property
    def total_time(self) -> float:
        """Sum of the layers' median times."""
        return sum(layer.timing.median for layer in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def to_dict(self) -> dict[str, object]:
        total_time, total_macs = self.total_time, self.total_macs
        return {
            "layers": [
                {
                    "name": layer.name,
                    "layer": layer.conv.describe(),
                    "input": layer.input.to_dict(),
                    "median_s": layer.timing.median,
                    "min_s": layer.timing.minimum,
                    "spread": layer.timing.spread,
                    "samples": len(layer.timing.samples),
                    "cpu_median_s": layer.timing.cpu_median,
                    "macs": layer.macs,
                    "flops": layer.flops,
                    "gflops": layer.flops / layer.timing.median / 1e9
                    if layer.timing.median > 0
                    else 0.0,
                    "time_share": layer.timing.median / total_time if total_time else 0.0,
                    "mac_share": layer.macs / total_macs if total_macs else 0.0,
                }
                for layer in self.layers
            ],
            "total": {"median_s": total_time, "macs": total_macs},
            "machine": self.run.machine_dict(),
            "settings": self.run.settings_dict(batch=self.batch),
            "notes": list(self.notes),
        }


def run_network_bench(
    layers: Sequence[tuple[str, Conv2d, Shape]],
    batch: int = 1,
    settings: BenchSettings | None = None,
    *,
    progress: Callable[[str, float], None] | None = None,
) -> NetworkBenchReport:
    """Time each ``(name, conv, input)`` layer of a network, interleaved, within the budget.

    Without ``settings``: 3 runs of at least :data:`NETWORK_MIN_TIME` seconds a layer.
    """
    from threadpoolctl import threadpool_limits

    from dsc_calc.bench.kernels import ITEM, estimate_workspace_bytes, resolve_engine

    settings = settings or BenchSettings(repeat=3)
    engine = resolve_engine(settings.engine)
    threads, budget, repeat = settings.threads, settings.budget, settings.repeat
    min_time, memory_limit = settings.min_seconds(NETWORK_MIN_TIME), settings.memory_limit

    started = time.perf_counter()
    deadline = started + budget
    settings.check(min_time)
    if not layers:
        raise DscCalcError("network", "has no conv layers to time")
    for name, conv, _ in layers:
        _check_stride(conv, name)
    costs = [conv.cost(source, batch) for _, conv, source in layers]
    weights = ITEM * sum(conv.params for _, conv, _ in layers)  # a floor of the estimate
    needed = (
        weights
        if weights > memory_limit
        else sum(
            estimate_workspace_bytes(conv, source, batch, engine)
            + ITEM * (batch * source.numel + conv.params)
            for _, conv, source in layers
        )
    )
    if needed > memory_limit:
        raise DscCalcError(
            "max_memory",
            f"timing every conv layer needs about {needed / 2**20:,.0f} MiB, more than the limit "
            f"of {memory_limit / 2**20:,.0f} MiB; lower --batch or raise --max-memory",
        )
    flops = sum(cost.flops for cost in costs)
    if flops / (PESSIMISTIC_GFLOPS * 1e9) > budget:
        raise DscCalcError(
            "budget",
            f"one warm-up run of every conv layer is {flops / 1e9:,.1f} GFLOP, which may take up "
            f"to {flops / (PESSIMISTIC_GFLOPS * 1e9):,.1f} s, more than the budget of {budget:g} "
            "s; raise --budget",
        )
    report = _step(progress)
    with threadpool_limits(limits=threads):
        import numpy as np

        from dsc_calc.bench.kernels import plan_conv

        rng = np.random.default_rng(settings.seed)
        runs: dict[str, Callable[[], object]] = {}
        keys: list[str] = []
        for position, (name, conv, source) in enumerate(layers):
            report(f"preparing {name}", 0.05 * position / len(layers))
            shape = (conv.out_channels, conv.in_channels // conv.groups, *conv.kernel)
            weight = rng.standard_normal(shape, dtype=np.float32)
            bias = rng.standard_normal(conv.out_channels, np.float32) if conv.bias else None
            x = rng.standard_normal(
                (batch, source.height, source.width, source.channels), np.float32
            )
            plan = plan_conv(conv, source, batch, weight, bias, engine, threads)
            key = f"{position}:{name}"
            runs[key] = _bind(plan, x)
            keys.append(key)
        for position, key in enumerate(keys):
            report(f"warm-up: {key.split(':', 1)[1]}", 0.05 + 0.05 * position / len(keys))
            runs[key]()
        if time.perf_counter() > deadline:
            raise DscCalcError(
                "budget",
                f"the warm-up run alone took {time.perf_counter() - started:.2f} s, more than the "
                f"budget of {budget:g} s; raise --budget",
            )
        samples, cpu = _interleave(runs, deadline, min_time, repeat, report)
        blas = blas_info()
    timed = tuple(
        NetworkLayerTiming(
            name, conv, source, cost.macs, cost.flops, Timing(tuple(samples[key]), tuple(cpu[key]))
        )
        for (name, conv, source), cost, key in zip(layers, costs, keys, strict=True)
    )
    notes = []
    if any(len(samples[key]) < repeat for key in keys):
        notes.append(f"The budget ran out before every layer reached {repeat} runs.")
    notes.extend(_descheduled(timed, threads))
    report("done", 1.0)
    return NetworkBenchReport(
        layers=timed,
        batch=batch,
        run=_run_info(settings, engine, blas, started),
        notes=tuple(notes),
    )


def _bind(plan: Callable[[Any], object], x: object) -> Callable[[], object]:
    return lambda: plan(x)
