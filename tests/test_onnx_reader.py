"""The ONNX wire-format reader: what it reads from real files, and how it refuses bad ones.

The fixtures under tests/fixtures/onnx/ are made by make_fixtures.py there; these tests need no
onnx package (the comparisons with onnx.load skip without it).
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsc_calc.errors import DscCalcError
from dsc_calc.onnx.reader import (
    MAX_FILE_BYTES,
    Graph,
    Initializer,
    Subgraph,
    parse_bytes,
    read_graph,
)

FIXTURES = Path(__file__).parent / "fixtures" / "onnx"
TINY = FIXTURES / "tiny_cnn.onnx"


def test_reads_nodes_attributes_initializers_and_symbolic_dims() -> None:
    graph = read_graph(TINY)
    assert graph.opset == 17
    assert graph.producer == "dsc-calc fixtures"
    assert [node.op_type for node in graph.nodes] == [
        "Conv", "BatchNormalization", "Relu", "Conv", "Conv", "Clip", "GlobalAveragePool",
        "Flatten", "Gemm",
    ]  # fmt: skip
    stem = graph.nodes[0]
    assert stem.name == "stem"
    assert stem.inputs == ("x", "w1", "b1")
    assert stem.outputs == ("c1",)
    assert stem.attributes["strides"] == (2, 2)
    assert stem.attributes["pads"] == (1, 1, 1, 1)
    assert graph.nodes[3].attributes["group"] == 8
    assert graph.nodes[-1].attributes["transB"] == 1
    assert graph.initializers["w1"].dims == (8, 3, 3, 3)
    assert graph.initializers["w1"].values is None  # 216 elements: never decoded
    assert graph.initializers["hi"].values == (6.0,)  # a scalar: decoded
    assert graph.inputs[0].dims == ("N", 3, 32, 32)
    assert graph.outputs[0].dims == ("N", 10)


def test_matches_onnx_load() -> None:
    onnx = pytest.importorskip("onnx")
    for path in sorted(FIXTURES.glob("*.onnx")):
        if path.name == "external.onnx":
            continue  # onnx.load needs the (deleted) data file
        reference = onnx.load(str(path))
        graph = read_graph(path)
        assert [n.op_type for n in graph.nodes] == [n.op_type for n in reference.graph.node]
        assert [n.inputs for n in graph.nodes] == [tuple(n.input) for n in reference.graph.node]
        assert {t.name: t.dims for t in graph.initializers.values()} == {
            t.name: tuple(t.dims) for t in reference.graph.initializer
        }
        for ours, theirs in zip(graph.nodes, reference.graph.node, strict=True):
            assert set(ours.attributes) == {a.name for a in theirs.attribute}


def test_small_integer_tensors_from_raw_data_and_typed_fields() -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    raw = helper.make_tensor("raw", TensorProto.INT64, [3], struct.pack("<3q", 1, -2, 3), raw=True)
    typed = helper.make_tensor("typed", TensorProto.INT32, [2], [7, -8])
    floats = helper.make_tensor("floats", TensorProto.FLOAT, [2], [0.5, 2.0])
    big = helper.make_tensor("big", TensorProto.INT64, [100], list(range(100)))
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [raw, typed, floats, big],
    )
    data = helper.make_model(graph).SerializeToString()
    read = parse_bytes(data)
    assert read.initializers["raw"].values == (1, -2, 3)
    assert read.initializers["typed"].values == (7, -8)
    assert read.initializers["floats"].values == (0.5, 2.0)
    assert read.initializers["big"].values is None
    assert read.initializers["big"].dims == (100,)
    del onnx


def test_external_data_whose_file_is_missing_still_reads() -> None:
    assert not (FIXTURES / "external.data").exists()
    graph = read_graph(FIXTURES / "external.onnx")
    weight = graph.initializers["w1"]
    assert isinstance(weight, Initializer)
    assert weight.external
    assert weight.dims == (8, 3, 3, 3)


def test_if_subgraph_is_recorded_not_descended() -> None:
    graph = read_graph(FIXTURES / "with_if.onnx")
    (node,) = graph.nodes
    assert isinstance(node.attributes["then_branch"], Subgraph)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"name": "x", "layers": []}', "not a readable ONNX model"),
        (b"\x00\x01\x02", "not a readable ONNX model"),
        # A valid protobuf of something else: field 1 = 150, field 2 = "hi" (no graph).
        (b"\x08\x96\x01\x12\x02hi", "protobuf of something else"),
        (b"\x3a\xff\xff\xff\x0f", "past the end"),  # a graph whose length runs past the end
        (b"\x08" + b"\xff" * 11, "longer than 10 bytes"),
        (b"\x0b", "wire type 3"),  # a start-group key
    ],
)
def test_bad_bytes_are_one_clean_error(data: bytes, problem: str) -> None:
    with pytest.raises(DscCalcError, match=problem):
        parse_bytes(data, "m.onnx")


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    data = TINY.read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DscCalcError, match="truncated") as caught:
        read_graph(path)
    assert caught.value.where == str(path)


def test_file_over_two_gigabytes_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.onnx"
    with path.open("wb") as handle:  # a sparse file: no disk used
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DscCalcError, match="2 GB"):
        read_graph(path)


@pytest.mark.parametrize("name", ["missing.onnx", ""])
def test_missing_empty_and_directory(tmp_path: Path, name: str) -> None:
    if name:
        with pytest.raises(DscCalcError, match="no such file"):
            read_graph(tmp_path / name)
    else:
        with pytest.raises(DscCalcError, match="directory"):
            read_graph(tmp_path)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(DscCalcError, match="empty"):
        read_graph(empty)


def _mutations(data: bytes, seed: int) -> bytes:
    chooser = random.Random(seed)  # noqa: S311 - reproducible mutations, not secrets
    buffer = bytearray(data)
    for _ in range(chooser.randint(1, 8)):
        action = chooser.randrange(4)
        position = chooser.randrange(len(buffer)) if buffer else 0
        if action == 0 and buffer:
            buffer[position] = chooser.randrange(256)
        elif action == 1:
            buffer.insert(position, chooser.randrange(256))
        elif action == 2 and buffer:
            del buffer[position : position + chooser.randint(1, 16)]
        else:
            buffer = buffer[:position]
    return bytes(buffer)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), which=st.sampled_from(["tiny_cnn", "chunk", "nhwc"]))
def test_fuzzed_real_files_read_or_fail_cleanly(seed: int, which: str) -> None:
    """Random mutations of real files: a graph or a DscCalcError, never another exception."""
    data = _mutations((FIXTURES / f"{which}.onnx").read_bytes(), seed)
    outcome: object
    try:
        outcome = parse_bytes(data, "fuzz.onnx")
    except DscCalcError as error:
        outcome = error
    if isinstance(outcome, DscCalcError):
        assert outcome.where == "fuzz.onnx"
    else:
        assert isinstance(outcome, Graph)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_read_or_fail_cleanly(data: bytes) -> None:
    outcome: object
    try:
        outcome = parse_bytes(data, "random.onnx")
    except DscCalcError as error:
        outcome = error
    assert isinstance(outcome, Graph) or outcome.where == "random.onnx"


def _raw_data_spans(data: bytes) -> list[tuple[int, int]]:
    """Where each initializer's raw_data bytes are (through the reader's own field walker)."""
    from dsc_calc.onnx.reader import _fields

    spans: list[tuple[int, int]] = []
    for number, _wire, a, b in _fields(data, 0, len(data)):
        if number != 7:
            continue
        for inner, _w, c, d in _fields(data, a, b):
            if inner == 5:
                spans.extend((e, f) for field, _x, e, f in _fields(data, c, d) if field == 9)
    return spans


def test_weight_bytes_are_never_looked_at() -> None:
    """Garbage in every large raw_data field reads exactly the same graph."""
    data = bytearray(TINY.read_bytes())
    before = read_graph(TINY)
    spans = [(a, b) for a, b in _raw_data_spans(bytes(data)) if b - a > 64 * 4]
    assert spans  # the conv and gemm weights
    for a, b in spans:
        data[a:b] = b"\xff" * (b - a)
    assert parse_bytes(bytes(data)) == before


def test_json_spec_path_never_imports_the_onnx_code(tmp_path: Path) -> None:
    spec = tmp_path / "net.json"
    spec.write_text(
        json.dumps({"name": "n", "input": {"channels": 3, "height": 8, "width": 8},
                    "layers": [{"type": "conv", "out": 4}]}),
        encoding="utf-8",
    )  # fmt: skip
    code = (
        "import sys; from dsc_calc.cli import main; sys.argv=['dsc-calc','network',"
        f"{str(spec)!r},'--json'];\ntry: main()\nexcept SystemExit: pass\n"
        "assert not [m for m in sys.modules if m.startswith('dsc_calc.onnx') or m == 'onnx'], "
        "sorted(m for m in sys.modules if 'onnx' in m)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- Hand-encoded messages: each field form and each wrong wire type ---------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def vi(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def f32(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


def model_of(*graph_fields: bytes, extra: bytes = b"") -> bytes:
    return vi(1, 8) + ld(8, ld(1, b"") + vi(2, 17)) + ld(7, b"".join(graph_fields)) + extra


def node_of(*fields: bytes) -> bytes:
    return ld(1, ld(4, b"Relu") + b"".join(fields))


def tensor_of(*fields: bytes) -> bytes:
    return ld(5, b"".join(fields))


def test_typed_tensor_data_fields_and_packed_dims() -> None:
    packed_dims = ld(1, _varint(2) + _varint(2))
    graph = parse_bytes(
        model_of(
            tensor_of(ld(8, b"f"), packed_dims, vi(2, 1), ld(4, struct.pack("<4f", 1, 2, 3, 4))),
            tensor_of(
                ld(8, b"i"), vi(1, 3), vi(2, 6), ld(5, _varint(5) + _varint(-1) + _varint(7))
            ),
            tensor_of(ld(8, b"l"), vi(1, 2), vi(2, 7), vi(7, 9), vi(7, (1 << 64) - 2)),
            tensor_of(ld(8, b"d"), vi(1, 1), vi(2, 11), ld(10, struct.pack("<d", 0.25))),
            tensor_of(ld(8, b"u"), vi(1, 1), vi(2, 13), vi(11, 2**63)),
            tensor_of(ld(8, b"b"), vi(1, 2), vi(2, 9), ld(5, _varint(0) + _varint(3))),
            tensor_of(ld(8, b"short"), vi(1, 3), vi(2, 7), vi(7, 1)),
            tensor_of(ld(8, b"h"), vi(1, 1), vi(2, 10), vi(5, 15360)),
            tensor_of(ld(8, b"s"), vi(1, 1), vi(2, 8), ld(6, b"text")),
            tensor_of(ld(8, b"raw"), vi(1, 2), vi(2, 7), ld(9, b"\x00" * 3)),
            tensor_of(ld(8, b"ext"), vi(1, 2), vi(2, 7), vi(14, 1)),
        )
    )
    values = {name: tensor.values for name, tensor in graph.initializers.items()}
    assert values == {
        "f": (1.0, 2.0, 3.0, 4.0), "i": (5, -1, 7), "l": (9, -2), "d": (0.25,), "u": (2**63,),
        "b": (0, 1), "short": None, "h": None, "s": None, "raw": None, "ext": None,
    }  # fmt: skip
    assert graph.initializers["f"].dims == (2, 2)
    assert graph.initializers["ext"].external


def test_attribute_forms() -> None:
    attributes = [
        ld(5, ld(1, b"f") + f32(2, 0.5) + vi(20, 1)),
        ld(5, ld(1, b"i") + vi(3, (1 << 64) - 1) + vi(20, 2)),
        ld(5, ld(1, b"s") + ld(4, b"SAME_UPPER") + vi(20, 3)),
        ld(5, ld(1, b"t") + ld(5, vi(1, 1) + vi(2, 7) + vi(7, 4)) + vi(20, 4)),
        ld(5, ld(1, b"g") + ld(6, b"") + vi(20, 5)),
        ld(5, ld(1, b"fs") + ld(7, struct.pack("<2f", 1, 2)) + f32(7, 3) + vi(20, 6)),
        ld(5, ld(1, b"is") + vi(8, 1) + ld(8, _varint(2) + _varint(3)) + vi(20, 7)),
        ld(5, ld(1, b"ss") + ld(9, b"a") + ld(9, b"b") + vi(20, 8)),
        ld(5, ld(1, b"ts") + vi(20, 9)),
        ld(5, ld(1, b"empty") + vi(20, 7)),
        ld(5, ld(1, b"untyped") + vi(3, 4)),
    ]
    graph = parse_bytes(
        model_of(node_of(ld(1, b"x"), ld(2, b"y"), ld(3, b"n"), ld(7, b""), *attributes))
    )
    attrs = graph.nodes[0].attributes
    assert attrs["f"] == 0.5
    assert attrs["i"] == -1
    assert attrs["s"] == b"SAME_UPPER"
    tensor = attrs["t"]
    assert isinstance(tensor, Initializer)
    assert tensor.values == (4,)
    assert isinstance(attrs["g"], Subgraph)
    assert attrs["fs"] == (1.0, 2.0, 3.0)
    assert attrs["is"] == (1, 2, 3)
    assert attrs["ss"] == (b"a", b"b")
    assert attrs["ts"] == ()
    assert attrs["empty"] == ()
    assert attrs["untyped"] == 4


def test_value_info_shapes() -> None:
    def info(name: bytes, *dims: bytes) -> bytes:
        shape = b"".join(ld(1, d) for d in dims)
        return ld(1, name) + ld(2, ld(1, vi(1, 1) + ld(2, shape)))

    graph = parse_bytes(
        model_of(
            ld(11, info(b"x", vi(1, 2), ld(2, b"N"), b"", vi(1, (1 << 64) - 1))),
            ld(12, ld(1, b"seq") + ld(2, ld(4, b""))),
            ld(13, info(b"v", vi(1, 3))),
            ld(2, b"main"),
        )
    )
    assert graph.inputs[0].dims == (2, "N", None, None)
    assert graph.outputs[0].dims is None
    assert graph.value_info["v"].dims == (3,)
    assert graph.name == "main"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (model_of(vi(1, 3)), "a node has the wrong wire type"),
        (model_of(ld(1, ld(3, b"n"))), "has no op_type"),
        (model_of(node_of(vi(1, 2))), "input or output has the wrong wire type"),
        (model_of(node_of(vi(3, 2))), "a node's name has the wrong wire type"),
        (model_of(node_of(vi(5, 2))), "a node's attribute has the wrong wire type"),
        (model_of(node_of(ld(5, ld(1, b"a") + vi(2, 1)))), "a float attribute has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + ld(3, b"")))), "an int attribute has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + vi(4, 1)))), "a string attribute has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + vi(5, 1)))), "a tensor attribute has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + vi(7, 1)))), "a floats attribute has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + f32(8, 1)))), "an ints attribute has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + vi(9, 1)))), "a strings attribute has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + vi(20, 1)))), "attribute 'a' has no value"),
        (model_of(node_of(ld(5, vi(1, 1)))), "an attribute's name has the wrong"),
        (model_of(node_of(ld(5, ld(20, b"")))), "an attribute's type has the wrong"),
        (model_of(node_of(ld(5, ld(1, b"a") + ld(7, b"\x00")))), "not a whole number of floats"),
        (model_of(node_of(ld(1, b"\xff"))), "not UTF-8"),
        (model_of(tensor_of(ld(2, b""))), "data_type has the wrong"),
        (model_of(tensor_of(vi(8, 1))), "a tensor's name has the wrong"),
        (model_of(tensor_of(vi(9, 1))), "raw_data has the wrong"),
        (model_of(tensor_of(vi(14, 1) + ld(14, b""))), "data_location has the wrong"),
        (model_of(tensor_of(vi(1, (1 << 64) - 1))), "out of range"),
        (model_of(tensor_of(f32(1, 1))), "dims has the wrong wire type"),
        (model_of(tensor_of(vi(1, 1) + vi(2, 11) + vi(10, 1))), "double_data is malformed"),
        (model_of(tensor_of(b"".join(vi(1, 1) for _ in range(65)))), "more than 64 dims"),
        (model_of(vi(5, 1)), "an initializer has the wrong"),
        (model_of(vi(11, 1)), "a graph input, output or value info has the wrong"),
        (model_of(vi(2, 1)), "the graph's name has the wrong"),
        (model_of(ld(11, vi(1, 1))), "a value's name has the wrong"),
        (model_of(ld(11, vi(2, 1))), "a value's type has the wrong"),
        (model_of(ld(11, ld(2, vi(1, 1)))), "a tensor type has the wrong"),
        (model_of(ld(11, ld(2, ld(1, ld(1, b""))))), "an elem_type has the wrong"),
        (model_of(ld(11, ld(2, ld(1, vi(2, 1))))), "a tensor shape has the wrong"),
        (model_of(ld(11, ld(2, ld(1, ld(2, vi(1, 1)))))), "a shape's dim has the wrong"),
        (model_of(ld(11, ld(2, ld(1, ld(2, ld(1, ld(1, b""))))))), "a dim_value has the wrong"),
        (model_of(ld(11, ld(2, ld(1, ld(2, ld(1, vi(2, 1))))))), "a dim_param has the wrong"),
        (vi(1, 8) + vi(7, 1), "the graph has the wrong"),
        (ld(1, b"") + ld(7, b""), "ir_version has the wrong"),
        (vi(1, 8) + vi(2, 1) + ld(7, b""), "producer_name has the wrong"),
        (vi(1, 8) + vi(8, 1) + ld(7, b""), "an opset import has the wrong"),
        (vi(1, 8) + ld(8, vi(1, 1)) + ld(7, b""), "an opset domain has the wrong"),
        (vi(1, 8) + ld(8, ld(2, b"")) + ld(7, b""), "an opset version has the wrong"),
        (ld(7, b""), "no ir_version"),
        (vi(0, 1), "number 0"),
        (vi(1, 8) + b"\x09\x00", "fixed 64-bit field runs past"),
        (vi(1, 8) + b"\x0d\x00", "fixed 32-bit field runs past"),
    ],
)
def test_malformed_messages(data: bytes, problem: str) -> None:
    with pytest.raises(DscCalcError, match=problem):
        parse_bytes(data, "m.onnx")


def test_fixed_width_fields_are_skipped() -> None:
    graph = parse_bytes(vi(1, 8) + b"\x49" + b"\x00" * 8 + b"\x4d" + b"\x00" * 4 + ld(7, b""))
    assert graph.nodes == ()
    assert graph.opset == 0
