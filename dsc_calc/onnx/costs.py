"""Each ONNX node's MACs and FLOPs: one small function per op type, in :data:`COSTS`.

Conventions (the README's "Real models" section states them):

* MACs are the multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul, bias excluded, and 0
  for every other op. A 2-D Conv is a :class:`dsc_calc.cost.conv.Conv2d` costed by
  ``Conv2d.cost``, so its figures come from the same core as a spec's; a 1-D Conv is costed as
  1-D (``N·Cout·Lout·(Cin/g)·k``); ConvTranspose is ``N·Cin·(Cout/g)·k…·Hin·Win`` (fvcore's
  convention); Gemm is ``M·K·N``; MatMul is ``batch·M·K·N`` (also between two activations).
* FLOPs are 2 × MACs, plus one add per output element where there is a bias.
* 3-D (and higher) convs are not costed: they are listed as not costed, never counted as 0.

Params are not here: they come from the initializers a node reads (:mod:`dsc_calc.onnx.model`).
Each function takes the node's :class:`~dsc_calc.onnx.shapes.Context`, its input values and its
output values, and returns a :class:`NodeCost`; these can move one by one into a per-op handler
registry.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import msgspec

from dsc_calc.cost.conv import Conv2d, Padding, Shape
from dsc_calc.errors import DscCalcError
from dsc_calc.onnx.shapes.conv import (
    conv_geometry,
    conv_transpose_geometry,
    gemm_dims,
    matmul_dims,
    window_geometry,
)
from dsc_calc.onnx.shapes.core import SHAPES, Context, Value, need, registrar

if TYPE_CHECKING:
    from collections.abc import Callable

Kind = Literal["conv", "pointwise", "depthwise", "linear", "other"]


class NodeCost(msgspec.Struct, frozen=True):
    """A node's MACs and FLOPs, its Conv2d if it is a 2-D conv, and how to show it.

    ``type`` is the row type (the spec's names where they exist: ``conv``, ``dwconv``,
    ``pwconv``, ``batchnorm``, ``relu``…; the op type otherwise); ``not_costed`` names why the
    node's cost is unknown (a key of the model's not-costed list) or is empty.
    """

    type: str
    macs: int = 0
    flops: int = 0
    kind: Kind = "other"
    conv: Conv2d | None = None
    geometry: str = ""
    not_costed: str = ""


COSTS: dict[str, Callable[[Context, list[Value | None], list[Value | None]], NodeCost]] = {}

#: Row types of zero-MAC ops that have a spec counterpart (so --what-if standard sees them).
SPEC_TYPES = {
    "BatchNormalization": "batchnorm",
    "Relu": "relu",
    "HardSwish": "hswish",
    "HardSigmoid": "hsigmoid",
    "Sigmoid": "sigmoid",
    "MaxPool": "maxpool",
    "AveragePool": "avgpool",
    "GlobalAveragePool": "avgpool",
    "GlobalMaxPool": "maxpool",
}


_op = registrar(COSTS)


def node_cost(ctx: Context, inputs: list[Value | None], outputs: list[Value | None]) -> NodeCost:
    """The cost of one node whose output shapes are known."""
    op = ctx.node.op_type
    function = COSTS.get(op)
    if function is not None:
        return function(ctx, inputs, outputs)
    if op in SHAPES:
        return NodeCost(SPEC_TYPES.get(op, op))
    return NodeCost(op, not_costed=op)


def _has(ctx: Context, index: int) -> bool:
    return len(ctx.node.inputs) > index and bool(ctx.node.inputs[index])


def _pair_text(values: tuple[int, ...]) -> str:
    return str(values[0]) if len(set(values)) == 1 else "×".join(map(str, values))


def _kind(groups: int, cin: int, kernel: tuple[int, ...]) -> Kind:
    if groups == cin > 1:
        return "depthwise"
    if groups == 1 and all(k == 1 for k in kernel):
        return "pointwise"
    return "conv"


_TYPES: dict[Kind, str] = {"depthwise": "dwconv", "pointwise": "pwconv", "conv": "conv"}


@_op("Conv")
def conv(ctx: Context, inputs: list[Value | None], _outputs: list[Value | None]) -> NodeCost:
    x, w = need(inputs, 0), need(inputs, 1)
    spatial = len(x.shape) - 2
    if spatial > 2:
        return NodeCost(f"conv{spatial}d", not_costed=f"Conv ({spatial}-D)")
    geometry = conv_geometry(ctx, x, w)
    if spatial == 2:
        return _conv2d(ctx, x, w, geometry.output, geometry.begins, geometry.ends)
    # A 1-D conv (N, C, L): costed and shown as 1-D.
    batch, cin = x.shape[0], x.shape[1]
    cout, (k,), groups = w.shape[0], geometry.kernel, geometry.groups
    outputs = batch * cout * geometry.output[0]
    macs = outputs * (cin // groups) * k
    bias = _has(ctx, 2)
    kind = _kind(groups, cin, geometry.kernel)
    parts = [f"conv1d k{k}", f"{cin}\u2192{cout}"]
    if geometry.strides[0] != 1:
        parts.append(f"s{geometry.strides[0]}")
    if geometry.dilations[0] != 1:
        parts.append(f"d{geometry.dilations[0]}")
    if groups != 1:
        parts.append(f"g{groups}")
    if bias:
        parts.append("+bias")
    return NodeCost(
        "conv1d", macs, 2 * macs + (outputs if bias else 0), kind, None, " ".join(parts)
    )


def _conv2d(
    ctx: Context,
    x: Value,
    w: Value,
    out: tuple[int, ...],
    begins: tuple[int, ...],
    ends: tuple[int, ...],
) -> NodeCost:
    batch, cin, height, width = x.shape
    cout, _, kh, kw = w.shape
    groups = ctx.int_("group", 1)
    strides = ctx.ints("strides", (1, 1)) or (1, 1)
    dilations = ctx.ints("dilations", (1, 1)) or (1, 1)
    bias = _has(ctx, 2)
    candidates: list[Padding] = []
    if begins == ends:
        candidates.append((begins[0], begins[1]))
    candidates += ["same", ((begins[0] + ends[0]) // 2, (begins[1] + ends[1]) // 2)]
    candidates.append((-(-(begins[0] + ends[0]) // 2), -(-(begins[1] + ends[1]) // 2)))
    source = Shape(cin, height, width)
    wanted = Shape(cout, out[0], out[1])
    for padding in candidates:
        try:
            layer = Conv2d(
                cin, cout, (kh, kw), (strides[0], strides[1]), padding,
                (dilations[0], dilations[1]), groups, bias,
            )  # fmt: skip
            if layer.output_shape(source) != wanted:
                continue
        except DscCalcError:
            continue
        cost = layer.cost(source, batch)
        kind = _kind(groups, cin, (kh, kw))
        type_ = _TYPES[kind]
        text = f"{type_} {layer.describe()}"
        if begins != ends:
            text += f" pads {list(begins) + list(ends)}"
        return NodeCost(type_, cost.macs, cost.flops, kind, layer, text)
    # No symmetric or 'same' padding reproduces the output (e.g. pads [0, 0, 3, 1]): count by the
    # closed form, without a Conv2d (so no what-if for this node).
    outputs = batch * cout * out[0] * out[1]
    macs = outputs * (cin // groups) * kh * kw
    kind = _kind(groups, cin, (kh, kw))
    text = f"{_TYPES[kind]} {kh}×{kw} {cin}→{cout} pads {list(begins) + list(ends)}"
    return NodeCost(_TYPES[kind], macs, 2 * macs + (outputs if bias else 0), kind, None, text)


@_op("ConvTranspose")
def conv_transpose(
    ctx: Context, inputs: list[Value | None], _outputs: list[Value | None]
) -> NodeCost:
    x, w = need(inputs, 0), need(inputs, 1)
    spatial = len(x.shape) - 2
    if spatial > 2:
        return NodeCost("convtranspose", not_costed=f"ConvTranspose ({spatial}-D)")
    sizes, cout = conv_transpose_geometry(ctx, x, w)
    groups = ctx.int_("group", 1)
    batch, cin = x.shape[0], x.shape[1]
    kernel = w.shape[2:]
    macs = batch * cin * (cout // groups) * math.prod(kernel) * math.prod(x.shape[2:])
    outputs = batch * cout * math.prod(sizes)
    bias = _has(ctx, 2)
    strides = ctx.ints("strides", (1,) * spatial) or (1,)
    text = f"convtranspose {'×'.join(map(str, kernel))} {cin}→{cout}"
    if set(strides) != {1}:
        text += f" s{_pair_text(strides)}"
    if groups != 1:
        text += f" g{groups}"
    return NodeCost("convtranspose", macs, 2 * macs + (outputs if bias else 0), "conv", None, text)


@_op("Gemm")
def gemm(ctx: Context, inputs: list[Value | None], _outputs: list[Value | None]) -> NodeCost:
    m, k, n = gemm_dims(ctx, need(inputs, 0), need(inputs, 1))
    macs = m * k * n
    bias = _has(ctx, 2)
    text = f"linear {k}\u2192{n}" + (" +bias" if bias else "")
    return NodeCost("linear", macs, 2 * macs + (m * n if bias else 0), "linear", None, text)


@_op("MatMul")
def matmul(ctx: Context, inputs: list[Value | None], _outputs: list[Value | None]) -> NodeCost:
    out, m, k, n = matmul_dims(ctx, need(inputs, 0), need(inputs, 1))
    batch = math.prod(out) // max(m * n, 1) if m * n else 0
    macs = batch * m * k * n
    return NodeCost("matmul", macs, 2 * macs, "linear", None, f"matmul {m}×{k} · {k}×{n}")


@_op("Clip")
def clip(ctx: Context, inputs: list[Value | None], _outputs: list[Value | None]) -> NodeCost:
    """Clip(0, 6) is ReLU6 (as the spec names it); other bounds stay Clip."""
    if ctx.opset < 11:
        low = ctx.node.attributes.get("min")
        high = ctx.node.attributes.get("max")
    else:
        low_value = inputs[1] if len(inputs) > 1 else None
        high_value = inputs[2] if len(inputs) > 2 else None
        low = low_value.data[0] if low_value is not None and low_value.data else None
        high = high_value.data[0] if high_value is not None and high_value.data else None
    return NodeCost("relu6" if low == 0 and high == 6 else "clip")


@_op("MaxPool", "AveragePool")
def pool(ctx: Context, inputs: list[Value | None], _outputs: list[Value | None]) -> NodeCost:
    x = need(inputs, 0)
    kernel = ctx.ints("kernel_shape") or ()
    geometry = window_geometry(ctx, x.shape[2:], kernel, ceil_mode=bool(ctx.int_("ceil_mode", 0)))
    type_ = SPEC_TYPES[ctx.node.op_type]
    text = f"{type_} {'×'.join(map(str, kernel))}"
    if set(geometry.strides) != {1}:
        text += f" s{_pair_text(geometry.strides)}"
    if any(geometry.begins) or any(geometry.ends):
        text += f" p{_pair_text(geometry.begins + geometry.ends)}"
    if ctx.int_("ceil_mode", 0):
        text += " ceil"
    return NodeCost(type_, geometry=text)
