"""The network engine and the ``network`` command: rows from closed-form formulas, invariants by
Hypothesis, what-if redesigns, limits and the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from math import ceil
from pathlib import Path
from typing import Any

import pytest
from conftest import TOY, assert_clean_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc import Conv2d, DscCalcError, Shape, compare
from dsc_calc.network.decode import convert
from dsc_calc.network.load import load_network
from dsc_calc.network.walk import MAX_ROWS, analyse
from dsc_calc.network.width import make_divisible


def net(channels: int, height: int, width: int, *layers: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "t",
        "input": {"channels": channels, "height": height, "width": width},
        "layers": list(layers),
    }


def report_of(document: dict[str, Any], **options: Any) -> Any:
    return analyse(convert(json.loads(json.dumps(document))), **options)


def write(tmp_path: Path, document: object, name: str = "spec.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


# --- Closed-form rows -------------------------------------------------------------------------------


def test_toy_rows_match_closed_form() -> None:
    """Every row of the issue's toy spec has the params and MACs of its hand formula, and the
    total is their sum."""
    report = report_of(TOY)
    expected: list[tuple[str, int, int]] = [
        ("conv", 3 * 32 * 9, 112 * 112 * 32 * 3 * 9),
        ("batchnorm", 64, 0),
        ("relu", 0, 0),
    ]
    expected += [("dwconv", 32 * 9, 112 * 112 * 32 * 9), ("pwconv", 32 * 64, 112 * 112 * 32 * 64)]
    for _ in range(5):
        expected += [
            ("dwconv", 64 * 9, 112 * 112 * 64 * 9),
            ("pwconv", 64 * 64, 112 * 112 * 64 * 64),
        ]
    # 5x3 kernel, stride (2, 1), padding (0, 1), dilation (1, 2): H = (112-5)//2+1 = 54, W = (112+2-5)//1+1 = 110
    expected += [
        ("conv", 64 * 16 * 15, 54 * 110 * 64 * 16 * 15),
        ("maxpool", 0, 0),
        ("avgpool", 0, 0),
    ]
    expected += [("linear", 64 * 1000 + 1000, 64 * 1000)]
    assert [(r.type, r.cost.params, r.cost.macs) for r in report.rows] == expected
    assert report.rows[-4].output == Shape(64, 54, 110)
    assert report.rows[-3].output == Shape(64, 27, 55)
    assert report.output == Shape(1000, 1, 1)
    assert report.totals.params == sum(p for _, p, _ in expected)
    assert report.totals.macs == sum(m for _, _, m in expected)


def test_flops_are_twice_macs_plus_bias_adds() -> None:
    """FLOPs = 2·MACs plus one add per output element for layers with a bias (conv and linear)."""
    report = report_of(
        net(
            4,
            10,
            10,
            {"type": "conv", "out": 6, "k": 3, "bias": True},
            {"type": "linear", "out": 7, "bias": True},
        ),
        batch=3,
    )
    conv, linear = report.rows
    assert conv.cost.flops == 2 * conv.cost.macs + 3 * 6 * 10 * 10
    assert linear.cost.macs == 3 * 600 * 7
    assert linear.cost.flops == 2 * linear.cost.macs + 3 * 7


def test_dwconv_multiplier_pwconv_groups_and_shorthand() -> None:
    """dwconv with a multiplier, grouped pwconv and bn/act shorthand give the rows of the semantics."""
    report = report_of(
        net(
            4, 9, 9,
            {"type": "dwconv", "k": 3, "stride": 2, "multiplier": 3, "bn": True, "act": "relu6"},
            {"type": "pwconv", "out": 6, "groups": 3, "bias": True},
        )
    )  # fmt: skip
    dw, bn, act, pw = report.rows
    assert (dw.kind, dw.output, dw.cost.params, dw.cost.macs) == (
        "depthwise",
        Shape(12, 5, 5),
        12 * 9,
        25 * 12 * 9,
    )
    assert (bn.type, bn.cost.params) == ("batchnorm", 24)
    assert (act.type, act.cost) == ("relu6", act.cost.__class__())
    assert (pw.kind, pw.cost.params, pw.cost.macs) == ("conv", 6 * 4 + 6, 25 * 6 * 4)
    assert [r.name for r in report.rows] == ["dwconv1", "dwconv1.bn", "dwconv1.relu6", "pwconv2"]


def test_spconv_is_a_height_then_width_pair() -> None:
    """spconv = a kh x 1 conv (height stride and padding) then a 1 x kw conv (width), bias on each."""
    report = report_of(
        net(
            4,
            11,
            13,
            {
                "type": "spconv",
                "out": 8,
                "k": [3, 5],
                "stride": 2,
                "padding": [1, 2],
                "bias": True,
                "bn": True,
            },
        )
    )
    first, second, bn = report.rows
    assert first.conv == Conv2d(4, 8, (3, 1), (2, 1), (1, 0), bias=True)
    assert second.conv == Conv2d(8, 8, (1, 5), (1, 2), (0, 2), bias=True)
    assert first.output == Shape(8, 6, 13)
    assert second.output == Shape(8, 6, 7)
    assert first.cost.params == 8 * 4 * 3 + 8
    assert second.cost.params == 8 * 8 * 5 + 8
    assert bn.cost.params == 16
    assert {first.kind, second.kind} == {"conv"}


@pytest.mark.parametrize(
    ("pool", "size"),
    [
        ({"op": "max", "k": 3, "stride": 2, "padding": 1}, (6, 7)),
        ({"op": "avg", "k": 2}, (5, 6)),
        ({"op": "max", "k": 3, "stride": 2, "padding": "same"}, (6, 7)),
        ({"op": "avg", "k": [2, 3], "stride": [2, 1], "padding": "valid"}, (5, 11)),
        ({"op": "max", "global": True}, (1, 1)),
    ],
)
def test_pool_output_sizes(pool: dict[str, Any], size: tuple[int, int]) -> None:
    """Pools follow PyTorch's floor rule (stride defaults to k), 'same' gives ceil(H/s), global 1x1."""
    report = report_of(net(5, 11, 13, {"type": "pool", **pool}))
    (row,) = report.rows
    assert (row.output.height, row.output.width) == size
    assert row.cost.params == row.cost.macs == 0


