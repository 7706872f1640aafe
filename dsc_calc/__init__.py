"""dsc-calc: exact cost of convolutions, their depthwise separable replacements and whole networks.

The typed API (no Typer, no Rich, no NumPy is imported by it)::

    >>> from dsc_calc import Conv2d, Shape, compare
    >>> result = compare(Conv2d(3, 4, kernel=3, padding=1), Shape(3, 32, 32))
    >>> result.standard.params, result.separable.params
    (108, 39)

Whole networks: :func:`load_network` (a preset name, a spec file's path or a spec dict) and
:func:`analyse` (a loaded spec, or anything ``load_network`` takes), from :mod:`dsc_calc.api`.
They are imported on first use, so ``import dsc_calc`` stays cheap::

    >>> import dsc_calc
    >>> dsc_calc.analyse("mobilenet_v1", batch=2).totals.macs
    1137480704
"""

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from dsc_calc.api import analyse, load_network
    from dsc_calc.onnx.model import from_torch

__version__ = "0.1.0"

#: Names exported on first use (module ``__getattr__``): the network API pulls in the spec decoder.
_LAZY = {
    "analyse": "dsc_calc.api",
    "load_network": "dsc_calc.api",
    "from_torch": "dsc_calc.onnx.model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dsc_calc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "MAX_DIMENSION",
    "Conv2d",
    "Cost",
    "DscCalcError",
    "LayerComparison",
    "Shape",
    "__version__",
    "analyse",
    "compare",
    "from_torch",
    "load_network",
    "output_size",
    "textbook_ratio",
]
