"""An optional numba-compiled depthwise conv for ``dsc-calc bench`` (the ``fast`` extra).

Imported only by :mod:`dsc_calc.bench.kernels` when numba is importable and the engine allows it,
never at CLI start-up: importing numba costs ~0.3 s and the first call JIT-compiles (or loads the
on-disk cache), which the bench's warm-up run absorbs.

:class:`NumbaDepthwisePlan` is the plan :func:`dsc_calc.bench.kernels.plan_conv` returns for it. The
loop's input is the zero-bordered NHWC padded input of :class:`dsc_calc.bench.depthwise.Padded`, so
stride, dilation and padding mean exactly what they mean for the other kernels there. The loop runs
pixel by pixel with channels innermost, which LLVM vectorises without reassociating any sum (so
``fastmath`` stays off and each output is summed in tap order, like a naive reference).
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numba import njit

from dsc_calc.bench.depthwise import Padded

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from numpy.typing import NDArray

    from dsc_calc.bench.depthwise import Geometry

    Array = NDArray[np.float32]


#: Kernels of at most this many taps are summed in one pass over the channels, each output's sum
#: held in a register from its bias to its last tap; larger ones one kernel row a pass, the sum
#: kept in the output between rows (summing all 25 taps of a 5x5 conv in one pass ran out of
#: registers: 1.6x slower at 14x14x512 than by rows).
WHOLE_KERNEL_TAPS = 16


class _Loop(Protocol):
    """A numba dispatcher of the loop: callable, and the signatures it has compiled so far."""

    @property
    def signatures(self) -> Sequence[object]: ...

    def __call__(self, padded: Array, taps: Array, bias: Array, out: Array) -> None: ...


@cache
def _compiled(kh: int, kw: int, sh: int, sw: int, dh: int, dw: int) -> _Loop:
    """The loop for one kernel size, stride and dilation, compiled with them as constants.

    As constants, the tap loops unroll, which leaves channels as the innermost loop for LLVM to
    vectorise with the sum in a register (and the index arithmetic folds away). numba caches each
    such closure on disk under its constants, like any ``cache=True`` function.
    """
    rows = kh if kh * kw <= WHOLE_KERNEL_TAPS else 1  # kernel rows summed in one pass

    @njit(cache=True, fastmath=False, nogil=True)
    def loop(padded: Array, taps: Array, bias: Array, out: Array) -> None:  # pragma: no cover
        batch, out_height, out_width, channels = out.shape
        for n in range(batch):
            for r in range(out_height):
                for q in range(out_width):
                    pixel = out[n, r, q]
                    for first in range(0, kh, rows):
                        for c in range(channels):
                            total = bias[c] if first == 0 else pixel[c]
                            for i in range(first, first + rows):
                                for j in range(kw):
                                    x = padded[n, r * sh + i * dh, q * sw + j * dw, c]
                                    total += x * taps[i, j, c]
                            pixel[c] = total

    return loop


def depthwise_nhwc(
    padded: Array,
    taps: Array,
    bias: Array,
    out: Array,
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> None:
    """Fill NHWC ``out`` with the depthwise conv of the padded NHWC input by (kh, kw, C) taps:
    ``out[n, r, q, c] = bias[c] + sum_ij x[n, r*sh + i*dh, q*sw + j*dw, c] * taps[i, j, c]``,
    summed in that order, the bias first and the taps in (i, j) order.

    Per output pixel, channels innermost: each output's sum is loaded (its bias) and stored once,
    or once per kernel row for a kernel of more than :data:`WHOLE_KERNEL_TAPS` taps.
    """
    loop = _compiled(taps.shape[0], taps.shape[1], *stride, *dilation)
    if loop.signatures:
        loop(padded, taps, bias, out)
        return
    with interrupts_deferred():  # the first call compiles the loop or loads it from numba's cache
        loop(padded, taps, bias, out)


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then raise :class:`KeyboardInterrupt`.

    numba compiles through LLVM, which calls back into Python through ctypes: a KeyboardInterrupt
    raised in such a callback is printed and dropped, and the compile then fails with numba's own
    ``RuntimeError: no compiled object yet`` (a traceback, not "interrupted"; 2 of 28 Ctrl-Cs sent
    during a first compile here). Signals reach the main thread only: elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, _frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    if caught:
        raise KeyboardInterrupt


class NumbaDepthwisePlan:
    """Depthwise conv by the compiled loop above, channels last.

    Reads a zero-bordered padded copy of the input (no stride phases: the loop indexes the
    strided pixels directly, each still a contiguous run of ``C`` values).
    """

    kind = "depthwise"

    def __init__(self, g: Geometry, weight: Array, bias: Array | None) -> None:
        self.geometry = g
        self.run = depthwise_nhwc
        kh, kw = g.conv.kernel
        self.taps: Array = np.ascontiguousarray(
            weight.reshape(g.channels, kh, kw).transpose(1, 2, 0), dtype=np.float32
        )
        self.bias: Array = (
            np.zeros(g.channels, np.float32)
            if bias is None
            else np.ascontiguousarray(bias, dtype=np.float32)
        )
        self.padded = Padded(g)
        self.out: Array = np.empty(g.output_shape, dtype=np.float32)

    @property
    def workspace_bytes(self) -> int:
        return self.padded.nbytes + self.out.nbytes + self.taps.nbytes + self.bias.nbytes

    def __call__(self, x: Array) -> Array:
        g = self.geometry
        padded = self.padded.fill(x)
        self.run(padded, self.taps, self.bias, self.out, g.conv.stride, g.conv.dilation)
        return self.out
