"""The branching presets (torchvision 0.28's classics) and the branching walk they rely on.

Two oracles, never dsc-calc's own output: the figures torchvision 0.28 documents for each model
(its parameter count and its conv + linear multiply-accumulates, which it calls "GFLOPS"), always
checked; and, when torch and torchvision are importable, the torchvision models themselves, built
with random weights: their parameter count, the MACs forward hooks on every Conv2d and Linear
compute from the module's weight shape and its real output tensor, and the output shape, at the
native resolution and at two others, layer by layer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli

from dsc_calc.choices import FAMILIES
from dsc_calc.network.decode import convert
from dsc_calc.network.load import load_network
from dsc_calc.network.presets import PUBLISHED, names
from dsc_calc.network.report import NetworkReport
from dsc_calc.network.walk import analyse
from dsc_calc.network.width import NO_WIDTH_MULTIPLIER

#: torchvision 0.28's figures: (params, conv + linear MACs, native resolution).
TORCHVISION = {
    "shufflenet_v2_x1_0": (2_278_604, 144_907_992, 224),
    "squeezenet1_0": (1_248_424, 818_924_576, 224),
    "googlenet": (6_624_904, 1_498_376_192, 224),
    "inception_v3": (23_834_568, 5_713_216_096, 299),
    "densenet121": (7_978_856, 2_834_161_664, 224),
    "convnext_tiny": (28_589_128, 4_455_531_264, 224),
}
ZOO = tuple(TORCHVISION)
FAMILY = {
    "shufflenet_v2_x1_0": "shufflenet",
    "squeezenet1_0": "squeezenet",
    "googlenet": "googlenet",
    "inception_v3": "inception",
    "densenet121": "densenet",
    "convnext_tiny": "convnext",
}
#: Other resolutions each model is checked at against torchvision: a smaller one, and an odd one
#: where the ceil_mode pools round up.
OTHER_RESOLUTIONS = dict.fromkeys(ZOO, (160, 193)) | {"inception_v3": (256, 317)}


def shipped(name: str) -> dict[str, Any]:
    text = (
        resources.files("dsc_calc.network").joinpath("presets", f"{name}.json").read_text("utf-8")
    )
    document: dict[str, Any] = json.loads(text)
    return document


# --- Against torchvision 0.28's figures (always) -----------------------------------------------


@pytest.mark.parametrize("name", ZOO)
def test_preset_has_torchvision_figures(name: str) -> None:
    """Each preset's params and conv + linear MACs are torchvision 0.28's, exactly, at its native
    resolution, and the network ends in the 1000 classes."""
    params, macs, resolution = TORCHVISION[name]
    report = analyse(load_network(name))
    assert (report.totals.params, report.totals.macs) == (params, macs)
    assert (report.input.height, report.input.width) == (resolution, resolution)
    assert (report.output.channels, report.output.height, report.output.width) == (1000, 1, 1)


@pytest.mark.parametrize("name", ZOO)
def test_preset_is_listed_with_family_source_and_figures(name: str) -> None:
    """Each preset ships in the package with its family and source, after the earlier presets,
    and PUBLISHED prints torchvision's figures with torchvision 0.28 named as the source."""
    params, macs, _ = TORCHVISION[name]
    document = shipped(name)
    assert document["name"] == name
    assert document["family"] == FAMILY[name]
    assert FAMILY[name] in FAMILIES
    assert document["source"]
    assert name in names()
    published = PUBLISHED[name]
    assert (published.params, published.macs) == (f"{params:,}", f"{macs:,}")
    assert "torchvision 0.28" in published.source


@pytest.mark.parametrize("name", ["googlenet", "inception_v3"])
def test_presets_name_says_the_aux_heads_are_left_out(name: str) -> None:
    """`presets googlenet|inception_v3` says these are the inference graphs without the
    auxiliary classifiers."""
    outcome = run_cli("presets", name)
    assert outcome.exit_code == 0, outcome.stderr
    description = json.loads(outcome.stdout)["description"]
    assert description.startswith("The inference graph, without the")
    assert "auxiliary classifier" in description


