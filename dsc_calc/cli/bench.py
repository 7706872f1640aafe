"""``dsc-calc bench``: time a conv and its depthwise separable pair on this CPU, without PyTorch."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args

import typer

from dsc_calc.choices import Engine
from dsc_calc.cli._app import OutputArgs, app, check_output, examples, grouped
from dsc_calc.cli.options import CinOption, CoutOption, LayerArgs
from dsc_calc.errors import DscCalcError
from dsc_calc.files import check_writable, write_atomic

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

    from dsc_calc.bench.settings import BenchSettings
    from dsc_calc.output.tabular import Report

ThreadsOption = Annotated[
    int,
    typer.Option(
        "--threads",
        "-t",
        help="Threads for BLAS (threadpoolctl) and the NumPy depthwise kernel; 1 is steadiest.",
    ),
]
BudgetOption = Annotated[
    float, typer.Option("--budget", help="Seconds the whole run may take, warm-up included.")
]
MinTimeOption = Annotated[
    float | None,
    typer.Option(
        "--min-time",
        help="Seconds of timed runs wanted per kernel (default 0.2; 0.05 per layer of a network).",
        show_default=False,
    ),
]
RepeatOption = Annotated[int, typer.Option("--repeat", help="Timed runs wanted per kernel.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the random inputs and weights.")]
MachineOption = Annotated[
    bool,
    typer.Option(
        "--machine",
        help="Measure GEMM peak and copy bandwidth; show each kernel under that roofline.",
    ),
]
SaveProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--save-profile",
        help="Write the measured machine profile to FILE as JSON (implies --machine).",
        dir_okay=False,
    ),
]
MaxMemoryOption = Annotated[
    int, typer.Option("--max-memory", help="Refuse runs needing more than this many MiB.")
]
SourceArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="[SPEC|PRESET]",
        help="Time every conv layer of a network (a spec file, - for stdin, or a preset name) "
        "instead of one layer given by --cin/--cout.",
        show_default=False,
    ),
]
# The layer options of `layer`, optional here because a network needs none of them.
OptionalCin = Annotated[int | None, get_args(CinOption)[1]]
OptionalCout = Annotated[int | None, get_args(CoutOption)[1]]


EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="Depthwise kernel: numba (the 'fast' extra), numpy (einsum), or auto (numba if "
        "installed).",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr.")]
VsTorchOption = Annotated[
    bool,
    typer.Option(
        "--vs-torch",
        help="Also time PyTorch's kernels (oneDNN) on the same layer in the same run, and show "
        "both separable speedups. Needs torch installed; single-layer mode only.",
    ),
]


@app.command(
    epilog=examples(
        "dsc-calc bench --cin 64 --cout 128 -k 3 --hw 56",
        "dsc-calc bench --cin 32 --cout 64 --hw 28 --budget 2 --json",
        "dsc-calc bench --cin 64 --cout 128 --hw 56 --machine --save-profile my-cpu.json",
        "dsc-calc bench mobilenet_v1 --budget 20",
        "dsc-calc bench --cin 512 --cout 512 -k 5 --hw 14 --engine numpy",
        "dsc-calc bench --cin 32 --cout 64 --hw 112 --vs-torch",
    )
)
@grouped
def bench(
    source: SourceArgument = None,
    cin: OptionalCin = None,
    cout: OptionalCout = None,
    *,
    geometry: LayerArgs,
    threads: ThreadsOption = 1,
    budget: BudgetOption = 10.0,
    min_time: MinTimeOption = None,
    repeat: RepeatOption = 5,
    seed: SeedOption = 0,
    machine: MachineOption = False,
    save_profile: SaveProfileOption = None,
    max_memory: MaxMemoryOption = 2048,
    engine: EngineOption = "auto",
    vs_torch: VsTorchOption = False,
    quiet: QuietOption = False,
    out: OutputArgs,
) -> None:
    """Time a standard conv, its depthwise and pointwise parts and the separable pair on this CPU.

    NumPy float32 kernels (im2col + BLAS GEMM, a vectorised depthwise conv, a GEMM pointwise conv), channels-last, one warm-up run each, then interleaved timed runs within --budget. Shows median and min time, GFLOP/s, bytes moved and arithmetic intensity per kernel, and the measured speedup beside the theoretical MAC ratio.

    --machine measures this CPU's GEMM peak and memory bandwidth and shows each kernel's roofline prediction beside its measured time. --vs-torch times PyTorch's kernels beside ours, so the gap to a framework shows on this machine.
    """  # noqa: E501 - Rich re-wraps help paragraphs; a hard break here would show as one
    from dsc_calc.bench.run import run_bench
    from dsc_calc.bench.settings import BenchSettings

    if max_memory < 1:
        raise DscCalcError("--max-memory", f"must be a positive number of MiB, got {max_memory}")
    # Refuse a path that cannot be written now, not after the run has been measured.
    check_output(out.output)
    if save_profile is not None:
        check_writable(save_profile, where="--save-profile")
    settings = BenchSettings(
        threads=threads,
        budget=budget,
        min_time=min_time,  # None: the mode's own default
        repeat=repeat,
        seed=seed,
        memory_limit=max_memory * 2**20,
        engine=engine,
    )
    measure_machine = machine or save_profile is not None
    if source is not None:
        if vs_torch:
            raise DscCalcError("--vs-torch", "compares one layer's kernels; drop it with a network")
        network_report = _bench_network(
            source,
            given=(cin, cout, geometry.hw, geometry.height, geometry.width),
            batch=geometry.batch,
            settings=settings,
            machine=measure_machine,
            quiet=quiet,
        )
        out.emit(network_report, keep_on_failure=True)
        return
    if cin is None or cout is None:
        missing = "--cin" if cin is None else "--cout"
        raise DscCalcError(
            missing, "is missing: give --cin and --cout (and --hw) for one layer, or a network"
        )
    conv, shape = geometry.build(cin, cout)
    with _progress(enabled=not quiet) as progress:
        report = run_bench(
            conv,
            shape,
            geometry.batch,
            settings,
            machine=measure_machine,
            progress=progress,
            vs_torch=vs_torch,
        )
    if save_profile is not None and report.machine is not None:
        document = report.machine.profile_document(report.run.blas, threads)
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        try:
            write_atomic(save_profile, text, where="--save-profile")
        except DscCalcError as error:
            out.emit(report, keep_on_failure=True)  # the run is not lost
            raise DscCalcError(
                error.where, f"{error.problem}; the profile was not saved (the report was shown)"
            ) from None
    out.emit(report, keep_on_failure=True)


def _bench_network(
    source: str,
    *,
    given: tuple[int | None, ...],
    batch: int,
    settings: BenchSettings,
    machine: bool,
    quiet: bool,
) -> Report:
    """Time every conv layer of the network ``source``."""
    from dsc_calc.bench.run import run_network_bench

    try:
        from dsc_calc.network.load import load_network
        from dsc_calc.network.walk import analyse
    except ImportError:  # pragma: no cover - only in a build without the network engine
        raise DscCalcError(
            "SPEC|PRESET",
            "timing a network needs dsc_calc.network, missing from this install",
        ) from None

    if any(value is not None for value in given):
        raise DscCalcError(
            "SPEC|PRESET",
            "a network brings its own layers: drop --cin, --cout, --hw, --height and --width",
        )
    if machine:
        raise DscCalcError(
            "--machine", "the roofline is measured in single-layer mode; drop it with a network"
        )
    network = analyse(load_network(source), batch=batch)
    layers = [(row.name, row.conv, row.input) for row in network.rows if row.conv is not None]
    with _progress(enabled=not quiet) as progress:
        return run_network_bench(layers, batch, settings, progress=progress)


def _progress(*, enabled: bool) -> AbstractContextManager[Callable[[str, float], None] | None]:
    """A Rich progress bar on stderr while the run lasts, when stderr is a terminal."""
    from contextlib import contextmanager

    @contextmanager
    def bar() -> Iterator[Callable[[str, float], None] | None]:
        if not enabled or not sys.stderr.isatty():
            yield None
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from dsc_calc.output.render import make_console

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=make_console(stderr=True),
            transient=True,
            auto_refresh=False,  # no drawing thread competing with the kernels being timed
        ) as progress:
            task = progress.add_task("bench", total=1.0)
            last = [0.0]

            def update(text: str, fraction: float) -> None:
                # Drawn between timed runs only, at most ten times a second.
                progress.update(task, description=text, completed=fraction)
                now = time.monotonic()
                if now - last[0] >= 0.1 or fraction >= 1.0:
                    last[0] = now
                    progress.refresh()

            yield update

    return bar()
