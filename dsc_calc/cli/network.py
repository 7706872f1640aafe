"""``dsc-calc network`` and ``presets``: whole networks from a JSON spec or a preset.

The spec decoder (msgspec) and the engine are imported inside the commands, so that every other
command starts without them.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from dsc_calc.cli._app import FormatOption, JsonOption, OutputOption, app, emit
from dsc_calc.cli.layer import (
    OPTION_NAMES,
    BandwidthOption,
    DtypeOption,
    MemoryOption,
    PeakOption,
    ProfileOption,
    machine_profile,
)
from dsc_calc.errors import DscCalcError
from dsc_calc.output.render import Format
from dsc_calc.output.tabular import Column, Table

#: The most layer rows a terminal table draws (Rich takes minutes for 100k rows); CSV, Markdown and
#: JSON have no such limit.
TABLE_ROWS = 1000


class WhatIfChoice(StrEnum):
    """The redesigns ``--what-if`` offers."""

    separable = "separable"
    standard = "standard"
    spatial = "spatial"


class SortChoice(StrEnum):
    """Orders of the layer table."""

    order = "order"
    macs = "macs"
    params = "params"


@app.command(
    epilog=(
        "Examples: dsc-calc network mobilenet_v1 | "
        "dsc-calc network mobilenet_v1 --alpha 0.5 --resolution 160 --json | "
        "dsc-calc network my_net.json --what-if separable --top 10 --sort macs | "
        "dsc-calc presets mobilenet_v2 | dsc-calc network - --format csv | "
        "dsc-calc network mobilenet_v1 --memory --profile example-desktop"
    )
)
def network(
    spec: Annotated[
        str,
        typer.Argument(
            help="A spec file (JSON), '-' to read the spec from standard input, or a preset name "
            "(see 'dsc-calc presets').",
            metavar="SPEC|PRESET|-",
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
    batch: Annotated[
        int, typer.Option("--batch", "-b", help="Batch size (scales MACs, not params).")
    ] = 1,
    what_if: Annotated[
        WhatIfChoice | None,
        typer.Option(
            "--what-if",
            help="separable: every standard kxk conv as depthwise + pointwise; standard: every "
            "depthwise + pointwise pair as one full conv; spatial: every kxk conv as kx1 + 1xk.",
        ),
    ] = None,
    top: Annotated[
        int | None, typer.Option("--top", "-n", help="Show only the first N layer rows.")
    ] = None,
    sort: Annotated[
        SortChoice, typer.Option("--sort", help="Order of the layer table.")
    ] = SortChoice.order,
    memory: MemoryOption = False,
    dtype: DtypeOption = None,
    peak_gflops: PeakOption = None,
    bandwidth_gbs: BandwidthOption = None,
    profile: ProfileOption = None,
    fmt: FormatOption = Format.table,
    as_json: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """Params, MACs and FLOPs of a whole network, layer by layer and by kind.

    A spec lists layers (conv, dwconv, pwconv, dsconv, spconv, batchnorm, activations, pool, linear, se, inverted_residual, residual, repeat); 'dsc-calc schema' prints its JSON Schema. The by-kind table splits the cost as the MobileNet paper's Table 2 does.

    --top and --sort shape the layer table (and CSV/Markdown); JSON always holds every row. A terminal table shows at most 1000 rows.

    --memory adds the bytes each row moves (weights, input, output), its FLOP/B and its live activation memory, and a summary: weight memory, peak activation memory (residual blocks keep their input alive) and total traffic. With a machine (--profile, or --peak-gflops and --bandwidth-gbs) it adds each row's roofline time and bound, the predicted latency, and the standard design beside the separable one (this network and its --what-if standard or separable redesign): MAC ratio beside predicted latency ratio. JSON always has these keys (roofline and latency null without a machine).
    """  # noqa: E501 - Rich re-wraps help paragraphs
    from dsc_calc.files import read_stdin
    from dsc_calc.memory.network import network_memory_report
    from dsc_calc.network.analysis import MAX_SPEC_BYTES, analyse, load_network

    machine = machine_profile(profile, peak_gflops, bandwidth_gbs)
    data_type = (dtype or "fp32").lower()
    try:
        from dsc_calc.memory.traffic import dtype_bytes

        dtype_bytes(data_type)
    except DscCalcError as error:
        raise error.renamed(OPTION_NAMES) from None

    # Read one byte past the limit, so that an endless stream is refused rather than swallowed.
    stdin = read_stdin(MAX_SPEC_BYTES) if spec == "-" else None
    loaded = load_network(spec, alpha=alpha, resolution=resolution, stdin=stdin)
    try:
        report = analyse(loaded, batch=batch, what_if=None if what_if is None else what_if.value)
    except DscCalcError as error:
        raise error.renamed({"batch": "--batch", "what_if": "--what-if"}) from None
    if fmt is Format.table and not as_json:
        if top is not None and top > TABLE_ROWS:
            raise DscCalcError(
                "--top",
                f"a terminal table shows at most {TABLE_ROWS} rows (Rich needs minutes for 100k); "
                "use --format csv, markdown or json for every row",
            )
        if top is None and len(report.rows) > TABLE_ROWS:
            top = TABLE_ROWS
    result = network_memory_report(
        report,
        dtype=data_type,
        profile=machine,
        show_memory=memory or dtype is not None or machine is not None,
    )
    emit(result.view(top=top, sort=sort.value), fmt, as_json, output)


class PresetList:
    """The presets beside their published figures and what dsc-calc counts for them."""

    def __init__(self, entries: list[dict[str, object]]) -> None:
        self.entries = entries

    def to_dict(self) -> dict[str, object]:
        return {"presets": self.entries}

    def tables(self) -> list[Table]:
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
                    *(f"{entry['name']}: {entry['published_source']}" for entry in self.entries),
                    "Print one as a spec to start from: dsc-calc presets NAME",
                ),
            )
        ]


@app.command(
    epilog="Examples: dsc-calc presets | dsc-calc presets mobilenet_v1 > my_net.json",
)
def presets(
    name: Annotated[
        str | None,
        typer.Argument(help="Print this preset's spec JSON (a starting point for your own)."),
    ] = None,
    fmt: FormatOption = Format.table,
    as_json: JsonOption = False,
) -> None:
    """List the shipped presets with their published figures, or print one preset's spec."""
    from dsc_calc.network import presets as shipped

    if name is not None:
        sys.stdout.write(shipped.read(name).decode("utf-8"))
        return
    from dsc_calc.network.analysis import analyse, load_network

    entries: list[dict[str, object]] = []
    for preset in shipped.names():
        loaded = load_network(preset)
        report = analyse(loaded)
        published = shipped.PUBLISHED[preset]
        entries.append(
            {
                "name": preset,
                "family": loaded.family,
                "source": loaded.source,
                "input": str(report.input),
                "params": report.totals.params,
                "macs": report.totals.macs,
                "published_params": published.params,
                "published_macs": published.macs,
                "published_source": published.source,
            }
        )
    emit(PresetList(entries), fmt, as_json)
