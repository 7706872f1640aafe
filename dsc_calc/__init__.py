"""dsc-calc: exact cost of convolutions, their depthwise separable replacements and whole networks.

The typed API (no Typer, no Rich, no NumPy is imported by it)::

    >>> from dsc_calc import Conv2d, Shape, compare
    >>> result = compare(Conv2d(3, 4, kernel=3, padding=1), Shape(3, 32, 32))
    >>> result.standard.params, result.separable.params
    (108, 39)
"""

from dsc_calc.cost.conv import (
    MAX_DIMENSION,
    Conv2d,
    Cost,
    LayerComparison,
    Shape,
    compare,
    output_size,
    textbook_ratio,
)
from dsc_calc.errors import DscCalcError

__version__ = "0.1.0"

__all__ = [
    "MAX_DIMENSION",
    "Conv2d",
    "Cost",
    "DscCalcError",
    "LayerComparison",
    "Shape",
    "__version__",
    "compare",
    "output_size",
    "textbook_ratio",
]
