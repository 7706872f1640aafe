"""Memory traffic, peak activation memory and roofline latency of a whole network.

:func:`network_memory_report` wraps a :class:`~dsc_calc.network.analysis.NetworkReport` (it does
not change it) with :func:`network_memory`: every row is one kernel that reads its weights and
its input once and writes its output once; a row's live memory is its input, its output and the
activations held for a residual add still to come (``LayerRow.held_elements``); the peak is the
largest over the rows.

With a :class:`~dsc_calc.memory.traffic.MachineProfile`, the report also sets the standard design
beside the depthwise separable one, both predicted by the roofline, beside their MAC ratio. The
other design is a what-if redesign of this network (:func:`dsc_calc.network.analysis.redesign`):

* ``--what-if separable`` or ``--what-if standard`` given: that redesign;
* otherwise, a network with depthwise + pointwise pairs (MobileNet) is the separable design and is
  compared with its ``standard`` redesign (each pair as one full conv, the rows between them
  dropped: MobileNet's Table 4 "Conv MobileNet"); any other network is the standard design and is
  compared with its ``separable`` redesign.

The report's ``to_dict()`` is the network's, with keys added and none changed, and its
``tables()`` are the network's tables, with (when asked) a per-row memory table, a summary and the
design comparison added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from dsc_calc._gc import collector_paused
from dsc_calc.cost.conv import Conv2d, Cost, Shape, check_positive, compare
from dsc_calc.errors import DscCalcError
from dsc_calc.memory.traffic import (
    KernelMemory,
    MachineProfile,
    Roofline,
    Traffic,
    arithmetic_intensity,
    dtype_bytes,
    kernel_memory,
)
from dsc_calc.network.analysis import LayerRow, NetworkReport, WhatIfReport, conv_kind, redesign
from dsc_calc.output.tabular import Cell, Column, Table

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dsc_calc.network.analysis import SortKey

# --- a network: weight memory, peak activation memory, traffic and latency ---------------------


class NetworkRow(Protocol):
    """What :func:`network_memory` needs of a network's row (a layer run as one kernel)."""

    @property
    def name(self) -> str: ...

    @property
    def input(self) -> Shape: ...

    @property
    def output(self) -> Shape: ...

    @property
    def cost(self) -> Cost: ...

    @property
    def held_elements(self) -> int:
        """Per-sample elements of earlier activations kept alive for a pending residual add."""
        ...


@dataclass(frozen=True, slots=True)
class RowMemory:
    """One row's traffic, live activation memory and roofline."""

    name: str
    kernel: KernelMemory
    live_bytes: int

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, **self.kernel.to_dict(), "live_bytes": self.live_bytes}


@dataclass(frozen=True, slots=True)
class NetworkMemory:
    """A network's weight memory, peak activation memory, total traffic and predicted latency."""

    dtype: str
    batch: int
    rows: tuple[RowMemory, ...]
    weights_bytes: int
    peak_activation_bytes: int
    peak_row: str | None
    traffic: Traffic
    flops: int
    macs: int = 0
    profile: MachineProfile | None = None

    @property
    def intensity(self) -> float:
        """FLOPs per byte over the whole network."""
        return arithmetic_intensity(self.flops, self.traffic.access_cost)

    def bound_shares(self) -> dict[str, float]:
        """The share of the predicted latency spent in compute- and in memory-bound rows."""
        total = {"compute": 0.0, "memory": 0.0}
        for row in self.rows:
            if row.kernel.roofline is not None:
                total[row.kernel.roofline.bound] += row.kernel.roofline.time_s
        whole = math.fsum(total.values())
        return {key: (value / whole if whole else 0.0) for key, value in total.items()}

    @property
    def latency(self) -> Roofline | None:
        """The rows' roofline times added up (one kernel after another), or None.

        Its bound is the one of the rows that take most of the time.
        """
        if self.profile is None:
            return None
        seconds = math.fsum(r.kernel.roofline.time_s for r in self.rows if r.kernel.roofline)
        shares = self.bound_shares()
        return Roofline(seconds, "compute" if shares["compute"] > shares["memory"] else "memory")

    def to_dict(self) -> dict[str, object]:
        latency = self.latency
        return {
            "dtype": self.dtype,
            "batch": self.batch,
            "weights_bytes": self.weights_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "peak_row": self.peak_row,
            "memory": self.traffic.to_dict(),
            "macs": self.macs,
            "flops": self.flops,
            "intensity": self.intensity,
            "latency": None
            if latency is None
            else {**latency.to_dict(), "shares": self.bound_shares()},
            "profile": None if self.profile is None else self.profile.to_dict(),
            "rows": [row.to_dict() for row in self.rows],
        }


