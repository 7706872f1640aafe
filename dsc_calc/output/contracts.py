"""The JSON contracts of the commands: what ``dsc-calc COMMAND --json`` prints, as msgspec types.

Each ``*Document`` Struct mirrors a report's ``to_dict()`` key for key: ints are ``int``, ratios
and times ``float``, and a key that can be ``null`` is ``X | None`` (still required). Decoding is
additive-friendly: keys a contract does not name are ignored (msgspec's default), so a script
that decodes with these types keeps working when a release adds keys; a missing key or a value of
the wrong type is an error. Keys are only ever added; removing or renaming one is a major version
and a changelog entry.

Value sets that may grow (a row's ``kind``, a roofline ``bound``) are typed ``str`` and name their
values in a description, so that a new value is an addition, not a break.

This module imports msgspec at import time: only ``dsc-calc schema`` and the tests import it.
"""

from typing import Annotated, Any, Literal

import msgspec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

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


# --- shared pieces ----------------------------------------------------------------------------


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


# --- dsc-calc layer -----------------------------------------------------------------------------


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


# --- dsc-calc network ---------------------------------------------------------------------------


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


# --- dsc-calc presets ---------------------------------------------------------------------------


class PresetEntry(_Contract):
    """One shipped preset: what dsc-calc counts beside what its paper prints.

    ``input`` (the string) is deprecated in favour of ``input_shape`` and stays until a major
    version, as the stability promise requires.
    """

    name: str
    family: str | None
    source: str | None
    input: Annotated[
        str,
        msgspec.Meta(
            description="CxHxW, e.g. 3×224×224. Deprecated: read input_shape; kept while the "
            "stability promise holds (removal takes a major version).",
            extra_json_schema={"deprecated": True},
        ),
    ]
    input_shape: Annotated[Shape, msgspec.Meta(description="The input, as every document has it.")]
    params: int
    macs: int
    published_params: str
    published_macs: str
    published_source: str


class PresetsDocument(_Contract):
    """dsc-calc presets --json: the shipped presets."""

    presets: list[PresetEntry]


# --- dsc-calc bench -----------------------------------------------------------------------------


class Blas(_Contract):
    """The BLAS library NumPy uses (threadpoolctl's view of it)."""

    internal_api: str
    version: str | None
    num_threads: int | None
    threading_layer: Annotated[
        str | None, msgspec.Meta(description="Absent when no BLAS library was found.")
    ] = None


class BenchRoofline(Roofline):
    """The kernel's roofline time beside its measured median."""

    percent_of_bound: Annotated[
        float, msgspec.Meta(description="Roofline time / measured median, in percent.")
    ]


class TimedKernel(_Contract):
    """Wall-clock timing of one kernel and what it computes and moves."""

    layer: str
    median_s: Seconds
    min_s: Seconds
    spread: Annotated[float, msgspec.Meta(description="Interquartile range / median.")]
    samples: int
    cpu_median_s: Seconds
    macs: int
    flops: int
    gflops: float
    bytes: int
    memory: Traffic
    intensity: float
    roofline: BenchRoofline | None


class BenchKernels(_Contract):
    """The four timed kernels."""

    standard: TimedKernel
    depthwise: TimedKernel
    pointwise: TimedKernel
    separable: Annotated[TimedKernel, msgspec.Meta(description="The pair, timed as one run.")]


class Speedup(_Contract):
    """Standard time / separable time, beside the MAC ratio."""

    measured: Ratio
    measured_parts: Ratio
    theoretical: Ratio
    carried_over: Annotated[Ratio, msgspec.Meta(description="measured / theoretical.")]


class Gemm(_Contract):
    """The GEMM probe that measured the peak."""

    m: int
    n: int
    k: int
    flops: int
    best_s: Seconds
    median_s: Seconds
    runs: int
    gflops: float


class Copy(_Contract):
    """The copy probe that measured the bandwidth."""

    bytes: int
    best_s: Seconds
    median_s: Seconds
    runs: int
    gbs: float


class BenchMachine(_Contract):
    """The machine: threads, BLAS, NumPy, and with --machine the measured roofline."""

    threads: int
    blas: Blas
    numpy: str
    profile: Profile | None
    gemm: Gemm | None
    copy: Copy | None


class BenchSettings(_Contract):
    """How the run was made."""

    dtype: str
    layout: str
    engine: Literal["numpy", "numba"]
    seed: int
    budget_s: Seconds
    elapsed_s: Seconds


class TorchKernel(_Contract):
    """One of PyTorch's kernels, timed in the same run as ours."""

    median_s: Seconds
    min_s: Seconds
    spread: Annotated[float, msgspec.Meta(description="Interquartile range / median.")]
    samples: int
    ratio: Annotated[
        Ratio, msgspec.Meta(description="Our median / PyTorch's (above 1: ours is slower).")
    ]


class TorchKernels(_Contract):
    """PyTorch's four kernels."""

    standard: TorchKernel
    depthwise: TorchKernel
    pointwise: TorchKernel
    separable: TorchKernel


