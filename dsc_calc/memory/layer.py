"""Memory traffic and roofline time of a layer and of its separable replacements.

:func:`layer_memory` wraps a :class:`~dsc_calc.cost.conv.LayerComparison` (it does not change it):
each conv of the comparison (standard, depthwise, pointwise, vertical, horizontal) gets its traffic
for a data type, its arithmetic intensity, and with a
:class:`~dsc_calc.memory.traffic.MachineProfile` its roofline time and bound. A two-conv replacement
runs its convs one after another: its traffic is the sum (the intermediate activation is written,
then read back) and so is its time.

The report's ``to_dict()`` is the comparison's, with keys added and none changed, and its
``tables()`` are the comparison's tables with a memory table and ratio rows added.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

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
    from dsc_calc.output.tabular import Cell, Table

#: The cost table's design labels -> the report's attribute holding that row's memory.
_ROW_PARTS = {
    "standard": "standard",
    "depthwise": "depthwise",
    "pointwise": "pointwise",
    "separable (dw + pw)": "separable",
    "vertical": "vertical",
    "horizontal": "horizontal",
    "spatial (v + h)": "spatial",
}


@dataclass(frozen=True, slots=True)
class LayerMemoryReport:
    """A layer comparison with each design's traffic, intensity and roofline time."""

    comparison: LayerComparison
    dtype: str
    profile: MachineProfile | None
    standard: KernelMemory
    depthwise: KernelMemory
    pointwise: KernelMemory
    vertical: KernelMemory
    horizontal: KernelMemory
    #: Whether ``tables()`` shows the memory columns (JSON always has the memory keys).
    show_memory: bool = True

    @property
    def separable(self) -> KernelMemory:
        return chain_memory([self.depthwise, self.pointwise])

    @property
    def spatial(self) -> KernelMemory:
        return chain_memory([self.vertical, self.horizontal])

    @property
    def access_ratio(self) -> float:
        """Separable bytes moved / standard bytes moved."""
        return _access_ratio(self.separable, self.standard)

    @property
    def time_ratio(self) -> float | None:
        """Predicted separable time / predicted standard time, or None without a profile."""
        return _time_ratio(self.separable, self.standard)

    @property
    def predicted_speedup(self) -> float | None:
        """Predicted standard time / separable time: the roofline's answer to "×N fewer MACs"."""
        ratio = self.time_ratio
        return None if ratio is None else 1 / ratio

    def to_dict(self) -> dict[str, object]:
        """The layer JSON, plus ``memory{…}``, ``intensity`` and ``roofline`` on each design."""
        document = self.comparison.to_dict()
        _extend(document["standard"], self.standard)
        _extend(document["separable"], self.separable)
        separable = _as_dict(document["separable"])
        _extend(separable["depthwise"], self.depthwise)
        _extend(separable["pointwise"], self.pointwise)
        _extend(document["spatial"], self.spatial)
        ratio = _as_dict(document["ratio"])
        saving = _as_dict(document["saving"])
        ratio["access_cost"] = self.access_ratio
        ratio["time"] = self.time_ratio
        spatial_ratio = _as_dict(ratio["spatial"])
        spatial_ratio["access_cost"] = _access_ratio(self.spatial, self.standard)
        spatial_ratio["time"] = _time_ratio(self.spatial, self.standard)
        saving["access_cost"] = 1 / self.access_ratio
        saving["time"] = self.predicted_speedup
        document["dtype"] = self.dtype
        document["profile"] = (
            None
            if self.profile is None
            else {**self.profile.to_dict(), "ridge_intensity": self.profile.ridge_intensity}
        )
        return document

    def tables(self) -> list[Table]:
        """The layer tables; with ``show_memory``, a memory table and ratio rows added.

        The cost table stays first and unchanged (it is what CSV shows); the memory figures sit in a
        table of their own so that the cost table stays readable at 100 columns.
        """
        cost_table, ratio_table, *rest = self.comparison.tables()
        if not self.show_memory:
            return [cost_table, ratio_table, *rest]
        return [
            cost_table,
            self._memory_table(cost_table),
            self._ratio_table(ratio_table),
            *rest,
        ]

    def _memory_table(self, cost_table: Table) -> Table:
        """One row per design of the cost table: bytes moved, FLOP/B, and the roofline time."""
        from dsc_calc.output.tabular import Column, Table

        columns = [
            Column("Design"),
            Column("Weights", "bytes"),
            Column("Activations", "bytes"),
            Column("Moved", "bytes"),
            Column("FLOP/B", "number"),
        ]
        if self.profile is not None:
            columns += [Column("Time", "seconds"), Column("Bound")]
        rows: list[tuple[Cell, ...]] = []
        for design in (str(row[0]) for row in cost_table.rows):
            part = _ROW_PARTS.get(design)
            if part is None:
                continue
            memory: KernelMemory = getattr(self, part)
            traffic = memory.traffic
            cells: list[Cell] = [
                design,
                traffic.weights_bytes,
                traffic.input_bytes + traffic.output_bytes,
                traffic.access_cost,
                memory.intensity,
            ]
            if memory.roofline is not None:
                cells += [memory.roofline.time_s, memory.roofline.bound]
            rows.append(tuple(cells))
        notes = [
            f"{self.dtype} ({dtype_bytes(self.dtype)} B per element). Each conv reads its weights "
            "and its input activation once and writes its output once (ShuffleNetV2's memory "
            "access cost); a pair adds its two convs, so its intermediate activation counts "
            "twice. FLOP/B = FLOPs / bytes moved.",
        ]
        if self.profile is not None:
            profile = self.profile
            notes.append(
                f"Time = max(FLOPs / {profile.peak_gflops:g} GFLOP/s, bytes / "
                f"{profile.bandwidth_gbs:g} GB/s); a pair's is the sum of its two convs'. Below "
                f"{profile.ridge_intensity:.3g} FLOP/B a conv is memory-bound. Profile: "
                f"{profile.name}."
            )
            if self.dtype not in ("fp32", profile.peak_dtype):
                notes.append(
                    f"The profile's peak is used as is for {self.dtype}; low-precision peaks "
                    "are often higher than fp32's (give --peak-gflops for that type)."
                )
        title = "Memory traffic" + (" and roofline time" if self.profile is not None else "")
        return Table(title=title, columns=tuple(columns), rows=tuple(rows), notes=tuple(notes))

    def _ratio_table(self, table: Table) -> Table:

        rows: list[tuple[Cell, ...]] = []
        for prefix, design in (("", self.separable), ("spatial ", self.spatial)):
            access = _access_ratio(design, self.standard)
            rows.append(
                (
                    f"{prefix}bytes moved ({self.dtype})",
                    access,
                    f"{design.traffic.access_cost} / {self.standard.traffic.access_cost}",
                    1 / access,
                )
            )
            time = _time_ratio(design, self.standard)
            if time is not None:
                rows.append((f"{prefix}predicted time (roofline)", time, "", 1 / time))
        rows.sort(key=lambda row: str(row[0]).startswith("spatial"))
        speedup = self.predicted_speedup
        notes: tuple[str, ...] = ()
        if speedup is not None:
            saving = float(1 / self.comparison.macs_ratio)
            verdict = "but is predicted only" if speedup < saving else "and is predicted"
            notes = (
                f"The separable pair does {saving:.3g}\u00d7 fewer MACs {verdict} "
                f"{speedup:.3g}\u00d7 faster: " + _bound_story(self),
            )
        return replace(table, rows=(*table.rows, *rows), notes=(*table.notes, *notes))


