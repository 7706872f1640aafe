"""Branching networks without torch: closed forms, the graph's liveness, the what-if pairing and
one clean message for every bad branching spec."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli

from dsc_calc import DscCalcError
from dsc_calc.cost.conv import Shape
from dsc_calc.network.load import load_network
from dsc_calc.network.walk import analyse


def net(channels: int, size: int, *layers: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "t",
        "input": {"channels": channels, "height": size, "width": size},
        "layers": list(layers),
    }


def report_of(spec: dict[str, Any], what_if: str | None = None) -> Any:
    return analyse(load_network("-", stdin=json.dumps(spec).encode()), what_if=what_if)


def pw(out: int) -> dict[str, Any]:
    return {"type": "pwconv", "out": out}


def test_concat_rows_come_branch_by_branch_then_the_merge() -> None:
    """Rows: each branch's in turn, named by the block path, then the concat; channels add up."""
    report = report_of(
        net(8, 5, {"type": "branches", "name": "mixed", "branches": [[pw(3)], [pw(2), pw(4)], []]})
    )
    assert [row.name for row in report.rows] == [
        "mixed.branch1.pwconv1",
        "mixed.branch2.pwconv1",
        "mixed.branch2.pwconv2",
        "mixed.concat",
    ]
    assert report.output == Shape(3 + 4 + 8, 5, 5)
    assert report.totals.params == 8 * 3 + 8 * 2 + 2 * 4
    # The concat reads the first branch's output, the second's and the block input (identity).
    first, _, second, concat = report.rows
    assert concat.inputs == (first.tensor, second.tensor, -1)


def test_split_hands_each_branch_its_chunk() -> None:
    """split true: equal consecutive chunks; a list: those sizes; MACs follow the chunk widths."""
    even = report_of(net(8, 4, {"type": "branches", "split": True, "branches": [[], [pw(8)]]}))
    assert even.rows[0].input == Shape(4, 4, 4)
    assert even.output == Shape(4 + 8, 4, 4)
    assert even.totals.macs == 4 * 8 * 16
    sized = report_of(
        net(8, 4, {"type": "branches", "split": [2, 6], "branches": [[pw(1)], [pw(1)]]})
    )
    assert [row.input.channels for row in sized.rows[:2]] == [2, 6]
    assert sized.totals.params == 2 + 6


def test_add_merge_and_nesting() -> None:
    """merge add sums equal shapes; branches nest; the add costs nothing."""
    inner = {"type": "branches", "branches": [[pw(2)], [pw(2)]]}
    report = report_of(
        net(4, 3, {"type": "branches", "merge": "add", "branches": [[inner], [pw(4)]]})
    )
    assert report.output == Shape(4, 3, 3)
    assert [row.type for row in report.rows] == ["pwconv", "pwconv", "concat", "pwconv", "add"]
    assert report.totals.params == 4 * 2 + 4 * 2 + 4 * 4


def test_branch_outputs_live_until_the_concat() -> None:
    """While the second branch runs, the block input and the first branch's output are alive."""
    report = report_of(net(8, 2, {"type": "branches", "branches": [[pw(3)], [pw(5)]]}))
    first, second, concat = report.rows
    hw = 4
    assert first.held_elements == 0  # it reads the block input, the only live tensor
    assert second.held_elements == 3 * hw  # the first branch's output waits for the concat
    assert concat.held_elements == 0  # it reads both outputs: they are its input


