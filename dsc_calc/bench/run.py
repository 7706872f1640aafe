"""The timing engine of ``dsc-calc bench``: how much of the theoretical saving is real on this CPU.

Pure: no Typer, no Rich, no printing. :func:`run_bench` (one layer) and :func:`run_network_bench`
(every conv layer of a network) return the plain-data :class:`BenchReport` and
:class:`NetworkBenchReport` (``to_dict()``; their tables are in :mod:`dsc_calc.output.tables`).
NumPy and threadpoolctl are imported inside the functions that use them, so importing this module
is cheap. The parts live beside it: :mod:`~dsc_calc.bench.settings` (the settings and the limits
checked up front), :mod:`~dsc_calc.bench.timing` (samples and the timing loop),
:mod:`~dsc_calc.bench.machine` (the roofline probe), :mod:`~dsc_calc.bench.vs_torch` (PyTorch's
kernels) and :mod:`~dsc_calc.bench.notes` (the report's notes).

How it measures (see the README): every kernel runs once before any is timed (fresh multi-MB
buffers are slower until the allocator has recycled them); inputs and weights come from a fixed
seed and are made outside the timed region; the kernels are then timed round-robin (interleaved, so
a burst of load from another process hits all of them alike) until each has ``repeat`` samples and
``min_time`` seconds, or the ``budget`` for the whole run is spent. The median is reported, with
the minimum and the spread (interquartile range / median).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsc_calc.bench.machine import MachineMeasurement, blas_info, measure_machine
from dsc_calc.bench.notes import (
    chunked_pointwise_note,
    descheduled,
    figure_warnings,
    numpy_engine_note,
    run_notes,
    torch_backend_note,
)
from dsc_calc.bench.settings import (
    LAYER_MIN_TIME,
    NETWORK_MIN_TIME,
    BenchSettings,
    check_layer_limits,
    check_network_limits,
)
from dsc_calc.bench.timing import Timing, interleave, progress_step
from dsc_calc.bench.vs_torch import (
    TORCH_WARM_UP_S,
    TorchRuns,
    TorchTiming,
    import_torch,
    keep_freed_memory,
    torch_runs,
    warm_up,
)
from dsc_calc.cost.conv import Conv2d, LayerComparison, Shape, compare
from dsc_calc.errors import DscCalcError
from dsc_calc.memory.traffic import Traffic, arithmetic_intensity, conv_traffic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dsc_calc.choices import Engine

#: What other modules read here: the two entry points, their reports and the parts a report holds.
__all__ = [
    "KERNELS",
    "BenchReport",
    "KernelResult",
    "NetworkBenchReport",
    "NetworkLayerTiming",
    "RunInfo",
    "run_bench",
    "run_network_bench",
]

#: The kernels timed for one layer, in table order.
KERNELS = ("standard", "depthwise", "pointwise", "separable")


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
                name: {**self._their_kernel(name, timing), "backend": theirs.backends.get(name)}
                for name, timing in theirs.kernels.items()
            },
            "speedup": {
                "measured": theirs.speedup_measured,
                "measured_parts": theirs.speedup_parts,
            },
            "speedup_gap": self.speedup_measured / theirs.speedup_measured - 1,
            "onednn": self._onednn_dict(theirs),
        }

    def _onednn_dict(self, theirs: TorchTiming) -> dict[str, object] | None:
        """The ``torch.onednn`` key: oneDNN's own convs where they were timed (or null)."""
        speedup = theirs.onednn_speedup
        if speedup is None:
            return None
        return {
            "kernels": {
                name: self._their_kernel(name, timing) for name, timing in theirs.onednn.items()
            },
            "speedup": speedup,
            "speedup_gap": self.speedup_measured / speedup - 1,
        }

    def _their_kernel(self, name: str, timing: Timing) -> dict[str, object]:
        """One of the other side's kernels: its timing and our median / its median."""
        return {
            "median_s": timing.median,
            "min_s": timing.minimum,
            "spread": timing.spread,
            "samples": len(timing.samples),
            "ratio": self.kernels[name].timing.median / timing.median,
        }


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
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    from dsc_calc.bench.kernels import resolve_engine

    settings = settings or BenchSettings()
    engine = resolve_engine(settings.engine)
    threads, budget, repeat = settings.threads, settings.budget, settings.repeat
    min_time = settings.min_seconds(LAYER_MIN_TIME)

    comparison = compare(conv, source, batch)
    check_layer_limits(comparison, settings, min_time, machine=machine, vs_torch=vs_torch)
    torch = import_torch() if vs_torch else None  # before the clock: importing is not the run
    if torch is not None:
        keep_freed_memory()
    started = time.perf_counter()
    deadline = started + budget
    report = progress_step(progress)
    with threadpool_limits(limits=threads):
        report("preparing inputs and buffers", 0.0)
        runs, layers, x, drawn, chunked = _single_layer_runs(
            conv, source, batch, settings.seed, engine, threads
        )
        for position, name in enumerate(KERNELS):
            report(f"warm-up: {name}", 0.05 * position / len(KERNELS))
            runs[name]()
        torch_threads = 0
        theirs = None
        if torch is not None:
            report("warm-up: PyTorch", 0.05)
            torch_threads = torch.get_num_threads()
            torch.set_num_threads(threads)
            theirs = torch_runs(torch, layers, source, x, drawn)
            warm_up({**theirs.runs, **theirs.onednn}, min(TORCH_WARM_UP_S, 0.1 * budget))
            runs.update({f"torch {name}": call for name, call in theirs.runs.items()})
            runs.update({f"onednn {name}": call for name, call in theirs.onednn.items()})
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
            samples, cpu = interleave(runs, deadline, min_time, repeat, report)
        finally:
            if torch is not None:
                torch.set_num_threads(torch_threads)
        blas = blas_info()
    kernels = _results(comparison, samples, cpu, probe)
    torch_timing = None if theirs is None else _torch_timing(torch, threads, samples, cpu, theirs)
    short = [name for name in runs if len(samples[name]) < repeat]
    notes = [
        *run_notes(short, repeat, threads, engine, comparison.depthwise.macs),
        *numpy_engine_note(settings.engine, engine, depthwise=True),
        *chunked_pointwise_note(chunked),
        *(torch_backend_note(torch_timing) if torch_timing is not None else []),
    ]
    notes.extend(figure_warnings(kernels, comparison, threads, torch_timing))
    report("done", 1.0)
    return BenchReport(
        comparison=comparison,
        kernels=kernels,
        run=_run_info(settings, engine, blas, started),
        machine=probe,
        notes=tuple(notes),
        torch=torch_timing,
    )


