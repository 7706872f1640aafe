"""The conv geometry the kernels of ``dsc-calc bench`` share (the padded input, blocks of output
rows) and the NumPy depthwise kernel (einsums over the regions and stride phases of the output,
shared by threads in balanced row blocks); the optional numba one is in
:mod:`dsc_calc.bench.numba_kernels`.

:func:`dsc_calc.bench.kernels.plan_conv` picks the kernels; this module holds the geometry (the
padded input, the tap runs of each axis, the regions) and the depthwise plans themselves.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from math import gcd
from typing import TYPE_CHECKING

import numpy as np

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import NDArray

    from dsc_calc.cost.conv import Conv2d, Pair, Shape

    Array = NDArray[np.float32]

FLOAT32 = np.dtype(np.float32)
ITEM = FLOAT32.itemsize

#: The im2col patch buffer of a standard conv is filled and multiplied in blocks of output rows of
#: at most about this many bytes, so a block stays in the last-level cache between the copy and the
#: GEMM, but never fewer than :data:`MIN_BLOCK_PIXELS` pixels, below which BLAS loses efficiency.
PATCH_BLOCK_BYTES = 2 * 2**20
MIN_BLOCK_PIXELS = 512

#: The NumPy depthwise conv is cut into blocks of output rows of about this many bytes (at least one
#: row, and at least one block per thread), the units its threads share. Its einsums sum every tap
#: into a row before the next row, so block size hardly matters for the cache (256 KiB to
#: whole-image blocks within 5% of each other here, stride 1 and 2) while each block costs an
#: einsum call (3-5 us): at 112x112x32, ten calls were 5% slower than four.
DEPTHWISE_ROWS_BYTES = 2 * 2**20

#: ``threads`` only reach the NumPy depthwise conv in shares of at least this many multiply-adds
#: (about 0.1 ms on one thread here): waking another thread and waiting for it cost 30-100 us on
#: the 2-vCPU virtual machine this was tuned on, so a 14x14x256 3x3 conv (0.45 M) ran slower on
#: two threads than on one, while 56x56x64 (1.8 M) and larger ran faster.
DEPTHWISE_THREAD_MACS = 750_000

#: A stride-1 region over more than one output row whose rows are at most this many floats (its
#: columns x channels: the left and right border columns of a "same" conv with few channels) is
#: computed from a copy of the input columns it reads, a strip with its rows and channels as one
#: contiguous axis: each tap is then one long run instead of one ``C``-float run per output row.
#: At 112x112x32 the border columns' einsum took 0.9 ns a multiply-add, 38 us (the interior's 0.14
#: ns), and from a strip 0.18 ns, 14 us with both copies: 4% off the kernel; at 56x56x64 2-3%, at
#: 14x14x256 (256 floats) no change either way.
STRIP_FLOATS = 256

#: A stride-1 region of at least this many channels broadcasts its taps' weights along its row
#: (stride 0) instead of tiling them: each einsum inner loop is then one pixel's channels, not the
#: whole row, but the weights shrink to one pixel's worth a tap (a 5x5 conv at 14x14x512: 51 KiB,
#: not 0.5 MiB streaming through L2 with the input). The interior einsum of that conv took 0.81x
#: the time of the tiled one, 3x3 at 14x14x512 0.82x, 7x7x1024 0.93x;
#: at 256 channels the shorter loop cost more than it saved (1.16x). Same sums, bit for bit.
BROADCAST_CHANNELS = 512

#: The einsums of the depthwise conv. Stride 1, per region: stacked spans a and b, batch n, rows r,
#: taps i and j, and the region's width x channels v as one axis (NumPy's einsum does not merge
#: axes, and its inner loop is the last axis alone). A stride-1 strip: stacked column spans b,
#: batch n, taps i and j, the block's rows x width x channels v. Strides > 1, per stride phase: taps
#: i and j, batch n, rows r, each row's width x channels w. Each output sums its taps in (i, j)
#: order from zero in all three (einsum keeps the written axis order where its operands' strides
#: disagree, as the strip's input and weights do on i and j).
DIRECT_SUBSCRIPTS = "abnrijv,abijv->abnrv"
BROADCAST_SUBSCRIPTS = "abnrijqc,abijc->abnrqc"
STRIP_SUBSCRIPTS = "bnijv,bijv->bnv"
PHASE_SUBSCRIPTS = "ijnrw,ijw->nrw"


def _c_einsum() -> Callable[..., object]:
    """NumPy's C einsum, without the Python wrapper of ``np.einsum`` (~1.6 us a call here, a few
    per depthwise conv), where this NumPy exposes it; else ``np.einsum``."""
    try:
        from numpy._core.multiarray import c_einsum  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1.26
        try:
            from numpy.core.multiarray import c_einsum  # type: ignore[no-redef]
        except ImportError:
            return np.einsum
    return c_einsum


_einsum = _c_einsum()


def depthwise_threads(macs: int, threads: int) -> int:
    """How many of ``threads`` the NumPy depthwise kernel shares a conv of ``macs`` between: as
    many as get :data:`DEPTHWISE_THREAD_MACS` each, at least one."""
    return max(1, min(threads, macs // DEPTHWISE_THREAD_MACS))


def rows_per_block(width: int, depth: int, rows: int) -> int:
    """Output rows per im2col block: within the byte budget, but at least MIN_BLOCK_PIXELS."""
    by_bytes = PATCH_BLOCK_BYTES // (ITEM * width * depth)
    by_pixels = -(-MIN_BLOCK_PIXELS // width)
    return max(1, min(rows, max(by_bytes, by_pixels)))


@dataclass(frozen=True, slots=True)
class Geometry:
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
    def of(cls, conv: Conv2d, source: Shape, out: Shape, batch: int) -> Geometry:
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


class Padded:
    """A zero-bordered input buffer: each call copies only the interior; borders stay zero."""

    def __init__(self, g: Geometry) -> None:
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


def phase_taps(
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


@dataclass(frozen=True, slots=True)
class _Span:
    """Output positions ``[start, stop)`` of one axis whose in-bounds taps are ``[first, last)``.

    The other taps of those positions read padding: their products are zero and are not computed.
    """

    start: int
    stop: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def taps(self) -> int:
        return self.last - self.first


def _spans(outputs: int, kernel: int, dilation: int, before: int, inputs: int) -> list[_Span]:
    """One axis of a stride-1 conv, its output positions in runs that read the same taps in bounds.

    Position ``p`` reads input ``p + i * dilation - before`` for tap ``i``, so the taps that land
    inside form one range: a 3-tap axis padded by 1 has three runs, the first position (taps 1 and
    2), the interior (all three) and the last position (taps 0 and 1). Tap ``i`` is in bounds
    from ``before - i * dilation`` up to ``inputs + before - i * dilation``: the range can change
    only there, so the runs are found from those 2 * kernel points, not position by position (an
    axis of a million outputs has at most 2 * kernel + 1 runs).
    """
    points = {0, outputs}
    for tap in range(kernel):
        for point in (before - tap * dilation, inputs + before - tap * dilation):
            if 0 < point < outputs:
                points.add(point)
    spans: list[_Span] = []
    bounds = sorted(points)
    for start, stop in itertools.pairwise(bounds):
        first = max(0, -(-(before - start) // dilation))
        last = min(kernel, (inputs - 1 + before - start) // dilation + 1)
        if first >= last:  # only padding: the output is zero (plus the bias)
            first = last = 0
        if spans and (spans[-1].first, spans[-1].last) == (first, last):
            spans[-1] = _Span(spans[-1].start, stop, first, last)
        else:
            spans.append(_Span(start, stop, first, last))
    return spans


def _pairs(spans: list[_Span]) -> list[tuple[_Span, ...]]:
    """Spans paired outside in with a later one as long and with as many taps (the mirrored borders
    of symmetric padding), so that one einsum computes both; the rest stay alone."""
    stacks: list[tuple[_Span, ...]] = []
    left = list(spans)
    while left:
        span = left.pop(0)
        mate = next((o for o in reversed(left) if (o.size, o.taps) == (span.size, span.taps)), None)
        if mate is None:
            stacks.append((span,))
        else:
            left.remove(mate)
            stacks.append((span, mate))
    return stacks


@dataclass(frozen=True, slots=True)
class _Region:
    """Output rows x columns that read the same taps in bounds, computed by one einsum: a stack of
    one or two row spans by one or two column spans."""

    rows: tuple[_Span, ...]
    cols: tuple[_Span, ...]

    def is_strip(self, channels: int) -> bool:
        """Whether this region runs from a strip copy (:data:`STRIP_FLOATS`): one span of rows,
        more than one of them, narrow columns, and taps in bounds on both axes. One channel is left
        alone: its column taps are a stride of one float, like its run, so einsum may take them
        for its inner loop (a dot product, summed in another order), and a strip would change
        those sums."""
        top, left = self.rows[0], self.cols[0]
        narrow = channels > 1 and left.size * channels <= STRIP_FLOATS
        return len(self.rows) == 1 and top.size > 1 and narrow and top.taps > 0 and left.taps > 0

    def strip_rows(self, dilation: int) -> int:
        """Input rows a strip holds: the output rows and the reach of the row taps below them."""
        top = self.rows[0]
        return top.size + (top.taps - 1) * dilation

    def broadcasts(self, channels: int) -> bool:
        """Whether this region's weights are broadcast along its row (:data:`BROADCAST_CHANNELS`),
        not tiled."""
        return channels >= BROADCAST_CHANNELS and not self.is_strip(channels)

    def weight_count(self, channels: int) -> int:
        """Floats of this region's weights: the taps of each stacked span, tiled along its row
        (and, for a strip, along its rows too) unless broadcast."""
        stacked = len(self.rows) * len(self.cols) * self.rows[0].taps * self.cols[0].taps
        if self.broadcasts(channels):
            return stacked * channels
        rows = self.rows[0].size if self.is_strip(channels) else 1
        return stacked * rows * self.cols[0].size * channels

    def workspace_count(self, channels: int, batch: int, dilation: int) -> int:
        """Floats this region allocates: its weights, and a strip's input and output copies."""
        count = self.weight_count(channels)
        if self.is_strip(channels):
            pixels = len(self.cols) * batch * self.cols[0].size * channels
            count += pixels * (self.cols[0].taps * self.strip_rows(dilation) + self.rows[0].size)
        return count


