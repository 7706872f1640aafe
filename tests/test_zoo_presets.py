"""The torchvision classics as presets: exact against torchvision 0.28's figures and its models.

The figures are torchvision's own: ``num_params`` (``sum(p.numel() for p in model.parameters())``)
and its documented "GFLOPS", which are the multiply-accumulates of conv and linear weights at
224x224 (bias excluded), here written out in full. The first tests check them as literals and
always run. The ``torch`` tests build each ``torchvision.models.<name>()`` with random weights (no
download) and count it independently of dsc-calc: params from ``model.parameters()``, MACs from
forward hooks on every ``Conv2d`` and ``Linear`` (weight elements times output positions), and the
output shape, at 224 and at 160.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_clean_error, run_cli

from dsc_calc import DscCalcError
from dsc_calc.network.load import load_network
from dsc_calc.network.presets import PUBLISHED
from dsc_calc.network.walk import analyse

#: torchvision 0.28 at 224x224: (params, conv + linear MACs), as the issue states them.
FIGURES = {
    "resnet18": (11_689_512, 1_814_073_344),
    "resnet50": (25_557_032, 4_089_184_256),
    "resnext50_32x4d": (25_028_904, 4_230_479_872),
    "vgg16": (138_357_544, 15_470_264_320),
    "efficientnet_b0": (5_288_548, 385_814_752),
    "mnasnet1_0": (4_383_312, 314_415_872),
    "regnet_y_400mf": (4_344_144, 401_842_848),
}
ZOO = tuple(FIGURES)
#: The families that define no width multiplier: --alpha is refused.
NO_ALPHA = ("resnet18", "resnet50", "resnext50_32x4d", "vgg16", "efficientnet_b0", "regnet_y_400mf")
#: torchvision's MNASNet(alpha) weights metadata: alpha -> (num_params, _ops in GMACs to 3 places).
MNASNET_WIDTHS = {0.5: (2_218_512, 0.104), 0.75: (3_170_208, 0.215), 1.3: (6_282_256, 0.526)}


def totals(name: str, **options: float) -> tuple[int, int]:
    report = analyse(load_network(name, **options))  # type: ignore[arg-type]
    return report.totals.params, report.totals.macs


@pytest.mark.parametrize("name", ZOO)
def test_preset_equals_torchvision_figures(name: str) -> None:
    """Each preset's params and MACs equal torchvision 0.28's exactly, on 3x224x224 to 1000."""
    report = analyse(load_network(name))
    assert (report.totals.params, report.totals.macs) == FIGURES[name]
    assert (report.input.channels, report.input.height, report.input.width) == (3, 224, 224)
    assert (report.output.channels, report.output.height, report.output.width) == (1000, 1, 1)


@pytest.mark.parametrize("name", ZOO)
def test_published_entry_gives_the_figures_and_torchvision(name: str) -> None:
    """PUBLISHED carries the exact figures, the paper and "torchvision 0.28"."""
    entry = PUBLISHED[name]
    params, macs = FIGURES[name]
    assert (entry.params, entry.macs) == (f"{params:,}", f"{macs:,}")
    assert "torchvision 0.28" in entry.source
    spec = load_network(name)
    assert spec.source is not None
    assert "torchvision 0.28" in spec.source
    assert spec.family is not None


@pytest.mark.parametrize("name", NO_ALPHA)
def test_alpha_is_refused_without_a_width_multiplier(name: str) -> None:
    """--alpha is refused, by the API and the CLI, naming alpha and why, for the families that
    have no width multiplier."""
    with pytest.raises(DscCalcError) as caught:
        load_network(name, alpha=0.5)
    assert caught.value.where == "alpha"
    assert "has no width multiplier; " in caught.value.problem
    assert_clean_error(
        run_cli("network", name, "--alpha", "0.5"), "--alpha", "has no width multiplier"
    )


@pytest.mark.parametrize(("alpha", "expected"), MNASNET_WIDTHS.items())
def test_mnasnet_alpha_matches_torchvision_widths(
    alpha: float, expected: tuple[int, float]
) -> None:
    """mnasnet1_0 --alpha gives torchvision's mnasnet0_5, 0_75 and 1_3: their num_params exactly
    and their _ops (GMACs, to 3 places); the 1280 conv and the classifier keep their width."""
    report = analyse(load_network("mnasnet1_0", alpha=alpha))
    params, gmacs = expected
    assert report.totals.params == params
    assert round(report.totals.macs / 1e9, 3) == gmacs
    assert report.rows[0].output.channels == (16 if alpha == 0.5 else 24 if alpha == 0.75 else 40)
    last = next(row for row in report.rows if row.name.startswith("last"))
    assert last.output.channels == 1280


@pytest.mark.parametrize("name", ZOO)
def test_resolution_works_on_every_preset(name: str) -> None:
    """--resolution 160: global and adaptive pools adapt, so params stay (vgg16's adaptive pool
    turns the 512x5x5 features into the 512x7x7 its first FC reads) and the output is 1000x1x1."""
    report = analyse(load_network(name, resolution=160))
    assert report.input.height == report.input.width == 160
    assert report.output.channels == 1000
    params, macs = FIGURES[name]
    assert report.totals.macs < macs
    assert report.totals.params == params
    if name == "vgg16":
        fc = next(row for row in report.rows if row.kind == "linear")
        assert fc.input.numel == 512 * 7 * 7


# --- Against torchvision itself ----------------------------------------------------------------

#: (params, MACs, output shape, the sorted (params, MACs) of each conv and linear layer).
Counts = tuple[int, int, tuple[int, ...], list[tuple[int, int]]]


def _torchvision(monkeypatch: pytest.MonkeyPatch) -> Any:
    """torchvision, or a skip without torch or torchvision."""
    pytest.importorskip("torch")
    import torch.library

    # torchvision's compiled ops do not load on this torch and the models need none of them:
    # while it is first imported, their fake-kernel registrations do nothing.
    monkeypatch.setattr(torch.library, "register_fake", lambda *_a, **_k: lambda f: f)
    return pytest.importorskip("torchvision")


def torch_count(model: Any, resolution: int) -> Counts:
    """(params, MACs, output shape, sorted per-module (params, MACs)) of a torch model on one
    3 x resolution x resolution sample, counted with forward hooks from each Conv2d and Linear
    module's weight shape and output shape."""
    import torch

    layers: list[tuple[int, int]] = []

    def hook(module: Any, _inputs: object, output: Any) -> None:
        weight = module.weight
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if isinstance(module, torch.nn.Conv2d):
            # weight [Cout, Cin/g, kh, kw]: one MAC per weight element per output position.
            macs = weight.numel() * output.shape[-2] * output.shape[-1]
        else:
            macs = weight.numel() * (output.numel() // output.shape[0] // output.shape[-1])
        layers.append((own, macs))

    handles = [
        module.register_forward_hook(hook)
        for module in model.modules()
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear)
    ]
    try:
        model.eval()
        with torch.no_grad():
            out = model(torch.zeros(1, 3, resolution, resolution))
    finally:
        for handle in handles:
            handle.remove()
    params = sum(p.numel() for p in model.parameters())
    return params, sum(macs for _, macs in layers), tuple(out.shape), sorted(layers)


