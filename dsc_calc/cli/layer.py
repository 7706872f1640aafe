"""``dsc-calc layer``: one convolution beside its depthwise separable replacement."""

# No `from __future__ import annotations` here: Typer reads every option's annotation on each
# start, and string annotations would each be compiled by eval.

from dsc_calc.cli._app import OutputArgs, app, examples, grouped
from dsc_calc.cli.options import CinOption, CoutOption, LayerArgs, MachineArgs
from dsc_calc.cost.conv import compare
from dsc_calc.output.tables import TableView


@app.command(
    epilog=examples(
        "dsc-calc layer --cin 32 --cout 64 -k 3 --hw 112",
        "dsc-calc layer -M 3 -N 4 -k 3 --hw 32 -p 1 --bias --json",
        "dsc-calc layer --cin 64 --cout 128 -k 5x3 -H 56 -W 28 -s 2 -g 4 -f markdown",
        "dsc-calc layer --cin 64 --cout 128 --hw 56 --memory --profile example-desktop",
    )
)
@grouped
def layer(
    cin: CinOption,
    cout: CoutOption,
    geometry: LayerArgs,
    roofline: MachineArgs,
    out: OutputArgs,
) -> None:
    """Params, MACs and FLOPs of a standard conv beside its depthwise separable replacement.

    The replacement is a depthwise k x k conv (groups = Cin, with the layer's stride, padding and dilation) followed by a pointwise 1 x 1 conv Cin -> Cout. Shows the exact ratios and the textbook approximation 1/N + 1/Dk².

    --memory adds the bytes each design moves (weights, activations) and its arithmetic intensity in FLOP/B. With a machine (--profile, or --peak-gflops and --bandwidth-gbs) it adds the roofline time max(FLOPs / peak, bytes / bandwidth), whether each conv is compute- or memory-bound, and the predicted speedup beside the MACs saving. The JSON always has these keys (roofline null without a machine).
    """  # noqa: E501 - Rich re-wraps help paragraphs; a hard break here would show as one
    from dsc_calc.memory.layer import layer_memory

    conv, shape = geometry.build(cin, cout)
    machine = roofline.machine()
    result = layer_memory(
        compare(conv, shape, geometry.batch), dtype=roofline.data_type, profile=machine
    )
    out.emit(result, view=TableView(memory=roofline.show_memory(machine)))
