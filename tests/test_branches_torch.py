"""Branching networks against PyTorch: random graphs of every new construct, built by the torch
oracle (``tests/torch_spec.py``, written from the spec semantics alone) and counted from a real
forward. Either both sides refuse the shapes, or params, MACs, the output shape and every weighted
row's MACs agree exactly."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from torch_spec import build_and_measure  # noqa: E402

from dsc_calc import DscCalcError  # noqa: E402
from dsc_calc.network.load import load_network  # noqa: E402
from dsc_calc.network.walk import analyse  # noqa: E402

pytestmark = pytest.mark.torch


def analyse_dict(spec: dict[str, Any], what_if: str | None = None) -> Any:
    """dsc-calc's report for a spec dict, read as the CLI reads ``-``."""
    return analyse(load_network("-", stdin=json.dumps(spec).encode()), what_if=what_if)


def simple_layer(channels: int) -> st.SearchStrategy[tuple[dict[str, Any], int]]:
    """One layer that keeps the spatial size, and the channels after it."""
    out = st.integers(1, 8)
    return st.one_of(
        out.map(lambda c: ({"type": "conv", "out": c, "k": 3, "padding": 1, "bn": True}, c)),
        out.map(lambda c: ({"type": "conv", "out": c, "k": 1, "padding": 0, "act": "gelu"}, c)),
        st.just(({"type": "dwconv", "k": 3, "padding": 1, "bias": True}, channels)),
        st.just(({"type": "layernorm"}, channels)),
        st.just(({"type": "scale"}, channels)),
        st.just(({"type": "gelu"}, channels)),
        st.just(({"type": "dropout", "p": 0.1}, channels)),
    )


@st.composite
def branch(draw: st.DrawFn, channels: int, out: int | None) -> tuple[list[dict[str, Any]], int]:
    """A branch of 0-2 layers (0: the identity); with ``out`` its last conv gives ``out``."""
    layers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        layer, channels = draw(simple_layer(channels))
        layers.append(layer)
    if out is not None and channels != out:
        layers.append({"type": "conv", "out": out, "k": 1, "padding": 0})
        channels = out
    return layers, channels


