"""The per-op cost handlers: each op's shape and cost from closed forms, one handler per kind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsc_calc.cost import ops
from dsc_calc.cost.conv import Conv2d, Cost, Shape
from dsc_calc.errors import DscCalcError

shapes = st.builds(Shape, st.integers(1, 64), st.integers(1, 32), st.integers(1, 32))


def test_every_op_kind_has_one_handler() -> None:
    """The registry covers exactly the op records the module defines."""
    assert set(ops.HANDLERS) == {
        Conv2d, ops.Linear, ops.BatchNorm, ops.Pool, ops.Activation, ops.Add, ops.Mul
    }  # fmt: skip


@given(source=shapes, out=st.integers(1, 100), bias=st.booleans(), batch=st.integers(1, 4))
def test_linear_counts_in_times_out(source: Shape, out: int, bias: bool, batch: int) -> None:
    """A linear layer on the flattened input: C·H·W·out weights (+ out biases), that many MACs."""
    features = source.channels * source.height * source.width
    shape, cost = ops.run(ops.Linear(out, bias), (source,), batch)
    assert shape == Shape(out, 1, 1)
    assert cost.params == features * out + (out if bias else 0)
    assert cost.macs == batch * features * out
    assert cost.flops == 2 * cost.macs + (batch * out if bias else 0)


@given(source=shapes)
def test_batchnorm_has_two_params_per_channel(source: Shape) -> None:
    """Scale and shift per channel; the running statistics are buffers, not params."""
    assert ops.run(ops.BatchNorm(), (source,)) == (source, Cost(2 * source.channels))


@given(
    source=shapes,
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    op=st.sampled_from(["max", "avg"]),
)
def test_pool_output_matches_counting_the_windows(
    source: Shape, k: int, s: int, p: int, op: str
) -> None:
    """The output size is the number of window starts that fit in the padded input."""
    if 2 * p > k or source.height + 2 * p < k or source.width + 2 * p < k:
        with pytest.raises(DscCalcError):
            ops.run(ops.Pool(op, (k, k), (s, s), (p, p)), (source,))  # type: ignore[arg-type]
        return
    shape, cost = ops.run(ops.Pool(op, (k, k), (s, s), (p, p)), (source,))  # type: ignore[arg-type]
    height = len(range(0, source.height + 2 * p - k + 1, s))
    width = len(range(0, source.width + 2 * p - k + 1, s))
    assert shape == Shape(source.channels, height, width)
    assert cost == Cost()


def test_global_pool_gives_one_pixel_per_channel() -> None:
    """A global pool keeps the channels and pools each to 1×1."""
    assert ops.run(ops.Pool("avg", global_=True), (Shape(7, 9, 5),)) == (Shape(7, 1, 1), Cost())


@given(source=shapes)
def test_weightless_ops_keep_the_shape_and_cost_nothing(source: Shape) -> None:
    """Activations, adds and the SE multiply: same shape out, no params, no MACs."""
    gate = Shape(source.channels, 1, 1)
    assert ops.run(ops.Activation("relu"), (source,)) == (source, Cost())
    assert ops.run(ops.Add(), (source, source)) == (source, Cost())
    assert ops.run(ops.Mul(), (source, gate)) == (source, Cost())


def test_add_of_unequal_shapes_is_refused_naming_both() -> None:
    """An add of 8×4×4 and 8×2×2 names both shapes."""
    with pytest.raises(DscCalcError, match=r"8×4×4 and 8×2×2"):
        ops.run(ops.Add(), (Shape(8, 4, 4), Shape(8, 2, 2)))


def test_conv_handler_is_the_conv_core() -> None:
    """The conv handler's output and cost are Conv2d's own: 3→4, k3 same on 32×32."""
    conv = Conv2d(3, 4, (3, 3), padding="same", bias=True)
    shape, cost = ops.run(conv, (Shape(3, 32, 32),), 2)
    assert shape == Shape(4, 32, 32)
    assert cost == Cost(3 * 4 * 9 + 4, 2 * 4 * 32 * 32 * 27, 2 * (2 * 4 * 32 * 32 * 27) + 2 * 4096)