def test_squeeze_excite_rows() -> None:
    """se on C channels: pool, 1x1 C->S with bias, act, 1x1 S->C with bias, gate, scale; S from
    make_divisible(C/4, 8); MACs on the pooled 1x1 map."""
    report = report_of(net(40, 7, 7, {"type": "se", "name": "se"}))
    squeeze = make_divisible(40 * 0.25, 8)
    assert squeeze == 16  # 10 -> 8 loses more than 10 %, so 16
    assert [r.name for r in report.rows] == [
        "se.pool",
        "se.reduce",
        "se.relu",
        "se.expand",
        "se.hsigmoid",
        "se.scale",
    ]
    assert report.totals.params == 40 * squeeze + squeeze + squeeze * 40 + 40
    assert report.totals.macs == 2 * 40 * squeeze
    assert report.output == Shape(40, 7, 7)


def test_inverted_residual_rows_names_and_add() -> None:
    """An inverted residual unrolls to expand/dw/project with batch norm, an add when shapes allow,
    and holds its input alive for the add."""
    report = report_of(net(16, 8, 8, {"type": "inverted_residual", "out": 16, "expand": 6}))
    names = [r.name for r in report.rows]
    assert names == [
        "block1.expand", "block1.expand.bn", "block1.expand.relu6", "block1.dw", "block1.dw.bn",
        "block1.dw.relu6", "block1.project", "block1.project.bn", "block1.add",
    ]  # fmt: skip
    params = 16 * 96 + 2 * 96 + 96 * 9 + 2 * 96 + 96 * 16 + 2 * 16
    assert report.totals.params == params
    assert report.totals.macs == 64 * (16 * 96 + 96 * 9 + 96 * 16)
    # The block input (16·8·8) lives until the add. The first row reads it, so it holds nothing
    # else; every later row holds it beside its own input and output.
    assert [r.held_elements for r in report.rows] == [0] + [16 * 64] * 8
    strided = report_of(
        net(16, 8, 8, {"type": "inverted_residual", "out": 16, "expand": 1, "stride": 2})
    )
    assert next(r.name for r in strided.rows) == "block1.dw"  # expand 1: no expansion conv
    assert strided.rows[-1].type == "batchnorm"
    assert strided.output == Shape(16, 4, 4)
    assert all(r.held_elements == 0 for r in strided.rows)