def network_memory(
    rows: Iterable[NetworkRow],
    *,
    dtype: str = "fp32",
    batch: int = 1,
    profile: MachineProfile | None = None,
) -> NetworkMemory:
    """Weight memory, peak activation memory, traffic and roofline latency of a chain of rows.

    Every row, conv or not, is one kernel that reads its weights (``params`` elements) and its
    input once and writes its output once: bytes = ``params*size + batch*(input + output)*size``.
    A row's live activation memory is ``batch*(input + output + held_elements)*size``: the
    activation it reads, the one it writes, and earlier activations kept alive for a residual add
    still to come. The peak is the largest over the rows. Weight memory is the sum of all params.
    """
    check_positive(batch, "batch")
    size = dtype_bytes(dtype)
    results: list[RowMemory] = []
    weights = inputs = outputs = flops = macs = 0
    peak = 0
    peak_row: str | None = None
    # A 100k-layer network has ~300k rows: sums are kept as ints (Traffic.__add__ would build a
    # dataclass per row), and the collector is paused while only acyclic results are allocated:
    # 1.5 s -> 1.0 s of CPU for 283k rows on the dev machine.
    with collector_paused():
        for index, row in enumerate(rows):
            held = row.held_elements
            if isinstance(held, bool) or not isinstance(held, int) or held < 0:
                raise DscCalcError(
                    f"rows[{index}].held_elements", f"must be a non-negative integer, got {held!r}"
                )
            cost = row.cost
            input_elements, output_elements = row.input.numel, row.output.numel
            weights_bytes = cost.params * size
            input_bytes = batch * input_elements * size
            output_bytes = batch * output_elements * size
            live = batch * (input_elements + output_elements + held) * size
            row_traffic = Traffic(weights_bytes, input_bytes, output_bytes)
            results.append(
                RowMemory(row.name, kernel_memory(row_traffic, cost.flops, profile), live)
            )
            weights += weights_bytes
            inputs += input_bytes
            outputs += output_bytes
            flops += cost.flops
            macs += cost.macs
            if live > peak:
                peak, peak_row = live, row.name
    traffic = Traffic(weights, inputs, outputs)
    return NetworkMemory(
        dtype=dtype,
        batch=batch,
        rows=tuple(results),
        weights_bytes=traffic.weights_bytes,
        peak_activation_bytes=peak,
        peak_row=peak_row,
        traffic=traffic,
        flops=flops,
        macs=macs,
        profile=profile,
    )


def design_ratios(standard: NetworkMemory, separable: NetworkMemory) -> dict[str, float | None]:
    """Separable / standard for MACs, bytes moved and predicted latency (None without a profile).

    The latency ratio beside the MACs ratio is the gap the papers talk about: fewer MACs do not
    mean proportionally less time when the cheap layers are memory-bound.
    """
    fast, slow = separable.latency, standard.latency
    return {
        "macs": separable.macs / standard.macs if standard.macs else None,
        "access_cost": (
            separable.traffic.access_cost / standard.traffic.access_cost
            if standard.traffic.access_cost
            else None
        ),
        "time": fast.time_s / slow.time_s if fast and slow and slow.time_s else None,
    }


#: The what-if modes that turn one design into the other.
_DESIGN_MODES = ("separable", "standard")


