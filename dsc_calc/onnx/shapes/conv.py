"""Shapes of the sliding-window and matrix-product ops: Conv, ConvTranspose, the pools, Gemm
and MatMul, with the geometry helpers :mod:`dsc_calc.onnx.costs` counts them by.
"""

from __future__ import annotations

import msgspec

from dsc_calc.onnx.reader import INT64
from dsc_calc.onnx.shapes.core import Context, Shape, Value, broadcast, handles, need


class ConvGeometry(msgspec.Struct, frozen=True):
    """A conv's resolved attributes along each spatial axis, and its output spatial size."""

    kernel: Shape
    strides: Shape
    dilations: Shape
    begins: Shape
    ends: Shape
    output: Shape
    groups: int


def _spatial_attrs(ctx: Context, spatial: int, kernel: Shape) -> tuple[Shape, Shape, Shape, Shape]:
    strides = ctx.ints("strides", (1,) * spatial) or ()
    dilations = ctx.ints("dilations", (1,) * spatial) or ()
    pads = ctx.ints("pads", (0,) * (2 * spatial)) or ()
    if len(strides) != spatial or len(dilations) != spatial or len(pads) != 2 * spatial:
        raise ctx.fail(
            f"strides, dilations and pads must have {spatial}, {spatial} and {2 * spatial} "
            f"entries for a kernel of {list(kernel)}"
        )
    if min(strides, default=1) < 1 or min(dilations, default=1) < 1 or min(pads, default=0) < 0:
        raise ctx.fail("strides and dilations must be positive and pads non-negative")
    return strides, dilations, pads[:spatial], pads[spatial:]


