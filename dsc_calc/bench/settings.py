"""What a bench run may take, settled before anything is allocated or timed: the settings of the
run (:class:`BenchSettings`), its memory estimate, and the checks against the memory limit and
the budget. Errors name the settings' fields, which the CLI turns into its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dsc_calc.bench.machine import COPY_BYTES, GEMM_SIZE
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dsc_calc.choices import Engine
    from dsc_calc.cost.conv import Conv2d, LayerComparison, Shape

#: Default limit on the memory one run may allocate (inputs, buffers, machine probes).
DEFAULT_MEMORY_LIMIT = 2 * 2**30

#: A deliberately pessimistic rate used to refuse, before allocating anything, a layer whose
#: single warm-up run alone would overrun the budget.
PESSIMISTIC_GFLOPS = 5.0

#: Seconds of timed runs wanted per kernel of one layer, and per layer of a network, by default.
LAYER_MIN_TIME = 0.2
NETWORK_MIN_TIME = 0.05

#: The most stride phases (sh * sw) a strided depthwise run splits its input into: 64 x 64.
#: Checked before any estimate, because grouping the taps by phase visits every phase.
MAX_STRIDE_PHASES = 64 * 64


@dataclass(frozen=True, slots=True)
class BenchSettings:
    """How a run is timed and what it may use; made once (from the CLI's options) and passed down.

    ``budget`` and ``min_time`` are seconds, ``memory_limit`` bytes. ``min_time`` None is the
    mode's own default: :data:`LAYER_MIN_TIME` per kernel of one layer, :data:`NETWORK_MIN_TIME`
    per layer of a network. ``engine`` picks the depthwise kernel
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


def estimate_memory(conv: Conv2d, source: Shape, batch: int, *, machine: bool) -> int:
    """Bytes a run allocates: input, weights, kernel buffers, and the machine probes if asked."""
    from dsc_calc.bench.depthwise import ITEM
    from dsc_calc.bench.kernels import estimate_workspace_bytes

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


def check_layer_limits(
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
    if vs_torch:  # PyTorch's four kernels are warmed up too, and oneDNN's own for those PyTorch
        flops *= 3  # runs elsewhere: at most all of them again
    pessimistic = flops / (PESSIMISTIC_GFLOPS * 1e9)
    if pessimistic > budget:
        raise DscCalcError(
            "budget",
            f"one warm-up run of the four kernels is {flops / 1e9:,.1f} GFLOP, which may take up "
            f"to {pessimistic:,.1f} s, more than the budget of {budget:g} s; raise --budget or "
            "time a smaller layer",
        )


def check_network_limits(
    layers: Sequence[tuple[str, Conv2d, Shape]],
    batch: int,
    settings: BenchSettings,
    min_time: float,
    engine: Engine,
) -> None:
    """Refuse bad settings, an empty network, and layers too big together for the memory limit
    or the budget, up front (``engine`` is the resolved depthwise engine)."""
    from dsc_calc.bench.depthwise import ITEM
    from dsc_calc.bench.kernels import estimate_workspace_bytes

    settings.check(min_time)
    memory_limit, budget = settings.memory_limit, settings.budget
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


def _check_stride(conv: Conv2d, where: str) -> None:
    """Refuse a stride whose sh * sw phases the depthwise kernel could not split in time."""
    sh, sw = conv.stride
    if sh * sw > MAX_STRIDE_PHASES:
        raise DscCalcError(
            where,
            f"stride {sh}x{sw} splits the input into {sh * sw:,} phases; bench times at most "
            f"{MAX_STRIDE_PHASES:,} (stride 64x64); count such a layer with `dsc-calc layer`",
        )
