"""NumPy float32 convolution kernels for ``dsc-calc bench``: standard, depthwise and pointwise.

Only the ``bench`` command imports this module (lazily), so importing NumPy at the top is fine.

Layout: activations are channels-last, ``(batch, height, width, channels)`` (NHWC), because it is
the fastest layout for every kernel here: a pointwise conv is then one GEMM with no transpose, the
im2col patches of a standard conv are contiguous rows, and every shifted slice a depthwise conv
reads keeps a whole row of ``width * channels`` values contiguous, so NumPy's inner loops run over
thousands of elements instead of ``width`` (measured here: NCHW depthwise was 3-10x slower).
Weights are given in PyTorch's layout ``(out, in / groups, kh, kw)`` and reordered once, when a
kernel is planned.

A *plan* (:func:`plan_conv`) owns its buffers (padded input, im2col patches, output) and its
reordered weights, allocated once: calling it only computes. That keeps allocation and page faults
(which made fresh multi-MB buffers ~2.5x slower here) out of the timed region, as an inference
engine does. The array a plan returns is its own output buffer, overwritten by the next call.

Kernels:

* **standard** (any groups, stride, padding, dilation): im2col into a preallocated patch buffer,
  blocked over output rows so a block stays in cache, then one BLAS GEMM per block and group.
* **depthwise** (``groups == in == out``): ``out[r, q] = sum_ij x[r+i, q+j] * wt[i, j]`` by
  einsums over strided views of the input, with the weights pre-tiled along the row, so each
  tap is one fused multiply-accumulate pass over a contiguous ``width * C`` run (NumPy has no FMA
  ufunc; multiply + add in place was ~1.5x slower, a multiply into a per-tap buffer then a sum
  ~1.7x slower, broadcasting untiled weights up to 3x slower). Stride 1 reads the input itself,
  region by region, and skips the products with padding (no padded copy); strided convs first
  split the input into its stride phases so the runs stay contiguous. The views are built once
  per input array, not per call; with ``threads > 1`` blocks of output rows are shared out.
  The einsum's inner loop is compiled for NumPy's baseline SIMD (SSE on x86-64, 4 floats a step,
  multiply then add), so the kernel is bound by that loop, not by memory: about 0.14-0.19 ns per
  multiply-add here whatever the working set (L1 to L3), the floor of every NumPy formulation
  measured, and 2-2.3x oneDNN's AVX-512 depthwise kernel at 112x112 with 32 channels and for 5x5
  with 512 channels on one thread.
* **pointwise** (1x1, stride 1, no padding, groups 1): one GEMM ``(N*H*W, Cin) @ (Cin, Cout)``.

Engines: ``plan_conv(..., engine=)`` picks who runs the depthwise conv. ``"numpy"`` is the einsum
above; ``"numba"`` is the compiled loop of :mod:`dsc_calc.bench.numba_kernels` (the optional
``fast`` extra) over a zero-bordered copy of the input; ``"auto"`` takes numba when it is
importable, else NumPy.
"""

from __future__ import annotations

import time
from functools import cache
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from dsc_calc.bench.depthwise import (
    ITEM,
    DepthwisePlan,
    Geometry,
    Padded,
    output_regions,
    phase_taps,
    rows_per_block,
    strided,
)
from dsc_calc.cost.conv import Conv2d, Shape
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from dsc_calc.choices import Engine

    Array = NDArray[np.float32]


class ConvPlan(Protocol):
    """A convolution ready to run on NHWC float32 input of one fixed shape."""

    kind: str

    def __call__(self, x: Array) -> Array: ...

    @property
    def workspace_bytes(self) -> int: ...


