"""The NumPy conv kernels of ``dsc-calc bench`` against a naive reference, the separable identity
and PyTorch."""

from __future__ import annotations

import time
from typing import get_args

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc.bench import kernels
from dsc_calc.bench.depthwise import DepthwisePlan, Geometry
from dsc_calc.bench.kernels import (
    MIN_CHUNK_PIXELS,
    SMALL_GEMM_MACS,
    PointwisePlan,
    SeparablePlan,
    StandardPlan,
    conv2d_nhwc,
    estimate_workspace_bytes,
    plan_conv,
    to_nchw,
    to_nhwc,
)
from dsc_calc.cost.conv import Conv2d, PaddingMode, Shape
from dsc_calc.errors import DscCalcError


def naive_conv(
    x: np.ndarray, conv: Conv2d, weight: np.ndarray, bias: np.ndarray | None
) -> np.ndarray:
    """The textbook definition, one output value at a time, in float64 and NCHW."""
    batch, channels, height, width = x.shape
    (top, bottom), (left, right) = conv.padding_sides(height, width)
    padded = np.zeros((batch, channels, height + top + bottom, width + left + right))
    padded[:, :, top : top + height, left : left + width] = x
    out = conv.output_shape(Shape(channels, height, width))
    (sh, sw), (dh, dw), (kh, kw) = conv.stride, conv.dilation, conv.kernel
    per_group_in = channels // conv.groups
    per_group_out = conv.out_channels // conv.groups
    result = np.zeros((batch, out.channels, out.height, out.width))
    for n in range(batch):
        for o in range(out.channels):
            first = (o // per_group_out) * per_group_in
            for r in range(out.height):
                for c in range(out.width):
                    total = 0.0
                    for ci in range(per_group_in):
                        for i in range(kh):
                            for j in range(kw):
                                total += (
                                    float(weight[o, ci, i, j])
                                    * padded[n, first + ci, r * sh + i * dh, c * sw + j * dw]
                                )
                    result[n, o, r, c] = total + (float(bias[o]) if bias is not None else 0.0)
    return result


def run(
    conv: Conv2d, batch: int, height: int, width: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Our kernel's NCHW output and the naive reference's, on random inputs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, conv.in_channels, height, width), dtype=np.float32)
    weight = rng.standard_normal(
        (conv.out_channels, conv.in_channels // conv.groups, *conv.kernel), dtype=np.float32
    )
    bias = rng.standard_normal(conv.out_channels, dtype=np.float32) if conv.bias else None
    ours = to_nchw(conv2d_nhwc(to_nhwc(x), conv, weight, bias))
    return ours, naive_conv(x, conv, weight, bias)


CASES = [
    pytest.param(Conv2d(3, 4, 3), 1, 7, 9, id="3x3 same"),
    pytest.param(Conv2d(4, 6, 3, stride=2, groups=2, bias=True), 2, 8, 7, id="s2 g2 bias"),
    pytest.param(Conv2d(3, 5, (3, 5), padding="valid", dilation=(1, 2)), 1, 9, 12, id="valid d"),
    pytest.param(Conv2d(4, 4, 3, padding=(2, 0), dilation=2), 1, 6, 8, id="explicit pad"),
    pytest.param(Conv2d(6, 9, 2, padding=(1, 1), groups=3), 2, 5, 4, id="k2 g3"),
    pytest.param(Conv2d(5, 5, 3, groups=5), 1, 6, 6, id="depthwise"),
    pytest.param(Conv2d(5, 5, 3, stride=2, groups=5, bias=True), 2, 7, 8, id="depthwise s2"),
    pytest.param(Conv2d(6, 6, (3, 5), (2, 1), "valid", (1, 2), 6), 1, 11, 12, id="dw mixed"),
    pytest.param(Conv2d(4, 4, 3, stride=(1, 2), dilation=(2, 1), groups=4), 1, 9, 9, id="dw s1x2"),
    pytest.param(Conv2d(4, 8, 1, padding=(0, 0), bias=True), 3, 5, 5, id="pointwise"),
    pytest.param(Conv2d(4, 8, 1, stride=2, padding=(0, 0)), 1, 5, 6, id="1x1 s2"),
    pytest.param(Conv2d(4, 8, 3, groups=4), 1, 5, 5, id="dw multiplier 2"),
]


@pytest.mark.parametrize(("conv", "batch", "height", "width"), CASES)
def test_kernels_match_naive_reference(conv: Conv2d, batch: int, height: int, width: int) -> None:
    """Every kernel (standard, depthwise, pointwise) equals the textbook loop definition."""
    ours, reference = run(conv, batch, height, width)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


def test_plan_picks_kernel_by_shape() -> None:
    """Depthwise and plain 1x1 convs get their own kernels; everything else im2col + GEMM."""
    source = Shape(8, 6, 6)
    rng = np.random.default_rng(0)

    def plan(conv: Conv2d) -> object:
        shape = (conv.out_channels, conv.in_channels // conv.groups, *conv.kernel)
        return plan_conv(conv, source, 1, rng.standard_normal(shape, dtype=np.float32))

    assert isinstance(plan(Conv2d(8, 8, 3, groups=8)), DepthwisePlan)
    assert isinstance(plan(Conv2d(8, 16, 1, padding=(0, 0))), PointwisePlan)
    assert isinstance(plan(Conv2d(8, 16, 1, padding="same")), PointwisePlan)
    assert isinstance(plan(Conv2d(8, 16, 1, stride=2, padding=(0, 0))), StandardPlan)
    assert isinstance(plan(Conv2d(8, 16, 3, groups=2)), StandardPlan)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    cin_per_group=st.integers(1, 3),
    cout_per_group=st.integers(1, 3),
    groups=st.integers(1, 3),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    bias=st.booleans(),
    batch=st.integers(1, 2),
)
def test_kernels_match_reference_on_random_shapes(
    data: st.DataObject,
    cin_per_group: int,
    cout_per_group: int,
    groups: int,
    kh: int,
    kw: int,
    stride: tuple[int, int],
    dilation: tuple[int, int],
    bias: bool,
    batch: int,
) -> None:
    """On random small shapes, paddings, strides, dilations and groups, kernels equal the reference."""
    padding = data.draw(
        st.one_of(
            st.sampled_from(get_args(PaddingMode)),
            st.tuples(st.integers(0, 2), st.integers(0, 2)),
        )
    )
    height = data.draw(st.integers(dilation[0] * (kh - 1) + 1, 8))
    width = data.draw(st.integers(dilation[1] * (kw - 1) + 1, 8))
    conv = Conv2d(
        cin_per_group * groups,
        cout_per_group * groups,
        (kh, kw),
        stride,
        padding,
        dilation,
        groups,
        bias,
    )
    ours, reference = run(conv, batch, height, width, seed=height * 31 + width)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(
    cin=st.integers(1, 6),
    cout=st.integers(1, 6),
    k=st.integers(1, 4),
    size=st.integers(4, 9),
    stride=st.integers(1, 2),
    seed=st.integers(0, 2**16),
)
def test_separable_equals_standard_with_product_kernel(
    cin: int, cout: int, k: int, size: int, stride: int, seed: int
) -> None:
    """Depthwise then pointwise equals one standard conv with W[o,c,i,j] = Wp[o,c] * Wd[c,i,j]."""
    rng = np.random.default_rng(seed)
    conv = Conv2d(cin, cout, k, stride=stride)
    source = Shape(cin, size, size)
    depthwise_weight = rng.standard_normal((cin, 1, k, k), dtype=np.float32)
    pointwise_weight = rng.standard_normal((cout, cin, 1, 1), dtype=np.float32)
    product = pointwise_weight[:, :, 0, 0, None, None] * depthwise_weight[None, :, 0, :, :]
    x = rng.standard_normal((1, size, size, cin), dtype=np.float32)
    depthwise = plan_conv(conv.depthwise(), source, 1, depthwise_weight)
    middle = conv.depthwise().output_shape(source)
    pointwise = plan_conv(conv.pointwise(), middle, 1, pointwise_weight)
    separable = SeparablePlan(depthwise, pointwise)(x).copy()
    standard = plan_conv(conv, source, 1, product.astype(np.float32))(x)
    np.testing.assert_allclose(separable, standard, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("chunk", [1, 7, 40, 63])
def test_pointwise_in_chunks_equals_the_matrix_product(chunk: int) -> None:
    """Chunked GEMMs cover every pixel once, the last chunk a partial one: the output equals the
    float64 product and bias, whatever the chunk size the plan measured faster."""
    rng = np.random.default_rng(3)
    conv = Conv2d(8, 12, 1, padding=(0, 0), bias=True)
    weight = rng.standard_normal((12, 8, 1, 1), dtype=np.float32)
    bias = rng.standard_normal(12, dtype=np.float32)
    plan = plan_conv(conv, Shape(8, 7, 9), 1, weight, bias)
    assert isinstance(plan, PointwisePlan)
    plan.chunk_pixels = chunk
    x = rng.standard_normal((1, 7, 9, 8), dtype=np.float32)
    expected = x.reshape(63, 8).astype(np.float64) @ weight.reshape(12, 8).T.astype(np.float64)
    np.testing.assert_allclose(plan(x).reshape(63, 12), expected + bias, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("channels", "out_channels", "side", "tried"),
    [
        (32, 64, 112, True),  # 488-pixel chunks of 12544 pixels
        (512, 512, 14, False),  # a chunk would be 3 pixels
        (16, 32, 20, False),  # 400 pixels: fewer than one chunk (1953)
    ],
)
def test_pointwise_tries_chunks_only_where_they_hold_enough_pixels(
    channels: int, out_channels: int, side: int, tried: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are timed only when a chunk of SMALL_GEMM_MACS holds MIN_CHUNK_PIXELS pixels or more
    and there is more than one of them; otherwise the plan is one GEMM without measuring."""
    asked: list[int] = []

    def record(_plan: PointwisePlan, chunk: int) -> int:
        asked.append(chunk)
        return chunk

    monkeypatch.setattr(kernels, "_faster_chunking", record)
    conv = Conv2d(channels, out_channels, 1, padding=(0, 0))
    weight = np.zeros((out_channels, channels, 1, 1), np.float32)
    plan = plan_conv(conv, Shape(channels, side, side), 1, weight)
    assert isinstance(plan, PointwisePlan)
    chunk = SMALL_GEMM_MACS // (channels * out_channels)
    assert asked == ([chunk] if tried else [])
    assert plan.chunk_pixels == (chunk if tried else side * side)
    assert not tried or MIN_CHUNK_PIXELS <= chunk < side * side


class _TimedPlan(PointwisePlan):
    """A pointwise plan whose GEMMs take ``slow`` seconds more when run ``slow_way``: one GEMM
    ("one"), chunks ("chunks") or either ("both"); it records the (rows, chunk) of each call."""

    def __init__(self, slow_way: str | None, slow: float, pixels: int = 1000) -> None:
        conv = Conv2d(4, 4, 1, padding=(0, 0))
        source = Shape(4, 1, pixels)
        g = Geometry.of(conv, source, source, 1)
        super().__init__(g, np.zeros((4, 4, 1, 1), np.float32), None, tune=False)
        self.slow_way, self.slow = slow_way, slow
        self.calls: list[tuple[int, int]] = []

    def gemms(self, flat: np.ndarray, out: np.ndarray, chunk: int) -> None:
        self.calls.append((flat.shape[0], chunk))
        way = "one" if chunk >= flat.shape[0] else "chunks"
        if self.slow_way in (way, "both"):
            time.sleep(self.slow)
        super().gemms(flat, out, chunk)


@pytest.mark.parametrize(("slow_way", "kept"), [("one", 250), ("chunks", 1000), (None, 1000)])
def test_chunking_is_kept_when_measured_faster(slow_way: str | None, kept: int) -> None:
    """The plan keeps whichever way ran faster: chunks when one GEMM was slow, one GEMM when the
    chunks were or when neither was (chunks must gain 10 %); both ways are called alike,
    interleaved, a warm-up first, more than CHUNK_TRIALS times."""
    plan = _TimedPlan(slow_way, 0.001)
    assert kernels._faster_chunking(plan, 250) == kept
    calls = len(plan.calls) // 2
    assert plan.calls == [(1000, 1000), (1000, 250)] * calls
    assert calls > kernels.CHUNK_TRIALS


def test_chunking_is_timed_for_chunk_seconds_at_least(monkeypatch: pytest.MonkeyPatch) -> None:
    """When each call takes long enough, it is the time spent, not the count, that ends the
    timing: both ways run until the faster has spent CHUNK_SECONDS in timed calls."""
    monkeypatch.setattr(kernels, "CHUNK_SECONDS", 0.05)
    plan = _TimedPlan("both", 0.001)
    started = time.perf_counter()
    kernels._faster_chunking(plan, 250)
    took = time.perf_counter() - started
    timed = len(plan.calls) // 2 - 1  # calls of each way after its warm-up
    assert timed > kernels.CHUNK_TRIALS  # more than the count alone asks for (calls under 10 ms)
    assert took >= 2 * 0.05  # each way spent CHUNK_SECONDS in timed calls


def test_chunking_is_timed_on_a_bounded_sample_of_pixels() -> None:
    """However many pixels the layer has, the timing runs on CHUNK_SAMPLE chunks' worth, so the
    time and memory a plan spends choosing stay bounded; the choice covers all the pixels."""
    pixels = 100 * kernels.CHUNK_SAMPLE
    plan = _TimedPlan("one", 0.001, pixels=pixels)
    assert kernels._faster_chunking(plan, 10) == 10
    sample = 10 * kernels.CHUNK_SAMPLE
    assert {rows for rows, _ in plan.calls} == {sample}
    assert {chunk for _, chunk in plan.calls} == {sample, 10}


def test_one_shot_convolution_does_not_tune(monkeypatch: pytest.MonkeyPatch) -> None:
    """conv2d_nhwc makes a plan for one call, so it never spends time choosing how to run it."""

    def refuse(_plan: PointwisePlan, _chunk: int) -> int:
        raise AssertionError("tuned")

    monkeypatch.setattr(kernels, "_faster_chunking", refuse)
    conv = Conv2d(16, 32, 1, padding=(0, 0))
    x = np.ones((1, 48, 48, 16), np.float32)
    out = conv2d_nhwc(x, conv, np.ones((32, 16, 1, 1), np.float32))
    np.testing.assert_array_equal(out, np.full((1, 48, 48, 32), 16.0, np.float32))


def test_plan_reuses_its_output_buffer() -> None:
    """A plan returns its own output buffer, overwritten by the next call (documented)."""
    conv = Conv2d(2, 2, 3, groups=2)
    rng = np.random.default_rng(1)
    plan = plan_conv(conv, Shape(2, 5, 5), 1, rng.standard_normal((2, 1, 3, 3), np.float32))
    first = plan(rng.standard_normal((1, 5, 5, 2), np.float32))
    second = plan(rng.standard_normal((1, 5, 5, 2), np.float32))
    assert first is second


@pytest.mark.parametrize(
    "conv",
    [
        Conv2d(16, 32, 3),
        Conv2d(16, 32, 3, stride=2, groups=4),
        Conv2d(16, 16, 5, groups=16),
        Conv2d(16, 16, 3, stride=2, groups=16),
        Conv2d(16, 16, 3, groups=16, bias=True),
        Conv2d(16, 16, 3, stride=2, groups=16, bias=True),
        Conv2d(16, 32, 1, padding=(0, 0)),
    ],
    ids=["standard", "grouped", "depthwise", "depthwise s2", "dw bias", "dw s2 bias", "pointwise"],
)
def test_workspace_estimate_matches_allocation(conv: Conv2d) -> None:
    """The memory estimate made before allocating equals what the plan then allocates (a
    depthwise conv's bias included: its plan tiles it along an output row)."""
    source = Shape(16, 20, 24)
    rng = np.random.default_rng(2)
    shape = (conv.out_channels, conv.in_channels // conv.groups, *conv.kernel)
    bias = rng.standard_normal(conv.out_channels, np.float32) if conv.bias else None
    plan = plan_conv(conv, source, 2, rng.standard_normal(shape, dtype=np.float32), bias)
    assert estimate_workspace_bytes(conv, source, 2) == plan.workspace_bytes


@pytest.mark.parametrize(
    ("weight_shape", "bias", "fragment"),
    [
        ((4, 2, 3, 3), None, "weight: must have shape (4, 3, 3, 3)"),
        ((4, 3, 3, 3), np.zeros(4, np.float32), "bias: give a bias vector exactly"),
    ],
)
def test_plan_refuses_mismatched_weights(
    weight_shape: tuple[int, ...], bias: np.ndarray | None, fragment: str
) -> None:
    """Weights or a bias that do not fit the layer are refused with the expected shape named."""
    with pytest.raises(DscCalcError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        plan_conv(Conv2d(3, 4, 3), Shape(3, 5, 5), 1, np.zeros(weight_shape, np.float32), bias)


def test_plan_refuses_wrong_input_shape() -> None:
    """Running a plan on an input of another shape is an error naming the expected shape."""
    plan = plan_conv(Conv2d(3, 4, 3), Shape(3, 5, 5), 1, np.zeros((4, 3, 3, 3), np.float32))
    with pytest.raises(DscCalcError, match=r"NHWC shape \(1, 5, 5, 3\)"):
        plan(np.zeros((1, 3, 5, 5), np.float32))


@pytest.mark.torch
@pytest.mark.parametrize(
    "conv",
    [
        Conv2d(8, 12, 3, stride=2, dilation=2, groups=4, bias=True),
        Conv2d(8, 8, 5, stride=(2, 1), groups=8),
        Conv2d(8, 16, 1, padding=(0, 0)),
        Conv2d(8, 16, (3, 1), padding=(1, 0)),
    ],
    ids=["grouped", "depthwise", "pointwise", "3x1"],
)
def test_kernels_match_torch(conv: Conv2d) -> None:
    """Our kernels equal torch.nn.functional.conv2d on the same weights and padded input."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, conv.in_channels, 17, 15), dtype=np.float32)
    weight = rng.standard_normal(
        (conv.out_channels, conv.in_channels // conv.groups, *conv.kernel), dtype=np.float32
    )
    bias = rng.standard_normal(conv.out_channels, dtype=np.float32) if conv.bias else None
    ours = to_nchw(conv2d_nhwc(to_nhwc(x), conv, weight, bias))
    (top, bottom), (left, right) = conv.padding_sides(17, 15)
    padded = torch.nn.functional.pad(torch.from_numpy(x), (left, right, top, bottom))
    expected = torch.nn.functional.conv2d(
        padded,
        torch.from_numpy(weight),
        None if bias is None else torch.from_numpy(bias),
        conv.stride,
        0,
        conv.dilation,
        conv.groups,
    ).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "conv",
    [Conv2d(3, 3, 3, groups=3), Conv2d(3, 3, 3, stride=2, dilation=2, groups=3, bias=True)],
    ids=["stride 1", "stride 2 dilation 2"],
)
def test_depthwise_row_blocks_match_reference(
    conv: Conv2d, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Depthwise outputs are computed in blocks of rows; one-row blocks give the same result."""
    from dsc_calc.bench import depthwise

    monkeypatch.setattr(depthwise, "DEPTHWISE_ROWS_BYTES", 100)
    ours, reference = run(conv, 2, 11, 9)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


def _share_rows(monkeypatch: pytest.MonkeyPatch, threads: int) -> None:
    """Plans made after this cut a depthwise conv into one-row blocks on ``threads > 1`` (one
    block on one thread), every block a share of its own."""
    from dsc_calc.bench import depthwise

    monkeypatch.setattr(depthwise, "DEPTHWISE_ROWS_BYTES", 1 if threads > 1 else 2**21)
    monkeypatch.setattr(depthwise, "DEPTHWISE_THREAD_MACS", 1)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize(
    ("conv", "batch", "height", "width"),
    [
        pytest.param(Conv2d(5, 5, 3, groups=5), 1, 13, 11, id="3x3 odd"),
        pytest.param(Conv2d(4, 4, 3, stride=2, groups=4, bias=True), 2, 9, 10, id="s2 bias b2"),
        pytest.param(Conv2d(6, 6, (3, 5), (2, 1), "valid", (1, 2), 6), 2, 11, 12, id="valid d"),
        pytest.param(Conv2d(3, 3, 5, padding=(1, 3), dilation=(2, 1), groups=3), 1, 7, 6, id="pad"),
    ],
)
def test_threaded_depthwise_matches_reference(
    conv: Conv2d, batch: int, height: int, width: int, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The depthwise row blocks shared between threads give the naive reference's result."""
    _share_rows(monkeypatch, threads)  # one row per block, threads even for tiny convs
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, conv.in_channels, height, width), dtype=np.float32)
    weight = rng.standard_normal((conv.out_channels, 1, *conv.kernel), dtype=np.float32)
    bias = rng.standard_normal(conv.out_channels, dtype=np.float32) if conv.bias else None
    plan = plan_conv(
        conv, Shape(conv.in_channels, height, width), batch, weight, bias, threads=threads
    )
    assert isinstance(plan, DepthwisePlan)
    assert plan.threads == threads
    expected = naive_conv(x, conv, weight, bias)
    for _ in range(2):  # the second call reuses the views built by the first
        np.testing.assert_allclose(to_nchw(plan(to_nhwc(x))), expected, rtol=1e-4, atol=1e-4)


DEPTHWISE_GEOMETRIES = [
    pytest.param(Conv2d(4, 4, 3, groups=4, bias=True), 2, 9, 8, id="same 3x3"),
    pytest.param(Conv2d(4, 4, 5, dilation=(2, 1), groups=4), 1, 11, 7, id="5x5 dilated"),
    pytest.param(Conv2d(4, 4, 4, groups=4, bias=True), 1, 6, 9, id="even kernel: uneven padding"),
    pytest.param(Conv2d(3, 3, (1, 3), padding=(3, 4), groups=3, bias=True), 2, 5, 4, id="pad only"),
    pytest.param(Conv2d(4, 4, 3, stride=2, groups=4, bias=True), 2, 9, 10, id="stride 2"),
]


@pytest.mark.parametrize(("conv", "batch", "height", "width"), DEPTHWISE_GEOMETRIES)
def test_depthwise_matches_reference_where_taps_read_padding(
    conv: Conv2d, batch: int, height: int, width: int
) -> None:
    """Borders that read partly or only padding (zero, plus the bias) equal the reference."""
    ours, reference = run(conv, batch, height, width, seed=11)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-4)


@settings(max_examples=80, deadline=None)
@given(
    outputs=st.integers(1, 12),
    kernel=st.integers(1, 6),
    dilation=st.integers(1, 3),
    before=st.integers(0, 6),
    after=st.integers(0, 6),
)
def test_depthwise_spans_cover_each_output_once_with_its_in_bounds_taps(
    outputs: int, kernel: int, dilation: int, before: int, after: int
) -> None:
    """The runs of one axis partition its outputs, and each run's taps are exactly those in bounds."""
    from dsc_calc.bench.depthwise import _pairs, _spans

    inputs = outputs + dilation * (kernel - 1) - before - after
    if inputs < 1:
        return
    spans = _spans(outputs, kernel, dilation, before, inputs)
    assert [p for s in spans for p in range(s.start, s.stop)] == list(range(outputs))
    for span in spans:
        for position in range(span.start, span.stop):
            inside = [i for i in range(kernel) if 0 <= position + i * dilation - before < inputs]
            assert list(range(span.first, span.last)) == inside
    stacked = [s for stack in _pairs(spans) for s in stack]
    assert sorted(stacked, key=lambda s: s.start) == spans


def _depthwise_case(
    conv: Conv2d, batch: int, height: int, width: int, *, seed: int
) -> tuple[Shape, np.ndarray, np.ndarray, np.ndarray | None]:
    """A depthwise conv's input shape, NHWC input, weights and bias (None without), from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, height, width, conv.in_channels), dtype=np.float32)
    weight = rng.standard_normal((conv.out_channels, 1, *conv.kernel), dtype=np.float32)
    bias = rng.standard_normal(conv.out_channels, dtype=np.float32) if conv.bias else None
    return Shape(conv.in_channels, height, width), x, weight, bias


@pytest.mark.parametrize(("conv", "batch", "height", "width"), DEPTHWISE_GEOMETRIES)
@pytest.mark.parametrize("threads", [2, 3])
def test_threaded_depthwise_equals_one_thread_bit_for_bit(
    conv: Conv2d,
    batch: int,
    height: int,
    width: int,
    threads: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shared out between threads in one-row blocks, each output is summed as on one thread."""
    source, x, weight, bias = _depthwise_case(conv, batch, height, width, seed=13)
    single = plan_conv(conv, source, batch, weight, bias)(x).copy()
    _share_rows(monkeypatch, threads)
    plan = plan_conv(conv, source, batch, weight, bias, threads=threads)
    assert isinstance(plan, DepthwisePlan)
    assert plan.threads == threads
    np.testing.assert_array_equal(plan(x), single)
    assert estimate_workspace_bytes(conv, source, batch) == plan.workspace_bytes


STRIP_GEOMETRIES = [
    *DEPTHWISE_GEOMETRIES[:4],
    pytest.param(Conv2d(32, 32, 3, groups=32), 1, 20, 18, id="32 channels: border columns"),
    pytest.param(Conv2d(8, 8, (3, 5), dilation=(3, 2), groups=8, bias=True), 2, 13, 12, id="dil"),
]


@pytest.mark.parametrize(("conv", "batch", "height", "width"), STRIP_GEOMETRIES)
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_strips_equal_direct_einsums_bit_for_bit(
    conv: Conv2d,
    batch: int,
    height: int,
    width: int,
    threads: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Narrow regions run from strip copies sum every output exactly as the einsums over the input
    itself do (STRIP_FLOATS = 0 turns the strips off), in row blocks and on threads too."""
    from dsc_calc.bench import depthwise

    source, x, weight, bias = _depthwise_case(conv, batch, height, width, seed=19)
    _share_rows(monkeypatch, threads)
    plan = plan_conv(conv, source, batch, weight, bias, threads=threads)
    assert isinstance(plan, DepthwisePlan)
    assert any(strip is not None for strip in plan.strips)
    assert estimate_workspace_bytes(conv, source, batch) == plan.workspace_bytes
    ours = [plan(x).copy(), plan(x).copy()]  # the second call refills the strips it has
    monkeypatch.setattr(depthwise, "STRIP_FLOATS", 0)
    direct = plan_conv(conv, source, batch, weight, bias, threads=threads)
    assert isinstance(direct, DepthwisePlan)
    assert all(strip is None for strip in direct.strips)
    for result in ours:
        np.testing.assert_array_equal(result, direct(x))


@pytest.mark.parametrize(("conv", "batch", "height", "width"), STRIP_GEOMETRIES)
@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_broadcast_weights_equal_tiled_ones_bit_for_bit(
    conv: Conv2d,
    batch: int,
    height: int,
    width: int,
    threads: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Weights broadcast along each region's row (what BROADCAST_CHANNELS turns on for wide
    layers; 1 turns it on here) give every output the same sum as weights tiled along it, and the
    plan allocates what was estimated for it."""
    from dsc_calc.bench import depthwise

    source, x, weight, bias = _depthwise_case(conv, batch, height, width, seed=23)
    _share_rows(monkeypatch, threads)
    tiled = plan_conv(conv, source, batch, weight, bias, threads=threads)
    monkeypatch.setattr(depthwise, "BROADCAST_CHANNELS", 1)
    broadcast = plan_conv(conv, source, batch, weight, bias, threads=threads)
    assert isinstance(tiled, DepthwisePlan)
    assert isinstance(broadcast, DepthwisePlan)
    if conv.stride == (1, 1):
        assert any(broadcast.broadcast)
        assert not any(tiled.broadcast)
        assert broadcast.workspace_bytes <= tiled.workspace_bytes
    assert estimate_workspace_bytes(conv, source, batch) == broadcast.workspace_bytes
    np.testing.assert_array_equal(broadcast(x), tiled(x))


def test_wide_depthwise_convs_broadcast_their_weights() -> None:
    """From BROADCAST_CHANNELS channels a stride-1 plan broadcasts every region's weights (none is
    a strip that wide) and still equals the textbook definition."""
    from dsc_calc.bench.depthwise import BROADCAST_CHANNELS

    conv = Conv2d(BROADCAST_CHANNELS, BROADCAST_CHANNELS, 5, groups=BROADCAST_CHANNELS)
    source, x, weight, _ = _depthwise_case(conv, 1, 6, 7, seed=29)
    plan = plan_conv(conv, source, 1, weight)
    assert isinstance(plan, DepthwisePlan)
    assert plan.broadcast
    assert all(plan.broadcast)
    reference = naive_conv(to_nchw(x), conv, weight, None)
    np.testing.assert_allclose(to_nchw(plan(x)), reference, rtol=1e-4, atol=1e-4)


def test_depthwise_reads_each_new_or_changed_input() -> None:
    """Views of the input are kept between calls, yet a new array, an array changed in place and a
    non-contiguous view all give their own result."""
    conv = Conv2d(5, 5, 3, groups=5, bias=True)
    rng = np.random.default_rng(17)
    weight = rng.standard_normal((5, 1, 3, 3), dtype=np.float32)
    bias = rng.standard_normal(5, dtype=np.float32)
    plan = plan_conv(conv, Shape(5, 6, 7), 1, weight, bias)

    def expected(x: np.ndarray) -> np.ndarray:
        return to_nhwc(naive_conv(to_nchw(x), conv, weight, bias).astype(np.float32))

    first = rng.standard_normal((1, 6, 7, 5), dtype=np.float32)
    second = rng.standard_normal((1, 6, 7, 5), dtype=np.float32)
    for x in (first, second, first):
        np.testing.assert_allclose(plan(x), expected(x), rtol=1e-4, atol=1e-4)
    first[0, 2, 3] += 10.0
    np.testing.assert_allclose(plan(first), expected(first), rtol=1e-4, atol=1e-4)
    wide = rng.standard_normal((1, 6, 14, 5), dtype=np.float32)[:, :, ::2]
    np.testing.assert_allclose(plan(wide), expected(wide), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_plan_refuses_wrong_input_shape(stride: int) -> None:
    """A depthwise plan run on an input of another shape names the shape it expects."""
    conv = Conv2d(3, 3, 3, stride=stride, groups=3)
    plan = plan_conv(conv, Shape(3, 5, 5), 1, np.zeros((3, 1, 3, 3), np.float32))
    with pytest.raises(DscCalcError, match=r"NHWC shape \(1, 5, 5, 3\)"):
        plan(np.zeros((1, 3, 5, 5), np.float32))


def test_small_depthwise_convs_stay_on_one_thread() -> None:
    """Threads only take shares of at least DEPTHWISE_THREAD_MACS multiply-adds."""
    from dsc_calc.bench.depthwise import DEPTHWISE_THREAD_MACS

    def threads_used(size: int) -> int:
        conv = Conv2d(16, 16, 3, groups=16)
        weight = np.zeros((16, 1, 3, 3), np.float32)
        plan = plan_conv(conv, Shape(16, size, size), 1, weight, threads=4)
        assert isinstance(plan, DepthwisePlan)
        return plan.threads

    assert DEPTHWISE_THREAD_MACS > 16 * 8 * 8 * 9
    assert threads_used(8) == 1
    assert threads_used(160) == 4


def _runs_position_by_position(
    outputs: int, kernel: int, dilation: int, before: int, inputs: int
) -> list[tuple[int, int, int, int]]:
    """The reference: each output position's in-bounds taps, equal neighbours merged."""
    runs: list[tuple[int, int, int, int]] = []
    for position in range(outputs):
        taps = [i for i in range(kernel) if 0 <= position + i * dilation - before < inputs]
        first, last = (taps[0], taps[-1] + 1) if taps else (0, 0)
        if runs and runs[-1][2:] == (first, last):
            runs[-1] = (runs[-1][0], position + 1, first, last)
        else:
            runs.append((position, position + 1, first, last))
    return runs


@given(
    kernel=st.integers(1, 9),
    dilation=st.integers(1, 4),
    before=st.integers(0, 12),
    after=st.integers(0, 12),
    inputs=st.integers(1, 40),
)
def test_tap_runs_match_a_position_by_position_count(
    kernel: int, dilation: int, before: int, after: int, inputs: int
) -> None:
    """The runs of a stride-1 axis (found from the points where a tap enters or leaves the
    input) are those a walk over every output position finds."""
    from dsc_calc.bench.depthwise import _spans

    outputs = inputs + before + after - dilation * (kernel - 1)
    if outputs < 1:
        return
    found = [
        (s.start, s.stop, s.first, s.last)
        for s in _spans(outputs, kernel, dilation, before, inputs)
    ]
    assert found == _runs_position_by_position(outputs, kernel, dilation, before, inputs)


def test_tap_runs_of_a_huge_axis_are_few() -> None:
    """A million outputs of a 3-tap axis padded by 1: three runs, found without a walk."""
    from dsc_calc.bench.depthwise import _spans

    spans = _spans(1_000_000, 3, 1, 1, 1_000_000)
    assert [(s.start, s.stop, s.first, s.last) for s in spans] == [
        (0, 1, 1, 3),
        (1, 999_999, 0, 3),
        (999_999, 1_000_000, 0, 2),
    ]
