"""Shapes of the ops that work element by element: unary ops, Cast, Dropout, the broadcasting
binary and variadic ops and Expand (with their small data computed), and the normalisations whose
output has the input's shape.
"""

from __future__ import annotations

import math
from itertools import product
from typing import TYPE_CHECKING

from dsc_calc.onnx.reader import BOOL, FLOAT, INTEGER_TYPES, SMALL_ELEMENTS, Number
from dsc_calc.onnx.shapes.core import (
    Context,
    Unknown,
    Value,
    axis_of,
    broadcast,
    handles,
    ints_of,
    need,
    small,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dsc_calc.onnx.shapes.core import Shape


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


@handles(*UNARY)
def unary(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    op = ctx.node.op_type
    dtype = BOOL if op in ("Not", "IsNaN", "IsInf") else x.dtype
    function = _UNARY_DATA.get(op)
    data = None
    if function is not None and x.data is not None:
        data = tuple(function(v) for v in x.data)
    return [Value(x.shape, dtype, data)]


@handles("Dropout")
def dropout(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    outputs: list[Value | None] = [x, Value(x.shape, BOOL)]
    return outputs[: max(1, len(ctx.node.outputs))]


@handles("Cast", "CastLike")
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


@handles("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu", "Mod", "And",
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


@handles("Expand")
def expand(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    out = broadcast(ctx, [x.shape, ints_of(need(inputs, 1))])
    data = None
    if x.data is not None and math.prod(out) <= SMALL_ELEMENTS:
        data = [v[0] for v in _broadcast_data([x.shape], [x.data], out)]
    return [small(out, x.dtype, data)]


# --- Normalisations (the output has the input's shape) ----------------------------------------


@handles("BatchNormalization")
def batchnorm(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    if len(x.shape) < 2:
        raise ctx.fail(f"needs an input with channels, got {list(x.shape)}")
    channels = Value((x.shape[1],), x.dtype)
    outputs: list[Value | None] = [x, channels, channels, channels, channels]
    return outputs[: max(1, len(ctx.node.outputs))]


@handles("LayerNormalization")
def layernorm(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    axis = axis_of(ctx, ctx.int_("axis", -1), len(x.shape))
    stats = Value((*x.shape[:axis], *(1,) * (len(x.shape) - axis)), FLOAT)
    outputs: list[Value | None] = [x, stats, stats]
    return outputs[: max(1, len(ctx.node.outputs))]
