"""Whole networks: a spec unrolled into primitive rows, each costed with the conv core.

``load_network`` reads a spec (a file, ``-`` for stdin, or a preset name) and applies ``--alpha`` /
``--resolution``; ``analyse`` walks it once, in order, and returns a :class:`NetworkReport`: one
:class:`LayerRow` per primitive layer (a ``dsconv`` gives a depthwise and a pointwise row, blocks
give their parts, ``repeat`` is unrolled), totals, a by-kind breakdown like the MobileNet paper's
Table 2, and optionally a what-if redesign.

Every conv-like row is a :class:`dsc_calc.cost.conv.Conv2d` costed by ``Conv2d.cost``; counting
conventions are those of :mod:`dsc_calc.cost.conv` (batch norm 2·C params; activations, pools and
adds 0 MACs; a linear layer ``in·out`` MACs). The semantics of each layer type are in the README.
msgspec (through :mod:`dsc_calc.network.spec`) is imported only when a spec is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dsc_calc._gc import collector_paused
from dsc_calc.cost.conv import MAX_DIMENSION, Conv2d, Cost, Padding, Shape, compare
from dsc_calc.errors import DscCalcError
from dsc_calc.output.tabular import Column, Table

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from dsc_calc.network import spec as specs
    from dsc_calc.network.spec import NetworkSpec

#: Refuse a spec that would unroll into more primitive rows than this, before unrolling it.
MAX_ROWS = 1_000_000
#: Refuse spec files larger than this (bytes) before reading them.
MAX_SPEC_BYTES = 64 * 2**20
#: The largest batch accepted.
MAX_BATCH = 2**20

Kind = Literal["conv", "pointwise", "depthwise", "linear", "other"]
KINDS: tuple[Kind, ...] = ("conv", "pointwise", "depthwise", "linear", "other")
WhatIf = Literal["separable", "standard", "spatial"]
WHAT_IFS: tuple[str, ...] = ("separable", "standard", "spatial")
SortKey = Literal["order", "macs", "params"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: the nearest multiple of ``divisor``, losing < 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_kind(conv: Conv2d) -> Kind:
    """The by-type kind of a conv: depthwise, pointwise (1x1, groups 1) or conv (the rest)."""
    if conv.is_depthwise:
        return "depthwise"
    if conv.is_pointwise:
        return "pointwise"
    return "conv"


# --- Results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One primitive layer as it runs: its place, shapes, cost, and its conv if it is one.

    ``held_elements`` counts the per-sample elements of earlier activations kept alive for a
    pending residual add while this row runs (0 outside residual blocks).
    """

    name: str
    type: str
    kind: Kind
    input: Shape
    output: Shape
    cost: Cost
    conv: Conv2d | None = None
    held_elements: int = 0

    def to_dict(self, total_macs: int) -> dict[str, object]:
        return {
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
        }

    def describe(self) -> str:
        """The type, with the conv's geometry if it is one: ``dwconv 3×3 32→32 g32``."""
        return f"{self.type} {self.conv.describe()}" if self.conv is not None else self.type


_ROW_SETTERS = tuple(getattr(LayerRow, name).__set__ for name in LayerRow.__slots__)


def _new_row(*values: object) -> LayerRow:
    """``LayerRow(*values)`` at half the cost: a frozen dataclass's ``__init__`` goes through
    ``object.__setattr__`` per field, which dominates a 100k-layer walk. Fields in slot order."""
    row = object.__new__(LayerRow)
    for setter, value in zip(_ROW_SETTERS, values, strict=True):
        setter(row, value)
    return row


@dataclass(frozen=True, slots=True)
class KindTotal:
    """Params, MACs and FLOPs of every row of one kind, and how many rows."""

    cost: Cost
    count: int

    def to_dict(self) -> dict[str, int]:
        return {**self.cost.to_dict(), "count": self.count}


