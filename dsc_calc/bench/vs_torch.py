"""``dsc-calc bench --vs-torch``: PyTorch's own kernels (oneDNN on x86) on the same layer, weights
and input as ours, timed in the same run.

torch is imported only when asked for (:func:`import_torch`), never at start-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dsc_calc.bench.timing import Timing
    from dsc_calc.cost.conv import Conv2d, Shape


@dataclass(frozen=True, slots=True)
class TorchTiming:
    """PyTorch's own kernels (oneDNN on x86) timed beside ours in the same run (``--vs-torch``)."""

    version: str
    threads: int
    mkldnn: bool
    kernels: dict[str, Timing]
    #: Per conv (standard, depthwise, pointwise), the backend PyTorch's dispatcher picked for it
    #: (:func:`conv_backend`); none where this torch cannot say.
    backends: dict[str, str] = field(default_factory=dict)

    @property
    def speedup_measured(self) -> float:
        """PyTorch's standard time / its separable pair time."""
        return self.kernels["standard"].median / self.kernels["separable"].median

    @property
    def speedup_parts(self) -> float:
        """PyTorch's standard time / (its depthwise time + its pointwise time)."""
        parts = self.kernels["depthwise"].median + self.kernels["pointwise"].median
        return self.kernels["standard"].median / parts


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


def keep_freed_memory() -> None:
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
) -> tuple[dict[str, Callable[[], object]], dict[str, str]]:
    """PyTorch's four kernels on the same weights and input as ours: NCHW, inference mode; and
    the backend its dispatcher picks for each of the three convs at its current thread count.

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

    def arguments(index: int) -> tuple[Any, Any, Any, Any, Any, int]:
        layer, (weight, bias) = layers[index], tensors[index]
        pad = padding if index < 2 else (0, 0)
        return weight, bias, layer.stride, pad, layer.dilation, layer.groups

    def conv(index: int, value: Any) -> Any:
        return functional.conv2d(value, *arguments(index))

    with torch.inference_mode():
        middle = conv(1, image)
    inputs = (image, image, middle)
    backends = {
        name: backend
        for index, name in enumerate(("standard", "depthwise", "pointwise"))
        if (backend := conv_backend(torch, inputs[index], *arguments(index))) is not None
    }

    def run(call: Callable[[], Any]) -> Callable[[], object]:
        def timed() -> object:
            with torch.inference_mode():
                return call()

        return timed

    runs = {
        "standard": run(lambda: conv(0, image)),
        "depthwise": run(lambda: conv(1, image)),
        "pointwise": run(lambda: conv(2, middle)),
        "separable": run(lambda: conv(2, conv(1, image))),
    }
    return runs, backends


def conv_backend(
    torch: Any,
    value: Any,
    weight: Any,
    bias: Any,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int,
) -> str | None:
    """The backend PyTorch's conv dispatcher picks for this conv, lower case (``mkldnn``: oneDNN;
    ``slow2d``: its own im2col and BLAS GEMM), as ``torch._C._select_conv_backend`` says at the
    current thread count; None where this torch has no such function or it fails.

    It is a private function, asked only to explain the figures: on one thread PyTorch 2.13 runs a
    1x1 conv on ``slow2d`` (MKL's GEMM in PyTorch's wheels), not oneDNN, and so times something
    other than oneDNN's kernel.
    """
    select = getattr(getattr(torch, "_C", None), "_select_conv_backend", None)
    if select is None:
        return None
    try:
        chosen = select(
            value, weight, bias, list(stride), list(padding), list(dilation), False, [0, 0], groups
        )
    except (RuntimeError, TypeError, ValueError):
        return None
    return str(getattr(chosen, "name", chosen)).rsplit(".", 1)[-1].lower()


def warm_up(runs: dict[str, Callable[[], object]], seconds: float) -> None:
    """Call each of ``runs`` TORCH_WARM_UP_RUNS times, all of them within ``seconds`` at most."""
    until = time.perf_counter() + seconds
    for call in runs.values():
        for _ in range(TORCH_WARM_UP_RUNS):
            call()
            if time.perf_counter() > until:
                break