@dataclass(frozen=True, slots=True)
class DesignComparison:
    """This network beside its other design (standard vs separable), both on the roofline."""

    #: The what-if redesign that made the other design: ``separable`` or ``standard``.
    mode: str
    #: How many replacements the redesign made.
    changes: int
    standard: NetworkMemory
    separable: NetworkMemory

    @property
    def this_design(self) -> str:
        """Which of the two designs is the network as given."""
        return "standard" if self.mode == "separable" else "separable"

    def to_dict(self) -> dict[str, object]:
        ratios = design_ratios(self.standard, self.separable)
        return {
            "network": self.this_design,
            "compared_with": f"what-if {self.mode}",
            "changes": self.changes,
            "standard": _design_dict(self.standard),
            "separable": _design_dict(self.separable),
            "ratio": ratios,
            "saving": {key: (1 / value if value else None) for key, value in ratios.items()},
        }


def _design_dict(memory: NetworkMemory) -> dict[str, object]:
    latency = memory.latency
    return {
        "macs": memory.macs,
        "flops": memory.flops,
        "weights_bytes": memory.weights_bytes,
        "access_cost": memory.traffic.access_cost,
        "peak_activation_bytes": memory.peak_activation_bytes,
        "time_s": None if latency is None else latency.time_s,
        "bound": None if latency is None else latency.bound,
    }


