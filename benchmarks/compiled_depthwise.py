"""What a small compiled depthwise loop would give: a C loop built here, against NumPy and oneDNN.

dsc-calc does not ship this loop. The script measures it, for the decision that
``benchmarks/einsum_floor.py`` leaves open: NumPy's einsum cannot bring the depthwise conv within
2x of oneDNN's on a CPU with 512-bit vector units, numba can but adds about 210 MB, and this loop
would be a shared library of a few dozen KB.

The loop is the numba kernel's (``dsc_calc/bench/numba_kernels.py``) in C: NHWC over a
zero-bordered padded input, channels innermost, each output summed in a register over its taps in
(i, j) order from zero, the bias last, so its outputs equal the NumPy kernel's bit for bit (checked
here). Kernels of more than 16 taps are summed a kernel row at a time, the sum kept in the output
between rows. GCC's ``target_clones`` builds it for x86-64-v4 (AVX-512), v3 (AVX2) and the
baseline and picks one at load time; ``-ffp-contract=off`` keeps multiply and add apart, as
NumPy's are.

Prints the compiler, the build time and library size, then per shape of issue 15 (1 thread, "same"
padding, stride 1, no bias, as in ``bench_vs_torch.py``) the NumPy kernel's, the C loop's and,
with PyTorch installed, oneDNN's depthwise time (``aten.mkldnn_convolution``): medians of 7
interleaved rounds, and the ratios.

Run: python benchmarks/compiled_depthwise.py [--seconds 0.2] [--cc gcc]
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from einsum_floor import one_thread_torch, onednn_depthwise
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from dsc_calc.bench.kernels import plan_conv
from dsc_calc.cost.conv import Conv2d, Shape

if TYPE_CHECKING:
    from collections.abc import Callable

SHAPES = [(32, 112, 3), (64, 56, 3), (256, 14, 3), (512, 14, 5)]  # channels, size, kernel
WARM_UP_CALLS = 50  # oneDNN's first calls of a depthwise conv are ~10x slower

SOURCE = r"""
#include <stddef.h>
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* out[n, r, q, c] = (sum over taps i, j in order of x[n, r + i, q + j, c] * w[i, j, c]) + b[c],
   stride 1, the input zero-bordered: K x K taps, all summed in one pass (whole) or a row a pass. */
#define WHOLE(K)                                                                                \
CLONES void depthwise##K(const float *restrict x, const float *restrict w,                    \
                         const float *restrict b, float *restrict out, int batch,             \
                         int in_h, int in_w, int channels, int out_h, int out_w) {            \
    for (int n = 0; n < batch; n++)                                                             \
        for (int r = 0; r < out_h; r++)                                                         \
            for (int q = 0; q < out_w; q++) {                                                   \
                float *restrict o = out + (((size_t)n * out_h + r) * out_w + q) * channels;     \
                const float *restrict at = x + (((size_t)n * in_h + r) * in_w + q) * channels;  \
                for (int c = 0; c < channels; c++) {                                            \
                    float total = 0.0f;                                                         \
                    for (int i = 0; i < K; i++)                                                 \
                        for (int j = 0; j < K; j++)                                             \
                            total += at[((size_t)i * in_w + j) * channels + c]                  \
                                     * w[(i * K + j) * channels + c];                           \
                    o[c] = total + b[c];                                                        \
                }                                                                               \
            }                                                                                   \
}

#define BY_ROWS(K)                                                                              \
CLONES void depthwise##K(const float *restrict x, const float *restrict w,                    \
                         const float *restrict b, float *restrict out, int batch,             \
                         int in_h, int in_w, int channels, int out_h, int out_w) {            \
    for (int n = 0; n < batch; n++)                                                             \
        for (int r = 0; r < out_h; r++)                                                         \
            for (int q = 0; q < out_w; q++) {                                                   \
                float *restrict o = out + (((size_t)n * out_h + r) * out_w + q) * channels;     \
                const float *restrict at = x + (((size_t)n * in_h + r) * in_w + q) * channels;  \
                for (int c = 0; c < channels; c++) o[c] = 0.0f;                                 \
                for (int i = 0; i < K; i++) {                                                   \
                    const float *restrict row = at + (size_t)i * in_w * channels;               \
                    const float *restrict taps = w + (size_t)i * K * channels;                  \
                    for (int c = 0; c < channels; c++) {                                        \
                        float total = o[c];                                                     \
                        for (int j = 0; j < K; j++)                                             \
                            total += row[(size_t)j * channels + c] * taps[j * channels + c];    \
                        o[c] = total;                                                           \
                    }                                                                           \
                }                                                                               \
                for (int c = 0; c < channels; c++) o[c] += b[c];                                \
            }                                                                                   \
}

