"""A PyTorch oracle for network specs: build a real ``torch.nn.Module`` from a spec dict and count it.

Written from the binding spec semantics alone, independently of ``dsc_calc.network`` and
``dsc_calc.network.spec``: nothing here imports them. The builder tracks channel counts only and never works
out a spatial size. ``"same"`` padding is computed from the live tensor at forward time (torch's own
``padding="same"`` at stride 1 when the split is even, otherwise a TensorFlow-style split through
``F.pad``, the odd pixel bottom/right) and a linear layer learns its input width from the first
tensor it sees (``nn.LazyLinear``). The counter then reads every figure off the real run: params
are ``sum(p.numel())``; the MACs of each ``nn.Conv2d`` / ``nn.Linear`` come from its weight's shape
and the real output tensor, through forward hooks, the way fvcore and torchinfo count them.

Import this module only after ``pytest.importorskip("torch")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F  # noqa: N812 - the universal spelling
from torch import nn

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

Pair = tuple[int, int]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,
    "hsigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
}


#: The layer types :meth:`Builder.branching_layer` builds.
NEW_TYPES = (
    "branches",
    "shuffle",
    "layernorm",
    "scale",
    "dropout",
    "flatten",
    "upsample",
    "convtranspose",
)


class SpecError(ValueError):
    """The oracle cannot build this spec (an unknown key or type, or a value it does not expect)."""


def pair(value: int | Sequence[int]) -> Pair:
    """An int or an ``[h, w]`` list as an ``(h, w)`` tuple."""
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def tf_same_padding(size: int, kernel: int, stride: int, dilation: int) -> Pair:
    """(before, after) padding that makes the output ``ceil(size / stride)``; odd pixel after."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def same_pad(
    x: torch.Tensor, kernel: Pair, stride: Pair, dilation: Pair, value: float
) -> torch.Tensor:
    """``x`` padded TensorFlow-style so that a ``kernel``/``stride``/``dilation`` window gives
    ``ceil(size / stride)`` outputs on each axis."""
    top, bottom = tf_same_padding(x.shape[-2], kernel[0], stride[0], dilation[0])
    left, right = tf_same_padding(x.shape[-1], kernel[1], stride[1], dilation[1])
    return F.pad(x, [left, right, top, bottom], value=value)


