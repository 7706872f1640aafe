"""The spatially separable form in `layer`: kh×1 Cin→Cout then 1×kw Cout→Cout, by closed forms."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, get_args

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc.cost.conv import Conv2d, PaddingMode, Shape, compare


@st.composite
def layers(draw: st.DrawFn) -> tuple[Conv2d, Shape, int]:
    """A random valid layer: groups dividing both channel counts, a kernel that fits."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 6))
    cout = groups * draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(
        st.one_of(
            st.sampled_from(get_args(PaddingMode)),
            st.tuples(st.integers(0, 4), st.integers(0, 4)),
        )
    )
    pad_h, pad_w = (0, 0) if isinstance(padding, str) else padding
    height = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * pad_h), 40))
    width = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pad_w), 40))
    conv = Conv2d(
        cin,
        cout,
        (kh, kw),
        (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        padding,
        (dh, dw),
        groups=groups,
        bias=draw(st.booleans()),
    )
    return conv, Shape(cin, height, width), draw(st.integers(1, 3))


@settings(max_examples=200, deadline=None)
@given(layers())
def test_spatial_costs_follow_the_closed_forms(case: tuple[Conv2d, Shape, int]) -> None:
    """Params, MACs, FLOPs and the output of the two 1-D convs, from the weight shapes by hand."""
    conv, source, batch = case
    result = compare(conv, source, batch)
    cin, cout, g = conv.in_channels, conv.out_channels, conv.groups
    (kh, kw), bias = conv.kernel, int(conv.bias)
    out_h, out_w = result.output.height, result.output.width
    # the vertical conv keeps the input width; the horizontal one keeps the output height
    assert conv.vertical().output_shape(source) == Shape(cout, out_h, source.width)
    assert result.vertical.params == cout * (cin // g) * kh + bias * cout
    assert result.horizontal.params == cout * (cout // g) * kw + bias * cout
    assert result.vertical.macs == batch * cout * out_h * source.width * (cin // g) * kh
    assert result.horizontal.macs == batch * cout * out_h * out_w * (cout // g) * kw
    v_outputs, h_outputs = batch * cout * out_h * source.width, batch * cout * out_h * out_w
    assert result.vertical.flops == 2 * result.vertical.macs + bias * v_outputs
    assert result.horizontal.flops == 2 * result.horizontal.macs + bias * h_outputs
    assert result.spatial == result.vertical + result.horizontal
    assert result.spatial_params_ratio == Fraction(result.spatial.params, result.standard.params)
    if not conv.bias:
        expected = Fraction(cin * kh + cout * kw, cin * kh * kw)
        assert result.spatial_params_ratio == expected


@settings(max_examples=100, deadline=None)
@given(
    cin=st.integers(1, 64),
    cout=st.integers(1, 64),
    kh=st.integers(1, 9),
    kw=st.integers(1, 9),
    hw=st.integers(1, 30),
)
def test_same_padding_stride_one_macs_ratio_is_the_params_formula(
    cin: int, cout: int, kh: int, kw: int, hw: int
) -> None:
    """With 'same' padding, stride 1 and no bias both spatial ratios are (Cin·kh + Cout·kw)/(Cin·kh·kw)."""
    result = compare(Conv2d(cin, cout, (kh, kw), padding="same"), Shape(cin, hw, hw))
    expected = Fraction(cin * kh + cout * kw, cin * kh * kw)
    assert result.spatial_macs_ratio == result.spatial_params_ratio == expected


def test_inception_v3_factorisations() -> None:
    """Inception-v3: 3×3 → 3×1 + 1×3 is 33% cheaper and 7×7 → 7×1 + 1×7 costs 2/7 (Cin = Cout)."""
    three = compare(Conv2d(192, 192, 3, padding="same"), Shape(192, 17, 17))
    assert three.spatial_macs_ratio == Fraction(2, 3)
    seven = compare(Conv2d(192, 192, 7, padding="same"), Shape(192, 17, 17))
    assert seven.spatial_params_ratio == seven.spatial_macs_ratio == Fraction(2, 7)


def test_parts_carry_their_own_axis_of_stride_padding_dilation_and_groups() -> None:
    """kh×1 takes the height stride/padding/dilation, 1×kw the width ones; both take groups and bias."""
    conv = Conv2d(8, 12, (5, 3), (2, 3), (2, 1), (3, 2), groups=4, bias=True)
    v, h = conv.vertical(), conv.horizontal()
    assert (v.in_channels, v.out_channels, v.kernel, v.stride, v.padding, v.dilation) == (
        8,
        12,
        (5, 1),
        (2, 1),
        (2, 0),
        (3, 1),
    )
    assert (h.in_channels, h.out_channels, h.kernel, h.stride, h.padding, h.dilation) == (
        12,
        12,
        (1, 3),
        (1, 3),
        (0, 1),
        (1, 2),
    )
    assert v.groups == h.groups == 4
    assert v.bias
    assert h.bias


def test_same_padding_applies_per_axis() -> None:
    """'same' pads the vertical conv on the height axis only and the horizontal one on width only."""
    conv = Conv2d(4, 4, (5, 4), (2, 3), "same")
    source = Shape(4, 11, 10)
    (top, bottom), (left, right) = conv.padding_sides(11, 10)
    assert conv.vertical().padding_sides(11, 10) == ((top, bottom), (0, 0))
    middle = conv.vertical().output_shape(source)
    assert middle == Shape(4, -(-11 // 2), 10)
    assert conv.horizontal().padding_sides(middle.height, middle.width) == ((0, 0), (left, right))
    assert compare(conv, source).output == conv.horizontal().output_shape(middle)


def layer_json(*args: str) -> Any:
    outcome = run_cli("layer", *args, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    return outcome.json()


def test_layer_json_has_the_spatial_block_and_ratios() -> None:
    """`layer --json` adds spatial{params,macs,flops,vertical,horizontal} and ratio.spatial."""
    doc = layer_json("-M", "3", "-N", "4", "-k", "3", "--hw", "32", "-p", "1", "--bias")
    # 3×1 3→4 +bias: 4·3·3 + 4 = 40 params; 1×3 4→4 +bias: 4·4·3 + 4 = 52 params
    assert doc["spatial"]["vertical"] == {
        "params": 40,
        "macs": 4 * 32 * 32 * 3 * 3,
        "flops": 2 * 4 * 32 * 32 * 3 * 3 + 4 * 32 * 32,
    }
    assert doc["spatial"]["horizontal"]["params"] == 52
    assert doc["spatial"]["params"] == 92
    assert doc["ratio"]["spatial"]["exact"]["params"] == str(Fraction(92, 112))
    assert doc["ratio"]["spatial"]["params"] == 92 / 112
    assert doc["ratio"]["spatial"]["exact"]["macs"] == str(Fraction(3 * 3 + 4 * 3, 3 * 9))
    # the existing contract is still there, unchanged in shape
    assert (doc["standard"]["params"], doc["separable"]["params"]) == (112, 46)
    assert doc["ratio"]["exact"] == {"params": "23/56", "macs": "13/36", "formula": "13/36"}


def test_layer_table_shows_all_three_designs() -> None:
    """The cost table lists standard, the depthwise pair and the spatial pair with their layers."""
    outcome = run_cli("layer", "--cin", "32", "--cout", "64", "-k", "5x3", "--hw", "20", "-s", "2")
    assert outcome.exit_code == 0, outcome.stderr
    text = outcome.stdout
    for label in ("standard", "separable (dw + pw)", "vertical", "horizontal", "spatial (v + h)"):
        assert label in text
    assert "5×1 32→64 s2×1" in text
    assert "1×3 64→64 s1×2" in text
    assert "spatial MACs" in text
    assert "full input width" in text  # the width stride note


def test_csv_lists_the_spatial_rows_with_exact_counts() -> None:
    """CSV (the cost table) has the vertical, horizontal and total rows with exact integers."""
    outcome = run_cli(
        "layer", "-M", "3", "-N", "4", "-k", "3", "--hw", "32", "-p", "1", "-f", "csv"
    )
    lines = outcome.stdout.splitlines()
    assert (
        lines[-3] == f"vertical,3×1 3→4,4×32×32,36,{4 * 32 * 32 * 3 * 3},{2 * 4 * 32 * 32 * 3 * 3}"
    )
    assert (
        lines[-2]
        == f"horizontal,1×3 4→4,4×32×32,48,{4 * 32 * 32 * 4 * 3},{2 * 4 * 32 * 32 * 4 * 3}"
    )
    assert lines[-1].startswith("spatial (v + h),,4×32×32,84,")


@pytest.mark.torch
@settings(max_examples=60, deadline=None)
@given(layers())
def test_torch_two_conv_form_matches_params_and_shapes(case: tuple[Conv2d, Shape, int]) -> None:
    """nn.Conv2d(kh×1) then nn.Conv2d(1×kw), padded as we pad, give our params and output shapes."""
    torch = pytest.importorskip("torch")
    conv, source, batch = case
    result = compare(conv, source, batch)
    modules = []
    shape = source
    for part in (conv.vertical(), conv.horizontal()):
        (top, bottom), (left, right) = part.padding_sides(shape.height, shape.width)
        modules += [
            torch.nn.ZeroPad2d((left, right, top, bottom)),
            torch.nn.Conv2d(
                part.in_channels,
                part.out_channels,
                part.kernel,
                stride=part.stride,
                dilation=part.dilation,
                groups=part.groups,
                bias=part.bias,
            ),
        ]
        shape = part.output_shape(shape)
    model = torch.nn.Sequential(*modules)
    params = [sum(p.numel() for p in m.parameters()) for m in model[1::2]]
    assert params == [result.vertical.params, result.horizontal.params]
    with torch.no_grad():
        middle = model[:2](torch.zeros(batch, source.channels, source.height, source.width))
        out = model[2:](middle)
    assert tuple(middle.shape[1:]) == (
        conv.out_channels,
        result.output.height,
        source.width,
    )
    assert tuple(out.shape) == (
        batch,
        result.output.channels,
        result.output.height,
        result.output.width,
    )
