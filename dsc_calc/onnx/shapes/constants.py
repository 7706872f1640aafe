"""Shapes (and data) of the ops that make small tensors: Constant, ConstantOfShape, Shape, Size
and Range, whose values feed the shape arithmetic of the rest of the graph.
"""

from __future__ import annotations

import math

from dsc_calc.onnx.reader import FLOAT, INT64, SMALL_ELEMENTS, Initializer
from dsc_calc.onnx.shapes.core import Context, Unknown, Value, handles, ints_of, need, small


@handles("Constant")
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


@handles("ConstantOfShape")
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


@handles("Shape")
def shape_of(ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    x = need(inputs, 0)
    rank = len(x.shape)
    start = ctx.int_("start", 0)
    end = ctx.int_("end", rank)
    dims = x.shape[slice(start, end)]
    return [Value((len(dims),), INT64, dims)]


@handles("Size")
def size_of(_ctx: Context, inputs: list[Value | None]) -> list[Value | None]:
    return [Value((), INT64, (need(inputs, 0).numel,))]


@handles("Range")
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
