"""One cost handler per op kind: an op's output shape and cost from its attributes and input shapes.

"How is X counted?" is answered here and nowhere else (fvcore's ``jit_handles.py`` is the model).
Each op is a frozen record of its attributes; :func:`run` looks its handler up in
:data:`HANDLERS` and calls it with the op, the input shapes and the batch. A spec layer, a what-if
replacement and a graph node from a model file all reach the same handler. Adding an op is one
record, one handler and one row of :data:`HANDLERS`.

The conventions are those of :mod:`dsc_calc.cost.conv`: MACs are the multiply-accumulates of conv
and linear weights (bias excluded); FLOPs are 2 × MACs plus one add per output with a bias;
params include bias, and a batch norm or a layer norm has 2 per channel (scale and shift; running
statistics are buffers, not parameters), a layer scale 1. A transposed conv counts the MACs of
its weights too: each input pixel scatters the kernel. Activations, pools, adds, concats, channel
shuffles, upsampling, dropout, flatten and the squeeze-and-excite multiply cost 0 MACs and have
no params.

Handlers raise :class:`~dsc_calc.errors.DscCalcError` naming the op's field (``padding``, ``k``),
or no field when the inputs are at fault; callers add where the op came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from dsc_calc.cost.conv import Conv2d, Cost, Padding, Pair, Shape
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: The cost of an op without weights.
ZERO = Cost()


class Linear(msgspec.Struct, frozen=True):
    """A fully connected layer on the flattened input: ``in·out`` weights, plus ``out`` biases."""

    out_features: int
    bias: bool = True


class BatchNorm(msgspec.Struct, frozen=True):
    """A batch norm over the channels: a scale and a shift per channel."""


class Pool(msgspec.Struct, frozen=True):
    """A max or average pool; ``global_`` pools each channel to 1×1, ``output_size`` is an adaptive
    pool's output (PyTorch's ``AdaptiveAvgPool2d``), ``ceil_mode`` PyTorch's rounding up."""

    op: Literal["max", "avg"]
    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)
    padding: Padding = (0, 0)
    global_: bool = False
    ceil_mode: bool = False
    output_size: Pair | None = None


class LayerNorm(msgspec.Struct, frozen=True):
    """A layer norm over the channels at each position (ConvNeXt's ``LayerNorm2d``): 2·C params."""


class LayerScale(msgspec.Struct, frozen=True):
    """A learnable per-channel scale (ConvNeXt's layer scale): C params."""


class Concat(msgspec.Struct, frozen=True):
    """Tensors of one height and width joined along the channels."""


class Shuffle(msgspec.Struct, frozen=True):
    """ShuffleNet's channel shuffle: ``groups`` must divide the channels; a permutation."""

    groups: int


class Upsample(msgspec.Struct, frozen=True):
    """Nearest or bilinear upsampling by integer factors ``(sh, sw)``."""

    scale: Pair
    mode: Literal["nearest", "bilinear"] = "nearest"


class Dropout(msgspec.Struct, frozen=True):
    """Dropout: the identity at inference."""


class Flatten(msgspec.Struct, frozen=True):
    """C×H×W flattened to C·H·W channels of 1×1."""


