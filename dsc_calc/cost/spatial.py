"""Spatial separability of a 2-D kernel: its rank, readable factors and the cost it saves.

A ``kh x kw`` kernel ``K`` that factors as ``K = a · bᵀ`` (rank 1) can be applied as a ``kh x 1``
conv followed by a ``1 x kw`` conv: ``kh + kw`` multiplications per output pixel instead of
``kh · kw``. A kernel of rank ``r`` is a sum of ``r`` such outer products and costs ``r·(kh + kw)``.

The kernel is read from JSON text with the standard :mod:`json` module (never evaluated). Numbers
are kept exactly (``0.1`` is the fraction 1/10, not a binary float) so that a kernel such as Sobel
comes back with exact integer factors ``K = scale · a · bᵀ``. A kernel that is exactly rank 1
(checked in integers) has rank 1 whatever its magnitude. Otherwise the rank is computed in floating
point by SVD of the kernel divided by its largest magnitude (so tiny entries such as ``1e-400`` do
not underflow), counting singular values above ``rtol · σ₁``: by default NumPy's
``rtol = max(kh, kw) · eps`` (float64), or the ``--tol`` the user gives. The report also says when
the kernel is rank 1 within float32 precision (``rtol = max(kh, kw) · eps(float32)``), as weights
stored in float32 are.

Pure: no I/O beyond the text it is given, no Typer, no Rich. NumPy is imported inside
:func:`analyse`, so importing this module is cheap.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The largest kernel side accepted (a 1 x 1024 row is fine; squares stop at 256 x 256).
MAX_SIDE = 1024
#: The largest number of kernel entries accepted (a 256 x 256 kernel takes about 0.5 s).
MAX_ENTRIES = 2**16
#: The longest kernel text accepted, in characters (also the most a file or stdin is read for).
MAX_TEXT = 2**22
#: The largest entry magnitude accepted: the sum of 2**16 squares must stay finite in float64.
MAX_MAGNITUDE = 10**150
#: Number literals longer than this are read as floats only (no exact fraction, no integer factors).
_MAX_EXACT_LITERAL = 60
_EXPONENT = re.compile(r"[eE]([+-]?\d+)$")

Number = int | Fraction | float


class _NonFinite(str):
    """A number literal that is not a finite float (``NaN``, ``Infinity``, ``1e999``, huge ints)."""

    __slots__ = ()


def _parse_float(text: str) -> Number | _NonFinite:
    value = float(text)
    if not math.isfinite(value):
        return _NonFinite(text)
    match = _EXPONENT.search(text)
    if len(text) > _MAX_EXACT_LITERAL or (match is not None and abs(int(match.group(1))) > 400):
        return value
    return Fraction(text)


def _parse_int(text: str) -> int | _NonFinite:
    if len(text) > 309:  # beyond ±1.8e308 whatever the digits; int() would be slow for no use
        return _NonFinite(text[:20] + "...")
    value = int(text)
    if abs(value) > 2**1023 * 2:
        return _NonFinite(text[:20] + "...")
    return value


def _show(value: object) -> str:
    """A short JSON-like rendering of a bad value for an error message."""
    if isinstance(value, _NonFinite):
        return str(value)
    text = json.dumps(value, default=_plain)
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(value: object) -> int | float:
    """A parsed exact number as plain JSON, for error messages."""
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    raise TypeError(type(value).__name__)  # pragma: no cover - json.loads yields only these


def parse_kernel(text: str, where: str = "kernel") -> list[list[Number]]:
    """Read a kernel from JSON text: a list of equal-length rows of finite numbers (or one row).

    Errors name the position, e.g. ``kernel[1][2]: must be a finite number, got "x"``.
    """
    if len(text) > MAX_TEXT:
        raise DscCalcError(
            where, f"the kernel text is longer than {MAX_TEXT} characters; give a smaller kernel"
        )
    if not text.strip():
        raise DscCalcError(where, "is empty; give a JSON array such as [[1,2,1],[2,4,2],[1,2,1]]")
    try:
        data: object = json.loads(
            text, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_NonFinite
        )
    except json.JSONDecodeError as error:
        raise DscCalcError(
            where,
            f"is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); "
            "give a JSON array such as [[1,2,1],[2,4,2],[1,2,1]]",
        ) from None
    except RecursionError:
        raise DscCalcError(
            where, "is nested too deeply; a kernel is a list of rows of numbers"
        ) from None
    return validate_kernel(data, where)


def validate_kernel(data: object, where: str = "kernel") -> list[list[Number]]:
    """Check parsed JSON is a 1-D or 2-D array of finite numbers; a 1-D array is one row."""
    names, rows = _rows(data, where)
    width = len(rows[0])
    if width > MAX_SIDE:
        raise DscCalcError(
            names[0], f"has {width} entries; at most {MAX_SIDE} rows and columns are accepted"
        )
    if len(rows) * width > MAX_ENTRIES:
        raise DscCalcError(
            where, f"has {len(rows)}\u00d7{width} entries; at most {MAX_ENTRIES} are accepted"
        )
    checked: list[list[Number]] = []
    for name, row in zip(names, rows, strict=True):
        if len(row) != width:
            raise DscCalcError(
                name,
                f"has {_entries(len(row))} but {names[0]} has {width}; every row needs the same "
                "length (the kernel must be rectangular)",
            )
        checked.append([_check_number(value, f"{name}[{j}]") for j, value in enumerate(row)])
    return checked


def _entries(count: int) -> str:
    return f"{count} entry" if count == 1 else f"{count} entries"


def _rows(data: object, where: str) -> tuple[list[str], list[list[object]]]:
    """The rows of a 1-D or 2-D array with their names; non-empty, at most MAX_SIDE of them."""
    if not isinstance(data, list):
        raise DscCalcError(
            where,
            f"must be a JSON array of rows such as [[1,2,1],[2,4,2],[1,2,1]], got {_show(data)}",
        )
    if not data:
        raise DscCalcError(where, "is empty; a kernel needs at least one number")
    if not any(isinstance(item, list) for item in data):
        return [where], [data]
    if len(data) > MAX_SIDE:
        raise DscCalcError(
            where, f"has {len(data)} rows; at most {MAX_SIDE} rows and columns are accepted"
        )
    names: list[str] = []
    rows: list[list[object]] = []
    for index, row in enumerate(data):
        name = f"{where}[{index}]"
        if not isinstance(row, list):
            raise DscCalcError(
                name, f"must be a row (a list of numbers) like the other rows, got {_show(row)}"
            )
        if not row:
            raise DscCalcError(name, "is an empty row; every row needs at least one number")
        names.append(name)
        rows.append(row)
    return names, rows


def _check_number(value: object, where: str) -> Number:
    if isinstance(value, list):
        raise DscCalcError(
            where, "is a nested list; a kernel has at most 2 dimensions (a list of rows)"
        )
    if isinstance(value, int | Fraction | float) and not isinstance(value, bool):
        if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            try:
                shown = f"{float(value):.3g}"
            except OverflowError:  # exactly 2**1024, the one int _parse_int keeps past floats
                shown = _show(value)
            raise DscCalcError(
                where,
                f"must be at most 1e150 in magnitude (larger entries overflow float64 in the SVD "
                f"and the norms), got {shown}; scale the kernel down",
            )
        return value
    raise DscCalcError(where, f"must be a finite number, got {_show(value)}")


@dataclass(frozen=True, slots=True)
class Factors:
    """``K ≈ scale · a · bᵀ``: ``a`` is the column (height) factor, ``b`` the row (width) factor.

    ``exact`` factors are integers with no common divisor (``scale`` an exact fraction); otherwise
    ``a`` and ``b`` are unit vectors and ``scale`` is the largest singular value.
    """

    a: tuple[int | float, ...]
    b: tuple[int | float, ...]
    scale: Fraction | float
    exact: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "a": list(self.a),
            "b": list(self.b),
            "scale": float(self.scale),
            "scale_exact": str(self.scale) if isinstance(self.scale, Fraction) else None,
            "exact": self.exact,
        }


@dataclass(frozen=True, slots=True)
class KernelReport:
    """Rank, factors and per-pixel cost of a kernel, as plain data.

    ``relative_singular_values`` are ``σᵢ / σ₁``, computed scale-free (they stay exact where
    ``singular_values`` underflow); ``rtol`` is the relative tolerance the rank counts above and
    ``rank_float32`` the rank at float32's ``max(kh, kw) · eps``.
    """

    kernel: tuple[tuple[int | float, ...], ...]
    singular_values: tuple[float, ...]
    tolerance: float
    rank: int
    factors: Factors
    max_abs_error: float
    relative_error: float
    relative_singular_values: tuple[float, ...] = ()
    rtol: float = 0.0
    rtol_given: bool = False
    rank_float32: int = 0

    @property
    def float32_rank_one(self) -> bool:
        """Whether the kernel is rank 1 only within float32 precision (rank > 1 at ``rtol``)."""
        return self.rank > 1 and self.rank_float32 == 1

    @property
    def tolerance_rule(self) -> str:
        return "rtol * sigma_max" if self.rtol_given else "max(kh, kw) * eps * sigma_max"

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.kernel), len(self.kernel[0])

    @property
    def direct_cost(self) -> int:
        """Multiplications per output pixel of the kernel applied as it is: ``kh · kw``."""
        kh, kw = self.shape
        return kh * kw

    @property
    def separable_cost(self) -> int:
        """Multiplications per output pixel as a ``kh x 1`` then a ``1 x kw`` conv: ``kh + kw``."""
        kh, kw = self.shape
        return kh + kw

    @property
    def rank_cost(self) -> int:
        """Multiplications per output pixel of an exact rank-r decomposition: ``r · (kh + kw)``."""
        return self.rank * self.separable_cost

    def to_dict(self) -> dict[str, object]:
        kh, kw = self.shape
        rank_one = self.rank <= 1
        return {
            "shape": [kh, kw],
            "kernel": [list(row) for row in self.kernel],
            "rank": self.rank,
            "tolerance": self.tolerance,
            "tolerance_rule": self.tolerance_rule,
            "rtol": self.rtol,
            "singular_values": list(self.singular_values),
            "relative_singular_values": list(self.relative_singular_values),
            "separable": self.rank == 1,
            "rank_float32": self.rank_float32,
            "factors": self.factors.to_dict(),
            "reconstruction": {
                "max_abs_error": self.max_abs_error,
                "relative_error": self.relative_error,
                "approximation": not rank_one,
            },
            "cost": {
                "direct": self.direct_cost,
                "separable": self.separable_cost,
                "rank": self.rank_cost,
                "saving_separable": self.direct_cost / self.separable_cost,
                "saving_rank": (self.direct_cost / self.rank_cost) if self.rank else None,
            },
        }


def _plain_number(value: Number) -> int | float:
    """An entry as JSON shows it: integers exact, everything else as a float."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value if isinstance(value, int) else float(value)


