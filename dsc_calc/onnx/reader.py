"""A bounded reader of the ONNX graph: nodes, initializer shapes and value infos, never the weights.

Why a hand-written protobuf wire-format reader (measured on this machine, 2 cores, resnet50
exported by torch, 102 MB; ``benchmarks/onnx_vs_onnxtool.py`` measures it again):

* ``import onnx`` alone takes 1.3 s (1.0 s of it in ml_dtypes' extension), and ``onnx.load``
  of resnet50.onnx takes 1.5 s and 237 MiB peak RSS as a whole process: it reads every weight;
* ``protobuf`` alone imports in 20-70 ms, but needs classes generated from ``onnx.proto`` (a
  build step, or onnx itself) and still parses and copies every ``raw_data`` field;
* this reader imports only ``mmap`` and ``struct``, maps the file, walks the fixed subset of
  ``onnx.proto`` below and jumps over every tensor's data bytes without touching them: the graph
  of resnet50.onnx in 3 ms (best of 15 in one process; 10 ms with the shapes, costs and report
  of every node), 0.2 s and 17 MiB peak RSS as a whole process (0.2 s being Python's and
  dsc-calc's start-up).

The subset (field numbers from ``onnx/onnx.proto``): ModelProto (ir_version 1, producer_name 2,
graph 7, opset_import 8), OperatorSetIdProto (domain 1, version 2), GraphProto (node 1, name 2,
initializer 5, input 11, output 12, value_info 13), NodeProto (input 1, output 2, name 3,
op_type 4, attribute 5, domain 7), AttributeProto (name 1, f 2, i 3, s 4, t 5, g 6, floats 7,
ints 8, strings 9, tensors 10, graphs 11, type 20), TensorProto (dims 1, data_type 2,
float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9, double_data 10, uint64_data 11,
data_location 14), ValueInfoProto (name 1, type 2), TypeProto (tensor_type 1), TypeProto.Tensor
(elem_type 1, shape 2), TensorShapeProto (dim 1), Dimension (dim_value 1, dim_param 2). Every
other field is skipped by its wire type.

Bounds: a file over protobuf's 2 GB limit is refused before it is mapped; every length is
checked against the end of its enclosing message before anything is sliced or allocated; the
reader never recurses (the nesting depth is that of the schema subset, at most six messages;
sub-graphs of If/Loop/Scan are recorded, not descended into); counts of nodes, tensors, dims and
attribute values have limits. Tensor data is decoded only for tensors of at most
:data:`SMALL_ELEMENTS` elements (shapes, split sizes, slice bounds, resize scales), whose values
shape inference needs; larger ones, and external data, are never read. Anything malformed raises
:class:`DscCalcError` naming the file.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Protobuf's hard limit on one message, and so on an ONNX file without external data.
MAX_FILE_BYTES = 2**31 - 1
#: Tensors up to this many elements have their values decoded (shapes, sizes, bounds, scales).
SMALL_ELEMENTS = 64
#: The most nodes, initializers or value infos accepted in one graph.
MAX_ITEMS = 1_000_000
#: The most values in one attribute list, and the most dims of one tensor.
MAX_LIST = 65_536
MAX_RANK = 64
#: The largest dimension accepted in a shape.
MAX_DIM = 2**62

# TensorProto.DataType codes, and how small tensors of each type are decoded.
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64 = 1, 2, 3, 4, 5, 6, 7
STRING, BOOL, FLOAT16, DOUBLE, UINT32, UINT64 = 8, 9, 10, 11, 12, 13
#: The integer types (shape-like data, never counted as parameters).
INTEGER_TYPES = frozenset({UINT8, INT8, UINT16, INT16, INT32, INT64, BOOL, UINT32, UINT64})
#: struct codes of the types whose small tensors are decoded from raw_data.
_STRUCT = {
    FLOAT: "f",
    UINT8: "B",
    INT8: "b",
    UINT16: "H",
    INT16: "h",
    INT32: "i",
    INT64: "q",
    BOOL: "?",
    FLOAT16: "e",
    DOUBLE: "d",
    UINT32: "I",
    UINT64: "Q",
}

Dim = int | str | None
Number = int | float


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """A graph input, output or value info: its name, element type and shape.

    ``dims`` holds an int per known dimension, the name of a symbolic one (``dim_param``) or
    ``None`` for an unknown one; ``dims`` itself is ``None`` when the rank is unknown.
    """

    name: str
    elem_type: int
    dims: tuple[Dim, ...] | None


@dataclass(frozen=True, slots=True)
class Initializer:
    """A constant tensor: its shape and type, and its values only when it is small."""

    name: str
    data_type: int
    dims: tuple[int, ...]
    values: tuple[Number, ...] | None = None
    external: bool = False

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.dims:
            count *= dim
        return count


@dataclass(frozen=True, slots=True)
class Subgraph:
    """A graph-valued attribute (If/Loop/Scan bodies): recorded, never read."""

    attribute: str


AttributeValue = (
    int | float | bytes | tuple[int, ...] | tuple[float, ...] | tuple[bytes, ...] | Initializer
)


@dataclass(frozen=True, slots=True)
class Node:
    """One node: its name, op type and domain, the names it reads and writes, its attributes."""

    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, AttributeValue | Subgraph]


@dataclass(frozen=True, slots=True)
class Graph:
    """The main graph of a model, with the model's opset imports, IR version and producer."""

    name: str
    nodes: tuple[Node, ...]
    initializers: dict[str, Initializer]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    value_info: dict[str, TensorInfo]
    opsets: dict[str, int]
    ir_version: int
    producer: str

    @property
    def opset(self) -> int:
        """The version of the default (``ai.onnx``) operator set."""
        return self.opsets.get("", self.opsets.get("ai.onnx", 0))


