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
* **depthwise** (``groups == in == out``): one ``einsum`` over a strided view holding all
  ``kh * kw`` shifted copies of the padded input, ``out[r, w] = sum_ij x[r+i, w+j] * wt[i, j, w]``
  with the weights pre-tiled along the row, so each tap is one fused multiply-accumulate pass
  over a contiguous ``width * C`` run (NumPy has no FMA ufunc; multiply + add in place was ~1.5x
  slower, broadcasting untiled weights up to 3x slower). Strided convs first split the input into
  its stride phases so the runs stay contiguous; outputs over 2 MiB go in blocks of rows (smaller
  ones measured fastest as one einsum, column blocking never helped).
* **pointwise** (1x1, stride 1, no padding, groups 1): one GEMM ``(N*H*W, Cin) @ (Cin, Cout)``.

Engines: ``plan_conv(..., engine=)`` picks who runs the depthwise conv. ``"numpy"`` is the einsum
above; ``"numba"`` is the compiled loop of :mod:`dsc_calc.bench.numba_kernels` (the optional
``fast`` extra) over the same padded input; ``"auto"`` takes numba when it is importable, else
NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from math import gcd
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from numpy.lib.stride_tricks import as_strided

from dsc_calc.cost.conv import Conv2d, Pair, Shape
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from dsc_calc.choices import Engine

    Array = NDArray[np.float32]

FLOAT32 = np.dtype(np.float32)
ITEM = FLOAT32.itemsize

#: The im2col patch buffer of a standard conv is filled and multiplied in blocks of output rows of
#: at most about this many bytes, so a block stays in the last-level cache between the copy and the
#: GEMM, but never fewer than :data:`MIN_BLOCK_PIXELS` pixels, below which BLAS loses efficiency.
PATCH_BLOCK_BYTES = 2 * 2**20
MIN_BLOCK_PIXELS = 512


