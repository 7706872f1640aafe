"""An optional numba-compiled depthwise conv for ``dsc-calc bench`` (the ``fast`` extra).

Imported only by :mod:`dsc_calc.bench.kernels` when numba is importable and the engine allows it,
never at CLI start-up: importing numba costs ~0.3 s and the first call JIT-compiles (or loads the
on-disk cache), which the bench's warm-up run absorbs.

:class:`NumbaDepthwisePlan` is the plan :func:`dsc_calc.bench.kernels.plan_conv` returns for it. The
loop's input is the zero-bordered NHWC padded input of :class:`dsc_calc.bench.depthwise._Padded`, so
stride, dilation and padding mean exactly what they mean for the other kernels there. The loop order
puts channels innermost: each tap is one multiply-add over ``C`` contiguous floats of input, weight
and output, which LLVM vectorises without reassociating any sum (so ``fastmath`` stays off and each
output is summed in tap order, like a naive reference).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from dsc_calc.bench.depthwise import _Padded

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from dsc_calc.bench.depthwise import _Geometry

    Array = NDArray[np.float32]


@njit(cache=True, fastmath=False, nogil=True)
def _depthwise_nhwc(
    padded: NDArray[np.float32],
    taps: NDArray[np.float32],
    bias: NDArray[np.float32],
    out: NDArray[np.float32],
    sh: int,
    sw: int,
    dh: int,
    dw: int,
) -> None:  # pragma: no cover - compiled by numba, so coverage cannot see these lines
    """``out[n, r, q, c] = bias[c] + sum_ij x[n, r*sh + i*dh, q*sw + j*dw, c] * taps[i, j, c]``.

    One output row at a time (``width * C`` floats, which stay in L1/L2 across the taps); per
    tap a sweep along the row, channels innermost.
    """
    batch, out_height, out_width, channels = out.shape
    kh, kw = taps.shape[0], taps.shape[1]
    for n in range(batch):
        for r in range(out_height):
            acc = out[n, r]
            for q in range(out_width):
                for c in range(channels):
                    acc[q, c] = bias[c]
            for i in range(kh):
                row = padded[n, r * sh + i * dh]
                for j in range(kw):
                    weight = taps[i, j]
                    for q in range(out_width):
                        pixel = row[q * sw + j * dw]
                        for c in range(channels):
                            acc[q, c] += pixel[c] * weight[c]


def depthwise_nhwc(
    padded: NDArray[np.float32],
    taps: NDArray[np.float32],
    bias: NDArray[np.float32],
    out: NDArray[np.float32],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> None:
    """Fill NHWC ``out`` with the depthwise conv of the padded NHWC input by (kh, kw, C) taps."""
    _depthwise_nhwc(padded, taps, bias, out, stride[0], stride[1], dilation[0], dilation[1])


class NumbaDepthwisePlan:
    """Depthwise conv by the compiled loop above, channels last.

    Reads a zero-bordered padded copy of the input (no stride phases: the loop indexes the
    strided pixels directly, each still a contiguous run of ``C`` values).
    """

    kind = "depthwise"

    def __init__(self, g: _Geometry, weight: Array, bias: Array | None) -> None:
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
        self.padded = _Padded(g)
        self.out: Array = np.empty(g.output_shape, dtype=np.float32)

    @property
    def workspace_bytes(self) -> int:
        return self.padded.nbytes + self.out.nbytes + self.taps.nbytes + self.bias.nbytes

    def __call__(self, x: Array) -> Array:
        g = self.geometry
        padded = self.padded.fill(x)
        self.run(padded, self.taps, self.bias, self.out, g.conv.stride, g.conv.dilation)
        return self.out