def test_convtranspose_closed_forms() -> None:
    """Output (H−1)·s − 2p + d·(k−1) + output_padding + 1; params Cin·(Cout/g)·k²; MACs per
    input pixel."""
    layer = {"type": "convtranspose", "out": 6, "k": 4, "stride": 2, "padding": 1, "output_padding": 1,
             "groups": 2, "bias": True}  # fmt: skip
    report = report_of(net(4, 5, layer))
    size = (5 - 1) * 2 - 2 * 1 + 1 * (4 - 1) + 1 + 1
    assert report.output == Shape(6, size, size)
    assert report.totals.params == 4 * (6 // 2) * 16 + 6
    assert report.totals.macs == 4 * (6 // 2) * 16 * 25
    assert report.rows[0].kind == "conv"


def test_ceil_mode_follows_pytorchs_last_window_rule() -> None:
    """k2 s2 p1 on 5: rounding up gives 4 windows, but the 4th would start in the right padding
    (3·2 − 1 = 5 ≥ 5), so PyTorch gives 3; on 6 with k3 s2 p1 rounding up gives 4 (start 5 < 6)."""
    pool = {"type": "pool", "k": 2, "stride": 2, "padding": 1, "ceil_mode": True}
    assert report_of(net(1, 5, pool)).output == Shape(1, 3, 3)
    wide = {"type": "pool", "k": 3, "stride": 2, "padding": 1, "ceil_mode": True}
    assert report_of(net(1, 6, wide)).output == Shape(1, 4, 4)
    floor = {"type": "pool", "k": 3, "stride": 2, "padding": 1}
    assert report_of(net(1, 6, floor)).output == Shape(1, 3, 3)


def test_adaptive_pool_gives_its_output_size_at_any_resolution() -> None:
    """output_size 7 gives 7×7 from 14×14 or 9×9; [2, 3] gives 2×3."""
    for size in (14, 9):
        assert report_of(
            net(3, size, {"type": "pool", "op": "avg", "output_size": 7})
        ).output == Shape(3, 7, 7)
    assert report_of(net(3, 9, {"type": "pool", "output_size": [2, 3]})).output == Shape(3, 2, 3)


def test_the_new_weightless_and_norm_layers() -> None:
    """layernorm 2·C, scale C, gelu/shuffle/dropout/upsample 0; flatten gives C·H·W×1×1."""
    report = report_of(
        net(
            6,
            4,
            {"type": "layernorm"},
            {"type": "scale"},
            {"type": "gelu"},
            {"type": "shuffle", "groups": 3},
            {"type": "dropout"},
            {"type": "upsample", "scale": [2, 3]},
            {"type": "conv", "out": 2, "act": "gelu"},
            {"type": "flatten"},
        )
    )
    assert [row.cost.params for row in report.rows[:6]] == [12, 6, 0, 0, 0, 0]
    assert report.rows[5].output == Shape(6, 8, 12)
    assert report.output == Shape(2 * 8 * 12, 1, 1)


def test_standard_what_if_never_pairs_parallel_convs() -> None:
    """A depthwise conv in a residual's main branch and a pointwise conv in its shortcut are
    parallel: --what-if standard leaves them alone; a real dw → bn → pw chain is merged."""
    parallel = {"type": "residual", "layers": [{"type": "dwconv", "bn": True}],
                "shortcut": [pw(4)]}  # fmt: skip
    assert report_of(net(4, 6, parallel), "standard").what_if.changes == ()
    chain = {"type": "residual", "layers": [{"type": "dwconv", "bn": True}, pw(4)]}
    changes = report_of(net(4, 6, chain), "standard").what_if.changes
    assert [change.layers for change in changes] == [("block1.dwconv1", "block1.pwconv2")]


@pytest.mark.parametrize(
    ("layer", "fragments"),
    [
        (
            {"type": "branches", "branches": [[{"type": "conv", "out": 2, "stride": 2}], []]},
            ("layers[0].branches", "2×2×2", "4×4×4"),
        ),
        (
            {"type": "branches", "merge": "add", "branches": [[pw(3)], []]},
            ("layers[0].branches", "3×4×4", "4×4×4"),
        ),
        (
            {"type": "branches", "split": [1, 2], "branches": [[], []]},
            ("layers[0].split", "add up to 3", "4 input channels"),
        ),
        (
            {"type": "branches", "split": True, "branches": [[], [], []]},
            ("layers[0].split", "3 equal chunks"),
        ),
        ({"type": "shuffle", "groups": 3}, ("layers[0].groups", "3 groups", "4 input channels")),
        (
            {"type": "convtranspose", "out": 4, "stride": 2, "output_padding": 2},
            ("layers[0].output_padding", "smaller than the stride"),
        ),
        ({"type": "pool", "k": 2, "padding": 2, "ceil_mode": True}, ("layers[0].padding", "half")),
        ({"type": "pool", "output_size": 2, "k": 2}, ("layers[0]", "output_size")),
    ],
    ids=[
        "concat HxW",
        "add shapes",
        "split sum",
        "split even",
        "shuffle",
        "output_padding",
        "ceil padding",
        "adaptive with k",
    ],
)
def test_bad_branching_specs_get_one_line_naming_the_place(
    layer: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    """Each bad construct: one Error line on stderr with the path and both values, nothing on
    stdout, exit 1."""
    assert_clean_error(run_cli("network", "-", input=json.dumps(net(4, 4, layer))), *fragments)


def test_nested_paths_are_named_in_errors() -> None:
    """A bad key deep inside a branch is named with its full path."""
    spec = net(4, 4, {"type": "branches", "branches": [[pw(2)], [{"type": "conv", "out": 0}]]})
    with pytest.raises(DscCalcError, match=r"layers\[0\]\.branches\[1\]\[0\]\.out"):
        load_network("-", stdin=json.dumps(spec).encode())


def test_user_names_are_kept_and_duplicates_get_a_visible_suffix() -> None:
    """A name the user gave is kept as written (no counter glued on); generated names count the
    layers of their level; a name met twice gets ``#2``, so no two rows share a name."""
    report = report_of(
        net(
            3, 8,
            {"type": "conv", "out": 4, "name": "stem", "bn": True},
            {"type": "conv", "out": 4, "name": "conv1"},
            {"type": "conv", "out": 4},
            {"repeat": 2, "layers": [{"type": "pwconv", "out": 4, "name": "layer2.0"}]},
        )
    )  # fmt: skip
    names = [row.name for row in report.rows]
    assert names == ["stem", "stem.bn", "conv1", "conv3", "layer2.0", "layer2.0#2"]
    assert len(set(names)) == len(names)


def test_profile_comparison_survives_colliding_names() -> None:
    """Names that used to collide (``conv1`` written by the user and a generated ``conv`` + 11)
    never mislead the design comparison: it matches rows by position."""
    layers = [{"type": "dsconv", "out": 8, "name": "conv1"}] + [{"type": "dsconv", "out": 8}] * 11
    spec = net(8, 8, *layers)
    outcome = run_cli(
        "network", "-", "--profile", "example-desktop", "--json", input=json.dumps(spec)
    )
    assert outcome.exit_code == 0, outcome.stderr
    latency = json.loads(outcome.stdout)["latency"]
    assert (latency["network"], latency["changes"]) == ("separable", 12)


def test_a_redesign_past_the_row_limit_is_refused_before_it_is_built() -> None:
    """60,000 convs are within the row limit, but their separable redesign (120,000 rows) is not:
    --what-if and the --profile comparison refuse it at once, naming the limit and the option."""
    spec = net(4, 4, {"repeat": 60_000, "layers": [{"type": "conv", "out": 4}]})
    outcome = run_cli("network", "-", "--what-if", "separable", "--json", input=json.dumps(spec))
    assert_clean_error(outcome, "--what-if", "120,000 rows", "100,000")
    profiled = run_cli("network", "-", "--profile", "example-desktop", input=json.dumps(spec))
    assert_clean_error(profiled, "--profile", "120,000 rows")
