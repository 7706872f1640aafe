"""What-if redesigns: a network's convs replaced by their separable, spatial or standard form."""

from __future__ import annotations

from dsc_calc.cost.conv import Conv2d, Cost, Padding, compare
from dsc_calc.network.report import Change, LayerRow, WhatIfReport


def redesign(rows: tuple[LayerRow, ...], mode: str, batch: int) -> WhatIfReport:
    """Replace convs across the network and report each change and the totals before and after.

    * ``separable``: every standard conv with a kernel larger than 1x1 and groups 1 becomes a
      depthwise conv (same geometry and bias) and a pointwise conv
      (:func:`dsc_calc.cost.conv.compare`).
    * ``spatial``: every standard conv with kh > 1 and kw > 1 and groups 1 becomes a kh x 1 conv
      Cin -> Cout and a 1 x kw conv Cout -> Cout (the ``spconv`` layer).
    * ``standard``: every depthwise row followed (after only batch norm / activation rows) by a
      pointwise row becomes one full conv Cin -> Cout with the depthwise geometry; the batch norm
      between the pair goes with it (the MobileNet paper's Table 4 "Conv MobileNet").
    """
    before = sum((row.cost for row in rows), Cost())
    changes: list[Change] = []
    if mode == "standard":
        changes = _to_standard(rows, batch)
    else:
        for row in rows:
            conv = row.conv
            # A depthwise row with one channel has groups == 1 too, but it is no standard conv:
            # "separating" it would add a 1x1 conv and cost more.
            if conv is None or conv.groups != 1 or conv.kernel == (1, 1) or row.type == "dwconv":
                continue
            if mode == "separable":
                parts = compare(conv, row.input, batch)
                changes.append(
                    Change(
                        (row.name,),
                        conv.describe(),
                        f"dw {conv.depthwise().describe()} + pw {conv.pointwise().describe()}",
                        row.cost,
                        parts.separable,
                    )
                )
            elif conv.kernel[0] > 1 and conv.kernel[1] > 1:
                first, second = spatial_pair(conv)
                middle = first.output_shape(row.input)
                new = first.cost(row.input, batch) + second.cost(middle, batch)
                changes.append(
                    Change(
                        (row.name,),
                        conv.describe(),
                        f"{first.describe()} + {second.describe()}",
                        row.cost,
                        new,
                    )
                )
    after = before
    for change in changes:
        after = Cost(
            after.params - change.old.params - change.dropped.params + change.new.params,
            after.macs - change.old.macs - change.dropped.macs + change.new.macs,
            after.flops - change.old.flops - change.dropped.flops + change.new.flops,
        )
    return WhatIfReport(mode, tuple(changes), before, after)


def spatial_pair(conv: Conv2d) -> tuple[Conv2d, Conv2d]:
    """A kh x kw conv as a kh x 1 conv (height stride) then a 1 x kw conv (width stride)."""
    padding = conv.padding
    pad_h: Padding = padding if isinstance(padding, str) else (padding[0], 0)
    pad_w: Padding = padding if isinstance(padding, str) else (0, padding[1])
    first = Conv2d(
        conv.in_channels,
        conv.out_channels,
        (conv.kernel[0], 1),
        (conv.stride[0], 1),
        pad_h,
        (conv.dilation[0], 1),
        conv.groups,
        conv.bias,
    )
    second = Conv2d(
        conv.out_channels,
        conv.out_channels,
        (1, conv.kernel[1]),
        (1, conv.stride[1]),
        pad_w,
        (1, conv.dilation[1]),
        conv.groups,
        conv.bias,
    )
    return first, second


def _to_standard(rows: tuple[LayerRow, ...], batch: int) -> list[Change]:
    changes: list[Change] = []
    index = 0
    while index < len(rows):
        row = rows[index]
        if row.kind != "depthwise" or row.conv is None:
            index += 1
            continue
        between = index + 1
        while (
            between < len(rows)
            and rows[between].kind == "other"
            and rows[between].type in ("batchnorm", *_ACTIVATION_TYPES)
        ):
            between += 1
        if between >= len(rows) or rows[between].kind != "pointwise":
            index += 1
            continue
        depthwise, pointwise = row.conv, rows[between]
        if pointwise.conv is None:  # pragma: no cover - pointwise rows always carry their conv
            index += 1
            continue
        full = Conv2d(
            depthwise.in_channels,
            pointwise.conv.out_channels,
            depthwise.kernel,
            depthwise.stride,
            depthwise.padding,
            depthwise.dilation,
            1,
            pointwise.conv.bias,
        )
        dropped = sum(
            (rows[i].cost for i in range(index + 1, between) if rows[i].type == "batchnorm"),
            Cost(),
        )
        changes.append(
            Change(
                (row.name, pointwise.name),
                f"dw {depthwise.describe()} + pw {pointwise.conv.describe()}",
                full.describe(),
                row.cost + pointwise.cost,
                full.cost(row.input, batch),
                dropped,
            )
        )
        index = between + 1
    return changes


_ACTIVATION_TYPES = ("relu", "relu6", "hswish", "hsigmoid", "sigmoid", "silu")
