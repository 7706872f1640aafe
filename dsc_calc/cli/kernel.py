"""``dsc-calc kernel``: is a 2-D kernel spatially separable, and what would separating it save?"""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 - Typer reads the annotations at runtime
from typing import Annotated

import typer

from dsc_calc.cli._app import OutputArgs, app, examples, grouped
from dsc_calc.errors import DscCalcError

#: The most characters read from a file or stdin (the kernel module's own text limit).
READ_LIMIT = 2**22


def read_kernel_text(kernel: str | None, file: Path | None) -> str:
    """The kernel's JSON text from the argument, ``-`` (stdin) or ``--file``."""
    if kernel is not None and file is not None:
        raise DscCalcError(
            "--file", "give the kernel either as an argument or with --file, not both"
        )
    if file is not None:
        from dsc_calc.files import read_bounded

        data = read_bounded(file, READ_LIMIT, where=f"--file {str(file)!r}", what="kernel")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DscCalcError("--file", f"cannot read {str(file)!r}: not UTF-8 text") from None
    if kernel is None:
        raise DscCalcError(
            "kernel",
            "missing: give it inline as JSON, e.g. '[[1,2,1],[2,4,2],[1,2,1]]', "
            "with --file K.json, or '-' to read standard input",
        )
    if kernel == "-":
        from dsc_calc.files import read_stdin

        try:
            return read_stdin(READ_LIMIT).decode("utf-8")
        except UnicodeDecodeError:
            raise DscCalcError("kernel", "standard input is not UTF-8 text") from None
    return kernel


@app.command(
    epilog=examples(
        "dsc-calc kernel '[[1,2,1],[2,4,2],[1,2,1]]'",
        "dsc-calc kernel '[[-1,0,1],[-2,0,2],[-1,0,1]]' --json",
        "dsc-calc kernel --file weights.json --tol 1e-6",
        "echo '[[1,2],[3,4]]' | dsc-calc kernel -",
    )
)
@grouped
def kernel(
    kernel: Annotated[
        str | None,
        typer.Argument(
            help="The kernel as JSON, e.g. '[[1,2,1],[2,4,2],[1,2,1]]'; '-' reads standard input.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-i", help="Read the kernel's JSON from FILE.", dir_okay=False),
    ] = None,
    tol: Annotated[
        float | None,
        typer.Option(
            "--tol",
            metavar="RTOL",
            help=(
                "Relative tolerance: singular values at or below RTOL·σ₁ count as zero "
                "(0 <= RTOL < 1; e.g. 1e-6 for float32 weights). Default max(kh, kw)·eps of "
                "float64."
            ),
            show_default=False,
        ),
    ] = None,
    *,
    out: OutputArgs,
) -> None:
    """Rank of a 2-D kernel by SVD, its factors K = scale · a · bᵀ and the cost saved by separating it.

    A rank-1 kh x kw kernel runs as a kh x 1 conv then a 1 x kw conv: kh + kw multiplications per output pixel instead of kh · kw. Factors are exact integers when the kernel allows (Sobel = [1,2,1] · [-1,0,1]ᵀ); a kernel of rank r > 1 gets its best rank-1 approximation, with its relative error, and the cost r · (kh + kw) of an exact decomposition.
    """  # noqa: E501 - Rich re-wraps help paragraphs; a hard break here would show as one
    from dsc_calc.cost.spatial import analyse_text

    report = analyse_text(read_kernel_text(kernel, file), rtol=tol)
    out.emit(report)