def test_residual_branches_held_elements_and_mismatch() -> None:
    """A residual block runs main then shortcut then add; held elements follow the live operands,
    and unequal branch shapes are refused at the block."""
    report = report_of(
        net(
            4, 8, 8,
            {"type": "residual", "layers": [{"type": "conv", "out": 8, "k": 3, "stride": 2}],
             "shortcut": [{"type": "conv", "out": 8, "k": 1, "stride": 2}]},
        )
    )  # fmt: skip
    main, shortcut, add = report.rows
    assert (main.name, shortcut.name, add.name) == (
        "block1.conv1",
        "block1.shortcut.conv1",
        "block1.add",
    )
    # The block input waits for the shortcut, but the first row reads it: it is that row's input,
    # counted once, so the row holds nothing else.
    assert main.held_elements == 0
    assert shortcut.held_elements == 8 * 16  # the main output waits for the add
    assert add.held_elements == 8 * 16
    with pytest.raises(
        DscCalcError,
        match=r"^layers\[0\]: the main branch gives 8×4×4 but the shortcut gives 4×8×8",
    ):
        report_of(
            net(
                4,
                8,
                8,
                {"type": "residual", "layers": [{"type": "conv", "out": 8, "k": 3, "stride": 2}]},
            )
        )


def test_shape_collapse_names_the_layer() -> None:
    """A kernel larger than its padded input is refused at the layer where it happens."""
    spec = net(
        3,
        8,
        8,
        {"type": "conv", "out": 4, "stride": 2},
        {"repeat": 3, "layers": [{"type": "conv", "out": 4, "k": 3, "padding": "valid"}]},
    )
    with pytest.raises(DscCalcError, match=r"^layers\[1\]\.layers\[0\]\.k: effective kernel 3"):
        report_of(spec)


def test_groups_error_names_the_layer() -> None:
    """groups that do not divide the channels are refused with the layer's path."""
    with pytest.raises(
        DscCalcError, match=r"^layers\[0\]\.groups: groups=4 does not divide in_channels=3"
    ):
        report_of(net(3, 8, 8, {"type": "conv", "out": 8, "groups": 4}))


# --- Invariants -------------------------------------------------------------------------------------

LAYER = st.one_of(
    st.builds(
        lambda out, k, s: {"type": "conv", "out": out, "k": k, "stride": s},
        st.integers(1, 8),
        st.integers(1, 3),
        st.integers(1, 2),
    ),
    st.builds(
        lambda out, k, b: {"type": "dsconv", "out": out, "k": k, "bias": b, "bn": True},
        st.integers(1, 8),
        st.integers(1, 3),
        st.booleans(),
    ),
    st.builds(
        lambda k, m: {"type": "dwconv", "k": k, "multiplier": m},
        st.integers(1, 3),
        st.integers(1, 2),
    ),
    st.builds(lambda out: {"type": "pwconv", "out": out, "act": "relu"}, st.integers(1, 8)),
    st.builds(lambda out: {"type": "spconv", "out": out, "k": [3, 2]}, st.integers(1, 8)),
    st.builds(
        lambda out, t, se: {"type": "inverted_residual", "out": out, "expand": t, "se": se},
        st.integers(1, 8),
        st.integers(1, 4),
        st.booleans(),
    ),
    st.just({"type": "se"}),
    st.just({"type": "batchnorm"}),
    st.just({"type": "pool", "op": "max", "k": 2, "padding": 1}),
    st.builds(
        lambda out: {
            "type": "residual",
            "layers": [{"type": "dsconv", "out": out}],
            "shortcut": [{"type": "pwconv", "out": out}],
        },
        st.integers(1, 8),
    ),
)