@pytest.mark.parametrize("name", ZOO)
def test_alpha_is_refused_for_families_without_a_width_multiplier(name: str) -> None:
    """--alpha on these families is one clear error at --alpha, naming the preset and family."""
    assert FAMILY[name] in NO_WIDTH_MULTIPLIER
    outcome = run_cli("network", name, "--alpha", "0.5", "--json")
    assert_clean_error(outcome, "--alpha", name, FAMILY[name], "no width multiplier")


@pytest.mark.parametrize("name", ZOO)
def test_resolution_changes_macs_not_params(name: str) -> None:
    """--resolution works on every preset: the adaptive (or global) pool before the classifier
    keeps the params, and MACs move with the input size."""
    params, macs, resolution = TORCHVISION[name]
    for other in OTHER_RESOLUTIONS[name]:
        report = analyse(load_network(name, resolution=other))
        assert report.totals.params == params
        assert (report.output.channels, report.output.height, report.output.width) == (1000, 1, 1)
        assert (report.totals.macs < macs) == (other < resolution)
    outcome = run_cli("network", name, "--resolution", "160", "--json")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.json()["input"]["height"] == 160


@pytest.mark.parametrize("name", ZOO)
def test_presets_round_trip_through_the_decoder(name: str) -> None:
    """Each preset, written back out as JSON and decoded again, is the same spec."""
    from dsc_calc.network.decode import decode
    from dsc_calc.network.spec import to_builtins

    network = load_network(name)
    assert decode(json.dumps(to_builtins(network)).encode()) == network


# --- The branching walk ------------------------------------------------------------------------


def test_a_concat_row_writes_the_concatenated_shape() -> None:
    """A concat of 4 and 6 channels writes 10 channels (not 10 + 6), so the next row holds no
    phantom tensor and the concat's output is the block's."""
    spec = convert(
        {
            "input": {"channels": 3, "height": 8, "width": 8},
            "layers": [
                {
                    "type": "branches",
                    "branches": [
                        [{"type": "conv", "out": 4, "k": 1, "padding": 0}],
                        [{"type": "conv", "out": 6, "k": 1, "padding": 0}],
                    ],
                },
                {"type": "conv", "out": 2, "k": 1, "padding": 0},
            ],
        }
    )
    report = analyse(spec)
    concat = next(row for row in report.rows if row.type == "concat")
    assert (concat.input.channels, concat.output.channels) == (10, 10)
    assert report.rows[-1].input == concat.output
    assert report.rows[-1].held_elements == 0


def test_a_repeat_block_inside_a_branch_decodes_and_round_trips() -> None:
    """``{"repeat": n, "layers": [...]}`` has no ``type`` inside a branch as anywhere else, and is
    written back without one."""
    from dsc_calc.network.decode import decode
    from dsc_calc.network.spec import to_builtins

    document = {
        "input": {"channels": 3, "height": 8, "width": 8},
        "layers": [
            {
                "type": "branches",
                "branches": [
                    [{"repeat": 2, "layers": [{"type": "conv", "out": 4, "k": 1, "padding": 0}]}],
                    [],
                ],
            }
        ],
    }
    spec = convert(document)
    assert analyse(spec).output.channels == 7
    written = to_builtins(spec)
    assert "type" not in written["layers"][0]["branches"][0][0]
    assert decode(json.dumps(written).encode()) == spec


# --- Against torchvision's models (when torch and torchvision are importable) ------------------


def torchvision_models() -> Any:
    """``torchvision.models``, or a skip. torchvision's compiled ops do not load on this torch,
    so its fake-kernel registrations are made no-ops while it imports (then restored)."""
    pytest.importorskip("torch")
    import torch.library

    original = torch.library.register_fake
    torch.library.register_fake = lambda *_a, **_k: lambda f: f
    try:
        models = pytest.importorskip("torchvision.models")
    finally:
        torch.library.register_fake = original
    return models


