"""What a network analysis returns: one row per primitive layer, totals, by kind, what-ifs.

Plain data only: every result has ``to_dict()`` (the JSON contract of ``dsc-calc network``); the
tables people read are built in :mod:`dsc_calc.output.tables.network`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from dsc_calc.cost.conv import Conv2d, Cost, Shape

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


Kind = Literal["conv", "pointwise", "depthwise", "linear", "other"]
KINDS: tuple[Kind, ...] = ("conv", "pointwise", "depthwise", "linear", "other")


def conv_kind(conv: Conv2d) -> Kind:
    """The by-type kind of a conv: depthwise, pointwise (1x1, groups 1) or conv (the rest)."""
    if conv.is_depthwise:
        return "depthwise"
    if conv.is_pointwise:
        return "pointwise"
    return "conv"


# --- Results ----------------------------------------------------------------------------------


class LayerRow(msgspec.Struct, frozen=True):
    """One primitive layer as it runs: its place, shapes, cost, and its conv if it is one.

    A network is a graph of rows over tensors: ``tensor`` is the id of the tensor this row writes
    (its position in the network's rows; ``-1`` is the network input) and ``inputs`` the tensors
    it reads, the first of them shaped ``input`` (a concat's ``input`` is all it reads).
    ``held_elements`` counts the per-sample elements of other tensors kept alive while this row
    runs: a block input waiting for its add, branch outputs waiting for their concat.
    """

    name: str
    type: str
    kind: Kind
    input: Shape
    output: Shape
    cost: Cost
    conv: Conv2d | None = None
    held_elements: int = 0
    tensor: int = 0
    inputs: tuple[int, ...] = ()

    def to_dict(
        self, total_macs: int, extra: Mapping[str, object] | None = None
    ) -> dict[str, object]:
        """The row's JSON object; ``extra`` (another report's part of the row) goes last."""
        document: dict[str, object] = {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "params": self.cost.params,
            "macs": self.cost.macs,
            "flops": self.cost.flops,
            "share": self.cost.macs / total_macs if total_macs else 0.0,
            "held_elements": self.held_elements,
            **self.conv_geometry(),
            "description": self.describe(),
        }
        if extra:
            document.update(extra)
        return document

    def conv_geometry(self) -> dict[str, object]:
        """The conv's kernel, stride, padding, dilation and groups (as ``layer --json`` gives them:
        pairs ``[h, w]``, padding ``"same"``/``"valid"``/``[h, w]``), all None for a row without
        a conv."""
        conv = self.conv
        if conv is None:
            return dict.fromkeys(("kernel", "stride", "padding", "dilation", "groups"))
        padding = conv.padding if isinstance(conv.padding, str) else list(conv.padding)
        return {
            "kernel": list(conv.kernel),
            "stride": list(conv.stride),
            "padding": padding,
            "dilation": list(conv.dilation),
            "groups": conv.groups,
        }

    def describe(self) -> str:
        """The type, with the conv's geometry if it is one: ``dwconv 3×3 32→32 g32``."""
        return f"{self.type} {self.conv.describe()}" if self.conv is not None else self.type


_HELD_SETTER = LayerRow.held_elements.__set__  # type: ignore[attr-defined]


def set_held(row: LayerRow, held: int) -> None:
    """Set ``held_elements`` of a row being built (the walk knows it only once every row is)."""
    _HELD_SETTER(row, held)


class KindTotal(msgspec.Struct, frozen=True):
    """Params, MACs and FLOPs of every row of one kind, and how many rows."""

    cost: Cost
    count: int

    def to_dict(self) -> dict[str, int]:
        return {**self.cost.to_dict(), "count": self.count}


class Change(msgspec.Struct, frozen=True):
    """One what-if replacement: the rows it replaces, and what replaces them.

    ``dropped`` is the cost of rows removed with the change besides ``old`` (the batch norm
    between a depthwise and a pointwise conv merged by ``--what-if standard``). ``positions``
    are the indices in the network's rows of every row the change removes, in order, and
    ``rows`` the rows that take their place: the redesigned network is the original with each
    change spliced in by position (:func:`dsc_calc.network.redesign.redesigned_rows`), never by
    name.
    """

    layers: tuple[str, ...]
    before: str
    after: str
    old: Cost
    new: Cost
    dropped: Cost = msgspec.field(default_factory=Cost)
    positions: tuple[int, ...] = ()
    rows: tuple[LayerRow, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "layers": list(self.layers),
            "before": self.before,
            "after": self.after,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "dropped": self.dropped.to_dict(),
            "saving": _saving(self.old + self.dropped, self.new),
        }


def _saving(old: Cost, new: Cost) -> dict[str, float | int | None]:
    return {
        "params": old.params - new.params,
        "macs": old.macs - new.macs,
        "params_ratio": old.params / new.params if new.params else None,
        "macs_ratio": old.macs / new.macs if new.macs else None,
    }


class WhatIfReport(msgspec.Struct, frozen=True):
    """A redesign of the whole network: each change, and the totals before and after."""

    mode: str
    changes: tuple[Change, ...]
    before: Cost
    after: Cost

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "changes": [change.to_dict() for change in self.changes],
            "totals": {
                "before": self.before.to_dict(),
                "after": self.after.to_dict(),
                "saving": _saving(self.before, self.after),
            },
        }


class NetworkReport(msgspec.Struct, frozen=True):
    """A whole network's rows, totals, by-kind breakdown and optional what-if."""

    name: str
    input: Shape
    output: Shape
    rows: tuple[LayerRow, ...]
    totals: Cost
    by_type: dict[str, KindTotal]
    batch: int = 1
    what_if: WhatIfReport | None = None
    source: str | None = None

    def to_dict(
        self,
        *,
        rows: Sequence[Mapping[str, object]] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        """The JSON contract of ``dsc-calc network`` (every row; --top/--sort shape tables only).

        A report that adds to this document (the memory report) gives its parts: ``rows[i]`` is
        appended to row ``i``'s object and ``extra`` to the document, so nothing patches it.
        """
        total = self.totals.macs
        layers = (
            [row.to_dict(total) for row in self.rows]
            if rows is None
            else [row.to_dict(total, part) for row, part in zip(self.rows, rows, strict=True)]
        )
        return {
            "name": self.name,
            "source": self.source,
            "batch": self.batch,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "layers": layers,
            "totals": self.totals.to_dict(),
            "by_type": {kind: value.to_dict() for kind, value in self.by_type.items()},
            "what_if": self.what_if.to_dict() if self.what_if is not None else None,
            **(extra or {}),
        }


def summarise(rows: Iterable[LayerRow]) -> tuple[Cost, dict[str, KindTotal]]:
    """Totals and the by-kind breakdown (every kind present, in a fixed order)."""
    sums = {kind: [0, 0, 0, 0] for kind in KINDS}
    for row in rows:
        entry = sums[row.kind]
        entry[0] += row.cost.params
        entry[1] += row.cost.macs
        entry[2] += row.cost.flops
        entry[3] += 1
    by_type: dict[str, KindTotal] = {
        kind: KindTotal(Cost(p, m, f), n) for kind, (p, m, f, n) in sums.items()
    }
    totals = Cost(*(sum(entry[i] for entry in sums.values()) for i in range(3)))
    return totals, by_type