def plan_conv(
    conv: Conv2d,
    source: Shape,
    batch: int,
    weight: Array,
    bias: Array | None = None,
    engine: Engine = "numpy",
    threads: int = 1,
    *,
    tune: bool = True,
) -> ConvPlan:
    """The fastest kernel for ``conv`` on ``batch`` samples of ``source``, buffers allocated.

    ``weight`` has PyTorch's layout ``(out, in / groups, kh, kw)``; ``bias`` is ``(out,)`` and is
    required exactly when ``conv.bias`` is true. ``engine`` picks the depthwise kernel (see the
    module docstring; NumPy unless asked, so results never depend on what else is installed);
    the other kernels are NumPy + BLAS whatever it says. ``threads`` is how many threads the NumPy
    depthwise kernel shares its row blocks between, at most one per
    :data:`DEPTHWISE_THREAD_MACS` of work (the GEMMs follow BLAS's own thread count). ``tune``
    lets a pointwise plan time its GEMM two ways, a few ms when it is made, and keep the faster
    (:data:`SMALL_GEMM_MACS`); without it the plan is one GEMM.
    """
    chosen = resolve_engine(engine)
    out_shape = conv.output_shape(source)
    expected = (conv.out_channels, conv.in_channels // conv.groups, *conv.kernel)
    if tuple(weight.shape) != expected:
        raise DscCalcError("weight", f"must have shape {expected}, got {tuple(weight.shape)}")
    if conv.bias != (bias is not None):
        raise DscCalcError(
            "bias", "give a bias vector exactly when the layer has a bias (conv.bias is true)"
        )
    if bias is not None and tuple(bias.shape) != (conv.out_channels,):
        raise DscCalcError("bias", f"must have shape ({conv.out_channels},), got {bias.shape}")
    geometry = Geometry.of(conv, source, out_shape, batch)
    if conv.groups == conv.in_channels == conv.out_channels:
        if chosen == "numba":
            from dsc_calc.bench.numba_kernels import NumbaDepthwisePlan

            return NumbaDepthwisePlan(geometry, weight, bias)
        return DepthwisePlan(geometry, weight, bias, threads)
    if conv.is_pointwise and conv.stride == (1, 1) and geometry.no_padding:
        return PointwisePlan(geometry, weight, bias, tune)
    return StandardPlan(geometry, weight, bias)


@cache
def numba_available() -> bool:
    """Whether the compiled kernel module imports (numba installed and working with this NumPy)."""
    try:
        import dsc_calc.bench.numba_kernels  # noqa: F401
    except ImportError:  # pragma: no cover - only in an install without the fast extra
        return False
    return True


def resolve_engine(engine: str) -> Literal["numpy", "numba"]:
    """The engine that will run: ``auto`` becomes numba when it is importable, else numpy."""
    if engine == "numpy":
        return "numpy"
    if engine == "numba":
        if not numba_available():
            raise DscCalcError(
                "engine",
                "'numba' needs numba, which is not installed: "
                "pip install 'dsc-calc[fast]', or use 'auto' or 'numpy'",
            )
        return "numba"
    if engine == "auto":
        return "numba" if numba_available() else "numpy"
    raise DscCalcError("engine", f"must be one of auto, numpy, numba, got {engine!r}")


def conv2d_nhwc(
    x: Array,
    conv: Conv2d,
    weight: Array,
    bias: Array | None = None,
    engine: Engine = "numpy",
) -> Array:
    """One-shot convolution of NHWC ``x`` (a fresh output array; plans are faster when repeated)."""
    if x.ndim != 4:
        raise DscCalcError("x", f"must be NHWC (batch, height, width, channels), got {x.shape}")
    batch, height, width, channels = x.shape
    source = Shape(channels, height, width)
    plan = plan_conv(conv, source, batch, weight, bias, engine, tune=False)  # one call: no tuning
    return plan(np.ascontiguousarray(x, dtype=np.float32)).copy()


def estimate_workspace_bytes(
    conv: Conv2d, source: Shape, batch: int, engine: Engine = "numpy"
) -> int:
    """Bytes a plan for ``conv`` allocates (padded input, patches, output, reordered weights)."""
    out = conv.output_shape(source)
    (top, bottom), (left, right) = conv.padding_sides(source.height, source.width)
    padded_height = source.height + top + bottom
    padded_width = source.width + left + right
    padded = batch * padded_height * padded_width * source.channels
    kh, kw = conv.kernel
    weights = conv.params
    output = batch * out.numel
    if conv.groups == conv.in_channels == conv.out_channels:
        if resolve_engine(engine) == "numba":
            border = padded if (padded_height, padded_width) != (source.height, source.width) else 0
            return ITEM * (border + output + (kh * kw + 1) * conv.in_channels)
        bias_row = out.width * conv.in_channels if conv.bias else 0
        if conv.stride == (1, 1):
            regions = output_regions(Geometry.of(conv, source, out, batch))
            counts = (r.workspace_count(conv.in_channels, batch, conv.dilation[0]) for r in regions)
            return ITEM * (output + bias_row + sum(counts))
        tiled = kh * kw * conv.in_channels * out.width
        sh, sw = conv.stride
        phases = sh * sw * batch * -(-padded_height // sh) * -(-padded_width // sw)
        partial = output if len(phase_taps(conv.kernel, conv.stride, conv.dilation)) > 1 else 0
        return ITEM * (phases * source.channels + output + partial + tiled + bias_row)
    if conv.is_pointwise and conv.stride == (1, 1) and top + bottom + left + right == 0:
        return ITEM * (output + weights)
    rows = rows_per_block(out.width, kh * kw * conv.in_channels, out.height)
    patches = rows * out.width * kh * kw * conv.in_channels
    grouped_out = rows * out.width * conv.out_channels if conv.groups > 1 else 0
    return ITEM * (padded + patches + grouped_out + output + weights)


#: OpenBLAS, the BLAS of NumPy's wheels, runs a GEMM of at most this many multiply-adds with its
#: small-matrix kernels, which skip packing the operands, where its kernel path has them (SkylakeX
#: and its AVX-512 successors). On such a path and one thread, a 1x1 conv with few channels ran
#: faster as GEMMs over chunks of pixels under that size: 12544 pixels x 32 -> 64 channels in
#: 0.57 ms against 0.80 ms as one GEMM, 30-40 % less for 16-64 input channels. On OpenBLAS's
#: Haswell path (no small kernels) the chunks cost 3-10 % more, and on two threads up to 2x more
#: (the small kernels use one), so a pointwise plan times both ways when it is made and keeps the
#: faster (:func:`_faster_chunking`).
SMALL_GEMM_MACS = 1_000_000

#: Chunks of fewer pixels than this are not tried: below it the calls cost more than they save
#: (96 -> 144 channels in chunks of 72 pixels: 12 % slower here).
MIN_CHUNK_PIXELS = 128

#: Each way is timed on the first :data:`CHUNK_SAMPLE` chunks' worth of pixels (at most; zeros,
#: so the time and memory it takes are bounded whatever the layer), called interleaved with the
#: other until it has run :data:`CHUNK_SECONDS` (and at least :data:`CHUNK_TRIALS` times, after a
#: warm-up call); the fastest call counts. Chunks are kept only when :data:`CHUNK_GAIN` faster: a
#: 0.14 ms GEMM, timed 3 times each way, once kept chunks that were 2x slower on two threads.
CHUNK_SAMPLE = 16
CHUNK_SECONDS = 0.002
CHUNK_TRIALS = 5
CHUNK_GAIN = 0.9


class PointwisePlan:
    """A 1x1 conv as GEMMs over the pixels, ``(N*H*W, Cin) @ (Cin, Cout)``: one, or one per chunk
    of :attr:`chunk_pixels` when that was measured faster here (:data:`SMALL_GEMM_MACS`; only if
    ``tune``, else one)."""

    kind = "pointwise"

    def __init__(self, g: Geometry, weight: Array, bias: Array | None, tune: bool = True) -> None:
        self.geometry = g
        self.weights: Array = np.ascontiguousarray(
            weight.reshape(g.out_channels, g.channels).T, dtype=np.float32
        )
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32)
        self.out: Array = np.empty(g.output_shape, dtype=np.float32)
        self.pixels = g.batch * g.height * g.width
        #: Pixels per GEMM call; all of them unless chunks were measured faster.
        self.chunk_pixels = self.pixels
        chunk = SMALL_GEMM_MACS // (g.channels * g.out_channels)
        if tune and MIN_CHUNK_PIXELS <= chunk < self.pixels:
            self.chunk_pixels = _faster_chunking(self, chunk)

    @property
    def workspace_bytes(self) -> int:
        return self.out.nbytes + self.weights.nbytes

    def gemms(self, flat: Array, out: Array, chunk: int) -> None:
        """``out = flat @ weights``, as one GEMM or one per ``chunk`` rows."""
        rows = flat.shape[0]
        if chunk >= rows:
            np.matmul(flat, self.weights, out=out)
            return
        for start in range(0, rows, chunk):
            np.matmul(flat[start : start + chunk], self.weights, out=out[start : start + chunk])

    def __call__(self, x: Array) -> Array:
        g = self.geometry
        if x.shape != g.input_shape:
            raise DscCalcError("x", f"must have NHWC shape {g.input_shape}, got {x.shape}")
        flat = np.ascontiguousarray(x).reshape(self.pixels, g.channels)
        out = self.out.reshape(self.pixels, g.out_channels)
        self.gemms(flat, out, self.chunk_pixels)
        if self.bias is not None:
            np.add(out, self.bias, out=out)
        return self.out


def _faster_chunking(plan: PointwisePlan, chunk: int) -> int:
    """``chunk`` if GEMMs of that many pixels ran at least 10 % faster than one GEMM, else all the
    pixels (see :data:`CHUNK_SAMPLE`)."""
    sample = min(plan.pixels, CHUNK_SAMPLE * chunk)
    zeros: Array = np.zeros((sample, plan.geometry.channels), dtype=np.float32)
    out = plan.out.reshape(plan.pixels, plan.geometry.out_channels)[:sample]
    ways = (sample, chunk)
    fastest = dict.fromkeys(ways, float("inf"))
    spent = dict.fromkeys(ways, 0.0)
    calls = 0
    while calls <= CHUNK_TRIALS or min(spent.values()) < CHUNK_SECONDS:
        for way in ways:
            start = time.perf_counter()
            plan.gemms(zeros, out, way)
            took = time.perf_counter() - start
            if calls:  # the first call of each way warms it up
                fastest[way] = min(fastest[way], took)
                spent[way] += took
        calls += 1
    return chunk if fastest[chunk] < CHUNK_GAIN * fastest[sample] else plan.pixels


class StandardPlan:
    """im2col + GEMM, blocked over output rows; groups run as one batched GEMM per block."""

    kind = "standard"

    def __init__(self, g: Geometry, weight: Array, bias: Array | None) -> None:
        self.geometry = g
        self.padded = Padded(g)
        conv = g.conv
        kh, kw = conv.kernel
        groups = conv.groups
        cg = g.channels // groups
        og = g.out_channels // groups
        # (out, cg, kh, kw) -> (groups, kh, kw, cg, og) -> (groups, kh*kw*cg, og): the patch order.
        reordered = weight.reshape(groups, og, cg, kh, kw).transpose(0, 3, 4, 2, 1)
        self.weights: Array = np.ascontiguousarray(
            reordered.reshape(groups, kh * kw * cg, og), dtype=np.float32
        )
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32)
        self.rows = rows_per_block(g.out_width, kh * kw * g.channels, g.out_height)
        self.patches: Array = np.empty(
            (groups, self.rows, g.out_width, kh, kw, cg), dtype=np.float32
        )
        self.grouped: Array | None = None
        if groups > 1:
            self.grouped = np.empty((groups, self.rows * g.out_width, og), dtype=np.float32)
        self.out: Array = np.empty(g.output_shape, dtype=np.float32)

    @property
    def workspace_bytes(self) -> int:
        extra = 0 if self.grouped is None else self.grouped.nbytes
        return (
            self.padded.nbytes + self.patches.nbytes + extra + self.out.nbytes + self.weights.nbytes
        )

    def __call__(self, x: Array) -> Array:
        g = self.geometry
        padded = self.padded.fill(x)
        (sh, sw), (dh, dw) = g.conv.stride, g.conv.dilation
        kh, kw = g.conv.kernel
        groups = g.conv.groups
        cg = g.channels // groups
        og = g.out_channels // groups
        depth = kh * kw * cg
        row = g.padded_width * g.channels
        flat = padded.reshape(-1)
        for n in range(g.batch):
            for r0 in range(0, g.out_height, self.rows):
                rows = min(self.rows, g.out_height - r0)
                patches = self.patches[:, :rows]
                # Every tap of the block in one copy: patch (group, r, q, i, j) is the input pixel
                # (r * sh + i * dh, q * sw + j * dw) of that group's channels.
                taps = strided(
                    flat,
                    (n * g.padded_height + r0 * sh) * row,
                    patches.shape,
                    (cg, sh * row, sw * g.channels, dh * row, dw * g.channels, 1),
                    read_only=True,
                )
                np.copyto(patches, taps)
                pixels = rows * g.out_width
                out = self.out[n, r0 : r0 + rows].reshape(pixels, g.out_channels)
                if self.grouped is None:
                    np.matmul(patches.reshape(pixels, depth), self.weights[0], out=out)
                else:
                    result = self.grouped[:, :pixels]
                    np.matmul(patches.reshape(groups, pixels, depth), self.weights, out=result)
                    out.reshape(pixels, groups, og)[...] = result.transpose(1, 0, 2)
        if self.bias is not None:
            np.add(self.out, self.bias, out=self.out)
        return self.out


class SeparablePlan:
    """The depthwise plan then the pointwise plan, the pointwise reading the depthwise buffer."""

    kind = "separable"

    def __init__(self, depthwise: ConvPlan, pointwise: ConvPlan) -> None:
        self.depthwise = depthwise
        self.pointwise = pointwise

    @property
    def workspace_bytes(self) -> int:
        return self.depthwise.workspace_bytes + self.pointwise.workspace_bytes

    def __call__(self, x: Array) -> Array:
        return self.pointwise(self.depthwise(x))


def to_nhwc(x: Array) -> Array:
    """An NCHW array as a contiguous NHWC copy."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_nchw(x: Array) -> Array:
    """An NHWC array as a contiguous NCHW copy."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
