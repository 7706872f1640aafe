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
    #: oneDNN's own conv, timed where PyTorch's dispatcher picked another backend: those convs
    #: and the separable pair with oneDNN for both of its convs (empty when all ran on oneDNN).
    onednn: dict[str, Timing] = field(default_factory=dict)

    @property
    def onednn_speedup(self) -> float | None:
        """The standard time / the pair time with oneDNN for every conv (None: not timed)."""
        if "separable" not in self.onednn:
            return None
        standard = self.onednn.get("standard", self.kernels["standard"])
        return standard.median / self.onednn["separable"].median

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


@dataclass(frozen=True, slots=True)
class TorchRuns:
    """PyTorch's side of a run, ready to time: its four kernels as it dispatches them, the backend
    its dispatcher picks for each conv, and oneDNN's own conv where it picks another."""

    runs: dict[str, Callable[[], object]]
    backends: dict[str, str]
    #: Where a conv's backend is not oneDNN's: that conv by oneDNN's own conv, and the separable
    #: pair with oneDNN for both convs (none where oneDNN ran all or cannot be called directly).
    onednn: dict[str, Callable[[], object]]


#: The convs of a comparison, in the order of ``layers``.
CONVS = ("standard", "depthwise", "pointwise")


def torch_runs(
    torch: Any, layers: Sequence[Conv2d], source: Shape, x: Any, drawn: Sequence[tuple[Any, Any]]
) -> TorchRuns:
    """PyTorch's four kernels on the same weights and input as ours: NCHW, inference mode; the
    backend its dispatcher picks for each of the three convs at its current thread count; and,
    for the convs it does not hand to oneDNN, oneDNN's own conv on the same arguments.

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
        for index, name in enumerate(CONVS)
        if (backend := conv_backend(torch, inputs[index], *arguments(index))) is not None
    }
    elsewhere = [CONVS.index(name) for name, path in backends.items() if path != "mkldnn"]
    direct = _onednn_conv(torch, arguments, inputs, conv, elsewhere)

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
    onednn: dict[str, Callable[[], object]] = {}
    if direct is not None:

        def own(index: int, value: Any) -> Any:
            return direct(index, value) if index in elsewhere else conv(index, value)

        def alone(index: int) -> Callable[[], Any]:
            return lambda: direct(index, inputs[index])

        for index in elsewhere:
            onednn[CONVS[index]] = run(alone(index))
        onednn["separable"] = run(lambda: own(2, own(1, image)))
    return TorchRuns(runs, backends, onednn)


def _onednn_conv(
    torch: Any,
    arguments: Callable[[int], tuple[Any, Any, Any, Any, Any, int]],
    inputs: Sequence[Any],
    conv: Callable[[int, Any], Any],
    convs: Sequence[int],
) -> Callable[[int, Any], Any] | None:
    """Conv ``index`` of ``arguments`` by oneDNN's own conv (``aten.mkldnn_convolution``, what
    PyTorch calls when it hands a conv to oneDNN), for the ``convs`` given; None when there are
    none, this torch has no oneDNN or no such op, or it refuses them or gives other results than
    PyTorch's own conv (then nothing of it is timed)."""
    if not convs or not torch.backends.mkldnn.is_available():
        return None
    op = getattr(torch.ops.aten, "mkldnn_convolution", None)
    if op is None:
        return None

    def direct(index: int, value: Any) -> Any:
        weight, bias, stride, padding, dilation, groups = arguments(index)
        return op(value, weight, bias, list(padding), list(stride), list(dilation), groups)

    try:
        with torch.inference_mode():
            same = all(
                torch.allclose(direct(i, inputs[i]), conv(i, inputs[i]), rtol=1e-4, atol=1e-4)
                for i in convs
            )
    except (RuntimeError, TypeError, ValueError):
        return None
    return direct if same else None


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