def _flip(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether negating both factors leaves fewer negative entries (tie: a's first non-zero > 0)."""
    negatives = sum(x < 0 for x in a) + sum(x < 0 for x in b)
    positives = sum(x > 0 for x in a) + sum(x > 0 for x in b)
    first = next((x for x in a if x != 0), 0)
    return positives < negatives or (positives == negatives and first < 0)


def _primitive(vector: Sequence[int]) -> list[int]:
    """``vector`` divided by the gcd of its entries (so the entries are coprime)."""
    divisor = math.gcd(*vector) or 1
    return [n // divisor for n in vector]


def exact_rank_one_factors(kernel: Sequence[Sequence[Number]]) -> Factors | None:
    """Integer factors ``K = scale · a · bᵀ`` when the exact kernel has rank 1, else ``None``.

    The kernel is scaled to integers by the lcm of its denominators and checked in integers:
    rank 1 means every 2x2 minor through the pivot row and column vanishes.
    """
    exact: list[list[int | Fraction]] = []
    for row in kernel:
        exact.append([x for x in row if not isinstance(x, float)])
        if len(exact[-1]) != len(row):  # a float entry: no exact arithmetic possible
            return None
    denominator = math.lcm(*{x.denominator for row in exact for x in row})
    matrix = [[int(x * denominator) for x in row] for row in exact]
    pivot = next((row for row in matrix if any(row)), None)
    if pivot is None:
        return None
    j0 = next(j for j, x in enumerate(pivot) if x)
    p = pivot[j0]
    if any(row[j] * p != row[j0] * pivot[j] for row in matrix for j in range(len(pivot))):
        return None
    b = _primitive(pivot)
    column = [row[j0] for row in matrix]
    a = _primitive(column)
    # K[i][j] = matrix[i][j] / denominator = column[i] · b[j] / (b[j0] · denominator)
    scale = Fraction(math.gcd(*column), b[j0] * denominator)
    if scale < 0:
        scale, a = -scale, [-x for x in a]
    if _flip(a, b):
        a, b = [-x for x in a], [-x for x in b]
    return Factors(a=tuple(a), b=tuple(b), scale=scale, exact=True)


#: float32's machine epsilon, 2**-23 (the gap between 1 and the next float32).
FLOAT32_EPS = 2.0**-23
#: float64's machine epsilon, 2**-52.
_FLOAT64_EPS = 2.0**-52


def check_rtol(rtol: object, where: str = "rtol") -> float:
    """A relative tolerance: a finite number with ``0 <= rtol < 1`` (``σ > rtol · σ₁`` counts)."""
    if isinstance(rtol, bool) or not isinstance(rtol, int | float):
        raise DscCalcError(where, f"must be a number, got {type(rtol).__name__}")
    if not (math.isfinite(rtol) and 0 <= rtol < 1):
        raise DscCalcError(
            where,
            f"must be a relative tolerance with 0 <= RTOL < 1 (a fraction of \u03c3\u2081, "
            f"e.g. 1e-6 for float32 weights), got {rtol!r}",
        )
    return float(rtol)


def _largest_magnitude(kernel: Sequence[Sequence[Number]]) -> Number:
    magnitudes: list[Number] = [x if x >= 0 else -x for row in kernel for x in row]
    return max(magnitudes)


def _scaled(kernel: Sequence[Sequence[Number]], magnitude: Number) -> list[list[float]]:
    """``kernel / magnitude`` as floats, computed exactly first when the entries are tiny."""
    if magnitude == 0:
        return [[0.0 for _ in row] for row in kernel]
    if float(magnitude) >= 1e-150:  # no underflow: entries and their squares stay normal
        scale = float(magnitude)
        return [[float(x) / scale for x in row] for row in kernel]
    exact = Fraction(magnitude)
    return [[float(Fraction(x) / exact) for x in row] for row in kernel]


def analyse(kernel: Sequence[Sequence[Number]], rtol: float | None = None) -> KernelReport:
    """Rank by SVD, readable factors, reconstruction error and cost of a validated kernel.

    ``rtol`` is the relative tolerance (``σ > rtol · σ₁`` counts towards the rank); ``None`` takes
    NumPy's ``max(kh, kw) · eps`` for float64. An exactly rank-1 kernel has rank 1 at any ``rtol``.
    """
    import numpy as np

    magnitude = _largest_magnitude(kernel)
    unit = np.array(_scaled(kernel, magnitude), dtype=np.float64)  # largest |entry| is 1
    kh, kw = unit.shape
    given = rtol is not None
    relative = check_rtol(rtol) if rtol is not None else max(kh, kw) * _FLOAT64_EPS
    u, sigma, vt = np.linalg.svd(unit, full_matrices=False)
    top_unit = float(sigma[0])
    ratios = [float(s) / top_unit if top_unit else 0.0 for s in sigma]
    factors = exact_rank_one_factors(kernel)
    if magnitude == 0:
        rank = 0
    elif factors is not None:  # K == scale · a · bᵀ exactly, checked in integers
        rank = 1
    else:
        rank = sum(r > relative for r in ratios)
    rank_float32 = 0 if magnitude == 0 else sum(r > max(kh, kw) * FLOAT32_EPS for r in ratios)
    if factors is not None:
        rank_float32 = 1
    size = float(magnitude)
    top = top_unit * size
    norm = float(np.linalg.norm(unit))
    if factors is not None:
        max_abs_error = relative_error = 0.0
    else:
        a = [float(x) for x in u[:, 0]]
        b = [float(x) for x in vt[0, :]]
        if _flip(a, b):
            a, b = [-x for x in a], [-x for x in b]
        factors = Factors(a=tuple(a), b=tuple(b), scale=top, exact=False)
        residual = unit - top_unit * np.outer(np.array(factors.a), np.array(factors.b))
        max_abs_error = float(np.max(np.abs(residual))) * size
        relative_error = float(np.linalg.norm(residual)) / norm if norm else 0.0
    return KernelReport(
        kernel=tuple(tuple(_plain_number(x) for x in row) for row in kernel),
        singular_values=tuple(float(s) * size for s in sigma),
        tolerance=relative * top,
        rank=rank,
        factors=factors,
        max_abs_error=max_abs_error,
        relative_error=relative_error,
        relative_singular_values=tuple(ratios),
        rtol=relative,
        rtol_given=given,
        rank_float32=rank_float32,
    )


def analyse_text(text: str, where: str = "kernel", rtol: float | None = None) -> KernelReport:
    """Parse, validate and analyse a kernel given as JSON text."""
    return analyse(parse_kernel(text, where), rtol)