@st.composite
def block(draw: st.DrawFn, channels: int) -> tuple[dict[str, Any], int]:
    """One construct of a branching network, and the channels after it."""
    kind = draw(
        st.sampled_from(
            [
                "concat",
                "split",
                "add",
                "shuffle",
                "pool",
                "adaptive",
                "upsample",
                "transpose",
                "simple",
            ]
        )
    )
    if kind in ("concat", "split", "add"):
        count = draw(st.integers(2, 3))
        chunks = None
        if kind == "split":
            if channels < count:
                return {"type": "gelu"}, channels
            cuts = draw(
                st.lists(
                    st.integers(1, channels - 1),
                    min_size=count - 1,
                    max_size=count - 1,
                    unique=True,
                )
            )
            edges = [0, *sorted(cuts), channels]
            chunks = [b - a for a, b in itertools.pairwise(edges)]
        branches = []
        outs = []
        target = channels if kind == "add" else None
        for index in range(count):
            width = channels if chunks is None else chunks[index]
            layers, out = draw(branch(width, target))
            branches.append(layers)
            outs.append(out)
        layer: dict[str, Any] = {"type": "branches", "branches": branches}
        if kind == "add":
            layer["merge"] = "add"
            return layer, channels
        if chunks is not None:
            layer["split"] = chunks if draw(st.booleans()) or len(set(chunks)) > 1 else True
        return layer, sum(outs)
    if kind == "shuffle":
        groups = draw(st.sampled_from([g for g in range(1, channels + 1) if channels % g == 0]))
        return {"type": "shuffle", "groups": groups}, channels
    if kind == "pool":
        k = draw(st.integers(2, 3))
        return {
            "type": "pool",
            "op": draw(st.sampled_from(["max", "avg"])),
            "k": k,
            "stride": 2,
            "padding": draw(st.integers(0, k // 2)),
            "ceil_mode": draw(st.booleans()),
        }, channels
    if kind == "adaptive":
        size = draw(
            st.one_of(st.integers(1, 4), st.lists(st.integers(1, 4), min_size=2, max_size=2))
        )
        return {
            "type": "pool",
            "op": draw(st.sampled_from(["max", "avg"])),
            "output_size": size,
        }, channels
    if kind == "upsample":
        scale = draw(
            st.one_of(st.integers(1, 2), st.lists(st.integers(1, 2), min_size=2, max_size=2))
        )
        return {
            "type": "upsample",
            "scale": scale,
            "mode": draw(st.sampled_from(["nearest", "bilinear"])),
        }, channels
    if kind == "transpose":
        stride = draw(st.integers(1, 3))
        dilation = draw(st.integers(1, 2))
        groups = draw(st.sampled_from([g for g in (1, 2) if channels % g == 0]))
        out = groups * draw(st.integers(1, 4))
        return {
            "type": "convtranspose",
            "out": out,
            "k": draw(st.integers(1, 4)),
            "stride": stride,
            "padding": draw(st.integers(0, 1)),
            "output_padding": draw(st.integers(0, max(stride, dilation) - 1)),
            "dilation": dilation,
            "groups": groups,
            "bias": draw(st.booleans()),
        }, out
    return draw(simple_layer(channels))


@st.composite
def branching_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A random network of 1-4 constructs, nested one level, ending in flatten + linear or not."""
    channels = draw(st.integers(2, 8))
    source = {
        "channels": channels,
        "height": draw(st.integers(3, 12)),
        "width": draw(st.integers(3, 12)),
    }
    layers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        layer, channels = draw(block(channels))
        if layer["type"] == "branches" and draw(st.booleans()):
            inner, _ = draw(block(channels))  # a construct nested inside a branch
            if (
                inner["type"] in ("layernorm", "gelu", "scale", "shuffle")
                and channels % inner.get("groups", 1) == 0
            ):
                layer["branches"][0] = [*layer["branches"][0], inner]
        layers.append(layer)
    if draw(st.booleans()):
        layers += [
            {"type": "flatten"},
            {"type": "linear", "out": draw(st.integers(1, 5)), "bias": True},
        ]
    return {"name": "branching", "input": source, "layers": layers}


def conv_macs(report: Any) -> list[int]:
    """dsc-calc's MACs of every row with weights that torch's hooks see (convs and linears)."""
    return [row.cost.macs for row in report.rows if row.kind != "other"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=branching_specs())
def test_random_branching_networks_agree_with_torch(spec: dict[str, Any]) -> None:
    """Concat, add, split, nesting, shuffle, layer norm, layer scale, GELU, dropout, ceil-mode and
    adaptive pools, upsampling and transposed convs: both sides refuse, or everything agrees."""
    try:
        measured = build_and_measure(spec)
    except RuntimeError:
        event("both refuse")
        with pytest.raises(DscCalcError):
            analyse_dict(spec)
        return
    event("both accept")
    report = analyse_dict(spec)
    assert report.totals.params == measured.params
    assert report.totals.macs == measured.macs
    assert report.totals.flops == measured.flops
    assert (report.output.channels, report.output.height, report.output.width) == measured.output
    assert conv_macs(report) == [row.macs for row in measured.rows if row.kind != "other"]


INCEPTION_LIKE = {
    "name": "inception-like",
    "input": {"channels": 8, "height": 9, "width": 9},
    "layers": [
        {
            "type": "branches",
            "name": "mixed",
            "branches": [
                [{"type": "conv", "out": 5, "k": 1, "padding": 0, "bn": True, "act": "relu"}],
                [
                    {"type": "conv", "out": 3, "k": 1, "padding": 0},
                    {"type": "conv", "out": 5, "k": 3, "padding": 1},
                ],
                [
                    {
                        "type": "pool",
                        "op": "max",
                        "k": 3,
                        "stride": 1,
                        "padding": 1,
                        "ceil_mode": True,
                    },
                    {"type": "conv", "out": 2, "k": 1, "padding": 0},
                ],
            ],
        },
        {"type": "pool", "op": "max", "k": 3, "stride": 2, "ceil_mode": True},
        {
            "type": "branches",
            "split": True,
            "branches": [[], [{"type": "conv", "out": 6, "k": 1, "padding": 0}]],
        },
        {"type": "shuffle", "groups": 2},
        {"type": "pool", "op": "avg", "output_size": 1},
        {"type": "flatten"},
        {"type": "linear", "out": 10, "bias": True},
    ],
}


def test_an_inception_like_network_agrees_with_torch_row_by_row() -> None:
    """A hand-written inception module, a ceil-mode pool, a ShuffleNet unit and an adaptive head."""
    measured = build_and_measure(INCEPTION_LIKE)
    report = analyse_dict(INCEPTION_LIKE)
    assert (report.totals.params, report.totals.macs) == (measured.params, measured.macs)
    assert conv_macs(report) == [row.macs for row in measured.rows if row.kind != "other"]
    assert report.rows[-1].output.channels == 10
