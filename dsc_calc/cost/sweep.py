"""The ratio landscape: separable / standard cost over a grid of output channels N and kernels Dk.

Every cell is exactly what :func:`dsc_calc.cost.conv.compare` gives for the layer
``Conv2d(cin, N, Dk x Dk, stride 1, padding 'same', groups 1, bias)`` on a ``cin x hw x hw`` input,
so a cell always equals the ratios ``dsc-calc layer`` prints for that layer. Without bias both
exact ratios equal ``1/N + 1/Dk²`` whatever ``cin`` and ``hw``; with bias the params ratio depends
on ``cin``. ``hw`` never changes a ratio (MACs scale with the output size on both sides).

Value lists (for N and Dk) are written as comma-separated items, sorted and de-duplicated:

* ``32``: one value;
* ``8-64`` or ``8..64``: every integer from 8 to 64;
* ``8..64+8``: from 8 to 64 in steps of 8 (8, 16, ..., 64);
* ``8..1024x2``: from 8 multiplying by 2 while at most 1024 (8, 16, ..., 1024);
* ``8,16,32,...,1024``: a progression continued to its last term, which must be in it. Two terms
  before ``...`` make an arithmetic progression (``3,5,...,11``); three or more may also be
  geometric with an integer factor (``8,16,32,...,1024``).

Pure: no I/O, no Typer, no Rich, no NumPy.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from dsc_calc.cost.conv import (
    MAX_DIMENSION,
    Conv2d,
    LayerComparison,
    Shape,
    check_positive,
    compare,
    ratio_dict,
)
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from fractions import Fraction

#: The most cells a sweep computes (and the most values one axis may list).
MAX_CELLS = 10_000
#: The longest value-list text accepted.
MAX_TEXT = 10_000

DEFAULT_COUT = "8..1024x2"
DEFAULT_KERNEL = "1,3,5,7"
DEFAULT_CIN = 32
DEFAULT_HW = 32

Measure = Literal["macs", "params"]

_RANGE = re.compile(r"^(\d+)\s*(?:\.\.|-)\s*(\d+)(?:\s*([+x*\u00d7])\s*(\d+))?$")
_NUMBER = re.compile(r"^\d+$")
_ELLIPSIS = ("...", "\u2026")

SYNTAX = "e.g. 32, 8-64, 8..64+8, 8..1024x2 or 8,16,32,...,1024"


def parse_values(text: str, where: str, *, maximum: int = MAX_DIMENSION) -> tuple[int, ...]:
    """Expand a value list (see the module docstring) into sorted distinct positive integers."""
    if len(text) > MAX_TEXT:
        raise DscCalcError(where, f"is longer than {MAX_TEXT} characters")
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise DscCalcError(where, f"is empty; give values, {SYNTAX}")
    values: set[int] = set()
    ellipses = [i for i, item in enumerate(items) if item in _ELLIPSIS]
    if ellipses:
        values.update(_progression(items, ellipses, where))
        items = []
    for item in items:
        values.update(_item(item, where))
        if len(values) > MAX_CELLS:
            raise DscCalcError(where, f"lists more than {MAX_CELLS} values; give fewer")
    for value in values:
        if value < 1 or value > maximum:
            raise DscCalcError(where, f"values must be in 1..{maximum}, got {value}")
    return tuple(sorted(values))


def _number(text: str, where: str) -> int:
    if not _NUMBER.match(text):
        raise DscCalcError(where, f"{text!r} is not a positive integer or a range; {SYNTAX}")
    if len(text) > 12:
        raise DscCalcError(where, f"{text} is larger than {MAX_DIMENSION}")
    return int(text)


def _count_check(count: int, where: str) -> None:
    if count > MAX_CELLS:
        raise DscCalcError(where, f"expands to {count} values, more than {MAX_CELLS}; give fewer")


def _item(item: str, where: str) -> range | list[int]:
    """One comma-separated item: a number or a range."""
    match = _RANGE.match(item)
    if match is None:
        return [_number(item, where)]
    start, stop = _number(match.group(1), where), _number(match.group(2), where)
    if start > stop:
        raise DscCalcError(where, f"range {item!r} runs backwards; write it as {stop}..{start}")
    operator, step_text = match.group(3), match.group(4)
    step = _number(step_text, where) if step_text else 1
    if operator in (None, "+"):
        if step < 1:
            raise DscCalcError(where, f"the step of {item!r} must be at least 1")
        _count_check((stop - start) // step + 1, where)
        return range(start, stop + 1, step)
    if step < 2:
        raise DscCalcError(where, f"the factor of {item!r} must be at least 2")
    if start < 1:
        raise DscCalcError(where, f"a geometric range must start at 1 or more, got {item!r}")
    values = [start]
    while values[-1] * step <= stop:
        values.append(values[-1] * step)
    return values


def _progression(items: list[str], ellipses: list[int], where: str) -> list[int]:
    """``a,b,...,z`` (and ``a,b,c,...,z``): an arithmetic or geometric progression."""
    position = ellipses[0]
    if len(ellipses) > 1 or position < 2 or position != len(items) - 2:
        raise DscCalcError(
            where,
            "'...' needs at least two values before it and exactly one after, "
            "as in 8,16,32,...,1024",
        )
    terms = [_number(item, where) for item in items[:position]]
    last = _number(items[-1], where)
    steps = {b - a for a, b in itertools.pairwise(terms)}
    if len(steps) == 1 and (step := steps.pop()) > 0:
        if last < terms[-1] or (last - terms[-1]) % step:
            raise DscCalcError(
                where,
                f"{last} is not a term of {', '.join(map(str, terms))}, ... (steps of {step})",
            )
        _count_check((last - terms[0]) // step + 1, where)
        return list(range(terms[0], last + 1, step))
    factors = {b // a if a and b % a == 0 else 0 for a, b in itertools.pairwise(terms)}
    factor = factors.pop() if len(factors) == 1 else 0
    if len(terms) < 3 or factor < 2:
        raise DscCalcError(
            where,
            f"{', '.join(map(str, terms))}, ... is neither an increasing arithmetic progression "
            "nor (given three terms or more) a geometric one with an integer factor",
        )
    values = list(terms)
    while values[-1] < last:
        values.append(values[-1] * factor)
    if values[-1] != last:
        # Suggest only ends within the limit: 3486784401 would be refused in turn.
        ends = [value for value in values[-2:] if value <= MAX_DIMENSION]
        raise DscCalcError(
            where,
            f"{last} is not a term of {', '.join(map(str, terms))}, ... (factor {factor}); "
            f"end at {' or '.join(map(str, ends))}",
        )
    return values


@dataclass(frozen=True, slots=True)
class SweepCell:
    """One (N, Dk) point: the layer's comparison, whose ratios are the cell."""

    cout: int
    kernel: int
    comparison: LayerComparison

    @property
    def params_ratio(self) -> Fraction:
        return self.comparison.params_ratio

    @property
    def macs_ratio(self) -> Fraction:
        return self.comparison.macs_ratio

    @property
    def formula_ratio(self) -> Fraction:
        return self.comparison.formula_ratio

    def ratio(self, measure: Measure) -> Fraction:
        return self.macs_ratio if measure == "macs" else self.params_ratio

    def to_dict(self) -> dict[str, object]:
        c = self.comparison
        return {
            "cout": self.cout,
            "kernel": self.kernel,
            "standard": {"params": c.standard.params, "macs": c.standard.macs},
            "separable": {"params": c.separable.params, "macs": c.separable.macs},
            "ratio": ratio_dict(
                params=self.params_ratio, macs=self.macs_ratio, formula=self.formula_ratio
            ),
            "saving": {"params": float(1 / self.params_ratio), "macs": float(1 / self.macs_ratio)},
        }


