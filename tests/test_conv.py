"""The convolution cost core against closed-form formulas, brute force and the source documents."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc import Conv2d, Cost, DscCalcError, Shape, compare, output_size, textbook_ratio
from dsc_calc.cost.conv import MAX_DIMENSION, padding_per_side


def positions(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Count the window positions one by one: the definition the output-size rule abbreviates."""
    padded = size + 2 * pad
    count, start = 0, 0
    while start + dilation * (kernel - 1) < padded:
        count += 1
        start += stride
    return count


# --- The worked examples of the source documents -------------------------------------------------


def test_seed_module_3_to_4_channels_without_bias() -> None:
    """The blog's DEPTHWISECONV(3, 4) on 32x32 with padding 1: output 4x32x32, 108 vs 39 params."""
    result = compare(Conv2d(3, 4, kernel=3, padding=1), Shape(3, 32, 32))
    assert result.output == Shape(4, 32, 32)
    assert result.standard.params == 3 * 4 * 3 * 3 == 108
    assert result.separable.params == 3 * 3 * 3 + 3 * 4 == 39


def test_seed_module_3_to_4_channels_with_bias() -> None:
    """With bias (PyTorch's default in the blog's module) the counts are 112 vs 46."""
    result = compare(Conv2d(3, 4, kernel=3, padding=1, bias=True), Shape(3, 32, 32))
    assert result.standard.params == 108 + 4 == 112
    assert result.depthwise.params == 27 + 3
    assert result.pointwise.params == 12 + 4
    assert result.separable.params == 46


def test_seed_ratio_n100_dk512() -> None:
    """The derivation's example N = 100, Dk = 512 gives R = 1/100 + 1/512² = 0.010004."""
    ratio = textbook_ratio(100, (512, 512))
    assert ratio == Fraction(1, 100) + Fraction(1, 512 * 512)
    assert round(float(ratio), 6) == 0.010004


def test_seed_ratio_n100_dk512_through_a_layer() -> None:
    """A real layer with N = 100 and a 512x512 kernel ('same' padding) has exactly that MAC ratio."""
    result = compare(Conv2d(8, 100, kernel=512), Shape(8, 4, 4))
    assert result.macs_ratio == result.formula_ratio
    assert round(float(result.macs_ratio), 6) == 0.010004


def test_multiplication_counts_of_the_derivation() -> None:
    """N·Dp²·Dk²·M for the standard conv, M·Dk²·Dp² + M·Dp²·N for the separable pair."""
    m, n, dk, dp = 32, 64, 3, 112
    result = compare(Conv2d(m, n, kernel=dk), Shape(m, dp, dp))
    assert result.standard.macs == n * dp**2 * dk**2 * m
    assert result.depthwise.macs == m * dk**2 * dp**2
    assert result.pointwise.macs == m * dp**2 * n
    assert result.separable.macs == m * dp**2 * (dk**2 + n)


# --- Closed forms over many combinations ---------------------------------------------------------

COMBINATIONS = list(
    itertools.product(
        [1, 3, 8],  # cin
        [2, 12],  # cout
        [(1, 1), (3, 3), (5, 3)],  # kernel
        [(1, 1), (2, 2), (2, 1)],  # stride
        [(0, 0), (1, 2)],  # explicit padding
        [(1, 1), (2, 1)],  # dilation
        [False, True],  # bias
        [(9, 9), (16, 11)],  # input h, w
    )
)


@pytest.mark.parametrize(
    ("cin", "cout", "kernel", "stride", "padding", "dilation", "bias", "size"), COMBINATIONS
)
def test_closed_form_counts(
    cin: int,
    cout: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    bias: bool,
    size: tuple[int, int],
) -> None:
    """Output size, params, MACs and FLOPs equal the textbook formulas with explicit padding."""
    conv = Conv2d(cin, cout, kernel, stride, padding, dilation, bias=bias)
    source = Shape(cin, *size)
    hout = positions(size[0], kernel[0], stride[0], padding[0], dilation[0])
    wout = positions(size[1], kernel[1], stride[1], padding[1], dilation[1])
    if hout == 0 or wout == 0:
        with pytest.raises(DscCalcError, match="larger than the padded input"):
            conv.cost(source)
        return
    cost = conv.cost(source, batch=3)
    assert conv.output_shape(source) == Shape(cout, hout, wout)
    macs = 3 * cout * hout * wout * cin * kernel[0] * kernel[1]
    assert cost == Cost(
        params=cout * cin * kernel[0] * kernel[1] + (cout if bias else 0),
        macs=macs,
        flops=2 * macs + (3 * cout * hout * wout if bias else 0),
    )


