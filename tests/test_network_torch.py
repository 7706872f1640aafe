"""Whole networks against PyTorch: every spec is also built as real torch modules and run once.

The torch side (``tests/torch_spec.py``) is written from the spec semantics alone and never imports
dsc-calc's network code; its params are ``sum(p.numel())`` and its MACs come from forward hooks on
the real output tensors. Here the two must agree exactly: total params, total MACs, total FLOPs, the
final output shape, and row by row for every weighted layer (conv, linear, batch norm). The preset
specs are further checked against the published parameter counts of the real networks.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from conftest import TOY  # noqa: E402
from torch_spec import Measured, build, build_and_measure, measure  # noqa: E402

from dsc_calc import DscCalcError  # noqa: E402
from dsc_calc.network.load import load_network  # noqa: E402
from dsc_calc.network.walk import analyse  # noqa: E402

pytestmark = pytest.mark.torch

torch.set_num_threads(1)

PRESETS = (
    "mobilenet_v1",
    "mobilenet_v1_full",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "xception",
)


# --- Running both sides ---------------------------------------------------------------------------


def shape_tuple(shape: Any) -> tuple[int, int, int]:
    return shape.channels, shape.height, shape.width


def analyse_spec(spec: dict[str, Any]) -> Any:
    """dsc-calc's report for a spec dict, through a JSON file as a user would give it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.json"
        path.write_text(json.dumps(spec), encoding="utf-8")
        return analyse(load_network(str(path)))


def weighted_rows(report: Any) -> list[tuple[int, tuple[int, int, int], int, int, int]]:
    """dsc-calc's rows that hold weights, as (input numel, output, params, MACs, FLOPs)."""
    return [
        (
            row.input.channels * row.input.height * row.input.width,
            shape_tuple(row.output),
            row.cost.params,
            row.cost.macs,
            row.cost.flops,
        )
        for row in report.rows
        if row.cost.params > 0
    ]


def assert_agree(report: Any, measured: Measured) -> None:
    """Totals, final shape, the by-kind breakdown and every weighted row agree; on a difference,
    name the first row that differs."""
    ours = weighted_rows(report)
    theirs = [(r.in_numel, r.output, r.params, r.macs, r.flops) for r in measured.rows]
    for index, (mine, torchs) in enumerate(zip(ours, theirs, strict=False)):
        names = [row.name for row in report.rows if row.cost.params > 0]
        assert mine == torchs, (
            f"weighted row {index} ({names[index]}): dsc-calc (in, out, params, MACs, FLOPs) = "
            f"{mine}, torch {measured.rows[index].module} = {torchs}"
        )
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    for kind in ("conv", "pointwise", "depthwise", "linear", "other"):
        rows = [row for row in measured.rows if row.kind == kind]
        params, macs, flops = (
            sum(getattr(row, key) for row in rows) for key in ("params", "macs", "flops")
        )
        total = report.by_type[kind]
        assert (total.cost.params, total.cost.macs, total.cost.flops) == (params, macs, flops), kind
        if kind != "other":  # torch hooks see no activation, pool or add rows
            assert total.count == len(rows), kind
    assert report.totals.params == measured.params
    assert report.totals.macs == measured.macs
    assert report.totals.flops == measured.flops
    assert shape_tuple(report.output) == measured.output


def check_spec(spec: dict[str, Any]) -> None:
    """Build and run ``spec`` in torch, analyse it with dsc-calc, and demand exact agreement."""
    assert_agree(analyse_spec(spec), build_and_measure(spec))


# --- The issue's toy spec and hand-written specs for every layer type -----------------------------


def spec(
    name: str, channels: int, height: int, width: int, *layers: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "input": {"channels": channels, "height": height, "width": width},
        "layers": list(layers),
    }


HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "toy": TOY,
    "convs": spec(
        "convs",
        5,
        17,
        13,
        {
            "type": "conv",
            "out": 12,
            "k": [3, 2],
            "stride": [2, 1],
            "dilation": [1, 2],
            "bias": True,
            "bn": True,
            "act": "hswish",
        },
        {"type": "conv", "out": 6, "k": 4, "stride": 3, "padding": "same", "groups": 3},
        {"type": "conv", "out": 9, "k": [2, 3], "padding": "valid", "groups": 3, "act": "relu"},
        {"type": "conv", "out": 8, "k": 1, "stride": 2, "padding": 0},
        {"type": "conv", "out": 8, "k": 2, "padding": [1, 0], "groups": 2, "bias": True},
    ),
    "depthwise_pointwise": spec(
        "depthwise_pointwise",
        4,
        15,
        20,
        {"type": "dwconv", "k": 5, "stride": 2, "padding": "valid", "multiplier": 2, "bias": True},
        {"type": "dwconv", "k": [3, 1], "dilation": [2, 1], "bn": True, "act": "relu6"},
        {"type": "dwconv", "k": 3, "stride": [1, 2], "padding": [1, 0]},
        {"type": "pwconv", "out": 12, "groups": 4, "bias": True, "bn": True, "act": "relu"},
        {"type": "pwconv", "out": 7},
        {"type": "dwconv", "k": 4},
        {"type": "dwconv", "k": 2, "stride": 3},
    ),
    "separable": spec(
        "separable",
        6,
        19,
        16,
        {
            "type": "dsconv",
            "out": 16,
            "k": [3, 5],
            "stride": [1, 2],
            "padding": [1, 2],
            "dilation": 2,
            "bias": True,
            "bn": True,
            "act": "silu",
        },
        {"type": "dsconv", "out": 10, "k": 3, "stride": 2},
        {"type": "dsconv", "out": 10, "k": 2, "padding": "valid", "bn": True},
        {
            "type": "spconv",
            "out": 8,
            "k": [3, 5],
            "stride": 2,
            "groups": 2,
            "bn": True,
            "act": "relu6",
        },
        {
            "type": "spconv",
            "out": 4,
            "k": [2, 3],
            "padding": [1, 2],
            "dilation": [2, 1],
            "bias": True,
        },
        {
            "type": "spconv",
            "out": 6,
            "k": 3,
            "stride": [1, 2],
            "padding": "valid",
            "act": "sigmoid",
        },
    ),
    "activations_and_pools": spec(
        "activations_and_pools",
        3,
        23,
        18,
        {"type": "conv", "out": 8, "k": 3},
        {"type": "batchnorm"},
        {"type": "relu6"},
        {"type": "hswish"},
        {"type": "hsigmoid"},
        {"type": "sigmoid"},
        {"type": "silu"},
        {"type": "relu"},
        {"type": "pool", "op": "max", "k": 3, "stride": 2, "padding": 1},
        {"type": "pool", "op": "avg", "k": [2, 3], "stride": [2, 1]},
        {"type": "pool", "op": "max", "k": 2},
        {"type": "pool", "op": "avg", "k": 2, "stride": 1, "padding": 1},
        {"type": "pool", "op": "max", "global": True},
        {"type": "conv", "out": 4, "k": 3},
    ),
    "linear_without_global_pool": spec(
        "linear_without_global_pool",
        2,
        9,
        7,
        {"type": "conv", "out": 3, "k": 3, "stride": 2},
        {"type": "linear", "out": 10, "bias": True},
        {"type": "relu"},
        {"type": "linear", "out": 5},
        {"type": "pwconv", "out": 6, "bias": True},
        {"type": "linear", "out": 4, "bias": True},
    ),
    "squeeze_excite": spec(
        "squeeze_excite",
        3,
        12,
        12,
        {"type": "conv", "out": 40, "k": 3, "stride": 2},
        {"type": "se"},
        {"type": "se", "squeeze": 7, "act": "silu", "gate": "sigmoid"},
        {"type": "se", "ratio": 0.5},
        {"type": "conv", "out": 36, "k": 1},
        {"type": "se", "ratio": 0.125},
    ),
    "inverted_residuals": spec(
        "inverted_residuals",
        3,
        32,
        28,
        {"type": "conv", "out": 16, "k": 3, "stride": 2, "bn": True, "act": "relu6"},
        {"type": "inverted_residual", "out": 16, "expand": 1},
        {"type": "inverted_residual", "out": 24, "stride": 2},
        {"type": "inverted_residual", "out": 24},
        {
            "type": "inverted_residual",
            "out": 40,
            "expand_channels": 72,
            "k": 5,
            "stride": 2,
            "se": True,
            "act": "relu",
        },
        {
            "type": "inverted_residual",
            "out": 40,
            "expand_channels": 120,
            "k": 5,
            "se": True,
            "act": "hswish",
        },
        {"type": "inverted_residual", "out": 48, "expand": 3, "k": 3, "stride": [2, 1]},
        {"type": "inverted_residual", "out": 48, "expand_channels": 48, "se": True},
    ),
    "residuals_and_repeats": spec(
        "residuals_and_repeats",
        3,
        29,
        31,
        {
            "type": "conv",
            "out": 16,
            "k": 3,
            "stride": 2,
            "padding": "valid",
            "bn": True,
            "act": "relu",
        },
        {
            "type": "residual",
            "layers": [
                {"type": "dsconv", "out": 32, "k": 3, "bn": True, "act": "relu"},
                {"type": "dwconv", "k": 3},
                {"type": "pwconv", "out": 32, "bn": True},
                {"type": "pool", "op": "max", "k": 3, "stride": 2, "padding": "same"},
            ],
            "shortcut": [{"type": "conv", "out": 32, "k": 1, "stride": 2, "bn": True}],
        },
        {
            "repeat": 2,
            "layers": [
                {
                    "type": "residual",
                    "layers": [{"type": "relu"}, {"type": "dsconv", "out": 32, "k": 3, "bn": True}],
                },
                {"repeat": 2, "layers": [{"type": "conv", "out": 32, "k": 1, "bias": True}]},
            ],
        },
        {"type": "residual", "layers": [{"type": "batchnorm"}], "shortcut": []},
        {"type": "pool", "op": "avg", "global": True},
        {"type": "linear", "out": 10, "bias": True},
    ),
}


