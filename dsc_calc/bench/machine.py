"""This machine as ``dsc-calc bench --machine`` measures it: its float32 GEMM peak and STREAM-like
copy bandwidth (the roofline they make), and the BLAS library NumPy uses.

NumPy and threadpoolctl are imported inside the functions that use them.
"""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dsc_calc.memory.traffic import MachineProfile

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Array sizes of the machine probes: a square GEMM and a STREAM-like copy well past the caches.
GEMM_SIZE = 1024
COPY_BYTES = 64 * 2**20


@dataclass(frozen=True, slots=True)
class MachineMeasurement:
    """This machine's measured GEMM peak and copy bandwidth, and the roofline they make."""

    profile: MachineProfile
    gemm: dict[str, float | int]
    copy: dict[str, float | int]

    def profile_document(self, blas: dict[str, object], threads: int) -> dict[str, object]:
        """The ``--save-profile`` JSON: name, peak_gflops, bandwidth_gbs, source, details."""
        return {
            "name": self.profile.name,
            "peak_gflops": self.profile.peak_gflops,
            "bandwidth_gbs": self.profile.bandwidth_gbs,
            "source": self.profile.source,
            "details": {
                "gemm": self.gemm,
                "copy": self.copy,
                "threads": threads,
                "blas": blas,
                "machine": platform.machine(),
                "python": platform.python_version(),
            },
        }


def measure_machine(threads: int, deadline: float) -> MachineMeasurement:
    """This machine's float32 GEMM peak and STREAM-like copy bandwidth (best of several runs)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((GEMM_SIZE, GEMM_SIZE), dtype=np.float32)
    b = rng.standard_normal((GEMM_SIZE, GEMM_SIZE), dtype=np.float32)
    c = np.empty((GEMM_SIZE, GEMM_SIZE), dtype=np.float32)
    gemm_times = _best_of(lambda: np.matmul(a, b, out=c), deadline, runs=5, share=0.6)
    gemm_flops = 2 * GEMM_SIZE**3
    source = np.ones(COPY_BYTES // 4, dtype=np.float32)
    target = np.empty_like(source)
    copy_times = _best_of(lambda: np.copyto(target, source), deadline, runs=10, share=1.0)
    peak = gemm_flops / min(gemm_times) / 1e9
    bandwidth = 2 * COPY_BYTES / min(copy_times) / 1e9
    profile = MachineProfile(
        name=f"{platform.machine() or 'this machine'} ({threads} thread(s), measured)",
        peak_gflops=peak,
        bandwidth_gbs=bandwidth,
        source=(
            f"dsc-calc bench --machine on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"float32 GEMM {GEMM_SIZE}\u00b3 and a {COPY_BYTES // 2**20} MiB copy"
        ),
    )
    return MachineMeasurement(
        profile,
        gemm={
            "m": GEMM_SIZE,
            "n": GEMM_SIZE,
            "k": GEMM_SIZE,
            "flops": gemm_flops,
            "best_s": min(gemm_times),
            "median_s": statistics.median(gemm_times),
            "runs": len(gemm_times),
            "gflops": peak,
        },
        copy={
            "bytes": 2 * COPY_BYTES,
            "best_s": min(copy_times),
            "median_s": statistics.median(copy_times),
            "runs": len(copy_times),
            "gbs": bandwidth,
        },
    )


def _best_of(
    run: Callable[[], object], deadline: float, *, runs: int, share: float
) -> Sequence[float]:
    """Time ``run`` once to warm it, then up to ``runs`` times within ``share`` of the time left."""
    run()
    stop = time.perf_counter() + share * max(deadline - time.perf_counter(), 0.0)
    times: list[float] = []
    while len(times) < runs:
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
        if time.perf_counter() + times[-1] > stop:
            break
    return times


def blas_info() -> dict[str, object]:
    """The BLAS library NumPy uses: API, version, thread count, threading layer."""
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return {
                key: pool.get(key)
                for key in ("internal_api", "version", "num_threads", "threading_layer")
            }
    return {"internal_api": "unknown", "version": None, "num_threads": None}
