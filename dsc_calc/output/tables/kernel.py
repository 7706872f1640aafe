"""The tables of ``dsc-calc kernel``: the kernel's rank and factors, and its cost per pixel."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

from dsc_calc.cost.spatial import FLOAT32_EPS
from dsc_calc.output.tabular import Column, Table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dsc_calc.cost.spatial import KernelReport
    from dsc_calc.output.tables import TableView


def _singular_text(report: KernelReport) -> str:
    """The singular values, noise under the tolerance as ≈0; as σ₁·[…] if σ₁ underflows."""
    pairs = zip(report.singular_values, report.relative_singular_values, strict=True)
    if report.rank and not report.singular_values[0]:  # entries such as 1e-400: σ₁ is not a float
        shown = (_number_text(r) if r > report.rtol else "\u22480" for _, r in pairs)
        return "\u03c3\u2081\u00b7[" + ", ".join(shown) + "] (\u03c3\u2081 under float64's range)"
    return (
        "[" + ", ".join(_number_text(s) if r > report.rtol else "\u22480" for s, r in pairs) + "]"
    )


def kernel_tables(report: KernelReport, _view: TableView) -> list[Table]:
    """The kernel's properties (rank, factors, errors) and its cost per output pixel."""
    kh, kw = report.shape
    factors = report.factors
    if factors.exact:
        form = "K = scale \u00b7 a \u00b7 b\u1d40, exact integers"
    elif report.rank <= 1:
        form = "K = scale \u00b7 a \u00b7 b\u1d40, unit vectors, scale = \u03c3\u2081"
    else:
        form = "best rank-1 approximation \u03c3\u2081 \u00b7 u\u2081 \u00b7 v\u2081\u1d40"
    if report.rank == 0:
        verdict = "0 (the zero kernel)"
    elif report.rank == 1:
        verdict = "1: separable"
    else:
        verdict = f"{report.rank}: not separable"
        if report.float32_rank_one:
            verdict += " (rank 1 within float32 precision)"
    rule = "--tol" if report.rtol_given else "max(kh, kw)\u00b7eps"
    rows: list[tuple[str, str]] = [
        ("shape", f"{kh}\u00d7{kw}"),
        ("rank", verdict),
        ("tolerance", f"{report.tolerance:.3g} = {report.rtol:.3g}\u00b7\u03c3\u2081 ({rule})"),
        ("singular values", _singular_text(report)),
        (f"a (column, {kh})", _vector_text(factors.a)),
        (f"b (row, {kw})", _vector_text(factors.b)),
        ("scale", _number_text(factors.scale)),
        ("factors", form),
        ("max |error|", f"{report.max_abs_error:.4g}"),
        ("relative error", f"{report.relative_error:.4g} (Frobenius)"),
    ]
    summary = Table(
        title=f"Kernel {kh}\u00d7{kw}: rank {report.rank}",
        columns=(Column("Property"), Column("Value")),
        rows=tuple(rows),
    )
    cost_rows: list[tuple[str, int, float]] = [
        (f"direct kh\u00b7kw = {kh}\u00b7{kw}", report.direct_cost, 1.0),
        (
            f"separable kh + kw = {kh} + {kw}" + ("" if report.rank <= 1 else " (rank-1 approx.)"),
            report.separable_cost,
            report.direct_cost / report.separable_cost,
        ),
    ]
    if report.rank > 1:
        cost_rows.append(
            (
                f"exact rank-{report.rank} r\u00b7(kh + kw) = {report.rank}\u00b7{kh + kw}",
                report.rank_cost,
                report.direct_cost / report.rank_cost,
            )
        )
    notes = ["Multiplications per output pixel of one channel."]
    if report.float32_rank_one:
        second = report.relative_singular_values[1]
        float32_rtol = max(kh, kw) * FLOAT32_EPS
        notes.append(
            f"Rank 1 within float32 precision: \u03c3\u2082/\u03c3\u2081 = {second:.3g} is "
            f"below max(kh, kw)\u00b7eps(float32) = {float32_rtol:.3g}; a float32 kernel "
            f"like this is separable up to rounding (--tol {float32_rtol:.3g} counts it so)."
        )
    if report.rank > 1:
        notes.append(
            f"Rank {report.rank}: the 1-D pair is exact only as a sum of {report.rank} pairs; "
            f"one pair is the best rank-1 approximation, relative error "
            f"{report.relative_error:.4g}."
        )
        if report.rank_cost >= report.direct_cost:
            notes.append("The exact decomposition costs no less than the direct kernel here.")
    cost = Table(
        title="Cost per output pixel",
        columns=(
            Column("Form"),
            Column("Multiplications", "integer"),
            Column("Saving", "times"),
        ),
        rows=tuple(cost_rows),
        notes=tuple(notes),
    )
    return [summary, cost]


def _number_text(value: float | Fraction) -> str:
    if isinstance(value, Fraction):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}"


def _vector_text(values: Sequence[int | float]) -> str:
    return "[" + ", ".join(_number_text(v) for v in values) + "]"
