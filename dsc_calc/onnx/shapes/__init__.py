"""Output shapes of ONNX nodes, with small integer tensors evaluated as they flow.

Each supported op type has one function ``(ctx, inputs) -> outputs`` in :data:`SHAPES`. A value
is a :class:`Value`: a shape (a tuple of ints, any rank), an element type and, when it has at most
:data:`dsc_calc.onnx.reader.SMALL_ELEMENTS` elements and is computable, its data. Data is what
makes ``Shape → Gather/Slice → Concat → Reshape`` chains (torch's ``chunk`` and ``flatten`` in
ShuffleNetV2 and the like) come out right where onnx's own shape inference gives up.

A function raises :class:`Unknown` when an input it needs has no known shape or data (the model
then falls back on the file's value_info), and :class:`DscCalcError` when the node is invalid.

The functions live by op family; importing this package imports every family, so :data:`SHAPES`
is complete:

* :mod:`~dsc_calc.onnx.shapes.core`: Value, Context, Unknown, the registry and shared helpers;
* :mod:`~dsc_calc.onnx.shapes.elementwise`: unary and broadcasting ops (Expand too), Cast, the
  normalisations;
* :mod:`~dsc_calc.onnx.shapes.conv`: Conv, ConvTranspose, the pools, Gemm and MatMul;
* :mod:`~dsc_calc.onnx.shapes.constants`: Constant, ConstantOfShape, Shape, Size, Range;
* :mod:`~dsc_calc.onnx.shapes.reshape`: Gather, Concat, Split, Slice, Reshape, Transpose, Pad,
  Resize, the reductions and the other ops that move or reduce a tensor.
"""

from dsc_calc.onnx.shapes import constants, conv, elementwise, reshape
from dsc_calc.onnx.shapes.core import SHAPES, Context, Unknown, Value, has_subgraph

__all__ = [
    "SHAPES",
    "Context",
    "Unknown",
    "Value",
    "constants",
    "conv",
    "elementwise",
    "has_subgraph",
    "reshape",
]