def test_toy_spec_of_the_issue() -> None:
    """The issue's toy spec: dsc-calc and the torch build agree on totals, shape and every row."""
    check_spec(TOY)


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_specs(name: str) -> None:
    """Hand-written specs covering every layer type, bn/act shorthand and every padding form agree
    exactly with their torch builds."""
    check_spec(HAND_WRITTEN[name])


def test_shape_collapse_is_refused_by_both() -> None:
    """A kernel larger than its padded input: torch refuses to run it and dsc-calc refuses the spec,
    naming the layer."""
    collapsing = spec(
        "collapsing",
        3,
        8,
        8,
        {"type": "conv", "out": 4, "k": 3, "stride": 2},
        {"type": "conv", "out": 4, "k": 3, "stride": 2, "padding": "valid"},
        {"type": "conv", "out": 4, "k": 5, "padding": "valid"},
    )
    with pytest.raises(RuntimeError):
        build_and_measure(collapsing)
    with pytest.raises(DscCalcError, match=r"layers\[2\]"):
        analyse_spec(collapsing)


# --- Random valid chain specs ---------------------------------------------------------------------

ACTIVATIONS = ("relu", "relu6", "hswish", "hsigmoid", "sigmoid", "silu")


def divisors(number: int) -> list[int]:
    return [d for d in range(1, number + 1) if number % d == 0]


@st.composite
def geometry(draw: st.DrawFn) -> dict[str, Any]:
    """k, stride, padding and dilation keys, each as an int, a pair, or left to its default."""
    small = st.integers(1, 3)
    layer: dict[str, Any] = {}
    for key, values in (
        ("k", small),
        ("stride", st.integers(1, 2)),
        ("dilation", st.integers(1, 2)),
    ):
        choice = draw(st.sampled_from(["default", "int", "pair"]))
        if choice == "int":
            layer[key] = draw(values)
        elif choice == "pair":
            layer[key] = [draw(values), draw(values)]
    padding = draw(
        st.one_of(
            st.none(),
            st.sampled_from(["same", "valid"]),
            st.integers(0, 2),
            st.lists(st.integers(0, 2), min_size=2, max_size=2),
        )
    )
    if padding is not None:
        layer["padding"] = padding
    return layer


