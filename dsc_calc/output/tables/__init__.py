"""The table builders of every report, found by the report's type.

Results are plain data (``to_dict()`` for JSON); how a person sees one is decided here, with the
command's :class:`TableView` (which rows, in what order, which parts). Each builder lives in the
module of its command and is imported only when a table is drawn, so JSON output never pays for
it. Adding a report is one builder, ``(report, view) -> tables``, and one row of :data:`_BUILDERS`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

    from dsc_calc.choices import SortKey
    from dsc_calc.output.tabular import Table


class TableView(NamedTuple):
    """How a command shows a result to people; JSON is the whole result whatever the view.

    ``top`` and ``sort``: a network's layer table cut to the first rows in that order (the user's
    --top and --sort); ``cap``: the most rows a terminal table draws, when the command cut it;
    ``memory``: whether the tables show the memory model's figures (--memory, or implied).
    """

    top: int | None = None
    sort: SortKey = "order"
    cap: int | None = None
    memory: bool = True


#: ``module.Class`` of a result -> ``module:function`` of its table builder.
_BUILDERS: dict[str, str] = {
    "dsc_calc.bench.run.BenchReport": "dsc_calc.output.tables.bench:bench_tables",
    "dsc_calc.bench.run.NetworkBenchReport": "dsc_calc.output.tables.bench:network_bench_tables",
    "dsc_calc.cost.conv.LayerComparison": "dsc_calc.output.tables.layer:layer_tables",
    "dsc_calc.memory.layer.LayerMemoryReport": "dsc_calc.output.tables.layer:layer_memory_tables",
    "dsc_calc.cost.spatial.KernelReport": "dsc_calc.output.tables.kernel:kernel_tables",
    "dsc_calc.cost.sweep.SweepReport": "dsc_calc.output.tables.sweep:sweep_tables",
    "dsc_calc.network.report.NetworkReport": "dsc_calc.output.tables.network:network_tables",
    "dsc_calc.onnx.model.ImportedReport": "dsc_calc.output.tables.network:imported_tables",
    "dsc_calc.memory.network.NetworkMemoryReport": (
        "dsc_calc.output.tables.network:network_memory_tables"
    ),
}


#: Every row in order, memory figures shown: the view of a result with no options.
DEFAULT_VIEW = TableView()


def tables_of(report: Any, view: TableView = DEFAULT_VIEW) -> list[Table]:
    """The tables ``report`` shows people, in order, as ``view`` says."""
    kind = type(report)
    target = _BUILDERS.get(f"{kind.__module__}.{kind.__qualname__}")
    if target is None:
        tables: Callable[[], list[Table]] = report.tables
        return tables()
    module, _, function = target.partition(":")
    builder: Callable[[Any, TableView], list[Table]] = getattr(import_module(module), function)
    return builder(report, view)
