"""The memory-traffic model: ShuffleNetV2's closed forms, dtype scaling, the roofline arithmetic,
and a network's weight memory, peak activation memory, traffic and latency."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc.cost.conv import Conv2d, Cost, Shape
from dsc_calc.errors import DscCalcError
from dsc_calc.memory.network import design_ratios, network_memory
from dsc_calc.memory.traffic import (
    DTYPE_BYTES,
    MachineProfile,
    Roofline,
    Traffic,
    chain_memory,
    chain_roofline,
    conv_traffic,
    dtype_bytes,
    kernel_memory,
    shufflenet_mac,
    shufflenet_mac_bound,
)

SIZES = st.integers(1, 512)
CHANNELS = st.integers(1, 4096)


@settings(max_examples=200, deadline=None)
@given(h=SIZES, w=SIZES, c1=CHANNELS, c2=CHANNELS)
def test_shufflenet_1x1_mac_is_conv_traffic_in_elements(h: int, w: int, c1: int, c2: int) -> None:
    """A bias-free 1x1 conv moves h*w*(c1 + c2) + c1*c2 elements, the paper's MAC."""
    conv = Conv2d(c1, c2, kernel=(1, 1), padding=(0, 0))
    expected = h * w * c1 + h * w * c2 + c1 * c2  # input read, output written, weights read
    assert shufflenet_mac(h, w, c1, c2) == expected
    assert conv_traffic(conv, Shape(c1, h, w), dtype="int8").access_cost == expected
    assert conv_traffic(conv, Shape(c1, h, w), dtype="fp32").access_cost == 4 * expected