class Conv2dSame(nn.Conv2d):
    """A conv with TensorFlow ``SAME`` padding for any stride (timm's ``Conv2dSame`` idea)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: Pair,
        stride: Pair,
        dilation: Pair,
        groups: int,
        bias: bool,
    ) -> None:
        super().__init__(cin, cout, kernel, stride, 0, dilation, groups, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = same_pad(x, pair(self.kernel_size), pair(self.stride), pair(self.dilation), 0.0)
        output: torch.Tensor = self._conv_forward(padded, self.weight, self.bias)
        return output


class PoolSame(nn.Module):
    """A max or average pool with TensorFlow ``SAME`` padding (max pads with -inf)."""

    def __init__(self, pool: nn.MaxPool2d | nn.AvgPool2d, kernel: Pair, stride: Pair) -> None:
        super().__init__()
        self.pool = pool
        self.kernel = kernel
        self.stride = stride
        self.fill = -math.inf if isinstance(pool, nn.MaxPool2d) else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(same_pad(x, self.kernel, self.stride, (1, 1), self.fill))  # type: ignore[no-any-return]


def conv2d(
    cin: int,
    cout: int,
    kernel: Pair,
    stride: Pair = (1, 1),
    padding: str | Pair = "same",
    dilation: Pair = (1, 1),
    groups: int = 1,
    bias: bool = False,
) -> nn.Conv2d:
    """The ``nn.Conv2d`` for one conv row, ``"same"`` handled as the module docstring says."""
    if padding == "same":
        symmetric = all(d * (k - 1) % 2 == 0 for k, d in zip(kernel, dilation, strict=True))
        if stride == (1, 1) and symmetric:
            # torch's own "same"; it warns (and copies) when the padding is uneven, so those
            # cases take the explicit TensorFlow split below.
            return nn.Conv2d(cin, cout, kernel, 1, "same", dilation, groups, bias)
        return Conv2dSame(cin, cout, kernel, stride, dilation, groups, bias)
    if padding == "valid":
        padding = (0, 0)
    if isinstance(padding, str):
        raise SpecError(f"unknown padding {padding!r}")
    return nn.Conv2d(cin, cout, kernel, stride, padding, dilation, groups, bias)


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: round to a multiple of ``divisor``, losing < 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global pool, 1x1 reduce (bias), act, 1x1 expand (bias), gate, scale."""

    def __init__(self, channels: int, squeeze: int, act: str, gate: str) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze, 1, bias=True)
        self.act = activation(act)
        self.expand = nn.Conv2d(squeeze, channels, 1, bias=True)
        self.gate = activation(gate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights: torch.Tensor = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * weights


class Residual(nn.Module):
    """``main(x) + shortcut(x)``; an empty shortcut is the identity."""

    def __init__(self, main: nn.Module, shortcut: nn.Module) -> None:
        super().__init__()
        self.main = main
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The main branch runs first, so hooks see the rows in the spec's order.
        main = self.main(x)
        return main + self.shortcut(x)  # type: ignore[no-any-return]


class LinearRow(nn.Module):
    """Flatten C·H·W, a linear layer, and the result as an ``(out, 1, 1)`` map."""

    def __init__(self, out: int, bias: bool) -> None:
        super().__init__()
        self.linear = nn.LazyLinear(out, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(x, 1))[:, :, None, None]  # type: ignore[no-any-return]


class Branches(nn.Module):
    """Each branch on the input (or its channel chunk), then ``torch.cat`` or a sum."""

    def __init__(self, branches: Sequence[nn.Module], merge: str, chunks: Sequence[int] | None):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge
        self.chunks = None if chunks is None else list(chunks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x] * len(self.branches) if self.chunks is None else torch.split(x, self.chunks, 1)
        outputs = [branch(part) for branch, part in zip(self.branches, parts, strict=True)]
        if self.merge == "concat":
            return torch.cat(outputs, 1)
        total: torch.Tensor = outputs[0]
        for other in outputs[1:]:
            total = total + other
        return total


class ChannelShuffle(nn.Module):
    """torchvision's ``channel_shuffle``: (N, g, C/g, H, W) transposed to (N, C/g, g, H, W)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        grouped = x.view(n, self.groups, c // self.groups, h, w)
        return grouped.transpose(1, 2).contiguous().view(n, c, h, w)


class LayerNorm2d(nn.LayerNorm):
    """torchvision's ConvNeXt ``LayerNorm2d``: a layer norm over the channels at each pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """ConvNeXt's layer scale: one learnable factor per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class FlattenMap(nn.Module):
    """``torch.flatten`` as a (C·H·W, 1, 1) map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(x, 1)[:, :, None, None]


def activation(name: str) -> nn.Module:
    """The torch module for an activation name of the spec."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise SpecError(f"unknown activation {name!r}") from None


def check_keys(layer: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """Refuse keys the semantics do not give this layer type (a drift the tests should notice)."""
    unknown = set(layer) - {"type", "name", *allowed}
    if unknown:
        raise SpecError(f"{where}: keys {sorted(unknown)} are not in the semantics")


class Builder:
    """Turns spec layers into modules while tracking the channel count (spatial sizes: torch's)."""

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def build(self, layers: Sequence[Mapping[str, Any]], where: str = "layers") -> nn.Sequential:
        modules: list[nn.Module] = []
        for index, layer in enumerate(layers):
            modules.extend(self.layer(layer, f"{where}[{index}]"))
        return nn.Sequential(*modules)

    def after(self, layer: Mapping[str, Any], channels: int) -> Iterator[nn.Module]:
        """The optional ``bn`` and ``act`` rows of a conv-like layer."""
        if layer.get("bn", False):
            yield nn.BatchNorm2d(channels)
        if layer.get("act") is not None:
            yield activation(layer["act"])

    def layer(self, layer: Mapping[str, Any], where: str) -> list[nn.Module]:  # noqa: PLR0912, PLR0915
        # A key given as null means its default (as a spec re-encoded with every field shows it).
        layer = {key: value for key, value in layer.items() if value is not None}
        if "repeat" in layer:
            check_keys(layer, ("repeat", "layers"), where)
            return [
                self.build(layer["layers"], f"{where}.layers") for _ in range(int(layer["repeat"]))
            ]
        kind = layer.get("type")
        cin = self.channels
        geometry = {
            "kernel": pair(layer.get("k", 3)),
            "stride": pair(layer.get("stride", 1)),
            "padding": layer.get("padding", "same"),
            "dilation": pair(layer.get("dilation", 1)),
        }
        if not isinstance(geometry["padding"], str):
            geometry["padding"] = pair(geometry["padding"])
        bias = bool(layer.get("bias", False))
        conv_keys = ("k", "stride", "padding", "dilation", "bias", "bn", "act")
        if kind == "conv":
            check_keys(layer, ("out", "groups", *conv_keys), where)
            self.channels = layer["out"]
            conv = conv2d(cin, layer["out"], groups=layer.get("groups", 1), bias=bias, **geometry)
            return [conv, *self.after(layer, self.channels)]
        if kind == "dwconv":
            check_keys(layer, ("multiplier", *conv_keys), where)
            self.channels = cin * layer.get("multiplier", 1)
            conv = conv2d(cin, self.channels, groups=cin, bias=bias, **geometry)
            return [conv, *self.after(layer, self.channels)]
        if kind == "pwconv":
            check_keys(layer, ("out", "groups", "bias", "bn", "act"), where)
            self.channels = layer["out"]
            conv = conv2d(
                cin, self.channels, (1, 1), padding=(0, 0), groups=layer.get("groups", 1), bias=bias
            )
            return [conv, *self.after(layer, self.channels)]
        if kind == "dsconv":
            check_keys(layer, ("out", *conv_keys), where)
            self.channels = layer["out"]
            return [
                conv2d(cin, cin, groups=cin, bias=bias, **geometry),
                *self.after(layer, cin),
                conv2d(cin, self.channels, (1, 1), padding=(0, 0), bias=bias),
                *self.after(layer, self.channels),
            ]
        if kind == "spconv":
            check_keys(layer, ("out", "groups", *conv_keys), where)
            return self.spatially_separable(layer, cin, bias, geometry)
        if kind == "batchnorm":
            check_keys(layer, (), where)
            return [nn.BatchNorm2d(cin)]
        if kind in ACTIVATIONS:
            check_keys(layer, (), where)
            return [activation(kind)]
        if kind == "pool":
            check_keys(
                layer, ("op", "k", "stride", "padding", "global", "ceil_mode", "output_size"), where
            )
            return [self.pool(layer)]
        if kind in NEW_TYPES:
            return self.branching_layer(layer, kind, cin, bias, where)
        if kind == "linear":
            check_keys(layer, ("out", "bias"), where)
            self.channels = layer["out"]
            return [LinearRow(layer["out"], bias)]
        if kind == "se":
            check_keys(layer, ("squeeze", "ratio", "act", "gate"), where)
            squeeze = layer.get("squeeze") or make_divisible(cin * layer.get("ratio", 0.25), 8)
            act, gate = layer.get("act", "relu"), layer.get("gate", "hsigmoid")
            return [SqueezeExcite(cin, squeeze, act, gate)]
        if kind == "inverted_residual":
            return [self.inverted_residual(layer, where)]
        if kind == "residual":
            check_keys(layer, ("layers", "shortcut"), where)
            main = self.build(layer["layers"], f"{where}.layers")
            out = self.channels
            self.channels = cin
            shortcut = self.build(layer.get("shortcut") or [], f"{where}.shortcut")
            if self.channels != out:
                raise SpecError(f"{where}: branch channels differ ({out} vs {self.channels})")
            return [Residual(main, shortcut)]
        raise SpecError(f"{where}: unknown layer type {kind!r}")

    def branching_layer(
        self, layer: Mapping[str, Any], kind: str, cin: int, bias: bool, where: str
    ) -> list[nn.Module]:
        """The constructs of branching networks and ConvNeXt."""
        if kind == "branches":
            check_keys(layer, ("branches", "merge", "split"), where)
            return [self.branches(layer, where)]
        if kind == "shuffle":
            check_keys(layer, ("groups",), where)
            return [ChannelShuffle(layer["groups"])]
        if kind == "layernorm":
            check_keys(layer, (), where)
            return [LayerNorm2d(cin, eps=1e-6)]
        if kind == "scale":
            check_keys(layer, (), where)
            return [LayerScale(cin)]
        if kind == "dropout":
            check_keys(layer, ("p",), where)
            return [nn.Dropout(layer.get("p", 0.5))]
        if kind == "flatten":
            check_keys(layer, (), where)
            self.channels = 0  # unknown here: only a linear layer may follow (LazyLinear)
            return [FlattenMap()]
        if kind == "upsample":
            check_keys(layer, ("scale", "mode"), where)
            mode = layer.get("mode", "nearest")
            factor = pair(layer.get("scale", 2))
            kwargs = {"align_corners": False} if mode == "bilinear" else {}
            return [nn.Upsample(scale_factor=factor, mode=mode, **kwargs)]
        if kind == "convtranspose":
            check_keys(
                layer,
                ("out", "k", "stride", "padding", "output_padding", "dilation", "groups", "bias"),
                where,
            )
            self.channels = layer["out"]
            return [
                nn.ConvTranspose2d(
                    cin,
                    layer["out"],
                    pair(layer.get("k", 3)),
                    pair(layer.get("stride", 1)),
                    pair(layer.get("padding", 0)),
                    pair(layer.get("output_padding", 0)),
                    layer.get("groups", 1),
                    bias,
                    pair(layer.get("dilation", 1)),
                )
            ]
        raise SpecError(f"{where}: unknown layer type {kind!r}")  # pragma: no cover

    def spatially_separable(
        self, layer: Mapping[str, Any], cin: int, bias: bool, geometry: dict[str, Any]
    ) -> list[nn.Module]:
        """A kh x 1 conv on the height axis, then a 1 x kw conv on the width axis."""
        (kh, kw), (sh, sw), (dh, dw) = geometry["kernel"], geometry["stride"], geometry["dilation"]
        padding = geometry["padding"]
        pad_h: str | Pair = padding if isinstance(padding, str) else (padding[0], 0)
        pad_w: str | Pair = padding if isinstance(padding, str) else (0, padding[1])
        out, groups = layer["out"], layer.get("groups", 1)
        self.channels = out
        return [
            conv2d(cin, out, (kh, 1), (sh, 1), pad_h, (dh, 1), groups, bias),
            conv2d(out, out, (1, kw), (1, sw), pad_w, (1, dw), groups, bias),
            *self.after(layer, out),
        ]

    def branches(self, layer: Mapping[str, Any], where: str) -> nn.Module:
        cin = self.channels
        count = len(layer["branches"])
        split = layer.get("split", False)
        chunks = None
        if split is True:
            chunks = [cin // count] * count
        elif split:
            chunks = list(split)
        outs: list[int] = []
        modules: list[nn.Module] = []
        for index, branch in enumerate(layer["branches"]):
            self.channels = cin if chunks is None else chunks[index]
            modules.append(self.build(branch, f"{where}.branches[{index}]"))
            outs.append(self.channels)
        self.channels = sum(outs) if layer.get("merge", "concat") == "concat" else outs[0]
        return Branches(modules, layer.get("merge", "concat"), chunks)

    def pool(self, layer: Mapping[str, Any]) -> nn.Module:
        op = layer.get("op", "max")
        if op not in ("max", "avg"):
            raise SpecError(f"unknown pool op {op!r}")
        if layer.get("global", False):
            return nn.AdaptiveMaxPool2d(1) if op == "max" else nn.AdaptiveAvgPool2d(1)
        if "output_size" in layer:
            size = pair(layer["output_size"])
            return nn.AdaptiveMaxPool2d(size) if op == "max" else nn.AdaptiveAvgPool2d(size)
        ceil = bool(layer.get("ceil_mode", False))
        kernel = pair(layer["k"])
        stride = pair(layer.get("stride", layer["k"]))
        padding = layer.get("padding", 0)
        if padding == "same":
            inner = nn.MaxPool2d(kernel, stride) if op == "max" else nn.AvgPool2d(kernel, stride)
            return PoolSame(inner, kernel, stride)
        padding = (0, 0) if padding == "valid" else pair(padding)
        if op == "max":
            return nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil)
        return nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil)

    def inverted_residual(self, layer: Mapping[str, Any], where: str) -> nn.Module:
        """MobileNetV2/V3 block: [expand 1x1] -> depthwise -> [SE] -> linear 1x1 project (+ add)."""
        check_keys(layer, ("out", "expand", "expand_channels", "k", "stride", "se", "act"), where)
        cin, out = self.channels, layer["out"]
        hidden = layer.get("expand_channels") or round(cin * layer.get("expand", 6))
        kernel, stride = pair(layer.get("k", 3)), pair(layer.get("stride", 1))
        act = layer.get("act", "relu6")
        parts: list[nn.Module] = []
        if hidden != cin:
            parts += [
                nn.Conv2d(cin, hidden, 1, bias=False),
                nn.BatchNorm2d(hidden),
                activation(act),
            ]
        parts += [
            conv2d(hidden, hidden, kernel, stride, "same", groups=hidden),
            nn.BatchNorm2d(hidden),
            activation(act),
        ]
        if layer.get("se", False):
            # torchvision's SqueezeExcitation: _make_divisible(expanded // 4, 8)
            parts.append(SqueezeExcite(hidden, make_divisible(hidden // 4, 8), "relu", "hsigmoid"))
        parts += [nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out)]
        self.channels = out
        body = nn.Sequential(*parts)
        if stride == (1, 1) and cin == out:
            return Residual(body, nn.Sequential())
        return body


def build(spec: Mapping[str, Any]) -> nn.Module:
    """The ``torch.nn.Module`` a spec describes, in eval mode (batch norm works on a batch of 1)."""
    check_keys(spec, ("input", "layers", "family", "source", "description"), "spec")
    model = Builder(int(spec["input"]["channels"])).build(spec["layers"])
    return model.eval()


@dataclass(frozen=True)
class Row:
    """One weighted module as it ran: its type, the input size, the output shape and its cost."""

    module: str
    kind: str
    in_numel: int
    output: tuple[int, int, int]
    params: int
    macs: int
    flops: int


@dataclass(frozen=True)
class Measured:
    """What one real forward of a built spec gives: totals, the output shape, the weighted rows."""

    params: int
    macs: int
    flops: int
    output: tuple[int, int, int]
    rows: tuple[Row, ...]


def chw(shape: torch.Size) -> tuple[int, int, int]:
    """A sample's shape as (C, H, W); a linear output (N, F) is (F, 1, 1)."""
    dims = tuple(shape[1:])
    if len(dims) == 1:
        return dims[0], 1, 1
    channels, height, width = dims
    return channels, height, width


def kind_of(module: nn.Module) -> str:
    """The by-type kind of a weighted module, read off the module itself: ``depthwise`` when
    groups == Cin > 1, ``pointwise`` for a 1x1 conv with groups 1, ``conv`` for any other conv
    (grouped 1x1 included), ``linear``, and ``other`` (batch norm)."""
    if isinstance(module, nn.ConvTranspose2d):
        return "conv"
    if isinstance(module, nn.Conv2d):
        if module.groups == module.in_channels > 1:
            return "depthwise"
        if tuple(module.kernel_size) == (1, 1) and module.groups == 1:
            return "pointwise"
        return "conv"
    return "linear" if isinstance(module, nn.Linear) else "other"


def measure(model: nn.Module, channels: int, height: int, width: int, batch: int = 1) -> Measured:
    """Run ``model`` once on a ``batch x C x H x W`` tensor and count it from the real tensors.

    Per conv: ``MACs = output.numel() * weight[1] * weight[2] * weight[3]`` (``weight[1]`` is
    Cin/groups); per linear: ``output.numel() * in_features``. Batch norm rows record their params
    only. FLOPs = 2·MACs + one add per output element when the module has a bias.
    """
    rows: list[Row] = []

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        weight = module.weight
        assert isinstance(weight, torch.Tensor)
        if output.numel() == 0:
            # A transposed conv may give PyTorch an empty tensor (0 x 0) and run on; dsc-calc
            # refuses a layer without output. Both refuse it, then: the network is no network.
            raise RuntimeError(
                f"{type(module).__name__} gives an empty output {tuple(output.shape)}"
            )
        if isinstance(module, nn.Conv2d):
            macs = output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]
        elif isinstance(module, nn.ConvTranspose2d):  # each input pixel scatters the kernel
            macs = inputs[0].numel() * weight.shape[1] * weight.shape[2] * weight.shape[3]
        elif isinstance(module, nn.Linear):
            macs = output.numel() * weight.shape[1]
        else:
            macs = 0
        has_bias = not isinstance(module, nn.BatchNorm2d) and module.bias is not None
        flops = 2 * macs + (output.numel() if has_bias else 0)
        params = sum(p.numel() for p in module.parameters())
        rows.append(
            Row(
                type(module).__name__,
                kind_of(module),
                inputs[0][0].numel(),
                chw(output.shape),
                params,
                macs,
                flops,
            )
        )

    handles = [
        module.register_forward_hook(hook)
        for module in model.modules()
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.BatchNorm2d)
    ]
    try:
        with torch.no_grad():
            output = model(torch.randn(batch, channels, height, width))
    finally:
        for handle in handles:
            handle.remove()
    if output.numel() == 0:
        raise RuntimeError(f"the network gives an empty output {tuple(output.shape)}")
    return Measured(
        params=sum(p.numel() for p in model.parameters()),
        macs=sum(row.macs for row in rows),
        flops=sum(row.flops for row in rows),
        output=chw(output.shape),
        rows=tuple(rows),
    )


def build_and_measure(spec: Mapping[str, Any]) -> Measured:
    """Build ``spec`` and measure it on its own input size."""
    source = spec["input"]
    model = build(spec)
    return measure(model, source["channels"], source["height"], source["width"])
