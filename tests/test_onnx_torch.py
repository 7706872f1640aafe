"""Real exports: torch builds of specs (tests/torch_spec.py) exported with torch.onnx.export, then
imported, must give the spec path's params and MACs.

Two exports of each network. In training mode batch norm stays a BatchNormalization node, so
params and MACs equal the spec's exactly. In eval mode (the README's recipe) the exporter folds
each batch norm into the conv before it: MACs are unchanged, and params drop by C per folded batch
norm (its 2·C scale and shift become the bias-free conv's C bias), which the import reports.
Weights are randomised first: the exporter merges identical initializers (fresh all-zero biases),
which would make the file hold fewer tensors than the module.
"""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")  # torch's TorchScript exporter serialises through onnx

from test_network_torch import PRESETS, chain_specs, preset_spec  # noqa: E402
from torch_spec import build  # noqa: E402

from dsc_calc.errors import DscCalcError  # noqa: E402
from dsc_calc.network.load import load_network  # noqa: E402
from dsc_calc.network.walk import analyse  # noqa: E402
from dsc_calc.onnx.model import ImportedModel, from_torch, import_model  # noqa: E402

pytestmark = pytest.mark.torch
torch.set_num_threads(1)


def export(module: Any, shape: tuple[int, ...], *, train: bool) -> ImportedModel:
    x = torch.randn(*shape)
    with torch.no_grad():
        module.eval()
        module(x)  # materialise lazy layers
        for parameter in module.parameters():
            parameter.normal_()
        for sub in module.modules():
            if isinstance(sub, torch.nn.BatchNorm2d):
                sub.running_mean.normal_()
                sub.running_var.uniform_(0.5, 2.0)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if train:
            module.train()
            torch.onnx.export(
                module,
                (x,),
                buffer,
                dynamo=False,
                training=torch.onnx.TrainingMode.TRAINING,
                do_constant_folding=False,
            )
        else:
            module.eval()
            torch.onnx.export(module, (x,), buffer, dynamo=False)
    return import_model(buffer.getvalue())


def spec_cost(spec: dict[str, Any]) -> tuple[int, int]:
    report = analyse(load_network("-", stdin=json.dumps(spec).encode()))
    return report.totals.params, report.totals.macs


def batchnorm_channels(module: Any) -> int:
    return sum(m.num_features for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))


def input_of(spec: dict[str, Any]) -> tuple[int, int, int, int]:
    source = spec["input"]
    return (1, source["channels"], source["height"], source["width"])


@pytest.mark.parametrize("name", PRESETS)
def test_preset_torch_build_exported_matches_the_spec(name: str) -> None:
    spec = preset_spec(name)
    params, macs = spec_cost(spec)
    trained = export(build(spec), input_of(spec), train=True)
    assert (trained.params, trained.macs) == (params, macs)
    assert not trained.uncosted
    module = build(spec)
    evaluated = export(module, input_of(spec), train=False)
    assert evaluated.macs == macs
    assert evaluated.params == params - batchnorm_channels(module)
    assert evaluated.bn_folded == (batchnorm_channels(module) > 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=chain_specs())
def test_random_networks_exported_match_the_spec(chain: dict[str, Any]) -> None:
    try:
        params, macs = spec_cost(chain)
        module = build(chain)
        module(torch.randn(*input_of(chain)))
    except (DscCalcError, RuntimeError):
        return  # shapes that collapse: both sides refuse them (tested in test_network_torch)
    # Batch 2: a training-mode batch norm refuses one value per channel.
    imported = export(module, (2, *input_of(chain)[1:]), train=True)
    assert (imported.params, imported.macs) == (params, 2 * macs)
    assert not imported.uncosted


def test_from_torch_reports_the_eval_export() -> None:
    module = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
        torch.nn.Conv2d(8, 16, 1),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 10),
    )
    report = from_torch(module, (1, 3, 32, 32))
    framework = sum(p.numel() for p in module.parameters())
    assert report.totals.params == framework - 8  # one BN of 8 channels folded
    assert report.totals.macs == 8 * 16 * 16 * 27 + 8 * 16 * 16 * 9 + 16 * 16 * 16 * 8 + 160
    assert any("folded" in note for note in report.notes)
    assert module.training  # from_torch restores the mode


def test_from_torch_refuses_what_is_not_a_module() -> None:
    with pytest.raises(DscCalcError, match=r"torch\.nn\.Module"):
        from_torch(object(), (1, 3, 8, 8))
