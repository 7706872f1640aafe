"""The Typer application, its error handling and the options every command shares."""

from __future__ import annotations

import functools
import inspect
import io
import os
import re
import sys
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, NoReturn, TextIO, get_type_hints

import typer
from typer.core import TyperGroup

from dsc_calc import __version__
from dsc_calc.errors import DscCalcError
from dsc_calc.files import check_writable, write_atomic
from dsc_calc.output.render import Format, escape_controls, render
from dsc_calc.output.tables import DEFAULT_VIEW, TableView

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from typer import _click

    from dsc_calc.output.tabular import Report


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    BAD_INPUT = 1  # a value the core refused (DscCalcError)
    USAGE = 2  # an option Typer could not parse, or a missing one
    INTERRUPTED = 130


def fail(message: str, code: ExitCode = ExitCode.BAD_INPUT) -> NoReturn:
    """Write ``Error: message`` as one line on stderr and exit with ``code``.

    Control characters from user text (a spec's names) are shown escaped, as ``\\x1b``.
    """
    if sys.stderr is not None:
        try:
            sys.stderr.write(f"Error: {escape_controls(' '.join(message.split()))}\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed or full: the exit code still says it
            pass
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
        "vs_torch": "--vs-torch",
    },
    "network": {
        **_ROOFLINE_OPTIONS,
        "batch": "--batch",
        "what_if": "--what-if",
        "alpha": "--alpha",
        "resolution": "--resolution",
        "profile": "--profile",
    },
    "sweep": {"cout": "--cout", "kernel": "--kernel", "cin": "--cin", "hw": "--hw"},
    "kernel": {"rtol": "--tol"},
}


#: What a non-UTF-8 terminal gets instead of the signs it cannot show.
_ASCII_SIGNS = {
    "\u00d7": "x",
    "\u2192": "->",
    "\u2190": "<-",
    "\u00b2": "^2",
    "\u2248": "~",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2026": "...",
    "\u00b5": "u",
    "\u03bc": "u",
    "\u03c3": "s",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u00b7": ".",
    "\u2588": "#",
}


