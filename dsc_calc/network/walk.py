"""The walk: a spec unrolled into primitive rows, in order, each costed with the conv core.

``analyse`` walks a spec once and returns a :class:`~dsc_calc.network.report.NetworkReport`: one
:class:`~dsc_calc.network.report.LayerRow` per primitive layer (a ``dsconv`` gives a depthwise and
a pointwise row, blocks give their parts, ``repeat`` is unrolled), totals, a by-kind breakdown like
the MobileNet paper's Table 2, and optionally a what-if redesign
(:mod:`dsc_calc.network.redesign`).

Every conv-like row is a :class:`dsc_calc.cost.conv.Conv2d` costed by ``Conv2d.cost``; counting
conventions are those of :mod:`dsc_calc.cost.conv` (batch norm 2·C params; activations, pools and
adds 0 MACs; a linear layer ``in·out`` MACs). The semantics of each layer type are in the README.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from dsc_calc._gc import collector_paused
from dsc_calc.choices import WHAT_IFS
from dsc_calc.cost import ops
from dsc_calc.cost.conv import MAX_DIMENSION, Conv2d, Cost, Padding, Shape
from dsc_calc.errors import DscCalcError
from dsc_calc.network.load import check_int
from dsc_calc.network.redesign import MAX_REDESIGNED_ROWS, redesign
from dsc_calc.network.report import (
    Kind,
    LayerRow,
    NetworkReport,
    conv_kind,
    set_held,
    summarise,
)
from dsc_calc.network.width import make_divisible

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from dsc_calc.network import spec as specs
    from dsc_calc.network.spec import NetworkSpec

#: Refuse a spec that would unroll into more primitive rows than this, before unrolling it. The
#: costliest path at the limit (a what-if redesign of every row beside a roofline, as JSON) stays
#: within 10 s and 1 GB (benchmarks/network_scale.py); a million rows needed 83 s and 9.4 GB.
MAX_ROWS = MAX_REDESIGNED_ROWS
#: The largest batch accepted.
MAX_BATCH = 2**20


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
        elif isinstance(layer, specs.Branches):
            total += sum(count_rows(branch, depth + 1) for branch in layer.branches) + 1
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
    """Lowers a spec into rows, in order: a graph of ops over tensors.

    Each row writes one tensor, whose id is the row's position; ``current`` is the tensor the next
    row reads (``-1``: the network input). Blocks with several paths (residual, branches, squeeze
    and excitation) read a tensor more than once; the rows say which in ``inputs``.
    """

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.rows: list[LayerRow] = []
        self.current = -1
        self.names: dict[str, int] = {}
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
            try:
                conv = Conv2d(cin, cout, kernel, stride, padding, dilation, groups, bias)
            except DscCalcError as error:
                raise error.renamed(_SPEC_KEYS).at(where) from None
            self.convs[key] = conv
        return conv

    def spec_conv(
        self,
        layer: specs.Conv | specs.DwConv | specs.DsConv,
        cin: int,
        cout: int,
        groups: int,
        where: str,
    ) -> Conv2d:
        """The conv of a spec layer that gives its own geometry (k, stride, padding, dilation)."""
        return self.make_conv(
            cin,
            cout,
            _pair(layer.k),
            _pair(layer.stride),
            _padding(layer.padding),
            _pair(layer.dilation),
            groups,
            layer.bias,
            where,
        )

    # Rows ------------------------------------------------------------------------------------

    def conv_row(self, name: str, type_: str, conv: Conv2d, shape: Shape, where: str) -> Shape:
        # Convs are interned in self.convs for the whole walk, so their id is a stable key.
        key = (id(conv), shape.channels, shape.height, shape.width)
        known = self.costs.get(key)
        if known is None:
            try:
                out, cost = ops.run(conv, (shape,), self.batch)
                known = self.costs[key] = (cost, out, conv_kind(conv))
            except DscCalcError as error:
                raise error.renamed(_SPEC_KEYS).at(where) from None
        cost, out, kind = known
        self.emit(name, type_, kind, shape, out, cost, conv, (self.current,))
        return out

    def emit(
        self,
        name: str,
        type_: str,
        kind: Kind,
        shape: Shape,
        out: Shape,
        cost: Cost,
        conv: Conv2d | None,
        inputs: tuple[int, ...],
    ) -> None:
        """Append a row reading the tensors ``inputs``; its output becomes the current tensor.

        Row names are unique: a name met again gets a visible suffix (``stem#2``)."""
        seen = self.names.get(name)
        if seen is None:
            self.names[name] = 1
        else:
            self.names[name] = seen + 1
            name = f"{name}#{seen + 1}"
        index = len(self.rows)
        self.rows.append(LayerRow(name, type_, kind, shape, out, cost, conv, 0, index, inputs))
        self.current = index

    def op_row(
        self,
        name: str,
        type_: str,
        op: ops.Op,
        shapes: tuple[Shape, ...],
        inputs: tuple[int, ...] | None = None,
        *,
        kind: Kind = "other",
    ) -> Shape:
        """A row for an op without a conv of its own: its handler gives the shape and cost.

        ``inputs`` are the tensors of ``shapes`` (default: the current one).
        """
        out, cost = ops.run(op, shapes, self.batch)
        if isinstance(op, ops.Linear):
            kind = "linear"
        self.emit(name, type_, kind, shapes[0], out, cost, None, inputs or (self.current,))
        return out

    def plain_row(self, name: str, type_: str, shape: Shape) -> Shape:
        """An activation row (``type_`` is the function)."""
        return self.op_row(name, type_, _activation(type_), (shape,))

    def batchnorm_row(self, name: str, shape: Shape) -> Shape:
        return self.op_row(name, "batchnorm", _BATCHNORM, (shape,))

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
            if layer.name:  # a name the user gave is kept as written
                name = f"{prefix}{layer.name}"
            else:
                label = _labels().get(type(layer)) or specs.tag_of(layer)
                name = f"{prefix}{label}{counter[0]}"
            handler = _handlers()[type(layer)]
            shape = handler(self, layer, shape, place, name)
        return shape

    def conv(self, layer: specs.Conv, shape: Shape, where: str, name: str) -> Shape:
        conv = self.spec_conv(layer, shape.channels, layer.out, layer.groups, where)
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
        conv = self.spec_conv(layer, shape.channels, out, shape.channels, where)
        return self.after(name, layer, self.conv_row(name, "dwconv", conv, shape, where))

    def pwconv(self, layer: specs.PwConv, shape: Shape, where: str, name: str) -> Shape:
        conv = self.make_conv(
            shape.channels, layer.out, (1, 1), (1, 1), (0, 0), (1, 1), layer.groups, layer.bias,
            where,
        )  # fmt: skip
        return self.after(name, layer, self.conv_row(name, "pwconv", conv, shape, where))

    def dsconv(self, layer: specs.DsConv, shape: Shape, where: str, name: str) -> Shape:
        depthwise = self.spec_conv(layer, shape.channels, shape.channels, shape.channels, where)
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
        kernel = _pair(layer.k if layer.k is not None else 1)
        op = ops.Pool(
            layer.op,
            kernel,
            _pair(layer.stride) if layer.stride is not None else kernel,
            _padding(layer.padding),
            layer.global_,
            layer.ceil_mode,
            None if layer.output_size is None else _pair(layer.output_size),
        )
        try:
            return self.op_row(name, f"{layer.op}pool", op, (shape,))
        except DscCalcError as error:
            raise error.at(where) from None

    def linear(self, layer: specs.Linear, shape: Shape, _where: str, name: str) -> Shape:
        return self.op_row(name, "linear", ops.Linear(layer.out, layer.bias), (shape,))

    def se(self, layer: specs.SqueezeExcite, shape: Shape, where: str, name: str) -> Shape:
        squeeze = layer.squeeze or make_divisible(shape.channels * layer.ratio, 8)
        _check_derived(squeeze, f"{where}.ratio", f"squeeze channels from {shape.channels}")
        return self.squeeze_excite(name, shape, squeeze, layer.act, layer.gate, where)

    def squeeze_excite(
        self, name: str, shape: Shape, squeeze: int, act: str, gate: str, where: str
    ) -> Shape:
        channels = shape.channels
        source = self.current
        pooled = self.op_row(f"{name}.pool", "avgpool", _GLOBAL_AVGPOOL, (shape,))
        reduce = self.make_conv(channels, squeeze, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, where)
        middle = self.conv_row(f"{name}.reduce", "pwconv", reduce, pooled, where)
        self.plain_row(f"{name}.{act}", act, middle)
        expand = self.make_conv(squeeze, channels, (1, 1), (1, 1), (0, 0), (1, 1), 1, True, where)
        weights = self.conv_row(f"{name}.expand", "pwconv", expand, middle, where)
        gates = self.plain_row(f"{name}.{gate}", gate, weights)
        return self.op_row(f"{name}.scale", "scale", _MUL, (shape, gates), (source, self.current))

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
        block_input = self.current
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
            squeeze = make_divisible(hidden // 4, 8)  # torchvision floors first
            self.squeeze_excite(f"{name}.se", current, squeeze, "relu", "hsigmoid", where)
        project = self.make_conv(hidden, layer.out, (1, 1), (1, 1), (0, 0), (1, 1), 1, False, where)
        current = self.conv_row(f"{name}.project", "pwconv", project, current, where)
        self.batchnorm_row(f"{name}.project.bn", current)
        if residual:
            self.op_row(f"{name}.add", "add", _ADD, (current, shape), (self.current, block_input))
        return current

    def residual(self, layer: specs.Residual, shape: Shape, where: str, name: str) -> Shape:
        block_input = self.current
        main = self.walk(layer.layers, shape, f"{where}.layers", f"{name}.", [0])
        main_output = self.current
        self.current = block_input
        other = self.walk(layer.shortcut, shape, f"{where}.shortcut", f"{name}.shortcut.", [0])
        if other != main:
            raise DscCalcError(
                where,
                f"the main branch gives {main} but the shortcut gives {other}; the residual add "
                "needs equal shapes (give the shortcut e.g. a 1x1 conv with the same stride and "
                "output channels)",
            )
        self.op_row(f"{name}.add", "add", _ADD, (main, other), (main_output, self.current))
        return main

    def branches(self, layer: specs.Branches, shape: Shape, where: str, name: str) -> Shape:
        """Each branch reads the block's input (or its chunk of the channels with ``split``);
        their outputs are concatenated or added. An empty branch is the identity."""
        block_input = self.current
        count = len(layer.branches)
        chunks = _split_sizes(layer.split, shape.channels, count, where)
        outputs: list[Shape] = []
        tensors: list[int] = []
        for index, branch in enumerate(layer.branches):
            self.current = block_input
            part = shape if chunks is None else Shape(chunks[index], shape.height, shape.width)
            if branch:
                place = f"{where}.branches[{index}]"
                part = self.walk(branch, part, place, f"{name}.branch{index + 1}.", [0])
            outputs.append(part)
            tensors.append(self.current)
        op: ops.Op = _CONCAT if layer.merge == "concat" else _ADD
        try:
            out, cost = ops.run(op, tuple(outputs), self.batch)
        except DscCalcError as error:
            raise DscCalcError(f"{where}.branches", error.problem) from None
        # A concat reads every branch's output: its input is their sum, the shape it writes.
        read = out if layer.merge == "concat" else outputs[0]
        self.emit(
            f"{name}.{layer.merge}", layer.merge, "other", read, out, cost, None, tuple(tensors)
        )
        return out

    def shuffle(self, layer: specs.Shuffle, shape: Shape, where: str, name: str) -> Shape:
        try:
            return self.op_row(name, "shuffle", ops.Shuffle(layer.groups), (shape,))
        except DscCalcError as error:
            raise error.at(where) from None

    def layernorm(self, _layer: specs.LayerNorm, shape: Shape, _where: str, name: str) -> Shape:
        return self.op_row(name, "layernorm", _LAYERNORM, (shape,))

    def scale(self, _layer: specs.Scale, shape: Shape, _where: str, name: str) -> Shape:
        return self.op_row(name, "layerscale", _LAYERSCALE, (shape,))

    def dropout(self, _layer: specs.Dropout, shape: Shape, _where: str, name: str) -> Shape:
        return self.op_row(name, "dropout", _DROPOUT, (shape,))

    def flatten(self, _layer: specs.Flatten, shape: Shape, _where: str, name: str) -> Shape:
        return self.op_row(name, "flatten", _FLATTEN, (shape,))

    def upsample(self, layer: specs.Upsample, shape: Shape, where: str, name: str) -> Shape:
        op = ops.Upsample(_pair(layer.scale), layer.mode)
        for axis, size, factor in (
            ("height", shape.height, op.scale[0]),
            ("width", shape.width, op.scale[1]),
        ):
            _check_derived(size * factor, f"{where}.scale", f"output {axis} from {size}")
        return self.op_row(name, f"upsample {layer.mode}", op, (shape,))

    def convtranspose(
        self, layer: specs.ConvTranspose, shape: Shape, where: str, name: str
    ) -> Shape:
        try:
            op = ops.ConvTranspose2d(
                shape.channels,
                layer.out,
                _pair(layer.k),
                _pair(layer.stride),
                _pair(layer.padding),
                _pair(layer.output_padding),
                _pair(layer.dilation),
                layer.groups,
                layer.bias,
            )
            for axis, size in (("height", shape.height), ("width", shape.width)):
                grown = (size - 1) * op.stride[0 if axis == "height" else 1] + 1
                _check_derived(grown, f"{where}.stride", f"output {axis} from {size}")
            return self.op_row(name, f"convtranspose {op.describe()}", op, (shape,), kind="conv")
        except DscCalcError as error:
            raise error.renamed(_SPEC_KEYS).at(where) from None


def hold(rows: Sequence[LayerRow], inputs: Mapping[int, int]) -> None:
    """Set each row's ``held_elements`` from the graph: a tensor lives from the row that writes
    it until its last reader, so a block's input lives until its add and every branch's output
    until the concat. A row holds every live tensor but the one it reads (its ``input``).

    ``inputs`` gives the per-sample elements of the network's input tensors (``-1``, ``-2``, ...).
    """
    size = dict(inputs)
    last: dict[int, int] = {}
    for position, row in enumerate(rows):
        size[row.tensor] = row.output.numel
        for tensor in row.inputs:
            last[tensor] = position
    dying: dict[int, list[int]] = {}
    for tensor, position in last.items():
        dying.setdefault(position, []).append(tensor)
    alive = sum(elements for tensor, elements in inputs.items() if tensor in last)
    for position, row in enumerate(rows):
        set_held(row, max(0, alive - row.input.numel))
        for tensor in dying.get(position, ()):
            alive -= size.get(tensor, 0)
        if last.get(row.tensor, position) > position:
            alive += size[row.tensor]


def _check_derived(channels: int, where: str, what: str) -> None:
    """Refuse a channel count derived from a spec key (not written in it) past the limit."""
    if channels > MAX_DIMENSION:
        raise DscCalcError(
            where, f"gives {channels} {what}, over the limit of {MAX_DIMENSION}; use a smaller one"
        )


_BATCHNORM = ops.BatchNorm()
_LAYERNORM = ops.LayerNorm()
_LAYERSCALE = ops.LayerScale()
_DROPOUT = ops.Dropout()
_FLATTEN = ops.Flatten()
_CONCAT = ops.Concat()
_GLOBAL_AVGPOOL = ops.Pool("avg", global_=True)
_ADD = ops.Add()
_MUL = ops.Mul()


@cache
def _activation(function: str) -> ops.Activation:
    """One shared record per activation function (a walk makes ~100k of them)."""
    return ops.Activation(function)


def _split_sizes(
    split: bool | list[int], channels: int, count: int, where: str
) -> list[int] | None:
    """The channels each branch reads: all of them (no split), equal chunks, or the given sizes."""
    if split is False:
        return None
    if split is True:
        if channels % count:
            raise DscCalcError(
                f"{where}.split",
                f"{channels} channels do not split into {count} equal chunks (one a branch); "
                "give the chunk sizes as a list",
            )
        return [channels // count] * count
    if len(split) != count:
        raise DscCalcError(
            f"{where}.split", f"gives {len(split)} chunk sizes for {count} branches; give one each"
        )
    if sum(split) != channels:
        raise DscCalcError(
            f"{where}.split",
            f"the chunk sizes {split} add up to {sum(split)}, not the {channels} input channels",
        )
    return list(split)


#: Conv2d's field names -> the spec keys a user writes.
_SPEC_KEYS = {"kernel": "k", "out_channels": "out", "in_channels": "input channels"}


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
        **dict.fromkeys(specs.ACTIVATION_LAYERS, _Walker.activation),
        specs.Pool: _Walker.pool,
        specs.Linear: _Walker.linear,
        specs.SqueezeExcite: _Walker.se,
        specs.InvertedResidual: _Walker.inverted_residual,
        specs.Residual: _Walker.residual,
        specs.Branches: _Walker.branches,
        specs.Shuffle: _Walker.shuffle,
        specs.LayerNorm: _Walker.layernorm,
        specs.Scale: _Walker.scale,
        specs.Dropout: _Walker.dropout,
        specs.Flatten: _Walker.flatten,
        specs.Upsample: _Walker.upsample,
        specs.ConvTranspose: _Walker.convtranspose,
    }


@cache
def _labels() -> dict[type, str]:
    from dsc_calc.network import spec as specs

    return {specs.InvertedResidual: "block", specs.Residual: "block", specs.Branches: "block"}


def analyse(spec: NetworkSpec, *, batch: int = 1, what_if: str | None = None) -> NetworkReport:
    """Unroll ``spec`` into rows and cost each one; refuse it first if it would unroll too far."""
    check_int(batch, "batch")
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
        hold(walker.rows, {-1: source.numel})
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
