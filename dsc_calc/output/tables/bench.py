"""The tables of ``dsc-calc bench``: each kernel's time beside its roofline, the measured saving
beside the theoretical one, PyTorch's kernels with ``--vs-torch``, and a network's layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsc_calc.bench.machine import COPY_BYTES, GEMM_SIZE
from dsc_calc.output.tabular import Column, Table

if TYPE_CHECKING:
    from dsc_calc.bench.run import BenchReport, NetworkBenchReport
    from dsc_calc.bench.vs_torch import TorchTiming
    from dsc_calc.output.tables import TableView


def bench_tables(report: BenchReport, _view: TableView) -> list[Table]:
    """Timing per kernel, the speedup, and (with a machine profile) the roofline tables."""
    rows = tuple(
        (
            result.name,
            result.timing.median,
            result.timing.minimum,
            result.timing.spread,
            len(result.timing.samples),
            result.gflops,
            result.traffic.access_cost,
            result.intensity,
        )
        for result in report.kernels.values()
    )
    run, blas = report.run, report.run.blas
    layers = "; ".join(
        f"{name} = {report.kernels[name].layer}" for name in ("standard", "depthwise", "pointwise")
    )
    timing = Table(
        title=f"Timing {report.comparison.input} \u2192 {report.comparison.output}, float32 NHWC"
        + (f", batch {report.comparison.batch}" if report.comparison.batch != 1 else ""),
        columns=(
            Column("Kernel"),
            Column("Median", "seconds"),
            Column("Min", "seconds"),
            Column("Spread", "ratio"),
            Column("Runs", "integer"),
            Column("GFLOP/s", "number"),
            Column("Bytes", "bytes"),
            Column("FLOP/B", "number"),
        ),
        rows=rows,
        notes=(
            f"{layers}.",
            f"{run.threads} thread(s); BLAS {blas.get('internal_api', '?')} "
            f"{blas.get('version', '?')} ({blas.get('num_threads', '?')} thread(s)); "
            f"NumPy {run.numpy_version}; depthwise engine {run.engine}; seed {run.seed}; "
            f"run took {run.elapsed_s:.2f} s.",
            "Median of interleaved runs after one warm-up run of every kernel; spread = "
            "interquartile range / median. Bytes: input + weights + output, each read or "
            "written once (the ShuffleNetV2 memory access cost); FLOP/B = FLOPs / bytes.",
            *report.notes,
        ),
    )
    speedup = Table(
        title="Speedup of the separable pair over the standard conv",
        columns=(Column("Measure"), Column("Speedup", "times")),
        rows=(
            ("theoretical (standard MACs / separable MACs)", report.speedup_theoretical),
            ("measured (standard time / pair time)", report.speedup_measured),
            ("measured (standard / (depthwise + pointwise))", report.speedup_parts),
        ),
        notes=(
            f"{100 * report.carried_over:.1f}% of the theoretical speedup carried over "
            "(measured / theoretical).",
        ),
    )
    tables = [timing, speedup]
    if report.torch is not None:
        tables.append(_torch_table(report, report.torch))
    if report.machine is not None:
        profile = report.machine.profile
        tables.append(
            Table(
                title="Roofline: predicted beside measured",
                columns=(
                    Column("Kernel"),
                    Column("Measured", "seconds"),
                    Column("Predicted", "seconds"),
                    Column("% of bound", "number"),
                    Column("Bound"),
                    Column("FLOP/B", "number"),
                ),
                rows=tuple(
                    (
                        result.name,
                        result.timing.median,
                        result.roofline[0] if result.roofline else None,
                        result.percent_of_bound,
                        result.roofline[1] if result.roofline else None,
                        result.intensity,
                    )
                    for result in report.kernels.values()
                ),
                notes=(
                    f"Predicted = max(FLOPs / {profile.peak_gflops:.1f} GFLOP/s, bytes / "
                    f"{profile.bandwidth_gbs:.1f} GB/s); % of bound = predicted / measured; "
                    f"below {profile.ridge_intensity:.2f} FLOP/B a kernel is memory-bound.",
                ),
            )
        )
        tables.append(
            Table(
                title=f"Machine roofline: {profile.name}",
                columns=(Column("Measure"), Column("Value", "number"), Column("How")),
                rows=(
                    (
                        "peak GFLOP/s",
                        profile.peak_gflops,
                        f"float32 GEMM {GEMM_SIZE}\u00b3, best of "
                        f"{report.machine.gemm['runs']} run(s)",
                    ),
                    (
                        "bandwidth GB/s",
                        profile.bandwidth_gbs,
                        f"copy of {COPY_BYTES // 2**20} MiB (read + write), best of "
                        f"{report.machine.copy['runs']} run(s)",
                    ),
                    ("ridge FLOP/B", profile.ridge_intensity, "peak / bandwidth"),
                ),
                notes=(profile.source,),
            )
        )
    return tables


def _torch_table(report: BenchReport, theirs: TorchTiming) -> Table:
    """Our kernels beside PyTorch's, and both separable speedups."""
    timed = [*theirs.kernels.items(), *((name, t) for name, t in theirs.onednn.items())]
    rows = [
        (
            name if position < len(theirs.kernels) else f"{name}, oneDNN",
            report.kernels[name].timing.median,
            timing.median,
            report.kernels[name].timing.median / timing.median,
            timing.spread,
        )
        for position, (name, timing) in enumerate(timed)
    ]
    gap = report.speedup_measured / theirs.speedup_measured - 1
    onednn = theirs.onednn_speedup
    own = (
        ()
        if onednn is None
        else (
            f"The rows marked oneDNN call oneDNN's own conv where PyTorch's dispatcher did not "
            f"(separable: both convs on oneDNN): speedup {onednn:.2f}\u00d7 "
            f"({100 * (report.speedup_measured / onednn - 1):+.0f}% ours against it).",
        )
    )
    return Table(
        title="Beside PyTorch's kernels, same run",
        columns=(
            Column("Kernel"),
            Column("dsc-calc", "seconds"),
            Column("PyTorch", "seconds"),
            Column("Ours / PyTorch", "times"),
            Column("PyTorch spread", "ratio"),
        ),
        rows=tuple(rows),
        notes=(
            f"Separable speedup: dsc-calc {report.speedup_measured:.2f}\u00d7, PyTorch "
            f"{theirs.speedup_measured:.2f}\u00d7 ({100 * gap:+.0f}% ours against PyTorch's).",
            *own,
            f"PyTorch {theirs.version}, {theirs.threads} thread(s), oneDNN (mkldnn) "
            f"{'on' if theirs.mkldnn else 'off'}"
            + (
                "; its dispatcher picked "
                + ", ".join(f"{name} {path}" for name, path in theirs.backends.items())
                if theirs.backends
                else ""
            )
            + "; NCHW float32 in inference mode, the same "
            "weights and inputs, timed interleaved with ours after its own warm-up (glibc set "
            "to keep freed memory, as a framework's caching allocator does).",
        ),
    )