@dataclass(frozen=True, slots=True)
class Change:
    """One what-if replacement: the rows it replaces, and what replaces them.

    ``dropped`` is the cost of rows removed with the change besides ``old`` (the batch norm
    between a depthwise and a pointwise conv merged by ``--what-if standard``).
    """

    layers: tuple[str, ...]
    before: str
    after: str
    old: Cost
    new: Cost
    dropped: Cost = field(default_factory=Cost)

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


@dataclass(frozen=True, slots=True)
class WhatIfReport:
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


@dataclass(frozen=True, slots=True)
class NetworkReport:
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
    top: int | None = None
    sort: SortKey = "order"

    def to_dict(self) -> dict[str, object]:
        """The JSON contract of ``dsc-calc network`` (every row; --top/--sort shape tables only)."""
        total = self.totals.macs
        return {
            "name": self.name,
            "source": self.source,
            "batch": self.batch,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
            "layers": [row.to_dict(total) for row in self.rows],
            "totals": self.totals.to_dict(),
            "by_type": {kind: value.to_dict() for kind, value in self.by_type.items()},
            "what_if": self.what_if.to_dict() if self.what_if is not None else None,
        }

    def view(self, *, top: int | None = None, sort: SortKey = "order") -> NetworkReport:
        """The same report with its layer table sorted and cut to ``top`` rows."""
        if top is not None and top < 1:
            raise DscCalcError("--top", f"must be a positive integer, got {top}")
        return replace(self, top=top, sort=sort)

    def shown_rows(self) -> list[LayerRow]:
        rows = list(self.rows)
        if self.sort == "macs":
            rows.sort(key=lambda row: row.cost.macs, reverse=True)
        elif self.sort == "params":
            rows.sort(key=lambda row: row.cost.params, reverse=True)
        return rows[: self.top] if self.top is not None else rows

    def tables(self) -> list[Table]:
        """The layer table (with MACs shares), the by-kind table and any what-if table."""
        from dsc_calc.cost import conv as conv_notes

        total = self.totals.macs
        shown = self.shown_rows()
        hidden = len(self.rows) - len(shown)
        layer_table = Table(
            title=f"{self.name}: {self.input} \u2192 {self.output}"
            + (f" (batch {self.batch})" if self.batch != 1 else ""),
            columns=(
                Column("Layer"),
                Column("Type"),
                Column("Output"),
                Column("Params", "count"),
                Column("MACs", "count"),
                Column("FLOPs", "count"),
                Column("MACs share", "share"),
            ),
            rows=tuple(
                (
                    row.name,
                    row.describe(),
                    str(row.output),
                    row.cost.params,
                    row.cost.macs,
                    row.cost.flops,
                    row.cost.macs / total if total else 0.0,
                )
                for row in shown
            ),
            footer=(
                "total",
                f"{len(self.rows)} rows",
                str(self.output),
                self.totals.params,
                self.totals.macs,
                self.totals.flops,
                1.0 if total else 0.0,
            ),
            notes=(
                *((f"{hidden} more rows not shown (--top {self.top}).",) if hidden else ()),
                *((f"Source: {self.source}",) if self.source else ()),
                *conv_notes.same_padding_note(row.conv for row in self.rows),
            ),
        )
        kind_table = Table(
            title="By kind (as in the MobileNet paper's Table 2)",
            columns=(
                Column("Kind"),
                Column("Rows", "integer"),
                Column("Params", "count"),
                Column("Params share", "share"),
                Column("MACs", "count"),
                Column("MACs share", "share"),
            ),
            rows=tuple(
                (
                    kind,
                    value.count,
                    value.cost.params,
                    value.cost.params / self.totals.params if self.totals.params else 0.0,
                    value.cost.macs,
                    value.cost.macs / total if total else 0.0,
                )
                for kind, value in self.by_type.items()
            ),
            notes=(
                "MACs: multiply-accumulates of the weights, bias excluded (mult-adds). Params "
                "include bias and batch norm (2 per channel). FLOPs: 2 \u00d7 MACs + one add per "
                "output with a bias.",
            ),
        )
        tables = [layer_table, kind_table]
        if self.what_if is not None:
            tables.append(_what_if_table(self.what_if))
        return tables


