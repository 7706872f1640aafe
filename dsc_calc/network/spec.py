"""The network spec: msgspec Structs that decode and validate a JSON spec in one pass.

A spec is ``{"name", "input": {channels, height, width}, "layers": [...]}`` plus optional
``family``, ``source`` and ``description``. Each layer is a Struct tagged by its ``type`` key; a
``{"repeat": n, "layers": [...]}`` block has no ``type`` and is tagged ``repeat`` on decoding.
Unknown keys and types are refused. msgspec's errors are re-worded here to dsc-calc's style: the
exact place (``layers[3].stride``), what is wrong with the value, and the known choices.

This module imports msgspec at import time, so command modules import it inside their functions.
It has no ``from __future__ import annotations``: msgspec would evaluate every string annotation
on the first decode (2.5 ms of the 3.8 ms that the first decode of a preset took); only the
recursive ``"Layer"`` is written as a string.
"""

import functools
import operator
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast, get_args

import msgspec

from dsc_calc.choices import ACTIVATIONS, Activation, Family
from dsc_calc.cost.conv import MAX_DIMENSION

StructT = TypeVar("StructT", bound=msgspec.Struct)

#: The largest ``repeat`` count accepted in one block (the unrolled total has its own limit).
MAX_REPEAT = 1_000_000

PositiveInt = Annotated[int, msgspec.Meta(ge=1, le=MAX_DIMENSION)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0, le=MAX_DIMENSION)]
PositivePair = Annotated[list[PositiveInt], msgspec.Meta(min_length=2, max_length=2)]
NonNegativePair = Annotated[list[NonNegativeInt], msgspec.Meta(min_length=2, max_length=2)]
IntOrPair = PositiveInt | PositivePair
PaddingSpec = NonNegativeInt | NonNegativePair | Literal["same", "valid"]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0, le=1e6)]
#: The longest network or layer name: every row's name repeats its layer's (and its blocks'),
#: so a long name times a million unrolled rows would exhaust memory.
MAX_NAME = 100
Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME)]


_OPTIONS: dict[str, Any] = {"forbid_unknown_fields": True, "kw_only": True, "frozen": True}


class Input(msgspec.Struct, **_OPTIONS):
    """The input activation of one sample."""

    channels: PositiveInt
    height: PositiveInt
    width: PositiveInt


class Conv(msgspec.Struct, tag="conv", **_OPTIONS):
    """A standard (or grouped) convolution."""

    out: PositiveInt
    k: IntOrPair = 3
    stride: IntOrPair = 1
    padding: PaddingSpec = "same"
    dilation: IntOrPair = 1
    groups: PositiveInt = 1
    bias: bool = False
    bn: bool = False
    act: Activation | None = None
    name: Name | None = None


class SpConv(Conv, tag="spconv", **_OPTIONS):
    """A spatially separable conv: kh x 1 (Cin -> out), then 1 x kw (out -> out)."""


class DwConv(msgspec.Struct, tag="dwconv", **_OPTIONS):
    """A depthwise convolution: groups = Cin, out = Cin * multiplier."""

    k: IntOrPair = 3
    stride: IntOrPair = 1
    padding: PaddingSpec = "same"
    dilation: IntOrPair = 1
    multiplier: PositiveInt = 1
    bias: bool = False
    bn: bool = False
    act: Activation | None = None
    name: Name | None = None


class PwConv(msgspec.Struct, tag="pwconv", **_OPTIONS):
    """A 1x1 convolution, stride 1, no padding."""

    out: PositiveInt
    groups: PositiveInt = 1
    bias: bool = False
    bn: bool = False
    act: Activation | None = None
    name: Name | None = None


class DsConv(msgspec.Struct, tag="dsconv", **_OPTIONS):
    """A depthwise separable conv: a depthwise row (with the geometry) then a pointwise row."""

    out: PositiveInt
    k: IntOrPair = 3
    stride: IntOrPair = 1
    padding: PaddingSpec = "same"
    dilation: IntOrPair = 1
    bias: bool = False
    bn: bool = False
    act: Activation | None = None
    name: Name | None = None


class _Named(msgspec.Struct, **_OPTIONS):
    # The base of every layer that takes nothing but a name. No docstring: a class's docstring is
    # its description in the schema, and a subclass does not inherit it.
    name: Name | None = None


