"""Width scaling (``--alpha``): every channel count scaled, rounded as the spec's family does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsc_calc.cost.conv import MAX_DIMENSION
from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dsc_calc.network import spec as specs
    from dsc_calc.network.spec import NetworkSpec


#: The families without a width multiplier, and what to do instead of ``--alpha``.
NO_WIDTH_MULTIPLIER: dict[str, str] = {
    "resnet": "ResNet and ResNeXt scale by depth and groups, not by a multiplier; "
    "edit the spec's channel counts instead",
    "vgg": "VGG is defined at one width; edit the spec's channel counts instead",
    "regnet": "RegNet widths come from its design-space parameters (w0, wa, wm) per model; "
    "use another regnet preset or edit the spec's channel counts",
    "efficientnet": "EfficientNet's width is fixed per variant (B1-B7 scale it with their own "
    "rounding and depths); edit the spec's channel counts instead",
    "shufflenet": "ShuffleNetV2's widths (x0.5 to x2.0) are set stage by stage for each model, "
    "not by a multiplier; edit the spec's channel counts instead",
    "squeezenet": "SqueezeNet is defined at one width; edit the spec's channel counts instead",
    "googlenet": "GoogLeNet is defined at one width; edit the spec's channel counts instead",
    "inception": "Inception v3 is defined at one width; edit the spec's channel counts instead",
    "densenet": "DenseNet scales by growth rate and depth, not by a multiplier; "
    "edit the spec's channel counts instead",
    "convnext": "ConvNeXt's variants (T, S, B, L) set their own widths and depths; "
    "edit the spec's channel counts instead",
}


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: the nearest multiple of ``divisor``, losing < 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scale_width(network: NetworkSpec, alpha: float) -> NetworkSpec:
    """The spec with every channel count scaled by ``alpha``, rounded as its family does.

    * ``mobilenet_v1`` (TF-slim): ``max(int(c·α), 8)``.
    * ``mobilenet_v2`` (torchvision): ``make_divisible(c·α, 8)``; the last conv before the
      classifier keeps ``make_divisible(c·max(α, 1), 8)`` (1280 is never made narrower).
    * ``mobilenet_v3`` (torchvision): ``make_divisible(c·α, 8)`` for every conv, expansion and
      linear layer, but the last conv before the pool, which torchvision makes 6 × the scaled
      output of the last block (``lastconv_output_channels``), not the scaled 576 or 960.
    * ``mnasnet`` (torchvision's ``_get_depths``): ``make_divisible(c·α, 8)``, which is its
      ``_round_to_multiple_of(c·α, 8)``; the last conv before the classifier (1280) is never
      scaled.
    * ``resnet``, ``vgg``, ``regnet``, ``efficientnet``: refused, since these families define no
      width multiplier (see :data:`NO_WIDTH_MULTIPLIER`).
    * ``shufflenet``, ``squeezenet``, ``googlenet``, ``inception``, ``densenet``, ``convnext``:
      refused, since these families define no width multiplier (see
      :data:`NO_WIDTH_MULTIPLIER`).
    * other families or none: ``max(1, round(c·α))``.

    The input channels and the final linear layer (the classifier) are never scaled; expansion
    factors, SE squeezes derived from a ratio, and depthwise channels follow their input.
    """
    from dsc_calc.network import spec as specs

    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 100:
        raise DscCalcError("alpha", f"must be a number in (0, 100], got {alpha!r}")
    family = network.family
    if family in NO_WIDTH_MULTIPLIER:
        raise DscCalcError(
            "alpha",
            f"{network.name} (family {family}) has no width multiplier; "
            f"{NO_WIDTH_MULTIPLIER[family]}",
        )

    def rounded(channels: int, factor: float = alpha) -> int:
        if family == "mobilenet_v1":
            result = max(int(channels * factor), 8)
        elif family in ("mobilenet_v2", "mobilenet_v3", "mnasnet"):
            result = make_divisible(channels * factor, 8)
        else:
            result = max(1, round(channels * factor))
        if result > MAX_DIMENSION:  # the spec is fine: --alpha made the count too large
            raise DscCalcError(
                "alpha",
                f"{alpha:g} scales {channels} channels to {result}, over the limit of "
                f"{MAX_DIMENSION}; use a smaller --alpha",
            )
        return result

    classifier = _last_of(network.layers, specs.Linear)
    last_conv = (
        _last_of(network.layers, specs.Conv | specs.PwConv)
        if family in ("mobilenet_v2", "mnasnet", "mobilenet_v3")
        else None
    )
    last_block = [0]  # the scaled output channels of the last inverted residual seen

    def scale(layers: Iterable[specs.Layer]) -> list[specs.Layer]:
        result: list[specs.Layer] = []
        for layer in layers:
            if layer is classifier or (layer is last_conv and family == "mnasnet"):
                result.append(layer)
            elif layer is last_conv and family == "mobilenet_v3" and last_block[0]:
                result.append(specs.replace(layer, out=6 * last_block[0]))
            elif (
                isinstance(layer, specs.Conv | specs.PwConv)
                and layer is last_conv
                and family == "mobilenet_v2"
                and alpha < 1
            ):
                result.append(specs.replace(layer, out=rounded(layer.out, 1)))
            elif isinstance(layer, specs.Residual):
                result.append(
                    specs.replace(layer, layers=scale(layer.layers), shortcut=scale(layer.shortcut))
                )
            elif isinstance(layer, specs.Repeat):
                result.append(specs.replace(layer, layers=scale(layer.layers)))
            elif isinstance(layer, specs.Branches):
                result.append(
                    specs.replace(layer, branches=[scale(branch) for branch in layer.branches])
                )
            elif isinstance(layer, specs.InvertedResidual):
                expanded = layer.expand_channels
                last_block[0] = rounded(layer.out)
                result.append(
                    specs.replace(
                        layer,
                        out=rounded(layer.out),
                        expand_channels=None if expanded is None else rounded(expanded),
                    )
                )
            elif isinstance(layer, specs.SqueezeExcite) and layer.squeeze is not None:
                result.append(specs.replace(layer, squeeze=rounded(layer.squeeze)))
            elif isinstance(layer, specs.Conv | specs.PwConv | specs.DsConv | specs.Linear):
                result.append(specs.replace(layer, out=rounded(layer.out)))
            else:
                result.append(layer)
        return result

    return specs.replace(network, layers=scale(network.layers))


def _last_of(layers: list[specs.Layer], kind: object) -> specs.Layer | None:
    """The last top-level layer that is an instance of ``kind`` (not inside blocks)."""
    for layer in reversed(layers):
        if isinstance(layer, kind):  # type: ignore[arg-type]
            return layer
    return None