def _what_if_table(what_if: WhatIfReport) -> Table:
    """One row per replacement (what it becomes, its params and MACs before and after); the
    original layer is in the main table, and JSON has every figure."""

    def ratio(old: int, new: int) -> float | None:
        return old / new if new else None

    return Table(
        title=f"What if: {what_if.mode} ({len(what_if.changes)} replacements)",
        columns=(
            Column("Layers"),
            Column("Replaced by"),
            Column("Params after", "count"),
            Column("MACs before", "count"),
            Column("MACs after", "count"),
            Column("MACs saving", "times"),
        ),
        rows=tuple(
            (
                _layers_label(change.layers),
                change.after,
                change.new.params,
                change.old.macs,
                change.new.macs,
                ratio(change.old.macs, change.new.macs),
            )
            for change in what_if.changes
        ),
        footer=(
            "network",
            f"params before: {what_if.before.params:,}",
            what_if.after.params,
            what_if.before.macs,
            what_if.after.macs,
            ratio(what_if.before.macs, what_if.after.macs),
        ),
    )


def _layers_label(names: tuple[str, ...]) -> str:
    """``dsconv2.{dw,pw}`` for parts of one block, else the names joined by ``+``."""
    prefixes = {name.rpartition(".")[0] for name in names}
    if len(names) > 1 and len(prefixes) == 1 and "" not in prefixes:
        (prefix,) = prefixes
        return f"{prefix}.{{{','.join(name.rpartition('.')[2] for name in names)}}}"
    return " + ".join(names)


# --- Loading ----------------------------------------------------------------------------------


def load_network(
    source: str,
    *,
    alpha: float | None = None,
    resolution: int | None = None,
    stdin: bytes | None = None,
) -> NetworkSpec:
    """A spec from a file path, ``-`` (standard input, or ``stdin``) or a preset name.

    ``alpha`` scales channels with the spec's family rounding (see :func:`scale_width`);
    ``resolution`` replaces the input height and width.
    """
    from dsc_calc.files import read_stdin
    from dsc_calc.network import presets
    from dsc_calc.network import spec as specs

    if source == "-":
        data = stdin if stdin is not None else read_stdin(MAX_SPEC_BYTES)
        where = "standard input"
    elif source in presets.names() and not Path(source).exists():
        data = presets.read(source)
        where = f"preset {source}"
    else:
        data = _read_file(source)
        where = source
    if len(data) > MAX_SPEC_BYTES:
        raise DscCalcError(where, f"is larger than the {MAX_SPEC_BYTES // 2**20} MiB spec limit")
    if not data.strip():
        raise DscCalcError(where, "is empty; a spec is a JSON object with input and layers")
    try:
        network = specs.decode(data)
    except DscCalcError as error:
        raise DscCalcError(where, error.problem) if error.where == "spec" else error from None
    if alpha is not None:
        network = scale_width(network, alpha)
    if resolution is not None:
        _check_int(resolution, "--resolution")
        network = specs.replace(
            network,
            input=specs.Input(channels=network.input.channels, height=resolution, width=resolution),
        )
    return network