@settings(max_examples=120, deadline=None)
@given(
    layers=st.lists(LAYER, min_size=1, max_size=8),
    channels=st.integers(1, 6),
    size=st.integers(6, 24),
    batch=st.integers(1, 3),
)
def test_totals_are_sums_of_rows_and_kinds(
    layers: list[dict[str, Any]], channels: int, size: int, batch: int
) -> None:
    """For random chains: totals = the sum of the rows = the sum of the by-type entries; each row's
    input is the previous row's output outside blocks; batch scales MACs, never params."""
    spec = net(
        channels,
        size,
        size,
        *layers,
        {"type": "pool", "op": "avg", "global": True},
        {"type": "linear", "out": 3},
    )
    report = report_of(spec, batch=batch)
    for field in ("params", "macs", "flops"):
        assert getattr(report.totals, field) == sum(getattr(r.cost, field) for r in report.rows)
        assert getattr(report.totals, field) == sum(
            getattr(v.cost, field) for v in report.by_type.values()
        )
    assert sum(v.count for v in report.by_type.values()) == len(report.rows)
    assert len({r.name for r in report.rows}) == len(report.rows)
    single = report_of(spec)
    assert report.totals.params == single.totals.params
    assert report.totals.macs == batch * single.totals.macs
    assert all(
        (r.conv is not None) == (r.kind in ("conv", "pointwise", "depthwise")) for r in report.rows
    )


@settings(max_examples=100, deadline=None)
@given(
    cin=st.integers(1, 16), cout=st.integers(1, 16), k=st.integers(1, 5), stride=st.integers(1, 3),
    size=st.integers(5, 30), bias=st.booleans(),
)  # fmt: skip
def test_dsconv_rows_are_compare_parts(
    cin: int, cout: int, k: int, stride: int, size: int, bias: bool
) -> None:
    """A dsconv's two rows cost exactly compare()'s depthwise and pointwise parts of the same conv,
    and --what-if standard turns them back into compare()'s standard conv."""
    report = report_of(
        net(
            cin, size, size, {"type": "dsconv", "out": cout, "k": k, "stride": stride, "bias": bias}
        ),
        what_if="standard",
    )
    parts = compare(Conv2d(cin, cout, k, stride, "same", bias=bias), Shape(cin, size, size))
    dw, pw = report.rows
    assert dw.cost == parts.depthwise
    assert pw.cost == parts.pointwise
    assert report.what_if is not None
    if cin > 1:
        (change,) = report.what_if.changes
        assert change.new == parts.standard
        assert report.what_if.after == parts.standard


# --- What-if ----------------------------------------------------------------------------------------


def test_what_if_separable_uses_compare() -> None:
    """--what-if separable replaces every standard k x k conv (not 1x1, not grouped or depthwise) by
    compare()'s separable pair and sums the saving."""
    spec = net(
        3, 32, 32,
        {"type": "conv", "out": 16, "k": 3, "stride": 2},
        {"type": "conv", "out": 16, "k": 1},
        {"type": "conv", "out": 32, "k": 5, "groups": 2},
        {"type": "conv", "out": 24, "k": [3, 1], "bias": True},
    )  # fmt: skip
    report = report_of(spec, what_if="separable")
    assert report.what_if is not None
    changes = report.what_if.changes
    assert [c.layers for c in changes] == [("conv1",), ("conv4",)]
    first = compare(Conv2d(3, 16, 3, 2), Shape(3, 32, 32))
    last = compare(Conv2d(32, 24, (3, 1), bias=True), Shape(32, 16, 16))
    assert changes[0].new == first.separable
    assert changes[1].new == last.separable
    assert (
        report.what_if.after.macs
        == report.totals.macs
        - first.standard.macs
        - last.standard.macs
        + first.separable.macs
        + last.separable.macs
    )


