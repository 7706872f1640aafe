"""The tables of ``dsc-calc layer``: the designs' costs, the ratios, and with ``--memory`` the
bytes each design moves and its roofline time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from msgspec.structs import replace

from dsc_calc.cost.conv import Shape
from dsc_calc.memory.layer import access_ratio, time_ratio
from dsc_calc.memory.traffic import dtype_bytes
from dsc_calc.output.tables.shared import (
    COST_COLUMNS,
    ROOFLINE_COLUMNS,
    cost_cells,
    peak_dtype_notes,
    ratio_cells,
    roofline_cells,
    traffic_cells,
)
from dsc_calc.output.tabular import Cell, Column, Table

if TYPE_CHECKING:
    from dsc_calc.cost.conv import Conv2d, Cost, LayerComparison
    from dsc_calc.memory.layer import LayerMemoryReport
    from dsc_calc.memory.traffic import KernelMemory
    from dsc_calc.output.tables import TableView


def layer_tables(comparison: LayerComparison, _view: TableView) -> list[Table]:
    """The cost table and the ratio table that ``dsc-calc layer`` draws."""
    conv = comparison.conv
    kh, kw = conv.kernel
    middle = Shape(conv.in_channels, comparison.output.height, comparison.output.width)
    vertical_out = Shape(conv.out_channels, comparison.output.height, comparison.input.width)

    def row(design: str, layer: Conv2d | None, output: Shape, cost: Cost) -> tuple[str | int, ...]:
        """A design's row; a pair (``layer`` None) shows its sums and no layer of its own."""
        return (design, "" if layer is None else layer.describe(), str(output), *cost_cells(cost))

    cost_table = Table(
        title=f"Convolution {comparison.input} \u2192 {comparison.output}"
        + (f" (batch {comparison.batch})" if comparison.batch != 1 else ""),
        columns=(Column("Design"), Column("Layer"), Column("Output"), *COST_COLUMNS),
        rows=(
            row("standard", conv, comparison.output, comparison.standard),
            row("depthwise", conv.depthwise(), middle, comparison.depthwise),
            row("pointwise", conv.pointwise(), comparison.output, comparison.pointwise),
            row("separable (dw + pw)", None, comparison.output, comparison.separable),
            row("vertical", conv.vertical(), vertical_out, comparison.vertical),
            row("horizontal", conv.horizontal(), comparison.output, comparison.horizontal),
            row("spatial (v + h)", None, comparison.output, comparison.spatial),
        ),
        notes=(
            "MACs: multiply-accumulates of the weights, bias excluded. "
            "FLOPs: 2 \u00d7 MACs, plus one add per output when there is a bias.",
        ),
    )
    ratio_table = Table(
        title="Replacement / standard",
        columns=(
            Column("Measure"),
            Column("Ratio", "ratio"),
            Column("Exact"),
            Column("Saving", "times"),
        ),
        rows=(
            ("params", *ratio_cells(comparison.params_ratio)),
            ("MACs", *ratio_cells(comparison.macs_ratio)),
            (
                f"formula 1/N + 1/Dk\u00b2 (N={conv.out_channels}, Dk\u00b2={kh * kw})",
                float(comparison.formula_ratio),
                f"1/{conv.out_channels} + 1/{kh * kw}",
                float(1 / comparison.formula_ratio),
            ),
            ("spatial params", *ratio_cells(comparison.spatial_params_ratio)),
            ("spatial MACs", *ratio_cells(comparison.spatial_macs_ratio)),
        ),
        notes=(*comparison.notes, *_spatial_notes(conv)),
    )
    return [cost_table, ratio_table]


def _spatial_notes(conv: Conv2d) -> tuple[str, ...]:
    """What the spatially separable rows are, and when their ratio is not the simple formula."""
    kh, kw = conv.kernel
    cin, cout = conv.in_channels, conv.out_channels
    notes = [
        f"Spatial: a {kh}\u00d71 conv {cin}\u2192{cout} then a 1\u00d7{kw} conv "
        f"{cout}\u2192{cout} (Inception-v3); without bias its params ratio is "
        f"(Cin\u00b7kh + Cout\u00b7kw) / (Cin\u00b7kh\u00b7kw)."
    ]
    if conv.stride[1] != 1:
        notes.append(
            "The vertical conv runs at the full input width (the width stride belongs to the "
            "horizontal conv), so the spatial MACs ratio exceeds that formula."
        )
    if kh == 1 or kw == 1:
        notes.append(
            f"The kernel {kh}\u00d7{kw} is already one-dimensional along an axis: the spatial form "
            "only adds a conv."
        )
    return tuple(notes)


