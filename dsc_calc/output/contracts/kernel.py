"""The contract of ``dsc-calc kernel --json``: a 2-D kernel's rank, factors and cost."""

from typing import Annotated

import msgspec

from dsc_calc.output.contracts.common import ExactFraction, Pair, Ratio, _Contract

Number = int | float


class Factors(_Contract):
    """K ≈ scale · a · bᵀ: exact integers, or unit vectors and the largest singular value."""

    a: list[Number]
    b: list[Number]
    scale: float
    scale_exact: ExactFraction | None
    exact: bool


class Reconstruction(_Contract):
    """How far scale · a · bᵀ is from the kernel."""

    max_abs_error: float
    relative_error: Annotated[float, msgspec.Meta(description="Frobenius norm, relative.")]
    approximation: bool


class KernelCost(_Contract):
    """Multiplications per output pixel: direct kh·kw, separable kh + kw, rank r·(kh + kw)."""

    direct: int
    separable: int
    rank: int
    saving_separable: Ratio
    saving_rank: Annotated[Ratio | None, msgspec.Meta(description="null for the zero kernel.")]


class KernelDocument(_Contract):
    """dsc-calc kernel --json: rank, factors and per-pixel cost of a 2-D kernel."""

    shape: Pair
    kernel: list[list[Number]]
    rank: int
    tolerance: Annotated[float, msgspec.Meta(description="rtol · σ₁: larger σ count.")]
    tolerance_rule: str
    rtol: Annotated[
        float, msgspec.Meta(description="Relative tolerance: --tol, or max(kh, kw) · eps.")
    ]
    singular_values: list[float]
    relative_singular_values: Annotated[
        list[float], msgspec.Meta(description="σᵢ / σ₁, scale-free (no underflow).")
    ]
    separable: bool
    rank_float32: Annotated[
        int, msgspec.Meta(description="The rank at max(kh, kw) · eps(float32) · σ₁.")
    ]
    factors: Factors
    reconstruction: Reconstruction
    cost: KernelCost
