"""Memory traffic, arithmetic intensity and the roofline time of a layer.

The traffic model is the one of the ShuffleNetV2 paper (Ma et al. 2018): a layer reads its input
activation and its weights once and writes its output once. For a 1x1 conv on h x w with c1 -> c2
channels that is ``h*w*(c1 + c2) + c1*c2`` elements, the paper's memory access cost (MAC). Bytes are
elements times the size of the data type. For a k x k, grouped or depthwise conv the same rule gives
``params + batch*(Cin*H*W + Cout*Hout*Wout)`` elements: the weights (bias included) once, the input
once, the output once. Caches, fusion and re-reads of the input by overlapping windows are not
modelled: this is the traffic of an ideal kernel, the right input for a roofline estimate.

Arithmetic intensity is FLOPs / bytes. A :class:`MachineProfile` (peak GFLOP/s, bandwidth GB/s)
predicts a kernel's time as ``max(FLOPs / peak, bytes / bandwidth)``: compute-bound above the ridge
intensity ``peak / bandwidth``, memory-bound below it. Kernels run one after another add their
times (:func:`chain_memory`); :mod:`dsc_calc.memory.network` does the same for a network's rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import msgspec
from msgspec.structs import asdict, replace

from dsc_calc.choices import DTYPES
from dsc_calc.cost.conv import Conv2d, Shape, check_positive
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Sequence


#: Bytes per element of each supported data type.
DTYPE_BYTES: dict[str, int] = dict(zip(DTYPES, (4, 2, 2, 1), strict=True))


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of ``dtype``, or an error listing the known types."""
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        known = ", ".join(DTYPE_BYTES)
        raise DscCalcError("dtype", f"unknown data type {dtype!r}; choose one of {known}") from None


class Traffic(msgspec.Struct, frozen=True):
    """Bytes a layer moves: its weights, its input activation and its output activation."""

    weights_bytes: int
    input_bytes: int
    output_bytes: int

    @property
    def access_cost(self) -> int:
        """Total bytes read and written (the memory access cost)."""
        return self.weights_bytes + self.input_bytes + self.output_bytes

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.weights_bytes + other.weights_bytes,
            self.input_bytes + other.input_bytes,
            self.output_bytes + other.output_bytes,
        )

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "access_cost": self.access_cost}


def conv_traffic(conv: Conv2d, source: Shape, *, batch: int = 1, dtype: str = "fp32") -> Traffic:
    """Bytes ``conv`` moves on ``batch`` samples of ``source``: weights, input, output."""
    check_positive(batch, "batch")
    size = dtype_bytes(dtype)
    out = conv.output_shape(source)
    return Traffic(conv.params * size, batch * source.numel * size, batch * out.numel * size)


def arithmetic_intensity(flops: int, traffic_bytes: int) -> float:
    """FLOPs per byte moved (0 for a layer that moves nothing)."""
    return flops / traffic_bytes if traffic_bytes else 0.0


Bound = Literal["compute", "memory"]

#: The range of a peak (GFLOP/s) or a bandwidth (GB/s), from the flags and from profile files
#: alike: 1 MFLOP/s to a zettascale machine. Every roofline time and ratio stays finite inside it.
MIN_RATE = 1e-3
MAX_RATE = 1e12


class MachineProfile(msgspec.Struct, frozen=True):
    """A machine's roofline: peak arithmetic rate and memory bandwidth, and their source.

    ``peak_gflops`` is the fp32 peak. ``peaks_gflops`` optionally maps other data types (``fp16``,
    ``bf16``, ``int8``) to their own peaks, as GPUs' tensor cores have; :meth:`for_dtype` picks the
    one for a data type and records it in ``peak_dtype``.
    """

    name: str
    peak_gflops: float
    bandwidth_gbs: float
    source: str = ""
    peaks_gflops: dict[str, float] = msgspec.field(default_factory=dict)
    peak_dtype: str | None = None

    def __post_init__(self) -> None:
        checks = [("peak_gflops", self.peak_gflops), ("bandwidth_gbs", self.bandwidth_gbs)]
        if not isinstance(self.peaks_gflops, dict):
            raise DscCalcError("peaks_gflops", "must map data types to peaks (GFLOP/s)")
        for dtype, peak in self.peaks_gflops.items():
            dtype_bytes(dtype)
            checks.append((f"peaks_gflops.{dtype}", peak))
        for field_name, value in checks:
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise DscCalcError(field_name, f"must be a positive number, got {value!r}")
            if not MIN_RATE <= value <= MAX_RATE:  # inf, 1e308 and 5e-324 would give inf or nan
                raise DscCalcError(
                    field_name,
                    f"must be a finite number from {MIN_RATE:g} to {MAX_RATE:g}, got {value:g}",
                )

    def for_dtype(self, dtype: str) -> MachineProfile:
        """This machine with the peak of ``dtype`` as ``peak_gflops``, when the profile has one.

        ``fp32`` is ``peak_gflops`` itself; a type without its own peak keeps the fp32 peak (and
        ``peak_dtype`` stays ``None``, so reports can say the peak is fp32's).
        """
        dtype_bytes(dtype)
        if self.peak_dtype == dtype:
            return self
        if self.peak_dtype is not None:
            raise DscCalcError("profile", f"already has the {self.peak_dtype} peak, not {dtype}'s")
        if dtype == "fp32":
            return replace(self, peak_dtype="fp32")
        if dtype in self.peaks_gflops:
            return replace(self, peak_gflops=float(self.peaks_gflops[dtype]), peak_dtype=dtype)
        return self

    @property
    def ridge_intensity(self) -> float:
        """FLOPs per byte above which a kernel is compute-bound on this machine."""
        return self.peak_gflops / self.bandwidth_gbs

    def predict(self, flops: int, traffic_bytes: int) -> tuple[float, Bound]:
        """Roofline time ``max(flops / peak, bytes / bandwidth)`` in seconds, and the bound."""
        compute = flops / (self.peak_gflops * 1e9)
        memory = traffic_bytes / (self.bandwidth_gbs * 1e9)
        return (compute, "compute") if compute >= memory else (memory, "memory")

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "peaks_gflops": dict(self.peaks_gflops)}