class BatchNorm(_Named, tag="batchnorm"):
    """Batch norm: 2·C trainable params (scale and shift), 0 MACs."""


class ActivationLayer(_Named):
    # The base of the activation layers, one a value of ``Activation`` (``{"type": "relu"}``). No
    # docstring, as on ``_Named``.
    pass


#: One layer Struct per activation of :data:`dsc_calc.choices.Activation`, named after its tag
#: (``Relu``, ``Relu6``, ...): adding an activation to that value set adds its layer.
ACTIVATION_LAYERS: tuple[type[ActivationLayer], ...] = tuple(
    cast(
        "type[ActivationLayer]",
        msgspec.defstruct(
            name.capitalize(), [], bases=(ActivationLayer,), tag=name, module=__name__
        ),
    )
    for name in ACTIVATIONS
)


class LayerNorm(_Named, tag="layernorm"):
    """A layer norm over the channels at each position (ConvNeXt's LayerNorm2d): 2·C params."""


class Scale(_Named, tag="scale"):
    """A learnable per-channel scale (ConvNeXt's layer scale): C params."""


class Shuffle(msgspec.Struct, tag="shuffle", **_OPTIONS):
    """ShuffleNet's channel shuffle in ``groups`` groups (which must divide C): 0 params."""

    groups: PositiveInt
    name: Name | None = None


class Dropout(msgspec.Struct, tag="dropout", **_OPTIONS):
    """Dropout: the identity at inference, 0 params."""

    p: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.5
    name: Name | None = None


class Flatten(_Named, tag="flatten"):
    """C×H×W flattened to C·H·W×1×1, 0 params."""


class Upsample(msgspec.Struct, tag="upsample", **_OPTIONS):
    """Nearest or bilinear upsampling by integer factors, 0 params."""

    scale: IntOrPair = 2
    mode: Literal["nearest", "bilinear"] = "nearest"
    name: Name | None = None


class ConvTranspose(msgspec.Struct, tag="convtranspose", **_OPTIONS):
    """A transposed convolution, as ``torch.nn.ConvTranspose2d``."""

    out: PositiveInt
    k: IntOrPair = 3
    stride: IntOrPair = 1
    padding: NonNegativeInt | NonNegativePair = 0
    output_padding: NonNegativeInt | NonNegativePair = 0
    dilation: IntOrPair = 1
    groups: PositiveInt = 1
    bias: bool = False
    name: Name | None = None


class Pool(msgspec.Struct, tag="pool", **_OPTIONS):
    """Max or average pooling; ``global`` pools each channel to 1x1."""

    op: Literal["max", "avg"] = "max"
    k: IntOrPair | None = None
    stride: IntOrPair | None = None
    padding: PaddingSpec = 0
    global_: bool = msgspec.field(default=False, name="global")
    ceil_mode: bool = False
    output_size: IntOrPair | None = None
    name: Name | None = None

    def __post_init__(self) -> None:
        if self.output_size is not None:
            if self.global_ or self.k is not None or self.stride is not None:
                raise ValueError(
                    'an adaptive pool ("output_size") takes no "k", "stride" or "global"'
                )
            return
        if not self.global_ and self.k is None:
            raise ValueError('a pool needs "k" (e.g. "k": 2), "output_size" or "global": true')
        if self.global_ and (self.k is not None or self.stride is not None or self.padding != 0):
            raise ValueError('a global pool takes no "k", "stride" or "padding"')


class Linear(msgspec.Struct, tag="linear", **_OPTIONS):
    """A fully connected layer on the flattened C·H·W input."""

    out: PositiveInt
    bias: bool = False
    name: Name | None = None


class SqueezeExcite(msgspec.Struct, tag="se", **_OPTIONS):
    """Squeeze-and-excitation on C channels (squeeze = make_divisible(C·ratio, 8) by default)."""

    squeeze: PositiveInt | None = None
    ratio: PositiveFloat = 0.25
    act: Activation = "relu"
    gate: Activation = "hsigmoid"
    name: Name | None = None


