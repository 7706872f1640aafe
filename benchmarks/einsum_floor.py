"""How close NumPy's einsum can come to oneDNN's depthwise conv: the floor of the NumPy kernel.

The NumPy depthwise kernel of ``dsc-calc bench`` sums its taps with NumPy's C einsum, whose inner
loop (``out[v] += x[v] * w[v]`` over a run ``v``) NumPy compiles for its baseline SIMD only
(X86_V2 on x86-64: 128-bit, 4 floats a step; no runtime dispatch to AVX2 or AVX-512, as its
ufuncs have). This prints, in nanoseconds per multiply-add, on one thread:

1. the einsum inner loop alone on cached data (nine taps, 9 runs of 256 to 3584 floats of input
   and of weights, summed into 200 outputs that reuse them: the best the kernel's einsums can
   do), with the weights as a run (``tiled``, what the kernel uses) and as one value a tap
   (``scalar``, stride 0; the channels-last kernel cannot have it: its weights vary along a run);
2. the kernel itself (``plan_conv``, engine numpy) at the four shapes of issue 15;
3. the same conv by NumPy's multiply and add ufuncs, which NumPy dispatches to AVX-512 (``ufuncs``:
   a product into a temporary and a sum a tap, in row blocks);
4. with PyTorch installed, oneDNN's depthwise conv (``aten.mkldnn_convolution``) at those shapes,
   and the ratio of the floor to it: the least time the NumPy kernel could take / oneDNN's.

No formulation that sums the taps through this einsum can beat item 1, so where the floor is
above twice oneDNN's rate, a NumPy-only kernel cannot be within 2x of oneDNN on that CPU.

Run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/einsum_floor.py [--seconds 0.2]
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from dsc_calc.bench.depthwise import _einsum
from dsc_calc.bench.kernels import plan_conv
from dsc_calc.bench.vs_torch import keep_freed_memory
from dsc_calc.cost.conv import Conv2d, Shape

if TYPE_CHECKING:
    from collections.abc import Callable

SHAPES = [(32, 112, 3), (64, 56, 3), (256, 14, 3), (512, 14, 5)]  # channels, size, kernel
RUNS = (256, 1024, 3584)
OUTPUTS = 200
TAPS = 9
#: The ufunc conv's row blocks: output, product and input rows of a block stay in L2 together.
UFUNC_BLOCK_BYTES = 2**18


def best(call: Callable[[], object], seconds: float, repeats: int = 5) -> float:
    """The least mean time of one call over ``repeats`` rounds of ``seconds`` each."""
    call()
    means = []
    for _ in range(repeats):
        count, begin = 0, time.perf_counter()
        while time.perf_counter() - begin < seconds:
            call()
            count += 1
        means.append((time.perf_counter() - begin) / count)
    return min(means)


def loop_floor(seconds: float) -> dict[tuple[str, int], float]:
    """ns per multiply-add of the einsum's inner loop in L1, by weights layout and run length."""
    rng = np.random.default_rng(0)
    floor: dict[tuple[str, int], float] = {}
    for run in RUNS:
        x = np.broadcast_to(rng.standard_normal((TAPS, run), np.float32), (OUTPUTS, TAPS, run))
        out = np.empty((OUTPUTS, run), np.float32)
        tiled = rng.standard_normal((TAPS, run), np.float32)
        scalar = np.broadcast_to(rng.standard_normal((TAPS, 1), np.float32), (TAPS, run))
        for name, weights in (("tiled", tiled), ("scalar", scalar)):

            def call(x: Any = x, w: Any = weights, out: Any = out) -> object:
                return _einsum("ntv,tv->nv", x, w, out=out)

            seconds_a_call = best(call, seconds)
            floor[name, run] = seconds_a_call * 1e9 / (OUTPUTS * TAPS * run)
    return floor


