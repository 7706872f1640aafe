"""The contract of ``dsc-calc layer --json``: a standard conv beside its replacements."""

from typing import Annotated, Literal

import msgspec

from dsc_calc.output.contracts.common import (
    Cost,
    ExactFraction,
    ExactRatios,
    Pair,
    Profile,
    Ratio,
    Roofline,
    Shape,
    Traffic,
    _Contract,
)


class PaddingSides(_Contract):
    """The zero padding added on each side of the input."""

    top: int
    bottom: int
    left: int
    right: int


class LayerConfig(_Contract):
    """The standard convolution, as torch.nn.Conv2d takes it, and the batch."""

    in_channels: int
    out_channels: int
    kernel: Pair
    stride: Pair
    padding: Literal["same", "valid"] | Pair
    padding_sides: PaddingSides
    dilation: Pair
    groups: int
    bias: bool
    batch: int


class DesignCost(Cost):
    """One design's cost, with its memory traffic, FLOP/B and roofline (null without a machine)."""

    memory: Traffic
    intensity: Annotated[float, msgspec.Meta(description="FLOPs per byte moved.")]
    roofline: Roofline | None


class SeparableCost(DesignCost):
    """The depthwise separable replacement: the pair's sums, then each part."""

    depthwise: DesignCost
    pointwise: DesignCost


class SpatialCost(DesignCost):
    """The spatially separable form (kh x 1 then 1 x kw): the pair's sums, then each part."""

    vertical: Cost
    horizontal: Cost


class SpatialExact(_Contract):
    """The spatial ratios as exact fractions."""

    params: ExactFraction
    macs: ExactFraction


class SpatialRatios(_Contract):
    """Spatially separable / standard."""

    params: Ratio
    macs: Ratio
    exact: SpatialExact
    access_cost: Ratio
    time: Ratio | None


class LayerRatios(_Contract):
    """Separable / standard, the textbook 1/N + 1/Dk², and the spatial form's ratios."""

    params: Ratio
    macs: Ratio
    formula: Ratio
    exact: ExactRatios
    spatial: SpatialRatios
    access_cost: Ratio
    time: Ratio | None


class LayerSaving(_Contract):
    """Standard / separable: how many times fewer (time null without a machine)."""

    params: Ratio
    macs: Ratio
    access_cost: Ratio
    time: Ratio | None


class LayerDocument(_Contract):
    """dsc-calc layer --json: a standard conv beside its depthwise separable replacement."""

    input: Shape
    output: Shape
    config: LayerConfig
    standard: DesignCost
    separable: SeparableCost
    spatial: SpatialCost
    ratio: LayerRatios
    saving: LayerSaving
    notes: list[str]
    dtype: Annotated[str, msgspec.Meta(description="fp32, fp16, bf16 or int8.")]
    profile: Profile | None
