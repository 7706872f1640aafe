"""The presets against the figures their papers print, and against closed forms of their tables.

MACs are the papers' "mult-adds": convolutions and fully connected layers, bias excluded. Params
include batch norm scale and shift (2 per channel) and biases, as torch and Keras count them.
Where a paper rounds, the test says how and checks to that rounding only.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest
from conftest import run_cli

from dsc_calc.network.load import load_network
from dsc_calc.network.presets import PUBLISHED, names
from dsc_calc.network.walk import analyse

PRESETS = (
    "mobilenet_v1",
    "mobilenet_v1_full",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "xception",
    "resnet18",
    "resnet50",
    "resnext50_32x4d",
    "vgg16",
    "efficientnet_b0",
    "mnasnet1_0",
    "regnet_y_400mf",
    "shufflenet_v2_x1_0",
    "squeezenet1_0",
    "googlenet",
    "inception_v3",
    "densenet121",
    "convnext_tiny",
)

# Table 1 of Howard et al. 2017: (output channels, stride) of the 13 separable blocks; the
# second-to-last depthwise layer is stride 1 (the printed "s2" is a known misprint).
V1_BLOCKS = (
    [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]
    + [(512, 1)] * 5
    + [(1024, 2), (1024, 1)]
)


def v1_closed_form(
    alpha: float = 1.0, resolution: int = 224, *, separable: bool = True
) -> tuple[int, int]:
    """(params incl. batch norm, mult-adds) of MobileNet v1 straight from Table 1."""
    width = [int(c * alpha) for c, _ in V1_BLOCKS]
    cin = int(32 * alpha)
    size = -(-resolution // 2)
    params, macs = 27 * cin + 2 * cin, size * size * 27 * cin
    for cout, (_, stride) in zip(width, V1_BLOCKS, strict=True):
        size = -(-size // stride)
        if separable:
            params += 9 * cin + 2 * cin + cin * cout + 2 * cout
            macs += size * size * (9 * cin + cin * cout)
        else:
            params += 9 * cin * cout + 2 * cout
            macs += size * size * 9 * cin * cout
        cin = cout
    return params + cin * 1000 + 1000, macs + cin * 1000


def totals(name: str, **options: float) -> tuple[int, int]:
    report = analyse(load_network(name, **options))  # type: ignore[arg-type]
    return report.totals.params, report.totals.macs


def test_mobilenet_v1_matches_table_1_closed_form() -> None:
    """mobilenet_v1 has exactly the params and mult-adds of Table 1's layer list."""
    assert totals("mobilenet_v1") == v1_closed_form()


def test_mobilenet_v1_published() -> None:
    """Howard et al. 2017, Table 1/8: 569M mult-adds and 4.2M params (the paper rounds to 1M and
    0.1M; the exact figures are 568,740,352 and 4,231,976)."""
    params, macs = totals("mobilenet_v1")
    assert round(macs / 1e6) == 569
    assert round(params / 1e5) == 42


@pytest.mark.parametrize(
    ("alpha", "macs_m", "params_m"),
    [(0.75, 325, 2.6), (0.5, 149, 1.3), (0.25, 41, 0.5)],
)
def test_mobilenet_v1_width_multiplier_table_6(alpha: float, macs_m: int, params_m: float) -> None:
    """Howard et al. 2017, Table 6: the width multiplier. The paper truncates mult-adds to whole
    millions (149.5M is printed 149) and rounds params to 0.1M; TF-slim's int(c·α) rounding
    reproduces every entry and equals the closed form."""
    params, macs = totals("mobilenet_v1", alpha=alpha)
    assert (params, macs) == v1_closed_form(alpha)
    assert int(macs / 1e6) == macs_m
    assert round(params / 1e6, 1) == params_m


@pytest.mark.parametrize(("resolution", "macs_m"), [(192, 418), (160, 290), (128, 186)])
def test_mobilenet_v1_resolution_table_7(resolution: int, macs_m: int) -> None:
    """Howard et al. 2017, Table 7: the resolution multiplier leaves params at 4.2M and gives
    418M, 290M (290.7 truncated) and 186M mult-adds."""
    params, macs = totals("mobilenet_v1", resolution=resolution)
    assert (params, macs) == v1_closed_form(resolution=resolution)
    assert int(macs / 1e6) == macs_m
    assert round(params / 1e5) == 42


