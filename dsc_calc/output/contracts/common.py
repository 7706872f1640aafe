"""The pieces every contract shares: the base type, the annotated number types, shapes, costs,
traffic and the roofline."""

from typing import Annotated

import msgspec

Seconds = Annotated[float, msgspec.Meta(description="Seconds.")]
Ratio = Annotated[float, msgspec.Meta(description="A ratio, as a float.")]
ExactFraction = Annotated[
    str, msgspec.Meta(description="An exact fraction such as '17/72' (or an integer such as '1').")
]
Bound = Annotated[
    str,
    msgspec.Meta(
        description="What bounds the roofline time: 'compute' or 'memory' (a pair run one after "
        "the other may join its parts' bounds, as in 'memory + compute')."
    ),
]
Pair = tuple[int, int]


class _Contract(msgspec.Struct, kw_only=True):
    """Base of every contract: keyword fields; unknown keys are ignored when decoding."""


class Shape(_Contract):
    """An activation's shape for one sample (batch is given apart)."""

    channels: int
    height: int
    width: int


class Cost(_Contract):
    """Trainable params (bias and batch norm included), multiply-accumulates and FLOPs."""

    params: int
    macs: int
    flops: int


class Traffic(_Contract):
    """Bytes a kernel moves: its weights, its input and output activations, and their sum."""

    weights_bytes: int
    input_bytes: int
    output_bytes: int
    access_cost: int


class Roofline(_Contract):
    """A roofline prediction: max(FLOPs / peak, bytes / bandwidth), and which of the two won."""

    time_s: Seconds
    bound: Bound


class Profile(_Contract):
    """The machine of the roofline: peak arithmetic rate and memory bandwidth."""

    name: str
    peak_gflops: float
    bandwidth_gbs: float
    source: str
    ridge_intensity: Annotated[
        float, msgspec.Meta(description="peak / bandwidth: FLOP/B above which compute bounds.")
    ]
    peaks_gflops: Annotated[
        dict[str, float],
        msgspec.Meta(description="The profile's own peaks of other data types (empty if none)."),
    ]
    peak_dtype: Annotated[
        str | None,
        msgspec.Meta(
            description="The data type whose peak peak_gflops is; null: fp32's peak, used as is."
        ),
    ]


class ExactRatios(_Contract):
    """The ratios of the document, as exact fractions."""

    params: ExactFraction
    macs: ExactFraction
    formula: ExactFraction