@dataclass(frozen=True, slots=True)
class NetworkMemoryReport:
    """A network report with each row's traffic, the network's memory and its roofline latency."""

    report: NetworkReport
    memory: NetworkMemory
    comparison: DesignComparison | None = None
    #: Whether ``tables()`` shows the memory tables (JSON always has the memory keys).
    show_memory: bool = True

    @property
    def dtype(self) -> str:
        return self.memory.dtype

    @property
    def profile(self) -> MachineProfile | None:
        return self.memory.profile

    def view(self, *, top: int | None = None, sort: SortKey = "order") -> NetworkMemoryReport:
        """The same report with its layer and memory tables sorted and cut to ``top`` rows."""
        return replace(self, report=self.report.view(top=top, sort=sort))

    def to_dict(self) -> dict[str, object]:
        """The network JSON, plus ``memory{…}``/``intensity``/``roofline`` per row, ``memory``,
        ``profile`` and ``latency`` (the design comparison; null without a machine)."""
        document = self.report.to_dict()
        layers = document["layers"]
        assert isinstance(layers, list)  # noqa: S101 - NetworkReport.to_dict's contract
        with collector_paused():  # ~300k small acyclic dicts for a 100k-layer spec
            for entry, row in zip(layers, self.memory.rows, strict=True):
                kernel = row.kernel
                traffic = kernel.traffic
                roof = kernel.roofline
                entry["memory"] = {
                    "weights_bytes": traffic.weights_bytes,
                    "input_bytes": traffic.input_bytes,
                    "output_bytes": traffic.output_bytes,
                    "access_cost": traffic.access_cost,
                }
                entry["live_bytes"] = row.live_bytes
                entry["intensity"] = kernel.intensity
                entry["roofline"] = (
                    None if roof is None else {"time_s": roof.time_s, "bound": roof.bound}
                )
        memory = self.memory
        latency = memory.latency
        document["memory"] = {
            "dtype": memory.dtype,
            "bytes_per_element": dtype_bytes(memory.dtype),
            "weights_bytes": memory.weights_bytes,
            "peak_activation_bytes": memory.peak_activation_bytes,
            "peak_row": memory.peak_row,
            "traffic": memory.traffic.to_dict(),
            "flops": memory.flops,
            "intensity": memory.intensity,
            "latency": None
            if latency is None
            else {**latency.to_dict(), "shares": memory.bound_shares()},
        }
        profile = self.profile
        document["profile"] = (
            None
            if profile is None
            else {**profile.to_dict(), "ridge_intensity": profile.ridge_intensity}
        )
        document["latency"] = None if self.comparison is None else self.comparison.to_dict()
        return document

    def tables(self) -> list[Table]:
        """The network's tables; with ``show_memory``, per-row memory, a summary and the designs.

        CSV exports one table: with ``show_memory``, the layer table with the memory columns
        appended (a CSV-only table, too wide for a terminal).
        """
        base = self.report.tables()
        if not self.show_memory:
            return base
        layer_table, *rest = base
        shown = self._shown_memory()
        tables = [
            self._csv_table(layer_table, shown),
            replace(layer_table, csv=False),
            *rest,
            self._row_table(shown),
            self._summary_table(),
        ]
        if self.comparison is not None:
            tables.append(_comparison_table(self.comparison))
        return tables

    def _shown_memory(self) -> list[RowMemory]:
        """The memory of the rows the layer table shows, in its order."""
        index = {id(row): position for position, row in enumerate(self.report.rows)}
        return [self.memory.rows[index[id(row)]] for row in self.report.shown_rows()]

    def _row_table(self, shown: list[RowMemory]) -> Table:
        with_time = self.profile is not None
        columns = [
            Column("Layer"),
            Column("Weights", "bytes"),
            Column("In+out", "bytes"),
            Column("Moved", "bytes"),
            Column("Live", "bytes"),
            Column("FLOP/B", "number"),
        ]
        if with_time:
            columns += [Column("Time", "seconds"), Column("Bound")]
        rows: list[tuple[Cell, ...]] = []
        for row in shown:
            traffic = row.kernel.traffic
            cells: list[Cell] = [
                row.name,
                traffic.weights_bytes,
                traffic.input_bytes + traffic.output_bytes,
                traffic.access_cost,
                row.live_bytes,
                row.kernel.intensity,
            ]
            if row.kernel.roofline is not None:
                cells += [row.kernel.roofline.time_s, row.kernel.roofline.bound]
            rows.append(tuple(cells))
        memory = self.memory
        footer: list[Cell] = [
            "total",
            memory.weights_bytes,
            memory.traffic.input_bytes + memory.traffic.output_bytes,
            memory.traffic.access_cost,
            memory.peak_activation_bytes,
            memory.intensity,
        ]
        latency = memory.latency
        if latency is not None:
            footer += [latency.time_s, latency.bound]
        hidden = len(memory.rows) - len(shown)
        notes = [
            f"{memory.dtype} ({dtype_bytes(memory.dtype)} B per element), batch {memory.batch}. "
            "Each row reads its weights and input once and writes its output once (ShuffleNetV2's "
            "memory access cost); In+out = input + output activations. Live = input + output + "
            "activations held for a residual add; the total row shows the peak. "
            "FLOP/B = FLOPs / bytes moved.",
            *((f"{hidden} more rows not shown.",) if hidden else ()),
        ]
        if self.profile is not None:
            profile = self.profile
            notes.append(
                f"Time = max(FLOPs / {profile.peak_gflops:g} GFLOP/s, bytes / "
                f"{profile.bandwidth_gbs:g} GB/s) per row, rows added up; below "
                f"{profile.ridge_intensity:.3g} FLOP/B a row is memory-bound. Profile: "
                f"{profile.name}."
            )
            if memory.dtype not in ("fp32", profile.peak_dtype):
                notes.append(
                    f"The profile's peak is used as is for {memory.dtype}; low-precision peaks "
                    "are often higher than fp32's (give --peak-gflops for that type)."
                )
        title = "Memory traffic per row" + (" and roofline time" if with_time else "")
        return Table(
            title=title,
            columns=tuple(columns),
            rows=tuple(rows),
            footer=tuple(footer),
            notes=tuple(notes),
            csv=False,
        )

    def _summary_table(self) -> Table:
        memory = self.memory
        traffic = memory.traffic
        rows: list[tuple[Cell, ...]] = [
            ("weight memory", memory.weights_bytes, "every parameter once"),
            (
                "peak activation memory",
                memory.peak_activation_bytes,
                f"at {memory.peak_row}" if memory.peak_row is not None else "",
            ),
            ("weights read", traffic.weights_bytes, ""),
            ("activations read", traffic.input_bytes, ""),
            ("activations written", traffic.output_bytes, ""),
            ("total traffic", traffic.access_cost, f"{memory.intensity:.3g} FLOP/B"),
        ]
        latency = memory.latency
        if latency is not None:
            shares = memory.bound_shares()
            rows.append(
                (
                    "predicted latency",
                    _seconds(latency.time_s),
                    f"{shares['memory']:.0%} of it in memory-bound rows",
                )
            )
        return Table(
            title=f"Memory ({memory.dtype}, batch {memory.batch})",
            columns=(Column("Quantity"), Column("Value", "bytes"), Column("Note")),
            rows=tuple(rows),
            notes=(
                "Peak activation memory: the largest over the rows of input + output + "
                "activations a residual block keeps alive for its add (no buffer reuse beyond "
                "that, no fusion).",
            ),
            csv=False,
        )

    def _csv_table(self, layer_table: Table, shown: list[RowMemory]) -> Table:
        """The layer table with every memory figure appended: what CSV exports."""
        columns = [
            *layer_table.columns,
            Column("Weights bytes", "integer"),
            Column("Input bytes", "integer"),
            Column("Output bytes", "integer"),
            Column("Access cost", "integer"),
            Column("Live bytes", "integer"),
            Column("FLOP/B", "number"),
        ]
        with_time = self.profile is not None
        if with_time:
            columns += [Column("Time s", "number"), Column("Bound")]
        rows: list[tuple[Cell, ...]] = []
        for cells, row in zip(layer_table.rows, shown, strict=True):
            traffic = row.kernel.traffic
            extra: list[Cell] = [
                traffic.weights_bytes,
                traffic.input_bytes,
                traffic.output_bytes,
                traffic.access_cost,
                row.live_bytes,
                row.kernel.intensity,
            ]
            if row.kernel.roofline is not None:
                extra += [row.kernel.roofline.time_s, row.kernel.roofline.bound]
            rows.append((*cells, *extra))
        footer = None
        if layer_table.footer is not None:
            memory = self.memory
            totals: list[Cell] = [
                memory.traffic.weights_bytes,
                memory.traffic.input_bytes,
                memory.traffic.output_bytes,
                memory.traffic.access_cost,
                memory.peak_activation_bytes,
                memory.intensity,
            ]
            latency = memory.latency
            if latency is not None:
                totals += [latency.time_s, latency.bound]
            footer = (*layer_table.footer, *totals)
        return replace(
            layer_table, columns=tuple(columns), rows=tuple(rows), footer=footer, screen=False
        )


