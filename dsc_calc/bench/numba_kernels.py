"""An optional numba-compiled depthwise conv for ``dsc-calc bench`` (the ``fast`` extra).

Imported only by :mod:`dsc_calc.bench.kernels` when numba is importable and the engine allows it,
never at CLI start-up: importing numba costs ~0.3 s and the first call JIT-compiles (or loads the
on-disk cache), which the bench's warm-up run absorbs.

Its input is the zero-bordered NHWC padded input of :class:`dsc_calc.bench.depthwise._Padded`, so
stride, dilation and padding mean exactly what they mean for the other kernels there. The loop order
puts channels innermost: each tap is one multiply-add over ``C`` contiguous floats of input, weight
and output, which LLVM vectorises without reassociating any sum (so ``fastmath`` stays off and each
output is summed in tap order, like a naive reference).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from numba import njit

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


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