def _torch_timing(
    torch: Any,
    threads: int,
    samples: dict[str, list[float]],
    cpu: dict[str, list[float]],
    theirs: TorchRuns,
) -> TorchTiming:
    """PyTorch's side of the run: its kernels' samples (``torch …`` in ``samples`` and ``cpu``)
    and oneDNN's own where it was timed (``onednn …``)."""

    def timing(key: str) -> Timing:
        return Timing(tuple(samples[key]), tuple(cpu[key]))

    return TorchTiming(
        str(torch.__version__),
        threads,
        bool(torch.backends.mkldnn.is_available()),
        {name: timing(f"torch {name}") for name in KERNELS},
        theirs.backends,
        {name: timing(f"onednn {name}") for name in theirs.onednn},
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
) -> tuple[
    dict[str, Callable[[], object]],
    tuple[Conv2d, ...],
    Any,
    list[tuple[Any, Any]],
    list[tuple[int, int]],
]:
    """Our four kernels ready to time, the layers, the input, their (weight, bias), and the
    pointwise plan's (pixels a GEMM, pixels) if it runs in chunks (:func:`chunked_of`)."""
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
    return runs, layers, x, drawn, chunked_of([standard, pointwise])


def chunked_of(plans: Sequence[object]) -> list[tuple[int, int]]:
    """(pixels a GEMM, pixels) of each of ``plans`` that is a pointwise plan run in chunks."""
    from dsc_calc.bench.kernels import PointwisePlan

    return [
        (plan.chunk_pixels, plan.pixels)
        for plan in plans
        if isinstance(plan, PointwisePlan) and plan.chunk_pixels < plan.pixels
    ]


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

    from dsc_calc.bench.kernels import resolve_engine

    settings = settings or BenchSettings(repeat=3)
    engine = resolve_engine(settings.engine)
    threads, budget, repeat = settings.threads, settings.budget, settings.repeat
    min_time = settings.min_seconds(NETWORK_MIN_TIME)

    started = time.perf_counter()
    deadline = started + budget
    check_network_limits(layers, batch, settings, min_time, engine)
    costs = [conv.cost(source, batch) for _, conv, source in layers]
    report = progress_step(progress)
    with threadpool_limits(limits=threads):
        import numpy as np

        from dsc_calc.bench.depthwise import DepthwisePlan
        from dsc_calc.bench.kernels import plan_conv

        rng = np.random.default_rng(settings.seed)
        runs: dict[str, Callable[[], object]] = {}
        keys: list[str] = []
        plans: list[object] = []
        for position, (name, conv, source) in enumerate(layers):
            report(f"preparing {name}", 0.05 * position / len(layers))
            shape = (conv.out_channels, conv.in_channels // conv.groups, *conv.kernel)
            weight = rng.standard_normal(shape, dtype=np.float32)
            bias = rng.standard_normal(conv.out_channels, np.float32) if conv.bias else None
            x = rng.standard_normal(
                (batch, source.height, source.width, source.channels), np.float32
            )
            plan = plan_conv(conv, source, batch, weight, bias, engine, threads)
            plans.append(plan)
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
        samples, cpu = interleave(runs, deadline, min_time, repeat, report)
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
    notes.extend(descheduled(timed, threads))
    ran_depthwise = any(isinstance(plan, DepthwisePlan) for plan in plans)
    notes.extend(numpy_engine_note(settings.engine, engine, ran_depthwise))
    notes.extend(chunked_pointwise_note(chunked_of(plans)))
    report("done", 1.0)
    return NetworkBenchReport(
        layers=timed,
        batch=batch,
        run=_run_info(settings, engine, blas, started),
        notes=tuple(notes),
    )


def _bind(plan: Callable[[Any], object], x: object) -> Callable[[], object]:
    return lambda: plan(x)
