"""The contract of ``dsc-calc sweep --json``: the grid of exact ratios."""

from typing import Annotated

import msgspec

from dsc_calc.output.contracts.common import ExactRatios, Pair, Ratio, _Contract


class SweepConfig(_Contract):
    """The layer every cell compares (its N and Dk vary)."""

    in_channels: int
    height: int
    width: int
    stride: Pair
    padding: str
    groups: int
    bias: bool


class ParamsMacs(_Contract):
    """Params and MACs of one design."""

    params: int
    macs: int


class SweepRatios(_Contract):
    """Separable / standard and the textbook 1/N + 1/Dk²."""

    params: Ratio
    macs: Ratio
    formula: Ratio
    exact: ExactRatios


class SweepSaving(_Contract):
    """Standard / separable."""

    params: Ratio
    macs: Ratio


class SweepCell(_Contract):
    """One (N, Dk) point of the grid."""

    cout: int
    kernel: int
    standard: ParamsMacs
    separable: ParamsMacs
    ratio: SweepRatios
    saving: SweepSaving


class SweepDocument(_Contract):
    """dsc-calc sweep --json: the grid of exact ratios, row by row (N), column by column."""

    config: SweepConfig
    measure: Annotated[str, msgspec.Meta(description="params or macs (what the heatmap shows).")]
    cout: list[int]
    kernel: list[int]
    cells: list[SweepCell]
    notes: list[str]
