"""The contract of ``dsc-calc network --json``: every row, the totals, the what-if, the memory."""

from typing import Annotated, Literal

import msgspec

from dsc_calc.output.contracts.common import (
    Bound,
    Cost,
    Pair,
    Profile,
    Ratio,
    Roofline,
    Seconds,
    Shape,
    Traffic,
    _Contract,
)


class NetworkRow(_Contract):
    """One primitive layer as it runs."""

    name: str
    type: Annotated[str, msgspec.Meta(description="The spec's layer type (conv, dwconv, ...).")]
    kind: Annotated[str, msgspec.Meta(description="conv, pointwise, depthwise, linear or other.")]
    input: Shape
    output: Shape
    params: int
    macs: int
    flops: int
    share: Annotated[Ratio, msgspec.Meta(description="This row's MACs / the network's MACs.")]
    held_elements: Annotated[
        int, msgspec.Meta(description="Elements per sample held for a pending residual add.")
    ]
    kernel: Annotated[Pair | None, msgspec.Meta(description="[h, w]; null for a row with no conv.")]
    stride: Annotated[Pair | None, msgspec.Meta(description="[h, w]; null without a conv.")]
    padding: Annotated[
        Literal["same", "valid"] | Pair | None,
        msgspec.Meta(description="'same', 'valid' or [h, w]; null without a conv."),
    ]
    dilation: Annotated[Pair | None, msgspec.Meta(description="[h, w]; null without a conv.")]
    groups: Annotated[int | None, msgspec.Meta(description="null without a conv.")]
    description: Annotated[
        str,
        msgspec.Meta(description="What the table's Type column shows: 'dwconv 3×3 32→32 g32'."),
    ]
    memory: Traffic
    live_bytes: Annotated[
        int, msgspec.Meta(description="Input, output and held activations while the row runs.")
    ]
    intensity: Annotated[float, msgspec.Meta(description="FLOPs per byte moved.")]
    roofline: Roofline | None


class KindTotal(Cost):
    """The cost of every row of one kind, and how many rows."""

    count: int


class Saving(_Contract):
    """Before - after (negative when the redesign costs more), and before / after."""

    params: int
    macs: int
    params_ratio: Ratio | None
    macs_ratio: Ratio | None


class Change(_Contract):
    """One what-if replacement: the rows replaced and what replaces them."""

    layers: list[str]
    before: str
    after: str
    old: Cost
    new: Cost
    dropped: Annotated[Cost, msgspec.Meta(description="Rows removed with the change (a BN).")]
    saving: Saving


class WhatIfTotals(_Contract):
    """The network before and after the redesign."""

    before: Cost
    after: Cost
    saving: Saving


class WhatIf(_Contract):
    """A redesign of the whole network (--what-if)."""

    mode: Annotated[str, msgspec.Meta(description="separable, standard or spatial.")]
    changes: list[Change]
    totals: WhatIfTotals


class BoundShares(_Contract):
    """The share of the predicted latency spent in compute- and in memory-bound rows."""

    compute: Ratio
    memory: Ratio


class NetworkLatency(Roofline):
    """The rows' roofline times added up; the bound of the rows that take most of the time."""

    shares: BoundShares


class NetworkMemory(_Contract):
    """Weight memory, peak activation memory, total traffic and (with a machine) the latency."""

    dtype: Annotated[str, msgspec.Meta(description="fp32, fp16, bf16 or int8.")]
    bytes_per_element: int
    weights_bytes: int
    peak_activation_bytes: int
    peak_row: str | None
    traffic: Traffic
    flops: int
    intensity: Annotated[float, msgspec.Meta(description="FLOPs per byte moved.")]
    latency: NetworkLatency | None


class NetworkDesign(_Contract):
    """One design of the network on the roofline."""

    macs: int
    flops: int
    weights_bytes: int
    access_cost: int
    peak_activation_bytes: int
    time_s: Seconds | None
    bound: Bound | None


class DesignRatios(_Contract):
    """Separable / standard (ratio) or standard / separable (saving); null when undefined."""

    macs: Ratio | None
    access_cost: Ratio | None
    time: Ratio | None


class DesignComparison(_Contract):
    """This network beside its other design (its what-if standard or separable redesign)."""

    network: Annotated[str, msgspec.Meta(description="Which design this network is.")]
    compared_with: Annotated[str, msgspec.Meta(description="e.g. 'what-if standard'.")]
    changes: int
    standard: NetworkDesign
    separable: NetworkDesign
    ratio: DesignRatios
    saving: DesignRatios


class NetworkDocument(_Contract):
    """dsc-calc network --json: every row (--top/--sort shape tables only), totals, kinds."""

    name: str
    source: str | None
    batch: int
    input: Shape
    output: Shape
    layers: list[NetworkRow]
    totals: Cost
    by_type: Annotated[
        dict[str, KindTotal], msgspec.Meta(description="Keyed by kind (conv, pointwise, ...).")
    ]
    what_if: WhatIf | None
    memory: NetworkMemory
    profile: Profile | None
    latency: Annotated[
        DesignComparison | None,
        msgspec.Meta(description="The standard and separable designs; null without a machine."),
    ]