class _Bad(Exception):  # noqa: N818 - private; always re-raised as DscCalcError
    """A malformed message; :func:`read_graph` turns it into a DscCalcError naming the file."""


# --- The wire format --------------------------------------------------------------------------

Buffer = bytes | mmap.mmap


def _varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise _Bad("a number runs past the end of its message (truncated file?)")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise _Bad("a number is longer than 10 bytes")


def _signed(value: int) -> int:
    """An int64 field: two's complement of the 64-bit varint."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= 1 << 63 else value


def _fields(buf: Buffer, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value or start, end) of each field of the message in
    ``buf[pos:end]``; for a varint the third item is its value."""
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Bad("a field has number 0 (not a protobuf message)")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield number, 0, value, pos
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if length > end - pos:
                raise _Bad("a field's length runs past the end of its message (truncated file?)")
            yield number, 2, pos, pos + length
            pos += length
        elif wire == 1:
            if end - pos < 8:
                raise _Bad("a fixed 64-bit field runs past the end of its message")
            yield number, 1, pos, pos + 8
            pos += 8
        elif wire == 5:
            if end - pos < 4:
                raise _Bad("a fixed 32-bit field runs past the end of its message")
            yield number, 5, pos, pos + 4
            pos += 4
        else:
            raise _Bad(f"a field has wire type {wire}, which ONNX never uses")


def _expect(wire: int, wanted: int, what: str) -> None:
    if wire != wanted:
        raise _Bad(f"{what} has the wrong wire type ({wire}; expected {wanted})")


def _text(buf: Buffer, start: int, end: int, what: str) -> str:
    if end - start > MAX_LIST:
        raise _Bad(f"{what} is longer than {MAX_LIST} bytes")
    try:
        return bytes(buf[start:end]).decode("utf-8")
    except UnicodeDecodeError:
        raise _Bad(f"{what} is not UTF-8 text") from None


def _ints(
    buf: Buffer, wire: int, a: int, b: int, into: list[int], what: str, *, signed: bool = True
) -> None:
    """Append a repeated integer field's values: one varint, or a packed run of them."""
    if wire == 0:
        into.append(_signed(a) if signed else a)
    elif wire == 2:
        pos = a
        while pos < b:
            value, pos = _varint(buf, pos, b)
            into.append(_signed(value) if signed else value)
            if len(into) > MAX_LIST:
                raise _Bad(f"{what} has more than {MAX_LIST} values")
    else:
        raise _Bad(f"{what} has the wrong wire type ({wire})")
    if len(into) > MAX_LIST:
        raise _Bad(f"{what} has more than {MAX_LIST} values")


def _floats(buf: Buffer, wire: int, a: int, b: int, into: list[float], what: str) -> None:
    """Append a repeated float field's values: one fixed32, or a packed run of them."""
    if wire == 5:
        into.append(struct.unpack_from("<f", buf, a)[0])
    elif wire == 2:
        if (b - a) % 4:
            raise _Bad(f"{what} is not a whole number of floats")
        count = (b - a) // 4
        if len(into) + count > MAX_LIST:
            raise _Bad(f"{what} has more than {MAX_LIST} values")
        into.extend(struct.unpack_from(f"<{count}f", buf, a))
    else:
        raise _Bad(f"{what} has the wrong wire type ({wire})")


