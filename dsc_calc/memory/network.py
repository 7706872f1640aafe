"""Memory traffic, peak activation memory and roofline latency of a whole network.

:func:`network_memory_report` wraps a :class:`~dsc_calc.network.report.NetworkReport` (it does
not change it) with :func:`network_memory`: every row is one kernel that reads its weights and
its input once and writes its output once; a row's live memory is its input, its output and the
activations held for a residual add still to come (``LayerRow.held_elements``); the peak is the
largest over the rows.

With a :class:`~dsc_calc.memory.traffic.MachineProfile`, the report also sets the standard design
beside the depthwise separable one, both predicted by the roofline, beside their MAC ratio. The
other design is a what-if redesign of this network (:func:`dsc_calc.network.redesign.redesign`):

* ``--what-if separable`` or ``--what-if standard`` given: that redesign;
* otherwise, a network with depthwise + pointwise pairs (MobileNet) is the separable design and is
  compared with its ``standard`` redesign (each pair as one full conv, the rows between them
  dropped: MobileNet's Table 4 "Conv MobileNet"); any other network is the standard design and is
  compared with its ``separable`` redesign.

The report's ``to_dict()`` is the network's, with keys added and none changed; its tables
(:mod:`dsc_calc.output.tables.network`) are the network's, with (when asked) a per-row memory
table, a summary and the design comparison added.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import msgspec

from dsc_calc._gc import collector_paused
from dsc_calc.cost.conv import Cost, Shape, check_positive
from dsc_calc.errors import DscCalcError
from dsc_calc.memory.traffic import (
    KernelMemory,
    MachineProfile,
    Roofline,
    Traffic,
    arithmetic_intensity,
    dtype_bytes,
    kernel_memory,
)
from dsc_calc.network.redesign import redesign, redesigned_rows

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dsc_calc.network.report import NetworkReport, WhatIfReport

# --- a network: weight memory, peak activation memory, traffic and latency ---------------------


class NetworkRow(Protocol):
    """What :func:`network_memory` needs of a network's row (a layer run as one kernel)."""

    @property
    def name(self) -> str: ...

    @property
    def input(self) -> Shape: ...

    @property
    def output(self) -> Shape: ...

    @property
    def cost(self) -> Cost: ...

    @property
    def held_elements(self) -> int:
        """Per-sample elements of earlier activations kept alive for a pending residual add."""
        ...


class RowMemory(msgspec.Struct, frozen=True):
    """One row's traffic, live activation memory and roofline."""

    name: str
    kernel: KernelMemory
    live_bytes: int

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, **self.kernel.to_dict(), "live_bytes": self.live_bytes}


class NetworkMemory(msgspec.Struct, frozen=True):
    """A network's weight memory, peak activation memory, total traffic and predicted latency."""

    dtype: str
    batch: int
    rows: tuple[RowMemory, ...]
    weights_bytes: int
    peak_activation_bytes: int
    peak_row: str | None
    traffic: Traffic
    flops: int
    macs: int = 0
    profile: MachineProfile | None = None

    @property
    def intensity(self) -> float:
        """FLOPs per byte over the whole network."""
        return arithmetic_intensity(self.flops, self.traffic.access_cost)

    def bound_shares(self) -> dict[str, float]:
        """The share of the predicted latency spent in compute- and in memory-bound rows."""
        total = {"compute": 0.0, "memory": 0.0}
        for row in self.rows:
            if row.kernel.roofline is not None:
                total[row.kernel.roofline.bound] += row.kernel.roofline.time_s
        whole = math.fsum(total.values())
        return {key: (value / whole if whole else 0.0) for key, value in total.items()}

    @property
    def latency(self) -> Roofline | None:
        """The rows' roofline times added up (one kernel after another), or None.

        Its bound is the one of the rows that take most of the time.
        """
        if self.profile is None:
            return None
        seconds = math.fsum(r.kernel.roofline.time_s for r in self.rows if r.kernel.roofline)
        shares = self.bound_shares()
        return Roofline(seconds, "compute" if shares["compute"] > shares["memory"] else "memory")

    def to_dict(self) -> dict[str, object]:
        latency = self.latency
        return {
            "dtype": self.dtype,
            "batch": self.batch,
            "weights_bytes": self.weights_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
            "peak_row": self.peak_row,
            "memory": self.traffic.to_dict(),
            "macs": self.macs,
            "flops": self.flops,
            "intensity": self.intensity,
            "latency": None
            if latency is None
            else {**latency.to_dict(), "shares": self.bound_shares()},
            "profile": None if self.profile is None else self.profile.to_dict(),
            "rows": [row.to_dict() for row in self.rows],
        }