def dsc_count(name: str, **options: float) -> Counts:
    report = analyse(load_network(name, **options))  # type: ignore[arg-type]
    weighted = sorted(
        (row.cost.params, row.cost.macs)
        for row in report.rows
        if row.conv is not None or row.kind == "linear"
    )
    shape = (1, report.output.channels) if report.output.height == report.output.width == 1 else ()
    return report.totals.params, report.totals.macs, shape, weighted


CASES = [(name, 224) for name in ZOO] + [(name, 160) for name in ZOO]


@pytest.mark.torch
@pytest.mark.parametrize(("name", "resolution"), CASES)
def test_preset_against_torchvision_model(
    name: str, resolution: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preset and torchvision's model agree on params, MACs, the output shape and every
    conv and linear layer's (params, MACs), at 224 and at 160."""
    torchvision = _torchvision(monkeypatch)
    model = getattr(torchvision.models, name)()
    expected = torch_count(model, resolution)
    assert dsc_count(name, resolution=resolution) == expected
    if resolution == 224:
        assert expected[:2] == FIGURES[name]


@pytest.mark.torch
@pytest.mark.parametrize("alpha", [0.5, 0.75, 1.3, 0.35])
def test_mnasnet_alpha_against_torchvision_model(
    alpha: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mnasnet1_0 --alpha equals torchvision's MNASNet(alpha), layer by layer."""
    torchvision = _torchvision(monkeypatch)
    model = torchvision.models.MNASNet(alpha)
    assert dsc_count("mnasnet1_0", alpha=alpha) == torch_count(model, 224)
