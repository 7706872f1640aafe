"""``dsc-calc layer``: one convolution beside its depthwise separable replacement."""

from __future__ import annotations

from typing import Annotated

import typer

from dsc_calc.cli._app import FormatOption, JsonOption, OutputOption, app, emit, parse_pair
from dsc_calc.conv import Conv2d, Padding, Shape, compare
from dsc_calc.errors import DscCalcError
from dsc_calc.render import Format

#: Core field names -> the option a user typed, so errors name what the user can fix.
OPTION_NAMES = {
    "in_channels": "--cin",
    "out_channels": "--cout",
    "kernel": "--kernel",
    "stride": "--stride",
    "padding": "--padding",
    "dilation": "--dilation",
    "groups": "--groups",
    "bias": "--bias",
    "batch": "--batch",
    "channels": "--cin",
    "height": "--height",
    "width": "--width",
}

CinOption = Annotated[
    int, typer.Option("--cin", "-M", help="Input channels (M in the derivation).")
]
CoutOption = Annotated[
    int, typer.Option("--cout", "-N", help="Output channels (N in the derivation).")
]
KernelOption = Annotated[
    str, typer.Option("--kernel", "-k", "--dk", help="Kernel size Dk: 3, or kh x kw as 5x3.")
]
HwOption = Annotated[
    int | None, typer.Option("--hw", "--df", help="Square input size H = W (Df in the derivation).")
]
HeightOption = Annotated[
    int | None, typer.Option("--height", "-H", help="Input height (overrides --hw).")
]
WidthOption = Annotated[
    int | None, typer.Option("--width", "-W", help="Input width (overrides --hw).")
]
StrideOption = Annotated[str, typer.Option("--stride", "-s", help="Stride: 2, or 2x1.")]
PaddingOption = Annotated[
    str,
    typer.Option(
        "--padding", "-p", help="Padding: same (output = ceil(input/stride)), valid (0), 1, or 1x2."
    ),
]
DilationOption = Annotated[str, typer.Option("--dilation", "-d", help="Dilation: 1, or 2x1.")]
GroupsOption = Annotated[int, typer.Option("--groups", "-g", help="Groups of the standard conv.")]
BiasOption = Annotated[bool, typer.Option("--bias/--no-bias", help="Give every conv a bias.")]
BatchOption = Annotated[
    int, typer.Option("--batch", "-b", help="Batch size (scales MACs, not params).")
]


def build_layer(
    cin: int,
    cout: int,
    kernel: str,
    hw: int | None,
    height: int | None,
    width: int | None,
    stride: str,
    padding: str,
    dilation: str,
    groups: int,
    bias: bool,
) -> tuple[Conv2d, Shape]:
    """The core objects for the shared layer options; errors name the option to fix."""
    h = height if height is not None else hw
    w = width if width is not None else hw
    if h is None or w is None:
        raise DscCalcError(
            "--hw", "the input size is missing: give --hw N, or --height and --width"
        )
    padding_value: Padding
    if padding.lower() in ("same", "valid"):
        padding_value = "same" if padding.lower() == "same" else "valid"
    else:
        pad = parse_pair(padding, "--padding", allow_zero=True)
        padding_value = pad if isinstance(pad, tuple) else (pad, pad)
    try:
        shape = Shape(cin, h, w)
        conv = Conv2d(
            cin,
            cout,
            kernel=_as_tuple(parse_pair(kernel, "--kernel")),
            stride=_as_tuple(parse_pair(stride, "--stride")),
            padding=padding_value,
            dilation=_as_tuple(parse_pair(dilation, "--dilation")),
            groups=groups,
            bias=bias,
        )
        conv.output_shape(shape)
    except DscCalcError as error:
        names = dict(OPTION_NAMES)
        if height is None:
            names["height"] = "--hw"
        if width is None:
            names["width"] = "--hw"
        raise error.renamed(names) from None
    return conv, shape


def _as_tuple(value: int | tuple[int, int]) -> tuple[int, int]:
    return value if isinstance(value, tuple) else (value, value)


@app.command(
    epilog=(
        "Examples: dsc-calc layer --cin 32 --cout 64 -k 3 --hw 112 | "
        "dsc-calc layer -M 3 -N 4 -k 3 --hw 32 -p 1 --bias --json | "
        "dsc-calc layer --cin 64 --cout 128 -k 5x3 -H 56 -W 28 -s 2 -g 4 -f markdown"
    )
)
def layer(
    cin: CinOption,
    cout: CoutOption,
    hw: HwOption = None,
    kernel: KernelOption = "3",
    height: HeightOption = None,
    width: WidthOption = None,
    stride: StrideOption = "1",
    padding: PaddingOption = "same",
    dilation: DilationOption = "1",
    groups: GroupsOption = 1,
    bias: BiasOption = False,
    batch: BatchOption = 1,
    fmt: FormatOption = Format.table,
    as_json: JsonOption = False,
    output: OutputOption = None,
) -> None:
    """Params, MACs and FLOPs of a standard conv beside its depthwise separable replacement.

    The replacement is a depthwise k x k conv (groups = Cin, with the layer's stride, padding and dilation) followed by a pointwise 1 x 1 conv Cin -> Cout. Shows the exact ratios and the textbook approximation 1/N + 1/Dk².
    """  # noqa: E501 - Rich re-wraps help paragraphs; a hard break here would show as one
    conv, shape = build_layer(
        cin, cout, kernel, hw, height, width, stride, padding, dilation, groups, bias
    )
    try:
        result = compare(conv, shape, batch)
    except DscCalcError as error:
        raise error.renamed(OPTION_NAMES) from None
    emit(result, fmt, as_json, output)