class TorchSpeedup(_Contract):
    """PyTorch's standard time / its separable time."""

    measured: Ratio
    measured_parts: Ratio


class TorchComparison(_Contract):
    """bench --vs-torch: PyTorch's kernels (oneDNN on x86) timed beside ours."""

    version: str
    threads: int
    mkldnn: bool
    kernels: TorchKernels
    speedup: TorchSpeedup
    speedup_gap: Annotated[
        Ratio,
        msgspec.Meta(description="Our measured speedup / PyTorch's - 1 (0.1 = ours 10% higher)."),
    ]


class BenchDocument(_Contract):
    """dsc-calc bench --cin … --json: one layer's kernels timed on this CPU."""

    input: Shape
    output: Shape
    config: LayerConfig
    kernels: BenchKernels
    speedup: Speedup
    machine: BenchMachine
    settings: BenchSettings
    notes: list[str]
    torch: Annotated[
        TorchComparison | None,
        msgspec.Meta(description="PyTorch's kernels beside ours with --vs-torch, else null."),
    ]


class TimedLayer(_Contract):
    """One conv layer of a network, timed."""

    name: str
    layer: str
    input: Shape
    median_s: Seconds
    min_s: Seconds
    spread: float
    samples: int
    cpu_median_s: Seconds
    macs: int
    flops: int
    gflops: float
    time_share: Ratio
    mac_share: Ratio


class NetworkBenchTotal(_Contract):
    """The sum of the layers' median times and MACs."""

    median_s: Seconds
    macs: int


class NetworkBenchMachine(_Contract):
    """Threads, BLAS and NumPy of the run."""

    threads: int
    blas: Blas
    numpy: str


class NetworkBenchSettings(BenchSettings):
    """How the run was made, with the batch."""

    batch: int


class NetworkBenchDocument(_Contract):
    """dsc-calc bench SPEC|PRESET --json: every conv layer of a network timed."""

    layers: list[TimedLayer]
    total: NetworkBenchTotal
    machine: NetworkBenchMachine
    settings: NetworkBenchSettings
    notes: list[str]


# --- dsc-calc sweep -----------------------------------------------------------------------------


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


# --- dsc-calc kernel ----------------------------------------------------------------------------

Number = int | float


class Factors(_Contract):
    """K ≈ scale · a · bᵀ: exact integers, or unit vectors and the largest singular value."""

    a: list[Number]
    b: list[Number]
    scale: float
    scale_exact: ExactFraction | None
    exact: bool


class Reconstruction(_Contract):
    """How far scale · a · bᵀ is from the kernel."""

    max_abs_error: float
    relative_error: Annotated[float, msgspec.Meta(description="Frobenius norm, relative.")]
    approximation: bool


class KernelCost(_Contract):
    """Multiplications per output pixel: direct kh·kw, separable kh + kw, rank r·(kh + kw)."""

    direct: int
    separable: int
    rank: int
    saving_separable: Ratio
    saving_rank: Annotated[Ratio | None, msgspec.Meta(description="null for the zero kernel.")]


class KernelDocument(_Contract):
    """dsc-calc kernel --json: rank, factors and per-pixel cost of a 2-D kernel."""

    shape: Pair
    kernel: list[list[Number]]
    rank: int
    tolerance: Annotated[float, msgspec.Meta(description="rtol · σ₁: larger σ count.")]
    tolerance_rule: str
    rtol: Annotated[
        float, msgspec.Meta(description="Relative tolerance: --tol, or max(kh, kw) · eps.")
    ]
    singular_values: list[float]
    relative_singular_values: Annotated[
        list[float], msgspec.Meta(description="σᵢ / σ₁, scale-free (no underflow).")
    ]
    separable: bool
    rank_float32: Annotated[
        int, msgspec.Meta(description="The rank at max(kh, kw) · eps(float32) · σ₁.")
    ]
    factors: Factors
    reconstruction: Reconstruction
    cost: KernelCost


# --- the catalogue --------------------------------------------------------------------------------

#: Each command's document types: ``bench`` has one per mode (a layer, or a network).
CONTRACTS: dict[str, tuple[type[_Contract], ...]] = {
    "layer": (LayerDocument,),
    "network": (NetworkDocument,),
    "bench": (BenchDocument, NetworkBenchDocument),
    "sweep": (SweepDocument,),
    "kernel": (KernelDocument,),
    "presets": (PresetsDocument,),
}


def json_schema(command: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``dsc-calc COMMAND --json``.

    A command with one document gets its ``$ref``; ``bench`` gets ``anyOf`` its two modes.
    ``additionalProperties`` is left open: documents may gain keys.
    """
    types = CONTRACTS[command]
    schemas, definitions = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    root: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT}
    if len(schemas) == 1:
        root.update(schemas[0])
    else:
        root["anyOf"] = list(schemas)
    root["title"] = f"dsc-calc {command} --json"
    root["$defs"] = dict(definitions)
    return root