def _ascii_signs(error: UnicodeError) -> tuple[str, int]:
    """The ``dsc-calc-ascii`` codec error handler: ×, → and the other signs as ASCII."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start : error.end]
    out = []
    for char in text:
        if char in _ASCII_SIGNS:
            out.append(_ASCII_SIGNS[char])
        elif "\u2580" <= char <= "\u259f":  # the eighths of a share bar
            out.append("#" if char >= "\u258c" else " ")
        else:
            out.append(char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), error.end


def _fall_back_to_ascii() -> None:
    """Give stdout and stderr the ASCII fallback when their encoding is not UTF-8 (a cp1252
    console, ``PYTHONIOENCODING=ascii``): a sign they cannot show is written as ASCII, not a
    UnicodeEncodeError."""
    import codecs

    codecs.register_error("dsc-calc-ascii", _ascii_signs)
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
        if encoding.startswith("utf") or not hasattr(stream, "reconfigure"):
            continue
        try:
            stream.reconfigure(errors="dsc-calc-ascii")
        except (OSError, ValueError):  # pragma: no cover - a stream that cannot be reconfigured
            continue


def _refuse_repeated_options(ctx: _click.Context, command: _click.Command, args: list[str]) -> None:
    """An option given twice (``-k 3 -k 5``) is an error, not "the last one wins".

    Options that take many values (``multiple``) or count (``-vv``) may repeat. Arguments that do
    not parse are left to the command's own parser, which reports them as usual.
    """
    from typer._click.exceptions import UsageError

    try:
        values, _, order = command.make_parser(ctx).parse_args(args=list(args))
    except UsageError:
        return
    for param in order:  # int() also reads "3_2" as 32 and Arabic-Indic digits: ASCII only
        raw = values.get(param.name or "")
        digits = raw.strip().removeprefix("-").removeprefix("+") if isinstance(raw, str) else ""
        if getattr(param.type, "name", "") == "int" and _DIGITS.fullmatch(digits) is None:
            names = "/".join(getattr(param, "opts", None) or [param.human_readable_name])
            raise UsageError(
                f"Invalid value for {names}: {raw!r} is not an integer (ASCII digits only) "
                f"(see '{ctx.command_path} {command.name} --help')"
            )
    seen: set[int] = set()
    for param in order:
        opts = getattr(param, "opts", None)
        if not opts or getattr(param, "multiple", False) or getattr(param, "count", False):
            continue
        if id(param) in seen:
            names = "/".join([*opts, *getattr(param, "secondary_opts", [])])
            raise UsageError(
                f"Option {names} is given more than once; give it once "
                f"(see '{ctx.command_path} {command.name} --help')"
            )
        seen.add(id(param))


class DscCalcGroup(TyperGroup):
    """Turns every expected failure into one line on stderr and an exit code: no tracebacks.

    A :class:`DscCalcError` from the core names a field; it leaves here naming the option of
    the command that ran (:data:`OPTION_NAMES`).
    """

    invoked: str | None = None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        _fall_back_to_ascii()
        if sys.stdout is None:  # started with stdout closed (`>&-`)
            sys.stdout = _ClosedStdout()
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
            _quiet_stdout()
            fail("interrupted", ExitCode.INTERRUPTED)
        if result == ExitCode.INTERRUPTED:  # Typer turns a KeyboardInterrupt into Exit(130)
            _quiet_stdout()
            fail("interrupted", ExitCode.INTERRUPTED)
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except OSError as error:
            _quiet_stdout()
            fail(f"standard output: cannot be written: {error.strerror or error}")
        if not standalone_mode:
            return result
        raise SystemExit(result if isinstance(result, int) else 0)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        self.invoked = name
        if command is not None:
            _refuse_repeated_options(ctx, command, rest)
        return name, command, rest


class _ClosedStdout(io.TextIOBase):
    """Standard output when the process started without one: every write is one clean error
    (``presets NAME``, ``schema`` and Rich write to ``sys.stdout`` directly), where ``None``
    gave an AttributeError or, through Rich, a silent success."""

    encoding = "utf-8"

    def write(self, _text: str, /) -> int:
        raise DscCalcError("standard output", "is closed; redirect it to a file, or give -o FILE")

    def isatty(self) -> bool:
        return False


def _quiet_stdout() -> None:
    """Point file descriptor 1 at /dev/null after a failed write, so that the interpreter's own
    flush at exit cannot fail again and print "Exception ignored"."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


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


def is_option_group(annotation: object) -> bool:
    """Whether a command parameter names a group of options several commands share.

    A group is a :class:`~typing.NamedTuple` whose fields carry the Typer annotations and defaults
    (a frozen dataclass would do as well, but costs 0.6 ms a class to create on every start, a
    NamedTuple 0.06 ms). A command takes it as one parameter (``out: OutputArgs``); :func:`grouped`
    puts the group's options in that place of the signature Typer reads, and hands the command
    one instance built from them.
    """
    return (
        isinstance(annotation, type)
        and issubclass(annotation, tuple)
        and hasattr(annotation, "_field_defaults")
    )