WHOLE(3)
BY_ROWS(5)
"""


def build(cc: str, folder: Path) -> tuple[ctypes.CDLL, float, int]:
    """The loop compiled into a shared library in ``folder``: the library, seconds, bytes."""
    source, library = folder / "depthwise.c", folder / "libdepthwise.so"
    source.write_text(SOURCE, encoding="ascii")
    flags = ["-O3", "-ffp-contract=off", "-shared", "-fPIC"]
    begin = time.perf_counter()
    subprocess.run([cc, *flags, "-o", str(library), str(source)], check=True)
    seconds = time.perf_counter() - begin
    loaded = ctypes.CDLL(str(library))
    pointer, number = ctypes.c_void_p, ctypes.c_int
    for k in (3, 5):
        getattr(loaded, f"depthwise{k}").argtypes = [pointer] * 4 + [number] * 6
    return loaded, seconds, library.stat().st_size


def median_times(calls: list[Callable[[], object]], seconds: float, rounds: int = 7) -> list[float]:
    """Per call, the median over ``rounds`` of its mean time in a burst of ``seconds``; the calls'
    bursts interleaved round by round, so that the machine's drift reaches them alike."""
    for call in calls:
        for _ in range(WARM_UP_CALLS):
            call()
    means: list[list[float]] = [[] for _ in calls]
    for _ in range(rounds):
        for call, mean in zip(calls, means, strict=True):
            count, begin = 0, time.perf_counter()
            while time.perf_counter() - begin < seconds:
                call()
                count += 1
            mean.append((time.perf_counter() - begin) / count)
    return [statistics.median(mean) for mean in means]


def compiled_conv(library: ctypes.CDLL, x: Any, weight: Any, bias: Any) -> Callable[[], Any]:
    """The C loop on ``x`` (1, H, W, C) by (C, 1, k, k) ``weight``: padding copy included."""
    _, size, _, channels = x.shape
    k = weight.shape[-1]
    pad = k // 2
    padded = np.zeros((1, size + 2 * pad, size + 2 * pad, channels), np.float32)
    taps = np.ascontiguousarray(weight[:, 0].transpose(1, 2, 0))
    out = np.empty_like(x)
    loop = getattr(library, f"depthwise{k}")
    buffers = (padded, taps, np.ascontiguousarray(bias, np.float32), out)  # alive while run is
    pointers = tuple(buffer.ctypes.data for buffer in buffers)
    shape = (1, size + 2 * pad, size + 2 * pad, channels, size, size)

    def run(buffers: tuple[Any, ...] = buffers) -> Any:
        padded[:, pad : pad + size, pad : pad + size] = x
        loop(*pointers, *shape)
        return buffers[3]

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=0.2, help="seconds a timing round")
    parser.add_argument("--cc", default="gcc", help="the C compiler (GCC 6 or later)")
    args = parser.parse_args()
    if shutil.which(args.cc) is None:
        print(f"no C compiler {args.cc!r} on PATH: pass --cc", file=sys.stderr)
        return 1
    torch = one_thread_torch()
    version = subprocess.run([args.cc, "--version"], capture_output=True, text=True, check=False)
    with tempfile.TemporaryDirectory() as folder:
        library, seconds, size = build(args.cc, Path(folder))
        print(
            f"{version.stdout.splitlines()[0] if version.stdout else args.cc}: built in "
            f"{seconds:.2f} s, {size / 1024:.0f} KiB; 1 thread; ms, median of 7 rounds"
        )
        print("\nchannels, size, k:  numpy    C      oneDNN   numpy/oneDNN  C/oneDNN  C/numpy")
        with threadpool_limits(limits=1):
            for channels, side, k in SHAPES:
                rng = np.random.default_rng(0)
                conv = Conv2d(channels, channels, k, groups=channels)  # no bias, as in the table
                x = rng.standard_normal((1, side, side, channels), np.float32)
                weight = rng.standard_normal((channels, 1, k, k), np.float32)
                bias = np.zeros(channels, np.float32)  # the C loop adds it: + 0 changes no sum
                plan = plan_conv(conv, Shape(channels, side, side), 1, weight, None, "numpy")
                compiled = compiled_conv(library, x, weight, bias)
                if not np.array_equal(compiled(), plan(x)):
                    print(f"the C loop differs from the NumPy kernel at {channels}, {side}, {k}")
                    return 1

                def numpy_kernel(plan: Any = plan, x: Any = x) -> Any:
                    return plan(x)

                calls: list[Callable[[], object]] = [numpy_kernel, compiled]
                if torch is not None:
                    calls.append(onednn_depthwise(torch, x, weight))
                ours, loop, *rest = median_times(calls, args.seconds)
                theirs = rest[0] if rest else float("nan")
                print(
                    f"  {channels:4d}, {side:3d}, {k}:    {ours * 1e3:.3f}  {loop * 1e3:.3f}  "
                    f"{theirs * 1e3:.3f}   {ours / theirs:10.2f}x {loop / theirs:8.2f}x "
                    f"{loop / ours:7.2f}x"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