# --- Messages ---------------------------------------------------------------------------------


def _tensor(buf: Buffer, start: int, end: int) -> Initializer:
    name = ""
    data_type = 0
    dims: list[int] = []
    external = False
    raw: tuple[int, int] | None = None
    typed: list[tuple[int, int, int, int]] = []
    for number, wire, a, b in _fields(buf, start, end):
        if number == 1:
            _ints(buf, wire, a, b, dims, "a tensor's dims")
            if len(dims) > MAX_RANK:
                raise _Bad(f"a tensor has more than {MAX_RANK} dims")
        elif number == 2:
            _expect(wire, 0, "a tensor's data_type")
            data_type = a
        elif number == 8:
            _expect(wire, 2, "a tensor's name")
            name = _text(buf, a, b, "a tensor's name")
        elif number == 9:
            _expect(wire, 2, "a tensor's raw_data")
            raw = (a, b)  # only the place: the bytes are read below if the tensor is small
        elif number in (4, 5, 7, 10, 11):
            typed.append((number, wire, a, b))
        elif number == 14:
            _expect(wire, 0, "a tensor's data_location")
            external = a == 1
    for dim in dims:
        if not 0 <= dim <= MAX_DIM:
            raise _Bad(f"tensor {name!r} has a dimension {dim} out of range")
    tensor = Initializer(name, data_type, tuple(dims), None, external)
    if external or tensor.numel > SMALL_ELEMENTS:
        return tensor
    values = _small_values(buf, tensor, raw, typed)
    return Initializer(name, data_type, tensor.dims, values, external)


def _small_values(  # noqa: PLR0912 - one branch per TensorProto data field
    buf: Buffer,
    tensor: Initializer,
    raw: tuple[int, int] | None,
    typed: list[tuple[int, int, int, int]],
) -> tuple[Number, ...] | None:
    """The values of a tensor of at most SMALL_ELEMENTS elements, or None if not decodable."""
    count = tensor.numel
    code = _STRUCT.get(tensor.data_type)
    if code is None:
        return None
    if raw is not None:
        start, end = raw
        if end - start != count * struct.calcsize(code):
            return None
        return tuple(struct.unpack_from(f"<{count}{code}", buf, start))
    values: list[Number] = []
    for number, wire, a, b in typed:
        if number == 4:
            floats: list[float] = []
            _floats(buf, wire, a, b, floats, "a tensor's float_data")
            values.extend(floats)
        elif number == 10:
            if wire == 2 and (b - a) % 8 == 0:
                values.extend(struct.unpack_from(f"<{(b - a) // 8}d", buf, a))
            elif wire == 1:
                values.extend(struct.unpack_from("<d", buf, a))
            else:
                raise _Bad("a tensor's double_data is malformed")
        else:
            ints: list[int] = []
            _ints(buf, wire, a, b, ints, "a tensor's data", signed=number != 11)
            if number == 5 and tensor.data_type == FLOAT16:
                return None  # float16 bit patterns: never needed for shapes
            values.extend(ints)
        if len(values) > count:
            return None
    if len(values) != count:
        return None
    if tensor.data_type == BOOL:
        return tuple(int(bool(value)) for value in values)
    return tuple(values)


def _attribute(  # noqa: PLR0912 - one branch per AttributeProto field
    buf: Buffer, start: int, end: int
) -> tuple[str, AttributeValue | Subgraph]:
    name = ""
    kind = 0
    found: dict[int, AttributeValue | Subgraph] = {}
    ints: list[int] = []
    floats: list[float] = []
    strings: list[bytes] = []
    for number, wire, a, b in _fields(buf, start, end):
        if number == 1:
            _expect(wire, 2, "an attribute's name")
            name = _text(buf, a, b, "an attribute's name")
        elif number == 20:
            _expect(wire, 0, "an attribute's type")
            kind = a
        elif number == 2:
            _expect(wire, 5, "a float attribute")
            found[2] = struct.unpack_from("<f", buf, a)[0]
        elif number == 3:
            _expect(wire, 0, "an int attribute")
            found[3] = _signed(a)
        elif number == 4:
            _expect(wire, 2, "a string attribute")
            if b - a > MAX_LIST:
                raise _Bad(f"a string attribute is longer than {MAX_LIST} bytes")
            found[4] = bytes(buf[a:b])
        elif number == 5:
            _expect(wire, 2, "a tensor attribute")
            found[5] = _tensor(buf, a, b)
        elif number in (6, 11):
            found[6] = Subgraph(name)
        elif number == 7:
            _floats(buf, wire, a, b, floats, "a floats attribute")
            found[7] = ()
        elif number == 8:
            _ints(buf, wire, a, b, ints, "an ints attribute")
            found[8] = ()
        elif number == 9:
            _expect(wire, 2, "a strings attribute")
            if b - a > MAX_LIST or len(strings) >= MAX_LIST:
                raise _Bad("a strings attribute is too long")
            strings.append(bytes(buf[a:b]))
            found[9] = ()
    # The type field says which value is meant; old files without it have only the value (and
    # an empty list has no field at all).
    field = _FIELD_OF_TYPE.get(kind) or (min(found) if found else 8)
    if field == 6:
        return name, Subgraph(name)
    if field == 7:
        return name, tuple(floats)
    if field == 8:
        return name, tuple(ints)
    if field == 9:
        return name, tuple(strings)
    if field == 10 or kind in (11, 12, 13, 14):
        return name, ()  # tensor lists, sparse tensors, type protos: never needed here
    if field in found:
        return name, found[field]
    raise _Bad(f"attribute {name!r} has no value")


