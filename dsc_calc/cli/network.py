"""``dsc-calc network`` and ``presets``: whole networks from a JSON spec or a preset.

The spec decoder and the engine are imported inside the commands, so that every other
command starts without them.
"""

# No `from __future__ import annotations` here: Typer reads every option's annotation on each
# start, and string annotations would each be compiled by eval.

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from dsc_calc.choices import SortKey, WhatIf
from dsc_calc.cli._app import JsonOption, OutputArgs, PlainOption, app, emit, examples, grouped
from dsc_calc.cli.options import BatchOption, MachineArgs
from dsc_calc.errors import DscCalcError
from dsc_calc.output.render import Format
from dsc_calc.output.tables import TableView

if TYPE_CHECKING:
    from dsc_calc.network.report import NetworkReport
    from dsc_calc.output.tabular import Table

#: The most layer rows a terminal table draws (Rich takes minutes for 100k rows); CSV, Markdown and
#: JSON have no such limit.
TABLE_ROWS = 1000


@app.command(
    epilog=examples(
        "dsc-calc network mobilenet_v1",
        "dsc-calc network mobilenet_v1 --alpha 0.5 --resolution 160 --json",
        "dsc-calc network my_net.json --what-if separable --top 10 --sort macs",
        "dsc-calc presets mobilenet_v2 | dsc-calc network - --format csv",
        "dsc-calc network mobilenet_v1 --memory --profile example-gpu-a100 --dtype fp16",
    )
)
@grouped
def network(
    spec: Annotated[
        str,
        typer.Argument(
            help="A spec file (JSON), an ONNX model (.onnx, recognised by content too), '-' to "
            "read the spec from standard input, or a preset name (see 'dsc-calc presets').",
            metavar="SPEC|MODEL.onnx|PRESET|-",
        ),
    ],
    alpha: Annotated[
        float | None,
        typer.Option(
            "--alpha",
            "-a",
            help="Width multiplier: scale every channel count, with the family's own rounding; "
            "the classifier is never scaled.",
        ),
    ] = None,
    resolution: Annotated[
        int | None,
        typer.Option("--resolution", "-r", help="Input height and width (e.g. 160)."),
    ] = None,
    batch: BatchOption = 1,
    what_if: Annotated[
        WhatIf | None,
        typer.Option(
            "--what-if",
            help="separable: every standard kxk conv as depthwise + pointwise; standard: every "
            "depthwise + pointwise pair as one full conv; spatial: every kxk conv as kx1 + 1xk.",
        ),
    ] = None,
    top: Annotated[
        int | None, typer.Option("--top", "-n", help="Show only the first N layer rows.")
    ] = None,
    sort: Annotated[SortKey, typer.Option("--sort", help="Order of the layer table.")] = "order",
    input_shape: Annotated[
        str | None,
        typer.Option(
            "--input-shape",
            help="ONNX models: the input shape, 1x3x224x224 (NAME=1x3x224x224,... for several "
            "inputs); a symbolic batch is 1 (or --batch) without it.",
        ),
    ] = None,
    *,
    roofline: MachineArgs,
    out: OutputArgs,
) -> None:
    """Params, MACs and FLOPs of a whole network, layer by layer and by kind.

    A spec lists layers (conv, dwconv, pwconv, dsconv, spconv, batchnorm, activations, pool, linear, se, inverted_residual, residual, repeat); 'dsc-calc schema' prints its JSON Schema. The by-kind table splits the cost as the MobileNet paper's Table 2 does.

    An ONNX model (dsc-calc network model.onnx) gives one row per node, named as in the file: MACs of Conv, ConvTranspose, Gemm and MatMul; params from the weight initializers, each once. Op types it cannot cost are listed on stderr and in the JSON; --input-shape sets the input size.

    --top and --sort shape the layer table (and CSV/Markdown); JSON always holds every row. A terminal table shows at most 1000 rows.

    --memory adds the bytes each row moves (weights, input, output), its FLOP/B and its live activation memory, and a summary: weight memory, peak activation memory (residual blocks keep their input alive) and total traffic. With a machine (--profile, or --peak-gflops and --bandwidth-gbs) it adds each row's roofline time and bound, the predicted latency, and the standard design beside the separable one (this network and its --what-if standard or separable redesign): MAC ratio beside predicted latency ratio. JSON always has these keys (roofline and latency null without a machine).
    """  # noqa: E501 - Rich re-wraps help paragraphs
    from dsc_calc.files import looks_like_onnx, read_stdin
    from dsc_calc.memory.network import network_memory_report
    from dsc_calc.memory.traffic import dtype_bytes
    from dsc_calc.network.load import MAX_SPEC_BYTES, load_network
    from dsc_calc.network.walk import analyse

    machine = roofline.machine()
    dtype_bytes(roofline.data_type)  # refused now, not after the network is read

    report: NetworkReport
    if looks_like_onnx(spec):
        from dsc_calc.onnx.model import cli_report

        report = cli_report(
            spec,
            input_shape=input_shape,
            batch=batch,
            what_if=what_if,
            alpha=alpha,
            resolution=resolution,
        )
    else:
        if input_shape is not None:
            raise DscCalcError("--input-shape", "applies to ONNX models only")
        # Read one byte past the limit, so that an endless stream is refused, not swallowed.
        stdin = read_stdin(MAX_SPEC_BYTES) if spec == "-" else None
        loaded = load_network(spec, alpha=alpha, resolution=resolution, stdin=stdin)
        report = analyse(loaded, batch=batch, what_if=what_if)
    if top is not None and top < 1:
        raise DscCalcError("--top", f"must be a positive integer, got {top}")
    cap = TABLE_ROWS if out.fmt is Format.table and not out.as_json else None
    if cap is not None and top is not None and top > cap:
        raise DscCalcError(
            "--top",
            f"a terminal table shows at most {cap} rows (Rich needs minutes for 100k); "
            "use --format csv, markdown or json for every row",
        )
    result = network_memory_report(report, dtype=roofline.data_type, profile=machine)
    out.emit(result, view=TableView(top, sort, cap, roofline.show_memory(machine)))