class InvertedResidual(msgspec.Struct, tag="inverted_residual", **_OPTIONS):
    """A MobileNetV2/V3 block: [expand 1x1] -> depthwise k x k -> [SE] -> project 1x1 (+ add)."""

    out: PositiveInt
    expand: PositiveFloat = 6
    expand_channels: PositiveInt | None = None
    k: IntOrPair = 3
    stride: IntOrPair = 1
    se: bool = False
    act: Activation = "relu6"
    name: Name | None = None


class Residual(msgspec.Struct, tag="residual", **_OPTIONS):
    """``layers(x) + shortcut(x)``; an empty or absent shortcut is the identity."""

    layers: Annotated[list["Layer"], msgspec.Meta(min_length=1)]
    shortcut: list["Layer"] = msgspec.field(default_factory=list)
    name: Name | None = None


class Branches(msgspec.Struct, tag="branches", **_OPTIONS):
    """Parallel paths from the block's input (or its channel chunks), concatenated or added."""

    branches: Annotated[list[list["Layer"]], msgspec.Meta(min_length=1)]
    merge: Literal["concat", "add"] = "concat"
    split: bool | Annotated[list[PositiveInt], msgspec.Meta(min_length=1)] = False
    name: Name | None = None


class Repeat(msgspec.Struct, tag="repeat", **_OPTIONS):
    """``layers`` unrolled ``repeat`` times (written without a ``type`` key)."""

    repeat: Annotated[int, msgspec.Meta(ge=1, le=MAX_REPEAT)]
    layers: Annotated[list["Layer"], msgspec.Meta(min_length=1)]
    name: Name | None = None


if TYPE_CHECKING:
    _Activations = ActivationLayer  # what mypy sees: each is an ActivationLayer
else:
    _Activations = functools.reduce(operator.or_, ACTIVATION_LAYERS)  # what msgspec decodes

Layer = (
    Conv
    | SpConv
    | DwConv
    | PwConv
    | DsConv
    | BatchNorm
    | _Activations
    | LayerNorm
    | Scale
    | Shuffle
    | Dropout
    | Flatten
    | Upsample
    | ConvTranspose
    | Pool
    | Linear
    | SqueezeExcite
    | InvertedResidual
    | Residual
    | Branches
    | Repeat
)

ConvLike = Conv | SpConv | DwConv | PwConv | DsConv


class NetworkSpec(msgspec.Struct, **_OPTIONS):
    """A whole network: its input and its layers, in order."""

    input: Input
    layers: Annotated[list["Layer"], msgspec.Meta(min_length=1)]
    name: Name = "network"
    family: Family | None = None
    source: str | None = None
    description: str | None = None


#: Every layer Struct by its ``type`` tag.
LAYER_TYPES: dict[str, type[msgspec.Struct]] = {
    cls.__struct_config__.tag: cls for cls in get_args(Layer)
}

#: The keys holding a block's layers (``branches`` holds a list of them).
BLOCK_KEYS = ("layers", "shortcut", "branches")


def replace(struct: StructT, **changes: Any) -> StructT:
    """A copy of a (frozen) spec Struct with ``changes``."""
    return msgspec.structs.replace(struct, **changes)


def tag_of(layer: Layer) -> str:
    """A layer's ``type`` tag."""
    return str(layer.__struct_config__.tag)


def to_builtins(spec: NetworkSpec) -> Any:
    """The spec as plain JSON-ready data (repeat blocks written without their ``type``)."""
    document = msgspec.to_builtins(spec)
    _untag_repeats(document)
    return document


def _untag_repeats(value: object) -> None:
    if isinstance(value, list):
        for item in value:
            _untag_repeats(item)
    elif isinstance(value, dict):
        if value.get("type") == "repeat":
            del value["type"]
        if value.get("expand_channels") is not None:
            value.pop("expand", None)  # the default factor, which expand_channels replaces
        for key in BLOCK_KEYS:
            if key in value:
                _untag_repeats(value[key])


def json_schema() -> dict[str, Any]:
    """The spec's JSON Schema (draft 2020-12), with ``type`` optional on repeat blocks."""
    schema: dict[str, Any] = msgspec.json.schema(NetworkSpec)
    repeat = schema.get("$defs", {}).get("Repeat")
    if repeat is not None:
        repeat["required"] = [name for name in repeat.get("required", []) if name != "type"]
    schema["title"] = "dsc-calc network spec"
    return schema
