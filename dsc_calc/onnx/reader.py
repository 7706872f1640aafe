"""A bounded reader of the ONNX graph: nodes, initializer shapes and value infos, never the weights.

Why a hand-written protobuf wire-format reader (measured on this machine, 2 cores, resnet50
exported by torch, 102 MB; ``benchmarks/onnx_vs_onnxtool.py`` measures it again):

* ``import onnx`` alone takes 1.3 s (1.0 s of it in ml_dtypes' extension), and ``onnx.load``
  of resnet50.onnx takes 1.5 s and 237 MiB peak RSS as a whole process: it reads every weight;
* ``protobuf`` alone imports in 20-70 ms, but needs classes generated from ``onnx.proto`` (a
  build step, or onnx itself) and still parses and copies every ``raw_data`` field;
* this reader imports only ``mmap``, ``struct`` and msgspec (its records are frozen Structs,
  50x cheaper to define than frozen dataclasses), maps the file, walks the fixed subset of
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
reader's nesting depth is that of the schema subset, never the file's (at most six messages;
sub-graphs of If/Loop/Scan are recorded, not descended into); counts of nodes, tensors, dims and
attribute values have limits. Tensor data is decoded only for tensors of at most
:data:`SMALL_ELEMENTS` elements (shapes, split sizes, slice bounds, resize scales), whose values
shape inference needs; larger ones, and external data, are never read. Anything malformed raises
:class:`DscCalcError` naming the file.
"""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

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


class TensorInfo(msgspec.Struct, frozen=True):
    """A graph input, output or value info: its name, element type and shape.

    ``dims`` holds an int per known dimension, the name of a symbolic one (``dim_param``) or
    ``None`` for an unknown one; ``dims`` itself is ``None`` when the rank is unknown.
    """

    name: str
    elem_type: int
    dims: tuple[Dim, ...] | None


class Initializer(msgspec.Struct, frozen=True):
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


class Subgraph(msgspec.Struct, frozen=True):
    """A graph-valued attribute (If/Loop/Scan bodies): recorded, never read."""

    attribute: str


AttributeValue = (
    int | float | bytes | tuple[int, ...] | tuple[float, ...] | tuple[bytes, ...] | Initializer
)


class Node(msgspec.Struct, frozen=True):
    """One node: its name, op type and domain, the names it reads and writes, its attributes."""

    name: str
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, AttributeValue | Subgraph]


class Graph(msgspec.Struct, frozen=True):
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
if TYPE_CHECKING:
    _Read = Callable[[Buffer, int, int, str], Any]
    _Schema = dict[int, tuple[str, int, "_Read | _Schema", str]]


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


