"""Memory traffic and roofline time of a layer and of its separable replacements.

:func:`layer_memory` wraps a :class:`~dsc_calc.cost.conv.LayerComparison` (it does not change it):
each conv of the comparison (standard, depthwise, pointwise, vertical, horizontal) gets its traffic
for a data type, its arithmetic intensity, and with a
:class:`~dsc_calc.memory.traffic.MachineProfile` its roofline time and bound. A two-conv replacement
runs its convs one after another: its traffic is the sum (the intermediate activation is written,
then read back) and so is its time.

The report's ``to_dict()`` is the comparison's, with keys added and none changed; its tables
(:mod:`dsc_calc.output.tables.layer`) are the comparison's with a memory table and ratio rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from dsc_calc.memory.traffic import (
    KernelMemory,
    MachineProfile,
    chain_memory,
    conv_traffic,
    dtype_bytes,
    kernel_memory,
)

if TYPE_CHECKING:
    from dsc_calc.cost.conv import Conv2d, Cost, LayerComparison, Shape


class LayerMemoryReport(msgspec.Struct, frozen=True):
    """A layer comparison with each design's traffic, intensity and roofline time."""

    comparison: LayerComparison
    dtype: str
    profile: MachineProfile | None
    standard: KernelMemory
    depthwise: KernelMemory
    pointwise: KernelMemory
    vertical: KernelMemory
    horizontal: KernelMemory

    @property
    def separable(self) -> KernelMemory:
        return chain_memory([self.depthwise, self.pointwise])

    @property
    def spatial(self) -> KernelMemory:
        return chain_memory([self.vertical, self.horizontal])

    @property
    def access_ratio(self) -> float:
        """Separable bytes moved / standard bytes moved."""
        return access_ratio(self.separable, self.standard)

    @property
    def time_ratio(self) -> float | None:
        """Predicted separable time / predicted standard time, or None without a profile."""
        return time_ratio(self.separable, self.standard)

    @property
    def predicted_speedup(self) -> float | None:
        """Predicted standard time / separable time: the roofline's answer to "×N fewer MACs"."""
        ratio = self.time_ratio
        return None if ratio is None else 1 / ratio

    def to_dict(self) -> dict[str, object]:
        """The layer JSON, plus ``memory{…}``, ``intensity`` and ``roofline`` on each design."""
        profile = self.profile
        return self.comparison.to_dict(
            {
                "standard": self.standard.to_dict(),
                "separable": self.separable.to_dict(),
                "depthwise": self.depthwise.to_dict(),
                "pointwise": self.pointwise.to_dict(),
                "spatial": self.spatial.to_dict(),
                "ratio": {"access_cost": self.access_ratio, "time": self.time_ratio},
                "spatial_ratio": {
                    "access_cost": access_ratio(self.spatial, self.standard),
                    "time": time_ratio(self.spatial, self.standard),
                },
                "saving": {"access_cost": 1 / self.access_ratio, "time": self.predicted_speedup},
                "document": {
                    "dtype": self.dtype,
                    "profile": None
                    if profile is None
                    else {**profile.to_dict(), "ridge_intensity": profile.ridge_intensity},
                },
            }
        )


def access_ratio(design: KernelMemory, standard: KernelMemory) -> float:
    """``design``'s bytes moved / the standard conv's."""
    return design.traffic.access_cost / standard.traffic.access_cost


def time_ratio(design: KernelMemory, standard: KernelMemory) -> float | None:
    """``design``'s predicted time / the standard conv's, or None without a profile."""
    if design.roofline is None or standard.roofline is None:
        return None
    return design.roofline.time_s / standard.roofline.time_s


def layer_memory(
    comparison: LayerComparison,
    *,
    dtype: str = "fp32",
    profile: MachineProfile | None = None,
) -> LayerMemoryReport:
    """Traffic, intensity and roofline time of each conv in ``comparison``, for ``dtype``."""
    dtype_bytes(dtype)
    conv, source, batch = comparison.conv, comparison.input, comparison.batch

    def measure(layer: Conv2d, shape: Shape, cost: Cost) -> KernelMemory:
        traffic = conv_traffic(layer, shape, batch=batch, dtype=dtype)
        return kernel_memory(traffic, cost.flops, profile)

    depthwise = conv.depthwise()
    vertical = conv.vertical()
    return LayerMemoryReport(
        comparison=comparison,
        dtype=dtype,
        profile=profile,
        standard=measure(conv, source, comparison.standard),
        depthwise=measure(depthwise, source, comparison.depthwise),
        pointwise=measure(conv.pointwise(), depthwise.output_shape(source), comparison.pointwise),
        vertical=measure(vertical, source, comparison.vertical),
        horizontal=measure(conv.horizontal(), vertical.output_shape(source), comparison.horizontal),
    )
