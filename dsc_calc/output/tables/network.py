"""The tables of ``dsc-calc network``: layers (with MACs shares), by kind, and the what-if."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsc_calc.output.tabular import Column, Table

if TYPE_CHECKING:
    from dsc_calc.network.report import NetworkReport, WhatIfReport


def network_tables(report: NetworkReport) -> list[Table]:
    """The layer table (with MACs shares), the by-kind table and any what-if table."""
    total = report.totals.macs
    shown = report.shown_rows()
    hidden = len(report.rows) - len(shown)
    layer_table = Table(
        title=f"{report.name}: {report.input} \u2192 {report.output}"
        + (f" (batch {report.batch})" if report.batch != 1 else ""),
        columns=(
            Column("Layer"),
            Column("Type"),
            Column("Output"),
            Column("Params", "count"),
            Column("MACs", "count"),
            Column("FLOPs", "count"),
            Column("MACs share", "share"),
        ),
        rows=tuple(
            (
                row.name,
                row.describe(),
                str(row.output),
                row.cost.params,
                row.cost.macs,
                row.cost.flops,
                row.cost.macs / total if total else 0.0,
            )
            for row in shown
        ),
        footer=(
            "total",
            f"{len(report.rows)} rows",
            str(report.output),
            report.totals.params,
            report.totals.macs,
            report.totals.flops,
            1.0 if total else 0.0,
        ),
        notes=(
            *((f"{hidden} more rows not shown (--top {report.top}).",) if hidden else ()),
            *((f"Source: {report.source}",) if report.source else ()),
        ),
    )
    kind_table = Table(
        title="By kind (as in the MobileNet paper's Table 2)",
        columns=(
            Column("Kind"),
            Column("Rows", "integer"),
            Column("Params", "count"),
            Column("Params share", "share"),
            Column("MACs", "count"),
            Column("MACs share", "share"),
        ),
        rows=tuple(
            (
                kind,
                value.count,
                value.cost.params,
                value.cost.params / report.totals.params if report.totals.params else 0.0,
                value.cost.macs,
                value.cost.macs / total if total else 0.0,
            )
            for kind, value in report.by_type.items()
        ),
        notes=(
            "MACs: multiply-accumulates of the weights, bias excluded (mult-adds). Params "
            "include bias and batch norm (2 per channel). FLOPs: 2 \u00d7 MACs + one add per "
            "output with a bias.",
        ),
    )
    tables = [layer_table, kind_table]
    if report.what_if is not None:
        tables.append(_what_if_table(report.what_if))
    return tables


def _what_if_table(what_if: WhatIfReport) -> Table:
    """One row per replacement (what it becomes, its params and MACs before and after); the
    original layer is in the main table, and JSON has every figure."""

    def ratio(old: int, new: int) -> float | None:
        return old / new if new else None

    return Table(
        title=f"What if: {what_if.mode} ({len(what_if.changes)} replacements)",
        columns=(
            Column("Layers"),
            Column("Replaced by"),
            Column("Params after", "count"),
            Column("MACs before", "count"),
            Column("MACs after", "count"),
            Column("MACs saving", "times"),
        ),
        rows=tuple(
            (
                _layers_label(change.layers),
                change.after,
                change.new.params,
                change.old.macs,
                change.new.macs,
                ratio(change.old.macs, change.new.macs),
            )
            for change in what_if.changes
        ),
        footer=(
            "network",
            f"params before: {what_if.before.params:,}",
            what_if.after.params,
            what_if.before.macs,
            what_if.after.macs,
            ratio(what_if.before.macs, what_if.after.macs),
        ),
    )


def _layers_label(names: tuple[str, ...]) -> str:
    """``dsconv2.{dw,pw}`` for parts of one block, else the names joined by ``+``."""
    prefixes = {name.rpartition(".")[0] for name in names}
    if len(names) > 1 and len(prefixes) == 1 and "" not in prefixes:
        (prefix,) = prefixes
        return f"{prefix}.{{{','.join(name.rpartition('.')[2] for name in names)}}}"
    return " + ".join(names)
