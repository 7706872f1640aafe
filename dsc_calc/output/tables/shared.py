"""What several reports' tables show alike: a cost's three counts, a ratio beside its exact
fraction and its saving, the bytes a kernel moves, its roofline time, and the note on a
profile's peak."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsc_calc.output.tabular import Cell, Column

if TYPE_CHECKING:
    from fractions import Fraction

    from dsc_calc.cost.conv import Cost
    from dsc_calc.memory.traffic import MachineProfile, Roofline, Traffic

#: A cost's three counts, the columns of :func:`cost_cells`.
COST_COLUMNS = (Column("Params", "count"), Column("MACs", "count"), Column("FLOPs", "count"))

#: The roofline's time and bound, the columns of :func:`roofline_cells` (with a machine only).
ROOFLINE_COLUMNS = (Column("Time", "seconds"), Column("Bound"))


def cost_cells(cost: Cost) -> tuple[int, int, int]:
    """Params, MACs and FLOPs, under :data:`COST_COLUMNS`."""
    return cost.params, cost.macs, cost.flops


def ratio_cells(ratio: Fraction) -> tuple[float, str, float]:
    """A replacement / standard ratio as three cells: the float, the exact fraction and the
    saving (standard / replacement, how many times fewer)."""
    return float(ratio), str(ratio), float(1 / ratio)


def traffic_cells(traffic: Traffic, *, split: bool = False) -> list[Cell]:
    """Weight bytes, activation bytes (input + output; with ``split`` input and output apart, as
    CSV has them) and bytes moved."""
    activations: list[Cell] = (
        [traffic.input_bytes, traffic.output_bytes]
        if split
        else [traffic.input_bytes + traffic.output_bytes]
    )
    return [traffic.weights_bytes, *activations, traffic.access_cost]


def roofline_cells(roofline: Roofline | None) -> list[Cell]:
    """The roofline time and bound, or no cells without a machine."""
    return [] if roofline is None else [roofline.time_s, roofline.bound]


def peak_dtype_notes(profile: MachineProfile, dtype: str) -> tuple[str, ...]:
    """A note when ``profile`` has no peak of its own for ``dtype`` and fp32's is used for it."""
    if dtype in ("fp32", profile.peak_dtype):
        return ()
    return (
        f"The profile's peak is used as is for {dtype}; low-precision peaks are often higher "
        "than fp32's (give --peak-gflops for that type).",
    )