def test_what_if_leaves_one_channel_depthwise_convs_alone() -> None:
    """A 1-channel depthwise conv has groups 1 but is no standard conv: no what-if rewrites it."""
    spec = net(
        1, 4, 4,
        {"type": "dsconv", "out": 1, "k": 3},
        {"type": "inverted_residual", "out": 1, "expand": 1},
        {"type": "dwconv", "k": 3},
    )  # fmt: skip
    for mode in ("separable", "spatial"):
        report = report_of(spec, what_if=mode)
        assert report.what_if is not None
        assert report.what_if.changes == ()
        assert report.what_if.after == report.totals


def test_what_if_spatial_closed_form() -> None:
    """--what-if spatial turns a k x k conv Cin->Cout into kx1 Cin->Cout + 1xk Cout->Cout, and
    leaves 1-D kernels alone."""
    report = report_of(
        net(
            8, 20, 20, {"type": "conv", "out": 16, "k": 3}, {"type": "conv", "out": 16, "k": [1, 3]}
        ),
        what_if="spatial",
    )
    assert report.what_if is not None
    (change,) = report.what_if.changes
    assert change.new.params == 8 * 16 * 3 + 16 * 16 * 3
    assert change.new.macs == 400 * (8 * 16 * 3 + 16 * 16 * 3)
    assert change.old.macs == 400 * 8 * 16 * 9


def test_what_if_standard_rebuilds_mobilenet_v1_full() -> None:
    """--what-if standard on MobileNet v1 (pairs dw + bn + relu + pw, the dw's batch norm dropped)
    gives exactly the totals of the separately written mobilenet_v1_full preset (Table 4)."""
    report = analyse(load_network("mobilenet_v1"), what_if="standard")
    full = analyse(load_network("mobilenet_v1_full"))
    assert report.what_if is not None
    assert len(report.what_if.changes) == 13
    assert report.what_if.after.params == full.totals.params
    assert report.what_if.after.macs == full.totals.macs


