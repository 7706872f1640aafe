"""Shapes of the ops that move, cut, join, pad, resize or reduce a tensor: Gather, Concat,
Split, Slice, Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Pad, Resize, the reductions,
Tile and DepthToSpace (with the data of small tensors carried through).
"""

from __future__ import annotations

import math
from itertools import product
from typing import TYPE_CHECKING

from dsc_calc.onnx.reader import INT64, SMALL_ELEMENTS, Number
from dsc_calc.onnx.shapes.core import (
    Context,
    Unknown,
    Value,
    axis_of,
    handles,
    ints_of,
    need,
    optional,
    small,
    strides_of,
)

if TYPE_CHECKING:
    from collections.abc import Sequence


@handles("Gather")
def gather(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    data, indices = need(inputs, 0), need(inputs, 1)
    rank = len(data.shape)
    if rank == 0:
        raise ctx.fail("cannot gather from a scalar")
    axis = axis_of(ctx, ctx.int_("axis", 0), rank)
    out = (*data.shape[:axis], *indices.shape, *data.shape[axis + 1 :])
    values = None
    if rank == 1 and data.data is not None and indices.data is not None:
        size = data.shape[0]
        picked = []
        for index in indices.data:
            position = int(index) + size if index < 0 else int(index)
            if not 0 <= position < size:
                raise ctx.fail(f"index {index} is out of range for size {size}")
            picked.append(data.data[position])
        values = picked
    return [small(out, data.dtype, values)]


@handles("Concat")
def concat(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    values = [need(inputs, i) for i in range(len(ctx.node.inputs))]
    if not values:
        raise ctx.fail("has no inputs")
    rank = len(values[0].shape)
    axis = axis_of(ctx, ctx.int_("axis", 0 if ctx.opset < 4 else 1), rank)
    total = 0
    for value in values:
        if len(value.shape) != rank or any(
            value.shape[i] != values[0].shape[i] for i in range(rank) if i != axis
        ):
            listed = ", ".join(str(list(v.shape)) for v in values)
            raise ctx.fail(f"inputs {listed} differ outside axis {axis}")
        total += value.shape[axis]
    out = (*values[0].shape[:axis], total, *values[0].shape[axis + 1 :])
    data: list[Number] | None = None
    if all(value.data is not None for value in values) and math.prod(out) <= SMALL_ELEMENTS:
        # Row-major: for each index of the axes before ``axis``, each input's block in turn.
        outer = math.prod(out[:axis])
        data = []
        for block in range(outer):
            for value in values:
                inner = math.prod(value.shape[axis:])
                data.extend((value.data or ())[block * inner : (block + 1) * inner])
    return [small(out, values[0].dtype, data)]


@handles("Split")
def split(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axis = axis_of(ctx, ctx.int_("axis", 0), len(x.shape))
    size = x.shape[axis]
    outputs = len(ctx.node.outputs)
    sizes: tuple[int, ...] | None
    if ctx.opset < 13:
        sizes = ctx.ints("split")
    else:
        given = optional(inputs, 1)
        if len(ctx.node.inputs) > 1 and ctx.node.inputs[1] and given is None:
            raise Unknown
        sizes = ints_of(given) if given is not None else None
    if sizes is None:
        parts = ctx.int_("num_outputs", outputs) if ctx.opset >= 18 else outputs
        if parts < 1:
            raise ctx.fail(f"num_outputs {parts} must be positive")
        if ctx.opset >= 18 and "num_outputs" in ctx.node.attributes:
            chunk = -(-size // parts)
            sizes = tuple(min(chunk, max(size - i * chunk, 0)) for i in range(parts))
        elif size % parts:
            raise ctx.fail(f"axis {axis} of size {size} does not split into {parts} equal parts")
        else:
            sizes = (size // parts,) * parts
    if sum(sizes) != size or min(sizes, default=0) < 0 or len(sizes) != outputs:
        raise ctx.fail(f"split sizes {list(sizes)} do not cover axis {axis} of size {size}")
    result: list[Value | None] = []
    offset = 0
    for part in sizes:
        shape = (*x.shape[:axis], part, *x.shape[axis + 1 :])
        data = x.data[offset : offset + part] if x.data is not None and len(x.shape) == 1 else None
        result.append(small(shape, x.dtype, data))
        offset += part
    return result


def _slice_range(start: int, end: int, step: int, size: int) -> range:
    """ONNX Slice's clamping of one axis, as a range of indices."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if step > 0:
        start, end = min(max(start, 0), size), min(max(end, 0), size)
    else:
        start, end = min(max(start, -1), size - 1), min(max(end, -1), size - 1)
    return range(start, end, step)


@handles("Slice")
def slice_(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    if ctx.opset < 10:
        starts, ends = ctx.ints("starts") or (), ctx.ints("ends") or ()
        axes = ctx.ints("axes")
        steps: tuple[int, ...] | None = None
    else:
        starts, ends = ints_of(need(inputs, 1)), ints_of(need(inputs, 2))
        given_axes, given_steps = optional(inputs, 3), optional(inputs, 4)
        axes = ints_of(given_axes) if given_axes is not None else None
        steps = ints_of(given_steps) if given_steps is not None else None
    axes = axes if axes is not None else tuple(range(len(starts)))
    steps = steps if steps is not None else (1,) * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.fail("starts, ends, axes and steps differ in length")
    out = list(x.shape)
    ranges: dict[int, range] = {}
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        position = axis_of(ctx, axis, rank)
        if step == 0:
            raise ctx.fail("a step is 0")
        ranges[position] = _slice_range(start, end, step, x.shape[position])
        out[position] = len(ranges[position])
    data = None
    if x.data is not None:
        strides = strides_of(x.shape)
        axes_ranges = [ranges.get(axis, range(x.shape[axis])) for axis in range(rank)]
        data = [
            x.data[sum(i * s for i, s in zip(index, strides, strict=True))]
            for index in product(*axes_ranges)
        ]
    return [small(tuple(out), x.dtype, data)]


@handles("Reshape")
def reshape(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    wanted = ctx.ints("shape") if ctx.opset < 5 else ints_of(need(inputs, 1))
    if wanted is None:
        raise ctx.fail("has no shape")
    allow_zero = ctx.int_("allowzero", 0)
    dims = list(wanted)
    for index, dim in enumerate(dims):
        if dim == 0 and not allow_zero:
            if index >= len(x.shape):
                raise ctx.fail(f"shape {list(wanted)} copies a dimension the input lacks")
            dims[index] = x.shape[index]
    if dims.count(-1) > 1 or any(dim < -1 for dim in dims):
        raise ctx.fail(f"shape {list(wanted)} is invalid")
    if -1 in dims:
        known = math.prod(dim for dim in dims if dim != -1)
        if known == 0 or x.numel % known:
            raise ctx.fail(f"cannot reshape {list(x.shape)} to {list(wanted)}")
        dims[dims.index(-1)] = x.numel // known
    if math.prod(dims) != x.numel:
        raise ctx.fail(f"cannot reshape {list(x.shape)} ({x.numel} elements) to {dims}")
    return [small(tuple(dims), x.dtype, x.data)]


@handles("Flatten")
def flatten(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axis = ctx.int_("axis", 1)
    rank = len(x.shape)
    if not -rank <= axis <= rank:
        raise ctx.fail(f"axis {axis} is out of range for a rank-{rank} input")
    axis = axis + rank if axis < 0 else axis
    out = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return [small(out, x.dtype, x.data)]


@handles("Transpose")
def transpose(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    perm = ctx.ints("perm") or tuple(reversed(range(rank)))
    if sorted(perm) != list(range(rank)):
        raise ctx.fail(f"perm {list(perm)} is not a permutation of {rank} axes")
    out = tuple(x.shape[axis] for axis in perm)
    data = None
    if x.data is not None:
        strides = strides_of(x.shape)
        moved = [strides[axis] for axis in perm]
        data = [
            x.data[sum(i * s for i, s in zip(index, moved, strict=True))]
            for index in product(*(range(dim) for dim in out))
        ]
    return [small(out, x.dtype, data)]


def _axes(ctx: Context, inputs: list[Value | None]) -> tuple[int, ...] | None:
    """``axes`` from the attribute (before opset 13) or the second input (from 13)."""
    if ctx.opset < 13:
        return ctx.ints("axes")
    if len(ctx.node.inputs) > 1 and ctx.node.inputs[1]:
        return ints_of(need(inputs, 1))
    return None


@handles("Squeeze")
def squeeze(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    axes = _axes(ctx, inputs)
    if axes is None:
        chosen = {i for i, dim in enumerate(x.shape) if dim == 1}
    else:
        chosen = {axis_of(ctx, axis, rank) for axis in axes}
    if any(x.shape[axis] != 1 for axis in chosen):
        raise ctx.fail(f"cannot squeeze axes {sorted(chosen)} of {list(x.shape)}")
    out = tuple(dim for i, dim in enumerate(x.shape) if i not in chosen)
    return [small(out, x.dtype, x.data)]


@handles("Unsqueeze")
def unsqueeze(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axes = _axes(ctx, inputs)
    if axes is None:
        raise ctx.fail("has no axes")
    rank = len(x.shape) + len(axes)
    chosen = {axis_of(ctx, axis, rank) for axis in axes}
    if len(chosen) != len(axes):
        raise ctx.fail(f"axes {list(axes)} repeat an axis")
    dims = iter(x.shape)
    out = tuple(1 if i in chosen else next(dims) for i in range(rank))
    return [small(out, x.dtype, x.data)]


@handles("Pad")
def pad(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    if ctx.opset < 11:
        pads = ctx.ints("pads") or ()
        axes: tuple[int, ...] = tuple(range(rank))
    else:
        pads = ints_of(need(inputs, 1))
        given = optional(inputs, 3)
        axes = (
            tuple(axis_of(ctx, a, rank) for a in ints_of(given))
            if given is not None
            else tuple(range(rank))
        )
    if len(pads) != 2 * len(axes):
        raise ctx.fail(f"pads {list(pads)} do not have 2 entries per axis of {list(x.shape)}")
    out = list(x.shape)
    for index, axis in enumerate(axes):
        out[axis] += pads[index] + pads[index + len(axes)]
    if min(out, default=0) < 0:
        raise ctx.fail(f"pads {list(pads)} give a negative size")
    return [Value(tuple(out), x.dtype)]


@handles("Resize", "Upsample")
def resize(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    sizes: tuple[int, ...] | None = None
    scales: tuple[float, ...] | None = None
    if ctx.node.op_type == "Upsample" and ctx.opset < 9:
        scales = ctx.floats("scales")
    elif ctx.node.op_type == "Upsample" or ctx.opset < 11:
        scales = _floats_of(need(inputs, 1))
    else:
        given_scales, given_sizes = optional(inputs, 2), optional(inputs, 3)
        if given_sizes is not None:
            sizes = ints_of(given_sizes)
        elif given_scales is not None:
            scales = _floats_of(given_scales)
        else:
            raise Unknown
    axes = ctx.ints("axes") or tuple(range(rank))
    axes = tuple(axis_of(ctx, axis, rank) for axis in axes)
    out = list(x.shape)
    chosen: Sequence[Number] = sizes if sizes is not None else (scales or ())
    if len(chosen) != len(axes):
        raise ctx.fail(f"has {len(chosen)} scales or sizes for {len(axes)} axes")
    for axis, value in zip(axes, chosen, strict=True):
        size = int(value) if sizes is not None else math.floor(x.shape[axis] * value)
        if size < 0:
            raise ctx.fail(f"gives a negative size along axis {axis}")
        out[axis] = size
    return [Value(tuple(out), x.dtype)]


def _floats_of(value: Value) -> tuple[float, ...]:
    if value.data is None:
        raise Unknown
    return tuple(float(v) for v in value.data)


REDUCTIONS = (
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
)  # fmt: skip


@handles(*REDUCTIONS)
def reduce(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    from_input = ctx.opset >= 18 or (ctx.node.op_type == "ReduceSum" and ctx.opset >= 13)
    if from_input:
        given = optional(inputs, 1)
        if len(ctx.node.inputs) > 1 and ctx.node.inputs[1] and inputs[1] is None:
            raise Unknown
        axes = ints_of(given) if given is not None else None
    else:
        axes = ctx.ints("axes")
    if axes is None and ctx.int_("noop_with_empty_axes", 0):
        return [x]
    chosen = set(range(rank)) if axes is None else {axis_of(ctx, a, rank) for a in axes}
    keep = ctx.int_("keepdims", 1)
    out = tuple(
        1 if i in chosen else dim for i, dim in enumerate(x.shape) if keep or i not in chosen
    )
    data = None
    if x.data is not None and rank <= 1 and ctx.node.op_type in ("ReduceProd", "ReduceSum"):
        data = (math.prod(x.data) if ctx.node.op_type == "ReduceProd" else sum(x.data),)
    return [small(out, x.dtype, data)]


@handles("ArgMax", "ArgMin")
def arg_reduce(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axis = axis_of(ctx, ctx.int_("axis", 0), len(x.shape))
    keep = ctx.int_("keepdims", 1)
    out = tuple(1 if i == axis else dim for i, dim in enumerate(x.shape) if keep or i != axis)
    return [Value(out, INT64)]


@handles("Tile")
def tile(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    repeats = ints_of(need(inputs, 1))
    if len(repeats) != len(x.shape) or min(repeats, default=0) < 0:
        raise ctx.fail(f"repeats {list(repeats)} do not fit {list(x.shape)}")
    return [Value(tuple(d * r for d, r in zip(x.shape, repeats, strict=True)), x.dtype)]


@handles("DepthToSpace", "SpaceToDepth")
def depth_space(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    block = ctx.int_("blocksize", 1)
    if len(x.shape) != 4 or block < 1:
        raise ctx.fail(f"needs a 4-D input and a positive blocksize, got {list(x.shape)}")
    n, c, h, w = x.shape
    if ctx.node.op_type == "DepthToSpace":
        if c % (block * block):
            raise ctx.fail(f"{c} channels do not divide by blocksize² {block * block}")
        return [Value((n, c // (block * block), h * block, w * block), x.dtype)]
    if h % block or w % block:
        raise ctx.fail(f"{h}×{w} does not divide by blocksize {block}")
    return [Value((n, c * block * block, h // block, w // block), x.dtype)]
