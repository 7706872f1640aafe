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


def from_torch(
    module: object, input_shape: tuple[int, ...], *, what_if: str | None = None
) -> object:
    """The network report of a ``torch.nn.Module``, exported to ONNX in memory and imported.

    Needs torch; see :func:`dsc_calc.onnx.model.from_torch` (imported only when called)."""
    from dsc_calc.onnx.model import from_torch as export_and_import

    return export_and_import(module, input_shape, what_if=what_if)


__all__ = [
    "MAX_DIMENSION",
    "Conv2d",
    "Cost",
    "DscCalcError",
    "LayerComparison",
    "Shape",
    "__version__",
    "compare",
    "from_torch",
    "output_size",
    "textbook_ratio",
]