def test_what_if_json_key() -> None:
    """--what-if puts per-change and total savings under the JSON key what_if."""
    outcome = run_cli("network", "mobilenet_v1", "--what-if", "standard", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    what_if = outcome.json()["what_if"]
    assert what_if["mode"] == "standard"
    totals = what_if["totals"]
    assert totals["saving"]["macs"] == totals["before"]["macs"] - totals["after"]["macs"] < 0
    assert all(set(c) >= {"layers", "old", "new", "saving"} for c in what_if["changes"])


# --- Limits -----------------------------------------------------------------------------------------


def test_unroll_limit_refused_before_work() -> None:
    """Nested repeats that would unroll past the row limit are refused at once, naming the limit."""
    spec = net(
        3,
        8,
        8,
        {
            "repeat": 1000,
            "layers": [{"repeat": 1000, "layers": [{"type": "relu"}, {"type": "relu"}]}],
        },
    )
    with pytest.raises(DscCalcError, match=f"more than {MAX_ROWS:,} rows"):
        report_of(spec)


def test_cli_refuses_bad_files(tmp_path: Path) -> None:
    """Missing, empty, binary, non-JSON, deeply nested and directory inputs each give one clean line."""
    missing = run_cli("network", str(tmp_path / "nope.json"))
    assert_clean_error(missing, "nope.json", "no such file")
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"  \n")
    assert_clean_error(run_cli("network", str(empty)), "is empty")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 4)
    assert_clean_error(run_cli("network", str(garbage)), "is not valid JSON")
    deep = tmp_path / "deep.json"
    deep.write_text('{"input": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert_clean_error(run_cli("network", str(deep)), "nested too deeply")
    assert_clean_error(run_cli("network", str(tmp_path)), "is a directory")
    assert_clean_error(run_cli("network", "mobilenet_v9"), "presets: mobilenet_v1")


def test_cli_validation_error_is_one_line(tmp_path: Path) -> None:
    """A bad value in a spec file is reported as the issue asks: path, problem, value."""
    spec = net(
        3,
        32,
        32,
        {"type": "conv", "out": 8},
        {"type": "relu"},
        {"type": "batchnorm"},
        {"type": "conv", "out": 8, "stride": 0},
    )
    outcome = run_cli("network", write(tmp_path, spec))
    assert_clean_error(outcome, "layers[3].stride: must be a positive integer, got 0")


def test_cli_bad_options() -> None:
    """--batch 0, --top 0 and --alpha 0 are one-line errors naming the option."""
    assert_clean_error(run_cli("network", "mobilenet_v1", "--batch", "0"), "--batch")
    assert_clean_error(run_cli("network", "mobilenet_v1", "--top", "0"), "--top")
    assert_clean_error(run_cli("network", "mobilenet_v1", "--alpha", "0"), "--alpha")
    assert_clean_error(
        run_cli("network", "mobilenet_v1", "--what-if", "nonsense"), "--what-if", code=2
    )


# --- CLI contract -----------------------------------------------------------------------------------


def test_cli_json_contract(tmp_path: Path) -> None:
    """--json is exactly the documented keys, exact integers, rows in order, shares summing to 1."""
    data = run_cli("network", write(tmp_path, TOY), "--json").json()
    assert set(data) >= {"name", "input", "output", "layers", "totals", "by_type", "what_if"}
    assert data["output"] == {"channels": 1000, "height": 1, "width": 1}
    assert set(data["by_type"]) == {"conv", "pointwise", "depthwise", "linear", "other"}
    assert all(set(v) == {"params", "macs", "flops", "count"} for v in data["by_type"].values())
    for row in data["layers"]:
        assert set(row) >= {"name", "type", "input", "output", "params", "macs", "flops"}
    assert data["totals"]["macs"] == sum(row["macs"] for row in data["layers"])
    assert abs(sum(row["share"] for row in data["layers"]) - 1) < 1e-9
    assert data["what_if"] is None


def test_cli_json_rows_carry_their_geometry(tmp_path: Path) -> None:
    """Each row has the kernel, stride, padding, dilation and groups of its conv as the spec gave
    them (null without a conv), and the description the table's Type column shows."""
    rows = run_cli("network", write(tmp_path, TOY), "--json").json()["layers"]
    geometry = ("kernel", "stride", "padding", "dilation", "groups")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row)
    stem, grouped = by_type["conv"]
    assert [stem[key] for key in geometry] == [[3, 3], [2, 2], "same", [1, 1], 1]
    assert [grouped[key] for key in geometry] == [[5, 3], [2, 1], [0, 1], [1, 2], 4]
    assert grouped["description"] == "conv 5×3 64→64 s2×1 d1×2 g4"
    dw = by_type["dwconv"][0]
    assert (dw["kernel"], dw["groups"]) == ([3, 3], dw["input"]["channels"])
    for row in (*by_type["relu"], *by_type["linear"], *by_type["batchnorm"]):
        assert [row[key] for key in geometry] == [None] * 5
        assert row["description"] == row["type"]
    table = run_cli("network", write(tmp_path, TOY), "-f", "csv", "--top", "3").stdout
    assert table.splitlines()[1].split(",")[1] == stem["description"]