def _bound_story(report: LayerMemoryReport) -> str:
    """One sentence on which parts are memory-bound, for the ratio table's notes."""
    parts = []
    for name in ("standard", "depthwise", "pointwise"):
        memory: KernelMemory = getattr(report, name)
        if memory.roofline is not None:
            parts.append(f"{name} {memory.intensity:.3g} FLOP/B ({memory.roofline.bound}-bound)")
    assert report.profile is not None  # noqa: S101 - only called with a profile
    return ", ".join(parts) + f" against a ridge of {report.profile.ridge_intensity:.3g} FLOP/B."


def _access_ratio(design: KernelMemory, standard: KernelMemory) -> float:
    """``design``'s bytes moved / the standard conv's."""
    return design.traffic.access_cost / standard.traffic.access_cost


def _time_ratio(design: KernelMemory, standard: KernelMemory) -> float | None:
    """``design``'s predicted time / the standard conv's, or None without a profile."""
    if design.roofline is None or standard.roofline is None:
        return None
    return design.roofline.time_s / standard.roofline.time_s


def _as_dict(value: object) -> dict[str, object]:
    """A nested object of the comparison's JSON (always a dict there), typed as one."""
    return cast("dict[str, object]", value)


def _extend(part: object, memory: KernelMemory) -> None:
    """Add ``memory{…}``, ``intensity`` and ``roofline`` to one design's JSON object."""
    _as_dict(part).update(memory.to_dict())


def layer_memory(
    comparison: LayerComparison,
    *,
    dtype: str = "fp32",
    profile: MachineProfile | None = None,
    show_memory: bool = True,
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
        show_memory=show_memory,
    )
