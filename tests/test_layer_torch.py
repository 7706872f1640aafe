"""The layer cost core against PyTorch: real ``nn.Conv2d`` modules, real forwards, real tensors.

Every figure on the torch side is read off the module or the tensor it produced: params are
``sum(p.numel())``, the output shape is the forward's, MACs are ``output.numel() * weight[1] *
weight[2] * weight[3]`` (``weight[1]`` being Cin/groups). None of it reuses dsc-calc's formulas.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, get_args

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    import torch
else:
    torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: N812
from torch import nn
from torch_spec import conv2d

from dsc_calc import Conv2d, DscCalcError, Shape, compare
from dsc_calc.cost.conv import PaddingMode

if TYPE_CHECKING:
    from torch_spec import Pair

pytestmark = pytest.mark.torch

torch.set_num_threads(1)


def params_of(module: nn.Module) -> int:
    """Trainable parameters as PyTorch counts them."""
    return sum(p.numel() for p in module.parameters())


def macs_of(module: nn.Conv2d, output: torch.Tensor) -> int:
    """MACs from the real output tensor and the module's weight shape (Cout, Cin/groups, kh, kw)."""
    _, per_group, kh, kw = module.weight.shape
    return output.numel() * per_group * kh * kw


def chw(tensor: torch.Tensor) -> Shape:
    """One sample's shape of a 4-D tensor as a Shape."""
    _, channels, height, width = tensor.shape
    return Shape(channels, height, width)


def torch_like(conv: Conv2d) -> nn.Conv2d:
    """The torch module for ``conv`` (the oracle's own 'same': torch's, or a TF split via F.pad)."""
    return conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        conv.bias,
    )


@st.composite
def layers(draw: st.DrawFn) -> tuple[Conv2d, Shape, int]:
    """A conv (groups dividing Cin and Cout), a small non-square input, and a batch size."""
    groups = draw(st.integers(1, 4))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    kernel: Pair = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride: Pair = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation: Pair = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(
        st.one_of(
            st.sampled_from(get_args(PaddingMode)),
            st.tuples(st.integers(0, 3), st.integers(0, 3)),
        )
    )
    conv = Conv2d(cin, cout, kernel, stride, padding, dilation, groups, draw(st.booleans()))
    source = Shape(cin, draw(st.integers(1, 14)), draw(st.integers(1, 14)))
    return conv, source, draw(st.integers(1, 2))


def run(module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """``module(x)``, or None when PyTorch refuses the shapes (kernel larger than padded input)."""
    try:
        with torch.no_grad():
            return module(x)  # type: ignore[no-any-return]
    except RuntimeError:
        return None


@settings(max_examples=100, deadline=None)
@given(case=layers())
def test_conv_cost_matches_a_real_torch_forward(case: tuple[Conv2d, Shape, int]) -> None:
    """Params, output shape, MACs and FLOPs of a conv equal what a real torch.nn.Conv2d gives, and
    dsc-calc refuses exactly the shapes PyTorch refuses."""
    conv, source, batch = case
    module = torch_like(conv)
    output = run(module, torch.randn(batch, source.channels, source.height, source.width))
    if output is None:
        event("both refuse")
        with pytest.raises(DscCalcError, match="larger than the padded input"):
            conv.cost(source, batch)
        return
    event("both accept")
    cost = conv.cost(source, batch)
    assert conv.output_shape(source) == chw(output)
    assert cost.params == params_of(module)
    assert cost.macs == macs_of(module, output)
    assert cost.flops == 2 * macs_of(module, output) + (output.numel() if conv.bias else 0)


@settings(max_examples=100, deadline=None)
@given(case=layers())
def test_separable_parts_match_depthwise_then_pointwise_modules(
    case: tuple[Conv2d, Shape, int],
) -> None:
    """The depthwise (groups=Cin) and pointwise (1x1) torch modules give compare()'s part costs and
    the same final shape as the standard conv."""
    conv, source, batch = case
    try:
        result = compare(conv, source, batch)
    except DscCalcError:
        return  # the geometry does not fit; the test above proves torch refuses it too
    depthwise = torch_like(conv.depthwise())
    pointwise = nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias)
    assert depthwise.groups == conv.in_channels
    with torch.no_grad():
        middle = depthwise(torch.randn(batch, source.channels, source.height, source.width))
        output = pointwise(middle)
    assert result.depthwise.params == params_of(depthwise)
    assert result.pointwise.params == params_of(pointwise)
    assert result.depthwise.macs == macs_of(depthwise, middle)
    assert result.pointwise.macs == macs_of(pointwise, output)
    assert result.output == chw(output)


