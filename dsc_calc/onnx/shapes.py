"""Output shapes of ONNX nodes, with small integer tensors evaluated as they flow.

Each supported op type has one function ``(ctx, inputs) -> outputs`` in :data:`SHAPES`. A value
is a :class:`Value`: a shape (a tuple of ints, any rank), an element type and, when it has at most
:data:`dsc_calc.onnx.reader.SMALL_ELEMENTS` elements and is computable, its data. Data is what
makes ``Shape → Gather/Slice → Concat → Reshape`` chains (torch's ``chunk`` and ``flatten`` in
ShuffleNetV2 and the like) come out right where onnx's own shape inference gives up.

A function raises :class:`Unknown` when an input it needs has no known shape or data (the model
then falls back on the file's value_info), and :class:`DscCalcError` when the node is invalid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import TYPE_CHECKING, Any

from dsc_calc.errors import DscCalcError
from dsc_calc.onnx.reader import (
    BOOL,
    FLOAT,
    INT64,
    INTEGER_TYPES,
    SMALL_ELEMENTS,
    Initializer,
    Node,
    Number,
    Subgraph,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Shape = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Value:
    """A tensor as inference sees it: its shape, element type and (small ones) its data."""

    shape: Shape
    dtype: int = FLOAT
    data: tuple[Number, ...] | None = None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class Unknown(Exception):  # noqa: N818 - a signal, not an error: the shape is not known
    """An input the node needs has no known shape or data."""


@dataclass(frozen=True, slots=True)
class Context:
    """The node being inferred, the model's opset, and helpers to read its attributes."""

    node: Node
    opset: int

    @property
    def where(self) -> str:
        return f"node {self.node.name!r} ({self.node.op_type})"

    def fail(self, problem: str) -> DscCalcError:
        return DscCalcError(self.where, problem)

    def int_(self, name: str, default: int) -> int:
        value = self.node.attributes.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"attribute {name} must be an integer, got {value!r}")
        return value

    def ints(self, name: str, default: Sequence[int] | None = None) -> tuple[int, ...] | None:
        value = self.node.attributes.get(name)
        if value is None:
            return None if default is None else tuple(default)
        if isinstance(value, int):
            return (value,)
        if not isinstance(value, tuple) or not all(isinstance(v, int) for v in value):
            raise self.fail(f"attribute {name} must be a list of integers, got {value!r}")
        return tuple(int(v) for v in value)

    def floats(self, name: str) -> tuple[float, ...] | None:
        value = self.node.attributes.get(name)
        if value is None:
            return None
        if not isinstance(value, tuple) or not all(isinstance(v, int | float) for v in value):
            raise self.fail(f"attribute {name} must be a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)

    def text(self, name: str, default: str) -> str:
        value = self.node.attributes.get(name)
        if value is None:
            return default
        if not isinstance(value, bytes):
            raise self.fail(f"attribute {name} must be a string, got {value!r}")
        return value.decode("utf-8", "replace")


SHAPES: dict[str, Callable[[Context, list[Value | None]], list[Value | None]]] = {}


def _op(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            SHAPES[name] = function
        return function

    return register


# --- Helpers ----------------------------------------------------------------------------------


def need(inputs: list[Value | None], index: int) -> Value:
    """Input ``index``, or :class:`Unknown` if it is absent or its shape is not known."""
    value = inputs[index] if index < len(inputs) else None
    if value is None:
        raise Unknown
    return value


def optional(inputs: list[Value | None], index: int) -> Value | None:
    """Input ``index`` if it is given and non-empty (``""`` names an omitted input)."""
    value = inputs[index] if index < len(inputs) else None
    if value is None or value.numel == 0:
        return None
    return value


def ints_of(value: Value) -> tuple[int, ...]:
    """The data of a small integer tensor, or :class:`Unknown`."""
    if value.data is None:
        raise Unknown
    return tuple(int(v) for v in value.data)


def small(shape: Shape, dtype: int, data: Sequence[Number] | None) -> Value:
    """A value that keeps its data only while small."""
    keep = data is not None and len(data) <= SMALL_ELEMENTS and len(data) == math.prod(shape)
    return Value(shape, dtype, tuple(data) if keep and data is not None else None)


def axis_of(ctx: Context, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ctx.fail(f"axis {axis} is out of range for a rank-{rank} input")
    return axis + rank if axis < 0 else axis


def broadcast(ctx: Context, shapes: Sequence[Shape]) -> Shape:
    """NumPy's broadcasting of ``shapes``."""
    rank = max((len(shape) for shape in shapes), default=0)
    result: list[int] = []
    for position in range(rank):
        size = 1
        for shape in shapes:
            index = position - (rank - len(shape))
            if index < 0:
                continue
            dim = shape[index]
            if dim == 1:
                continue
            if size not in (1, dim):
                listed = " and ".join(str(list(s)) for s in shapes)
                raise ctx.fail(f"shapes {listed} do not broadcast")
            size = dim
        result.append(size)
    return tuple(result)


def _broadcast_data(
    shapes: Sequence[Shape], datas: Sequence[tuple[Number, ...]], out: Shape
) -> list[tuple[Number, ...]]:
    """Each output element's operands, for small broadcast tensors."""
    rank = len(out)
    strides: list[list[int]] = []
    for shape in shapes:
        padded = (1,) * (rank - len(shape)) + shape
        stride = [0] * rank
        step = 1
        for axis in range(rank - 1, -1, -1):
            stride[axis] = 0 if padded[axis] == 1 else step
            step *= padded[axis]
        strides.append(stride)
    return [
        tuple(
            data[sum(i * s for i, s in zip(index, stride, strict=True))]
            for data, stride in zip(datas, strides, strict=True)
        )
        for index in product(*(range(dim) for dim in out))
    ]


def strides_of(shape: Shape) -> tuple[int, ...]:
    """Row-major strides of ``shape``, in elements."""
    strides = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * shape[axis + 1]
    return tuple(strides)


def _divide(a: Number, b: Number, integer: bool) -> Number:
    if integer:
        if b == 0:
            raise Unknown
        quotient = abs(int(a)) // abs(int(b))
        return quotient if (a >= 0) == (b >= 0) else -quotient
    return a / b if b else math.inf


_ARITHMETIC: dict[str, Callable[[Sequence[Number], bool], Number]] = {
    "Add": lambda v, _i: v[0] + v[1],
    "Sub": lambda v, _i: v[0] - v[1],
    "Mul": lambda v, _i: v[0] * v[1],
    "Div": lambda v, i: _divide(v[0], v[1], i),
    "Max": lambda v, _i: max(v),
    "Min": lambda v, _i: min(v),
    "Sum": lambda v, _i: sum(v),
    "Equal": lambda v, _i: int(v[0] == v[1]),
    "Less": lambda v, _i: int(v[0] < v[1]),
    "Greater": lambda v, _i: int(v[0] > v[1]),
    "LessOrEqual": lambda v, _i: int(v[0] <= v[1]),
    "GreaterOrEqual": lambda v, _i: int(v[0] >= v[1]),
    "Where": lambda v, _i: v[1] if v[0] else v[2],
    "Mod": lambda v, _i: v[0] % v[1] if v[1] else 0,
}
_COMPARISONS = frozenset(
    {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not"}
)


# --- Elementwise ------------------------------------------------------------------------------

#: Ops whose (first) output has the shape and type of their first input.
UNARY = (
    "Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu", "Sqrt", "LeakyRelu",
    "Elu", "Selu", "Celu", "Softplus", "Softsign", "Mish", "Neg", "Exp", "Log", "Abs",
    "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Not", "ThresholdedRelu",
    "Swish", "Softmax", "LogSoftmax", "Hardmax", "Identity", "Clip", "LRN",
    "InstanceNormalization", "GroupNormalization", "MeanVarianceNormalization",
    "QuantizeLinear", "DequantizeLinear", "IsNaN", "IsInf",
)  # fmt: skip

_UNARY_DATA: dict[str, Callable[[Number], Number]] = {
    "Identity": lambda v: v,
    "Neg": lambda v: -v,
    "Abs": abs,
    "Floor": math.floor,
    "Ceil": math.ceil,
    "Sqrt": lambda v: math.sqrt(v) if v >= 0 else math.nan,
    "Relu": lambda v: max(v, 0),
    "Not": lambda v: int(not v),
}


@_op(*UNARY)
def unary(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    op = ctx.node.op_type
    dtype = BOOL if op in ("Not", "IsNaN", "IsInf") else x.dtype
    function = _UNARY_DATA.get(op)
    data = None
    if function is not None and x.data is not None:
        data = tuple(function(v) for v in x.data)
    return [Value(x.shape, dtype, data)]


@_op("Dropout")
def dropout(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    outputs: list[Value | None] = [x, Value(x.shape, BOOL)]
    return outputs[: max(1, len(ctx.node.outputs))]


@_op("Cast", "CastLike")
def cast(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    to = need(inputs, 1).dtype if ctx.node.op_type == "CastLike" else ctx.int_("to", x.dtype)
    data: tuple[Number, ...] | None = None
    if x.data is not None:
        if to in INTEGER_TYPES:
            data = tuple(int(v) if math.isfinite(v) else 0 for v in x.data)
        else:
            data = tuple(float(v) for v in x.data)
    return [Value(x.shape, to, data)]


@_op("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu", "Mod", "And",
     "Or", "Xor", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "BitShift",
     "Where")  # fmt: skip
def elementwise(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    values = [need(inputs, i) for i in range(len(ctx.node.inputs))]
    op = ctx.node.op_type
    wanted = 3 if op == "Where" else 1 if op in ("Max", "Min", "Sum", "Mean") else 2
    if len(values) < wanted or (wanted != 1 and len(values) != wanted):
        raise ctx.fail(f"needs {wanted} inputs, got {len(values)}")
    out = broadcast(ctx, [value.shape for value in values])
    dtype = values[-1].dtype if op == "Where" else values[0].dtype
    if op in _COMPARISONS:
        dtype = BOOL
    data = None
    function = _ARITHMETIC.get(op)
    datas = [value.data for value in values]
    if function is not None and math.prod(out) <= SMALL_ELEMENTS and all(datas):
        integer = dtype in INTEGER_TYPES
        known = [d for d in datas if d is not None]
        data = tuple(
            function(operands, integer)
            for operands in _broadcast_data([v.shape for v in values], known, out)
        )
    elif function is not None and math.prod(out) == 0:
        data = ()
    return [small(out, dtype, data)]


# --- Convolutions and matrix products ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConvGeometry:
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


@_op("Conv")
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


@_op("ConvTranspose")
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


@_op("Gemm")
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


@_op("MatMul")
def matmul(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    a, b = need(inputs, 0), need(inputs, 1)
    return [Value(matmul_dims(ctx, a, b)[0], a.dtype)]


@_op("BatchNormalization")
def batchnorm(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    if len(x.shape) < 2:
        raise ctx.fail(f"needs an input with channels, got {list(x.shape)}")
    channels = Value((x.shape[1],), x.dtype)
    outputs: list[Value | None] = [x, channels, channels, channels, channels]
    return outputs[: max(1, len(ctx.node.outputs))]


@_op("LayerNormalization")
def layernorm(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axis = axis_of(ctx, ctx.int_("axis", -1), len(x.shape))
    stats = Value((*x.shape[:axis], *(1,) * (len(x.shape) - axis)), FLOAT)
    outputs: list[Value | None] = [x, stats, stats]
    return outputs[: max(1, len(ctx.node.outputs))]


# --- Pooling ----------------------------------------------------------------------------------


@_op("MaxPool", "AveragePool", "LpPool")
def pool(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    kernel = ctx.ints("kernel_shape")
    if kernel is None or len(x.shape) < 3:
        raise ctx.fail("needs kernel_shape and an input with spatial axes")
    geometry = window_geometry(ctx, x.shape[2:], kernel, ceil_mode=bool(ctx.int_("ceil_mode", 0)))
    out = Value((*x.shape[:2], *geometry.output), x.dtype)
    outputs: list[Value | None] = [out, Value(out.shape, INT64)]
    return outputs[: max(1, len(ctx.node.outputs))]


@_op("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(_ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    return [Value((*x.shape[:2], *(1,) * (len(x.shape) - 2)), x.dtype)]


# --- Tensor plumbing --------------------------------------------------------------------------


@_op("Constant")
def constant(ctx: Context, _inputs: list[Value | None]) -> list[Value | None]:
    return [constant_value(ctx)]


def constant_value(ctx: Context) -> Value:
    """The value a Constant node holds (``value``, ``value_int(s)``, ``value_float(s)``)."""
    attributes = ctx.node.attributes
    tensor = attributes.get("value")
    if isinstance(tensor, Initializer):
        return Value(tensor.dims, tensor.data_type, tensor.values)
    for key, dtype in (("value_int", INT64), ("value_float", FLOAT)):
        scalar = attributes.get(key)
        if isinstance(scalar, int | float):
            return Value((), dtype, (scalar,))
    for key, dtype in (("value_ints", INT64), ("value_floats", FLOAT)):
        values = attributes.get(key)
        if isinstance(values, tuple):
            return small((len(values),), dtype, [v for v in values if isinstance(v, int | float)])
    raise ctx.fail("has no value this reader understands (value, value_int(s), value_float(s))")


@_op("ConstantOfShape")
def constant_of_shape(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    shape = ints_of(need(inputs, 0))
    if min(shape, default=0) < 0:
        raise ctx.fail(f"shape {list(shape)} has a negative dimension")
    tensor = ctx.node.attributes.get("value")
    dtype, fill = FLOAT, 0.0
    if isinstance(tensor, Initializer):
        dtype = tensor.data_type
        fill = tensor.values[0] if tensor.values else 0
    count = math.prod(shape)
    return [small(shape, dtype, [fill] * count if count <= SMALL_ELEMENTS else None)]


@_op("Shape")
def shape_of(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    start = ctx.int_("start", 0)
    end = ctx.int_("end", rank)
    dims = x.shape[slice(start, end)]
    return [Value((len(dims),), INT64, dims)]


@_op("Size")
def size_of(_ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    return [Value((), INT64, (need(inputs, 0).numel,))]


@_op("Gather")
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


@_op("Concat")
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


@_op("Split")
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


@_op("Slice")
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


@_op("Reshape")
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


@_op("Flatten")
def flatten(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axis = ctx.int_("axis", 1)
    rank = len(x.shape)
    if not -rank <= axis <= rank:
        raise ctx.fail(f"axis {axis} is out of range for a rank-{rank} input")
    axis = axis + rank if axis < 0 else axis
    out = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    return [small(out, x.dtype, x.data)]


@_op("Transpose")
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


@_op("Squeeze")
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


@_op("Unsqueeze")
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


@_op("Pad")
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


@_op("Resize", "Upsample")
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


@_op(*REDUCTIONS)
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


@_op("ArgMax", "ArgMin")
def arg_reduce(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axis = axis_of(ctx, ctx.int_("axis", 0), len(x.shape))
    keep = ctx.int_("keepdims", 1)
    out = tuple(1 if i == axis else dim for i, dim in enumerate(x.shape) if keep or i != axis)
    return [Value(out, INT64)]


@_op("Expand")
def expand(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    out = broadcast(ctx, [x.shape, ints_of(need(inputs, 1))])
    data = None
    if x.data is not None and math.prod(out) <= SMALL_ELEMENTS:
        data = [v[0] for v in _broadcast_data([x.shape], [x.data], out)]
    return [small(out, x.dtype, data)]


@_op("Tile")
def tile(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    repeats = ints_of(need(inputs, 1))
    if len(repeats) != len(x.shape) or min(repeats, default=0) < 0:
        raise ctx.fail(f"repeats {list(repeats)} do not fit {list(x.shape)}")
    return [Value(tuple(d * r for d, r in zip(x.shape, repeats, strict=True)), x.dtype)]


@_op("Range")
def range_(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    start, limit, delta = (need(inputs, i) for i in range(3))
    if start.data is None or limit.data is None or delta.data is None:
        raise Unknown
    first, last, step = start.data[0], limit.data[0], delta.data[0]
    if step == 0:
        raise ctx.fail("delta is 0")
    count = max(math.ceil((last - first) / step), 0)
    data = [first + i * step for i in range(count)] if count <= SMALL_ELEMENTS else None
    return [small((count,), start.dtype, data)]


@_op("DepthToSpace", "SpaceToDepth")
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


#: Op types with graph-valued attributes: their bodies are not costed, so the import refuses them.
CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})


def has_subgraph(node: Node) -> bool:
    return node.op_type in CONTROL_FLOW or any(
        isinstance(value, Subgraph) for value in node.attributes.values()
    )