class ConvTranspose2d(msgspec.Struct, frozen=True):
    """``torch.nn.ConvTranspose2d``: every input pixel scatters the kernel (fvcore's count).

    params ``Cin·(Cout/g)·kh·kw`` (+ ``Cout`` with bias); MACs ``Cin·(Cout/g)·kh·kw·Hin·Win``;
    output ``(H−1)·s − 2p + d·(k−1) + output_padding + 1``.
    """

    in_channels: int
    out_channels: int
    kernel: Pair = (3, 3)
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    output_padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = False

    def __post_init__(self) -> None:
        for name in ("in_channels", "out_channels"):
            if getattr(self, name) % self.groups:
                raise DscCalcError(
                    "groups",
                    f"groups={self.groups} does not divide {name}={getattr(self, name)}",
                )
        for axis in (0, 1):
            extra = self.output_padding[axis]
            if extra >= self.stride[axis] and extra >= self.dilation[axis]:
                raise DscCalcError(
                    "output_padding",
                    f"output_padding {extra} must be smaller than the stride "
                    f"{self.stride[axis]} or the dilation {self.dilation[axis]} (PyTorch's rule)",
                )

    @property
    def params(self) -> int:
        weights = (
            self.in_channels * (self.out_channels // self.groups) * self.kernel[0] * self.kernel[1]
        )
        return weights + (self.out_channels if self.bias else 0)

    def output_shape(self, source: Shape) -> Shape:
        if source.channels != self.in_channels:
            raise DscCalcError(
                "in_channels",
                f"the layer takes {self.in_channels} channels but its input has {source.channels}",
            )
        sizes = []
        for axis, size in ((0, source.height), (1, source.width)):
            out = (
                (size - 1) * self.stride[axis]
                - 2 * self.padding[axis]
                + self.dilation[axis] * (self.kernel[axis] - 1)
                + self.output_padding[axis]
                + 1
            )
            if out < 1:
                raise DscCalcError(
                    "padding",
                    f"gives an output {('height', 'width')[axis]} of {out}; use less padding",
                )
            sizes.append(out)
        return Shape(self.out_channels, sizes[0], sizes[1])

    def describe(self) -> str:
        """``4×4 64→32 s2`` and so on, like :meth:`Conv2d.describe`."""
        kh, kw = self.kernel
        parts = [f"{kh}\u00d7{kw}", f"{self.in_channels}\u2192{self.out_channels}"]
        if self.stride != (1, 1):
            parts.append(
                f"s{self.stride[0]}"
                if self.stride[0] == self.stride[1]
                else f"s{self.stride[0]}\u00d7{self.stride[1]}"
            )
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        if self.bias:
            parts.append("+bias")
        return " ".join(parts)


class Activation(msgspec.Struct, frozen=True):
    """An elementwise nonlinearity (``relu``, ``hswish``, ...): no weights, no MACs."""

    function: str


class Add(msgspec.Struct, frozen=True):
    """The elementwise sum of tensors of one shape (a residual add)."""


class Mul(msgspec.Struct, frozen=True):
    """The product of a tensor with a per-channel gate (squeeze-and-excite's scaling)."""


Op = (
    Conv2d
    | ConvTranspose2d
    | Linear
    | BatchNorm
    | LayerNorm
    | LayerScale
    | Pool
    | Activation
    | Add
    | Mul
    | Concat
    | Shuffle
    | Upsample
    | Dropout
    | Flatten
)


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


def conv_transpose(op: ConvTranspose2d, inputs: Sequence[Shape], batch: int) -> tuple[Shape, Cost]:
    """Each input pixel scatters the kernel: ``Cin·(Cout/g)·kh·kw`` MACs per input pixel."""
    (source,) = inputs
    out = op.output_shape(source)
    per_pixel = op.in_channels * (op.out_channels // op.groups) * op.kernel[0] * op.kernel[1]
    macs = batch * source.height * source.width * per_pixel
    outputs = batch * out.numel
    return out, Cost(op.params, macs, 2 * macs + (outputs if op.bias else 0))


def pool(op: Pool, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """PyTorch's pool output size (``same`` as TensorFlow's ``ceil(H / s)``); 0 params, 0 MACs.

    With ``ceil_mode`` the division rounds up, but as in PyTorch the last window must start inside
    the input or its left padding; an adaptive pool (``output_size``) gives that size.
    """
    (source,) = inputs
    if op.global_:
        return Shape(source.channels, 1, 1), ZERO
    if op.output_size is not None:
        return Shape(source.channels, *op.output_size), ZERO
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
        span = size + 2 * pad - k
        # PyTorch rounds towards -inf; in ceil mode the last window may hang past the input, but
        # must start inside it or its left padding.
        out = (span + (s - 1 if op.ceil_mode else 0)) // s + 1
        if op.ceil_mode and (out - 1) * s >= size + pad:
            out -= 1
        if out < 1:
            raise DscCalcError(
                "k",
                f"pool kernel {k} is larger than the padded input {axis} {size + 2 * pad}; "
                "use a smaller kernel or a larger input",
            )
        sizes.append(out)
    return Shape(source.channels, sizes[0], sizes[1]), ZERO


def norm(op: LayerNorm | LayerScale, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """A layer norm has a scale and a shift per channel (2·C), a layer scale a scale (C)."""
    (source,) = inputs
    per_channel = 2 if isinstance(op, LayerNorm) else 1
    return source, Cost(per_channel * source.channels)


def concat(_op: Concat, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """Channels add up; heights and widths must agree. 0 params, 0 MACs."""
    first = inputs[0]
    for other in inputs[1:]:
        if (other.height, other.width) != (first.height, first.width):
            raise DscCalcError(
                "", f"a concat needs equal heights and widths, got {first} and {other}"
            )
    return Shape(sum(shape.channels for shape in inputs), first.height, first.width), ZERO


def shuffle(op: Shuffle, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """A permutation of the channels: the shape is kept. 0 params, 0 MACs."""
    (source,) = inputs
    if source.channels % op.groups:
        raise DscCalcError(
            "groups", f"{op.groups} groups do not divide the {source.channels} input channels"
        )
    return source, ZERO


def upsample(op: Upsample, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """Height and width times the integer factors. 0 params, 0 MACs (interpolation isn't a MAC
    of weights)."""
    (source,) = inputs
    return Shape(source.channels, source.height * op.scale[0], source.width * op.scale[1]), ZERO


def flatten(_op: Flatten, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """C·H·W channels of 1×1."""
    (source,) = inputs
    return Shape(source.numel, 1, 1), ZERO


def identity(_op: Dropout, inputs: Sequence[Shape], _batch: int) -> tuple[Shape, Cost]:
    """Dropout at inference: the identity."""
    return inputs[0], ZERO


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
    ConvTranspose2d: conv_transpose,
    Linear: linear,
    BatchNorm: batchnorm,
    LayerNorm: norm,
    LayerScale: norm,
    Pool: pool,
    Activation: activation,
    Add: add,
    Mul: mul,
    Concat: concat,
    Shuffle: shuffle,
    Upsample: upsample,
    Dropout: identity,
    Flatten: flatten,
}


def run(op: Op, inputs: Sequence[Shape], batch: int = 1) -> tuple[Shape, Cost]:
    """The output shape and cost of ``op`` on ``inputs`` (per-sample shapes) for ``batch``."""
    return HANDLERS[type(op)](op, inputs, batch)
