"""The Python API for networks: lazy top-level exports, dict specs, and DscCalcError on bad input."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import TOY

import dsc_calc
import dsc_calc.api
from dsc_calc import DscCalcError

#: One 3x3 conv 3 -> 4 on 8x8 with padding 1: 3·4·3·3 = 108 weights, each used on 8·8 pixels.
ONE_CONV: dict[str, Any] = {
    "input": {"channels": 3, "height": 8, "width": 8},
    "layers": [{"type": "conv", "out": 4, "k": 3, "padding": 1, "bias": False}],
}


def test_import_dsc_calc_stays_cheap_and_the_network_api_loads_on_first_use() -> None:
    """`import dsc_calc` loads neither the API module nor the spec decoder; the name loads the
    module, and only a call decodes a spec (dsc_calc.network.spec)."""
    spec = "dsc_calc.network.spec"
    code = (
        "import sys, dsc_calc; seen = lambda: sorted({'dsc_calc.api', '"
        + spec
        + "'} & set(sys.modules))"
        "; a = seen(); f = dsc_calc.load_network; b = seen(); f('mobilenet_v1'); c = seen()"
        "; print(a, b, c, sep='|')"
    )
    printed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == f"[]|['dsc_calc.api']|['dsc_calc.api', '{spec}']"


def test_the_names_are_exported_and_listed() -> None:
    from dsc_calc import analyse, load_network

    assert analyse is dsc_calc.api.analyse
    assert load_network is dsc_calc.api.load_network
    assert {"analyse", "load_network"} <= set(dsc_calc.__all__)
    assert {"analyse", "load_network"} <= set(dir(dsc_calc))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dsc_calc.nope  # noqa: B018 - the access is the test


def test_a_dict_spec_a_path_and_a_preset_name_all_load(tmp_path: Path) -> None:
    """A dict costs as the same JSON in a file does; the figures are the hand count above."""
    from_dict = dsc_calc.analyse(ONE_CONV)
    assert (from_dict.totals.params, from_dict.totals.macs) == (3 * 4 * 3 * 3, 108 * 8 * 8)
    path = tmp_path / "one.json"
    path.write_text(json.dumps(ONE_CONV), encoding="utf-8")
    for source in (path, str(path)):
        assert dsc_calc.analyse(source).totals == from_dict.totals
        assert dsc_calc.load_network(source) == dsc_calc.load_network(ONE_CONV)
    toy = dsc_calc.analyse(dsc_calc.load_network(TOY))
    assert toy.rows == dsc_calc.analyse(TOY).rows
    preset = dsc_calc.analyse("mobilenet_v1")
    assert preset.totals.params == 4_231_976  # Howard et al. 2017 Table 1, with batch norm


def test_resolution_applies_to_a_dict_spec() -> None:
    """resolution 16: 4x the pixels, so 4x the MACs of the 8x8 count."""
    big = dsc_calc.analyse(dsc_calc.load_network(ONE_CONV, resolution=16))
    assert big.totals.macs == 4 * 108 * 64
    assert big.input.height == big.input.width == 16


@pytest.mark.parametrize("source", [42, None, 3.5, b"one.json", ["mobilenet_v1"], object()])
def test_wrong_source_types_are_a_dsc_calc_error(source: object) -> None:
    with pytest.raises(DscCalcError) as caught:
        dsc_calc.load_network(source)  # type: ignore[arg-type]
    assert caught.value.where == "source"
    assert type(source).__name__ in caught.value.problem
    with pytest.raises(DscCalcError) as analysed:
        dsc_calc.analyse(source)  # type: ignore[arg-type]
    assert analysed.value.where == "spec"


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"alpha": "0.5"}, "alpha"),
        ({"alpha": True}, "alpha"),
        ({"resolution": "160"}, "resolution"),
    ],
)
def test_wrong_option_types_name_the_argument(kwargs: dict[str, object], where: str) -> None:
    with pytest.raises(DscCalcError) as caught:
        dsc_calc.load_network("mobilenet_v1", **kwargs)  # type: ignore[arg-type]
    assert caught.value.where == where


@pytest.mark.parametrize(
    ("kwargs", "where"), [({"batch": "2"}, "batch"), ({"what_if": 3}, "what_if")]
)
def test_wrong_analyse_arguments_name_the_argument(kwargs: dict[str, object], where: str) -> None:
    with pytest.raises(DscCalcError) as caught:
        dsc_calc.analyse("mobilenet_v1", **kwargs)  # type: ignore[arg-type]
    assert caught.value.where == where


def test_bad_dict_specs_are_refused_like_bad_files() -> None:
    with pytest.raises(DscCalcError, match="not JSON data"):
        dsc_calc.load_network({"input": {1, 2}})
    with pytest.raises(DscCalcError, match="not JSON data"):
        dsc_calc.load_network({"x": float("nan")})
    bad = json.loads(json.dumps(ONE_CONV))
    bad["layers"][0]["k"] = 0
    with pytest.raises(DscCalcError) as caught:
        dsc_calc.load_network(bad)
    assert caught.value.where.startswith("layers[0]")
    with pytest.raises(DscCalcError) as empty:
        dsc_calc.load_network({})
    assert "standard input" not in str(empty.value)
    with pytest.raises(DscCalcError, match="standard input"):
        dsc_calc.load_network("-")


def test_module_doctests_pass() -> None:
    for module in (dsc_calc, dsc_calc.api):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted >= 1
        assert result.failed == 0
