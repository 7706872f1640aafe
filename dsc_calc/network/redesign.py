"""What-if redesigns: a network's convs replaced by their separable, spatial or standard form.

One engine serves ``--what-if`` and the memory report's design comparison: :func:`redesign` finds
the changes, each carrying the positions of the rows it removes and the rows that replace them,
and :func:`redesigned_rows` splices them in. Rows are matched by position, never by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dsc_calc.choices import ACTIVATIONS
from dsc_calc.cost.conv import Conv2d, Cost, Padding, compare
from dsc_calc.network.report import Change, LayerRow, WhatIfReport, conv_kind

if TYPE_CHECKING:
    from collections.abc import Sequence

#: The rows ``--what-if standard`` may find between a depthwise conv and its pointwise conv.
_BETWEEN_PAIR = ("batchnorm", *ACTIVATIONS)


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
    if mode == "standard":
        changes = _to_standard(rows, batch)
    else:
        changes = [
            change
            for position, row in enumerate(rows)
            if (change := _split(row, position, mode, batch)) is not None
        ]
    after = before
    for change in changes:
        after = Cost(
            after.params - change.old.params - change.dropped.params + change.new.params,
            after.macs - change.old.macs - change.dropped.macs + change.new.macs,
            after.flops - change.old.flops - change.dropped.flops + change.new.flops,
        )
    return WhatIfReport(mode, tuple(changes), before, after)


def redesigned_rows(rows: Sequence[LayerRow], what_if: WhatIfReport) -> list[LayerRow]:
    """``rows`` with ``what_if``'s changes spliced in by position: the redesigned network's rows."""
    result: list[LayerRow] = []
    cursor = 0
    for change in what_if.changes:
        first, last = change.positions[0], change.positions[-1]
        result.extend(rows[cursor:first])
        result.extend(change.rows)
        cursor = last + 1
    result.extend(rows[cursor:])
    return result


def _split(row: LayerRow, position: int, mode: str, batch: int) -> Change | None:
    """The separable or spatial replacement of one standard conv row, or None."""
    conv = row.conv
    # A depthwise row with one channel has groups == 1 too, but it is no standard conv:
    # "separating" it would add a 1x1 conv and cost more.
    if conv is None or conv.groups != 1 or conv.kernel == (1, 1) or row.type == "dwconv":
        return None
    held = row.held_elements
    if mode == "separable":
        parts = compare(conv, row.input, batch)
        depthwise, pointwise = conv.depthwise(), conv.pointwise()
        middle = depthwise.output_shape(row.input)
        replacement = (
            LayerRow(
                f"{row.name}.dw", "dwconv", "depthwise", row.input, middle,
                parts.depthwise, depthwise, held,
            ),
            LayerRow(
                f"{row.name}.pw", "pwconv", conv_kind(pointwise), middle, row.output,
                parts.pointwise, pointwise, held,
            ),
        )  # fmt: skip
        after = f"dw {depthwise.describe()} + pw {pointwise.describe()}"
        return Change(
            (row.name,), conv.describe(), after, row.cost, parts.separable,
            positions=(position,), rows=replacement,
        )  # fmt: skip
    if conv.kernel[0] == 1 or conv.kernel[1] == 1:
        return None
    first, second = spatial_pair(conv)
    middle = first.output_shape(row.input)
    first_cost, second_cost = first.cost(row.input, batch), second.cost(middle, batch)
    replacement = (
        LayerRow(
            f"{row.name}.h", "conv", conv_kind(first), row.input, middle, first_cost, first, held
        ),
        LayerRow(
            f"{row.name}.w", "conv", conv_kind(second), middle, row.output, second_cost, second,
            held,
        ),
    )  # fmt: skip
    return Change(
        (row.name,), conv.describe(), f"{first.describe()} + {second.describe()}", row.cost,
        first_cost + second_cost, positions=(position,), rows=replacement,
    )  # fmt: skip


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
            and rows[between].type in _BETWEEN_PAIR
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
        new = full.cost(row.input, batch)
        merged = LayerRow(
            f"{row.name} + {pointwise.name}", "conv", conv_kind(full), row.input,
            pointwise.output, new, full, row.held_elements,
        )  # fmt: skip
        changes.append(
            Change(
                (row.name, pointwise.name),
                f"dw {depthwise.describe()} + pw {pointwise.conv.describe()}",
                full.describe(),
                row.cost + pointwise.cost,
                new,
                dropped,
                positions=tuple(range(index, between + 1)),
                rows=(merged,),
            )
        )
        index = between + 1
    return changes