#: The designs of the cost table that have a memory row: label, then the attribute of
#: :class:`~dsc_calc.memory.layer.LayerMemoryReport` that holds that design's memory.
_MEMORY_ROWS = (
    ("standard", "standard"),
    ("depthwise", "depthwise"),
    ("pointwise", "pointwise"),
    ("separable (dw + pw)", "separable"),
    ("vertical", "vertical"),
    ("horizontal", "horizontal"),
    ("spatial (v + h)", "spatial"),
)


def layer_memory_tables(report: LayerMemoryReport, view: TableView) -> list[Table]:
    """The layer tables; with ``view.memory``, a memory table and ratio rows added.

    The cost table stays first and unchanged (it is what CSV shows); the memory figures sit in a
    table of their own so that the cost table stays readable at 100 columns.
    """
    cost_table, ratio_table, *rest = layer_tables(report.comparison, view)
    if not view.memory:
        return [cost_table, ratio_table, *rest]
    return [cost_table, _memory_table(report), _memory_ratio_table(report, ratio_table), *rest]


def _memory_table(report: LayerMemoryReport) -> Table:
    """One row per design of the cost table: bytes moved, FLOP/B, and the roofline time."""
    columns = [
        Column("Design"),
        Column("Weights", "bytes"),
        Column("Activations", "bytes"),
        Column("Moved", "bytes"),
        Column("FLOP/B", "number"),
    ]
    if report.profile is not None:
        columns += ROOFLINE_COLUMNS
    rows: list[tuple[Cell, ...]] = []
    for design, part in _MEMORY_ROWS:
        memory: KernelMemory = getattr(report, part)
        rows.append(
            (
                design,
                *traffic_cells(memory.traffic),
                memory.intensity,
                *roofline_cells(memory.roofline),
            )
        )
    notes = [
        f"{report.dtype} ({dtype_bytes(report.dtype)} B per element). Each conv reads its weights "
        "and its input activation once and writes its output once (ShuffleNetV2's memory "
        "access cost); a pair adds its two convs, so its intermediate activation counts "
        "twice. FLOP/B = FLOPs / bytes moved.",
    ]
    if report.profile is not None:
        profile = report.profile
        notes.append(
            f"Time = max(FLOPs / {profile.peak_gflops:g} GFLOP/s, bytes / "
            f"{profile.bandwidth_gbs:g} GB/s); a pair's is the sum of its two convs'. Below "
            f"{profile.ridge_intensity:.3g} FLOP/B a conv is memory-bound. Profile: "
            f"{profile.name}."
        )
        notes += peak_dtype_notes(profile, report.dtype)
    title = "Memory traffic" + (" and roofline time" if report.profile is not None else "")
    return Table(title=title, columns=tuple(columns), rows=tuple(rows), notes=tuple(notes))


def _memory_ratio_table(report: LayerMemoryReport, table: Table) -> Table:
    """The ratio table with bytes moved and predicted time added for both replacements."""
    rows: list[tuple[Cell, ...]] = []
    for prefix, design in (("", report.separable), ("spatial ", report.spatial)):
        access = access_ratio(design, report.standard)
        rows.append(
            (
                f"{prefix}bytes moved ({report.dtype})",
                access,
                f"{design.traffic.access_cost} / {report.standard.traffic.access_cost}",
                1 / access,
            )
        )
        time = time_ratio(design, report.standard)
        if time is not None:
            rows.append((f"{prefix}predicted time (roofline)", time, "", 1 / time))
    rows.sort(key=lambda row: str(row[0]).startswith("spatial"))
    speedup = report.predicted_speedup
    notes: tuple[str, ...] = ()
    if speedup is not None:
        saving = float(1 / report.comparison.macs_ratio)
        verdict = "but is predicted only" if speedup < saving else "and is predicted"
        notes = (
            f"The separable pair does {saving:.3g}\u00d7 fewer MACs {verdict} "
            f"{speedup:.3g}\u00d7 faster: " + _bound_story(report),
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