@st.composite
def shorthand(draw: st.DrawFn) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if draw(st.booleans()):
        layer["bias"] = draw(st.booleans())
    if draw(st.booleans()):
        layer["bn"] = True
    if draw(st.booleans()):
        layer["act"] = draw(st.sampled_from(ACTIVATIONS))
    return layer


Drawn = tuple[dict[str, Any], int]


def draw_conv(draw: st.DrawFn, kind: str, channels: int, out: int) -> Drawn:
    """A conv or spconv with groups among the common divisors of Cin and Cout."""
    layer = {"type": kind, "out": out, **draw(geometry()), **draw(shorthand())}
    groups = draw(st.sampled_from(divisors(math.gcd(channels, out))))
    if groups != 1 or draw(st.booleans()):
        layer["groups"] = groups
    return layer, out


def draw_dwconv(draw: st.DrawFn, channels: int) -> Drawn:
    layer = {"type": "dwconv", **draw(geometry()), **draw(shorthand())}
    multiplier = draw(st.integers(1, 2))
    if multiplier != 1:
        layer["multiplier"] = multiplier
    return layer, channels * multiplier


def draw_pwconv(draw: st.DrawFn, channels: int, out: int) -> Drawn:
    groups = draw(st.sampled_from(divisors(math.gcd(channels, out))))
    return {"type": "pwconv", "out": out, "groups": groups, **draw(shorthand())}, out


