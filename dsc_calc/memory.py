"""Memory traffic, arithmetic intensity and the roofline time of a layer.

The traffic model is the one of the ShuffleNetV2 paper (Ma et al. 2018): a layer reads its input
activation and its weights once and writes its output once. For a 1x1 conv on h x w with c1 -> c2
channels that is ``h*w*(c1 + c2) + c1*c2`` elements, the paper's memory access cost (MAC). Bytes are
elements times the size of the data type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dsc_calc.conv import Conv2d, Shape, check_positive
from dsc_calc.errors import DscCalcError

DType = Literal["fp32", "fp16", "bf16", "int8"]

#: Bytes per element of each supported data type.
DTYPE_BYTES: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of ``dtype``, or an error listing the known types."""
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        known = ", ".join(DTYPE_BYTES)
        raise DscCalcError("dtype", f"unknown data type {dtype!r}; choose one of {known}") from None


@dataclass(frozen=True, slots=True)
class Traffic:
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
        return {
            "weights_bytes": self.weights_bytes,
            "input_bytes": self.input_bytes,
            "output_bytes": self.output_bytes,
            "access_cost": self.access_cost,
        }


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


@dataclass(frozen=True, slots=True)
class MachineProfile:
    """A machine's roofline: peak arithmetic rate and memory bandwidth, and their source."""

    name: str
    peak_gflops: float
    bandwidth_gbs: float
    source: str = ""

    def __post_init__(self) -> None:
        for field_name in ("peak_gflops", "bandwidth_gbs"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise DscCalcError(field_name, f"must be a positive number, got {value!r}")
            if value == float("inf"):
                raise DscCalcError(field_name, "must be finite, got inf")

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
        return {
            "name": self.name,
            "peak_gflops": self.peak_gflops,
            "bandwidth_gbs": self.bandwidth_gbs,
            "source": self.source,
        }