class PresetList:
    """The presets beside their published figures and what dsc-calc counts for them."""

    def __init__(self, entries: list[dict[str, object]]) -> None:
        self.entries = entries

    def to_dict(self) -> dict[str, object]:
        return {"presets": self.entries}

    def tables(self) -> "list[Table]":
        from dsc_calc.output.tabular import Column, Table  # only a table needs it: not --json

        return [
            Table(
                title="Presets",
                columns=(
                    Column("Name"),
                    Column("Input"),
                    Column("Params", "count"),
                    Column("MACs", "count"),
                    Column("Paper params"),
                    Column("Paper MACs"),
                ),
                rows=tuple(
                    (
                        str(entry["name"]),
                        str(entry["input"]),
                        int(str(entry["params"])),
                        int(str(entry["macs"])),
                        str(entry["published_params"]),
                        str(entry["published_macs"]),
                    )
                    for entry in self.entries
                ),
                notes=(
                    "Counted by dsc-calc (params incl. batch norm and bias; MACs of conv + FC) "
                    "beside the figures the papers print.",
                    *(
                        f"{entry['name']} ({entry['family'] or 'no'} family): "
                        f"{entry['published_source']}"
                        for entry in self.entries
                    ),
                    "Print one as a spec to start from: dsc-calc presets NAME",
                ),
            )
        ]


@app.command(
    epilog=examples(
        "dsc-calc presets",
        "dsc-calc presets mobilenet_v1 > my_net.json",
        "dsc-calc presets mobilenet_v1 -f csv",
    ),
)
def presets(
    name: Annotated[
        str | None,
        typer.Argument(help="Print this preset's spec JSON (a starting point for your own)."),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help=(
                "Output format of the listing: a Rich table, JSON, CSV or Markdown. With NAME, "
                "the spec is JSON (default, or json); table, csv or markdown give that preset's "
                "row of the listing."
            ),
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    plain: PlainOption = False,
) -> None:
    """List the shipped presets with their published figures, or print one preset's spec."""
    from dsc_calc.network import presets as shipped

    if name is not None:
        spec = shipped.read(name).decode("utf-8")
        if as_json or fmt in (None, Format.json):
            sys.stdout.write(spec)
            return
    chosen = Format.table if fmt is None else fmt
    from dsc_calc.network.load import load_network
    from dsc_calc.network.walk import analyse

    entries: list[dict[str, object]] = []
    for preset in shipped.names() if name is None else (name,):
        loaded = load_network(preset)
        report = analyse(loaded)
        published = shipped.PUBLISHED[preset]
        entries.append(
            {
                "name": preset,
                "family": loaded.family,
                "source": loaded.source,
                "input": str(report.input),  # deprecated: input_shape says it as an object
                "input_shape": report.input.to_dict(),
                "params": report.totals.params,
                "macs": report.totals.macs,
                "published_params": published.params,
                "published_macs": published.macs,
                "published_source": published.source,
            }
        )
    emit(PresetList(entries), chosen, as_json, plain=plain)
