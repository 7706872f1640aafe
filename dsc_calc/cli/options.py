"""The options several commands share: a layer's geometry (``layer``, ``bench``) and the
memory/machine options (``layer``, ``network``), each set declared once, as an option group for
:func:`dsc_calc.cli._app.grouped`.

A module of its own, so that a command borrowing these options does not import (and so register)
another command.
"""

# No `from __future__ import annotations` here: Typer reads every option's annotation on each
# start, and string annotations would each be compiled by eval (1.5 ms of the 3.4 ms it takes).

from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer

from dsc_calc.cli._app import parse_pair
from dsc_calc.cost.conv import Conv2d, Padding, Shape
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from dsc_calc.memory.traffic import MachineProfile

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
MemoryOption = Annotated[
    bool,
    typer.Option(
        "--memory",
        "-m",
        help="Show bytes moved and FLOP/B per design (implied by --dtype and a machine).",
    ),
]
DtypeOption = Annotated[
    str | None,
    typer.Option(
        "--dtype", help="Data type of weights and activations: fp32 (default), fp16, bf16, int8."
    ),
]
PeakOption = Annotated[
    float | None,
    typer.Option(
        "--peak-gflops", help="Machine peak in GFLOP/s for the roofline (with --bandwidth-gbs)."
    ),
]
BandwidthOption = Annotated[
    float | None,
    typer.Option(
        "--bandwidth-gbs", help="Memory bandwidth in GB/s for the roofline (with --peak-gflops)."
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help=(
            "Machine for the roofline: a profile JSON file (dsc-calc bench --machine "
            "--save-profile FILE) or a shipped example: example-desktop, example-laptop, "
            "example-rpi4, example-gpu-rtx4090, example-gpu-a100 (GPUs: --dtype fp16 uses "
            "their fp16 peak)."
        ),
    ),
]


class LayerArgs(NamedTuple):
    """The options of one layer but its channels: input size, kernel, stride, padding, dilation,
    groups, bias and batch (``layer`` and ``bench``)."""

    hw: HwOption = None
    kernel: KernelOption = "3"
    height: HeightOption = None
    width: WidthOption = None
    stride: StrideOption = "1"
    padding: PaddingOption = "same"
    dilation: DilationOption = "1"
    groups: GroupsOption = 1
    bias: BiasOption = False
    batch: BatchOption = 1

    def build(self, cin: int, cout: int) -> tuple[Conv2d, Shape]:
        """The core objects for these options and ``cin`` -> ``cout`` channels; errors name the
        option to fix."""
        h = self.height if self.height is not None else self.hw
        w = self.width if self.width is not None else self.hw
        if h is None or w is None:
            raise DscCalcError(
                "--hw", "the input size is missing: give --hw N, or --height and --width"
            )
        padding_value: int | Padding
        if self.padding.lower() in ("same", "valid"):
            padding_value = "same" if self.padding.lower() == "same" else "valid"
        else:
            padding_value = parse_pair(self.padding, "--padding", allow_zero=True)
        try:
            shape = Shape(cin, h, w)
            conv = Conv2d(  # an int is a square kernel, stride, padding or dilation
                cin,
                cout,
                kernel=parse_pair(self.kernel, "--kernel"),
                stride=parse_pair(self.stride, "--stride"),
                padding=padding_value,
                dilation=parse_pair(self.dilation, "--dilation"),
                groups=self.groups,
                bias=self.bias,
            )
            conv.output_shape(shape)
        except DscCalcError as error:
            side = {"height": self.height, "width": self.width}
            if error.where in side and side[error.where] is None:
                raise DscCalcError("hw", error.problem) from None  # --hw gave that side
            raise
        return conv, shape


class MachineArgs(NamedTuple):
    """--memory, --dtype and the roofline machine: --profile, or --peak-gflops with
    --bandwidth-gbs (``layer`` and ``network``)."""

    memory: MemoryOption = False
    dtype: DtypeOption = None
    peak_gflops: PeakOption = None
    bandwidth_gbs: BandwidthOption = None
    profile: ProfileOption = None

    @property
    def data_type(self) -> str:
        """--dtype in lower case; fp32 when it is not given."""
        return (self.dtype or "fp32").lower()

    def machine(self) -> "MachineProfile | None":
        """The roofline machine at its own peak for :attr:`data_type` (a profile's fp16, bf16 or
        int8 peak), or None without one."""
        machine = self._given_machine()
        return None if machine is None else machine.for_dtype(self.data_type)

    def _given_machine(self) -> "MachineProfile | None":
        """The machine from --profile, or from --peak-gflops and --bandwidth-gbs, or None."""
        from dsc_calc.memory.traffic import MachineProfile

        peak_gflops, bandwidth_gbs = self.peak_gflops, self.bandwidth_gbs
        given = (peak_gflops is not None, bandwidth_gbs is not None)
        if self.profile is not None:
            if any(given):
                raise DscCalcError(
                    "--profile",
                    "give either --profile or --peak-gflops with --bandwidth-gbs, not both",
                )
            from dsc_calc.memory.profiles import load_profile

            try:
                return load_profile(self.profile)
            except DscCalcError as error:
                raise DscCalcError(f"--profile {error.where}", error.problem) from None
        if peak_gflops is None and bandwidth_gbs is None:
            return None
        if peak_gflops is None or bandwidth_gbs is None:
            missing = "--bandwidth-gbs" if bandwidth_gbs is None else "--peak-gflops"
            raise DscCalcError(
                missing, "is missing: the roofline needs both --peak-gflops and --bandwidth-gbs"
            )
        return MachineProfile(
            name=f"{peak_gflops:g} GFLOP/s, {bandwidth_gbs:g} GB/s",
            peak_gflops=peak_gflops,
            bandwidth_gbs=bandwidth_gbs,
            source="--peak-gflops and --bandwidth-gbs on the command line",
        )

    def show_memory(self, machine: "MachineProfile | None") -> bool:
        """Whether the report shows memory: --memory, or implied by --dtype and a machine."""
        return self.memory or self.dtype is not None or machine is not None