@settings(max_examples=200, deadline=None)
@given(h=SIZES, w=SIZES, c1=CHANNELS, c2=CHANNELS)
def test_shufflenet_bound_holds_and_is_tight_only_at_equal_channels(
    h: int, w: int, c1: int, c2: int
) -> None:
    """MAC >= 2*sqrt(h*w*B) + B/(h*w) with B = h*w*c1*c2, with equality exactly when c1 == c2."""
    hw = h * w
    flops = hw * c1 * c2  # B, the 1x1 conv's FLOPs in the paper's sense
    mac = shufflenet_mac(h, w, c1, c2)
    # exact, in integers: B/(hw) = c1*c2 and (MAC - c1*c2)^2 >= 4*hw*B  <=>  (c1 - c2)^2 >= 0
    assert flops % hw == 0
    slack = (mac - flops // hw) ** 2 - 4 * hw * flops
    assert slack == hw * hw * (c1 - c2) ** 2
    assert (slack == 0) == (c1 == c2)
    # the float bound, checked against the paper's own form, with a relative tolerance
    bound = shufflenet_mac_bound(h, w, c1, c2)
    paper = 2 * math.sqrt(hw * flops) + flops / hw
    assert bound == pytest.approx(paper, rel=1e-12)
    assert mac >= bound * (1 - 1e-12)
    if c1 == c2:
        assert bound == pytest.approx(mac, rel=1e-12)


@given(h=SIZES, w=SIZES, c=CHANNELS)
@settings(max_examples=50, deadline=None)
def test_shufflenet_equal_channels_are_the_minimum_for_fixed_flops(h: int, w: int, c: int) -> None:
    """For a fixed B, moving channels from one side to the other (c/2 -> 2c) never lowers MAC."""
    if c % 2:
        c *= 2
    assert shufflenet_mac(h, w, c, c) <= shufflenet_mac(h, w, c // 2, 2 * c)


def test_shufflenet_closed_forms_refuse_bad_sizes() -> None:
    """A zero channel count is refused, naming the argument."""
    with pytest.raises(DscCalcError, match="c2"):
        shufflenet_mac(4, 4, 8, 0)
    with pytest.raises(DscCalcError, match="height"):
        shufflenet_mac_bound(0, 4, 8, 8)


CONVS = st.builds(
    lambda cin_g, cout_g, groups, k, s, bias: Conv2d(
        cin_g * groups, cout_g * groups, kernel=k, stride=s, groups=groups, bias=bias
    ),
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(1, 4),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
    st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(conv=CONVS, h=st.integers(5, 40), w=st.integers(5, 40), batch=st.integers(1, 4))
def test_general_conv_traffic_closed_form(conv: Conv2d, h: int, w: int, batch: int) -> None:
    """A k x k grouped conv moves Cout*(Cin/g)*kh*kw (+Cout bias) + batch*(Cin*H*W + Cout*Ho*Wo)."""
    source = Shape(conv.in_channels, h, w)
    kh, kw = conv.kernel
    sh, sw = conv.stride
    ho, wo = -(-h // sh), -(-w // sw)  # "same" padding
    weights = conv.out_channels * (conv.in_channels // conv.groups) * kh * kw
    weights += conv.out_channels if conv.bias else 0
    traffic = conv_traffic(conv, source, batch=batch, dtype="int8")
    assert traffic == Traffic(
        weights, batch * conv.in_channels * h * w, batch * conv.out_channels * ho * wo
    )


@settings(max_examples=100, deadline=None)
@given(conv=CONVS, h=st.integers(5, 30), batch=st.integers(1, 3))
def test_dtype_scaling(conv: Conv2d, h: int, batch: int) -> None:
    """fp16 and bf16 move exactly half the bytes of fp32 and int8 a quarter, part by part."""
    source = Shape(conv.in_channels, h, h)
    fp32 = conv_traffic(conv, source, batch=batch, dtype="fp32")
    for dtype, divisor in (("fp16", 2), ("bf16", 2), ("int8", 4)):
        low = conv_traffic(conv, source, batch=batch, dtype=dtype)
        assert low.weights_bytes * divisor == fp32.weights_bytes
        assert low.input_bytes * divisor == fp32.input_bytes
        assert low.output_bytes * divisor == fp32.output_bytes
        assert low.access_cost * divisor == fp32.access_cost


def test_unknown_dtype_lists_the_known_ones() -> None:
    """An unknown data type is refused with the list of known ones."""
    assert DTYPE_BYTES == {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
    with pytest.raises(DscCalcError, match="fp32, fp16, bf16, int8"):
        dtype_bytes("fp64")


MACHINE = MachineProfile("test", peak_gflops=100.0, bandwidth_gbs=25.0)


def test_roofline_at_above_and_below_the_ridge() -> None:
    """At the ridge (peak/bandwidth = 4 FLOP/B) both limits agree; above it compute bounds, below memory."""
    assert MACHINE.ridge_intensity == 4.0
    # 4e9 FLOPs on 1e9 bytes: 0.04 s of compute and 0.04 s of memory traffic
    assert MACHINE.predict(4 * 10**9, 10**9) == (0.04, "compute")
    seconds, bound = MACHINE.predict(8 * 10**9, 10**9)
    assert seconds == pytest.approx(0.08)
    assert bound == "compute"
    seconds, bound = MACHINE.predict(2 * 10**9, 10**9)
    assert seconds == pytest.approx(0.04)
    assert bound == "memory"


@settings(max_examples=100, deadline=None)
@given(flops=st.integers(0, 10**13), traffic=st.integers(0, 10**12))
def test_roofline_is_the_max_of_the_two_times(flops: int, traffic: int) -> None:
    """Predicted time = max(FLOPs / peak, bytes / bandwidth), bound by whichever is larger."""
    seconds, bound = MACHINE.predict(flops, traffic)
    compute, memory = flops / 100e9, traffic / 25e9
    assert seconds == pytest.approx(max(compute, memory))
    assert bound == ("compute" if compute >= memory else "memory")
    kernel = kernel_memory(Traffic(0, traffic, 0), flops, MACHINE)
    assert kernel.roofline == Roofline(seconds, bound)
    assert (kernel.intensity >= MACHINE.ridge_intensity) == (bound == "compute") or traffic == 0


@pytest.mark.parametrize(
    ("peak", "problem"),
    [(0.0, "positive"), (-1.0, "positive"), (math.nan, "positive"), (math.inf, "finite")],
)
def test_machine_profile_refuses_bad_rates(peak: float, problem: str) -> None:
    """A zero, negative, NaN or infinite rate is refused, naming the field."""
    with pytest.raises(DscCalcError, match=f"peak_gflops: .*{problem}"):
        MachineProfile("bad", peak_gflops=peak, bandwidth_gbs=1.0)


def test_chain_adds_traffic_and_times_and_joins_bounds() -> None:
    """Two kernels in a row move both kernels' bytes and take both times; mixed bounds are joined."""
    first = kernel_memory(Traffic(1, 10**9, 10**9), 10**6, MACHINE)  # memory-bound
    second = kernel_memory(Traffic(10**6, 10**6, 10**6), 10**12, MACHINE)  # compute-bound
    pair = chain_memory([first, second])
    assert pair.traffic == Traffic(10**6 + 1, 10**9 + 10**6, 10**9 + 10**6)
    assert pair.flops == 10**12 + 10**6
    assert pair.roofline is not None
    assert pair.roofline.time_s == pytest.approx((2 * 10**9 + 1) / 25e9 + 10**12 / 100e9)
    assert pair.roofline.bound == "memory + compute"
    assert chain_roofline([Roofline(1.0, "memory"), Roofline(2.0, "memory")]) == Roofline(
        3.0, "memory"
    )
    assert chain_roofline([Roofline(1.0, "memory"), None]) is None


@dataclass(frozen=True)
class Row:
    """A network row as the network integration will pass it."""

    name: str
    input: Shape
    output: Shape
    cost: Cost
    held_elements: int = 0


def residual_chain() -> list[Row]:
    """stem conv 3->16 @32, a residual block (two 3x3 convs 16->16 and the add), a linear head."""
    big = Shape(16, 32, 32)
    n = big.numel
    conv = Cost(params=16 * 16 * 9, macs=n * 16 * 9, flops=2 * n * 16 * 9)
    return [
        Row("stem", Shape(3, 32, 32), big, Cost(3 * 16 * 9, n * 3 * 9, 2 * n * 3 * 9)),
        Row("block.conv1", big, big, conv, held_elements=n),
        Row("block.conv2", big, big, conv, held_elements=n),
        Row("block.add", big, big, Cost(0, 0, n), held_elements=n),
        Row("head", Shape(16, 1, 1), Shape(10, 1, 1), Cost(170, 160, 330)),
    ]


@pytest.mark.parametrize(("dtype", "size"), [("fp32", 4), ("fp16", 2), ("int8", 1)])
@pytest.mark.parametrize("batch", [1, 3])
def test_network_weight_peak_and_traffic(dtype: str, size: int, batch: int) -> None:
    """Weights = all params; peak live = input + output + the held residual input; traffic adds up."""
    rows = residual_chain()
    n = 16 * 32 * 32
    report = network_memory(rows, dtype=dtype, batch=batch)
    params = 3 * 16 * 9 + 2 * 16 * 16 * 9 + 170
    assert report.weights_bytes == params * size
    # inside the block three 16x32x32 activations are alive: input, output, and the skip copy
    assert report.peak_activation_bytes == batch * 3 * n * size
    assert report.peak_row == "block.conv1"
    activations = (3 * 1024 + n) + 3 * (n + n) + (16 + 10)
    assert report.traffic == Traffic(params * size, *_split(rows, batch * size))
    assert report.traffic.input_bytes + report.traffic.output_bytes == batch * activations * size
    assert report.flops == sum(row.cost.flops for row in rows)
    assert report.macs == sum(row.cost.macs for row in rows)
    assert report.latency is None


def _split(rows: list[Row], scale: int) -> tuple[int, int]:
    return (
        scale * sum(row.input.numel for row in rows),
        scale * sum(row.output.numel for row in rows),
    )


def test_network_without_residual_peaks_at_the_largest_pair() -> None:
    """Without held activations the peak is the largest input + output of one row."""
    rows = [Row(r.name, r.input, r.output, r.cost) for r in residual_chain()]
    report = network_memory(rows)
    assert report.peak_activation_bytes == 4 * 2 * 16 * 32 * 32


def test_network_latency_is_the_sum_of_row_rooflines() -> None:
    """Predicted latency = the sum of each row's max(FLOPs/peak, bytes/bandwidth)."""
    rows = residual_chain()
    report = network_memory(rows, profile=MACHINE, batch=2)
    expected = 0.0
    memory_time = 0.0
    for row in rows:
        traffic = 4 * (row.cost.params + 2 * (row.input.numel + row.output.numel))
        compute, memory = row.cost.flops / 100e9, traffic / 25e9
        expected += max(compute, memory)
        memory_time += memory if memory > compute else 0.0
    assert report.latency is not None
    assert report.latency.time_s == pytest.approx(expected)
    shares = report.bound_shares()
    assert shares["memory"] == pytest.approx(memory_time / expected)
    assert shares["memory"] + shares["compute"] == pytest.approx(1.0)
    document = report.to_dict()
    assert document["latency"]["time_s"] == pytest.approx(expected)  # type: ignore[index]
    assert len(document["rows"]) == len(rows)  # type: ignore[arg-type]


def test_network_refuses_a_negative_hold() -> None:
    """A negative held_elements is refused, naming the row."""
    rows = [*residual_chain()[:2], Row("bad", Shape(1, 1, 1), Shape(1, 1, 1), Cost(), -1)]
    with pytest.raises(DscCalcError, match=r"rows\[2\]\.held_elements"):
        network_memory(rows)


def test_empty_network_moves_nothing() -> None:
    """No rows: zero weights, zero peak, zero traffic."""
    report = network_memory([], profile=MACHINE)
    assert (report.weights_bytes, report.peak_activation_bytes, report.peak_row) == (0, 0, None)
    assert report.latency == Roofline(0.0, "memory")


def test_design_ratios_put_latency_beside_macs() -> None:
    """Separable/standard ratios of MACs, bytes and latency are the quotients of the two reports."""
    rows = residual_chain()
    standard = network_memory(rows, profile=MACHINE)
    cheaper = [
        Row(
            r.name,
            r.input,
            r.output,
            Cost(r.cost.params, r.cost.macs // 8, r.cost.flops // 8),
            r.held_elements,
        )
        for r in rows
    ]
    separable = network_memory(cheaper, profile=MACHINE)
    ratios = design_ratios(standard, separable)
    assert ratios["macs"] == pytest.approx(
        sum(r.cost.macs // 8 for r in rows) / sum(r.cost.macs for r in rows)
    )
    assert ratios["access_cost"] == 1.0
    assert standard.latency is not None
    assert separable.latency is not None
    assert ratios["time"] == pytest.approx(separable.latency.time_s / standard.latency.time_s)
    time, macs = ratios["time"], ratios["macs"]
    assert time is not None
    assert macs is not None
    assert time > macs  # the memory-bound rows do not get cheaper
    assert design_ratios(network_memory(rows), network_memory(cheaper))["time"] is None