def _seconds(value: float) -> str:
    """A time for the summary's bytes column (which would misread a float)."""
    from dsc_calc.output.render import format_seconds

    return format_seconds(value)


def _comparison_table(comparison: DesignComparison) -> Table:
    """Standard vs separable: MACs, bytes moved and predicted latency, and their ratios."""
    rows: list[tuple[Cell, ...]] = []
    for design in ("standard", "separable"):
        memory: NetworkMemory = getattr(comparison, design)
        latency = memory.latency
        label = design + (" (this network)" if design == comparison.this_design else "")
        rows.append(
            (
                label,
                memory.macs,
                memory.traffic.access_cost,
                None if latency is None else latency.time_s,
                "" if latency is None else latency.bound,
            )
        )
    ratios = design_ratios(comparison.standard, comparison.separable)
    notes = [
        f"The other design is this network's --what-if {comparison.mode} "
        f"({comparison.changes} replacements).",
    ]
    macs, time = ratios["macs"], ratios["time"]
    if not comparison.changes:
        notes[0] = (
            f"Nothing for --what-if {comparison.mode} to replace: both designs are this network."
        )
    elif macs and time:
        saving, speedup = 1 / macs, 1 / time
        separable_share = comparison.separable.bound_shares()["memory"]
        verdict = "but is predicted only" if speedup < saving else "and is predicted"
        notes.append(
            f"The separable design does {saving:.3g}\u00d7 fewer MACs {verdict} "
            f"{speedup:.3g}\u00d7 faster: it still moves {ratios['access_cost']:.2g}\u00d7 "
            f"the standard design's bytes, and {separable_share:.0%} of its predicted time is "
            "in memory-bound rows, where bandwidth, not MACs, sets the time."
        )
    return Table(
        title="Standard vs depthwise separable design (roofline)",
        columns=(
            Column("Design"),
            Column("MACs", "count"),
            Column("Moved", "bytes"),
            Column("Latency", "seconds"),
            Column("Bound"),
        ),
        rows=tuple(rows),
        footer=(
            "separable / standard",
            f"{macs:.3g}" if macs is not None else "",
            f"{ratios['access_cost']:.3g}" if ratios["access_cost"] is not None else "",
            f"{time:.3g}" if time is not None else "",
            "",
        ),
        notes=tuple(notes),
        csv=False,
    )