@dataclass(frozen=True, slots=True)
class SweepReport:
    """The grid of exact ratios, row by row (N), column by column (Dk)."""

    couts: tuple[int, ...]
    kernels: tuple[int, ...]
    cin: int
    hw: int
    bias: bool
    measure: Measure
    cells: tuple[SweepCell, ...]

    def cell(self, cout: int, kernel: int) -> SweepCell:
        """The cell of ``cout`` and ``kernel`` (both must be on the grid)."""
        row, column = self.couts.index(cout), self.kernels.index(kernel)
        return self.cells[row * len(self.kernels) + column]

    @property
    def notes(self) -> tuple[str, ...]:
        layer = (
            f"Each cell: Conv2d({self.cin}, N, Dk\u00d7Dk, padding same"
            + (", bias" if self.bias else "")
            + f") on {self.cin}\u00d7{self.hw}\u00d7{self.hw}, exactly as `dsc-calc layer` "
            "compares it."
        )
        if self.bias:
            why = (
                "With bias the params ratio depends on Cin (--cin); the MACs ratio is still "
                "1/N + 1/Dk\u00b2."
            )
        else:
            why = (
                "Without bias both exact ratios equal 1/N + 1/Dk\u00b2, whatever Cin and H\u00d7W."
            )
        return (layer, why)

    def to_dict(self) -> dict[str, object]:
        return {
            "config": {
                "in_channels": self.cin,
                "height": self.hw,
                "width": self.hw,
                "stride": [1, 1],
                "padding": "same",
                "groups": 1,
                "bias": self.bias,
            },
            "measure": self.measure,
            "cout": list(self.couts),
            "kernel": list(self.kernels),
            "cells": [cell.to_dict() for cell in self.cells],
            "notes": list(self.notes),
        }


def sweep(
    couts: tuple[int, ...],
    kernels: tuple[int, ...],
    *,
    cin: int = DEFAULT_CIN,
    hw: int = DEFAULT_HW,
    bias: bool = False,
    measure: Measure = "macs",
) -> SweepReport:
    """Compare the layer of every (N, Dk) on the grid; refuse grids above :data:`MAX_CELLS`."""
    check_positive(cin, "cin")
    check_positive(hw, "hw")
    if not couts:
        raise DscCalcError("cout", "give at least one value")
    if not kernels:
        raise DscCalcError("kernel", "give at least one value")
    for name, values in (("cout", couts), ("kernel", kernels)):
        for value in values:
            check_positive(value, name)
    cells = len(couts) * len(kernels)
    if cells > MAX_CELLS:
        raise DscCalcError(
            "cout",
            f"the grid has {len(couts)} \u00d7 {len(kernels)} = {cells} cells, more than "
            f"{MAX_CELLS}; give fewer values of N or Dk",
        )
    if measure not in ("macs", "params"):
        raise DscCalcError("measure", f"must be 'macs' or 'params', got {measure!r}")
    source = Shape(cin, hw, hw)
    grid = tuple(
        SweepCell(cout, k, compare(Conv2d(cin, cout, (k, k), padding="same", bias=bias), source))
        for cout in couts
        for k in kernels
    )
    return SweepReport(couts, kernels, cin, hw, bias, measure, grid)
