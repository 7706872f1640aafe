"""--alpha on the MobileNetV3 presets against torchvision's own ``width_mult``, and the squeeze
rule of ``inverted_residual`` with ``se``: torchvision floors before it rounds to a multiple of 8."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_zoo_presets import _torchvision, torch_count

from dsc_calc.network.load import load_network
from dsc_calc.network.walk import analyse
from dsc_calc.network.width import make_divisible


@pytest.mark.parametrize("hidden", [107, 143, 96, 240])
def test_inverted_residual_squeeze_floors_before_rounding(hidden: int) -> None:
    """The SE squeeze of an inverted residual is make_divisible(hidden // 4, 8), torchvision's
    ``_make_divisible(expanded // 4, 8)``; at hidden 107 and 143 that is not hidden / 4 rounded."""
    squeeze = make_divisible(hidden // 4, 8)
    if hidden in (107, 143):
        assert squeeze != make_divisible(hidden / 4, 8)
    spec = {
        "input": {"channels": 16, "height": 4, "width": 4},
        "layers": [{"type": "inverted_residual", "out": 16, "expand_channels": hidden, "se": True}],
    }
    report = analyse(load_network("-", stdin=json.dumps(spec).encode()))
    reduce = next(row for row in report.rows if row.name.endswith(".se.reduce"))
    assert reduce.output.channels == squeeze
    se_params = hidden * squeeze + squeeze + squeeze * hidden + hidden
    assert sum(row.cost.params for row in report.rows if ".se." in row.name) == se_params


@pytest.mark.torch
@pytest.mark.parametrize("alpha", [0.35, 0.5, 0.6, 0.75, 0.9, 1.0, 1.3])
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet_v3_large"])
def test_mobilenet_v3_alpha_equals_torchvision_width_mult(
    name: str, alpha: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Params and conv + linear MACs of ``--alpha`` equal torchvision's ``width_mult`` at 224,
    including the last 1×1 conv, which torchvision makes 6 × the last block's scaled width."""
    torchvision = _torchvision(monkeypatch)
    model: Any = getattr(torchvision.models, name)(width_mult=alpha)
    params, macs, _, _ = torch_count(model.eval(), 224)
    report = analyse(load_network(name, alpha=alpha))
    assert (report.totals.params, report.totals.macs) == (params, macs)
