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
    assert isinstance(outcome, Graph) or outcome.where == "random.onnx"  # type: ignore[attr-defined]


def _raw_data_spans(data: bytes) -> list[tuple[int, int]]:
    """Where each initializer's raw_data bytes are (through the reader's own field walker)."""
    from dsc_calc.onnx.reader import _fields

    spans = []
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