def ufunc_conv(x: Any, weight: Any, k: int) -> Callable[[], object]:
    """The same "same" depthwise conv by NumPy's multiply and add ufuncs (dispatched to AVX-512
    where the CPU has it): per block of ROWS output rows and per tap, a product into a temporary
    and a sum into the output, over a zero-bordered copy of the input; checked once against a
    direct sum, so that both compute the same conv."""
    _, size, _, channels = x.shape
    pad = k // 2
    padded = np.zeros((size + 2 * pad, size + 2 * pad, channels), np.float32)
    rows = padded.reshape(size + 2 * pad, -1)
    taps = weight[:, 0].transpose(1, 2, 0)  # (k, k, C)
    tiled = np.ascontiguousarray(np.broadcast_to(taps[:, :, None, :], (k, k, size, channels)))
    tiled = tiled.reshape(k, k, size * channels)
    out = np.empty((size, size * channels), np.float32)
    block = max(1, min(size, UFUNC_BLOCK_BYTES // (4 * size * channels)))
    scratch = np.empty((block, size * channels), np.float32)

    def run() -> object:
        padded[pad : pad + size, pad : pad + size] = x[0]
        for top in range(0, size, block):
            bottom = min(size, top + block)
            total, product = out[top:bottom], scratch[: bottom - top]
            for i in range(k):
                for j in range(k):
                    view = rows[top + i : bottom + i, j * channels : (j + size) * channels]
                    if i == j == 0:
                        np.multiply(view, tiled[i, j], out=total)
                    else:
                        np.multiply(view, tiled[i, j], out=product)
                        np.add(total, product, out=total)
        return out

    reference = np.pad(x[0], ((pad, pad), (pad, pad), (0, 0)))
    expected = sum(
        reference[i : i + size, j : j + size] * taps[i, j] for i in range(k) for j in range(k)
    )
    run()
    if not np.allclose(out.reshape(size, size, channels), expected, rtol=1e-4, atol=1e-4):
        raise SystemExit("the ufunc conv differs from the direct sum")
    return run


def kernel_rates(
    seconds: float, torch: Any
) -> list[tuple[tuple[int, int, int], float, float, float]]:
    """Per shape: ns per multiply-add of the NumPy kernel, of the ufunc conv, and of oneDNN's
    (nan without torch)."""
    rates = []
    for channels, size, k in SHAPES:
        rng = np.random.default_rng(0)
        conv = Conv2d(channels, channels, k, groups=channels)
        source = Shape(channels, size, size)
        weight = rng.standard_normal((channels, 1, k, k), np.float32)
        x = rng.standard_normal((1, size, size, channels), np.float32)
        plan = plan_conv(conv, source, 1, weight, None, "numpy")
        macs = conv.cost(source).macs

        def numpy_kernel(plan: Any = plan, x: Any = x) -> object:
            return plan(x)

        ours = best(numpy_kernel, seconds) * 1e9 / macs
        ufuncs = best(ufunc_conv(x, weight, k), seconds) * 1e9 / macs
        theirs = float("nan")
        if torch is not None:
            theirs = best(onednn_depthwise(torch, x, weight), seconds) * 1e9 / macs
        rates.append(((channels, size, k), ours, ufuncs, theirs))
    return rates


def one_thread_torch() -> Any:
    """PyTorch on one thread, glibc told to keep the outputs it frees (PyTorch allocates each one;
    unmapped, each call page-faults it back), or None where torch is not installed."""
    try:
        import torch
    except ImportError:
        print("torch is not installed: no oneDNN column")
        return None
    torch.set_num_threads(1)
    keep_freed_memory()
    return torch


def onednn_depthwise(torch: Any, x: Any, weight: Any, bias: Any = None) -> Callable[[], object]:
    """oneDNN's own depthwise conv (``aten.mkldnn_convolution``, "same" padding, stride 1) on the
    NHWC ``x`` by (C, 1, k, k) ``weight``, in NCHW as PyTorch holds it."""
    image = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    taps = torch.from_numpy(weight)
    offset = None if bias is None else torch.from_numpy(bias)
    k, channels = weight.shape[-1], weight.shape[0]

    def call() -> object:
        with torch.inference_mode():
            return torch.ops.aten.mkldnn_convolution(
                image, taps, offset, [k // 2] * 2, [1, 1], [1, 1], channels
            )

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=0.2, help="seconds a timing round")
    args = parser.parse_args()
    torch = one_thread_torch()
    simd = np.show_config(mode="dicts").get("SIMD Extensions", {})
    print(
        f"numpy {np.__version__}, SIMD baseline {'/'.join(simd.get('baseline', ['?']))}, "
        f"found {'/'.join(simd.get('found', ['?']))}; 1 thread; ns per multiply-add"
    )
    with threadpool_limits(limits=1):
        floor = loop_floor(args.seconds)
        rates = kernel_rates(args.seconds, torch)
    print("\neinsum inner loop on cached data (9 taps into runs of v floats):")
    for run in RUNS:
        print(f"  v = {run:4d}: tiled {floor['tiled', run]:.4f}, scalar {floor['scalar', run]:.4f}")
    lowest = min(floor.values())
    tiled = min(value for (name, _), value in floor.items() if name == "tiled")
    print(f"  lowest: {lowest:.4f} (tiled weights, as the kernel has them: {tiled:.4f})")
    print(
        "\nchannels, size, k:  numpy kernel  ufuncs  oneDNN   numpy/oneDNN  ufuncs/numpy  "
        "floor/oneDNN (tiled)"
    )
    for (channels, size, k), ours, ufuncs, theirs in rates:
        print(
            f"  {channels:4d}, {size:3d}, {k}:     {ours:.4f}   {ufuncs:.4f}  {theirs:.4f}   "
            f"{ours / theirs:9.2f}x  {ufuncs / ours:11.2f}x  {lowest / theirs:9.2f}x "
            f"({tiled / theirs:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
