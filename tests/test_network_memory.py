"""`dsc-calc network` memory options: per-row traffic, peak activation memory, roofline latency
and the standard vs separable design comparison, proven by hand-computed closed forms."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc.memory.network import network_memory_report
from dsc_calc.network.load import load_network
from dsc_calc.network.redesign import redesigned_rows
from dsc_calc.network.walk import analyse
from dsc_calc.output.tables import TableView, tables_of

SIZES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}

#: 4x8x8 -> pwconv 8 -> relu -> pwconv 4 (no bias by default): every shape is C x 8 x 8.
PLAIN = {
    "name": "plain",
    "input": {"channels": 4, "height": 8, "width": 8},
    "layers": [{"type": "pwconv", "out": 8}, {"type": "relu"}, {"type": "pwconv", "out": 4}],
}
#: The same three layers inside a residual block with an identity shortcut, then the add.
RESIDUAL = {
    "name": "residual",
    "input": {"channels": 4, "height": 8, "width": 8},
    "layers": [{"type": "residual", "layers": PLAIN["layers"]}],
}
HW = 8 * 8


def _spec(tmp_path: Path, spec: dict[str, Any]) -> str:
    path = tmp_path / f"{spec['name']}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return str(path)


def _json(*args: str) -> dict[str, Any]:
    outcome = run_cli("network", *args, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    document: dict[str, Any] = outcome.json()
    return document


def _example_profile(name: str) -> dict[str, Any]:
    """The shipped example profile file, read as plain JSON (not through our loader)."""
    text = resources.files("dsc_calc.memory").joinpath("profiles", f"{name}.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.parametrize("dtype", list(SIZES))
def test_plain_chain_bytes_are_elements_times_dtype_size(tmp_path: Path, dtype: str) -> None:
    """Each row's weights/input/output bytes are its params and activation elements times the size."""
    size = SIZES[dtype]
    document = _json(_spec(tmp_path, PLAIN), "--dtype", dtype, "--batch", "3")
    # (params, input elements, output elements) per row, by hand: 4->8 1x1, relu on 8, 8->4 1x1.
    expected = [(4 * 8, 4 * HW, 8 * HW), (0, 8 * HW, 8 * HW), (8 * 4, 8 * HW, 4 * HW)]
    for row, (params, inputs, outputs) in zip(document["layers"], expected, strict=True):
        weights, read, written = params * size, 3 * inputs * size, 3 * outputs * size
        assert row["memory"] == {
            "weights_bytes": weights,
            "input_bytes": read,
            "output_bytes": written,
            "access_cost": weights + read + written,
        }
        assert row["intensity"] == pytest.approx(row["flops"] / (weights + read + written))
        assert row["roofline"] is None
    memory = document["memory"]
    assert memory["dtype"] == dtype
    assert memory["bytes_per_element"] == size
    assert memory["weights_bytes"] == (32 + 32) * size
    # No residual: the live memory of a row is its input + output; the relu's 8 + 8 planes peak.
    assert memory["peak_activation_bytes"] == 3 * (8 * HW + 8 * HW) * size
    assert memory["peak_row"] == document["layers"][1]["name"]
    assert memory["traffic"]["access_cost"] == sum(
        row["memory"]["access_cost"] for row in document["layers"]
    )
    assert memory["latency"] is None
    assert document["latency"] is None
    assert document["profile"] is None


def test_residual_block_keeps_its_input_alive_for_the_peak(tmp_path: Path) -> None:
    """Inside a residual block every row after the first also holds the block's input (the first
    reads it, so it is counted once there); the add holds the shortcut's output."""
    document = _json(_spec(tmp_path, RESIDUAL))
    names = [row["name"] for row in document["layers"]]
    live = [row["live_bytes"] for row in document["layers"]]
    held = 4 * HW  # the block's input, kept for the add
    by_hand = [
        (4 * HW + 8 * HW) * 4,  # pwconv 4 -> 8: its input is the held block input
        (8 * HW + 8 * HW + held) * 4,  # relu
        (8 * HW + 4 * HW + held) * 4,  # pwconv 8 -> 4
        (4 * HW + 4 * HW + 4 * HW) * 4,  # add: its input, its output, the shortcut's output
    ]
    assert live == by_hand
    assert document["memory"]["peak_activation_bytes"] == (8 * HW + 8 * HW + held) * 4
    assert document["memory"]["peak_row"] == names[1]
    plain = _json(_spec(tmp_path, PLAIN))
    assert plain["memory"]["peak_activation_bytes"] == (8 * HW + 8 * HW) * 4