def output_regions(g: Geometry) -> list[_Region]:
    """A stride-1 depthwise conv's output, split into regions that read the same taps in bounds."""
    (kh, kw), (dh, dw) = g.conv.kernel, g.conv.dilation
    rows = _pairs(_spans(g.out_height, kh, dh, g.top, g.height))
    cols = _pairs(_spans(g.out_width, kw, dw, g.left, g.width))
    return [_Region(r, c) for r in rows for c in cols]


def _reads(span: _Span, dilation: int) -> int:
    """The first input position (of the unpadded axis, plus the padding before) a span reads."""
    return span.start + span.first * dilation


def _even_blocks(rows: int, block_rows: int, parts: int) -> list[tuple[int, int]]:
    """``[start, stop)`` blocks of about ``block_rows`` rows, as even as can be, a multiple of
    ``parts`` of them (when there are as many rows) so that ``parts`` threads get equal shares."""
    count = -(-rows // block_rows)
    count = min(rows, -(-count // parts) * parts)
    bounds = [round(k * rows / count) for k in range(count + 1)]
    return list(itertools.pairwise(bounds))


@dataclass(frozen=True, slots=True, eq=False)
class _Step:
    """One share of a depthwise conv: einsums summed into one block of the output, then the bias.

    ``terms`` are (input view, weights) pairs: the first is summed straight into ``out``, each
    further one into ``partial`` and added (the stride phases of a strided conv). A strip's
    ``out`` is its output copy, which ``scatter`` (destination, source) then copies into place.
    """

    subscripts: str
    terms: tuple[tuple[Array, Array], ...]
    out: Array
    biased: Array  # ``out`` as whole pixels along its last axis, from channel 0: for the bias
    partial: Array | None
    macs: int
    scatter: tuple[Array, Array] | None = None

    def run(self, bias: Array | None) -> None:
        for index, (view, weights) in enumerate(self.terms):
            target = self.out if index == 0 or self.partial is None else self.partial
            _einsum(self.subscripts, view, weights, out=target)
            if target is not self.out:
                np.add(self.out, target, out=self.out)
        if bias is not None:  # tiled along a row: one long inner loop, not one per pixel
            np.add(self.biased, bias[: self.biased.shape[-1]], out=self.biased)
        if self.scatter is not None:
            np.copyto(*self.scatter)


def strided(
    base: Array, offset: int, shape: Sequence[int], strides: Sequence[int], *, read_only: bool
) -> Array:
    """A view of ``base`` (C-contiguous float32) by element offset and strides; NumPy checks that
    every element lies inside ``base``."""
    if 0 in shape:
        offset = 0  # no element is read; any in-bounds start will do
    view: Array = np.ndarray(
        tuple(shape), FLOAT32, base, ITEM * offset, tuple(ITEM * s for s in strides)
    )
    if read_only:
        view.flags.writeable = False
    return view


class DepthwisePlan:
    """Depthwise conv as einsums over shifted views of the input, in blocks of output rows.

    Stride 1: no padded copy. The output is split into regions whose taps all read inside the input
    (:func:`output_regions`: for a "same" 3x3 conv, the interior, the top and bottom rows, the left
    and right columns and the corners, mirrored borders stacked into one einsum), and each region is
    one einsum over views of the input itself, ``out[r, q] = sum_ij x[r+i, q+j] * wt[i, j]``, that
    skips the products with padding (16% of a 5x5 conv's at 14x14). The weights are pre-tiled along
    the region's row, so each tap is one fused multiply-accumulate pass over a contiguous run of
    ``width * C`` input and output values. A region only a few pixels wide with few channels (the
    left and right border columns) would make that run short, one einsum inner loop per row and tap;
    it is computed from a strip instead (:data:`STRIP_FLOATS`): the input columns it reads are
    copied out, one copy per column tap, so that rows and channels are one run, and its output is
    computed into a copy of the same layout and then copied into place.

    Stride ``s > 1``: the input is first split into its ``s*s`` phases (rows ``a::s``, columns
    ``b::s``), zero-bordered, one pass, so that every tap again reads contiguous rows of its phase;
    one einsum per phase, accumulated. (Reading the strided input directly leaves NumPy an inner
    loop of only ``C`` values: 3-4x slower here.)

    The views are built once per input array, not per call. The work is cut into blocks of about
    :data:`DEPTHWISE_ROWS_BYTES` of output rows; with ``threads > 1`` the blocks are shared between
    that many threads (einsum releases the GIL), as a framework's depthwise kernel is, but only as
    many threads as get :data:`DEPTHWISE_THREAD_MACS` each. Every output value is summed by one
    einsum in the same tap order whatever the blocks and threads, so the result does not depend on
    them.
    """

    kind = "depthwise"

    def __init__(self, g: Geometry, weight: Array, bias: Array | None, threads: int = 1) -> None:
        self.geometry = g
        conv = g.conv
        kh, kw = conv.kernel
        channels = g.channels
        self.taps: Array = np.ascontiguousarray(
            weight.reshape(channels, kh, kw).transpose(1, 2, 0), dtype=np.float32
        )
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32)
        #: The bias tiled along an output row, as the steps add it (every step's ``biased``
        #: holds whole pixels along its last axis, at most a row of them): one long inner loop,
        #: not one of ``C`` floats a pixel; 22 % off a biased 3x3 conv at 112x112x32 here.
        self.bias_row: Array | None = None
        if self.bias is not None:
            self.bias_row = np.tile(self.bias, g.out_width)
        self.out: Array = np.empty(g.output_shape, dtype=np.float32)
        macs = g.batch * g.out_height * g.out_width * channels * kh * kw
        self.threads = depthwise_threads(macs, threads)
        row_bytes = ITEM * g.batch * g.out_width * channels
        self.block_rows = max(1, min(g.out_height, DEPTHWISE_ROWS_BYTES // row_bytes))
        self.unit_stride = conv.stride == (1, 1)
        self.regions: list[_Region] = []
        self.broadcast: list[bool] = []
        self.region_weights: list[Array] = []
        #: Per region, a strip's input and output copies (None: the region reads ``x`` itself).
        self.strips: list[tuple[Array, Array] | None] = []
        self.groups: list[tuple[int, int, list[int], list[int], Array]] = []
        self.phases: Array | None = None
        self.partial: Array | None = None
        if self.unit_stride:
            self.regions = output_regions(g)
            #: Per region, whether its weights are broadcast along its row, decided here once.
            self.broadcast = [region.broadcasts(channels) for region in self.regions]
            self.region_weights = [
                self._tile(region, broadcast)
                for region, broadcast in zip(self.regions, self.broadcast, strict=True)
            ]
            self.strips = [self._strip_buffers(region) for region in self.regions]
        else:
            self._plan_phases()
        self._views: tuple[object, list[tuple[Array, Array]], list[list[_Step]]] | None = None
        #: Einsum calls a call makes (known once the first call has built its views).
        self.einsum_calls = 0

    def _tile(self, region: _Region, broadcast: bool) -> Array:
        """The region's taps for each of its stacked spans, tiled along the region's row (a
        strip's along all its rows), or one pixel's worth when they are to be broadcast."""
        rows, cols = region.rows, region.cols
        spans = (len(rows), len(cols), rows[0].taps, cols[0].taps)
        channels = self.geometry.channels
        width = cols[0].size * (rows[0].size if region.is_strip(channels) else 1)
        if broadcast:
            width = 1
        weights: Array = np.empty((*spans, width, channels), np.float32)
        for a, row in enumerate(rows):
            for b, col in enumerate(cols):
                weights[a, b] = self.taps[row.first : row.last, col.first : col.last, None, :]
        return weights.reshape(*spans, width * channels)

    def _strip_buffers(self, region: _Region) -> tuple[Array, Array] | None:
        """A strip region's input copy ``(column span, column tap, n, row, column, C)`` and output
        copy ``(column span, n, row, column, C)``, refilled every call; None for other regions."""
        g = self.geometry
        if not region.is_strip(g.channels):
            return None
        cols, top = region.cols, region.rows[0]
        pixel = (cols[0].size, g.channels)
        rows = region.strip_rows(g.conv.dilation[0])
        source = np.empty((len(cols), cols[0].taps, g.batch, rows, *pixel), np.float32)
        return source, np.empty((len(cols), g.batch, top.size, *pixel), np.float32)

    def _plan_phases(self) -> None:
        g = self.geometry
        sh, sw = g.conv.stride
        channels = g.channels
        self.phase_height = -(-g.padded_height // sh)
        self.phase_width = -(-g.padded_width // sw)
        self.phases = np.zeros(
            (sh, sw, g.batch, self.phase_height, self.phase_width, channels), np.float32
        )
        for a, b, rows, cols in phase_taps(g.conv.kernel, g.conv.stride, g.conv.dilation):
            chosen = self.taps[np.ix_(rows, cols)].reshape(len(rows), len(cols), 1, channels)
            # Tile the taps along the row so each tap is one contiguous (width * C) stream.
            tiled = np.tile(chosen, (1, 1, g.out_width, 1))
            weights = np.ascontiguousarray(
                tiled.reshape(len(rows), len(cols), g.out_width * channels), dtype=np.float32
            )
            self.groups.append((a, b, rows, cols, weights))
        if len(self.groups) > 1:
            self.partial = np.empty(g.output_shape, dtype=np.float32)

    @property
    def workspace_bytes(self) -> int:
        strips = [buffer for pair in self.strips if pair is not None for buffer in pair]
        buffers = [
            self.out,
            self.partial,
            self.phases,
            self.bias_row,
            *self.region_weights,
            *strips,
        ]
        total = sum(buffer.nbytes for buffer in buffers if buffer is not None)
        return total + sum(group[4].nbytes for group in self.groups)

    def _split_phases(self, x: Array, phases: Array) -> Array:
        """Copy ``x`` into its stride phases; the zero borders of the padding are never written."""
        g = self.geometry
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

    def _direct_steps(self, x: Array) -> tuple[list[_Step], list[tuple[Array, Array]]]:
        """Per region and block of its rows, one einsum over views of ``x`` itself (stride 1), or
        of a strip's copy; and the (strip, view of ``x``) copies that fill the strips."""
        g = self.geometry
        c, width, out_width = g.channels, g.width, g.out_width
        (dh, dw) = g.conv.dilation
        row, image = width * c, g.height * width * c
        out_row, out_image = out_width * c, g.out_height * out_width * c
        flat, out = x.reshape(-1), self.out.reshape(-1)
        steps: list[_Step] = []
        gathers: list[tuple[Array, Array]] = []
        for region, weights, strip, broadcast in zip(
            self.regions, self.region_weights, self.strips, self.broadcast, strict=True
        ):
            rows, cols = region.rows, region.cols
            top, left = rows[0], cols[0]
            row_stack = (_reads(rows[-1], dh) - _reads(top, dh)) * row
            col_stack = (_reads(cols[-1], dw) - _reads(left, dw)) * c
            if strip is not None:
                source, copy = strip
                first = (_reads(top, dh) - g.top) * row + (_reads(left, dw) - g.left) * c
                strides = (col_stack, dw * c, image, row, c, 1)
                gathers.append(
                    (source, strided(flat, first, source.shape, strides, read_only=True))
                )
                steps += self._strip_steps(region, weights[0], source, copy)
                continue
            out_rows = (rows[-1].start - top.start) * out_row
            out_cols = (cols[-1].start - left.start) * c
            stacked = (len(rows), len(cols))
            # A row's pixels and channels as one run, or (broadcast weights) as two axes.
            run = ((left.size, c), (c, 1)) if broadcast else ((left.size * c,), (1,))
            subscripts = BROADCAST_SUBSCRIPTS if broadcast else DIRECT_SUBSCRIPTS
            for b0, b1 in _even_blocks(top.size, self.block_rows, self.threads):
                first = (_reads(top, dh) + b0 - g.top) * row + (_reads(left, dw) - g.left) * c
                view = strided(
                    flat,
                    first,
                    (*stacked, g.batch, b1 - b0, top.taps, left.taps, *run[0]),
                    (row_stack, col_stack, image, row, dh * row, dw * c, *run[1]),
                    read_only=True,
                )
                start = (top.start + b0) * out_row + left.start * c
                outer = (out_rows, out_cols, out_image, out_row)
                block = (*stacked, g.batch, b1 - b0)
                target = strided(out, start, (*block, *run[0]), (*outer, *run[1]), read_only=False)
                macs = len(rows) * len(cols) * g.batch * (b1 - b0) * top.taps
                macs *= left.size * left.taps * c
                steps.append(_Step(subscripts, ((view, weights),), target, target, None, macs))
        return steps, gathers

    def _strip_steps(
        self, region: _Region, weights: Array, source: Array, copy: Array
    ) -> list[_Step]:
        """Per block of a strip region's rows, one einsum over its input copy ``source`` into its
        output copy ``copy``, which the step then copies into the output.

        ``source[b, j, n]`` holds the input rows the region reads, at the columns tap ``j`` of
        column span ``b`` reads, so tap ``(i, j)`` of a block is one run of ``source`` (rows x
        columns x channels) starting ``i * dilation`` rows down.
        """
        g = self.geometry
        c, dh = g.channels, g.conv.dilation[0]
        cols, top = region.cols, region.rows[0]
        stacked, column_taps, batch, rows = source.shape[:4]
        pixels = cols[0].size * c  # floats of one row of the strip
        inputs = (column_taps * batch * rows * pixels, rows * pixels, dh * pixels)
        outputs = (batch * top.size * pixels, top.size * pixels)
        out_row, out_image = g.out_width * c, g.out_height * g.out_width * c
        out_cols = (cols[-1].start - cols[0].start) * c
        flat, copied, out = source.reshape(-1), copy.reshape(-1), self.out.reshape(-1)
        steps = []
        for b0, b1 in _even_blocks(top.size, self.block_rows, self.threads):
            run = (b1 - b0) * pixels
            view = strided(
                flat,
                b0 * pixels,
                (stacked, batch, top.taps, column_taps, run),
                (inputs[0], inputs[1], inputs[2], batch * rows * pixels, 1),
                read_only=True,
            )
            block = (stacked, batch, b1 - b0)
            target = strided(copied, b0 * pixels, (*block[:2], run), (*outputs, 1), read_only=False)
            biased = strided(
                copied, b0 * pixels, (*block, pixels), (*outputs, pixels, 1), read_only=False
            )
            pixel = (cols[0].size, c)
            done = strided(
                copied, b0 * pixels, (*block, *pixel), (*outputs, pixels, c, 1), read_only=True
            )
            start = (top.start + b0) * out_row + cols[0].start * c
            place = strided(
                out, start, (*block, *pixel), (out_cols, out_image, out_row, c, 1), read_only=False
            )
            macs = stacked * batch * run * top.taps * column_taps
            terms = ((view, weights[..., :run]),)
            steps.append(_Step(STRIP_SUBSCRIPTS, terms, target, biased, None, macs, (place, done)))
        return steps

    def _phase_steps(self, source: Array) -> list[_Step]:
        """Per block of output rows, one einsum per stride phase over views of the phases."""
        g = self.geometry
        (sh, sw), (dh, dw) = g.conv.stride, g.conv.dilation
        c = g.channels
        flat = source.reshape(-1)
        row = self.phase_width * c
        image = self.phase_height * row
        out = self.out.reshape(g.batch, g.out_height, g.out_width * c)
        partial = None if self.partial is None else self.partial.reshape(out.shape)
        steps = []
        for r0, r1 in _even_blocks(g.out_height, self.block_rows, self.threads):
            terms = []
            for a, b, rows, cols, weights in self.groups:
                phase = (a * sw + b) * g.batch * image
                start = phase + (r0 + rows[0] * dh // sh) * row + (cols[0] * dw // sw) * c
                view = strided(
                    flat,
                    start,
                    (len(rows), len(cols), g.batch, r1 - r0, g.out_width * c),
                    ((dh // gcd(sh, dh)) * row, (dw // gcd(sw, dw)) * c, image, row, 1),
                    read_only=True,
                )
                terms.append((view, weights))
            block = out[:, r0:r1]
            scratch = None if partial is None else partial[:, r0:r1]
            macs = g.batch * (r1 - r0) * g.out_width * c * g.conv.kernel[0] * g.conv.kernel[1]
            steps.append(_Step(PHASE_SUBSCRIPTS, tuple(terms), block, block, scratch, macs))
        return steps

    def _shares(self, x: Array) -> tuple[list[tuple[Array, Array]], list[list[_Step]]]:
        """The strip copies to make from ``x`` and the steps reading ``x`` (the input, or the
        phases buffer) or the strips, one list per thread; built once per array."""
        if self._views is None or self._views[0] is not x:
            gathers: list[tuple[Array, Array]] = []
            if self.phases is not None:
                steps = self._phase_steps(x)
            else:
                steps, gathers = self._direct_steps(x)
            self.einsum_calls = sum(len(step.terms) for step in steps)
            self._views = (x, gathers, _balance(steps, self.threads))
        return self._views[1], self._views[2]

    def _run(self, steps: Sequence[_Step]) -> None:
        for step in steps:
            step.run(self.bias_row)

    def __call__(self, x: Array) -> Array:
        g = self.geometry
        if x.shape != g.input_shape:
            raise DscCalcError("x", f"must have NHWC shape {g.input_shape}, got {x.shape}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self.phases is not None:
            self._split_phases(x, self.phases)  # the views read the phases, refilled every call
            source: Array = self.phases
        else:
            source = x
        gathers, shares = self._shares(source)
        for strip, view in gathers:
            np.copyto(strip, view)
        if len(shares) == 1:
            self._run(shares[0])
            return self.out
        pool = _thread_pool(len(shares))
        pending = [pool.submit(self._run, share) for share in shares[1:]]
        self._run(shares[0])
        for future in pending:
            future.result()
        return self.out


def _balance(steps: list[_Step], threads: int) -> list[list[_Step]]:
    """The steps dealt to ``threads`` lists of about equal work: largest first, to the lightest."""
    if threads == 1:
        return [steps]
    shares: list[list[_Step]] = [[] for _ in range(threads)]
    loads = [0] * threads
    for step in sorted(steps, key=lambda s: -s.macs):
        lightest = loads.index(min(loads))
        shares[lightest].append(step)
        loads[lightest] += step.macs
    return [share for share in shares if share]


@cache
def _thread_pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads - 1`` workers (the caller's thread is the other one), made once."""
    return ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="dsc-calc-kernel")
