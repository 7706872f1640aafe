"""``dsc-calc sweep``: the separable / standard ratio over a grid of output channels and kernels."""

from __future__ import annotations

from typing import Annotated

import typer

from dsc_calc.choices import Measure  # noqa: TC001 - Typer reads the annotations at run time
from dsc_calc.cli._app import OutputArgs, app, examples, grouped

# The core's defaults (dsc_calc.cost.sweep.DEFAULT_*), repeated so that importing this module stays
# cheap: the core is imported only when the command runs; a test keeps the two in step.
DEFAULT_COUT = "8..1024x2"
DEFAULT_KERNEL = "1,3,5,7"
DEFAULT_CIN = 32
DEFAULT_HW = 32


@app.command(
    "sweep",
    epilog=examples(
        "dsc-calc sweep",
        "dsc-calc sweep --cout 8,16,32,...,1024 -k 1,3,5,7",
        "dsc-calc sweep --cout 100 -k 512 --json",
        "dsc-calc sweep -N 16..256x2 -k 3..11+2 --bias --cin 64 --measure params -f csv",
    ),
)
@grouped
def sweep_command(
    cout: Annotated[
        str,
        typer.Option(
            "--cout",
            "-N",
            help=(
                "Output channels N: a list of values and ranges: 32, 8-64 (every integer), "
                "8..64+8 (steps of 8), 8..1024x2 (doubling), 8,16,32,...,1024."
            ),
        ),
    ] = DEFAULT_COUT,
    kernel: Annotated[
        str,
        typer.Option("--kernel", "-k", "--dk", help="Square kernel sizes Dk, same syntax."),
    ] = DEFAULT_KERNEL,
    cin: Annotated[
        int,
        typer.Option(
            "--cin", "-M", help="Input channels; changes only the params ratio, with --bias."
        ),
    ] = DEFAULT_CIN,
    hw: Annotated[
        int,
        typer.Option("--hw", "--df", help="Square input size; changes counts, never a ratio."),
    ] = DEFAULT_HW,
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="Give every conv a bias.")] = False,
    measure: Annotated[
        Measure, typer.Option("--measure", help="The ratio the heatmap shows.")
    ] = "macs",
    *,
    out: OutputArgs,
) -> None:
    """Exact separable / standard ratios and savings over a grid of output channels N and kernels Dk.

    Each cell is the layer Conv2d(Cin, N, Dk x Dk, padding same) compared exactly as dsc-calc layer compares it: without bias the ratio is 1/N + 1/Dk² whatever Cin and the input size. The table is a heatmap shaded by saving; CSV has one row per cell with exact fractions. At most 10,000 cells.
    """  # noqa: E501 - Rich re-wraps help paragraphs; a hard break here would show as one
    from dsc_calc.cost.sweep import parse_values, sweep

    report = sweep(
        parse_values(cout, "cout"),
        parse_values(kernel, "kernel"),
        cin=cin,
        hw=hw,
        bias=bias,
        measure="params" if measure == "params" else "macs",
    )
    out.emit(report)
