"""The contracts of ``dsc-calc bench --json``: one layer's kernels timed, or a network's layers."""

from typing import Annotated, Literal

import msgspec

from dsc_calc.output.contracts.common import (
    Profile,
    Ratio,
    Roofline,
    Seconds,
    Shape,
    Traffic,
    _Contract,
)
from dsc_calc.output.contracts.layer import LayerConfig


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


class TheirKernel(_Contract):
    """One of the other side's kernels, timed in the same run as ours."""

    median_s: Seconds
    min_s: Seconds
    spread: Annotated[float, msgspec.Meta(description="Interquartile range / median.")]
    samples: int
    ratio: Annotated[
        Ratio, msgspec.Meta(description="Our median / theirs (above 1: ours is slower).")
    ]


class TorchKernel(TheirKernel):
    """One of PyTorch's kernels, timed in the same run as ours."""

    backend: Annotated[
        str | None,
        msgspec.Meta(
            description=(
                "The backend PyTorch's conv dispatcher picked for this conv, in lower case: "
                "'mkldnn' is oneDNN, 'slow2d' PyTorch's own im2col and BLAS GEMM (its 1x1 conv "
                "on one thread). Null for the separable pair (two convs) or where this torch "
                "cannot say."
            )
        ),
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


class OneDnnComparison(_Contract):
    """oneDNN's own conv (aten.mkldnn_convolution), timed beside ours for the convs PyTorch's
    dispatcher ran elsewhere (its 1x1 conv on one thread), and the pair with oneDNN for both."""

    kernels: Annotated[
        dict[str, TheirKernel],
        msgspec.Meta(
            description=(
                "By kernel: each conv whose backend was not mkldnn, and 'separable', the pair "
                "with oneDNN for both convs."
            )
        ),
    ]
    speedup: Annotated[
        Ratio,
        msgspec.Meta(description="The standard time / the pair's, each conv on oneDNN (measured)."),
    ]
    speedup_gap: Annotated[
        Ratio,
        msgspec.Meta(description="Our measured speedup / this one - 1 (0.1 = ours 10% higher)."),
    ]


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
    onednn: Annotated[
        OneDnnComparison | None,
        msgspec.Meta(
            description=(
                "oneDNN's own conv where PyTorch's dispatcher picked another backend; null "
                "when every conv ran on oneDNN (or oneDNN cannot be called directly)."
            )
        ),
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
