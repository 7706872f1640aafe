"""The convolution cost core: output shapes, parameters, MACs and FLOPs of 2-D convolutions.

Counting conventions (the same everywhere in dsc-calc, and in the README):

* **params** are trainable parameters, bias included: exactly what
  ``sum(p.numel() for p in module.parameters())`` gives for the equivalent ``torch.nn.Conv2d``.
* **MACs** are the multiply-accumulates of the weights, bias excluded (the "mult-adds" of the
  MobileNet papers): ``batch * Cout * Hout * Wout * (Cin / groups) * kh * kw``. A depthwise conv is
  simply ``groups = Cin``; it is not a special case.
* **FLOPs** are ``2 * MACs``, plus one addition per output element when the layer has a bias.
* **Output size** follows PyTorch: ``floor((H + pad_total - d*(k-1) - 1) / s) + 1``, where
  ``pad_total`` is ``2*p`` for an integer padding ``p``, 0 for ``valid``, and for ``same``
  whatever makes the output ``ceil(H / s)`` (split as TensorFlow does: the odd pixel goes to the
  bottom/right).

Everything here is pure: no I/O, no Typer, no Rich. Bad values raise :class:`DscCalcError` naming
the field (``stride``, ``kernel``, ...); callers rename the field to their own option or path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec
from msgspec.structs import asdict, force_setattr

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from fractions import Fraction

Pair = tuple[int, int]
PaddingMode = Literal["same", "valid"]
Padding = PaddingMode | Pair

#: The largest size, channel count or kernel dimension accepted (PyTorch's own int32 bound).
MAX_DIMENSION = 2**31 - 1


def check_positive(value: object, where: str, *, maximum: int = MAX_DIMENSION) -> int:
    """Return ``value`` if it is an integer in ``1..maximum``, else raise naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DscCalcError(where, f"must be a positive integer, got {value!r}")
    if value > maximum:
        raise DscCalcError(where, f"must be at most {maximum}, got {value}")
    return value


def check_non_negative(value: object, where: str, *, maximum: int = MAX_DIMENSION) -> int:
    """Return ``value`` if it is an integer in ``0..maximum``, else raise naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DscCalcError(where, f"must be a non-negative integer, got {value!r}")
    if value > maximum:
        raise DscCalcError(where, f"must be at most {maximum}, got {value}")
    return value


def as_pair(value: int | Pair | list[int], where: str, *, allow_zero: bool = False) -> Pair:
    """Normalise an int or a ``[h, w]`` pair of integers, checking each against its bound."""
    check = check_non_negative if allow_zero else check_positive
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise DscCalcError(where, f"must be an integer or a pair [h, w], got {list(value)!r}")
        return check(value[0], where), check(value[1], where)
    number = check(value, where)
    return number, number


class Shape(msgspec.Struct, frozen=True):
    """An activation's shape, channels x height x width (batch is carried separately)."""

    channels: int
    height: int
    width: int

    def __post_init__(self) -> None:
        check_positive(self.channels, "channels")
        check_positive(self.height, "height")
        check_positive(self.width, "width")

    @property
    def numel(self) -> int:
        """Elements in one sample of this activation."""
        return self.channels * self.height * self.width

    def __str__(self) -> str:
        return f"{self.channels}\u00d7{self.height}\u00d7{self.width}"

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class Cost(msgspec.Struct, frozen=True):
    """Trainable parameters, multiply-accumulates and floating-point operations of a layer."""

    params: int = 0
    macs: int = 0
    flops: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.macs + other.macs, self.flops + other.flops)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def padding_per_side(padding: Padding, size: int, kernel: int, stride: int, dilation: int) -> Pair:
    """The (before, after) padding along one axis for an input of ``size`` pixels."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        out = -(-size // stride)
        total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
        return total // 2, total - total // 2
    raise AssertionError(f"unresolved padding {padding!r}")  # pragma: no cover - callers pass modes


def output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """PyTorch's output size rule; the caller has checked that the kernel fits."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


