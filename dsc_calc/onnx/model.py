"""An ONNX model imported: every node's shapes, params and MACs, and the network report of it.

:func:`import_model` reads the graph (:mod:`dsc_calc.onnx.reader`), walks the nodes in file order
(ONNX requires a topological order), infers each node's output shapes
(:mod:`dsc_calc.onnx.shapes`) and costs it (:mod:`dsc_calc.onnx.costs`). The result is a plain
:class:`ImportedModel`; :func:`network_report` turns it into the
:class:`~dsc_calc.network.report.NetworkReport` of a spec, one row per node.

Params: the elements of the weight initializers (and Constant tensors) a node reads, each
tensor once however many nodes read it, directly or through Identity; integer tensors, scalars
(one element), BatchNormalization's running mean and variance, and the shape-like inputs of
Resize, Upsample, Pad and Clip are left out. So a BatchNormalization counts 2·C (scale, bias),
as a spec's batchnorm does.

Folded batch norm: an eval-mode ``torch.onnx.export`` folds each BatchNormalization into the
conv before it, which then gets a bias. The heuristic: no BatchNormalization node, and at least
one conv with a bias (a network without batch norm but with conv biases, VGG say, also fits: the
note says "if"). The model's params are then C per folded BN
below the framework's count (the BN's 2·C scale and shift became the conv's C bias, where the
framework's conv had no bias).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from dsc_calc.cost.conv import Conv2d, Cost, Shape
from dsc_calc.errors import DscCalcError
from dsc_calc.network.redesign import redesign
from dsc_calc.network.report import LayerRow, NetworkReport, summarise
from dsc_calc.network.walk import MAX_BATCH, hold
from dsc_calc.onnx import costs, shapes
from dsc_calc.onnx.reader import (
    INTEGER_TYPES,
    Graph,
    Initializer,
    Node,
    TensorInfo,
    parse_bytes,
    read_graph,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dsc_calc.onnx.costs import Kind


#: Inputs of these ops that are never weights, whatever their type.
NOT_WEIGHTS: dict[str, frozenset[int]] = {
    "BatchNormalization": frozenset({3, 4}),
    "Resize": frozenset({1, 2, 3}),
    "Upsample": frozenset({1}),
    "Pad": frozenset({1, 2, 3}),
    "Clip": frozenset({1, 2}),
    "Reshape": frozenset({1}),
    "Expand": frozenset({1}),
    "Tile": frozenset({1}),
    "Slice": frozenset({1, 2, 3, 4}),
}

#: Ops whose one-element float inputs are still weights (a conv or batch norm of one channel);
#: elsewhere a one-element tensor is a scalar constant (GELU's 1/√2, HardSigmoid's 3).
WEIGHTED = frozenset(
    {
        "Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization",
        "InstanceNormalization", "GroupNormalization", "PRelu",
    }
)  # fmt: skip

#: The note every imported report carries: the conventions.
CONVENTIONS = (
    "ONNX import: MACs are the multiply-accumulates of Conv, ConvTranspose, Gemm and MatMul "
    "(bias excluded), 0 for every other op; params are the elements of the weight initializers "
    "the nodes read, each once (integer tensors, scalars and BatchNormalization's running "
    "mean/var left out; BN counts 2·C)."
)
FOLDED = (
    "No BatchNormalization node, and {biased} of {convs} convs have a bias: if the model was "
    "trained with batch norm, it was folded into those convs at export (an eval-mode "
    "torch.onnx.export does this), each BN's 2·C scale and shift becoming the conv's C bias, so "
    "params are C per folded BN below the framework's own count."
)


class ImportedNode(msgspec.Struct, frozen=True):
    """One node with its shapes and cost. Shapes are full tensor shapes (batch first); ``None``
    where a shape is unknown (an input left out, or an op not understood)."""

    name: str
    op_type: str
    inputs: tuple[tuple[int, ...] | None, ...]
    outputs: tuple[tuple[int, ...] | None, ...]
    params: int
    macs: int
    flops: int
    conv: Conv2d | None
    geometry: str
    kind: Kind
    type: str
    not_costed: str = ""
    plumbing: bool = False
    #: The names of the tensors the node reads and writes, as in the file.
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "op_type": self.op_type,
            "inputs": [None if s is None else list(s) for s in self.inputs],
            "outputs": [None if s is None else list(s) for s in self.outputs],
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "geometry": self.geometry,
            "kind": self.kind,
            "not_costed": self.not_costed or None,
        }


class ImportedModel(msgspec.Struct, frozen=True):
    """A whole imported model: its inputs, nodes in file order, and what could not be costed."""

    name: str
    source: str
    producer: str
    opset: int
    inputs: tuple[tuple[str, tuple[int, ...]], ...]
    outputs: tuple[tuple[str, tuple[int, ...] | None], ...]
    nodes: tuple[ImportedNode, ...]
    uncosted: dict[str, int]
    bn_folded: bool
    batch: int

    @property
    def params(self) -> int:
        return sum(node.params for node in self.nodes)

    @property
    def macs(self) -> int:
        return sum(node.macs for node in self.nodes)

    def notes(self) -> tuple[str, ...]:
        notes = [CONVENTIONS]
        if self.bn_folded:
            convs = [n for n in self.nodes if n.op_type == "Conv"]
            biased = sum(1 for n in convs if len(n.inputs) > 2 and n.inputs[2] is not None)
            notes.append(FOLDED.format(biased=biased, convs=len(convs)))
        if self.uncosted:
            notes.append("Not costed (MACs unknown, not 0): " + uncosted_text(self.uncosted))
        return tuple(notes)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "producer": self.producer,
            "opset": self.opset,
            "inputs": {name: list(shape) for name, shape in self.inputs},
            "not_costed": dict(self.uncosted),
            "bn_folded": self.bn_folded,
            "conventions": CONVENTIONS,
        }


def uncosted_text(uncosted: Mapping[str, int]) -> str:
    return ", ".join(f"{op} ×{count}" for op, count in uncosted.items())


# --- Input shapes -----------------------------------------------------------------------------


def parse_input_shapes(text: str | None) -> dict[str, tuple[int, ...]] | tuple[int, ...] | None:
    """``1x3x224x224`` (the one input) or ``NAME=1x3x224x224,NAME2=…``."""
    if text is None:
        return None

    def dims(part: str) -> tuple[int, ...]:
        part = part.strip().lower()
        if not all(digits.isdecimal() for digits in part.split("x")):  # 1x3x224x224, no regex
            raise DscCalcError(
                "--input-shape",
                f"{part!r} is not a shape like 1x3x224x224 (or NAME=1x3x224x224,...)",
            )
        values = tuple(int(v) for v in part.split("x"))
        if min(values) < 1 or max(values) > 2**31 - 1:
            raise DscCalcError("--input-shape", f"{part!r} has a dimension out of range")
        return values

    if "=" not in text:
        return dims(text)
    shapes_by_name: dict[str, tuple[int, ...]] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DscCalcError("--input-shape", f"{item!r} is not NAME=1x3x224x224")
        shapes_by_name[name.strip()] = dims(value)
    return shapes_by_name


def _resolve_input(
    info: TensorInfo,
    given: tuple[int, ...] | None,
    batch: int | None,
    where: str,
) -> tuple[int, ...]:
    if given is not None:
        if batch is not None and given and given[0] != batch:
            raise DscCalcError(
                "--batch", f"is {batch} but --input-shape gives {info.name!r} a batch of {given[0]}"
            )
        if info.dims is not None and len(info.dims) != len(given):
            raise DscCalcError(
                "--input-shape",
                f"input {info.name!r} has rank {len(info.dims)} in {where}, "
                f"but {'x'.join(map(str, given))} has rank {len(given)}",
            )
        return given
    if info.dims is None:
        raise DscCalcError(
            where,
            f"input {info.name!r} has no shape in the file; give it with --input-shape",
        )
    result: list[int] = []
    for index, dim in enumerate(info.dims):
        if isinstance(dim, int) and (dim > 0 or (dim == 0 and index > 0)):
            if index == 0 and batch is not None and dim != batch:
                raise DscCalcError(
                    "--batch",
                    f"input {info.name!r} has its batch fixed at {dim} in the model; give "
                    "another with --input-shape",
                )
            result.append(dim)
        elif index == 0:
            result.append(batch if batch is not None else 1)
        else:
            label = repr(dim) if isinstance(dim, str) else "an unknown size"
            raise DscCalcError(
                where,
                f"input {info.name!r} has dimension {index} symbolic ({label}); give its size "
                f"with --input-shape (e.g. {info.name}=1x3x224x224)",
            )
    return tuple(result)


# --- The walk ---------------------------------------------------------------------------------


def import_model(
    source: str | Path | bytes,
    *,
    input_shapes: Mapping[str, tuple[int, ...]] | tuple[int, ...] | None = None,
    batch: int | None = None,
    name: str | None = None,
) -> ImportedModel:
    """Read, infer and cost the ONNX model in ``source`` (a path, or the serialized bytes).

    ``input_shapes``: one shape for a model with one input, or shapes by input name; they replace
    the file's input shapes (fixed dims too: another resolution), rank for rank. Without them a
    symbolic batch (dimension 0) is ``batch`` (default 1), and any other symbolic dimension is an
    error naming the input and the dimension.
    """
    if isinstance(source, bytes):
        where = name or "model"
        graph = parse_bytes(source, where)
    else:
        where = str(source)
        graph = read_graph(source)
    if batch is not None and not 1 <= batch <= MAX_BATCH:
        raise DscCalcError("--batch", f"must be in 1..{MAX_BATCH}, got {batch}")
    for node in graph.nodes:
        if shapes.has_subgraph(node):
            raise DscCalcError(
                where,
                f"node {node.name or node.op_type!r} ({node.op_type}) has a sub-graph; "
                "dsc-calc costs straight-line graphs only (export with fixed control flow, e.g. "
                "torch.onnx.export of a traced model)",
            )
    return _Walk(graph, where, input_shapes, batch).run(name)


class _Walk:
    def __init__(
        self,
        graph: Graph,
        where: str,
        input_shapes: Mapping[str, tuple[int, ...]] | tuple[int, ...] | None,
        batch: int | None,
    ) -> None:
        self.graph = graph
        self.where = where
        self.values: dict[str, shapes.Value | None] = {}
        self.constants: dict[str, Initializer] = dict(graph.initializers)
        self.alias: dict[str, str] = {}
        self.counted: set[str] = set()
        for tensor in graph.initializers.values():
            self.values[tensor.name] = shapes.Value(tensor.dims, tensor.data_type, tensor.values)
        real = [info for info in graph.inputs if info.name not in graph.initializers]
        if not real:
            raise DscCalcError(where, "the graph has no inputs")
        if isinstance(input_shapes, tuple) and len(real) > 1:
            names = ", ".join(info.name for info in real)
            raise DscCalcError(
                "--input-shape",
                f"the model has {len(real)} inputs ({names}); give NAME=shape for each",
            )
        by_name: Mapping[str, tuple[int, ...]] = (
            {real[0].name: input_shapes} if isinstance(input_shapes, tuple) else input_shapes or {}
        )
        unknown = set(by_name) - {info.name for info in real}
        if unknown:
            names = ", ".join(info.name for info in real)
            raise DscCalcError(
                "--input-shape", f"no input named {sorted(unknown)[0]!r}; the inputs: {names}"
            )
        self.inputs: list[tuple[str, tuple[int, ...]]] = []
        for info in real:
            shape = _resolve_input(info, by_name.get(info.name), batch, where)
            self.values[info.name] = shapes.Value(shape, info.elem_type or 1)
            self.inputs.append((info.name, shape))
        self.batch = self.inputs[0][1][0] if self.inputs[0][1] else 1

    def run(self, name: str | None) -> ImportedModel:
        graph = self.graph
        nodes: list[ImportedNode] = []
        uncosted: dict[str, int] = {}
        used_names: set[str] = set()
        opset = graph.opset
        for index, node in enumerate(graph.nodes):
            label = node.name or f"{node.op_type}_{index}"
            if label in used_names:
                label = f"{label}#{index}"
            used_names.add(label)
            named = node if label == node.name else msgspec.structs.replace(node, name=label)
            imported = self.visit(named, opset)
            if imported.not_costed:
                uncosted[imported.not_costed] = uncosted.get(imported.not_costed, 0) + 1
            nodes.append(imported)
        convs = [n for n in nodes if n.op_type == "Conv"]
        bn_folded = not any(n.op_type == "BatchNormalization" for n in nodes) and any(
            len(n.inputs) > 2 and n.inputs[2] is not None for n in convs
        )
        outputs = tuple((info.name, self._shape(info.name)) for info in graph.outputs if info.name)
        return ImportedModel(
            name=name or graph.name or Path(self.where).stem,
            source=self.where,
            producer=graph.producer,
            opset=opset,
            inputs=tuple(self.inputs),
            outputs=outputs,
            nodes=tuple(nodes),
            uncosted=uncosted,
            bn_folded=bn_folded,
            batch=self.batch,
        )

    def _shape(self, name: str) -> tuple[int, ...] | None:
        value = self.values.get(name)
        return None if value is None else value.shape

    def visit(self, node: Node, opset: int) -> ImportedNode:
        domain_ok = node.domain in ("", "ai.onnx")
        ctx = shapes.Context(node, opset)
        inputs = [self.values.get(name) if name else None for name in node.inputs]
        function = shapes.SHAPES.get(node.op_type) if domain_ok else None
        outputs: list[shapes.Value | None]
        cost: costs.NodeCost
        if function is None:
            outputs = [self._from_value_info(name) for name in node.outputs]
            op = node.op_type if domain_ok else f"{node.domain}.{node.op_type}"
            cost = costs.NodeCost(op, not_costed=op)
        else:
            try:
                outputs = function(ctx, inputs)
                cost = costs.node_cost(ctx, inputs, outputs)
            except shapes.Unknown:
                outputs = [self._from_value_info(name) for name in node.outputs]
                cost = costs.NodeCost(node.op_type, not_costed=f"{node.op_type} (shape unknown)")
        for output_name, value in zip(node.outputs, outputs, strict=False):
            if output_name:
                self.values[output_name] = value
        if node.op_type == "Constant" and node.outputs and outputs and outputs[0] is not None:
            value = outputs[0]
            self.constants[node.outputs[0]] = Initializer(
                node.outputs[0], value.dtype, value.shape, value.data
            )
        params = self.params(node)
        # Shape arithmetic and weight aliases: nodes whose outputs are all small known tensors,
        # or that read no activation at all (only constants), get no report row.
        plumbing = (
            bool(outputs) and all(value is not None and value.data is not None for value in outputs)
        ) or all(
            not name or self.alias.get(name, name) in self.constants or name in self.alias
            for name in node.inputs
        )
        return ImportedNode(
            name=node.name,
            op_type=node.op_type,
            inputs=tuple(None if v is None else v.shape for v in inputs),
            outputs=tuple(None if v is None else v.shape for v in outputs),
            params=params,
            macs=cost.macs,
            flops=cost.flops,
            conv=cost.conv,
            geometry=cost.geometry or cost.type,
            kind=cost.kind,
            type=cost.type,
            not_costed=cost.not_costed,
            plumbing=plumbing and params == 0 and not cost.macs and not cost.not_costed,
            reads=node.inputs,
            writes=node.outputs,
        )

    def _from_value_info(self, name: str) -> shapes.Value | None:
        info = self.graph.value_info.get(name) or next(
            (o for o in self.graph.outputs if o.name == name), None
        )
        if info is None or info.dims is None:
            return None
        dims = list(info.dims)
        if dims and not isinstance(dims[0], int):
            dims[0] = self.batch
        if not all(isinstance(d, int) for d in dims):
            return None
        return shapes.Value(tuple(int(d) for d in dims if isinstance(d, int)), info.elem_type)

    def params(self, node: Node) -> int:
        """Elements of the weight tensors ``node`` reads that no earlier node was counted for."""
        if node.op_type == "Identity" and node.inputs and node.outputs:
            source = self.alias.get(node.inputs[0], node.inputs[0])
            if source in self.constants:
                self.alias[node.outputs[0]] = source  # read through, counted by its readers
                return 0
        skip = NOT_WEIGHTS.get(node.op_type, frozenset())
        total = 0
        for index, name in enumerate(node.inputs):
            if not name or index in skip:
                continue
            source = self.alias.get(name, name)
            tensor = self.constants.get(source)
            if (
                tensor is None
                or source in self.counted
                or tensor.data_type in INTEGER_TYPES
                or tensor.numel == 0
                or (tensor.numel == 1 and (not tensor.dims or node.op_type not in WEIGHTED))
            ):
                continue
            self.counted.add(source)
            total += tensor.numel
        return total


# --- The network report -----------------------------------------------------------------------


def as_shape(dims: tuple[int, ...] | None) -> Shape:
    """A full tensor shape as the report's channels × height × width of one sample.

    (N, C, H, W) -> C×H×W; (N, C, L) -> C×1×L; (N, F) -> F×1×1; (N, C, D, H, W) -> C×(D·H)×W.
    Unknown shapes and empty dims show as 1.
    """
    if dims is None or len(dims) < 2:
        return Shape(max(1, math.prod(dims or ())), 1, 1)
    rest = [max(1, d) for d in dims[1:]]
    if len(rest) == 1:
        return Shape(rest[0], 1, 1)
    if len(rest) == 2:
        return Shape(rest[0], 1, rest[1])
    return Shape(rest[0], math.prod(rest[1:-1]), rest[-1])


class ImportedRow(LayerRow, frozen=True):
    """A report row from an ONNX node: a LayerRow that also knows its op type and geometry."""

    op_type: str = ""
    geometry: str = ""

    def to_dict(
        self, total_macs: int, extra: Mapping[str, object] | None = None
    ) -> dict[str, object]:
        return LayerRow.to_dict(
            self, total_macs, {"op_type": self.op_type, "geometry": self.geometry, **(extra or {})}
        )

    def describe(self) -> str:
        return self.geometry or self.type


class ImportedReport(NetworkReport, frozen=True):
    """The network report of an imported model: a spec's report plus the import's notes."""

    model: ImportedModel | None = None
    notes: tuple[str, ...] = ()

    def to_dict(
        self,
        *,
        rows: Sequence[Mapping[str, object]] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        onnx = {"onnx": self.model.to_dict()} if self.model is not None else {}
        return NetworkReport.to_dict(self, rows=rows, extra={**onnx, **(extra or {})})


def network_report(model: ImportedModel, *, what_if: str | None = None) -> ImportedReport:
    """The report of a spec for ``model``: one row per node (shape arithmetic left out)."""
    rows: list[LayerRow] = []
    # The graph of the rows: each row writes the tensor with its position as id; a graph input
    # is -1 (the first), -2, ...; weights and shape arithmetic are no tensors of the graph.
    producer = {name: -1 - index for index, (name, _) in enumerate(model.inputs)}
    for node in model.nodes:
        if node.plumbing or node.op_type == "Constant":
            continue
        reads = tuple(producer[name] for name in node.reads if name in producer)
        for name in node.writes:
            if name:
                producer[name] = len(rows)
        main_input = next((s for s in node.inputs if s is not None), None)
        main_output = next((s for s in node.outputs if s is not None), None)
        type_ = node.type + (" (not costed)" if node.not_costed else "")
        rows.append(
            ImportedRow(
                name=node.name,
                type=type_,
                kind=node.kind,
                input=as_shape(main_input),
                output=as_shape(main_output),
                cost=Cost(node.params, node.macs, node.flops),
                conv=node.conv,
                op_type=node.op_type,
                geometry=node.geometry + (" (not costed)" if node.not_costed else ""),
                tensor=len(rows),
                inputs=reads,
            )
        )
    # Held activations by tensor liveness, as for a spec's rows (per sample, batch first).
    hold(rows, {-1 - index: math.prod(dims[1:]) for index, (_, dims) in enumerate(model.inputs)})
    frozen = tuple(rows)
    totals, by_type = summarise(frozen)
    first_input = _shown_input(model)
    last_output = model.outputs[0][1] if model.outputs else None
    return ImportedReport(
        name=model.name,
        input=first_input,
        output=as_shape(last_output),
        rows=frozen,
        totals=totals,
        by_type=by_type,
        batch=model.batch,
        what_if=redesign(frozen, what_if, model.batch) if what_if is not None else None,
        source=model.source,
        model=model,
        notes=model.notes(),
    )


def _shown_input(model: ImportedModel) -> Shape:
    """The first input as C×H×W; an NHWC input read by a Transpose to NCHW shows as NCHW."""
    name, dims = model.inputs[0]
    for node in model.nodes:
        if node.op_type == "Transpose" and node.inputs and node.inputs[0] == dims:
            shown = node.outputs[0] if node.outputs else None
            if shown is not None and len(dims) == 4 and shown[1] == dims[3]:
                return as_shape(shown)
            break
    del name
    return as_shape(dims)


def from_torch(
    module: object, input_shape: Sequence[int], *, what_if: str | None = None
) -> ImportedReport:
    """The report of a ``torch.nn.Module``: exported to ONNX in memory, then imported.

    Needs torch (``pip install torch``); the export is ``torch.onnx.export(module.eval(),
    torch.randn(*input_shape), buffer, dynamo=False)``, so batch norm is folded into the convs.
    """
    try:
        import io
        import warnings

        import torch
    except ImportError:
        raise DscCalcError(
            "from_torch",
            "needs PyTorch, which is not installed (pip install torch); or export the model "
            "yourself with torch.onnx.export and run dsc-calc network model.onnx",
        ) from None
    if not isinstance(module, torch.nn.Module):
        raise DscCalcError("from_torch", f"expects a torch.nn.Module, got {type(module).__name__}")
    shape = tuple(int(v) for v in input_shape)
    buffer = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(module, (torch.randn(*shape),), buffer, dynamo=False)  # type: ignore[arg-type]
    finally:
        module.train(was_training)
    model = import_model(buffer.getvalue(), name=type(module).__name__)
    return network_report(model, what_if=what_if)


# --- The command line -------------------------------------------------------------------------


def cli_report(
    source: str,
    *,
    input_shape: str | None,
    batch: int,
    what_if: str | None,
    alpha: float | None,
    resolution: int | None,
) -> ImportedReport:
    """What ``dsc-calc network MODEL.onnx`` shows; the op types not costed go to stderr."""
    import sys

    for option, value in (("--alpha", alpha), ("--resolution", resolution)):
        if value is not None:
            raise DscCalcError(
                option,
                "applies to specs and presets, not to an ONNX model (its channels are fixed by "
                "its weights); give another input size with --input-shape",
            )
    model = import_model(
        source,
        input_shapes=parse_input_shapes(input_shape),
        batch=batch if batch != 1 else None,
    )
    if model.uncosted:
        sys.stderr.write(
            f"Not costed (MACs unknown, not 0) in {source}: {uncosted_text(model.uncosted)}\n"
        )
    try:
        return network_report(model, what_if=what_if)
    except DscCalcError as error:
        raise error.renamed({"what_if": "--what-if"}) from None