# --- the ShuffleNetV2 closed forms ------------------------------------------------------------


def shufflenet_mac(height: int, width: int, c1: int, c2: int) -> int:
    """Memory access cost of a 1x1 conv c1 -> c2 on h x w, in elements: ``h*w*(c1 + c2) + c1*c2``.

    It is what :func:`conv_traffic` counts for a bias-free 1x1 conv on one sample, divided by the
    size of the data type (Ma et al. 2018, guideline G1).
    """
    for where, value in (("height", height), ("width", width), ("c1", c1), ("c2", c2)):
        check_positive(value, where)
    return height * width * (c1 + c2) + c1 * c2


def shufflenet_mac_bound(height: int, width: int, c1: int, c2: int) -> float:
    """The paper's lower bound ``2*sqrt(h*w*B) + B/(h*w)`` with ``B = h*w*c1*c2``.

    ``B`` is the 1x1 conv's FLOPs in the paper's sense (its multiply-accumulates). The bound follows
    from the AM-GM inequality ``c1 + c2 >= 2*sqrt(c1*c2)`` and is reached exactly when ``c1 == c2``;
    it is ``2*h*w*sqrt(c1*c2) + c1*c2``, computed in that form so that no huge product is rounded.
    """
    for where, value in (("height", height), ("width", width), ("c1", c1), ("c2", c2)):
        check_positive(value, where)
    return 2 * height * width * math.sqrt(c1 * c2) + c1 * c2


# --- the roofline of one kernel ----------------------------------------------------------------


class Roofline(msgspec.Struct, frozen=True):
    """A roofline prediction: seconds, and whether compute or memory bounds it."""

    time_s: float
    bound: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def roofline(profile: MachineProfile | None, flops: int, traffic_bytes: int) -> Roofline | None:
    """``profile``'s prediction for one kernel, or None without a profile."""
    if profile is None:
        return None
    seconds, bound = profile.predict(flops, traffic_bytes)
    return Roofline(seconds, bound)


def chain_roofline(parts: Sequence[Roofline | None]) -> Roofline | None:
    """Kernels run one after another: the sum of their times; the bound names each part's.

    The bound is the parts' common bound, or their distinct bounds joined with `` + `` in order of
    appearance (``memory + compute``), as ``dsc-calc bench`` writes it for the separable pair.
    """
    known = [part for part in parts if part is not None]
    if not known or len(known) != len(parts):
        return None
    bound = " + ".join(dict.fromkeys(part.bound for part in known))
    return Roofline(math.fsum(part.time_s for part in known), bound)


class KernelMemory(msgspec.Struct, frozen=True):
    """One kernel's traffic, FLOPs, arithmetic intensity and (with a profile) roofline time."""

    traffic: Traffic
    flops: int
    roofline: Roofline | None = None

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved."""
        return arithmetic_intensity(self.flops, self.traffic.access_cost)

    def to_dict(self) -> dict[str, object]:
        """``memory{weights_bytes,input_bytes,output_bytes,access_cost}``, intensity, roofline."""
        return {
            "memory": self.traffic.to_dict(),
            "intensity": self.intensity,
            "roofline": None if self.roofline is None else self.roofline.to_dict(),
        }


def kernel_memory(
    traffic: Traffic, flops: int, profile: MachineProfile | None = None
) -> KernelMemory:
    """Bundle ``traffic`` and ``flops`` with ``profile``'s roofline prediction, if any."""
    return KernelMemory(traffic, flops, roofline(profile, flops, traffic.access_cost))


def chain_memory(parts: Sequence[KernelMemory]) -> KernelMemory:
    """Kernels run one after another, each reading its input and writing its output.

    Traffic and FLOPs add up (an intermediate activation is written by one part and read back by
    the next, so it is counted twice); the time is the sum of the parts' roofline times.
    """
    traffic = Traffic(0, 0, 0)
    for part in parts:
        traffic = traffic + part.traffic
    return KernelMemory(
        traffic, sum(part.flops for part in parts), chain_roofline([p.roofline for p in parts])
    )