def network_bench_tables(report: NetworkBenchReport, _view: TableView) -> list[Table]:
    total_time, total_macs = report.total_time, report.total_macs
    rows = tuple(
        (
            layer.name,
            layer.timing.median,
            layer.timing.median / total_time if total_time else 0.0,
            layer.macs / total_macs if total_macs else 0.0,
            layer.flops / layer.timing.median / 1e9 if layer.timing.median > 0 else 0.0,
        )
        for layer in report.layers
    )
    return [
        Table(
            title=f"Time per conv layer, float32 NHWC, batch {report.batch}",
            columns=(
                Column("Layer"),
                Column("Median", "seconds"),
                Column("Time share", "share"),
                Column("MAC share", "share"),
                Column("GFLOP/s", "number"),
            ),
            rows=rows,
            footer=("total", total_time, 1.0 if total_time else 0.0, 1.0, None),
            notes=(
                f"{report.run.threads} thread(s); BLAS {report.run.blas.get('internal_api', '?')} "
                f"{report.run.blas.get('version', '?')}; NumPy {report.run.numpy_version}; "
                f"depthwise engine {report.run.engine}; run took {report.run.elapsed_s:.2f} s. "
                "Only conv layers "
                "are timed; the total is the sum of their medians.",
                *report.notes,
            ),
        )
    ]
