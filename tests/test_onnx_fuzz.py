"""Hostile models: structurally valid ONNX files with mutated attributes, dims, op types and
inputs go through the whole import (reader, shapes, costs, report, what-if) and end in a report
or one DscCalcError, never another exception. Skipped without the onnx package (it writes them).
"""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402

from dsc_calc.errors import DscCalcError  # noqa: E402
from dsc_calc.onnx.model import import_model, network_report  # noqa: E402
from dsc_calc.onnx.shapes import SHAPES  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "onnx"
BASES = [
    onnx.load(str(FIXTURES / f"{name}.onnx"), load_external_data=False)
    for name in ("tiny_cnn", "chunk", "nhwc")
]
OPS = sorted(SHAPES)
VALUES = [0, -1, 1, 2, 3, -5, 7, 2**40, -(2**40)]
ATTRIBUTES = ["axis", "group", "strides", "pads", "kernel_shape", "perm", "axes", "split", "to",
              "ceil_mode", "auto_pad", "num_outputs", "keepdims", "blocksize", "dilations"]  # fmt: skip


def mutate(seed: int) -> bytes:  # noqa: PLR0912 - one branch per kind of mutation
    chooser = random.Random(seed)  # noqa: S311 - reproducible mutations, not secrets
    model: Any = copy.deepcopy(chooser.choice(BASES))
    graph = model.graph
    for _ in range(chooser.randint(1, 4)):
        action = chooser.randrange(8)
        node = chooser.choice(graph.node)
        dims = chooser.choice(graph.input).type.tensor_type.shape.dim
        if action == 0:
            for attribute in node.attribute:
                if attribute.ints:
                    attribute.ints[chooser.randrange(len(attribute.ints))] = chooser.choice(VALUES)
                elif attribute.type == onnx.AttributeProto.INT:
                    attribute.i = chooser.choice(VALUES)
        elif action == 1:
            node.op_type = chooser.choice(OPS)
        elif action == 2 and graph.initializer:
            tensor = chooser.choice(graph.initializer)
            if tensor.dims:
                tensor.dims[chooser.randrange(len(tensor.dims))] = chooser.choice([0, 1, 5, 2**40])
        elif action == 3 and dims:
            chooser.choice(dims).dim_value = chooser.choice([0, 1, 2, 3, 17, 2**40])
        elif action == 4 and node.input:
            del node.input[chooser.randrange(len(node.input))]
        elif action == 5:
            value = chooser.choice(
                [
                    chooser.choice(VALUES),
                    [chooser.choice(VALUES)] * chooser.randint(1, 5),
                    "FOO",
                    1.5,
                ]
            )
            node.attribute.append(helper.make_attribute(chooser.choice(ATTRIBUTES), value))
        elif action == 6 and dims:
            if chooser.random() < 0.5:
                del dims[chooser.randrange(len(dims))]
            else:
                dims.add().dim_value = chooser.choice([1, 2, 3])
        elif action == 7:
            if chooser.random() < 0.5:
                node.output.append("extra")
            else:
                node.input.append(chooser.choice([t.name for t in graph.initializer] or ["x"]))
    data: bytes = model.SerializeToString()
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    what_if=st.sampled_from([None, "separable", "standard", "spatial"]),
)
def test_mutated_models_import_or_fail_cleanly(seed: int, what_if: str | None) -> None:
    data = mutate(seed)
    outcome: object
    try:
        outcome = network_report(import_model(data, name="fuzz"), what_if=what_if)
    except DscCalcError as error:
        outcome = error
    assert isinstance(outcome, DscCalcError) or outcome.totals.macs >= 0