#: AttributeProto.AttributeType -> the field that holds the value (GRAPHS shares GRAPH's).
_FIELD_OF_TYPE = {1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 9, 9: 10, 10: 6}


def _node(buf: Buffer, start: int, end: int) -> Node:
    name = op_type = domain = ""
    inputs: list[str] = []
    outputs: list[str] = []
    attributes: dict[str, AttributeValue | Subgraph] = {}
    for number, wire, a, b in _fields(buf, start, end):
        if number in (1, 2):
            _expect(wire, 2, "a node's input or output")
            target = inputs if number == 1 else outputs
            target.append(_text(buf, a, b, "a node's input or output name"))
            if len(target) > MAX_LIST:
                raise _Bad(f"a node has more than {MAX_LIST} inputs or outputs")
        elif number == 3:
            _expect(wire, 2, "a node's name")
            name = _text(buf, a, b, "a node's name")
        elif number == 4:
            _expect(wire, 2, "a node's op_type")
            op_type = _text(buf, a, b, "a node's op_type")
        elif number == 7:
            _expect(wire, 2, "a node's domain")
            domain = _text(buf, a, b, "a node's domain")
        elif number == 5:
            _expect(wire, 2, "a node's attribute")
            key, value = _attribute(buf, a, b)
            attributes[key] = value
            if len(attributes) > MAX_LIST:
                raise _Bad("a node has too many attributes")
    if not op_type:
        raise _Bad(f"node {name!r} has no op_type")
    return Node(name, op_type, domain, tuple(inputs), tuple(outputs), attributes)


def _shape(buf: Buffer, start: int, end: int) -> tuple[Dim, ...]:
    dims: list[Dim] = []
    for number, wire, a, b in _fields(buf, start, end):
        if number != 1:
            continue
        _expect(wire, 2, "a shape's dim")
        dim: Dim = None
        for inner, inner_wire, c, d in _fields(buf, a, b):
            if inner == 1:
                _expect(inner_wire, 0, "a dim_value")
                dim = _signed(c)
            elif inner == 2:
                _expect(inner_wire, 2, "a dim_param")
                dim = _text(buf, c, d, "a dim_param")
        if isinstance(dim, int) and not 0 <= dim <= MAX_DIM:
            dim = None  # -1 and the like: unknown
        dims.append(dim)
        if len(dims) > MAX_RANK:
            raise _Bad(f"a shape has more than {MAX_RANK} dims")
    return tuple(dims)


def _value_info(buf: Buffer, start: int, end: int) -> TensorInfo:
    name = ""
    elem_type = 0
    dims: tuple[Dim, ...] | None = None
    for number, wire, a, b in _fields(buf, start, end):
        if number == 1:
            _expect(wire, 2, "a value's name")
            name = _text(buf, a, b, "a value's name")
        elif number == 2:
            _expect(wire, 2, "a value's type")
            for kind, kind_wire, c, d in _fields(buf, a, b):
                if kind != 1:
                    continue  # sequences, maps, optionals: no tensor shape
                _expect(kind_wire, 2, "a tensor type")
                for inner, inner_wire, e, f in _fields(buf, c, d):
                    if inner == 1:
                        _expect(inner_wire, 0, "an elem_type")
                        elem_type = e
                    elif inner == 2:
                        _expect(inner_wire, 2, "a tensor shape")
                        dims = _shape(buf, e, f)
    return TensorInfo(name, elem_type, dims)


_GraphParts = tuple[
    str, list[Node], dict[str, Initializer], list[TensorInfo], list[TensorInfo], list[TensorInfo]
]


