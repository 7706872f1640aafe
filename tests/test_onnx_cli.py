"""``dsc-calc network MODEL.onnx``: the report of a spec, from the committed fixtures.

Needs no onnx package: the fixtures are committed (made by tests/fixtures/onnx/make_fixtures.py).
Expected figures are closed forms of the fixture's layers (written out in make_fixtures.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error

FIXTURES = Path(__file__).parent / "fixtures" / "onnx"
TINY = str(FIXTURES / "tiny_cnn.onnx")

#: tiny_cnn at 32×32: conv 3→8 3×3 s2 (16×16 out) + bias, BN 8, dw 3×3 8, pw 8→16, fc 16→10 + bias.
TINY_PARAMS = 8 * 27 + 8 + 2 * 8 + 8 * 9 + 16 * 8 + 16 * 10 + 10
TINY_MACS = 8 * 256 * 27 + 8 * 256 * 9 + 16 * 256 * 8 + 16 * 10


def test_json_report_of_an_onnx_file(cli: Any) -> None:
    outcome = cli("network", TINY, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    document = outcome.json()
    assert document["totals"]["params"] == TINY_PARAMS
    assert document["totals"]["macs"] == TINY_MACS
    assert [row["name"] for row in document["layers"]] == [
        "stem", "stem_bn", "stem_relu", "dw", "pw", "relu6", "pool", "flatten", "fc",
    ]  # fmt: skip
    assert [row["kind"] for row in document["layers"]][:5] == [
        "conv", "other", "other", "depthwise", "pointwise",
    ]  # fmt: skip
    assert document["layers"][0]["op_type"] == "Conv"
    assert document["layers"][0]["geometry"] == "conv 3×3 3→8 s2 +bias"
    assert document["input"] == {"channels": 3, "height": 32, "width": 32}
    assert document["by_type"]["depthwise"]["macs"] == 8 * 256 * 9
    assert document["onnx"]["not_costed"] == {}
    assert document["onnx"]["inputs"] == {"x": [1, 3, 32, 32]}
    assert outcome.stderr == ""


def test_input_shape_and_batch(cli: Any) -> None:
    shaped = cli("network", TINY, "--input-shape", "2x3x64x64", "--json").json()
    per_sample = 8 * 1024 * 27 + 8 * 1024 * 9 + 16 * 1024 * 8 + 16 * 10
    assert shaped["totals"]["macs"] == 2 * per_sample
    assert shaped["batch"] == 2
    named = cli("network", TINY, "--input-shape", "x=1x3x64x64", "--json").json()
    assert named["totals"]["macs"] == per_sample
    batched = cli("network", TINY, "--batch", "3", "--json").json()
    assert batched["totals"]["macs"] == 3 * TINY_MACS
    assert_clean_error(cli("network", TINY, "--input-shape", "1x3x64"), "--input-shape", "rank")
    assert_clean_error(cli("network", TINY, "--input-shape", "3 by 4"), "--input-shape")
    assert_clean_error(
        cli("network", TINY, "--input-shape", "y=1x3x8x8"), "--input-shape", "no input named 'y'"
    )


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "json"])
def test_every_format_top_and_sort(cli: Any, fmt: str) -> None:
    outcome = cli("network", TINY, "--format", fmt, "--top", "2", "--sort", "macs")
    assert outcome.exit_code == 0, outcome.stderr
    if fmt == "json":
        assert len(outcome.json()["layers"]) == 9
    else:
        assert "stem" in outcome.stdout
        assert "stem_relu" not in outcome.stdout  # cut by --top 2 (stem, pw)
    if fmt == "table":
        assert "ONNX import: MACs are the multiply-accumulates" in " ".join(outcome.stdout.split())


def test_what_if_separable_and_standard(cli: Any) -> None:
    separable = cli("network", TINY, "--what-if", "separable", "--json").json()["what_if"]
    (change,) = separable["changes"]
    assert change["layers"] == ["stem"]
    # dw 3×3 on 3 channels (+3 bias) and pw 3→8 (+8 bias) at 16×16
    assert change["new"]["params"] == 3 * 9 + 3 + 3 * 8 + 8
    assert change["new"]["macs"] == 3 * 256 * 9 + 8 * 256 * 3
    standard = cli("network", TINY, "--what-if", "standard", "--json").json()["what_if"]
    (merged,) = standard["changes"]
    assert merged["layers"] == ["dw", "pw"]
    assert merged["new"]["macs"] == 16 * 256 * 8 * 9


def test_memory_report_works_on_imported_rows(cli: Any) -> None:
    outcome = cli("network", TINY, "--memory", "--profile", "example-desktop", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    document = outcome.json()
    assert document["memory"]["weights_bytes"] == 4 * TINY_PARAMS


def test_recognised_by_content_without_the_extension(cli: Any, tmp_path: Path) -> None:
    copy = tmp_path / "model.bin"
    shutil.copy(TINY, copy)
    assert cli("network", str(copy), "--json").json()["totals"]["macs"] == TINY_MACS


def test_nhwc_input_shows_as_nchw(cli: Any) -> None:
    document = cli("network", str(FIXTURES / "nhwc.onnx"), "--json").json()
    assert document["input"] == {"channels": 3, "height": 9, "width": 9}
    assert document["totals"]["macs"] == 4 * 25 * 27  # SAME_UPPER, stride 2: 5×5 out


def test_external_data_missing_is_fine(cli: Any) -> None:
    document = cli("network", str(FIXTURES / "external.onnx"), "--json").json()
    assert document["totals"]["params"] == TINY_PARAMS


def test_bad_files_are_one_clean_error(cli: Any, tmp_path: Path) -> None:
    assert_clean_error(cli("network", str(FIXTURES / "with_if.onnx")), "with_if.onnx", "'branch'")
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(Path(TINY).read_bytes()[:700])
    assert_clean_error(cli("network", str(cut)), "cut.onnx", "truncated")
    fake = tmp_path / "fake.onnx"
    fake.write_text(json.dumps({"name": "x"}), encoding="utf-8")
    assert_clean_error(cli("network", str(fake)), "fake.onnx", "not a readable ONNX model")
    assert_clean_error(cli("network", str(tmp_path / "gone.onnx")), "gone.onnx", "no such file")
    assert_clean_error(cli("network", TINY, "--alpha", "0.5"), "--alpha")
    assert_clean_error(cli("network", "mobilenet_v1", "--input-shape", "1x3x8x8"), "--input-shape")


def test_not_costed_ops_go_to_stderr_and_json(cli: Any, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Einsum", ["x", "x"], ["y"], equation="ij,ij->ij")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
    )
    path = tmp_path / "einsum.onnx"
    onnx.save(helper.make_model(graph), str(path))
    outcome = cli("network", str(path), "--json")
    assert outcome.exit_code == 0
    assert outcome.json()["onnx"]["not_costed"] == {"Einsum": 1}
    assert "Not costed (MACs unknown, not 0)" in outcome.stderr
    assert "Einsum ×1" in outcome.stderr


def test_from_torch_without_torch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import dsc_calc
    from dsc_calc.errors import DscCalcError

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(DscCalcError, match="needs PyTorch, which is not installed"):
        dsc_calc.from_torch(object(), (1, 3, 8, 8))


def test_onnx_json_decodes_as_the_network_contract(cli: Any) -> None:
    import msgspec

    from dsc_calc.output.contracts import NetworkDocument

    outcome = cli("network", TINY, "--json", "--memory")
    document = msgspec.json.decode(outcome.stdout.encode(), type=NetworkDocument)
    assert document.totals.macs == TINY_MACS
    assert len(document.layers) == 9


def test_batch_and_input_shape_must_agree(cli: Any, tmp_path: Path) -> None:
    assert_clean_error(
        cli("network", TINY, "--batch", "2", "--input-shape", "1x3x32x32"), "--batch", "batch of 1"
    )
    spec_named_onnx = tmp_path / "spec.onnx"
    spec_named_onnx.write_text('{"name": "x"}', encoding="utf-8")
    assert_clean_error(cli("network", str(spec_named_onnx)), "spec.onnx", "looks like JSON")