@pytest.mark.parametrize(("cin", "cout", "groups"), [(4, 8, 2), (6, 9, 3), (8, 8, 8), (12, 4, 4)])
def test_grouped_conv_divides_weights_and_macs(cin: int, cout: int, groups: int) -> None:
    """A grouped conv has Cout·(Cin/g)·k² weights and that many MACs per output pixel."""
    cost = Conv2d(cin, cout, kernel=3, groups=groups).cost(Shape(cin, 10, 10))
    assert cost.params == cout * (cin // groups) * 9
    assert cost.macs == 10 * 10 * cout * (cin // groups) * 9


@pytest.mark.parametrize("size", [1, 2, 7, 8, 112, 113])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize(("kernel", "dilation"), [(1, 1), (3, 1), (4, 1), (3, 2), (7, 3)])
def test_same_padding_gives_ceil_of_input_over_stride(
    size: int, stride: int, kernel: int, dilation: int
) -> None:
    """'same' padding makes the output ceil(input / stride), the odd pixel padded at the end."""
    before, after = padding_per_side("same", size, kernel, stride, dilation)
    assert after - before in (0, 1)
    assert output_size(size, kernel, stride, before + after, dilation) == math.ceil(size / stride)


def test_valid_padding_is_no_padding() -> None:
    """'valid' is padding 0: a 3x3 conv on 10x10 gives 8x8."""
    out = Conv2d(2, 2, kernel=3, padding="valid").output_shape(Shape(2, 10, 8))
    assert (out.height, out.width) == (8, 6)


# --- Hypothesis invariants -----------------------------------------------------------------------

channels = st.integers(1, 4096)
kernels = st.tuples(st.integers(1, 11), st.integers(1, 11))


@settings(max_examples=200, deadline=None)
@given(
    cin=channels, cout=channels, kernel=kernels, hw=st.integers(1, 300), stride=st.integers(1, 4)
)
def test_ratio_equals_textbook_formula_without_bias(
    cin: int, cout: int, kernel: tuple[int, int], hw: int, stride: int
) -> None:
    """Without bias and with groups = 1 both exact ratios are exactly 1/N + 1/Dk²."""
    result = compare(Conv2d(cin, cout, kernel, stride=stride), Shape(cin, hw, hw))
    formula = Fraction(1, cout) + Fraction(1, kernel[0] * kernel[1])
    assert result.macs_ratio == formula
    assert result.params_ratio == formula
    assert result.formula_ratio == formula


@settings(max_examples=200, deadline=None)
@given(cin=channels, cout=channels, kernel=kernels, bias=st.booleans())
def test_separable_params_closed_form(
    cin: int, cout: int, kernel: tuple[int, int], bias: bool
) -> None:
    """Separable params are Cin·k² + Cin·Cout, plus Cin + Cout biases when there is a bias."""
    result = compare(Conv2d(cin, cout, kernel, bias=bias), Shape(cin, 16, 16))
    expected = cin * kernel[0] * kernel[1] + cin * cout + ((cin + cout) if bias else 0)
    assert result.separable.params == expected
    assert result.separable == result.depthwise + result.pointwise


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 60),
    kernel=st.integers(1, 9),
    stride=st.integers(1, 5),
    pad=st.integers(0, 6),
    dilation=st.integers(1, 4),
)
def test_output_size_rule_matches_brute_force(
    size: int, kernel: int, stride: int, pad: int, dilation: int
) -> None:
    """PyTorch's floor rule counts exactly the window positions that fit in the padded input."""
    expected = positions(size, kernel, stride, pad, dilation)
    conv = Conv2d(1, 1, kernel, stride, pad, dilation)
    if expected == 0:
        with pytest.raises(DscCalcError):
            conv.output_shape(Shape(1, size, size))
    else:
        assert conv.output_shape(Shape(1, size, size)).height == expected


