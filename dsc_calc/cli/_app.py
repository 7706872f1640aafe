"""The Typer application, its error handling and the options every command shares."""

from __future__ import annotations

import io
import sys
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from dsc_calc import __version__
from dsc_calc.errors import DscCalcError
from dsc_calc.files import write_atomic
from dsc_calc.output.render import Format, render

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dsc_calc.output.tabular import Report


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    BAD_INPUT = 1  # a value the core refused (DscCalcError)
    USAGE = 2  # an option Typer could not parse, or a missing one
    INTERRUPTED = 130


def fail(message: str, code: ExitCode = ExitCode.BAD_INPUT) -> NoReturn:
    """Write ``Error: message`` as one line on stderr and exit with ``code``."""
    sys.stderr.write(f"Error: {' '.join(message.split())}\n")
    sys.stderr.flush()
    raise SystemExit(int(code))


_SHAPE_OPTIONS = {
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
    "hw": "--hw",
}
_ROOFLINE_OPTIONS = {
    "dtype": "--dtype",
    "peak_gflops": "--peak-gflops",
    "bandwidth_gbs": "--bandwidth-gbs",
}

#: Each command's core field names -> the options a user typed. The core names fields only
#: (``in_channels``, ``alpha``); this is the one place where an error's field becomes the option
#: to fix: :class:`DscCalcGroup` renames every error of the command on its way out.
OPTION_NAMES: dict[str, dict[str, str]] = {
    "layer": {**_SHAPE_OPTIONS, **_ROOFLINE_OPTIONS},
    "bench": {
        **_SHAPE_OPTIONS,
        "engine": "--engine",
        "budget": "--budget",
        "threads": "--threads",
        "min_time": "--min-time",
        "repeat": "--repeat",
        "seed": "--seed",
        "max_memory": "--max-memory",
    },
    "network": {
        **_ROOFLINE_OPTIONS,
        "batch": "--batch",
        "what_if": "--what-if",
        "alpha": "--alpha",
        "resolution": "--resolution",
        "top": "--top",
        "profile": "--profile",
    },
    "sweep": {"cout": "--cout", "kernel": "--kernel", "cin": "--cin", "hw": "--hw"},
    "kernel": {"rtol": "--tol"},
}


class DscCalcGroup(TyperGroup):
    """Turns every expected failure into one line on stderr and an exit code: no tracebacks.

    A :class:`DscCalcError` from the core names a field; it leaves here naming the option of
    the command that ran (:data:`OPTION_NAMES`).
    """

    invoked: str | None = None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        self.invoked = name
        return name, command, rest

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name or "dsc-calc",
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except DscCalcError as error:
            fail(str(error.renamed(OPTION_NAMES.get(self.invoked or "", {}))))
        except typer.TyperException as error:
            context = getattr(error, "ctx", None)
            hint = f" (see '{context.command_path} --help')" if context is not None else ""
            fail(error.format_message() + hint, ExitCode(getattr(error, "exit_code", 1)))
        except (KeyboardInterrupt, typer.Abort):
            fail("interrupted", ExitCode.INTERRUPTED)
        if not standalone_mode:
            return result
        raise SystemExit(result if isinstance(result, int) else 0)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"dsc-calc {__version__}\n")
        raise typer.Exit


def examples(*commands: str) -> str:
    """A help epilog: ``Examples:`` then each command on its own line (Rich keeps single newlines;
    joining them with `` | `` read as shell pipes)."""
    return "Examples:\n\n" + "\n".join(commands)


app = typer.Typer(
    cls=DscCalcGroup,
    name="dsc-calc",
    help=(
        "Exact params, multiply-accumulates and FLOPs of convolutions and whole networks, beside "
        "their depthwise separable replacements. No PyTorch needed."
    ),
    epilog="Example: dsc-calc layer --cin 32 --cout 64 -k 3 --hw 112",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["--help", "-h"]},
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            help="Print the version and exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Exact params, MACs and FLOPs of convolutions beside their depthwise separable form."""


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format", "-f", help="Output format: a Rich table, JSON for scripts, CSV or Markdown."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Shorthand for --format json.")]
PlainOption = Annotated[
    bool,
    typer.Option(
        "--plain",
        help="ASCII only, for scripts and old terminals: x for the times sign, -> for the arrow, "
        "no share bars (tables, CSV, Markdown; JSON escapes non-ASCII characters).",
    ),
]
OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the result to FILE (atomically: never a partial file) instead of stdout.",
        dir_okay=False,
    ),
]


def emit(
    report: Report,
    fmt: Format,
    as_json: bool,
    output: Path | None = None,
    *,
    plain: bool = False,
) -> None:
    """Render ``report`` as ``fmt`` (``--json`` wins) on stdout, or atomically to ``output``;
    ``plain``: ASCII only."""
    chosen = Format.json if as_json else fmt
    if output is None:
        render(report, chosen, plain=plain)
        return
    buffer = io.StringIO()
    render(report, chosen, buffer, plain=plain)
    write_atomic(output, buffer.getvalue())


def parse_pair(text: str, option: str, *, allow_zero: bool = False) -> int | tuple[int, int]:
    """``"3"`` -> 3, ``"5x3"`` or ``"5,3"`` -> (5, 3); anything else: an error naming ``option``."""
    parts = text.replace("\u00d7", "x").replace(",", "x").lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or any(n < (0 if allow_zero else 1) for n in numbers):
        kind = "'same', 'valid', a non-negative integer" if allow_zero else "a positive integer"
        raise DscCalcError(option, f"must be {kind} or a pair such as 5x3, got {text!r}")
    return numbers[0] if len(numbers) == 1 else (numbers[0], numbers[1])