# --- the other design's rows ------------------------------------------------------------------


def redesigned_rows(
    rows: tuple[LayerRow, ...], what_if: WhatIfReport, batch: int
) -> list[LayerRow]:
    """``rows`` with ``what_if``'s changes applied, as rows (for the other design's memory).

    ``separable``: a conv row becomes its depthwise row and its pointwise row. ``standard``: a
    depthwise row, the batch norm / activation rows after it and its pointwise row become one full
    conv row. New rows keep the replaced row's ``held_elements``. Only those two modes.
    """
    if what_if.mode not in _DESIGN_MODES:
        raise ValueError(f"redesigned_rows: mode {what_if.mode!r} is not one of {_DESIGN_MODES}")
    result: list[LayerRow] = []
    cursor = 0
    for change in what_if.changes:
        first, last = change.layers[0], change.layers[-1]
        while rows[cursor].name != first:
            result.append(rows[cursor])
            cursor += 1
        row = rows[cursor]
        conv = row.conv
        assert conv is not None  # noqa: S101 - redesign() changes conv rows only
        if what_if.mode == "separable":
            parts = compare(conv, row.input, batch)
            depthwise, pointwise = conv.depthwise(), conv.pointwise()
            middle = depthwise.output_shape(row.input)
            held = row.held_elements
            result.append(
                LayerRow(
                    f"{row.name}.dw", "dwconv", "depthwise", row.input, middle,
                    parts.depthwise, depthwise, held,
                )
            )  # fmt: skip
            result.append(
                LayerRow(
                    f"{row.name}.pw", "pwconv", conv_kind(pointwise), middle, row.output,
                    parts.pointwise, pointwise, held,
                )
            )  # fmt: skip
            cursor += 1
            continue
        end = cursor + 1
        while rows[end].name != last:
            end += 1
        pointwise_conv = rows[end].conv
        assert pointwise_conv is not None  # noqa: S101 - a pointwise row carries its conv
        full = Conv2d(
            conv.in_channels,
            pointwise_conv.out_channels,
            conv.kernel,
            conv.stride,
            conv.padding,
            conv.dilation,
            1,
            pointwise_conv.bias,
        )
        result.append(
            LayerRow(
                " + ".join(change.layers), "conv", conv_kind(full), row.input, rows[end].output,
                full.cost(row.input, batch), full, row.held_elements,
            )
        )  # fmt: skip
        cursor = end + 1
    result.extend(rows[cursor:])
    return result


def _other_design(report: NetworkReport) -> WhatIfReport:
    """The redesign that gives the other design (see the module docstring for the rule)."""
    if report.what_if is not None and report.what_if.mode in _DESIGN_MODES:
        return report.what_if
    standard = redesign(report.rows, "standard", report.batch)
    if standard.changes:
        return standard
    return redesign(report.rows, "separable", report.batch)


def network_memory_report(
    report: NetworkReport,
    *,
    dtype: str = "fp32",
    profile: MachineProfile | None = None,
    show_memory: bool = True,
) -> NetworkMemoryReport:
    """Traffic, peak activation memory and roofline latency of ``report``'s network.

    With ``profile``, the network is also compared with its other design (standard vs separable).
    """
    memory = network_memory(report.rows, dtype=dtype, batch=report.batch, profile=profile)
    comparison = None
    if profile is not None:
        what_if = _other_design(report)
        other = network_memory(
            redesigned_rows(report.rows, what_if, report.batch),
            dtype=dtype,
            batch=report.batch,
            profile=profile,
        )
        standard, separable = (memory, other) if what_if.mode == "separable" else (other, memory)
        comparison = DesignComparison(what_if.mode, len(what_if.changes), standard, separable)
    return NetworkMemoryReport(report, memory, comparison, show_memory)
