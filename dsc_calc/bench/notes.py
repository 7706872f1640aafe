"""The notes of a bench report: what a reader should know before taking its figures at face value
(kernels short of their runs, what the threads reach, noise, waits for a core, impossible speedups).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dsc_calc.bench.run import KernelResult, NetworkLayerTiming
    from dsc_calc.bench.vs_torch import TorchTiming
    from dsc_calc.cost.conv import LayerComparison

#: A spread (IQR / median) above this marks a kernel's figures as noisy in the notes.
NOISY_SPREAD = 0.25

#: Wall time above this multiple of the CPU time means the process waited for a core.
DESCHEDULED = 1.25


def run_notes(
    short: list[str], repeat: int, threads: int, engine: str, depthwise_macs: int
) -> list[str]:
    """Notes on how the run went: kernels short of ``repeat`` runs, what the threads reached (the
    NumPy depthwise kernel shares its ``depthwise_macs`` between as many as get enough each)."""
    from dsc_calc.bench.depthwise import DEPTHWISE_THREAD_MACS, depthwise_threads

    notes: list[str] = []
    if short:
        notes.append(
            f"The budget ran out before {', '.join(short)} reached {repeat} runs; "
            "raise --budget for steadier figures."
        )
    shared = depthwise_threads(depthwise_macs, threads)
    if threads > 1 and engine == "numpy" and shared == threads:
        notes.append(
            f"{threads} threads reach the BLAS GEMMs and the NumPy depthwise kernel (its row "
            "blocks are shared out); the im2col copies run on one thread."
        )
    elif threads > 1 and engine == "numpy":
        notes.append(
            f"{threads} threads reach the BLAS GEMMs; the NumPy depthwise kernel runs on "
            f"{shared} of them (a thread only takes a share of {DEPTHWISE_THREAD_MACS / 1e6:g} M "
            "multiply-adds or more: handing work to one costs more than it saves on a smaller "
            "one) and the im2col copies on one."
        )
    elif threads > 1:
        notes.append(
            f"{threads} threads reach the BLAS GEMMs only: the depthwise kernel ({engine}) and "
            "the im2col copies run on one thread."
        )
    return notes


def numpy_engine_note(requested: str, engine: str, depthwise: bool) -> list[str]:
    """A note, when ``auto`` fell back to the NumPy depthwise kernel for want of numba and a
    depthwise conv was timed: that kernel runs NumPy's einsum at NumPy's baseline SIMD, which on
    the x86 CPUs measured (README, Benchmarks) took up to 3.1x oneDNN's time on one thread."""
    if requested != "auto" or engine != "numpy" or not depthwise:
        return []
    return [
        "The depthwise conv ran on NumPy's einsum, compiled for NumPy's baseline SIMD (128-bit on "
        "x86-64): a framework's kernel can run it up to 3\u00d7 faster on a CPU with 512-bit "
        "vector units, so its time here can be high and the separable saving understated. "
        "pip install 'dsc-calc[fast]' times a compiled depthwise kernel instead."
    ]


def chunked_pointwise_note(chunked: Sequence[tuple[int, int]]) -> list[str]:
    """A note on the pointwise plans that run as GEMMs over chunks of pixels, given as (pixels a
    GEMM, pixels) per plan: which way ran is measured as each plan is made, so it is said."""
    if not chunked:
        return []
    if len(chunked) == 1:
        ((chunk, pixels),) = chunked
        what = f"the pointwise conv ran as GEMMs over {chunk} of its {pixels} pixels at a time"
    else:
        what = f"{len(chunked)} pointwise convs ran as GEMMs over chunks of their pixels"
    return [
        f"On this BLAS {what}: measured faster than one GEMM when the kernel was planned "
        "(a small GEMM can take the BLAS's faster small-matrix path)."
    ]


#: What PyTorch's conv backends other than oneDNN (``mkldnn``) are, for the notes.
TORCH_BACKENDS = {"slow2d": "its own im2col and BLAS GEMM"}


def torch_backend_note(torch: TorchTiming) -> list[str]:
    """A note naming PyTorch's convs that its dispatcher did not hand to oneDNN although oneDNN
    is there: their times (and PyTorch's speedup) are of another path than oneDNN's kernels."""
    if not torch.mkldnn:
        return []
    elsewhere = [
        f"its {name} conv on {path}"
        + (f" ({TORCH_BACKENDS[path]})" if path in TORCH_BACKENDS else "")
        for name, path in torch.backends.items()
        if path != "mkldnn"
    ]
    if not elsewhere:
        return []
    timed = (
        f" oneDNN's own conv, timed beside it, gives a speedup of {torch.onednn_speedup:.2f}\u00d7 "
        "(`torch.onednn` in --json)."
        if torch.onednn_speedup is not None
        else ""
    )
    return [
        f"On {torch.threads} thread(s) PyTorch's dispatcher ran {' and '.join(elsewhere)}, not "
        "oneDNN: PyTorch's times there, and its speedup, are of that path, not of oneDNN's "
        f"kernels.{timed}"
    ]


def figure_warnings(
    kernels: dict[str, KernelResult],
    comparison: LayerComparison,
    threads: int = 1,
    torch: TorchTiming | None = None,
) -> list[str]:
    """Notes on figures a reader should not take at face value."""
    notes: list[str] = descheduled(list(kernels.values()), threads)
    spreads = [(k.name, k.timing.spread) for k in kernels.values()]
    if torch is not None:
        spreads += [(f"PyTorch {name}", t.spread) for name, t in torch.kernels.items()]
    noisy = [f"{name} {spread:.2f}" for name, spread in spreads if spread > NOISY_SPREAD]
    if noisy:
        notes.append(
            f"Noisy timings (spread {', '.join(noisy)}): another process was probably busy, "
            "and the speedups"
            + (" and the comparison with PyTorch" if torch is not None else "")
            + " are as noisy as their noisiest kernel. Time on a quiet machine, raise --budget "
            "(and --min-time) for more runs, or pin the run to one core: taskset -c 1 "
            "dsc-calc bench \u2026"
        )
    measured = kernels["standard"].timing.median / kernels["separable"].timing.median
    if measured > float(1 / comparison.macs_ratio):
        notes.append(
            "The measured speedup exceeds the MAC ratio, which no kernel can earn: read it as "
            "timing noise or the standard conv running below its usual rate."
        )
    above = [k.name for k in kernels.values() if (k.percent_of_bound or 0.0) > 100.0]
    if above:
        notes.append(
            f"{', '.join(above)} beat the roofline: its data stayed in cache (the roofline "
            "assumes DRAM bandwidth) or the machine probes ran under load."
        )
    return notes


def descheduled(results: Sequence[KernelResult | NetworkLayerTiming], threads: int) -> list[str]:
    """A note naming what spent much of its wall time off the CPU (meaningful for one thread)."""
    if threads != 1:
        return []
    waiting = [
        f"{result.name} {100 * result.timing.cpu_median / result.timing.median:.0f}%"
        for result in results
        if result.timing.cpu_median
        and result.timing.median > DESCHEDULED * result.timing.cpu_median
    ]
    if not waiting:
        return []
    return [
        f"Other processes took the CPU: share of the wall time spent computing: "
        f"{', '.join(waiting)}; the medians of those kernels are inflated."
    ]