def test_cli_stdin_top_sort_csv() -> None:
    """A spec on stdin works; --top/--sort macs cut and order the CSV table, with the total last."""
    outcome = run_cli(
        "network", "-", "--top", "3", "--sort", "macs", "--format", "csv", input=json.dumps(TOY)
    )
    assert outcome.exit_code == 0, outcome.stderr
    lines = outcome.stdout.strip().splitlines()
    assert len(lines) == 1 + 3 + 1
    macs = [int(line.split(",")[4]) for line in lines[1:4]]
    assert macs == sorted(macs, reverse=True)
    assert macs[0] == 54 * 110 * 64 * 16 * 15  # the grouped 5x3 conv is the heaviest row
    assert lines[-1].startswith("total,")


def test_cli_table_and_markdown() -> None:
    """The table shows the per-layer share bars, the by-kind table and totals; Markdown has tables."""
    table = run_cli("network", "mobilenet_v1", "--top", "5")
    assert table.exit_code == 0
    assert "By kind" in table.stdout
    assert "more rows not shown" in table.stdout
    markdown = run_cli("network", "mobilenet_v1", "-f", "markdown")
    assert markdown.stdout.count("| pointwise | 13 |") == 1  # the by-kind row: 13 pointwise convs


def test_schema_command() -> None:
    """dsc-calc schema prints a JSON Schema whose definitions cover every layer type."""
    outcome = run_cli("schema")
    schema = outcome.json()
    assert "$defs" in schema
    assert {"Conv", "DsConv", "SpConv", "InvertedResidual", "Residual", "Repeat"} <= set(
        schema["$defs"]
    )
    assert "type" not in schema["$defs"]["Repeat"].get("required", [])


def test_command_module_does_not_import_the_spec_or_the_walker() -> None:
    """Importing the CLI (every command module) leaves the spec module and the walker unimported."""
    code = "import sys; from dsc_calc.cli import app; print('dsc_calc.network.spec' in sys.modules, 'dsc_calc.network.walk' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_same_padding_matches_ceil() -> None:
    """'same' padding gives ceil(H/s) on odd sizes at every stride."""
    for stride in (1, 2, 3):
        report = report_of(net(2, 17, 23, {"type": "conv", "out": 2, "k": 3, "stride": stride}))
        assert report.output == Shape(2, ceil(17 / stride), ceil(23 / stride))


def test_terminal_table_is_capped_but_csv_is_not() -> None:
    """A terminal table draws at most 1000 rows (a note says how many are hidden) and refuses a
    larger --top; CSV keeps every row."""
    spec = net(4, 8, 8, {"repeat": 1200, "layers": [{"type": "relu"}]})
    table = run_cli("network", "-", input=json.dumps(spec))
    assert table.exit_code == 0
    assert "200 more rows not shown" in table.stdout
    assert_clean_error(
        run_cli("network", "-", "--top", "1001", input=json.dumps(spec)), "--top", "at most 1000"
    )
    csv = run_cli("network", "-", "-f", "csv", input=json.dumps(spec))
    assert len(csv.stdout.strip().splitlines()) == 1 + 1200 + 1


def test_what_if_standard_reports_the_dropped_batch_norm() -> None:
    """--what-if standard merges dw + bn + act + pw into one conv; the dw's batch norm (2·Cin) is
    reported as dropped and counted in the saving."""
    report = report_of(
        net(8, 10, 10, {"type": "dsconv", "out": 16, "bn": True, "act": "relu"}), what_if="standard"
    )
    assert report.what_if is not None
    (change,) = report.what_if.changes
    assert change.dropped.params == 16
    assert change.new.params == 8 * 16 * 9
    saving = change.to_dict()["saving"]
    assert saving["params"] == (8 * 9 + 16 + 8 * 16) - 8 * 16 * 9
    assert report.what_if.after.params == report.totals.params - (8 * 9 + 16 + 8 * 16) + 8 * 16 * 9