def test_mobilenet_v1_table_2_shares() -> None:
    """Howard et al. 2017, Table 2: 1x1 convs take 94.86 % of mult-adds, depthwise 3.06 %, the FC
    0.18 % (printed to two decimals)."""
    report = analyse(load_network("mobilenet_v1"))
    share = {
        kind: value.cost.macs / report.totals.macs * 100 for kind, value in report.by_type.items()
    }
    assert round(share["pointwise"], 2) == 94.86
    assert round(share["depthwise"], 2) == 3.06
    assert round(share["linear"], 2) == 0.18


def test_mobilenet_v1_full_table_4() -> None:
    """Howard et al. 2017, Table 4 "Conv MobileNet": 29.3M params and 4866M mult-adds. The layer
    list gives 4,867,293,184; the paper's figure is 1.3M lower (it seems to leave out the FC),
    so mult-adds are checked to 2M."""
    params, macs = totals("mobilenet_v1_full")
    assert (params, macs) == v1_closed_form(separable=False)
    assert round(params / 1e5) == 293
    assert abs(macs - 4866e6) <= 2e6


def test_mobilenet_v2_published() -> None:
    """Sandler et al. 2018 (Table 4, 1.0-224): 300M mult-adds (300.8M truncated) and 3.4M params
    (the paper's 3.4M excludes batch norm; torchvision's model with BN has 3,504,872)."""
    params, macs = totals("mobilenet_v2")
    assert params == 3_504_872
    assert int(macs / 1e6) == 300


def test_mobilenet_v3_large_published() -> None:
    """Howard et al. 2019, Table 3: 5.4M params (torchvision with BN: 5,483,032, exact) and 219M
    mult-adds. Counting conv + FC only (the SE scale and h-swish are 0 MACs here) the
    architecture gives 216.6M; the paper's tool counts 2.4M more, so MACs are checked to 1.5 %."""
    params, macs = totals("mobilenet_v3_large")
    assert params == 5_483_032
    assert abs(macs - 219e6) / 219e6 <= 0.015


def test_mobilenet_v3_small_published() -> None:
    """Howard et al. 2019, Table 4: 2.5M params (torchvision with BN: 2,542,856, exact) and 56M
    mult-adds (56.5M truncated)."""
    params, macs = totals("mobilenet_v3_small")
    assert params == 2_542_856
    assert int(macs / 1e6) == 56


def test_xception_published() -> None:
    """Chollet 2017, Table 3: 22,855,952 trainable params (Keras, batch norm included), exact, on
    a 299x299 input."""
    report = analyse(load_network("xception"))
    assert report.totals.params == 22_855_952
    assert (report.input.height, report.output.channels) == (299, 1000)


@pytest.mark.parametrize(("alpha", "stem"), [(0.35, 16), (0.5, 16), (0.75, 24), (1.4, 48)])
def test_mobilenet_v2_width_uses_make_divisible(alpha: float, stem: int) -> None:
    """MobileNetV2 at other widths rounds channels with make_divisible(c·α, 8), keeps the stem's
    input at 3 and the classifier at 1000, and never narrows the last 1280 conv. Stem widths are
    torchvision's: 32·0.35 = 11.2 rounds to 16 because 8 would lose more than 10 %."""
    report = analyse(load_network("mobilenet_v2", alpha=alpha))
    last = next(row for row in report.rows if row.name.startswith("last"))
    assert last.output.channels == (1280 if alpha <= 1 else 1792)
    assert report.rows[0].output.channels == stem
    assert all(row.output.channels % 8 == 0 for row in report.rows if row.conv is not None)
    assert report.output.channels == 1000


def test_every_preset_ships_with_source_and_family() -> None:
    """Each preset file is inside the package, has a source and a family, and is listed."""
    assert names() == PRESETS
    for name in PRESETS:
        document = json.loads(
            resources.files("dsc_calc.network")
            .joinpath("presets", f"{name}.json")
            .read_text("utf-8")
        )
        assert document["source"]
        assert document["family"]
        assert name in PUBLISHED


