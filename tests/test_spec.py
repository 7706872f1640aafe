"""The spec decoder: what it accepts, and the exact place and words of every refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc import DscCalcError
from dsc_calc.network.decode import decode
from dsc_calc.network.load import load_network
from dsc_calc.network.spec import (
    LAYER_TYPES,
    Conv,
    DsConv,
    Repeat,
    SpConv,
    json_schema,
    to_builtins,
)


def spec_bytes(*layers: Any, **top: Any) -> bytes:
    document = {
        "name": "t",
        "input": {"channels": 3, "height": 32, "width": 32},
        "layers": list(layers),
        **top,
    }
    return json.dumps(document).encode()


def refusal(data: bytes) -> str:
    with pytest.raises(DscCalcError) as caught:
        decode(data)
    return str(caught.value)


def test_defaults_and_repeat_blocks() -> None:
    """Defaults are stride 1, padding same, dilation 1, groups 1, bias false; a block without a
    type is a repeat; spconv is its own type with the keys of conv."""
    spec = decode(
        spec_bytes(
            {"type": "conv", "out": 8},
            {"repeat": 2, "layers": [{"type": "dsconv", "out": 4}]},
            {"type": "spconv", "out": 2, "k": [3, 5]},
        )
    )
    conv, repeat, spconv = spec.layers
    assert conv == Conv(out=8, k=3, stride=1, padding="same", dilation=1, groups=1, bias=False)
    assert isinstance(repeat, Repeat)
    assert repeat.repeat == 2
    assert isinstance(repeat.layers[0], DsConv)
    assert type(spconv) is SpConv
    assert spconv.k == [3, 5]
    assert to_builtins(spec)["layers"][1] == {
        "repeat": 2,
        "layers": [to_builtins(spec)["layers"][1]["layers"][0]],
        "name": None,
    }


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        (
            {"type": "conv", "out": 8, "stride": 0},
            "layers[0].stride: must be a positive integer, got 0",
        ),
        (
            {"type": "conv", "out": 8, "k": [3, 0]},
            "layers[0].k[1]: must be a positive integer, got 0",
        ),
        (
            {"type": "conv", "out": 8, "k": [1, 2, 3]},
            "layers[0].k: must be a positive integer or a pair [h, w], got [1, 2, 3]",
        ),
        (
            {"type": "conv", "out": 8, "padding": -1},
            "layers[0].padding: must be a non-negative integer, got -1",
        ),
        (
            {"type": "conv", "out": 8, "padding": "full"},
            "layers[0].padding: must be one of 'same', 'valid', a non-negative integer or a pair [h, w]; got 'full'",
        ),
        ({"type": "conv", "out": True}, "layers[0].out: must be a positive integer, got true"),
        ({"type": "conv", "out": "8"}, "layers[0].out: must be a positive integer, got '8'"),
        ({"type": "conv"}, "layers[0].out: is required but missing"),
        (
            {"type": "conv", "out": 8, "act": "mish"},
            "layers[0].act: must be one of 'relu', 'relu6', 'hswish', 'hsigmoid', 'sigmoid', 'silu', 'gelu'; got 'mish'",
        ),
        (
            {"type": "pool", "op": "min", "k": 2},
            "layers[0].op: must be one of 'max', 'avg'; got 'min'",
        ),
        ({"type": "pool"}, 'layers[0]: a pool needs "k"'),
        (
            {"repeat": 0, "layers": [{"type": "relu"}]},
            "layers[0].repeat: must be a positive integer, got 0",
        ),
        (
            {"repeat": 10**7, "layers": [{"type": "relu"}]},
            "layers[0].repeat: must be at most 1000000, got 10000000",
        ),
        (
            {"type": "residual", "layers": [{"type": "conv", "out": 4, "dilation": [1, 0]}]},
            "layers[0].layers[0].dilation[1]: must be a positive integer, got 0",
        ),
        ({"type": "se", "ratio": 0}, "layers[0].ratio: must be a positive number, got 0"),
    ],
)
def test_refusals_name_place_problem_and_value(layer: dict[str, Any], message: str) -> None:
    """Each bad value is refused with its exact path, the problem, and the value it got."""
    assert (
        refusal(spec_bytes({"type": "relu"}, layer))
        .replace("layers[1]", "layers[0]")
        .startswith(message)
    )


def test_unknown_key_lists_the_known_keys() -> None:
    """An unknown key is named at its path, with the keys that layer type does take."""
    message = refusal(spec_bytes({"type": "dsconv", "out": 8, "kernel": 3}))
    assert message.startswith(
        "layers[0].kernel: unknown key; the keys of a 'dsconv' layer are: out, k, stride"
    )


def test_unknown_type_lists_the_known_types() -> None:
    """An unknown type is named with every known type, including spconv."""
    message = refusal(spec_bytes({"type": "transformer"}))
    assert message.startswith("layers[0].type: unknown layer type 'transformer'; known types: ")
    assert all(tag in message for tag in LAYER_TYPES)


def test_missing_type_and_unknown_top_level_key() -> None:
    """A layer with no type, and an unknown key at the top, are named as such."""
    assert refusal(spec_bytes({"out": 3})).startswith('layers[0]: a layer needs a "type"')
    assert refusal(spec_bytes({"type": "relu"}, widht=3)).startswith(
        "widht: unknown key; the keys of the spec are: input, layers, name"
    )
    assert (
        refusal(
            b'{"input": {"channels": 3, "height": 8, "width": 0}, "layers": [{"type": "relu"}]}'
        )
        == "input.width: must be a positive integer, got 0"
    )


def test_not_an_object_and_not_json() -> None:
    """Top-level arrays, broken JSON, deep nesting and an empty layer list are one-line refusals."""
    assert refusal(spec_bytes()) == "layers: must not be empty: list at least one layer"
    assert refusal(b"[1, 2]").startswith("spec: must be a JSON object")
    assert refusal(b'{"input": ').startswith("spec: is not valid JSON")
    assert refusal(b"[" * 50_000 + b"]" * 50_000) == "spec: the JSON is nested too deeply"


def test_nesting_of_blocks_is_bounded() -> None:
    """Blocks nested past the stated depth are refused before validation."""
    layer: dict[str, Any] = {"type": "relu"}
    for _ in range(100):
        layer = {"repeat": 1, "layers": [layer]}
    assert "nested more than 64 deep" in refusal(spec_bytes(layer))


def test_load_network_sources(tmp_path: Path) -> None:
    """load_network reads a path, '-' with given stdin bytes, or a preset; errors name the source."""
    path = tmp_path / "net.json"
    path.write_bytes(spec_bytes({"type": "conv", "out": 4}))
    assert load_network(str(path)).layers[0] == Conv(out=4)
    assert load_network("-", stdin=spec_bytes({"type": "relu"})).name == "t"
    assert load_network("mobilenet_v1").family == "mobilenet_v1"
    with pytest.raises(DscCalcError, match=r"^standard input: is empty"):
        load_network("-", stdin=b"")
    path.write_bytes(b"\x00\x01\x02")
    with pytest.raises(DscCalcError, match=r"net\.json: is not valid JSON"):
        load_network(str(path))
    assert load_network("mobilenet_v1", resolution=160).input.height == 160


def test_json_schema_covers_every_type() -> None:
    """The JSON Schema names every layer type as a tagged variant and lets repeat blocks omit type."""
    schema = json_schema()
    text = json.dumps(schema)
    for tag in LAYER_TYPES:
        assert f'"{tag}"' in text
    assert "type" not in schema["$defs"]["Repeat"]["required"]


@settings(max_examples=100, deadline=None)
@given(
    key=st.sampled_from(["out", "k", "stride", "dilation", "groups"]),
    value=st.one_of(
        st.integers(max_value=0),
        st.booleans(),
        st.text(max_size=3),
        # Integral floats (8.0) are integers, as in JSON Schema; positive ones are accepted.
        st.floats(allow_nan=False, allow_infinity=False).filter(
            lambda f: not f.is_integer() or f <= 0
        ),
    ),
    index=st.integers(0, 4),
)
def test_any_bad_value_names_its_path(key: str, value: Any, index: int) -> None:
    """Any non-positive, boolean, string or non-integral float value of an integer key is refused
    at layers[i].key, never with a traceback."""
    layers: list[dict[str, Any]] = [{"type": "relu"}] * index + [
        {"type": "conv", "out": 4, key: value}
    ]
    message = refusal(spec_bytes(*layers))
    assert message.startswith(f"layers[{index}].{key}: must be ")