#: A depthwise output larger than this is computed in blocks of rows of about DEPTHWISE_ROWS_BYTES.
DEPTHWISE_BLOCK_BYTES = 2 * 2**20
DEPTHWISE_ROWS_BYTES = 256 * 2**10


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
) -> ConvPlan:
    """The fastest kernel for ``conv`` on ``batch`` samples of ``source``, buffers allocated.

    ``weight`` has PyTorch's layout ``(out, in / groups, kh, kw)``; ``bias`` is ``(out,)`` and is
    required exactly when ``conv.bias`` is true. ``engine`` picks the depthwise kernel (see the
    module docstring; NumPy unless asked, so results never depend on what else is installed);
    the other kernels are NumPy + BLAS whatever it says.
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
    geometry = _Geometry.of(conv, source, out_shape, batch)
    if conv.groups == conv.in_channels == conv.out_channels:
        if chosen == "numba":
            return NumbaDepthwisePlan(geometry, weight, bias)
        return DepthwisePlan(geometry, weight, bias)
    if conv.is_pointwise and conv.stride == (1, 1) and geometry.no_padding:
        return PointwisePlan(geometry, weight, bias)
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
    plan = plan_conv(conv, Shape(channels, height, width), batch, weight, bias, engine)
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
        tiled = kh * kw * conv.in_channels * out.width
        if conv.stride == (1, 1):
            return ITEM * (padded + output + tiled)
        sh, sw = conv.stride
        phases = sh * sw * batch * -(-padded_height // sh) * -(-padded_width // sw)
        partial = output if len(_phase_taps(conv.kernel, conv.stride, conv.dilation)) > 1 else 0
        return ITEM * (phases * source.channels + output + partial + tiled)
    if conv.is_pointwise and conv.stride == (1, 1) and top + bottom + left + right == 0:
        return ITEM * (output + weights)
    rows = _rows_per_block(out.width, kh * kw * conv.in_channels, out.height)
    patches = rows * out.width * kh * kw * conv.in_channels
    grouped_out = rows * out.width * conv.out_channels if conv.groups > 1 else 0
    return ITEM * (padded + patches + grouped_out + output + weights)


def _rows_per_block(width: int, depth: int, rows: int) -> int:
    """Output rows per im2col block: within the byte budget, but at least MIN_BLOCK_PIXELS."""
    by_bytes = PATCH_BLOCK_BYTES // (ITEM * width * depth)
    by_pixels = -(-MIN_BLOCK_PIXELS // width)
    return max(1, min(rows, max(by_bytes, by_pixels)))


@dataclass(frozen=True, slots=True)
class _Geometry:
    """Everything a kernel needs to know about the shapes, resolved once."""

    conv: Conv2d
    batch: int
    channels: int
    height: int
    width: int
    out_channels: int
    out_height: int
    out_width: int
    top: int
    left: int
    padded_height: int
    padded_width: int

    @classmethod
    def of(cls, conv: Conv2d, source: Shape, out: Shape, batch: int) -> _Geometry:
        (top, bottom), (left, right) = conv.padding_sides(source.height, source.width)
        return cls(
            conv,
            batch,
            source.channels,
            source.height,
            source.width,
            out.channels,
            out.height,
            out.width,
            top,
            left,
            source.height + top + bottom,
            source.width + left + right,
        )

    @property
    def no_padding(self) -> bool:
        return self.padded_height == self.height and self.padded_width == self.width

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.height, self.width, self.channels)

    @property
    def output_shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.out_height, self.out_width, self.out_channels)


class _Padded:
    """A zero-bordered input buffer: each call copies only the interior; borders stay zero."""

    def __init__(self, g: _Geometry) -> None:
        self.geometry = g
        self.buffer: Array | None = None
        if not g.no_padding:
            self.buffer = np.zeros(
                (g.batch, g.padded_height, g.padded_width, g.channels), dtype=np.float32
            )

    def fill(self, x: Array) -> Array:
        g = self.geometry
        if x.shape != g.input_shape:
            raise DscCalcError("x", f"must have NHWC shape {g.input_shape}, got {x.shape}")
        if self.buffer is None:
            return np.ascontiguousarray(x, dtype=np.float32)
        self.buffer[:, g.top : g.top + g.height, g.left : g.left + g.width, :] = x
        return self.buffer

    @property
    def nbytes(self) -> int:
        return 0 if self.buffer is None else self.buffer.nbytes


def _phase_taps(
    kernel: Pair, stride: Pair, dilation: Pair
) -> list[tuple[int, int, list[int], list[int]]]:
    """Taps grouped by the stride phase they read: ``(row phase, col phase, rows, cols)``.

    With stride ``s``, tap ``i`` reads input rows ``r*s + i*d``: all of phase ``(i*d) % s``. Within
    one phase the taps are evenly spaced, so each group is one strided view of that phase.
    """
    groups = []
    for a in range(stride[0]):
        rows = [i for i in range(kernel[0]) if (i * dilation[0]) % stride[0] == a]
        for b in range(stride[1]):
            cols = [j for j in range(kernel[1]) if (j * dilation[1]) % stride[1] == b]
            if rows and cols:
                groups.append((a, b, rows, cols))
    return groups


class DepthwisePlan:
    """Depthwise conv as one einsum per stride phase over shifted views of the padded input.

    Stride 1: one einsum over the ``kh * kw`` shifted views of the padded input, each a run of
    ``width * C`` contiguous values. Stride ``s > 1``: the input is first split into its ``s*s``
    phases (rows ``a::s``, columns ``b::s``), one pass, so that every tap again reads contiguous
    rows of its phase; one einsum per phase, accumulated. (Reading the strided input directly
    leaves NumPy an inner loop of only ``C`` values: 3-4x slower here.)
    """

    kind = "depthwise"

    def __init__(self, g: _Geometry, weight: Array, bias: Array | None) -> None:
        self.geometry = g
        conv = g.conv
        kh, kw = conv.kernel
        channels = g.channels
        taps = np.ascontiguousarray(weight.reshape(channels, kh, kw).transpose(1, 2, 0))
        self.unit_stride = conv.stride == (1, 1)
        sh, sw = conv.stride
        self.phase_height = -(-g.padded_height // sh)
        self.phase_width = -(-g.padded_width // sw)
        self.padded = _Padded(g) if self.unit_stride else None
        self.phases: Array | None = None
        if not self.unit_stride:
            self.phases = np.zeros(
                (sh, sw, g.batch, self.phase_height, self.phase_width, channels), np.float32
            )
        self.groups = []
        for a, b, rows, cols in _phase_taps(conv.kernel, conv.stride, conv.dilation):
            chosen = taps[np.ix_(rows, cols)].reshape(len(rows), len(cols), 1, channels)
            # Tile the taps along the row so each tap is one contiguous (width * C) stream.
            tiled = np.tile(chosen, (1, 1, g.out_width, 1))
            weights = np.ascontiguousarray(
                tiled.reshape(len(rows), len(cols), g.out_width * channels), dtype=np.float32
            )
            self.groups.append((a, b, rows, cols, weights))
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32)
        self.out: Array = np.empty(g.output_shape, dtype=np.float32)
        # Only outputs past DEPTHWISE_BLOCK_BYTES per image are done in blocks of rows: below
        # that, one einsum over the whole image measured fastest here; above, ~2x less traffic.
        row_bytes = ITEM * g.batch * g.out_width * channels
        self.block_rows = g.out_height
        if row_bytes * g.out_height > DEPTHWISE_BLOCK_BYTES:
            self.block_rows = max(1, DEPTHWISE_ROWS_BYTES // row_bytes)
        self.partial: Array | None = None
        if len(self.groups) > 1:
            self.partial = np.empty(g.output_shape, dtype=np.float32)

    @property
    def workspace_bytes(self) -> int:
        buffers = [self.out, self.partial, self.phases]
        total = sum(buffer.nbytes for buffer in buffers if buffer is not None)
        total += sum(group[4].nbytes for group in self.groups)
        return total + (self.padded.nbytes if self.padded is not None else 0)

    def _split_phases(self, x: Array, phases: Array) -> Array:
        """Copy ``x`` into its stride phases; the zero borders of the padding are never written."""
        g = self.geometry
        if x.shape != g.input_shape:
            raise DscCalcError("x", f"must have NHWC shape {g.input_shape}, got {x.shape}")
        sh, sw = g.conv.stride
        for a, b in {(group[0], group[1]) for group in self.groups}:
            # Phase row q is padded row a + q*sh, i.e. input row a + q*sh - top.
            q0 = max(0, -(-(g.top - a) // sh))
            q1 = (g.height - 1 + g.top - a) // sh
            u0 = max(0, -(-(g.left - b) // sw))
            u1 = (g.width - 1 + g.left - b) // sw
            if q1 < q0 or u1 < u0:
                continue
            r0, c0 = a + q0 * sh - g.top, b + u0 * sw - g.left
            phases[a, b, :, q0 : q1 + 1, u0 : u1 + 1, :] = x[
                :, r0 : r0 + sh * (q1 - q0) + 1 : sh, c0 : c0 + sw * (u1 - u0) + 1 : sw, :
            ]
        return phases

    def __call__(self, x: Array) -> Array:
        g = self.geometry
        (sh, sw), (dh, dw) = g.conv.stride, g.conv.dilation
        c = g.channels
        if self.phases is not None:
            source = self._split_phases(x, self.phases).reshape(-1)
        elif self.padded is not None:
            source = self.padded.fill(x).reshape(-1)
        else:  # pragma: no cover - the constructor sets one of the two
            raise AssertionError("a depthwise plan without an input buffer")
        row = self.phase_width * c
        image = self.phase_height * row
        out = self.out.reshape(g.batch, g.out_height, g.out_width * c)
        partial = None if self.partial is None else self.partial.reshape(out.shape)
        for r0 in range(0, g.out_height, self.block_rows):
            r1 = min(g.out_height, r0 + self.block_rows)
            for position, (a, b, rows, cols, weights) in enumerate(self.groups):
                phase = (a * sw + b) * g.batch * image
                start = phase + (r0 + rows[0] * dh // sh) * row + (cols[0] * dw // sw) * c
                row_step = (dh // gcd(sh, dh)) * row
                col_step = (dw // gcd(sw, dw)) * c
                view = as_strided(
                    source[start:],
                    shape=(len(rows), len(cols), g.batch, r1 - r0, g.out_width * c),
                    strides=tuple(ITEM * s for s in (row_step, col_step, image, row, 1)),
                    writeable=False,
                )
                block = out[:, r0:r1]
                target = block if position == 0 or partial is None else partial[:, r0:r1]
                np.einsum("ijnrw,ijw->nrw", view, weights, out=target)
                if target is not block:
                    np.add(block, target, out=block)
        if self.bias is not None:
            np.add(self.out, self.bias, out=self.out)
        return self.out


class NumbaDepthwisePlan:
    """Depthwise conv by the compiled loop of :mod:`~dsc_calc.bench.numba_kernels`, channels last.

    Reads the same zero-bordered padded input as :class:`DepthwisePlan` (no stride phases: the
    loop indexes the strided pixels directly, each still a contiguous run of ``C`` values).
    """

    kind = "depthwise"

    def __init__(self, g: _Geometry, weight: Array, bias: Array | None) -> None:
        from dsc_calc.bench.numba_kernels import depthwise_nhwc

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


class PointwisePlan:
    """A 1x1 conv as one GEMM over all pixels: ``(N*H*W, Cin) @ (Cin, Cout)``."""

    kind = "pointwise"

    def __init__(self, g: _Geometry, weight: Array, bias: Array | None) -> None:
        self.geometry = g
        self.weights: Array = np.ascontiguousarray(
            weight.reshape(g.out_channels, g.channels).T, dtype=np.float32
        )
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32)
        self.out: Array = np.empty(g.output_shape, dtype=np.float32)

    @property
    def workspace_bytes(self) -> int:
        return self.out.nbytes + self.weights.nbytes

    def __call__(self, x: Array) -> Array:
        g = self.geometry
        if x.shape != g.input_shape:
            raise DscCalcError("x", f"must have NHWC shape {g.input_shape}, got {x.shape}")
        pixels = g.batch * g.height * g.width
        flat = np.ascontiguousarray(x).reshape(pixels, g.channels)
        out = self.out.reshape(pixels, g.out_channels)
        np.matmul(flat, self.weights, out=out)
        if self.bias is not None:
            np.add(out, self.bias, out=out)
        return self.out


class StandardPlan:
    """im2col + GEMM, blocked over output rows; groups run as one batched GEMM per block."""

    kind = "standard"

    def __init__(self, g: _Geometry, weight: Array, bias: Array | None) -> None:
        self.geometry = g
        self.padded = _Padded(g)
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
        self.rows = _rows_per_block(g.out_width, kh * kw * g.channels, g.out_height)
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
        for n in range(g.batch):
            image = padded[n]
            for r0 in range(0, g.out_height, self.rows):
                rows = min(self.rows, g.out_height - r0)
                patches = self.patches[:, :rows]
                for i in range(kh):
                    top = r0 * sh + i * dh
                    for j in range(kw):
                        left = j * dw
                        tap = image[
                            top : top + sh * (rows - 1) + 1 : sh,
                            left : left + sw * (g.out_width - 1) + 1 : sw,
                        ]
                        grouped = tap.reshape(rows, g.out_width, groups, cg).transpose(2, 0, 1, 3)
                        patches[:, :, :, i, j, :] = grouped
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
