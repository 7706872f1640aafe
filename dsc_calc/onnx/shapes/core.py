"""What every shape handler shares: :class:`Value`, :class:`Context`, :class:`Unknown`, the
:data:`SHAPES` registry and the helpers that read inputs, axes and broadcast shapes.

The handlers themselves live by op family in the sibling modules; :mod:`dsc_calc.onnx.shapes`
imports them all, so :data:`SHAPES` is complete once the package is imported.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar

import msgspec

from dsc_calc.errors import DscCalcError
from dsc_calc.onnx.reader import FLOAT, SMALL_ELEMENTS, Node, Number, Subgraph

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Handler = TypeVar("Handler", bound="Callable[..., object]")
Shape = tuple[int, ...]


class Value(msgspec.Struct, frozen=True):
    """A tensor as inference sees it: its shape, element type and (small ones) its data."""

    shape: Shape
    dtype: int = FLOAT
    data: tuple[Number, ...] | None = None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class Unknown(Exception):  # noqa: N818 - a signal, not an error: the shape is not known
    """An input the node needs has no known shape or data."""


class Context(msgspec.Struct, frozen=True):
    """The node being inferred, the model's opset, and helpers to read its attributes."""

    node: Node
    opset: int

    @property
    def where(self) -> str:
        return f"node {self.node.name!r} ({self.node.op_type})"

    def fail(self, problem: str) -> DscCalcError:
        return DscCalcError(self.where, problem)

    def int_(self, name: str, default: int) -> int:
        value = self.node.attributes.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"attribute {name} must be an integer, got {value!r}")
        return value

    def ints(self, name: str, default: Sequence[int] | None = None) -> tuple[int, ...] | None:
        value = self.node.attributes.get(name)
        if value is None:
            return None if default is None else tuple(default)
        if isinstance(value, int):
            return (value,)
        if not isinstance(value, tuple) or not all(isinstance(v, int) for v in value):
            raise self.fail(f"attribute {name} must be a list of integers, got {value!r}")
        return tuple(int(v) for v in value)

    def floats(self, name: str) -> tuple[float, ...] | None:
        value = self.node.attributes.get(name)
        if value is None:
            return None
        if not isinstance(value, tuple) or not all(isinstance(v, int | float) for v in value):
            raise self.fail(f"attribute {name} must be a list of numbers, got {value!r}")
        return tuple(float(v) for v in value)

    def text(self, name: str, default: str) -> str:
        value = self.node.attributes.get(name)
        if value is None:
            return default
        if not isinstance(value, bytes):
            raise self.fail(f"attribute {name} must be a string, got {value!r}")
        return value.decode("utf-8", "replace")


def registrar(table: dict[str, Handler]) -> Callable[..., Callable[[Handler], Handler]]:
    """The decorator that files a handler in ``table`` under each op type it names:
    ``@handles("Add", "Sub")`` here, and the same for the cost handlers of
    :mod:`dsc_calc.onnx.costs`."""

    def handles(*op_types: str) -> Callable[[Handler], Handler]:
        def register(function: Handler) -> Handler:
            for op_type in op_types:
                table[op_type] = function
            return function

        return register

    return handles


#: Each op type's shape handler: ``(ctx, input values) -> output values``.
SHAPES: dict[str, Callable[[Context, list[Value | None]], list[Value | None]]] = {}
handles = registrar(SHAPES)


# --- Helpers ----------------------------------------------------------------------------------


def need(inputs: list[Value | None], index: int) -> Value:
    """Input ``index``, or :class:`Unknown` if it is absent or its shape is not known."""
    value = inputs[index] if index < len(inputs) else None
    if value is None:
        raise Unknown
    return value


def optional(inputs: list[Value | None], index: int) -> Value | None:
    """Input ``index`` if it is given and non-empty (``""`` names an omitted input)."""
    value = inputs[index] if index < len(inputs) else None
    if value is None or value.numel == 0:
        return None
    return value


def ints_of(value: Value) -> tuple[int, ...]:
    """The data of a small integer tensor, or :class:`Unknown`."""
    if value.data is None:
        raise Unknown
    return tuple(int(v) for v in value.data)


def small(shape: Shape, dtype: int, data: Sequence[Number] | None) -> Value:
    """A value that keeps its data only while small."""
    keep = data is not None and len(data) <= SMALL_ELEMENTS and len(data) == math.prod(shape)
    return Value(shape, dtype, tuple(data) if keep and data is not None else None)


def axis_of(ctx: Context, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ctx.fail(f"axis {axis} is out of range for a rank-{rank} input")
    return axis + rank if axis < 0 else axis


def broadcast(ctx: Context, shapes: Sequence[Shape]) -> Shape:
    """NumPy's broadcasting of ``shapes``."""
    rank = max((len(shape) for shape in shapes), default=0)
    result: list[int] = []
    for position in range(rank):
        size = 1
        for shape in shapes:
            index = position - (rank - len(shape))
            if index < 0:
                continue
            dim = shape[index]
            if dim == 1:
                continue
            if size not in (1, dim):
                listed = " and ".join(str(list(s)) for s in shapes)
                raise ctx.fail(f"shapes {listed} do not broadcast")
            size = dim
        result.append(size)
    return tuple(result)


def strides_of(shape: Shape) -> tuple[int, ...]:
    """Row-major strides of ``shape``, in elements."""
    strides = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        strides[axis] = strides[axis + 1] * shape[axis + 1]
    return tuple(strides)


#: Op types with graph-valued attributes: their bodies are not costed, so the import refuses them.
CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})


def has_subgraph(node: Node) -> bool:
    return node.op_type in CONTROL_FLOW or any(
        isinstance(value, Subgraph) for value in node.attributes.values()
    )