def grouped(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with each option group parameter (:func:`is_option_group`) spelled out as
    that group's options.

    Typer reads ``inspect.signature``: the wrapper's ``__signature__`` lists the group's fields
    (their Typer annotations and defaults, in their order) where the group's parameter stood, so
    ``--help``, the option order and the defaults are as if each command wrote them out.
    """
    signature = inspect.signature(command, eval_str=True)
    groups: dict[str, Any] = {}
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        group = parameter.annotation
        if is_option_group(group):
            groups[parameter.name] = group
            parameters.extend(_spelled_out(group, parameter))
        else:
            parameters.append(parameter)

    @functools.wraps(command)
    def run(**given: Any) -> None:
        for name, group in groups.items():
            given[name] = group(**{field: given.pop(field) for field in group._fields})
        command(**given)

    run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return run


def _spelled_out(group: Any, stand_in: inspect.Parameter) -> list[inspect.Parameter]:
    """The fields of ``group`` as parameters of the kind of ``stand_in``, the command's parameter
    that names the group: name, Typer annotation, default."""
    hints = get_type_hints(group, include_extras=True)
    defaults = group._field_defaults
    return [
        inspect.Parameter(
            field,
            stand_in.kind,
            default=defaults.get(field, inspect.Parameter.empty),
            annotation=hints[field],
        )
        for field in group._fields
    ]


class OutputArgs(NamedTuple):
    """How and where a command's report goes: -f/--format, --json, --plain, -o/--output."""

    fmt: FormatOption = Format.table
    as_json: JsonOption = False
    plain: PlainOption = False
    output: OutputOption = None

    def emit(
        self, report: Report, *, keep_on_failure: bool = False, view: TableView = DEFAULT_VIEW
    ) -> None:
        """:func:`emit` ``report`` as these options say, its tables as ``view`` says."""
        emit(
            report,
            self.fmt,
            self.as_json,
            self.output,
            keep_on_failure=keep_on_failure,
            plain=self.plain,
            view=view,
        )


def emit(
    report: Report,
    fmt: Format,
    as_json: bool,
    output: Path | None = None,
    *,
    keep_on_failure: bool = False,
    plain: bool = False,
    view: TableView = DEFAULT_VIEW,
) -> None:
    """Render ``report`` as ``fmt`` (JSON with ``--json``) on stdout, or atomically to ``output``;
    ``view`` says how its tables show it (JSON is always the whole report).

    ``--json`` with an explicit ``-f`` other than json is a usage error. ``keep_on_failure``
    (after a benchmark, whose result cannot be had again) prints the result on stdout when
    ``output`` cannot be written, and the error says so.
    """
    chosen = _chosen_format(fmt, as_json)
    if output is None:
        write_stdout(lambda stream: render(report, chosen, stream, plain=plain, view=view))
        return
    buffer = io.StringIO()
    render(report, chosen, buffer, plain=plain, view=view)
    try:
        write_atomic(output, buffer.getvalue())
    except DscCalcError as error:
        if not keep_on_failure:
            raise
        text = buffer.getvalue()
        write_stdout(lambda stream: stream.write(text))
        raise DscCalcError(
            error.where, f"{error.problem}; the result is on standard output instead"
        ) from None


def check_output(output: Path | None) -> None:
    """Refuse an ``-o`` that certainly cannot be written, before work that takes long."""
    if output is not None:
        check_writable(output)


def write_stdout(draw: Callable[[TextIO], object]) -> None:
    """Run ``draw(sys.stdout)`` and flush; a closed or failing stdout is one clean error."""
    stream = sys.stdout
    if stream is None:
        raise DscCalcError("standard output", "is closed; redirect it to a file, or give -o FILE")
    try:
        draw(stream)
        stream.flush()
    except OSError as error:
        _quiet_stdout()
        raise DscCalcError(
            "standard output", f"cannot be written: {error.strerror or error}"
        ) from None


def _chosen_format(fmt: Format, as_json: bool) -> Format:
    """``--json`` means ``-f json``; with ``-f csv``, ``markdown`` or ``table`` given too, the two
    contradict each other, and that is a usage error rather than "one of them wins"."""
    if not as_json:
        return fmt
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    context = get_current_context(silent=True)
    given = context is not None and context.get_parameter_source("fmt") not in (
        None,
        ParameterSource.DEFAULT,
    )
    if given and fmt is not Format.json:
        from typer._click.exceptions import UsageError

        raise UsageError(f"--json contradicts --format {fmt.value}; give one of them", context)
    return Format.json


_DIGITS = re.compile(r"[0-9]+")


def parse_pair(text: str, option: str, *, allow_zero: bool = False) -> int | tuple[int, int]:
    """``"3"`` -> 3, ``"5x3"`` or ``"5,3"`` -> (5, 3); anything else: an error naming ``option``."""
    parts = text.replace("\u00d7", "x").replace(",", "x").lower().split("x")
    # Only ASCII digits: int() would also take "3_3" (as 33) and other scripts' digits.
    numbers = [int(part) for part in parts] if all(_DIGITS.fullmatch(p) for p in parts) else []
    if len(numbers) not in (1, 2) or any(n < (0 if allow_zero else 1) for n in numbers):
        kind = "'same', 'valid', a non-negative integer" if allow_zero else "a positive integer"
        raise DscCalcError(option, f"must be {kind} or a pair such as 5x3, got {text!r}")
    return numbers[0] if len(numbers) == 1 else (numbers[0], numbers[1])
