"""What-if redesigns: a network's convs replaced by their separable, spatial or standard form.

One engine serves ``--what-if`` and the memory report's design comparison: :func:`redesign` finds
the changes, each carrying the positions of the rows it removes and the rows that replace them,
and :func:`redesigned_rows` splices them in. Rows are matched by position, never by name.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, cast

from dsc_calc.choices import ACTIVATIONS
from dsc_calc.cost.conv import Conv2d, Cost, compare
from dsc_calc.errors import DscCalcError
from dsc_calc.network.report import Change, LayerRow, WhatIfReport, conv_kind

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dsc_calc.cost.conv import LayerComparison, Shape

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
    if mode != "standard":
        _check_room(rows, mode)
    if mode == "standard":
        changes = _to_standard(rows, batch)
    else:
        fresh = _fresh_tensors()
        known: dict[tuple[object, ...], tuple[object, ...]] = {}
        changes = [
            change
            for position, row in enumerate(rows)
            if (change := _split(row, position, mode, batch, fresh, known)) is not None
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


def _fresh_tensors() -> Iterator[int]:
    """Ids for the tensors a redesign adds (between the two convs of a pair): -2, -3, ...
    The pair's second conv writes the replaced row's tensor, so readers keep their inputs."""
    return itertools.count(-2, -1)


#: The most rows a redesigned network may have: the walk's row limit (``MAX_ROWS``), repeated here
#: so that this module needs nothing of the walk.
MAX_REDESIGNED_ROWS = 100_000


def _check_room(rows: Sequence[LayerRow], mode: str) -> None:
    """Refuse, before building anything, a split that would take the network past the row limit
    (each replaced conv becomes two rows)."""
    added = sum(1 for row in rows if _splittable(row, mode))
    if len(rows) + added > MAX_REDESIGNED_ROWS:
        raise DscCalcError(
            "what_if",
            f"the {mode} redesign would have {len(rows) + added:,} rows ({added:,} convs become "
            f"two), more than the limit of {MAX_REDESIGNED_ROWS:,}; give a smaller network",
        )


def _splittable(row: LayerRow, mode: str) -> bool:
    """Whether ``row`` is a standard conv that the separable (or spatial) redesign replaces."""
    conv = row.conv
    # A depthwise row with one channel has groups == 1 too, but it is no standard conv:
    # "separating" it would add a 1x1 conv and cost more.
    if conv is None or conv.groups != 1 or conv.kernel == (1, 1) or row.type == "dwconv":
        return False
    return mode == "separable" or (conv.kernel[0] > 1 and conv.kernel[1] > 1)


def _split(
    row: LayerRow,
    position: int,
    mode: str,
    batch: int,
    fresh: Iterator[int],
    known: dict[tuple[object, ...], tuple[object, ...]],
) -> Change | None:
    """The separable or spatial replacement of one standard conv row, or None.

    Networks repeat a conv on one shape many times: ``known`` keeps each distinct (conv, input)'s
    parts, so a 500k-row network builds them once."""
    conv = row.conv
    if conv is None or not _splittable(row, mode):
        return None
    held = row.held_elements
    if mode == "separable":
        key = (conv, row.input)
        if key not in known:
            depthwise = conv.depthwise()
            known[key] = (
                compare(conv, row.input, batch),
                depthwise,
                conv.pointwise(),
                depthwise.output_shape(row.input),
            )
        parts, depthwise, pointwise, middle = cast(
            "tuple[LayerComparison, Conv2d, Conv2d, Shape]", known[key]
        )
        between = next(fresh)
        replacement = (
            LayerRow(
                f"{row.name}.dw", "dwconv", "depthwise", row.input, middle,
                parts.depthwise, depthwise, held, between, row.inputs,
            ),
            LayerRow(
                f"{row.name}.pw", "pwconv", conv_kind(pointwise), middle, row.output,
                parts.pointwise, pointwise, held, row.tensor, (between,),
            ),
        )  # fmt: skip
        after = f"dw {depthwise.describe()} + pw {pointwise.describe()}"
        return Change(
            (row.name,), conv.describe(), after, row.cost, parts.separable,
            positions=(position,), rows=replacement,
        )  # fmt: skip
    first, second = spatial_pair(conv)
    middle = first.output_shape(row.input)
    first_cost, second_cost = first.cost(row.input, batch), second.cost(middle, batch)
    between = next(fresh)
    replacement = (
        LayerRow(
            f"{row.name}.h", "conv", conv_kind(first), row.input, middle, first_cost, first, held,
            between, row.inputs,
        ),
        LayerRow(
            f"{row.name}.w", "conv", conv_kind(second), middle, row.output, second_cost, second,
            held, row.tensor, (between,),
        ),
    )  # fmt: skip
    return Change(
        (row.name,), conv.describe(), f"{first.describe()} + {second.describe()}", row.cost,
        first_cost + second_cost, positions=(position,), rows=replacement,
    )  # fmt: skip


def spatial_pair(conv: Conv2d) -> tuple[Conv2d, Conv2d]:
    """A kh x kw conv as a kh x 1 conv (height stride) then a 1 x kw conv (width stride): the
    conv core's own :meth:`~dsc_calc.cost.conv.Conv2d.vertical` and ``horizontal``."""
    return conv.vertical(), conv.horizontal()