class Conv2d(msgspec.Struct, frozen=True):
    """A 2-D convolution, with the arguments ``torch.nn.Conv2d`` takes.

    ``kernel``, ``stride``, ``dilation`` and an explicit ``padding`` are ``(h, w)`` pairs (ints are
    accepted and doubled); ``padding`` may also be ``"same"`` (output = ceil(input / stride)) or
    ``"valid"`` (no padding).
    """

    in_channels: int
    out_channels: int
    kernel: Pair = (3, 3)
    stride: Pair = (1, 1)
    padding: Padding = "same"
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = False

    # What a caller may pass (type checkers read this; msgspec makes the real one): an int is
    # a square kernel, stride, padding or dilation.
    if TYPE_CHECKING:

        def __init__(
            self,
            in_channels: int,
            out_channels: int,
            kernel: int | Pair = (3, 3),
            stride: int | Pair = (1, 1),
            padding: int | Padding = "same",
            dilation: int | Pair = (1, 1),
            groups: int = 1,
            bias: bool = False,
        ) -> None: ...

    def __post_init__(self) -> None:
        check_positive(self.in_channels, "in_channels")
        check_positive(self.out_channels, "out_channels")
        force_setattr(self, "kernel", as_pair(self.kernel, "kernel"))
        force_setattr(self, "stride", as_pair(self.stride, "stride"))
        force_setattr(self, "dilation", as_pair(self.dilation, "dilation"))
        if isinstance(self.padding, str):
            if self.padding not in ("same", "valid"):
                raise DscCalcError(
                    "padding",
                    f"must be 'same', 'valid', an integer or a pair [h, w], got {self.padding!r}",
                )
        else:
            force_setattr(self, "padding", as_pair(self.padding, "padding", allow_zero=True))
        check_positive(self.groups, "groups")
        for name, channels in (
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
        ):
            if channels % self.groups:
                raise DscCalcError(
                    "groups",
                    f"groups={self.groups} does not divide {name}={channels}; "
                    f"choose groups among the common divisors of {self.in_channels} and "
                    f"{self.out_channels}",
                )
        if not isinstance(self.bias, bool):
            raise DscCalcError("bias", f"must be true or false, got {self.bias!r}")

    @property
    def is_depthwise(self) -> bool:
        """One filter group per input channel (``groups == in_channels > 1``)."""
        return self.groups == self.in_channels > 1

    @property
    def is_pointwise(self) -> bool:
        """A 1x1 convolution over all channels (``groups == 1``)."""
        return self.kernel == (1, 1) and self.groups == 1

    def padding_sides(self, height: int, width: int) -> tuple[Pair, Pair]:
        """((top, bottom), (left, right)) padding for an input of ``height`` x ``width``."""
        if isinstance(self.padding, tuple):
            (ph, pw) = self.padding
            return (ph, ph), (pw, pw)
        return (
            padding_per_side(
                self.padding, height, self.kernel[0], self.stride[0], self.dilation[0]
            ),
            padding_per_side(self.padding, width, self.kernel[1], self.stride[1], self.dilation[1]),
        )

    def output_shape(self, source: Shape) -> Shape:
        """The output shape for ``source``, or an error if the kernel does not fit."""
        if source.channels != self.in_channels:
            raise DscCalcError(
                "in_channels",
                f"the layer takes {self.in_channels} channels but its input has {source.channels}",
            )
        sides = self.padding_sides(source.height, source.width)
        sizes: list[int] = []
        for axis, size, k, s, d, (before, after) in (
            ("height", source.height, self.kernel[0], self.stride[0], self.dilation[0], sides[0]),
            ("width", source.width, self.kernel[1], self.stride[1], self.dilation[1], sides[1]),
        ):
            effective = d * (k - 1) + 1
            padded = size + before + after
            if effective > padded:
                raise DscCalcError(
                    "kernel",
                    f"effective kernel {effective} (k={k}, dilation={d}) is larger than the padded "
                    f"input {axis} {padded} ({size} + padding {before + after}); use a smaller "
                    "kernel or dilation, more padding, or a larger input",
                )
            out = output_size(size, k, s, before + after, d)
            if out > MAX_DIMENSION:  # only padding can make the output larger than the input
                raise DscCalcError(
                    "padding",
                    f"gives an output {axis} of {out} ({size} + padding {before + after}), over "
                    f"the limit of {MAX_DIMENSION}; use less padding",
                )
            sizes.append(out)
        return Shape(self.out_channels, sizes[0], sizes[1])

    @property
    def params(self) -> int:
        """Trainable parameters: weights plus the bias vector if any."""
        weights = (
            self.out_channels * (self.in_channels // self.groups) * self.kernel[0] * self.kernel[1]
        )
        return weights + (self.out_channels if self.bias else 0)

    def cost(self, source: Shape, batch: int = 1) -> Cost:
        """Params, MACs and FLOPs of this layer applied to ``batch`` samples of ``source``."""
        check_positive(batch, "batch")
        out = self.output_shape(source)
        outputs = batch * out.numel
        macs = outputs * (self.in_channels // self.groups) * self.kernel[0] * self.kernel[1]
        return Cost(self.params, macs, 2 * macs + (outputs if self.bias else 0))

    def depthwise(self) -> Conv2d:
        """The depthwise part of the separable replacement: same geometry, ``groups = Cin``."""
        return Conv2d(
            self.in_channels,
            self.in_channels,
            self.kernel,
            self.stride,
            self.padding,
            self.dilation,
            groups=self.in_channels,
            bias=self.bias,
        )

    def pointwise(self) -> Conv2d:
        """The pointwise part of the separable replacement: 1x1, Cin -> Cout, stride 1."""
        return Conv2d(self.in_channels, self.out_channels, (1, 1), padding=(0, 0), bias=self.bias)

    def vertical(self) -> Conv2d:
        """The first conv of the spatially separable form: ``kh x 1``, Cin -> Cout.

        It carries the height axis of the layer's stride, padding and dilation, and the groups and
        bias; its width axis is the identity (kernel 1, stride 1, no padding).
        """
        padding: Padding = self.padding if isinstance(self.padding, str) else (self.padding[0], 0)
        return Conv2d(
            self.in_channels,
            self.out_channels,
            (self.kernel[0], 1),
            (self.stride[0], 1),
            padding,
            (self.dilation[0], 1),
            groups=self.groups,
            bias=self.bias,
        )

    def horizontal(self) -> Conv2d:
        """The second conv of the spatially separable form: ``1 x kw``, Cout -> Cout.

        It carries the width axis of the layer's stride, padding and dilation, and the groups and
        bias; its height axis is the identity. ``'same'`` padding therefore applies per axis.
        """
        padding: Padding = self.padding if isinstance(self.padding, str) else (0, self.padding[1])
        return Conv2d(
            self.out_channels,
            self.out_channels,
            (1, self.kernel[1]),
            (1, self.stride[1]),
            padding,
            (1, self.dilation[1]),
            groups=self.groups,
            bias=self.bias,
        )

    def describe(self) -> str:
        """A short human label: ``conv 3×3 32→64 s2 g4``."""
        kh, kw = self.kernel
        parts = [f"{kh}\u00d7{kw}", f"{self.in_channels}\u2192{self.out_channels}"]
        if self.stride != (1, 1):
            parts.append("s" + _pair_text(self.stride))
        if self.dilation != (1, 1):
            parts.append("d" + _pair_text(self.dilation))
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        if self.bias:
            parts.append("+bias")
        return " ".join(parts)


def _pair_text(pair: Pair) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}\u00d7{pair[1]}"


def exact(numerator: int, denominator: int) -> Fraction:
    """``numerator / denominator`` as an exact :class:`~fractions.Fraction` (imported on first
    use: a network without a layer comparison never needs one, and the import costs 0.7 ms)."""
    from fractions import Fraction

    return Fraction(numerator, denominator)


def textbook_ratio(out_channels: int, kernel: Pair) -> Fraction:
    """The derivation's approximation ``1/N + 1/Dk²`` with ``Dk² = kh * kw``."""
    return exact(1, out_channels) + exact(1, kernel[0] * kernel[1])


def ratio_dict(**ratios: Fraction) -> dict[str, object]:
    """Exact ratios as JSON gives them: each as a float, then all of them ``exact`` as strings
    (``{"params": 0.126, ..., "exact": {"params": "73/576", ...}}``)."""
    return {
        **{name: float(value) for name, value in ratios.items()},
        "exact": {name: str(value) for name, value in ratios.items()},
    }


class LayerComparison(msgspec.Struct, frozen=True):
    """A standard convolution beside its depthwise separable replacement."""

    conv: Conv2d
    input: Shape
    batch: int
    output: Shape
    standard: Cost
    depthwise: Cost
    pointwise: Cost
    vertical: Cost
    horizontal: Cost
    notes: tuple[str, ...] = ()

    @property
    def separable(self) -> Cost:
        return self.depthwise + self.pointwise

    @property
    def spatial(self) -> Cost:
        """The spatially separable form: ``kh x 1`` Cin -> Cout, then ``1 x kw`` Cout -> Cout."""
        return self.vertical + self.horizontal

    @property
    def spatial_params_ratio(self) -> Fraction:
        """Spatially separable params / standard params, exact."""
        return exact(self.spatial.params, self.standard.params)

    @property
    def spatial_macs_ratio(self) -> Fraction:
        """Spatially separable MACs / standard MACs, exact."""
        return exact(self.spatial.macs, self.standard.macs)

    @property
    def params_ratio(self) -> Fraction:
        """Separable params / standard params, exact."""
        return exact(self.separable.params, self.standard.params)

    @property
    def macs_ratio(self) -> Fraction:
        """Separable MACs / standard MACs, exact."""
        return exact(self.separable.macs, self.standard.macs)

    @property
    def formula_ratio(self) -> Fraction:
        return textbook_ratio(self.conv.out_channels, self.conv.kernel)

    def to_dict(self, parts: Mapping[str, Mapping[str, object]] | None = None) -> dict[str, object]:
        """The JSON contract of ``dsc-calc layer`` (see the README).

        A report that adds to this document (the memory report) gives its ``parts``, keyed by the
        object they extend: ``standard``, ``separable``, ``depthwise``, ``pointwise``, ``spatial``,
        ``ratio``, ``spatial_ratio``, ``saving``, or ``document`` for the top level. Each part is
        appended to its object as the document is built, so nothing patches it afterwards.
        """
        extra: Mapping[str, Mapping[str, object]] = parts or {}

        def part(name: str) -> Mapping[str, object]:
            return extra.get(name, {})

        (top, bottom), (left, right) = self.conv.padding_sides(self.input.height, self.input.width)
        padding = (
            self.conv.padding if isinstance(self.conv.padding, str) else list(self.conv.padding)
        )
        return {
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "config": {
                "in_channels": self.conv.in_channels,
                "out_channels": self.conv.out_channels,
                "kernel": list(self.conv.kernel),
                "stride": list(self.conv.stride),
                "padding": padding,
                "padding_sides": {"top": top, "bottom": bottom, "left": left, "right": right},
                "dilation": list(self.conv.dilation),
                "groups": self.conv.groups,
                "bias": self.conv.bias,
                "batch": self.batch,
            },
            "standard": {**self.standard.to_dict(), **part("standard")},
            "separable": {
                **self.separable.to_dict(),
                "depthwise": {**self.depthwise.to_dict(), **part("depthwise")},
                "pointwise": {**self.pointwise.to_dict(), **part("pointwise")},
                **part("separable"),
            },
            "spatial": {
                **self.spatial.to_dict(),
                "vertical": self.vertical.to_dict(),
                "horizontal": self.horizontal.to_dict(),
                **part("spatial"),
            },
            "ratio": {
                **ratio_dict(
                    params=self.params_ratio, macs=self.macs_ratio, formula=self.formula_ratio
                ),
                "spatial": {
                    **ratio_dict(params=self.spatial_params_ratio, macs=self.spatial_macs_ratio),
                    **part("spatial_ratio"),
                },
                **part("ratio"),
            },
            "saving": {
                "params": float(1 / self.params_ratio),
                "macs": float(1 / self.macs_ratio),
                **part("saving"),
            },
            "notes": list(self.notes),
            **part("document"),
        }


def compare(conv: Conv2d, source: Shape, batch: int = 1) -> LayerComparison:
    """Cost ``conv`` on ``source`` beside its depthwise and spatially separable replacements.

    The depthwise separable replacement is a depthwise ``kh x kw`` conv (``groups = Cin``,
    carrying the layer's stride, padding and dilation) followed by a pointwise ``1 x 1`` conv
    ``Cin -> Cout``. The spatially separable form (Inception-v3) is a ``kh x 1`` conv
    ``Cin -> Cout`` carrying the height axis of stride, padding and dilation, then a ``1 x kw``
    conv ``Cout -> Cout`` carrying the width axis, both with the layer's groups. Each part has a
    bias exactly when the layer has one.
    """
    standard = conv.cost(source, batch)
    depthwise_conv = conv.depthwise()
    depthwise = depthwise_conv.cost(source, batch)
    pointwise = conv.pointwise().cost(depthwise_conv.output_shape(source), batch)
    vertical_conv = conv.vertical()
    vertical = vertical_conv.cost(source, batch)
    horizontal = conv.horizontal().cost(vertical_conv.output_shape(source), batch)
    return LayerComparison(
        conv=conv,
        input=source,
        batch=batch,
        output=conv.output_shape(source),
        standard=standard,
        depthwise=depthwise,
        pointwise=pointwise,
        vertical=vertical,
        horizontal=horizontal,
        notes=(*_ratio_notes(conv), *same_padding_note([conv])),
    )


#: Said once under a report with a strided conv padded 'same'.
SAME_STRIDE_NOTE = (
    "'same' padding with a stride > 1 pads as TensorFlow does: output = ceil(input / stride), "
    "any odd padding pixel at the bottom or right. PyTorch refuses padding='same' with a stride "
    "> 1; give the padding explicitly to match a PyTorch model."
)


def same_padding_note(convs: Iterable[Conv2d | None]) -> tuple[str, ...]:
    """:data:`SAME_STRIDE_NOTE` if any of ``convs`` is padded 'same' with a stride > 1."""
    strided = any(c is not None and c.padding == "same" and c.stride != (1, 1) for c in convs)
    return (SAME_STRIDE_NOTE,) if strided else ()


def _ratio_notes(conv: Conv2d) -> tuple[str, ...]:
    """Why the exact ratios differ from ``1/N + 1/Dk²``, when they do."""
    notes: list[str] = []
    if conv.groups != 1:
        notes.append(
            f"The standard conv is grouped (groups={conv.groups}): its weights and MACs are "
            f"{conv.groups}\u00d7 smaller than an ungrouped conv's, while 1/N + 1/Dk\u00b2 assumes "
            "groups = 1, so the exact ratios are larger than the formula."
        )
    if conv.bias:
        notes.append(
            f"Bias adds {conv.out_channels} params to the standard conv but "
            f"{conv.in_channels} + {conv.out_channels} to the separable pair, so the params ratio "
            "differs from the formula; MACs exclude bias, so the MACs ratio does not."
        )
    if not notes:
        notes.append(
            "Without bias and with groups = 1 both exact ratios equal 1/N + 1/Dk\u00b2: "
            "(Cin\u00b7Dk\u00b2 + Cin\u00b7N) / (Cin\u00b7N\u00b7Dk\u00b2)."
        )
    return tuple(notes)