def network_memory(
    rows: Iterable[NetworkRow],
    *,
    dtype: str = "fp32",
    batch: int = 1,
    profile: MachineProfile | None = None,
) -> NetworkMemory:
    """Weight memory, peak activation memory, traffic and roofline latency of a chain of rows.

    Every row, conv or not, is one kernel that reads its weights (``params`` elements) and its
    input once and writes its output once: bytes = ``params*size + batch*(input + output)*size``.
    A row's live activation memory is ``batch*(input + output + held_elements)*size``: the
    activation it reads, the one it writes, and earlier activations kept alive for a residual add
    still to come. The peak is the largest over the rows. Weight memory is the sum of all params.
    """
    check_positive(batch, "batch")
    size = dtype_bytes(dtype)
    results: list[RowMemory] = []
    weights = inputs = outputs = flops = macs = 0
    peak = 0
    peak_row: str | None = None
    # A 100k-layer network has ~300k rows: sums are kept as ints (Traffic.__add__ would build a
    # dataclass per row), and the collector is paused while only acyclic results are allocated:
    # 1.5 s -> 1.0 s of CPU for 283k rows on the dev machine.
    with collector_paused():
        for index, row in enumerate(rows):
            held = row.held_elements
            if isinstance(held, bool) or not isinstance(held, int) or held < 0:
                raise DscCalcError(
                    f"rows[{index}].held_elements", f"must be a non-negative integer, got {held!r}"
                )
            cost = row.cost
            input_elements, output_elements = row.input.numel, row.output.numel
            weights_bytes = cost.params * size
            input_bytes = batch * input_elements * size
            output_bytes = batch * output_elements * size
            live = batch * (input_elements + output_elements + held) * size
            row_traffic = Traffic(weights_bytes, input_bytes, output_bytes)
            results.append(
                RowMemory(row.name, kernel_memory(row_traffic, cost.flops, profile), live)
            )
            weights += weights_bytes
            inputs += input_bytes
            outputs += output_bytes
            flops += cost.flops
            macs += cost.macs
            if live > peak:
                peak, peak_row = live, row.name
    traffic = Traffic(weights, inputs, outputs)
    return NetworkMemory(
        dtype=dtype,
        batch=batch,
        rows=tuple(results),
        weights_bytes=traffic.weights_bytes,
        peak_activation_bytes=peak,
        peak_row=peak_row,
        traffic=traffic,
        flops=flops,
        macs=macs,
        profile=profile,
    )


def design_ratios(standard: NetworkMemory, separable: NetworkMemory) -> dict[str, float | None]:
    """Separable / standard for MACs, bytes moved and predicted latency (None without a profile).

    The latency ratio beside the MACs ratio is the gap the papers talk about: fewer MACs do not
    mean proportionally less time when the cheap layers are memory-bound.
    """
    fast, slow = separable.latency, standard.latency
    return {
        "macs": separable.macs / standard.macs if standard.macs else None,
        "access_cost": (
            separable.traffic.access_cost / standard.traffic.access_cost
            if standard.traffic.access_cost
            else None
        ),
        "time": fast.time_s / slow.time_s if fast and slow and slow.time_s else None,
    }


#: The what-if modes that turn one design into the other.
_DESIGN_MODES = ("separable", "standard")


class DesignComparison(msgspec.Struct, frozen=True):
    """This network beside its other design (standard vs separable), both on the roofline."""

    #: The what-if redesign that made the other design: ``separable`` or ``standard``.
    mode: str
    #: How many replacements the redesign made.
    changes: int
    standard: NetworkMemory
    separable: NetworkMemory

    @property
    def this_design(self) -> str:
        """Which of the two designs is the network as given."""
        return "standard" if self.mode == "separable" else "separable"

    def to_dict(self) -> dict[str, object]:
        ratios = design_ratios(self.standard, self.separable)
        return {
            "network": self.this_design,
            "compared_with": f"what-if {self.mode}",
            "changes": self.changes,
            "standard": _design_dict(self.standard),
            "separable": _design_dict(self.separable),
            "ratio": ratios,
            "saving": {key: (1 / value if value else None) for key, value in ratios.items()},
        }