def window_geometry(
    ctx: Context, spatial_in: Shape, kernel: Shape, groups: int = 1, *, ceil_mode: bool = False
) -> ConvGeometry:
    """Output size of a sliding window (Conv, pools) with ONNX's auto_pad rules."""
    spatial = len(spatial_in)
    if len(kernel) != spatial or min(kernel, default=1) < 1:
        raise ctx.fail(f"kernel {list(kernel)} does not fit a {spatial}-D input")
    strides, dilations, begins, ends = _spatial_attrs(ctx, spatial, kernel)
    auto_pad = ctx.text("auto_pad", "NOTSET")
    sizes: list[int] = []
    new_begins: list[int] = []
    new_ends: list[int] = []
    for axis in range(spatial):
        size, k, s, d = spatial_in[axis], kernel[axis], strides[axis], dilations[axis]
        effective = d * (k - 1) + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out = -(-size // s)
            total = max((out - 1) * s + effective - size, 0)
            small_half, big_half = total // 2, total - total // 2
            before, after = (
                (small_half, big_half) if auto_pad == "SAME_UPPER" else (big_half, small_half)
            )
        elif auto_pad == "VALID":
            before = after = 0
        elif auto_pad == "NOTSET":
            before, after = begins[axis], ends[axis]
        else:
            raise ctx.fail(f"unknown auto_pad {auto_pad!r}")
        padded = size + before + after
        if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
            if effective > padded:
                raise ctx.fail(
                    f"kernel {k} (dilation {d}) is larger than the padded input {padded} along "
                    f"spatial axis {axis}"
                )
            span = padded - effective
            out = (-(-span // s) if ceil_mode else span // s) + 1
            if ceil_mode and (out - 1) * s >= size + before:
                out -= 1  # the last window must start inside the input (PyTorch's rule)
        sizes.append(out)
        new_begins.append(before)
        new_ends.append(after)
    return ConvGeometry(
        kernel, strides, dilations, tuple(new_begins), tuple(new_ends), tuple(sizes), groups
    )


def conv_geometry(ctx: Context, x: Value, w: Value) -> ConvGeometry:
    """Conv's geometry: kernel_shape (or W's), strides, pads, dilations, group, auto_pad."""
    if len(x.shape) < 3 or len(w.shape) != len(x.shape):
        raise ctx.fail(f"input {list(x.shape)} and weight {list(w.shape)} do not make a conv")
    groups = ctx.int_("group", 1)
    channels = x.shape[1]
    if groups < 1 or channels % groups or w.shape[0] % groups:
        raise ctx.fail(f"group {groups} does not divide the {channels} input channels")
    if w.shape[1] * groups != channels:
        raise ctx.fail(
            f"weight {list(w.shape)} takes {w.shape[1] * groups} input channels with group "
            f"{groups}, but the input has {channels}"
        )
    kernel = ctx.ints("kernel_shape") or w.shape[2:]
    if kernel != w.shape[2:]:
        raise ctx.fail(f"kernel_shape {list(kernel)} differs from the weight's {list(w.shape)}")
    return window_geometry(ctx, x.shape[2:], kernel, groups)


@handles("Conv")
def conv(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x, w = need(inputs, 0), need(inputs, 1)
    geometry = conv_geometry(ctx, x, w)
    return [Value((x.shape[0], w.shape[0], *geometry.output), x.dtype)]


def conv_transpose_geometry(ctx: Context, x: Value, w: Value) -> tuple[Shape, int]:
    """ConvTranspose's output spatial size and its output channels."""
    if len(x.shape) < 3 or len(w.shape) != len(x.shape):
        raise ctx.fail(f"input {list(x.shape)} and weight {list(w.shape)} do not make a conv")
    groups = ctx.int_("group", 1)
    if groups < 1 or w.shape[0] != x.shape[1] or x.shape[1] % groups:
        raise ctx.fail(f"weight {list(w.shape)} does not fit input {list(x.shape)}")
    spatial_in = x.shape[2:]
    spatial = len(spatial_in)
    kernel = ctx.ints("kernel_shape") or w.shape[2:]
    strides, dilations, begins, ends = _spatial_attrs(ctx, spatial, kernel)
    extra = ctx.ints("output_padding", (0,) * spatial) or ()
    wanted = ctx.ints("output_shape")
    auto_pad = ctx.text("auto_pad", "NOTSET")
    if wanted is not None:
        sizes = tuple(wanted[-spatial:])
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        sizes = tuple(size * s for size, s in zip(spatial_in, strides, strict=True))
    else:
        if auto_pad == "VALID":
            begins = ends = (0,) * spatial
        sizes = tuple(
            strides[i] * (spatial_in[i] - 1)
            + (extra[i] if i < len(extra) else 0)
            + dilations[i] * (kernel[i] - 1)
            + 1
            - begins[i]
            - ends[i]
            for i in range(spatial)
        )
    if len(sizes) != spatial or min(sizes, default=1) < 1:
        raise ctx.fail(f"gives an output size {list(sizes)}")
    return sizes, w.shape[1] * groups


@handles("ConvTranspose")
def conv_transpose(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x, w = need(inputs, 0), need(inputs, 1)
    sizes, channels = conv_transpose_geometry(ctx, x, w)
    return [Value((x.shape[0], channels, *sizes), x.dtype)]


def gemm_dims(ctx: Context, a: Value, b: Value) -> tuple[int, int, int]:
    """(M, K, N) of a Gemm, after transA / transB."""
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ctx.fail(f"Gemm needs 2-D inputs, got {list(a.shape)} and {list(b.shape)}")
    m, k = a.shape[::-1] if ctx.int_("transA", 0) else a.shape
    k2, n = b.shape[::-1] if ctx.int_("transB", 0) else b.shape
    if k != k2:
        raise ctx.fail(f"inner dimensions {k} and {k2} differ")
    return m, k, n


@handles("Gemm")
def gemm(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    m, _k, n = gemm_dims(ctx, need(inputs, 0), need(inputs, 1))
    return [Value((m, n), need(inputs, 0).dtype)]


def matmul_dims(ctx: Context, a: Value, b: Value) -> tuple[Shape, int, int, int]:
    """(output shape, M, K, N) of a MatMul with NumPy's rules (1-D operands included)."""
    left = a.shape if len(a.shape) > 1 else (1, *a.shape)
    right = b.shape if len(b.shape) > 1 else (*b.shape, 1)
    if not a.shape or not b.shape or left[-1] != right[-2]:
        raise ctx.fail(f"shapes {list(a.shape)} and {list(b.shape)} do not multiply")
    batch = broadcast(ctx, [left[:-2], right[:-2]])
    out = (*batch, left[-2], right[-1])
    if len(a.shape) == 1:
        out = (*out[:-2], out[-1])
    if len(b.shape) == 1:
        out = out[:-1]
    return out, left[-2], left[-1], right[-1]


@handles("MatMul")
def matmul(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    a, b = need(inputs, 0), need(inputs, 1)
    return [Value(matmul_dims(ctx, a, b)[0], a.dtype)]


# --- Pooling ----------------------------------------------------------------------------------


@handles("MaxPool", "AveragePool", "LpPool")
def pool(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    kernel = ctx.ints("kernel_shape")
    if kernel is None or len(x.shape) < 3:
        raise ctx.fail("needs kernel_shape and an input with spatial axes")
    geometry = window_geometry(ctx, x.shape[2:], kernel, ceil_mode=bool(ctx.int_("ceil_mode", 0)))
    out = Value((*x.shape[:2], *geometry.output), x.dtype)
    outputs: list[Value | None] = [out, Value(out.shape, INT64)]
    return outputs[: max(1, len(ctx.node.outputs))]


@handles("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(_ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    return [Value((*x.shape[:2], *(1,) * (len(x.shape) - 2)), x.dtype)]