def _graph(buf: Buffer, start: int, end: int) -> _GraphParts:
    name = ""
    nodes: list[Node] = []
    initializers: dict[str, Initializer] = {}
    inputs: list[TensorInfo] = []
    outputs: list[TensorInfo] = []
    infos: list[TensorInfo] = []
    for number, wire, a, b in _fields(buf, start, end):
        if number == 2:
            _expect(wire, 2, "the graph's name")
            name = _text(buf, a, b, "the graph's name")
        elif number == 1:
            _expect(wire, 2, "a node")
            nodes.append(_node(buf, a, b))
        elif number == 5:
            _expect(wire, 2, "an initializer")
            tensor = _tensor(buf, a, b)
            initializers[tensor.name] = tensor
        elif number in (11, 12, 13):
            _expect(wire, 2, "a graph input, output or value info")
            target = {11: inputs, 12: outputs, 13: infos}[number]
            target.append(_value_info(buf, a, b))
        else:
            continue
        if max(len(nodes), len(initializers), len(inputs) + len(outputs) + len(infos)) > MAX_ITEMS:
            raise _Bad(f"the graph has more than {MAX_ITEMS:,} nodes, tensors or values")
    return name, nodes, initializers, inputs, outputs, infos


def parse_model(buf: Buffer) -> Graph:
    """The main graph of the serialized ModelProto in ``buf``; raises ``_Bad`` if malformed."""
    end = len(buf)
    ir_version = -1
    producer = ""
    opsets: dict[str, int] = {}
    graph: tuple[int, int] | None = None
    for number, wire, a, b in _fields(buf, 0, end):
        if number == 1:
            _expect(wire, 0, "ir_version")
            ir_version = a
        elif number == 2:
            _expect(wire, 2, "producer_name")
            producer = _text(buf, a, b, "producer_name")
        elif number == 7:
            _expect(wire, 2, "the graph")
            graph = (a, b)
        elif number == 8:
            _expect(wire, 2, "an opset import")
            domain, version = "", 0
            for inner, inner_wire, c, d in _fields(buf, a, b):
                if inner == 1:
                    _expect(inner_wire, 2, "an opset domain")
                    domain = _text(buf, c, d, "an opset domain")
                elif inner == 2:
                    _expect(inner_wire, 0, "an opset version")
                    version = _signed(c)
            opsets[domain] = version
            if len(opsets) > MAX_LIST:
                raise _Bad("too many opset imports")
    if graph is None or ir_version < 0:
        missing = "graph" if graph is None else "ir_version"
        raise _Bad(f"it has no {missing}, so it is a protobuf of something else")
    name, nodes, initializers, inputs, outputs, infos = _graph(buf, *graph)
    return Graph(
        name=name,
        nodes=tuple(nodes),
        initializers=initializers,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        value_info={info.name: info for info in infos},
        opsets=opsets,
        ir_version=ir_version,
        producer=producer,
    )


def parse_bytes(data: bytes, where: str = "model") -> Graph:
    """The graph of a serialized model held in memory (``from_torch`` exports to bytes)."""
    if len(data) > MAX_FILE_BYTES:
        raise DscCalcError(where, "is over protobuf's 2 GB limit; it cannot be one ONNX model")
    try:
        return parse_model(data)
    except _Bad as error:
        raise DscCalcError(where, f"is not a readable ONNX model: {error}") from None


def read_graph(path: str | Path) -> Graph:
    """The graph of the ONNX file at ``path``, through a read-only map of the file.

    Only the bytes of the graph's structure are touched; weight data (``raw_data``) and external
    data files are never read.
    """
    where = str(path)
    file = Path(path)
    try:
        if not file.exists():
            raise DscCalcError(where, "no such file")
        if file.is_dir():
            raise DscCalcError(where, "is a directory, not an ONNX file")
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DscCalcError(
                where,
                f"is {size:,} bytes, over protobuf's 2 GB limit for one message; a larger model "
                "keeps its weights in external data files (onnx.save(..., "
                "save_as_external_data=True)), which dsc-calc does not need",
            )
        if size == 0:
            raise DscCalcError(where, "is empty, not an ONNX model")
        with file.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
            try:
                return parse_model(m)
            except _Bad as error:
                hint = "; it looks like JSON (a spec?)" if m[:1] in (b"{", b"[") else ""
                raise DscCalcError(where, f"is not a readable ONNX model: {error}{hint}") from None
    except OSError as error:
        raise DscCalcError(where, f"cannot be read ({error.strerror or error})") from None