@settings(max_examples=100, deadline=None)
@given(cin=channels, cout=channels, batch=st.integers(1, 64), bias=st.booleans())
def test_batch_scales_macs_and_flops_not_params(
    cin: int, cout: int, batch: int, bias: bool
) -> None:
    """A batch of B multiplies MACs and FLOPs by B and leaves params alone."""
    conv = Conv2d(cin, cout, 3, bias=bias)
    one, many = conv.cost(Shape(cin, 7, 7)), conv.cost(Shape(cin, 7, 7), batch)
    assert many == Cost(one.params, one.macs * batch, one.flops * batch)


# --- Why the exact ratio differs from the formula ------------------------------------------------


def test_notes_explain_bias_and_groups() -> None:
    """The notes say why the exact ratios leave the formula: a bias, or a grouped standard conv."""
    grouped = compare(Conv2d(8, 8, 3, groups=2, bias=True), Shape(8, 5, 5))
    text = " ".join(grouped.notes)
    assert "grouped (groups=2)" in text
    assert "Bias adds 8 params" in text
    assert grouped.macs_ratio > grouped.formula_ratio


# --- Bad values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "where", "fragment"),
    [
        ({"in_channels": 0, "out_channels": 4}, "in_channels", "got 0"),
        ({"in_channels": 4, "out_channels": -2}, "out_channels", "got -2"),
        ({"in_channels": 4, "out_channels": 4, "kernel": (3, 0)}, "kernel", "got 0"),
        ({"in_channels": 4, "out_channels": 4, "stride": 0}, "stride", "got 0"),
        ({"in_channels": 4, "out_channels": 4, "dilation": (1, 2, 3)}, "dilation", "pair"),
        ({"in_channels": 4, "out_channels": 4, "padding": "full"}, "padding", "'full'"),
        ({"in_channels": 4, "out_channels": 4, "padding": -1}, "padding", "got -1"),
        ({"in_channels": 6, "out_channels": 4, "groups": 3}, "groups", "out_channels=4"),
        ({"in_channels": 4, "out_channels": 4, "groups": True}, "groups", "got True"),
        ({"in_channels": 2**31, "out_channels": 4}, "in_channels", "at most"),
    ],
)
def test_bad_values_name_their_field(kwargs: dict[str, object], where: str, fragment: str) -> None:
    """Each bad constructor value raises the domain error naming the field and the value."""
    with pytest.raises(DscCalcError) as caught:
        Conv2d(**kwargs)  # type: ignore[arg-type]
    assert caught.value.where == where
    assert fragment in caught.value.problem


def test_kernel_larger_than_padded_input_says_both_sizes() -> None:
    """A kernel that does not fit names the effective kernel and the padded size."""
    with pytest.raises(
        DscCalcError, match=r"effective kernel 5 \(k=3, dilation=2\).*padded input height 4"
    ):
        Conv2d(1, 1, kernel=3, dilation=2, padding=1).output_shape(Shape(1, 2, 9))


def test_channel_mismatch_is_refused() -> None:
    """A layer fed the wrong number of channels says both numbers."""
    with pytest.raises(DscCalcError, match="takes 3 channels but its input has 4"):
        Conv2d(3, 8).cost(Shape(4, 8, 8))


def test_error_places_compose() -> None:
    """``at`` prefixes a path and ``renamed`` maps a field to an option name."""
    error = DscCalcError("stride", "must be a positive integer, got 0")
    assert str(error.at("layers[3]")) == "layers[3].stride: must be a positive integer, got 0"
    assert error.at("layers[3]").at("blocks[1]").where == "blocks[1].layers[3].stride"
    assert DscCalcError("", "empty").at("layers[0]").where == "layers[0]"
    assert DscCalcError("[2]", "x").at("layers").where == "layers[2]"
    assert error.renamed({"stride": "--stride"}).where == "--stride"


def test_limits_are_pytorchs_int32() -> None:
    """The largest accepted dimension is PyTorch's int32 bound, and it still counts exactly."""
    cost = Conv2d(1, MAX_DIMENSION, kernel=1).cost(Shape(1, 1, 1))
    assert cost.params == MAX_DIMENSION
    assert cost.macs == MAX_DIMENSION