@settings(max_examples=60, deadline=None)
@given(case=layers())
def test_separable_conv_is_a_standard_conv_with_the_product_kernel(
    case: tuple[Conv2d, Shape, int],
) -> None:
    """Depthwise then pointwise equals one standard conv with W[o,c,i,j] = Wp[o,c]·Wd[c,i,j] and
    bias Wp·bd + bp, numerically (float64)."""
    conv, source, batch = case
    try:
        compare(conv, source, batch)
    except DscCalcError:
        return
    cin, cout = conv.in_channels, conv.out_channels
    depthwise = torch_like(conv.depthwise()).double()
    pointwise = nn.Conv2d(cin, cout, 1, bias=conv.bias).double()
    standard = torch_like(
        Conv2d(cin, cout, conv.kernel, conv.stride, conv.padding, conv.dilation, 1, conv.bias)
    ).double()
    wp = pointwise.weight[:, :, 0, 0]
    with torch.no_grad():
        standard.weight.copy_(torch.einsum("oc,cij->ocij", wp, depthwise.weight[:, 0]))
        if conv.bias:
            assert standard.bias is not None
            assert depthwise.bias is not None
            assert pointwise.bias is not None
            standard.bias.copy_(wp @ depthwise.bias + pointwise.bias)
        x = torch.randn(batch, cin, source.height, source.width, dtype=torch.float64)
        separable = pointwise(depthwise(x))
        fused = standard(x)
    assert separable.shape == fused.shape
    assert torch.allclose(separable, fused, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("dilation", [1, 2, 3])
@pytest.mark.parametrize("size", [5, 8])
def test_same_padding_split_is_torchs_own(kernel: int, dilation: int, size: int) -> None:
    """At stride 1, padding_sides() fed to F.pad reproduces torch's padding='same' output
    numerically, so the odd pixel goes where torch puts it (bottom/right)."""
    conv = Conv2d(2, 3, (kernel, kernel + 1), dilation=(dilation, 1), bias=True)
    (top, bottom), (left, right) = conv.padding_sides(size, size + 1)
    native = torch_like(conv).double()
    native_same = nn.Conv2d(2, 3, conv.kernel, padding="same", dilation=conv.dilation).double()
    with torch.no_grad():
        native_same.weight.copy_(native.weight)
        assert native_same.bias is not None
        assert native.bias is not None
        native_same.bias.copy_(native.bias)
        x = torch.randn(1, 2, size, size + 1, dtype=torch.float64)
        ours = F.conv2d(
            F.pad(x, [left, right, top, bottom]), native.weight, native.bias, dilation=conv.dilation
        )
        with warnings.catch_warnings():
            # torch notes that uneven 'same' padding makes it copy the input; that is the point.
            warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
            theirs = native_same(x)
    assert ours.shape == theirs.shape == (1, 3, size, size + 1)
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)


# --- The seed example: the blog's DEPTHWISECONV(3, 4) on 1x3x32x32 --------------------------------


class DepthwiseConv(nn.Module):
    """The blog's module: a groups=Cin 3x3 conv then a 1x1 conv (torch's default bias=True)."""

    def __init__(self, cin: int, cout: int, *, bias: bool = True) -> None:
        super().__init__()
        self.depth_conv = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=bias)
        self.point_conv = nn.Conv2d(cin, cout, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> Any:
        return self.point_conv(self.depth_conv(x))


@pytest.mark.parametrize(("bias", "separable", "standard"), [(True, 46, 112), (False, 39, 108)])
def test_seed_module_against_torch(bias: bool, separable: int, standard: int) -> None:
    """DEPTHWISECONV(3 -> 4, k3, padding 1) on 1x3x32x32 gives [1,4,32,32]; 46/112 params with bias
    (30 + 16 for the blog's module), 39/108 without, in torch and in dsc-calc alike."""
    module = DepthwiseConv(3, 4, bias=bias)
    plain = nn.Conv2d(3, 4, 3, padding=1, bias=bias)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert module(x).shape == torch.Size([1, 4, 32, 32])
        assert plain(x).shape == torch.Size([1, 4, 32, 32])
    assert params_of(module) == separable
    assert params_of(plain) == standard
    if bias:
        assert params_of(module.depth_conv) == 30
        assert params_of(module.point_conv) == 16
    result = compare(Conv2d(3, 4, 3, padding=1, bias=bias), Shape(3, 32, 32))
    assert result.output == Shape(4, 32, 32)
    assert result.separable.params == params_of(module)
    assert result.standard.params == params_of(plain)