def _design_dict(memory: NetworkMemory) -> dict[str, object]:
    latency = memory.latency
    return {
        "macs": memory.macs,
        "flops": memory.flops,
        "weights_bytes": memory.weights_bytes,
        "access_cost": memory.traffic.access_cost,
        "peak_activation_bytes": memory.peak_activation_bytes,
        "time_s": None if latency is None else latency.time_s,
        "bound": None if latency is None else latency.bound,
    }


class NetworkMemoryReport(msgspec.Struct, frozen=True):
    """A network report with each row's traffic, the network's memory and its roofline latency."""

    report: NetworkReport
    memory: NetworkMemory
    comparison: DesignComparison | None = None

    @property
    def dtype(self) -> str:
        return self.memory.dtype

    @property
    def profile(self) -> MachineProfile | None:
        return self.memory.profile

    def to_dict(self) -> dict[str, object]:
        """The network JSON, plus ``memory{…}``/``intensity``/``roofline`` per row, ``memory``,
        ``profile`` and ``latency`` (the design comparison; null without a machine)."""
        rows: list[dict[str, object]] = []
        with collector_paused():  # ~300k small acyclic dicts for a 100k-layer spec
            for row in self.memory.rows:
                kernel = row.kernel
                traffic = kernel.traffic
                roof = kernel.roofline
                rows.append(
                    {
                        "memory": {
                            "weights_bytes": traffic.weights_bytes,
                            "input_bytes": traffic.input_bytes,
                            "output_bytes": traffic.output_bytes,
                            "access_cost": traffic.access_cost,
                        },
                        "live_bytes": row.live_bytes,
                        "intensity": kernel.intensity,
                        "roofline": (
                            None if roof is None else {"time_s": roof.time_s, "bound": roof.bound}
                        ),
                    }
                )
        memory = self.memory
        latency = memory.latency
        summary = {
            "dtype": memory.dtype,
            "bytes_per_element": dtype_bytes(memory.dtype),
            "weights_bytes": memory.weights_bytes,
            "peak_activation_bytes": memory.peak_activation_bytes,
            "peak_row": memory.peak_row,
            "traffic": memory.traffic.to_dict(),
            "flops": memory.flops,
            "intensity": memory.intensity,
            "latency": None
            if latency is None
            else {**latency.to_dict(), "shares": memory.bound_shares()},
        }
        profile = self.profile
        with collector_paused():
            return self.report.to_dict(
                rows=rows,
                extra={
                    "memory": summary,
                    "profile": None
                    if profile is None
                    else {**profile.to_dict(), "ridge_intensity": profile.ridge_intensity},
                    "latency": None if self.comparison is None else self.comparison.to_dict(),
                },
            )


def _other_design(report: NetworkReport) -> WhatIfReport:
    """The redesign that gives the other design (see the module docstring for the rule)."""
    if report.what_if is not None and report.what_if.mode in _DESIGN_MODES:
        return report.what_if
    standard = redesign(report.rows, "standard", report.batch)
    if standard.changes:
        return standard
    return redesign(report.rows, "separable", report.batch)


def network_memory_report(
    report: NetworkReport,
    *,
    dtype: str = "fp32",
    profile: MachineProfile | None = None,
) -> NetworkMemoryReport:
    """Traffic, peak activation memory and roofline latency of ``report``'s network.

    With ``profile``, the network is also compared with its other design (standard vs separable).
    """
    memory = network_memory(report.rows, dtype=dtype, batch=report.batch, profile=profile)
    comparison = None
    if profile is not None:
        try:
            what_if = _other_design(report)
        except DscCalcError as error:
            raise DscCalcError(
                "profile", f"the design comparison cannot be built: {error.problem}"
            ) from None
        other = network_memory(
            redesigned_rows(report.rows, what_if),
            dtype=dtype,
            batch=report.batch,
            profile=profile,
        )
        standard, separable = (memory, other) if what_if.mode == "separable" else (other, memory)
        comparison = DesignComparison(what_if.mode, len(what_if.changes), standard, separable)
    return NetworkMemoryReport(report, memory, comparison)