BUILDERS: dict[str, Callable[[Any], Any]] = {
    "shufflenet_v2_x1_0": lambda m: m.shufflenet_v2_x1_0(),
    "squeezenet1_0": lambda m: m.squeezenet1_0(),
    "googlenet": lambda m: m.googlenet(aux_logits=False, init_weights=False),
    "inception_v3": lambda m: m.inception_v3(aux_logits=False, init_weights=False),
    "densenet121": lambda m: m.densenet121(),
    "convnext_tiny": lambda m: m.convnext_tiny(),
}

#: One hooked layer: (module path, params, MACs, output (channels, height, width)).
Hooked = tuple[str, int, int, tuple[int, int, int]]


@cache
def torchvision_model(name: str) -> Any:
    """The torchvision model (random weights, no download), in eval mode."""
    import torch

    torch.manual_seed(0)
    return BUILDERS[name](torchvision_models()).eval()


def hooked(name: str, resolution: int) -> tuple[int, list[Hooked], tuple[int, ...]]:
    """The model's parameter count, every Conv2d and Linear as run on one 3 x R x R image (MACs
    from the weight shape and the real output: out elements x in-channels/groups x kh x kw for a
    conv, out elements x in_features for a linear), and the output shape."""
    import torch
    from torch import nn

    torch.set_num_threads(1)
    model = torchvision_model(name)
    layers: list[Hooked] = []

    def record(path: str) -> Callable[..., None]:
        def hook(module: Any, _inputs: Any, output: Any) -> None:
            weight = module.weight
            params = sum(p.numel() for p in module.parameters(recurse=False))
            if isinstance(module, nn.Conv2d):
                macs = output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]
                shape = tuple(output.shape[1:])
            else:  # Linear: on (N, C) or channels-last (N, H, W, C)
                macs = output.numel() * weight.shape[1]
                shape = (output.shape[-1], *output.shape[1:-1], 1, 1)[:3]
            layers.append((path, params, macs, (shape[0], shape[1], shape[2])))

        return hook

    handles = [
        module.register_forward_hook(record(path))
        for path, module in model.named_modules()
        if isinstance(module, nn.Conv2d | nn.Linear)
    ]
    try:
        with torch.no_grad():
            output = model(torch.zeros(1, 3, resolution, resolution))
    finally:
        for handle in handles:
            handle.remove()
    params = sum(p.numel() for p in model.parameters())
    return params, layers, tuple(output.shape)


def weighted_rows(report: NetworkReport) -> list[tuple[str, int, int, tuple[int, int, int]]]:
    """dsc-calc's conv and linear rows, in order: (name, params, MACs, output shape)."""
    return [
        (
            row.name,
            row.cost.params,
            row.cost.macs,
            (row.output.channels, row.output.height, row.output.width),
        )
        for row in report.rows
        if row.conv is not None or row.type == "linear"
    ]


@pytest.mark.torch
@pytest.mark.parametrize("name", ZOO)
def test_torchvision_model_has_the_published_figures(name: str) -> None:
    """The oracle itself: torchvision 0.28's model, hooked at its native resolution, has the
    figures torchvision documents, so the checks below compare against the right network."""
    params, macs, resolution = TORCHVISION[name]
    counted, layers, output = hooked(name, resolution)
    assert (counted, sum(layer[2] for layer in layers)) == (params, macs)
    assert output == (1, 1000)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "resolution"),
    [(name, TORCHVISION[name][2]) for name in ZOO]
    + [(name, other) for name in ZOO for other in OTHER_RESOLUTIONS[name]],
)
def test_preset_agrees_with_torchvision_layer_by_layer(name: str, resolution: int) -> None:
    """At the native resolution and two others: the preset's params equal the torchvision
    model's, its MACs the hooks' total, its output the model's, and its conv and linear rows,
    in order, the hooked Conv2d and Linear modules: params, MACs and output shape each."""
    params, layers, output = hooked(name, resolution)
    report = analyse(load_network(name, resolution=resolution))
    assert report.totals.params == params
    assert report.totals.macs == sum(layer[2] for layer in layers)
    assert (1, report.output.channels) == output
    ours = weighted_rows(report)
    assert len(ours) == len(layers)
    for (row, *mine), (module, *theirs) in zip(ours, layers, strict=True):
        assert mine == theirs, f"dsc-calc {row} = {mine}, torchvision {module} = {theirs}"