def _check_int(value: int, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise DscCalcError(where, f"must be a positive integer, got {value!r}")


def _read_file(source: str) -> bytes:
    from dsc_calc.files import read_bounded
    from dsc_calc.network import presets

    hint = f"; presets: {', '.join(presets.names())}" if "/" not in source else ""
    try:
        missing = bool(source) and not Path(source).exists()
    except OSError:  # a name too long, a folder without search permission: the reader says so
        missing = False
    if missing:
        raise DscCalcError(source, f"no such file or preset{hint}")
    return read_bounded(source, MAX_SPEC_BYTES, where=source or "SPEC", what="spec")


def scale_width(network: NetworkSpec, alpha: float) -> NetworkSpec:
    """The spec with every channel count scaled by ``alpha``, rounded as its family does.

    * ``mobilenet_v1`` (TF-slim): ``max(int(c·α), 8)``.
    * ``mobilenet_v2`` (torchvision): ``make_divisible(c·α, 8)``; the last conv before the
      classifier keeps ``make_divisible(c·max(α, 1), 8)`` (1280 is never made narrower).
    * ``mobilenet_v3`` (torchvision): ``make_divisible(c·α, 8)`` for every conv, expansion and
      linear layer.
    * other families or none: ``max(1, round(c·α))``.

    The input channels and the final linear layer (the classifier) are never scaled; expansion
    factors, SE squeezes derived from a ratio, and depthwise channels follow their input.
    """
    from dsc_calc.network import spec as specs

    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 100:
        raise DscCalcError("--alpha", f"must be a number in (0, 100], got {alpha!r}")
    family = network.family

    def rounded(channels: int, factor: float = alpha) -> int:
        if family == "mobilenet_v1":
            result = max(int(channels * factor), 8)
        elif family in ("mobilenet_v2", "mobilenet_v3"):
            result = make_divisible(channels * factor, 8)
        else:
            result = max(1, round(channels * factor))
        if result > MAX_DIMENSION:  # the spec is fine: --alpha made the count too large
            raise DscCalcError(
                "--alpha",
                f"{alpha:g} scales {channels} channels to {result}, over the limit of "
                f"{MAX_DIMENSION}; use a smaller --alpha",
            )
        return result

    classifier = _last_of(network.layers, specs.Linear)
    last_conv = (
        _last_of(network.layers, specs.Conv | specs.PwConv) if family == "mobilenet_v2" else None
    )

    def scale(layers: Iterable[specs.Layer]) -> list[specs.Layer]:
        result: list[specs.Layer] = []
        for layer in layers:
            if layer is classifier:
                result.append(layer)
            elif isinstance(layer, specs.Conv | specs.PwConv) and layer is last_conv and alpha < 1:
                result.append(specs.replace(layer, out=rounded(layer.out, 1)))
            elif isinstance(layer, specs.Residual):
                result.append(
                    specs.replace(layer, layers=scale(layer.layers), shortcut=scale(layer.shortcut))
                )
            elif isinstance(layer, specs.Repeat):
                result.append(specs.replace(layer, layers=scale(layer.layers)))
            elif isinstance(layer, specs.InvertedResidual):
                expanded = layer.expand_channels
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


# --- Counting rows before unrolling -----------------------------------------------------------


def count_rows(layers: Iterable[specs.Layer], depth: int = 0) -> int:
    """How many primitive rows ``layers`` unroll into, without unrolling them."""
    from dsc_calc.network import spec as specs

    total = 0
    for layer in layers:
        if isinstance(layer, specs.Repeat):
            total += layer.repeat * count_rows(layer.layers, depth + 1)
        elif isinstance(layer, specs.Residual):
            total += count_rows(layer.layers, depth + 1) + count_rows(layer.shortcut, depth + 1)
            total += 1
        elif isinstance(layer, specs.InvertedResidual):
            total += 3 + 3 + 2 + 1 + (6 if layer.se else 0)  # an upper bound
        elif isinstance(layer, specs.SqueezeExcite):
            total += 6
        elif isinstance(layer, specs.DsConv | specs.SpConv):
            total += 2 * (1 + layer.bn + (layer.act is not None))
        elif isinstance(layer, specs.Conv | specs.DwConv | specs.PwConv):
            total += 1 + layer.bn + (layer.act is not None)
        else:
            total += 1
        if total > MAX_ROWS:
            break
    return total


# --- The walk ---------------------------------------------------------------------------------


def _pair(value: int | list[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def _padding(value: int | list[int] | str) -> Padding:
    if value == "same":
        return "same"
    if value == "valid":
        return "valid"
    if isinstance(value, str):  # pragma: no cover - the decoder allows only the two modes
        raise DscCalcError("padding", f"unknown padding {value!r}")
    return _pair(value)


class _Walker:
    """Unrolls a spec into rows, in order, tracking the shape and the residual-held elements."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.rows: list[LayerRow] = []
        self.held = 0
        self.zero = Cost()
        # Real networks repeat the same conv on the same shape many times: build and cost each
        # distinct (conv, input) once. Conv2d and Shape are frozen, so sharing them is safe.
        self.convs: dict[tuple[object, ...], Conv2d] = {}
        self.costs: dict[tuple[int, int, int, int], tuple[Cost, Shape, Kind]] = {}

    def make_conv(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: Padding,
        dilation: tuple[int, int],
        groups: int,
        bias: bool,
        where: str,
    ) -> Conv2d:
        key = (cin, cout, kernel, stride, padding, dilation, groups, bias)
        conv = self.convs.get(key)
        if conv is None:
            conv = self.convs[key] = _make_conv(*key, where)
        return conv

    # Rows ------------------------------------------------------------------------------------

    def conv_row(self, name: str, type_: str, conv: Conv2d, shape: Shape, where: str) -> Shape:
        # Convs are interned in self.convs for the whole walk, so their id is a stable key.
        key = (id(conv), shape.channels, shape.height, shape.width)
        known = self.costs.get(key)
        if known is None:
            try:
                known = self.costs[key] = (
                    conv.cost(shape, self.batch),
                    conv.output_shape(shape),
                    conv_kind(conv),
                )
            except DscCalcError as error:
                raise error.renamed(_SPEC_KEYS).at(where) from None
        cost, out, kind = known
        self.rows.append(_new_row(name, type_, kind, shape, out, cost, conv, self.held))
        return out

    def plain_row(self, name: str, type_: str, shape: Shape, out: Shape | None = None) -> Shape:
        target = shape if out is None else out
        self.rows.append(_new_row(name, type_, "other", shape, target, self.zero, None, self.held))
        return target

    def batchnorm_row(self, name: str, shape: Shape) -> Shape:
        params = 2 * shape.channels
        self.rows.append(
            _new_row(name, "batchnorm", "other", shape, shape, Cost(params), None, self.held)
        )
        return shape

    def after(self, name: str, layer: specs.ConvLike, shape: Shape) -> Shape:
        if layer.bn:
            self.batchnorm_row(f"{name}.bn", shape)
        if layer.act is not None:
            self.plain_row(f"{name}.{layer.act}", layer.act, shape)
        return shape

    # Layers ----------------------------------------------------------------------------------

    def walk(
        self,
        layers: Iterable[specs.Layer],
        shape: Shape,
        where: str,
        prefix: str,
        counter: list[int],
    ) -> Shape:
        from dsc_calc.network import spec as specs

        for index, layer in enumerate(layers):
            place = f"{where}[{index}]"
            if isinstance(layer, specs.Repeat):
                for _ in range(layer.repeat):
                    shape = self.walk(layer.layers, shape, f"{place}.layers", prefix, counter)
                continue
            counter[0] += 1
            label = layer.name or _labels().get(type(layer)) or specs.tag_of(layer)
            name = f"{prefix}{label}{counter[0]}"
            handler = _handlers()[type(layer)]
            shape = handler(self, layer, shape, place, name)
        return shape

    def conv(self, layer: specs.Conv, shape: Shape, where: str, name: str) -> Shape:
        conv = self.make_conv(
            shape.channels,
            layer.out,
            _pair(layer.k),
            _pair(layer.stride),
            _padding(layer.padding),
            _pair(layer.dilation),
            layer.groups,
            layer.bias,
            where,
        )
        return self.after(name, layer, self.conv_row(name, "conv", conv, shape, where))

    def spconv(self, layer: specs.SpConv, shape: Shape, where: str, name: str) -> Shape:
        (kh, kw), (sh, sw), (dh, dw) = _pair(layer.k), _pair(layer.stride), _pair(layer.dilation)
        padding = _padding(layer.padding)
        pad_h: Padding = padding if isinstance(padding, str) else (padding[0], 0)
        pad_w: Padding = padding if isinstance(padding, str) else (0, padding[1])
        first = self.make_conv(
            shape.channels, layer.out, (kh, 1), (sh, 1), pad_h, (dh, 1), layer.groups,
            layer.bias, where,
        )  # fmt: skip
        middle = self.conv_row(f"{name}.h", "conv", first, shape, where)
        second = self.make_conv(
            layer.out, layer.out, (1, kw), (1, sw), pad_w, (1, dw), layer.groups, layer.bias, where
        )
        return self.after(name, layer, self.conv_row(f"{name}.w", "conv", second, middle, where))

    def dwconv(self, layer: specs.DwConv, shape: Shape, where: str, name: str) -> Shape:
        out = shape.channels * layer.multiplier
        _check_derived(out, f"{where}.multiplier", f"output channels from {shape.channels}")
        conv = self.make_conv(
            shape.channels,
            out,
            _pair(layer.k),
            _pair(layer.stride),
            _padding(layer.padding),
            _pair(layer.dilation),
            shape.channels,
            layer.bias,
            where,
        )
        return self.after(name, layer, self.conv_row(name, "dwconv", conv, shape, where))

    def pwconv(self, layer: specs.PwConv, shape: Shape, where: str, name: str) -> Shape:
        conv = self.make_conv(
            shape.channels, layer.out, (1, 1), (1, 1), (0, 0), (1, 1), layer.groups, layer.bias,
            where,
        )  # fmt: skip
        return self.after(name, layer, self.conv_row(name, "pwconv", conv, shape, where))

    def dsconv(self, layer: specs.DsConv, shape: Shape, where: str, name: str) -> Shape:
        depthwise = self.make_conv(
            shape.channels,
            shape.channels,
            _pair(layer.k),
            _pair(layer.stride),
            _padding(layer.padding),
            _pair(layer.dilation),
            shape.channels,
            layer.bias,
            where,
        )
        middle = self.conv_row(f"{name}.dw", "dwconv", depthwise, shape, where)
        self.after(f"{name}.dw", layer, middle)
        pointwise = self.make_conv(
            middle.channels, layer.out, (1, 1), (1, 1), (0, 0), (1, 1), 1, layer.bias, where
        )
        out = self.conv_row(f"{name}.pw", "pwconv", pointwise, middle, where)
        return self.after(f"{name}.pw", layer, out)

    def batchnorm(self, _layer: specs.BatchNorm, shape: Shape, _where: str, name: str) -> Shape:
        return self.batchnorm_row(name, shape)

    def activation(self, layer: specs.Layer, shape: Shape, _where: str, name: str) -> Shape:
        from dsc_calc.network import spec as specs

        return self.plain_row(name, specs.tag_of(layer), shape)

    def pool(self, layer: specs.Pool, shape: Shape, where: str, name: str) -> Shape:
        type_ = f"{layer.op}pool"
        if layer.global_:
            return self.plain_row(name, type_, shape, Shape(shape.channels, 1, 1))
        kernel = _pair(layer.k if layer.k is not None else 1)
        stride = _pair(layer.stride) if layer.stride is not None else kernel
        padding = _padding(layer.padding)
        pads = padding if isinstance(padding, tuple) else (padding, padding)
        sizes = []
        for axis, size, k, s, p in (
            ("height", shape.height, kernel[0], stride[0], pads[0]),
            ("width", shape.width, kernel[1], stride[1], pads[1]),
        ):
            if p == "same":
                sizes.append(-(-size // s))
                continue
            pad = 0 if p == "valid" else int(p)
            if 2 * pad > k:
                raise DscCalcError(
                    f"{where}.padding",
                    f"padding {pad} is more than half the pool kernel {k} (PyTorch refuses it); "
                    "use at most k // 2",
                )
            if size + 2 * pad < k:
                raise DscCalcError(
                    f"{where}.k",
                    f"pool kernel {k} is larger than the padded input {axis} {size + 2 * pad}; "
                    "use a smaller kernel or a larger input",
                )
            sizes.append((size + 2 * pad - k) // s + 1)
        return self.plain_row(name, type_, shape, Shape(shape.channels, sizes[0], sizes[1]))

    def linear(self, layer: specs.Linear, shape: Shape, _where: str, name: str) -> Shape:
        inputs = shape.numel
        macs = self.batch * inputs * layer.out
        cost = Cost(
            inputs * layer.out + (layer.out if layer.bias else 0),
            macs,
            2 * macs + (self.batch * layer.out if layer.bias else 0),
        )
        out = Shape(layer.out, 1, 1)
        self.rows.append(_new_row(name, "linear", "linear", shape, out, cost, None, self.held))
        return out

    def se(self, layer: specs.SqueezeExcite, shape: Shape, where: str, name: str) -> Shape:
        squeeze = layer.squeeze or make_divisible(shape.channels * layer.ratio, 8)
        _check_derived(squeeze, f"{where}.ratio", f"squeeze channels from {shape.channels}")
        return self.squeeze_excite(name, shape, squeeze, layer.act, layer.gate, where)

    def squeeze_excite(
        self, name: str, shape: Shape, squeeze: int, act: str, gate: str, where: str
    ) -> Shape:
        channels = shape.channels
        pooled = self.plain_row(f"{name}.pool", "avgpool", shape, Shape(channels, 1, 1))
        reduce = self.make_conv(channels, squeeze, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, where)
        middle = self.conv_row(f"{name}.reduce", "pwconv", reduce, pooled, where)
        self.plain_row(f"{name}.{act}", act, middle)
        expand = self.make_conv(squeeze, channels, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, where)
        weights = self.conv_row(f"{name}.expand", "pwconv", expand, middle, where)
        self.plain_row(f"{name}.{gate}", gate, weights)
        return self.plain_row(f"{name}.scale", "scale", shape)

    def inverted_residual(
        self, layer: specs.InvertedResidual, shape: Shape, where: str, name: str
    ) -> Shape:
        cin = shape.channels
        hidden = layer.expand_channels or round(cin * layer.expand)
        if hidden < 1:
            raise DscCalcError(
                f"{where}.expand", f"gives {hidden} expanded channels from {cin}; use a larger one"
            )
        _check_derived(hidden, f"{where}.expand", f"expanded channels from {cin}")
        stride = _pair(layer.stride)
        residual = stride == (1, 1) and cin == layer.out
        outer = self.held
        if residual:
            self.held = outer + shape.numel
        current = shape
        if hidden != cin:
            expand = self.make_conv(cin, hidden, (1, 1), (1, 1), (0, 0), (1, 1), 1, False, where)
            current = self.conv_row(f"{name}.expand", "pwconv", expand, current, where)
            self.batchnorm_row(f"{name}.expand.bn", current)
            self.plain_row(f"{name}.expand.{layer.act}", layer.act, current)
        depthwise = self.make_conv(
            hidden, hidden, _pair(layer.k), stride, "same", (1, 1), hidden, False, where
        )
        current = self.conv_row(f"{name}.dw", "dwconv", depthwise, current, where)
        self.batchnorm_row(f"{name}.dw.bn", current)
        self.plain_row(f"{name}.dw.{layer.act}", layer.act, current)
        if layer.se:
            squeeze = make_divisible(hidden / 4, 8)
            self.squeeze_excite(f"{name}.se", current, squeeze, "relu", "hsigmoid", where)
        project = self.make_conv(hidden, layer.out, (1, 1), (1, 1), (0, 0), (1, 1), 1, False, where)
        current = self.conv_row(f"{name}.project", "pwconv", project, current, where)
        self.batchnorm_row(f"{name}.project.bn", current)
        if residual:
            self.plain_row(f"{name}.add", "add", current)
            self.held = outer
        return current

    def residual(self, layer: specs.Residual, shape: Shape, where: str, name: str) -> Shape:
        outer = self.held
        self.held = outer + shape.numel
        main = self.walk(layer.layers, shape, f"{where}.layers", f"{name}.", [0])
        self.held = outer + main.numel
        other = self.walk(layer.shortcut, shape, f"{where}.shortcut", f"{name}.shortcut.", [0])
        if other != main:
            raise DscCalcError(
                where,
                f"the main branch gives {main} but the shortcut gives {other}; the residual add "
                "needs equal shapes (give the shortcut e.g. a 1x1 conv with the same stride and "
                "output channels)",
            )
        self.held = outer + other.numel
        self.plain_row(f"{name}.add", "add", main)
        self.held = outer
        return main


def _check_derived(channels: int, where: str, what: str) -> None:
    """Refuse a channel count derived from a spec key (not written in it) past the limit."""
    if channels > MAX_DIMENSION:
        raise DscCalcError(
            where, f"gives {channels} {what}, over the limit of {MAX_DIMENSION}; use a smaller one"
        )


#: Conv2d's field names -> the spec keys a user writes.
_SPEC_KEYS = {"kernel": "k", "out_channels": "out", "in_channels": "input channels"}


def _make_conv(
    cin: int,
    cout: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: Padding,
    dilation: tuple[int, int],
    groups: int,
    bias: bool,
    where: str,
) -> Conv2d:
    try:
        return Conv2d(cin, cout, kernel, stride, padding, dilation, groups, bias)
    except DscCalcError as error:
        raise error.renamed(_SPEC_KEYS).at(where) from None


@cache
def _handlers() -> dict[type, Callable[..., Shape]]:
    from dsc_calc.network import spec as specs

    return {
        specs.Conv: _Walker.conv,
        specs.SpConv: _Walker.spconv,
        specs.DwConv: _Walker.dwconv,
        specs.PwConv: _Walker.pwconv,
        specs.DsConv: _Walker.dsconv,
        specs.BatchNorm: _Walker.batchnorm,
        specs.Relu: _Walker.activation,
        specs.Relu6: _Walker.activation,
        specs.Hswish: _Walker.activation,
        specs.Hsigmoid: _Walker.activation,
        specs.Sigmoid: _Walker.activation,
        specs.Silu: _Walker.activation,
        specs.Pool: _Walker.pool,
        specs.Linear: _Walker.linear,
        specs.SqueezeExcite: _Walker.se,
        specs.InvertedResidual: _Walker.inverted_residual,
        specs.Residual: _Walker.residual,
    }


@cache
def _labels() -> dict[type, str]:
    from dsc_calc.network import spec as specs

    return {specs.InvertedResidual: "block", specs.Residual: "block"}


def analyse(spec: NetworkSpec, *, batch: int = 1, what_if: str | None = None) -> NetworkReport:
    """Unroll ``spec`` into rows and cost each one; refuse it first if it would unroll too far."""
    _check_int(batch, "batch")
    if batch > MAX_BATCH:
        raise DscCalcError("batch", f"must be at most {MAX_BATCH}, got {batch}")
    if what_if is not None and what_if not in WHAT_IFS:
        raise DscCalcError("what_if", f"must be one of {', '.join(WHAT_IFS)}, got {what_if!r}")
    rows_needed = count_rows(spec.layers)
    if rows_needed > MAX_ROWS:
        raise DscCalcError(
            "layers",
            f"the spec unrolls into more than {MAX_ROWS:,} rows (the limit); "
            "lower the repeat counts",
        )
    source = Shape(spec.input.channels, spec.input.height, spec.input.width)
    walker = _Walker(batch)
    with collector_paused():
        output = walker.walk(spec.layers, source, "layers", "", [0])
    rows = tuple(walker.rows)
    totals, by_type = summarise(rows)
    return NetworkReport(
        name=spec.name,
        input=source,
        output=output,
        rows=rows,
        totals=totals,
        by_type=by_type,
        batch=batch,
        what_if=redesign(rows, what_if, batch) if what_if is not None else None,
        source=spec.source,
    )


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


# --- What-if ----------------------------------------------------------------------------------


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
