"""One cost handler per op kind: an op's output shape and cost from its attributes and input shapes.

"How is X counted?" is answered here and nowhere else (fvcore's ``jit_handles.py`` is the model).
Each op is a frozen record of its attributes; :func:`run` looks its handler up in
:data:`HANDLERS` and calls it with the op, the input shapes and the batch. A spec layer, a what-if
replacement and a graph node from a model file all reach the same handler. Adding an op is one
record, one handler and one row of :data:`HANDLERS`.

The conventions are those of :mod:`dsc_calc.cost.conv`: MACs are the multiply-accumulates of conv
and linear weights (bias excluded); FLOPs are 2 × MACs plus one add per output with a bias;
params include bias, and a batch norm has 2 per channel (scale and shift; its running statistics
are buffers, not parameters). Activations, pools, adds and the squeeze-and-excite multiply cost
0 MACs and have no params.

Handlers raise :class:`~dsc_calc.errors.DscCalcError` naming the op's field (``padding``, ``k``),
or no field when the inputs are at fault; callers add where the op came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dsc_calc.cost.conv import Conv2d, Cost, Padding, Pair, Shape
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: The cost of an op without weights.
ZERO = Cost()


@dataclass(frozen=True, slots=True)
class Linear:
    """A fully connected layer on the flattened input: ``in·out`` weights, plus ``out`` biases."""

    out_features: int
    bias: bool = True


@dataclass(frozen=True, slots=True)
class BatchNorm:
    """A batch norm over the channels: a scale and a shift per channel."""


@dataclass(frozen=True, slots=True)
class Pool:
    """A max or average pool; ``global_`` pools each channel to 1×1."""

    op: Literal["max", "avg"]
    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)
    padding: Padding = (0, 0)
    global_: bool = False


@dataclass(frozen=True, slots=True)
class Activation:
    """An elementwise nonlinearity (``relu``, ``hswish``, ...): no weights, no MACs."""

    function: str


@dataclass(frozen=True, slots=True)
class Add:
    """The elementwise sum of tensors of one shape (a residual add)."""


@dataclass(frozen=True, slots=True)
class Mul:
    """The product of a tensor with a per-channel gate (squeeze-and-excite's scaling)."""


Op = Conv2d | Linear | BatchNorm | Pool | Activation | Add | Mul


def conv(op: Conv2d, inputs: Sequence[Shape], batch: int) -> tuple[Shape, Cost]:
    """A conv's output by PyTorch's rule and its cost from its weight shape (:class:`Conv2d`)."""
    (source,) = inputs
    return op.output_shape(source), op.cost(source, batch)


def linear(op: Linear, inputs: Sequence[Shape], batch: int) -> tuple[Shape, Cost]:
    """``in·out`` MACs a sample on the flattened input; params ``in·out`` (+ ``out`` with bias)."""
    (source,) = inputs
    features = source.numel
    macs = batch * features * op.out_features
    cost = Cost(
        features * op.out_features + (op.out_features if op.bias else 0),
        macs,
        2 * macs + (batch * op.out_features if op.bias else 0),
    )
    return Shape(op.out_features, 1, 1), cost


def batchnorm(_op: BatchNorm, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """2·C params (scale and shift), 0 MACs."""
    (source,) = inputs
    return source, Cost(2 * source.channels)


def pool(op: Pool, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """PyTorch's pool output size (``same`` as TensorFlow's ``ceil(H / s)``); 0 params, 0 MACs."""
    (source,) = inputs
    if op.global_:
        return Shape(source.channels, 1, 1), ZERO
    pads = op.padding if isinstance(op.padding, tuple) else (op.padding, op.padding)
    sizes = []
    for axis, size, k, s, p in (
        ("height", source.height, op.kernel[0], op.stride[0], pads[0]),
        ("width", source.width, op.kernel[1], op.stride[1], pads[1]),
    ):
        if p == "same":
            sizes.append(-(-size // s))
            continue
        pad = 0 if p == "valid" else int(p)
        if 2 * pad > k:
            raise DscCalcError(
                "padding",
                f"padding {pad} is more than half the pool kernel {k} (PyTorch refuses it); "
                "use at most k // 2",
            )
        if size + 2 * pad < k:
            raise DscCalcError(
                "k",
                f"pool kernel {k} is larger than the padded input {axis} {size + 2 * pad}; "
                "use a smaller kernel or a larger input",
            )
        sizes.append((size + 2 * pad - k) // s + 1)
    return Shape(source.channels, sizes[0], sizes[1]), ZERO


def activation(_op: Activation, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """Elementwise: the shape is kept; 0 params, 0 MACs."""
    (source,) = inputs
    return source, ZERO


def add(_op: Add, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """The sum of equal shapes; 0 params, 0 MACs."""
    first, *others = inputs
    for other in others:
        if other != first:
            raise DscCalcError("", f"an add needs equal shapes, got {first} and {other}")
    return first, ZERO


def mul(_op: Mul, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """A tensor times a gate: the tensor's shape; 0 params, 0 MACs."""
    return inputs[0], ZERO


#: Each op kind's handler.
HANDLERS: dict[type, Callable[..., tuple[Shape, Cost]]] = {
    Conv2d: conv,
    Linear: linear,
    BatchNorm: batchnorm,
    Pool: pool,
    Activation: activation,
    Add: add,
    Mul: mul,
}


def run(op: Op, inputs: Sequence[Shape], batch: int = 1) -> tuple[Shape, Cost]:
    """The output shape and cost of ``op`` on ``inputs`` (per-sample shapes) for ``batch``."""
    return HANDLERS[type(op)](op, inputs, batch)