def test_presets_command_lists_and_prints() -> None:
    """`presets --json` lists every preset with published and counted figures; `presets NAME`
    prints the shipped spec JSON."""
    listing = run_cli("presets", "--json").json()["presets"]
    assert [entry["name"] for entry in listing] == list(PRESETS)
    assert listing[0]["published_macs"] == "569M"
    printed = run_cli("presets", "mobilenet_v2")
    assert json.loads(printed.stdout)["family"] == "mobilenet_v2"


def test_presets_json_gives_the_input_as_an_object_beside_the_deprecated_string() -> None:
    """Each entry's input_shape is the spec file's own input object; the string stays."""
    from importlib import resources

    listing = run_cli("presets", "--json").json()["presets"]
    for entry in listing:
        spec = json.loads(
            resources.files("dsc_calc.network")
            .joinpath("presets", f"{entry['name']}.json")
            .read_text(encoding="utf-8")
        )
        shape = spec["input"]
        assert entry["input_shape"] == {k: shape[k] for k in ("channels", "height", "width")}
        assert entry["input"] == f"{shape['channels']}\u00d7{shape['height']}\u00d7{shape['width']}"
    from dsc_calc.output.contracts import json_schema

    entry_schema = json_schema("presets")["$defs"]["PresetEntry"]["properties"]
    assert entry_schema["input"]["deprecated"] is True


@pytest.mark.parametrize("fmt", ["csv", "markdown", "table"])
def test_presets_name_in_a_table_format_gives_its_row_not_json(fmt: str) -> None:
    """`presets NAME -f csv|markdown|table` prints that preset's row of the listing: its counted
    params and MACs (here the closed form of Table 1) beside the paper's figures; never JSON."""
    params, macs = v1_closed_form(1.0, 224)
    outcome = run_cli("presets", "mobilenet_v1", "-f", fmt)
    assert outcome.exit_code == 0, outcome.stderr
    assert not outcome.stdout.lstrip().startswith("{")
    assert "mobilenet_v2" not in outcome.stdout
    if fmt == "csv":
        lines = outcome.stdout.splitlines()
        assert lines[0] == "Name,Input,Params,MACs,Paper params,Paper MACs"
        assert lines[1] == f"mobilenet_v1,3\u00d7224\u00d7224,{params},{macs},4.2M,569M"
    else:
        assert "mobilenet_v1" in outcome.stdout
        assert "569M" in outcome.stdout


@pytest.mark.parametrize("args", [(), ("--json",), ("-f", "json")])
def test_presets_name_alone_or_as_json_prints_the_spec(args: tuple[str, ...]) -> None:
    from importlib import resources

    shipped = resources.files("dsc_calc.network").joinpath("presets", "xception.json")
    assert run_cli("presets", "xception", *args).stdout == shipped.read_text(encoding="utf-8")


def test_mobilenet_v1_half_width_at_160() -> None:
    """Howard et al. 2017, Table 8 (0.50 MobileNet-160): 76M mult-adds and 1.32M params, both
    multipliers together (76.5M truncated). The paper's 1.32M leaves batch norm out: 1,331,592
    with it, 1,320,648 without, which rounds to 1.32M."""
    report = analyse(load_network("mobilenet_v1", alpha=0.5, resolution=160))
    params, macs = report.totals.params, report.totals.macs
    assert (params, macs) == v1_closed_form(0.5, 160)
    assert int(macs / 1e6) == 76
    norms = sum(row.cost.params for row in report.rows if row.type == "batchnorm")
    assert round((params - norms) / 1e6, 2) == 1.32


@pytest.mark.parametrize("name", PRESETS)
def test_presets_round_trip_through_the_decoder(name: str) -> None:
    """Each preset, written back out as JSON and decoded again, is the same spec."""
    from dsc_calc.network.decode import decode
    from dsc_calc.network.spec import to_builtins

    network = load_network(name)
    assert decode(json.dumps(to_builtins(network)).encode()) == network
