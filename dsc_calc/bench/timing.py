"""How ``dsc-calc bench`` times kernels: wall-clock samples and their statistics, the interleaved
(round-robin) timing loop, and the progress callback.

Pure and cheap to import: the standard library only.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall-clock samples of one kernel, in seconds, and the process CPU time of each run."""

    samples: tuple[float, ...]
    cpu: tuple[float, ...] = ()

    @property
    def cpu_median(self) -> float:
        """Median CPU time of the process per run (0 when not recorded)."""
        return statistics.median(self.cpu) if self.cpu else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def minimum(self) -> float:
        return min(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range / median (0 with fewer than 4 samples to split)."""
        if len(self.samples) < 4:
            return (max(self.samples) - min(self.samples)) / self.median if self.median else 0.0
        q1, _, q3 = statistics.quantiles(self.samples, n=4)
        return (q3 - q1) / self.median if self.median else 0.0


def interleave(
    runs: dict[str, Callable[[], object]],
    deadline: float,
    min_time: float,
    repeat: int,
    report: Callable[[str, float], None],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time the kernels round-robin until each has ``repeat`` runs and ``min_time`` s, or time's up.

    A kernel is only started when its last run fits before the deadline, so the budget holds; every
    kernel gets at least one timed run if the warm-up left any time at all.
    """
    samples: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    totals = dict.fromkeys(runs, 0.0)  # running sums: re-summing every round was quadratic
    cpu_clock = time.process_time
    start = time.perf_counter()
    clock = time.perf_counter
    while True:
        pending = [
            name
            for name, taken in samples.items()
            if len(taken) < repeat or totals[name] < min_time
        ]
        if not pending:
            break
        ran = False
        for name in pending:
            taken = samples[name]
            expected = taken[-1] if taken else 0.0
            if taken and clock() + expected > deadline:
                continue
            begin, cpu_begin = clock(), cpu_clock()
            runs[name]()
            taken.append(clock() - begin)
            cpu[name].append(cpu_clock() - cpu_begin)
            totals[name] += taken[-1]
            ran = True
        if not ran:
            break
        by_runs = min(min(1.0, len(taken) / repeat) for taken in samples.values())
        by_time = min(min(1.0, total / min_time) if min_time else 1.0 for total in totals.values())
        by_deadline = (clock() - start) / max(deadline - start, 1e-9)
        report("timing (interleaved)", 0.1 + 0.9 * max(min(by_runs, by_time), by_deadline))
    return samples, cpu


def progress_step(progress: Callable[[str, float], None] | None) -> Callable[[str, float], None]:
    def report(text: str, fraction: float) -> None:
        if progress is not None:
            progress(text, min(1.0, max(0.0, fraction)))

    return report