def test_dtype_scales_every_byte_figure_exactly() -> None:
    """fp16/bf16/int8 byte figures are the fp32 ones times size/4, exactly; FLOP/B scales inversely."""
    base = _json("mobilenet_v2")
    for dtype in ("fp16", "bf16", "int8"):
        size = SIZES[dtype]
        scaled = _json("mobilenet_v2", "--dtype", dtype)
        for ours, theirs in zip(scaled["layers"], base["layers"], strict=True):
            assert ours["memory"] == {key: v * size // 4 for key, v in theirs["memory"].items()}
            assert ours["live_bytes"] == theirs["live_bytes"] * size // 4
            assert ours["intensity"] == pytest.approx(theirs["intensity"] * 4 / size)
        for key in ("weights_bytes", "peak_activation_bytes"):
            assert scaled["memory"][key] == base["memory"][key] * size // 4


def test_json_keeps_every_network_key_and_value() -> None:
    """The memory JSON is the plain network JSON with keys added and none changed."""
    plain: dict[str, Any] = json.loads(
        json.dumps(analyse(load_network("mobilenet_v1"), what_if="separable").to_dict())
    )
    document = _json("mobilenet_v1", "--what-if", "separable", "--profile", "example-laptop")
    assert set(document) == {*plain, "memory", "profile", "latency"}
    for key, value in plain.items():
        if key != "layers":
            assert document[key] == value, key
    for ours, theirs in zip(document["layers"], plain["layers"], strict=True):
        assert set(ours) == {*theirs, "memory", "live_bytes", "intensity", "roofline"}
        assert {key: ours[key] for key in theirs} == theirs
        assert set(ours["roofline"]) == {"time_s", "bound"}
    assert set(document["memory"]) == {
        "dtype",
        "bytes_per_element",
        "weights_bytes",
        "peak_activation_bytes",
        "peak_row",
        "traffic",
        "flops",
        "intensity",
        "latency",
    }
    assert set(document["latency"]) == {
        "network",
        "compared_with",
        "changes",
        "standard",
        "separable",
        "ratio",
        "saving",
    }


def test_roofline_arithmetic_on_a_preset_with_an_example_profile() -> None:
    """Each row's time is max(FLOPs / peak, bytes / bandwidth) of the profile file; latency sums."""
    machine = _example_profile("example-rpi4")
    peak, bandwidth = machine["peak_gflops"] * 1e9, machine["bandwidth_gbs"] * 1e9
    document = _json("mobilenet_v1", "--profile", "example-rpi4")
    times = []
    compute = memory = 0.0
    for row in document["layers"]:
        compute_s, memory_s = row["flops"] / peak, row["memory"]["access_cost"] / bandwidth
        bound = "compute" if compute_s >= memory_s else "memory"
        assert row["roofline"]["time_s"] == pytest.approx(max(compute_s, memory_s), rel=1e-12)
        assert row["roofline"]["bound"] == bound
        times.append(max(compute_s, memory_s))
        compute += max(compute_s, memory_s) if bound == "compute" else 0.0
        memory += max(compute_s, memory_s) if bound == "memory" else 0.0
    latency = document["memory"]["latency"]
    assert latency["time_s"] == pytest.approx(math.fsum(times), rel=1e-12)
    assert latency["shares"]["memory"] == pytest.approx(memory / (compute + memory))
    assert latency["bound"] == ("compute" if compute > memory else "memory")
    assert document["profile"]["ridge_intensity"] == pytest.approx(
        machine["peak_gflops"] / machine["bandwidth_gbs"]
    )


def test_mobilenet_standard_design_is_the_table4_conv_mobilenet() -> None:
    """mobilenet_v1's other design equals the hand-written Table 4 preset mobilenet_v1_full."""
    separable = _json("mobilenet_v1", "--profile", "example-desktop")
    full = _json("mobilenet_v1_full", "--profile", "example-desktop")
    latency = separable["latency"]
    assert (latency["network"], latency["compared_with"]) == ("separable", "what-if standard")
    assert latency["changes"] == 13
    standard = latency["standard"]
    assert standard["macs"] == full["totals"]["macs"]
    assert standard["weights_bytes"] == full["memory"]["weights_bytes"]
    assert standard["access_cost"] == full["memory"]["traffic"]["access_cost"]
    assert standard["peak_activation_bytes"] == full["memory"]["peak_activation_bytes"]
    assert standard["time_s"] == pytest.approx(full["memory"]["latency"]["time_s"], rel=1e-12)
    assert latency["separable"]["macs"] == separable["totals"]["macs"]
    assert latency["separable"]["time_s"] == separable["memory"]["latency"]["time_s"]
    ratio = latency["ratio"]
    assert ratio["macs"] == pytest.approx(separable["totals"]["macs"] / full["totals"]["macs"])
    assert ratio["time"] == pytest.approx(
        separable["memory"]["latency"]["time_s"] / full["memory"]["latency"]["time_s"]
    )
    assert latency["saving"]["time"] == pytest.approx(1 / ratio["time"])
    # The gap the documents describe: ~8.5x fewer MACs, a much smaller predicted speedup.
    assert 1 / ratio["macs"] > 8
    assert 1 < 1 / ratio["time"] < 1 / ratio["macs"] / 2


def test_standard_network_is_compared_with_its_separable_redesign() -> None:
    """A network of standard convs is the standard design; the other is its --what-if separable."""
    document = _json("mobilenet_v1_full", "--peak-gflops", "100", "--bandwidth-gbs", "10")
    latency = document["latency"]
    assert (latency["network"], latency["compared_with"]) == ("standard", "what-if separable")
    assert latency["standard"]["macs"] == document["totals"]["macs"]
    what_if = analyse(load_network("mobilenet_v1_full"), what_if="separable").what_if
    assert what_if is not None
    assert latency["separable"]["macs"] == what_if.after.macs
    assert latency["changes"] == len(what_if.changes)


def test_given_what_if_mode_chooses_the_other_design() -> None:
    """--what-if separable on mobilenet_v1 compares it with that redesign (only the stem changes)."""
    document = _json("mobilenet_v1", "--what-if", "separable", "--profile", "example-desktop")
    latency = document["latency"]
    assert (latency["network"], latency["changes"]) == ("standard", 1)
    assert latency["separable"]["macs"] == document["what_if"]["totals"]["after"]["macs"]


@pytest.mark.parametrize("mode", ["separable", "standard"])
@pytest.mark.parametrize("preset", ["mobilenet_v1", "mobilenet_v1_full", "xception"])
def test_redesigned_rows_cost_what_the_what_if_reports(preset: str, mode: str) -> None:
    """The other design's rows add up to the what-if's totals after the redesign."""
    report = analyse(load_network(preset), what_if=mode)
    assert report.what_if is not None
    rows = redesigned_rows(report.rows, report.what_if)
    after = report.what_if.after
    assert sum(row.cost.macs for row in rows) == after.macs
    assert sum(row.cost.flops for row in rows) == after.flops
    # The batch norm between a merged pair goes with it, so params match the what-if's too.
    assert sum(row.cost.params for row in rows) == after.params
    assert rows[-1].output == report.output


@settings(max_examples=40, deadline=None)
@given(
    widths=st.lists(st.integers(1, 24), min_size=1, max_size=6),
    size=st.integers(1, 9),
    batch=st.integers(1, 4),
    dtype=st.sampled_from(list(SIZES)),
)
def test_chain_totals_are_the_sums_of_rows(
    widths: list[int], size: int, batch: int, dtype: str
) -> None:
    """For any chain of pointwise convs, traffic totals are row sums and the peak is a row's live."""
    spec = {
        "name": "chain",
        "input": {"channels": 3, "height": size, "width": size},
        "layers": [{"type": "pwconv", "out": width} for width in widths],
    }
    report = analyse(load_network("-", stdin=json.dumps(spec).encode()), batch=batch)
    document = network_memory_report(report, dtype=dtype).to_dict()
    rows: list[dict[str, Any]] = document["layers"]  # type: ignore[assignment]
    memory: dict[str, Any] = document["memory"]  # type: ignore[assignment]
    bytes_ = SIZES[dtype]
    channels = [3, *widths]
    for index, row in enumerate(rows):
        cin, cout = channels[index], channels[index + 1]
        assert row["memory"]["weights_bytes"] == cin * cout * bytes_
        assert row["live_bytes"] == batch * size * size * (cin + cout) * bytes_
    for key in ("weights_bytes", "input_bytes", "output_bytes", "access_cost"):
        assert memory["traffic"][key] == sum(row["memory"][key] for row in rows)
    assert memory["peak_activation_bytes"] == max(row["live_bytes"] for row in rows)


def test_tables_show_memory_only_when_asked() -> None:
    """The default table is unchanged; --memory adds the per-row and summary tables."""
    default = run_cli("network", "mobilenet_v1", "--top", "3")
    assert default.exit_code == 0
    assert "Memory traffic" not in default.stdout
    shown = run_cli("network", "mobilenet_v1", "--top", "3", "--memory")
    assert shown.exit_code == 0, shown.stderr
    assert "Memory traffic per row" in shown.stdout
    assert "peak activation memory" in shown.stdout
    assert "Standard vs depthwise separable" not in shown.stdout
    machine = run_cli("network", "mobilenet_v1", "-n", "3", "--profile", "example-desktop")
    assert "Standard vs depthwise separable design (roofline)" in machine.stdout
    assert "fewer MACs but is predicted only" in machine.stdout


def test_csv_with_memory_appends_the_memory_columns() -> None:
    """CSV exports the layer table, with the memory columns appended under --memory."""
    plain = run_cli("network", "mobilenet_v1", "--format", "csv")
    memory = run_cli("network", "mobilenet_v1", "--format", "csv", "--memory")
    plain_lines, memory_lines = plain.stdout.splitlines(), memory.stdout.splitlines()
    assert len(plain_lines) == len(memory_lines)
    assert memory_lines[0].startswith(plain_lines[0] + ",")
    assert "Access cost" in memory_lines[0]
    assert "Access cost" not in plain_lines[0]
    document = _json("mobilenet_v1")
    first = memory_lines[1].split(",")
    assert (
        int(first[len(plain_lines[0].split(",")) + 3])
        == (document["layers"][0]["memory"]["access_cost"])
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--dtype", "fp64"), ("--dtype", "fp64", "fp16")),
        (("--profile", "no-such-machine"), ("--profile", "no-such-machine", "example-desktop")),
        (("--peak-gflops", "100"), ("--bandwidth-gbs", "missing")),
        (("--bandwidth-gbs", "10"), ("--peak-gflops", "missing")),
        (("--peak-gflops", "-1", "--bandwidth-gbs", "10"), ("--peak-gflops", "positive")),
        (("--profile", "example-rpi4", "--peak-gflops", "1"), ("--profile", "not both")),
    ],
)
def test_bad_memory_options_are_one_line_errors(
    args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    """Bad dtype, unknown profile or a half-given machine: one Error: line naming the option."""
    assert_clean_error(run_cli("network", "mobilenet_v1", *args), *fragments)


def test_network_without_anything_to_redesign_compares_with_itself(tmp_path: Path) -> None:
    """A chain of 1x1 convs has no kxk conv and no pair: both designs are the network, ratio 1."""
    path = _spec(tmp_path, PLAIN)
    document = _json(path, "--peak-gflops", "50", "--bandwidth-gbs", "5")
    latency = document["latency"]
    assert latency["changes"] == 0
    assert latency["standard"] == latency["separable"]
    assert latency["ratio"] == {"macs": 1.0, "access_cost": 1.0, "time": 1.0}
    table = run_cli("network", path, "--peak-gflops", "50", "--bandwidth-gbs", "5")
    assert "both designs are this network" in table.stdout


def test_memory_table_follows_the_layer_table_order_and_top() -> None:
    """--sort and --top shape the per-row memory table exactly as they shape the layer table."""
    report = analyse(load_network("mobilenet_v2"))
    tables = tables_of(network_memory_report(report), TableView(top=7, sort="macs"))
    layer = next(table for table in tables if table.title.startswith("mobilenet_v2"))
    memory = next(table for table in tables if table.title.startswith("Memory traffic per row"))
    assert [row[0] for row in memory.rows] == [row[0] for row in layer.rows]
    assert len(memory.rows) == 7
    biggest = max(report.rows, key=lambda row: row.cost.macs)
    assert memory.rows[0][0] == biggest.name