def _fields(  # noqa: PLR0912 - one branch per wire type, and the one-byte fast paths
    buf: Buffer, pos: int, end: int
) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value or start, end) of each field of the message in
    ``buf[pos:end]``; for a varint the third item is its value."""
    while pos < end:
        # Keys and lengths under 128 are one byte: read inline, the common case by far.
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _Bad("a field has number 0 (not a protobuf message)")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield number, 0, value, pos
        elif wire == 2:
            length = buf[pos] if pos < end else 0x80  # at the end: _varint says so
            if length < 0x80:
                pos += 1
            else:
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
#
# A message's schema names the fields that hold one value: field number -> (key, wire type,
# read, what). The value, ``read(buf, start, end, what)`` (for a varint, ``start`` is the value),
# goes into the message's record under ``key``, the last occurrence winning as in protobuf;
# ``what`` names the field in errors. A schema in place of ``read`` is a sub-message whose
# fields belong to the same record. Repeated fields, and those with limits, are left to the
# message's own loop, which :func:`_read` hands every field its schema does not name.


def _number(_buf: Buffer, value: int, _end: int, _what: str) -> int:
    return value


def _int64(_buf: Buffer, value: int, _end: int, _what: str) -> int:
    return _signed(value)


def _float32(buf: Buffer, start: int, _end: int, _what: str) -> float:
    value: float = struct.unpack_from("<f", buf, start)[0]
    return value


def _blob(buf: Buffer, start: int, end: int, what: str) -> bytes:
    if end - start > MAX_LIST:
        raise _Bad(f"{what} is longer than {MAX_LIST} bytes")
    return bytes(buf[start:end])


def _span(_buf: Buffer, start: int, end: int, _what: str) -> tuple[int, int]:
    return start, end  # only the place: a tensor's bytes are read only if it is small


def _read(
    buf: Buffer, start: int, end: int, schema: _Schema, record: dict[str, Any]
) -> Iterator[tuple[int, int, int, int]]:
    """Decode the fields of the message in ``buf[start:end]`` that ``schema`` names into
    ``record``; yield every other field, as :func:`_fields` does."""
    for number, wire, a, b in _fields(buf, start, end):
        field = schema.get(number)
        if field is None:
            yield number, wire, a, b
            continue
        key, wanted, read, what = field
        _expect(wire, wanted, what)
        if isinstance(read, dict):
            _merge(buf, a, b, read, record)
        else:
            record[key] = read(buf, a, b, what)


def _merge(buf: Buffer, start: int, end: int, schema: _Schema, record: dict[str, Any]) -> None:
    """Decode the fields ``schema`` names into ``record``, and skip the others."""
    for _other in _read(buf, start, end, schema, record):
        pass


_TENSOR: _Schema = {
    2: ("data_type", 0, _number, "a tensor's data_type"),
    8: ("name", 2, _text, "a tensor's name"),
    9: ("raw", 2, _span, "a tensor's raw_data"),
    14: ("data_location", 0, _number, "a tensor's data_location"),
}


def _tensor(buf: Buffer, start: int, end: int, _what: str = "") -> Initializer:
    record: dict[str, Any] = {}
    dims: list[int] = []
    typed: list[tuple[int, int, int, int]] = []
    for number, wire, a, b in _read(buf, start, end, _TENSOR, record):
        if number == 1:
            _ints(buf, wire, a, b, dims, "a tensor's dims")
            if len(dims) > MAX_RANK:
                raise _Bad(f"a tensor has more than {MAX_RANK} dims")
        elif number in (4, 5, 7, 10, 11):
            typed.append((number, wire, a, b))
    name: str = record.get("name", "")
    for dim in dims:
        if not 0 <= dim <= MAX_DIM:
            raise _Bad(f"tensor {name!r} has a dimension {dim} out of range")
    data_type: int = record.get("data_type", 0)
    external = record.get("data_location") == 1
    tensor = Initializer(name, data_type, tuple(dims), None, external)
    if external or tensor.numel > SMALL_ELEMENTS:
        return tensor
    values = _small_values(buf, tensor, record.get("raw"), typed)
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


_ATTRIBUTE: _Schema = {
    1: ("name", 2, _text, "an attribute's name"),
    20: ("type", 0, _number, "an attribute's type"),
    2: ("f", 5, _float32, "a float attribute"),
    3: ("i", 0, _int64, "an int attribute"),
    4: ("s", 2, _blob, "a string attribute"),
    5: ("t", 2, _tensor, "a tensor attribute"),
}
#: AttributeProto's value fields in field-number order (f 2 … strings 9), by the names of
#: onnx.proto; and the one each AttributeProto.AttributeType means (GRAPHS shares GRAPH's).
_VALUE_FIELDS = ("f", "i", "s", "t", "g", "floats", "ints", "strings")
_FIELD_OF_TYPE = {
    1: "f", 2: "i", 3: "s", 4: "t", 5: "g", 6: "floats", 7: "ints", 8: "strings", 9: "tensors",
    10: "g",
}  # fmt: skip


def _attribute(buf: Buffer, start: int, end: int) -> tuple[str, AttributeValue | Subgraph]:
    record: dict[str, Any] = {}
    ints: list[int] = []
    floats: list[float] = []
    strings: list[bytes] = []
    for number, wire, a, b in _read(buf, start, end, _ATTRIBUTE, record):
        if number in (6, 11):
            record["g"] = ()  # a sub-graph: recorded, never read
        elif number == 7:
            _floats(buf, wire, a, b, floats, "a floats attribute")
            record["floats"] = ()
        elif number == 8:
            _ints(buf, wire, a, b, ints, "an ints attribute")
            record["ints"] = ()
        elif number == 9:
            _expect(wire, 2, "a strings attribute")
            if b - a > MAX_LIST or len(strings) >= MAX_LIST:
                raise _Bad("a strings attribute is too long")
            strings.append(bytes(buf[a:b]))
            record["strings"] = ()
    name: str = record.get("name", "")
    kind: int = record.get("type", 0)
    # The type field says which value is meant; old files without it have only the value (and
    # an empty list has no field at all).
    field = _FIELD_OF_TYPE.get(kind) or next((f for f in _VALUE_FIELDS if f in record), "ints")
    if field == "g":
        return name, Subgraph(name)
    if field == "floats":
        return name, tuple(floats)
    if field == "ints":
        return name, tuple(ints)
    if field == "strings":
        return name, tuple(strings)
    if field == "tensors" or kind in (11, 12, 13, 14):
        return name, ()  # tensor lists, sparse tensors, type protos: never needed here
    if field in record:
        value: AttributeValue = record[field]
        return name, value
    raise _Bad(f"attribute {name!r} has no value")


_NODE: _Schema = {
    3: ("name", 2, _text, "a node's name"),
    4: ("op_type", 2, _text, "a node's op_type"),
    7: ("domain", 2, _text, "a node's domain"),
}


def _node(buf: Buffer, start: int, end: int) -> Node:
    record: dict[str, Any] = {}
    inputs: list[str] = []
    outputs: list[str] = []
    attributes: dict[str, AttributeValue | Subgraph] = {}
    for number, wire, a, b in _read(buf, start, end, _NODE, record):
        if number in (1, 2):
            _expect(wire, 2, "a node's input or output")
            target = inputs if number == 1 else outputs
            target.append(_text(buf, a, b, "a node's input or output name"))
            if len(target) > MAX_LIST:
                raise _Bad(f"a node has more than {MAX_LIST} inputs or outputs")
        elif number == 5:
            _expect(wire, 2, "a node's attribute")
            key, value = _attribute(buf, a, b)
            attributes[key] = value
            if len(attributes) > MAX_LIST:
                raise _Bad("a node has too many attributes")
    name: str = record.get("name", "")
    op_type: str = record.get("op_type", "")
    if not op_type:
        raise _Bad(f"node {name!r} has no op_type")
    domain: str = record.get("domain", "")
    return Node(name, op_type, domain, tuple(inputs), tuple(outputs), attributes)


#: TensorShapeProto.Dimension: a dim_value or a dim_param, whichever comes last.
_DIMENSION: _Schema = {
    1: ("dim", 0, _int64, "a dim_value"),
    2: ("dim", 2, _text, "a dim_param"),
}


def _shape(buf: Buffer, start: int, end: int, _what: str = "") -> tuple[Dim, ...]:
    dims: list[Dim] = []
    for number, wire, a, b in _fields(buf, start, end):
        if number != 1:
            continue
        _expect(wire, 2, "a shape's dim")
        record: dict[str, Any] = {}
        _merge(buf, a, b, _DIMENSION, record)
        dim: Dim = record.get("dim")
        if isinstance(dim, int) and not 0 <= dim <= MAX_DIM:
            dim = None  # -1 and the like: unknown
        dims.append(dim)
        if len(dims) > MAX_RANK:
            raise _Bad(f"a shape has more than {MAX_RANK} dims")
    return tuple(dims)


#: ValueInfoProto, with its TypeProto and TypeProto.Tensor read into the same record (the
#: other kinds of type, sequences, maps and optionals, have no tensor shape).
_TENSOR_TYPE: _Schema = {
    1: ("elem_type", 0, _number, "an elem_type"),
    2: ("dims", 2, _shape, "a tensor shape"),
}
_VALUE_INFO: _Schema = {
    1: ("name", 2, _text, "a value's name"),
    2: ("", 2, {1: ("", 2, _TENSOR_TYPE, "a tensor type")}, "a value's type"),
}


def _value_info(buf: Buffer, start: int, end: int) -> TensorInfo:
    record: dict[str, Any] = {}
    _merge(buf, start, end, _VALUE_INFO, record)
    return TensorInfo(record.get("name", ""), record.get("elem_type", 0), record.get("dims"))


_GraphParts = tuple[
    str, list[Node], dict[str, Initializer], list[TensorInfo], list[TensorInfo], list[TensorInfo]
]
_GRAPH: _Schema = {2: ("name", 2, _text, "the graph's name")}


def _graph(buf: Buffer, start: int, end: int) -> _GraphParts:
    record: dict[str, Any] = {}
    nodes: list[Node] = []
    initializers: dict[str, Initializer] = {}
    inputs: list[TensorInfo] = []
    outputs: list[TensorInfo] = []
    infos: list[TensorInfo] = []
    for number, wire, a, b in _read(buf, start, end, _GRAPH, record):
        if number == 1:
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
    return record.get("name", ""), nodes, initializers, inputs, outputs, infos


_MODEL: _Schema = {
    1: ("ir_version", 0, _number, "ir_version"),
    2: ("producer", 2, _text, "producer_name"),
    7: ("graph", 2, _span, "the graph"),
}
_OPSET: _Schema = {
    1: ("domain", 2, _text, "an opset domain"),
    2: ("version", 0, _int64, "an opset version"),
}


def parse_model(buf: Buffer) -> Graph:
    """The main graph of the serialized ModelProto in ``buf``; raises ``_Bad`` if malformed."""
    record: dict[str, Any] = {}
    opsets: dict[str, int] = {}
    for number, wire, a, b in _read(buf, 0, len(buf), _MODEL, record):
        if number == 8:
            _expect(wire, 2, "an opset import")
            opset: dict[str, Any] = {}
            _merge(buf, a, b, _OPSET, opset)
            opsets[opset.get("domain", "")] = opset.get("version", 0)
            if len(opsets) > MAX_LIST:
                raise _Bad("too many opset imports")
    graph: tuple[int, int] | None = record.get("graph")
    ir_version: int = record.get("ir_version", -1)
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
        producer=record.get("producer", ""),
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