def draw_pool(draw: st.DrawFn, channels: int) -> Drawn:
    op = draw(st.sampled_from(["max", "avg"]))
    if draw(st.booleans()):
        return {"type": "pool", "op": op, "global": True}, channels
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    layer: dict[str, Any] = {"type": "pool", "op": op, "k": kh if kh == kw else [kh, kw]}
    if draw(st.booleans()):
        layer["stride"] = draw(
            st.one_of(st.integers(1, 2), st.lists(st.integers(1, 2), min_size=2, max_size=2))
        )
    if draw(st.booleans()):
        # torch's own limit for an explicit pool padding: at most half the kernel
        layer["padding"] = draw(
            st.one_of(
                st.sampled_from(["same", "valid"]),
                st.integers(0, min(kh, kw) // 2),
                st.tuples(st.integers(0, kh // 2), st.integers(0, kw // 2)).map(list),
            )
        )
    return layer, channels


def draw_se(draw: st.DrawFn, channels: int) -> Drawn:
    layer: dict[str, Any] = {"type": "se"}
    if draw(st.booleans()):
        layer["squeeze"] = draw(st.integers(1, 8))
    return layer, channels


def draw_inverted_residual(draw: st.DrawFn, out: int) -> Drawn:
    layer = {"type": "inverted_residual", "out": out, "expand": draw(st.integers(1, 4))}
    for key, values in (("k", st.integers(1, 5)), ("stride", st.integers(1, 2))):
        if draw(st.booleans()):
            layer[key] = draw(values)
    if draw(st.booleans()):
        layer["se"] = True
    return layer, out


def draw_residual(draw: st.DrawFn, channels: int, out: int) -> Drawn:
    """A separable main branch; a strided 1x1 'same' conv shortcut when the shapes change."""
    stride = draw(st.integers(1, 2))
    main = [{"type": "dsconv", "out": out, "k": 3, "stride": stride, "bn": True}]
    layer: dict[str, Any] = {"type": "residual", "layers": main}
    if stride != 1 or out != channels:
        layer["shortcut"] = [{"type": "conv", "out": out, "k": 1, "stride": stride, "bn": True}]
    return layer, out


@st.composite
def chain_layer(draw: st.DrawFn, channels: int, *, nested: bool = False) -> Drawn:
    """One random layer for an input of ``channels`` channels, and the channels it gives."""
    out = draw(st.integers(1, 8))
    kind = draw(st.sampled_from(LAYER_KINDS))
    if kind == "repeat":
        if nested:
            return {"type": "batchnorm"}, channels
        body, after = draw(chain_layer(channels, nested=True))
        # A body that changes the channel count can only run once.
        times = draw(st.integers(1, 3)) if after == channels else 1
        return {"repeat": times, "layers": [body]}, after
    simple: dict[str, Drawn] = {
        "batchnorm": ({"type": "batchnorm"}, channels),
        "linear": ({"type": "linear", "out": out, "bias": draw(st.booleans())}, out),
        "dsconv": ({"type": "dsconv", "out": out, **draw(geometry()), **draw(shorthand())}, out),
    }
    if kind in simple:
        return simple[kind]
    if kind in ACTIVATIONS:
        return {"type": kind}, channels
    if kind in ("conv", "spconv"):
        return draw_conv(draw, kind, channels, out)
    drawers: dict[str, Callable[[], Drawn]] = {
        "dwconv": lambda: draw_dwconv(draw, channels),
        "pwconv": lambda: draw_pwconv(draw, channels, out),
        "pool": lambda: draw_pool(draw, channels),
        "se": lambda: draw_se(draw, channels),
        "inverted_residual": lambda: draw_inverted_residual(draw, out),
        "residual": lambda: draw_residual(draw, channels, out),
    }
    return drawers[kind]()


LAYER_KINDS = (
    "conv",
    "dwconv",
    "pwconv",
    "dsconv",
    "spconv",
    "batchnorm",
    *ACTIVATIONS,
    "pool",
    "linear",
    "se",
    "inverted_residual",
    "residual",
    "repeat",
)


@st.composite
def chain_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A random chain of 1-6 layers of every type (only channels are tracked, for groups)."""
    channels = draw(st.integers(1, 6))
    source = {
        "channels": channels,
        "height": draw(st.integers(2, 20)),
        "width": draw(st.integers(2, 20)),
    }
    layers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 6))):
        layer, channels = draw(chain_layer(channels))
        layers.append(layer)
    return {"name": "random", "input": source, "layers": layers}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=chain_specs())
def test_random_chains_agree_with_torch(chain: dict[str, Any]) -> None:
    """Random chains of every layer type: either both sides refuse the shapes, or params, MACs,
    FLOPs, the output shape and every weighted row agree exactly, and so do the separable and
    spatial redesigns."""
    try:
        measured = build_and_measure(chain)
    except RuntimeError:
        event("both refuse")
        with pytest.raises(DscCalcError):
            analyse_spec(chain)
        return
    event("both accept")
    report = analyse_spec(chain)
    assert_agree(report, measured)
    assert_what_if_agrees(chain, load_network_dict(chain))


# --- The presets at their native resolution -------------------------------------------------------


@cache
def preset_spec(name: str) -> dict[str, Any]:
    """A preset's spec as shipped inside the package."""
    text = (
        resources.files("dsc_calc.network").joinpath("presets", f"{name}.json").read_text("utf-8")
    )
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def preset_measured(name: str) -> Measured:
    """The torch build of a preset, run once at its native resolution."""
    return build_and_measure(preset_spec(name))


@pytest.mark.parametrize("name", PRESETS)
def test_preset_agrees_with_its_torch_build(name: str) -> None:
    """Each preset at its native resolution: dsc-calc's totals, output shape and rows equal the
    torch build's."""
    assert_agree(analyse(load_network(name)), preset_measured(name))


# Published counts of the real networks, with BN scale and shift and the classifier's bias:
# torchvision's model cards (weights IMAGENET1K_V1: num_params) and Chollet 2017, Table 3.
PUBLISHED_PARAMS = {
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
    "mobilenet_v3_small": 2_542_856,
    "xception": 22_855_952,
}


@pytest.mark.parametrize(("name", "params"), sorted(PUBLISHED_PARAMS.items()))
def test_preset_torch_build_has_the_published_parameter_count(name: str, params: int) -> None:
    """The torch build of the preset has exactly the real network's trainable parameter count, so
    the preset file describes that network."""
    assert preset_measured(name).params == params


def mobilenet_v1_closed_form(*, separable: bool) -> tuple[int, int]:
    """Params and mult-adds of MobileNet v1 (Table 1, 224x224) from its layer list, BN excluded:
    a 3x3 stride-2 conv to 32, thirteen depthwise separable (or full 3x3) blocks, a 1024->1000 FC
    with bias. The second-to-last block is stride 1 (the paper's table misprints it as s2)."""
    blocks = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)]
    blocks += [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    size = 112
    params, macs = 3 * 3 * 3 * 32, size * size * 3 * 3 * 3 * 32
    for cin, cout, stride in blocks:
        size = -(-size // stride)
        block = 9 * cin + cin * cout if separable else 9 * cin * cout
        params += block
        macs += size * size * block
    return params + 1024 * 1000 + 1000, macs + 1024 * 1000


@pytest.mark.parametrize(
    ("name", "separable"), [("mobilenet_v1", True), ("mobilenet_v1_full", False)]
)
def test_mobilenet_v1_torch_build_matches_table_1(name: str, separable: bool) -> None:
    """The torch build of the v1 presets, batch norm aside, has the params and mult-adds derived
    from Table 1 (4,210,088 / 568,740,352 separable; 29,282,120 / 4,867,293,184 full 3x3), and
    its batch norm is 2 params per channel of every conv output."""
    params, macs = mobilenet_v1_closed_form(separable=separable)
    measured = preset_measured(name)
    norms = [row for row in measured.rows if row.module == "BatchNorm2d"]
    assert measured.params - sum(row.params for row in norms) == params
    assert measured.macs == macs
    assert all(row.params == 2 * row.output[0] for row in norms)
    assert measured.output == (1000, 1, 1)


# Mult-adds as printed, in millions, so each is checked to that rounding: Howard et al. 2017 Table 8
# (569M) and Table 4 (4866M, which is 1.3M under the 4,867,293,184 its own layer list gives: the FC
# seems left out there); Sandler et al. 2018 Table 4 (300M; the torch count is 300.8M); Howard et al.
# 2019 Table 3 (56M for Small). For Large the paper prints 219M, but the conv + FC weight MACs of
# the published architecture (torchvision's build, whose params match) are 216,589,760, 2.4M (1.1 %)
# short; TensorFlow's own reference table (tf.keras.applications.MobileNetV3Large) lists 217M, which
# is the figure checked here.
PUBLISHED_MACS = {
    "mobilenet_v1": (569e6, 1e6),
    "mobilenet_v1_full": (4866e6, 2e6),
    "mobilenet_v2": (300e6, 1e6),
    "mobilenet_v3_large": (217e6, 0.5e6),
    "mobilenet_v3_small": (56e6, 1e6),
}


@pytest.mark.parametrize(("name", "expected"), sorted(PUBLISHED_MACS.items()))
def test_preset_torch_build_has_the_published_mult_adds(
    name: str, expected: tuple[float, float]
) -> None:
    """The MACs torch hooks count on the preset's build are the paper's mult-adds, to the paper's
    rounding."""
    figure, tolerance = expected
    assert abs(preset_measured(name).macs - figure) <= tolerance, preset_measured(name).macs


def test_batch_scales_like_a_real_batch() -> None:
    """analyse(batch=3) equals the torch build run on a batch of three (hooks count every sample)."""
    model = build(TOY)
    measured = measure(model, 3, 224, 224, batch=3)
    assert_agree(analyse(load_network_dict(TOY), batch=3), measured)


def test_torch_build_is_a_working_network() -> None:
    """The toy build really runs as one module on a batch of two and keeps batch-independent counts."""
    model = build(TOY)
    one = measure(model, 3, 224, 224)
    two = measure(model, 3, 224, 224, batch=2)
    assert two.macs == 2 * one.macs
    assert two.params == one.params
    assert two.output == one.output == (1000, 1, 1)


# Howard et al. 2017, Table 7 (resolution) and Table 6 (width multiplier), 1.0 MobileNet-224 rows.
V1_RESOLUTIONS = {192: 418e6, 160: 290.7e6, 128: 186e6}
V1_WIDTHS = {0.75: (325e6, 2.6e6), 0.5: (149e6, 1.3e6), 0.25: (41e6, 0.5e6)}


@pytest.mark.parametrize(("resolution", "macs"), sorted(V1_RESOLUTIONS.items()))
def test_mobilenet_v1_resolution_agrees_with_torch_and_table_7(
    resolution: int, macs: float
) -> None:
    """--resolution on mobilenet_v1: dsc-calc equals the torch build run at that input size (the
    torch side just feeds a smaller tensor), and the mult-adds are Table 7's to its rounding."""
    resized = {
        **preset_spec("mobilenet_v1"),
        "input": {"channels": 3, "height": resolution, "width": resolution},
    }
    measured = build_and_measure(resized)
    assert_agree(analyse(load_network("mobilenet_v1", resolution=resolution)), measured)
    assert abs(measured.macs - macs) <= 0.5e6, measured.macs


@pytest.mark.parametrize(("alpha", "figures"), sorted(V1_WIDTHS.items()))
def test_mobilenet_v1_width_multiplier_against_torch_and_table_6(
    alpha: float, figures: tuple[float, float]
) -> None:
    """--alpha on mobilenet_v1: the scaled spec, built in torch, agrees with dsc-calc row by row, and
    its mult-adds and params (batch norm aside) are Table 6's to the paper's rounding."""
    network = load_network("mobilenet_v1", alpha=alpha)
    measured = build_and_measure(msgspec.to_builtins(network))
    assert_agree(analyse(network), measured)
    macs, params = figures
    norms = sum(row.params for row in measured.rows if row.module == "BatchNorm2d")
    assert abs(measured.macs - macs) <= 0.5e6, measured.macs
    assert abs(measured.params - norms - params) <= 0.05e6, measured.params - norms


# --- What-if redesigns, rebuilt as specs and run in torch -----------------------------------------


def spconv_as_convs(layer: dict[str, Any]) -> list[dict[str, Any]]:
    """A spconv written out as its two convs (kh x 1 on the height axis, then 1 x kw)."""
    (kh, kw), (sh, sw), (dh, dw) = (
        pair_of(layer.get("k", 3)),
        pair_of(layer.get("stride", 1)),
        pair_of(layer.get("dilation", 1)),
    )
    padding = layer.get("padding", "same")
    if not isinstance(padding, str):
        padding = pair_of(padding)
    common = {
        "type": "conv",
        "out": layer["out"],
        "groups": layer.get("groups", 1),
        "bias": layer.get("bias", False),
    }
    first = {**common, "k": [kh, 1], "stride": [sh, 1], "dilation": [dh, 1]}
    second = {**common, "k": [1, kw], "stride": [1, sw], "dilation": [1, dw]}
    first["padding"] = padding if isinstance(padding, str) else [padding[0], 0]
    second["padding"] = padding if isinstance(padding, str) else [0, padding[1]]
    second |= {key: layer[key] for key in ("bn", "act") if key in layer}
    return [first, second]


def pair_of(value: int | list[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def replace_conv(layer: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    """A standard (groups 1) conv with a kernel beyond 1x1 as the what-if redesign writes it."""
    kh, kw = pair_of(layer.get("k", 3))
    if layer.get("groups", 1) != 1 or (kh, kw) == (1, 1):
        return [layer]
    if mode == "spatial":
        return [{**layer, "type": "spconv"}] if kh > 1 and kw > 1 else [layer]
    geometry = ("k", "stride", "padding", "dilation", "bias")
    depthwise: dict[str, Any] = {
        "type": "dwconv",
        **{key: layer[key] for key in geometry if key in layer},
    }
    pointwise: dict[str, Any] = {
        "type": "pwconv",
        **{key: layer[key] for key in ("out", "bias", "bn", "act") if key in layer},
    }
    return [depthwise, pointwise]


def redesigned(layers: list[dict[str, Any]], mode: str) -> list[dict[str, Any]]:
    """The spec layers with every standard k x k conv (spconv parts included) redesigned."""
    result: list[dict[str, Any]] = []
    for raw in layers:
        layer = {key: value for key, value in raw.items() if value is not None}
        kind = layer.get("type")
        if "repeat" in layer:
            result.append({"repeat": layer["repeat"], "layers": redesigned(layer["layers"], mode)})
        elif kind == "residual":
            shortcut = redesigned(layer.get("shortcut") or [], mode)
            result.append(
                {
                    "type": "residual",
                    "layers": redesigned(layer["layers"], mode),
                    "shortcut": shortcut,
                }
            )
        elif kind == "spconv":
            result.extend(
                part for conv in spconv_as_convs(layer) for part in replace_conv(conv, mode)
            )
        elif kind == "conv":
            result.extend(replace_conv(layer, mode))
        else:
            result.append(layer)
    return result


def assert_what_if_agrees(spec_dict: dict[str, Any], network: Any) -> None:
    """--what-if separable and spatial: dsc-calc's totals after the redesign equal the torch build
    of the redesigned spec, and its totals before equal the network's."""
    for mode in ("separable", "spatial"):
        report = analyse(network, what_if=mode)
        measured = build_and_measure({**spec_dict, "layers": redesigned(spec_dict["layers"], mode)})
        assert report.what_if is not None
        after = report.what_if.after
        assert report.what_if.before == report.totals
        assert (after.params, after.macs, after.flops) == (
            measured.params,
            measured.macs,
            measured.flops,
        ), mode


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_what_if_on_hand_written_specs_agrees_with_torch(name: str) -> None:
    """Separable and spatial redesigns of the hand-written specs cost what their torch builds do."""
    spec_dict = HAND_WRITTEN[name]
    assert_what_if_agrees(spec_dict, load_network_dict(spec_dict))


@pytest.mark.parametrize("name", PRESETS)
def test_what_if_on_presets_agrees_with_torch(name: str) -> None:
    """Separable and spatial redesigns of every preset cost what their torch builds do."""
    assert_what_if_agrees(preset_spec(name), load_network(name))


def test_what_if_standard_turns_mobilenet_v1_into_the_full_conv_preset() -> None:
    """--what-if standard on mobilenet_v1 (each dw + pw pair as one full 3x3 conv, the batch norm
    between them dropped) costs exactly the torch build of mobilenet_v1_full (Table 4's network)."""
    what_if = analyse(load_network("mobilenet_v1"), what_if="standard").what_if
    assert what_if is not None
    after = what_if.after
    full = preset_measured("mobilenet_v1_full")
    assert (after.params, after.macs, after.flops) == (full.params, full.macs, full.flops)


def load_network_dict(spec_dict: dict[str, Any]) -> Any:
    """dsc-calc's decoded spec for a spec dict, through standard input as the CLI reads ``-``."""
    return load_network("-", stdin=json.dumps(spec_dict).encode())


def test_mobilenet_v1_torch_build_has_table_2_shares() -> None:
    """Howard et al. 2017, Table 2, from the torch build's hooks (batch norm aside): mult-adds
    94.86 % 1x1, 3.06 % depthwise, 1.91 % the 3x3 stem (printed 1.19, a digit swap: only 1.91
    makes the column sum to 100), 0.18 % FC; params 74.59 / 1.06 / 0.02 / 24.33 %, which the paper
    computes with the FC's weights only (its 1000 bias values left out)."""
    rows = [row for row in preset_measured("mobilenet_v1").rows if row.kind != "other"]
    fc_bias = 1000
    macs = sum(row.macs for row in rows)
    params = sum(row.params for row in rows) - fc_bias
    table = {
        "pointwise": (94.86, 74.59),
        "depthwise": (3.06, 1.06),
        "conv": (1.91, 0.02),
        "linear": (0.18, 24.33),
    }
    for kind, (macs_share, params_share) in table.items():
        kind_macs = sum(row.macs for row in rows if row.kind == kind)
        kind_params = sum(row.params for row in rows if row.kind == kind) - (
            fc_bias if kind == "linear" else 0
        )
        assert round(100 * kind_macs / macs, 2) == macs_share, kind
        assert round(100 * kind_params / params, 2) == params_share, kind
