"""The optional numba depthwise kernel: equal to the NumPy kernel and to a naive reference, chosen
by ``engine`` and ``dsc-calc bench --engine``, and never imported at CLI start-up."""

from __future__ import annotations

import subprocess
import sys
from math import ceil

import numpy as np
import pytest
from conftest import assert_clean_error, run_cli

from dsc_calc.bench import kernels
from dsc_calc.bench.depthwise import DepthwisePlan
from dsc_calc.bench.kernels import (
    estimate_workspace_bytes,
    plan_conv,
    resolve_engine,
)
from dsc_calc.cost.conv import Conv2d, Shape
from dsc_calc.errors import DscCalcError

pytest.importorskip("numba")

from dsc_calc.bench.numba_kernels import NumbaDepthwisePlan  # after the skip: needs numba

#: A small layer, timed briefly (--min-time); the budget is only a ceiling, left at the default so
#: that a loaded machine, or numba compiling its kernel on the first run, cannot exhaust it.
QUICK = ("--cin", "4", "--cout", "8", "--hw", "10", "--budget", "10", "--min-time", "0.005")


def naive_depthwise(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    padding: tuple[int, int] | str,
) -> np.ndarray:
    """Depthwise conv of NHWC ``x`` by loops in float64, padding derived here from the docs' rules."""
    batch, height, width, channels = x.shape
    sides = []
    for size, k, s, d, axis in zip((height, width), kernel, stride, dilation, (0, 1), strict=True):
        if padding == "same":  # TF-style: output ceil(size / s), extra padding at the end
            total = max((ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
            sides.append((total // 2, total - total // 2))
        else:
            assert isinstance(padding, tuple)
            sides.append((padding[axis], padding[axis]))
    padded = np.pad(x.astype(np.float64), ((0, 0), sides[0], sides[1], (0, 0)))
    out_h = (padded.shape[1] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    out_w = (padded.shape[2] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    out = np.zeros((batch, out_h, out_w, channels))
    for n in range(batch):
        for r in range(out_h):
            for q in range(out_w):
                for c in range(channels):
                    total = 0.0 if bias is None else float(bias[c])
                    for i in range(kernel[0]):
                        for j in range(kernel[1]):
                            pixel = padded[
                                n, r * stride[0] + i * dilation[0], q * stride[1] + j * dilation[1]
                            ]
                            total += pixel[c] * float(weight[c, 0, i, j])
                    out[n, r, q, c] = total
    return out


@pytest.mark.parametrize(
    ("conv", "height", "width"),
    [
        (Conv2d(5, 5, 3, groups=5), 7, 9),
        (Conv2d(5, 5, 3, stride=2, groups=5), 7, 9),
        (Conv2d(5, 5, 3, dilation=2, groups=5, bias=True), 8, 7),
        (Conv2d(5, 5, (3, 2), stride=(2, 1), padding=(1, 2), groups=5), 7, 9),
        (Conv2d(5, 5, 5, stride=2, dilation=2, padding=(2, 1), groups=5, bias=True), 11, 10),
        (Conv2d(5, 5, 3, padding=(0, 0), groups=5), 6, 6),
    ],
    ids=["same", "stride 2", "dilation 2 bias", "explicit pad", "s2 d2 pad", "no pad"],
)
def test_numba_equals_numpy_and_naive(conv: Conv2d, height: int, width: int) -> None:
    """On batch 2 the numba depthwise equals the NumPy einsum one and a float64 loop reference."""
    rng = np.random.default_rng(7)
    batch, channels = 2, conv.in_channels
    x = rng.standard_normal((batch, height, width, channels), np.float32)
    weight = rng.standard_normal((channels, 1, *conv.kernel), np.float32)
    bias = rng.standard_normal(channels, np.float32) if conv.bias else None
    source = Shape(channels, height, width)
    compiled = plan_conv(conv, source, batch, weight, bias, engine="numba")
    einsum = plan_conv(conv, source, batch, weight, bias, engine="numpy")
    assert isinstance(compiled, NumbaDepthwisePlan)
    assert isinstance(einsum, DepthwisePlan)
    ours = compiled(x).copy()
    expected = naive_depthwise(
        x, weight, bias, conv.kernel, conv.stride, conv.dilation, conv.padding
    )
    out = conv.output_shape(source)
    assert ours.shape == expected.shape == (batch, out.height, out.width, channels)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours, einsum(x), rtol=1e-5, atol=1e-5)
    assert compiled(x) is compiled(x)  # the plan's own buffer, reused


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation", "channels"),
    [
        ((3, 3), (1, 1), (1, 1), 32),
        ((3, 3), (2, 1), (1, 2), 17),
        ((4, 4), (1, 2), (2, 1), 40),
        ((5, 5), (1, 1), (1, 1), 33),
        ((5, 3), (2, 2), (2, 1), 1),
        ((1, 1), (1, 1), (1, 1), 7),
    ],
    ids=[
        "3x3",
        "3x3 s2x1 d1x2 odd C",
        "4x4: all taps a pass",
        "5x5: a row a pass",
        "5x3 C1",
        "1x1",
    ],
)
def test_numba_sums_bias_then_taps_in_order_bit_for_bit(
    kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], channels: int
) -> None:
    """The compiled loop rounds exactly as float32 sums of the bias, then each tap in (i, j)
    order, whether it holds each sum in a register for all taps or stores it between kernel rows
    (more than WHOLE_KERNEL_TAPS taps)."""
    from dsc_calc.bench.numba_kernels import depthwise_nhwc

    rng = np.random.default_rng(23)
    batch, out_h, out_w = 2, 5, 6
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    padded = rng.standard_normal(
        (
            batch,
            (out_h - 1) * sh + (kh - 1) * dh + 1,
            (out_w - 1) * sw + (kw - 1) * dw + 1,
            channels,
        ),
        dtype=np.float32,
    )
    taps = rng.standard_normal((kh, kw, channels), dtype=np.float32)
    bias = rng.standard_normal(channels, dtype=np.float32)
    out = np.empty((batch, out_h, out_w, channels), np.float32)
    depthwise_nhwc(padded, taps, bias, out, stride, dilation)
    expected = np.broadcast_to(bias, out.shape).copy()
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (out_h - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (out_w - 1) * sw + 1, sw)
            expected += padded[:, rows, cols] * taps[i, j]  # float32: rounded as the loop rounds
    np.testing.assert_array_equal(out, expected)


def test_numba_workspace_estimate_matches_allocation() -> None:
    """The memory estimate for the numba engine equals what its plan allocates, with and without padding."""
    rng = np.random.default_rng(3)
    source = Shape(16, 20, 24)
    for conv in (Conv2d(16, 16, 5, groups=16), Conv2d(16, 16, 1, padding=(0, 0), groups=16)):
        weight = rng.standard_normal((16, 1, *conv.kernel), np.float32)
        plan = plan_conv(conv, source, 2, weight, engine="numba")
        assert estimate_workspace_bytes(conv, source, 2, "numba") == plan.workspace_bytes


def test_engine_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto means numba when it imports and numpy otherwise; numba without numba is refused."""
    assert resolve_engine("auto") == "numba"
    assert resolve_engine("numpy") == "numpy"
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    assert resolve_engine("auto") == "numpy"
    with pytest.raises(DscCalcError, match="not installed"):
        resolve_engine("numba")
    with pytest.raises(DscCalcError, match="one of auto, numpy, numba"):
        resolve_engine("fortran")


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_cli_reports_the_engine(engine: str) -> None:
    """bench --engine E runs and reports E in settings.engine of the JSON."""
    outcome = run_cli("bench", *QUICK, "--engine", engine, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.json()["settings"]["engine"] == engine


def test_cli_auto_engine_is_numba_in_the_table() -> None:
    """The default engine is numba when installed, and the table's notes say so."""
    outcome = run_cli("bench", *QUICK)
    assert outcome.exit_code == 0, outcome.stderr
    assert "depthwise engine numba" in outcome.stdout


def test_cli_numba_without_numba_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """--engine numba without numba installed is one Error line naming --engine and the extra."""
    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    outcome = run_cli("bench", *QUICK, "--engine", "numba")
    assert_clean_error(outcome, "--engine", "dsc-calc[fast]")


def test_cli_startup_does_not_import_numba() -> None:
    """Loading the CLI and its bench command imports neither numba nor the compiled module."""
    code = (
        "import sys, dsc_calc.cli, dsc_calc.cli.bench; "
        "assert 'numba' not in sys.modules and 'dsc_calc.bench.numba_kernels' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- Ctrl-C while numba compiles -----------------------------------------------------------------


def test_an_interrupt_inside_the_deferred_block_is_raised_when_it_ends() -> None:
    """A SIGINT sent inside ``interrupts_deferred`` raises nothing there (LLVM's ctypes callbacks
    would drop it); it becomes a KeyboardInterrupt when the block ends, and the handler before
    the block is back."""
    import os
    import signal

    from dsc_calc.bench.numba_kernels import interrupts_deferred

    before = signal.getsignal(signal.SIGINT)
    reached: list[str] = []

    def interrupted_twice() -> None:
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            signal.raise_signal(signal.SIGINT)  # a second one is held too, and raised once
            reached.append("the end of the block")

    with pytest.raises(KeyboardInterrupt):
        interrupted_twice()
    assert reached == ["the end of the block"]
    assert signal.getsignal(signal.SIGINT) is before


def test_the_deferred_block_without_an_interrupt_raises_nothing() -> None:
    """No signal, no exception; off the main thread (which signals never reach) it is a no-op."""
    import signal
    import threading

    from dsc_calc.bench.numba_kernels import interrupts_deferred

    before = signal.getsignal(signal.SIGINT)
    with interrupts_deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is before
    seen: list[object] = []

    def off_main() -> None:
        with interrupts_deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=off_main)
    thread.start()
    thread.join()
    assert seen == [before]


def test_only_the_first_call_of_a_loop_defers_interrupts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first call of the loop for a kernel size, stride and dilation (it compiles) runs with
    Ctrl-C held; later calls do not pay for the handler swap."""
    from collections.abc import Iterator
    from contextlib import contextmanager

    from dsc_calc.bench import numba_kernels

    entered: list[str] = []

    @contextmanager
    def recording() -> Iterator[None]:
        entered.append("deferred")
        yield

    monkeypatch.setattr(numba_kernels, "interrupts_deferred", recording)
    # A kernel size, stride and dilation no other test compiles, so its first call is here.
    conv = Conv2d(3, 3, kernel=(2, 3), stride=(1, 2), dilation=(2, 1), padding=1, groups=3)
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((3, 1, 2, 3), np.float32)
    plan = plan_conv(conv, Shape(3, 9, 8), 1, weight, None, engine="numba")
    assert isinstance(plan, NumbaDepthwisePlan)
    x = rng.standard_normal((1, 9, 8, 3), np.float32)
    first = plan(x).copy()
    second = plan(x)
    assert entered == ["deferred"]
    np.testing.assert_array_equal(first, second)