def _to_standard(rows: tuple[LayerRow, ...], batch: int) -> list[Change]:
    """Each depthwise row with the pointwise row that reads its output, through batch norm and
    activation rows that only pass it on, merged into one full conv.

    A pair is followed along the graph, never by adjacency alone: a pointwise conv in a parallel
    branch (a residual's shortcut) reads another tensor and is left alone.
    """
    known: dict[tuple[Conv2d, Conv2d, Shape], tuple[Conv2d, Cost]] = {}
    readers: dict[int, list[int]] = {}
    for position, row in enumerate(rows):
        for tensor in row.inputs:
            readers.setdefault(tensor, []).append(position)
    changes: list[Change] = []
    index = 0
    while index < len(rows):
        row = rows[index]
        end = _pointwise_partner(rows, index, readers) if row.kind == "depthwise" else None
        if end is None or row.conv is None:
            index += 1
            continue
        depthwise, pointwise = row.conv, rows[end]
        assert pointwise.conv is not None  # noqa: S101 - pointwise rows carry their conv
        key = (depthwise, pointwise.conv, row.input)
        if key not in known:  # built and costed once per distinct pair and input
            merged_conv = Conv2d(
                depthwise.in_channels,
                pointwise.conv.out_channels,
                depthwise.kernel,
                depthwise.stride,
                depthwise.padding,
                depthwise.dilation,
                1,
                pointwise.conv.bias,
            )
            known[key] = (merged_conv, merged_conv.cost(row.input, batch))
        full, new = known[key]
        dropped = sum(
            (rows[i].cost for i in range(index + 1, end) if rows[i].type == "batchnorm"),
            Cost(),
        )
        merged = LayerRow(
            f"{row.name} + {pointwise.name}", "conv", conv_kind(full), row.input,
            pointwise.output, new, full, row.held_elements, pointwise.tensor, row.inputs,
        )  # fmt: skip
        changes.append(
            Change(
                (row.name, pointwise.name),
                f"dw {depthwise.describe()} + pw {pointwise.conv.describe()}",
                full.describe(),
                row.cost + pointwise.cost,
                new,
                dropped,
                positions=tuple(range(index, end + 1)),
                rows=(merged,),
            )
        )
        index = end + 1
    return changes


def _pointwise_partner(
    rows: tuple[LayerRow, ...], index: int, readers: dict[int, list[int]]
) -> int | None:
    """The position of the pointwise row that reads depthwise row ``index``'s output through the
    rows right after it, each the only reader of the one before; or None."""
    position = index
    while True:
        following = readers.get(rows[position].tensor, [])
        if following != [position + 1] or rows[position + 1].inputs != (rows[position].tensor,):
            return None
        position += 1
        row = rows[position]
        if row.kind == "pointwise":
            return position
        if row.kind != "other" or row.type not in _BETWEEN_PAIR:
            return None
