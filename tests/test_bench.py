"""``dsc-calc bench`` and its timing engine: the JSON contract, the work and byte counts, the
machine profile, and clean refusals. Never asserts on timings."""

from __future__ import annotations

import io
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli

from dsc_calc.bench.run import BenchReport, run_bench
from dsc_calc.bench.settings import BenchSettings
from dsc_calc.bench.timing import Timing
from dsc_calc.cost.conv import Conv2d, Shape
from dsc_calc.output.tables import tables_of

#: A small layer and a tiny budget, so each run takes a fraction of a second.
#: A small layer, timed briefly (--min-time); the budget is only a ceiling, left at the default so
#: that a loaded machine, or numba compiling its kernel on the first run, cannot exhaust it.
QUICK = ("--cin", "4", "--cout", "8", "--hw", "10", "--budget", "10", "--min-time", "0.005")


def quick_json(*extra: str) -> Any:
    """Run the quick bench with ``extra`` options and return its JSON."""
    outcome = run_cli("bench", *QUICK, *extra, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stderr == ""
    return outcome.json()


@pytest.fixture(scope="module")
def machine_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """One quick bench run with --machine and --save-profile, shared by the tests that read it."""
    path = tmp_path_factory.mktemp("profile") / "cpu.json"
    return quick_json("--save-profile", str(path)), path


def test_json_has_the_issue_keys() -> None:
    """JSON has kernels{standard,depthwise,pointwise,separable}{median_s,min_s,gflops,bytes,intensity},
    speedup{measured,theoretical} and machine{...}."""
    data = quick_json("--repeat", "3")
    kernels = data["kernels"]
    assert list(kernels) == ["standard", "depthwise", "pointwise", "separable"]
    for entry in kernels.values():
        for key in ("median_s", "min_s", "gflops", "bytes", "intensity", "spread", "samples"):
            assert key in entry
        assert entry["min_s"] <= entry["median_s"]
        assert entry["samples"] >= 3
        assert entry["roofline"] is None
    assert {"measured", "theoretical", "carried_over"} <= set(data["speedup"])
    machine = data["machine"]
    assert machine["threads"] == 1
    assert machine["blas"]["num_threads"] == 1


def test_work_and_bytes_follow_closed_forms() -> None:
    """MACs, FLOPs and bytes of each kernel equal the closed-form counts for a 3x3 'same' conv."""
    cin, cout, size, k = 4, 8, 10, 3
    data = quick_json()
    kernels = data["kernels"]
    standard, depthwise, pointwise = (kernels[n] for n in ("standard", "depthwise", "pointwise"))
    pixels = size * size
    assert standard["macs"] == pixels * cout * cin * k * k
    assert depthwise["macs"] == pixels * cin * k * k
    assert pointwise["macs"] == pixels * cin * cout
    assert standard["flops"] == 2 * standard["macs"]
    assert standard["bytes"] == 4 * (cout * cin * k * k + cin * pixels + cout * pixels)
    assert depthwise["bytes"] == 4 * (cin * k * k + cin * pixels + cin * pixels)
    assert pointwise["bytes"] == 4 * (cin * cout + cin * pixels + cout * pixels)
    assert kernels["separable"]["bytes"] == depthwise["bytes"] + pointwise["bytes"]
    assert standard["intensity"] == pytest.approx(standard["flops"] / standard["bytes"])
    theoretical = 1 / (Fraction(1, cout) + Fraction(1, k * k))
    assert data["speedup"]["theoretical"] == pytest.approx(float(theoretical))


def test_machine_profile_gives_roofline_per_kernel(
    machine_run: tuple[Any, Path],
) -> None:
    """--machine (implied by --save-profile) gives each kernel max(FLOPs/peak, bytes/bandwidth)."""
    data, _ = machine_run
    profile = data["machine"]["profile"]
    peak, bandwidth = profile["peak_gflops"], profile["bandwidth_gbs"]
    assert peak > 0
    assert bandwidth > 0
    for name in ("standard", "depthwise", "pointwise"):
        entry = data["kernels"][name]
        compute = entry["flops"] / (peak * 1e9)
        memory = entry["bytes"] / (bandwidth * 1e9)
        assert entry["roofline"]["time_s"] == pytest.approx(max(compute, memory))
        assert entry["roofline"]["bound"] == ("compute" if compute >= memory else "memory")
        assert entry["roofline"]["percent_of_bound"] == pytest.approx(
            100 * max(compute, memory) / entry["median_s"]
        )


def test_save_profile_writes_exactly_the_profile_format(
    machine_run: tuple[Any, Path],
) -> None:
    """--save-profile writes {name, peak_gflops, bandwidth_gbs, source, details}, and no temp file."""
    data, path = machine_run
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert list(saved) == ["name", "peak_gflops", "bandwidth_gbs", "source", "details"]
    assert isinstance(saved["name"], str)
    assert isinstance(saved["source"], str)
    assert isinstance(saved["details"], dict)
    assert saved["peak_gflops"] == data["machine"]["profile"]["peak_gflops"]
    assert saved["bandwidth_gbs"] == data["machine"]["profile"]["bandwidth_gbs"]
    assert [p.name for p in path.parent.iterdir()] == ["cpu.json"]


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown"])
def test_other_formats_render_without_noise(fmt: str) -> None:
    """Table, CSV and Markdown render every kernel; stderr stays empty when it is not a terminal."""
    outcome = run_cli("bench", *QUICK, "-f", fmt)
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stderr == ""
    for name in ("standard", "depthwise", "pointwise", "separable"):
        assert name in outcome.stdout
    if fmt == "csv":
        assert outcome.stdout.splitlines()[0].startswith("Kernel,Median,Min,Spread")


def test_layer_options_are_shared_with_layer() -> None:
    """Stride, padding, dilation, groups, bias and batch reach the kernels as in `layer`."""
    args = ("-k", "5x3", "-s", "2", "-p", "valid", "-d", "1x2", "-g", "2", "--bias", "-b", "2")
    data = quick_json(*args)
    layer = run_cli("layer", "--cin", "4", "--cout", "8", "--hw", "10", *args, "--json").json()
    assert data["output"] == layer["output"]
    assert data["config"] == layer["config"]
    assert data["kernels"]["standard"]["flops"] == layer["standard"]["flops"]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--cin", "512", "--cout", "512", "--hw", "2048"), ("--max-memory", "MiB")),
        (("--cin", "4", "--cout", "8", "--hw", "10", "--max-memory", "0"), ("--max-memory",)),
        (("--cin", "4", "--cout", "8", "--hw", "10", "--budget", "0"), ("--budget",)),
        (("--cin", "4", "--cout", "8", "--hw", "10", "--threads", "0"), ("--threads",)),
        (("--cin", "4", "--cout", "8", "--hw", "10", "--repeat", "0"), ("--repeat",)),
        (("--cin", "4", "--cout", "8", "--hw", "10", "--min-time", "99"), ("--min-time",)),
        (("--cin", "4", "--cout", "8"), ("--hw", "missing")),
        (("--cin", "4", "--cout", "6", "--hw", "10", "-g", "4"), ("--groups",)),
        (("--cin", "4", "--cout", "8", "--hw", "2", "-p", "valid"), ("--kernel",)),
        (
            (
                "--cin",
                "256",
                "--cout",
                "256",
                "--hw",
                "128",
                "--budget",
                "1",
                "--max-memory",
                "9000",
            ),
            ("--budget", "GFLOP"),
        ),
    ],
    ids=[
        "memory",
        "max-memory",
        "budget",
        "threads",
        "repeat",
        "min-time",
        "no size",
        "groups",
        "kernel",
        "too slow",
    ],
)
def test_bad_input_is_one_clean_error(args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    """Bad values and runs too big for the memory limit or budget are refused before any work."""
    assert_clean_error(run_cli("bench", *args, "--json"), *fragments)


def test_save_profile_to_a_folder_is_refused(tmp_path: Path) -> None:
    """--save-profile naming a directory fails cleanly, naming the option."""
    outcome = run_cli("bench", *QUICK, "--save-profile", str(tmp_path))
    assert outcome.exit_code != 0
    assert outcome.stdout == ""
    assert "--save-profile" in outcome.stderr


def test_engine_reports_progress_and_keeps_the_seed() -> None:
    """The engine's progress callback goes 0..1 and ends at 1; the seed is reported back."""
    seen: list[float] = []
    report = run_bench(
        Conv2d(2, 4, 3),
        Shape(2, 6, 6),
        settings=BenchSettings(budget=1.0, min_time=0.001, repeat=2, seed=7),
        progress=lambda _text, fraction: seen.append(fraction),
    )
    assert isinstance(report, BenchReport)
    assert seen[-1] == 1.0
    assert all(0.0 <= value <= 1.0 for value in seen)
    document: Any = report.to_dict()
    assert document["settings"]["seed"] == 7
    assert [table.title for table in tables_of(report)][1].startswith("Speedup")


def test_timing_statistics() -> None:
    """Median, minimum and spread (IQR / median) follow their definitions on known samples."""
    timing = Timing((4.0, 1.0, 3.0, 2.0, 5.0))
    assert timing.median == 3.0
    assert timing.minimum == 1.0
    assert timing.spread == pytest.approx((4.5 - 1.5) / 3.0)
    assert Timing((2.0, 4.0)).spread == pytest.approx(2.0 / 3.0)


def test_network_engine_shares_time_and_macs() -> None:
    """Per-layer time shares and MAC shares each sum to 1; MAC shares follow the closed form."""
    from dsc_calc.bench.run import run_network_bench

    layers = [
        ("conv1", Conv2d(3, 8, 3, stride=2), Shape(3, 16, 16)),
        ("dw", Conv2d(8, 8, 3, groups=8), Shape(8, 8, 8)),
        ("pw", Conv2d(8, 16, 1, padding=(0, 0)), Shape(8, 8, 8)),
    ]
    report = run_network_bench(layers, settings=BenchSettings(budget=2.0, min_time=0.002, repeat=2))
    data: Any = report.to_dict()
    rows = data["layers"]
    assert [row["name"] for row in rows] == ["conv1", "dw", "pw"]
    macs = [8 * 8 * 8 * 3 * 9, 8 * 8 * 8 * 9, 8 * 8 * 8 * 16]
    assert [row["macs"] for row in rows] == macs
    assert [row["mac_share"] for row in rows] == pytest.approx([m / sum(macs) for m in macs])
    assert sum(row["time_share"] for row in rows) == pytest.approx(1.0)
    assert data["total"]["macs"] == sum(macs)
    assert tables_of(report)[0].footer is not None


def test_network_engine_refuses_empty_and_oversized_networks() -> None:
    """No conv layers, or more memory than the limit, is refused before any allocation."""
    from dsc_calc.bench.run import run_network_bench
    from dsc_calc.errors import DscCalcError

    with pytest.raises(DscCalcError, match="no conv layers"):
        run_network_bench([])
    big = [("big", Conv2d(256, 256, 3), Shape(256, 512, 512))]
    with pytest.raises(DscCalcError, match="--max-memory"):
        run_network_bench(big, settings=BenchSettings(memory_limit=2**20))


def test_network_mode_times_every_conv_layer() -> None:
    """`bench PRESET` times each conv row of the network; MACs match the network engine's rows."""
    walk = pytest.importorskip("dsc_calc.network.walk")
    load = pytest.importorskip("dsc_calc.network.load")
    rows = [
        row for row in walk.analyse(load.load_network("mobilenet_v1")).rows if row.conv is not None
    ]
    args = ("mobilenet_v1", "--budget", "20", "--min-time", "0", "--repeat", "1", "--json")
    data = run_cli("bench", *args).json()
    assert [layer["name"] for layer in data["layers"]] == [row.name for row in rows]
    assert [layer["macs"] for layer in data["layers"]] == [row.cost.macs for row in rows]
    assert sum(layer["mac_share"] for layer in data["layers"]) == pytest.approx(1.0)
    assert sum(layer["time_share"] for layer in data["layers"]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("mobilenet_v1", "--cin", "3"), ("SPEC|PRESET", "--cin")),
        (("mobilenet_v1", "--machine"), ("--machine",)),
        (("no_such_network",), ("no_such_network",)),
        (("--hw", "8"), ("--cin", "missing")),
    ],
    ids=["layer options", "machine", "unknown", "neither"],
)
def test_network_mode_errors(args: tuple[str, ...], fragments: tuple[str, ...]) -> None:
    """A network with layer options or --machine, an unknown preset, or no input at all: one clean error."""
    pytest.importorskip("dsc_calc.network.walk")
    assert_clean_error(run_cli("bench", *args, "--json"), *fragments)


def test_machine_tables_show_roofline_beside_measured() -> None:
    """With --machine the table output adds the roofline table and the machine profile table."""
    outcome = run_cli("bench", *QUICK, "--machine", "-f", "markdown")
    assert outcome.exit_code == 0, outcome.stderr
    assert "**Roofline: predicted beside measured**" in outcome.stdout
    assert "**Machine roofline:" in outcome.stdout
    assert "| % of bound |" in outcome.stdout


class _Terminal(io.StringIO):
    """A text stream that claims to be a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_stderr_only_for_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The progress bar draws on a terminal stderr, never on stdout, and is off with --quiet."""
    from dsc_calc.cli.bench import _progress

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with _progress(enabled=True) as update:
        assert update is not None
        update("timing", 0.5)
        update("done", 1.0)
    with _progress(enabled=False) as quiet:
        assert quiet is None
    assert capsys.readouterr().out == ""
    assert "done" in terminal.getvalue()


def test_warnings_flag_noise_impossible_speedups_and_roofline_beaters() -> None:
    """Noisy spreads, a speedup above the MAC ratio and a kernel above its roofline get notes."""
    from dsc_calc.bench.notes import figure_warnings
    from dsc_calc.bench.run import KernelResult
    from dsc_calc.cost.conv import compare
    from dsc_calc.memory.traffic import Traffic

    comparison = compare(Conv2d(8, 16, 3), Shape(8, 8, 8))
    traffic = Traffic(1, 1, 1)

    def result(name: str, samples: tuple[float, ...], roof: float | None = None) -> KernelResult:
        roofline = (roof, "memory") if roof is not None else None
        return KernelResult(name, name, 1, 2, traffic, Timing(samples), roofline)

    steady = {
        "standard": result("standard", (1.0, 1.0, 1.0, 1.0)),
        "depthwise": result("depthwise", (0.1, 0.1, 0.1, 0.1)),
        "pointwise": result("pointwise", (0.2, 0.2, 0.2, 0.2)),
        "separable": result("separable", (0.3, 0.3, 0.3, 0.3)),
    }
    assert figure_warnings(steady, comparison) == []
    wild = {
        **steady,
        "standard": result("standard", (1.0, 2.0, 9.0, 9.0)),
        "pointwise": result("pointwise", (0.2, 0.2, 0.2, 0.2), roof=0.5),
    }
    notes = " ".join(figure_warnings(wild, comparison))
    assert "Noisy timings (spread standard" in notes
    assert "--budget" in notes
    assert "taskset" in notes
    from dsc_calc.bench.vs_torch import TorchTiming

    shaky = TorchTiming("2.0", 1, True, {name: Timing((1.0, 1.0, 5.0, 9.0)) for name in steady})
    torch_notes = " ".join(figure_warnings(steady, comparison, 1, shaky))
    assert "PyTorch depthwise" in torch_notes
    assert "the comparison with PyTorch" in torch_notes
    assert "exceeds the MAC ratio" in notes
    assert "pointwise beat the roofline" in notes


def test_descheduled_runs_are_named() -> None:
    """A kernel whose wall time far exceeds its CPU time is named in a note (one thread only)."""
    from dsc_calc.bench.notes import descheduled
    from dsc_calc.bench.run import KernelResult
    from dsc_calc.memory.traffic import Traffic

    waited = KernelResult("standard", "", 1, 2, Traffic(1, 1, 1), Timing((2.0, 2.0), (1.0, 1.0)))
    steady = KernelResult("pointwise", "", 1, 2, Traffic(1, 1, 1), Timing((1.0,), (0.99,)))
    assert descheduled([waited, steady], threads=1) == [
        "Other processes took the CPU: share of the wall time spent computing: standard 50%; "
        "the medians of those kernels are inflated."
    ]
    assert descheduled([waited], threads=2) == []
    assert descheduled([steady], threads=1) == []


def test_saved_profile_loads_with_the_profile_loader(
    machine_run: tuple[Any, Path],
) -> None:
    """The --save-profile file is read back by dsc_calc.memory.profiles into the same machine profile."""
    profiles = pytest.importorskip("dsc_calc.memory.profiles")
    data, path = machine_run
    loaded = profiles.load_profile(str(path))
    assert loaded.peak_gflops == data["machine"]["profile"]["peak_gflops"]
    assert loaded.bandwidth_gbs == data["machine"]["profile"]["bandwidth_gbs"]


@pytest.mark.torch
def test_vs_torch_times_pytorch_beside_ours() -> None:
    """--vs-torch adds PyTorch's four kernels, their ratios and both speedups (JSON and table)."""
    pytest.importorskip("torch")
    data = quick_json("--vs-torch", "--repeat", "3")
    theirs = data["torch"]
    assert list(theirs["kernels"]) == ["standard", "depthwise", "pointwise", "separable"]
    assert theirs["threads"] == 1
    for name, entry in theirs["kernels"].items():
        assert entry["samples"] >= 3
        ours = data["kernels"][name]["median_s"]
        assert entry["ratio"] == pytest.approx(ours / entry["median_s"])
    kernels = theirs["kernels"]
    torch_speedup = kernels["standard"]["median_s"] / kernels["separable"]["median_s"]
    assert theirs["speedup"]["measured"] == pytest.approx(torch_speedup)
    gap = data["speedup"]["measured"] / torch_speedup - 1
    assert theirs["speedup_gap"] == pytest.approx(gap)
    table = run_cli("bench", *QUICK, "--vs-torch", "-q")
    assert table.exit_code == 0, table.stderr
    assert "Beside PyTorch's kernels" in table.stdout
    assert "Separable speedup: dsc-calc" in table.stdout


@pytest.mark.torch
def test_vs_torch_says_which_backend_pytorch_picked_for_each_conv() -> None:
    """Each of PyTorch's three convs carries the backend its dispatcher picked, one of the names
    of torch's own enum in lower case (the pair, two convs, has none), and the table names them."""
    torch = pytest.importorskip("torch")
    names = {name.lower() for name in dir(torch._C._ConvBackend) if not name.startswith("_")}
    data = quick_json("--vs-torch", "--repeat", "3")
    kernels = data["torch"]["kernels"]
    assert kernels["separable"]["backend"] is None
    picked = {name: kernels[name]["backend"] for name in ("standard", "depthwise", "pointwise")}
    assert set(picked.values()) <= names
    table = run_cli("bench", *QUICK, "--vs-torch", "-q")
    assert table.exit_code == 0, table.stderr
    said = " ".join(table.stdout.split())  # notes wrap
    assert "its dispatcher picked standard " in said
    slow = [name for name, path in picked.items() if path != "mkldnn"]
    assert ("PyTorch's dispatcher ran its" in said) == bool(slow)


@pytest.mark.torch
def test_conv_backend_asks_the_dispatcher_at_the_current_thread_count() -> None:
    """conv_backend gives what torch._C._select_conv_backend gives for the same conv, in lower
    case, and None where a torch has no such function or it refuses the arguments."""
    from types import SimpleNamespace

    from dsc_calc.bench.vs_torch import conv_backend

    torch = pytest.importorskip("torch")
    x, weight = torch.zeros(1, 8, 6, 6), torch.zeros(4, 8, 1, 1)
    expected = torch._C._select_conv_backend(
        x, weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1
    )
    assert conv_backend(torch, x, weight, None, (1, 1), (0, 0), (1, 1), 1) == expected.name.lower()
    assert conv_backend(SimpleNamespace(), x, weight, None, (1, 1), (0, 0), (1, 1), 1) is None

    def refuses(*_arguments: object) -> object:
        raise RuntimeError("Given groups=1, weight of size [4, 3, 1, 1] ...")

    refusing = SimpleNamespace(_C=SimpleNamespace(_select_conv_backend=refuses))
    assert conv_backend(refusing, x, weight, None, (1, 1), (0, 0), (1, 1), 1) is None


def test_torch_backend_note_names_the_convs_onednn_did_not_run() -> None:
    """No note when every conv ran on oneDNN, when oneDNN is off, or when the backends are not
    known; otherwise one note naming each other conv and its backend."""
    from dsc_calc.bench.notes import torch_backend_note
    from dsc_calc.bench.vs_torch import TorchTiming

    timings = {name: Timing((1.0,)) for name in ("standard", "depthwise", "pointwise")}
    onednn = {"standard": "mkldnn", "depthwise": "mkldnn", "pointwise": "mkldnn"}
    assert torch_backend_note(TorchTiming("2.13", 1, True, timings, onednn)) == []
    assert torch_backend_note(TorchTiming("2.13", 1, True, timings)) == []
    slow = {**onednn, "pointwise": "slow2d"}
    assert torch_backend_note(TorchTiming("2.13", 1, False, timings, slow)) == []
    (note,) = torch_backend_note(TorchTiming("2.13", 1, True, timings, slow))
    assert note.startswith(
        "On 1 thread(s) PyTorch's dispatcher ran its pointwise conv on slow2d (its own im2col "
        "and BLAS GEMM), not oneDNN"
    )
    other = {**slow, "standard": "overrideable"}
    (note,) = torch_backend_note(TorchTiming("2.13", 2, True, timings, other))
    assert "On 2 thread(s) PyTorch's dispatcher ran its standard conv on overrideable and " in note
    assert "its pointwise conv on slow2d (its own" in note


def test_json_torch_key_is_null_without_vs_torch() -> None:
    """Without --vs-torch the torch key is there and null (an additive key)."""
    assert quick_json()["torch"] is None


def test_vs_torch_without_torch_is_one_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for --vs-torch where torch is not installed is one line saying how to get it."""
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    outcome = run_cli("bench", *QUICK, "--vs-torch")
    assert_clean_error(outcome, "--vs-torch", "pip install torch")


def test_vs_torch_with_a_network_is_refused() -> None:
    """--vs-torch compares one layer; with a network it is one clean error."""
    assert_clean_error(run_cli("bench", "mobilenet_v1", "--vs-torch"), "--vs-torch", "network")


def test_bench_never_imports_torch_without_vs_torch() -> None:
    """torch stays optional and lazy: a plain bench run does not import it."""
    import subprocess

    code = (
        "import sys; from typer.testing import CliRunner; from dsc_calc.cli import app; "
        "r = CliRunner().invoke(app, ['bench', '--cin', '4', '--cout', '8', '--hw', '8', "
        "'--budget', '1', '-q', '--json']); assert r.exit_code == 0, r.output; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.torch
@pytest.mark.parametrize(
    "conv",
    [
        Conv2d(4, 6, 3),
        Conv2d(4, 6, 2),  # "same" with an even kernel: asymmetric padding
        Conv2d(4, 8, 3, stride=2, dilation=2, bias=True),
        Conv2d(6, 6, (3, 5), padding="valid"),
    ],
    ids=["3x3", "even kernel", "s2 d2 bias", "valid 3x5"],
)
def test_torch_side_computes_what_ours_computes(
    conv: Conv2d, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyTorch's four timed kernels give our kernels' outputs: both sides time the same work. So
    do oneDNN's own convs, timed for every conv PyTorch's dispatcher sends elsewhere (here all
    three, as if it had picked slow2d for each), and the pair with oneDNN for both convs."""
    import numpy as np

    from dsc_calc.bench import vs_torch
    from dsc_calc.bench.kernels import SeparablePlan, plan_conv, to_nchw
    from dsc_calc.bench.vs_torch import torch_runs

    torch = pytest.importorskip("torch")
    source = Shape(conv.in_channels, 9, 8)
    rng = np.random.default_rng(4)
    layers = (conv, conv.depthwise(), conv.pointwise())
    drawn = []
    for layer in layers:
        shape = (layer.out_channels, layer.in_channels // layer.groups, *layer.kernel)
        bias = rng.standard_normal(layer.out_channels, np.float32) if layer.bias else None
        drawn.append((rng.standard_normal(shape, np.float32), bias))
    x = rng.standard_normal((2, 9, 8, conv.in_channels), np.float32)
    prepared = torch_runs(torch, layers, source, x, drawn)
    theirs = prepared.runs
    middle = conv.depthwise().output_shape(source)
    standard = plan_conv(conv, source, 2, *drawn[0])
    depthwise = plan_conv(layers[1], source, 2, *drawn[1])
    pointwise = plan_conv(layers[2], middle, 2, *drawn[2])
    ours = {
        "standard": to_nchw(standard(x)),
        "depthwise": to_nchw(depthwise(x)),
        "separable": to_nchw(SeparablePlan(depthwise, pointwise)(x)),
    }
    for name, expected in ours.items():
        got = theirs[name]()
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)
    their_pointwise = theirs["pointwise"]()
    assert isinstance(their_pointwise, torch.Tensor)
    assert tuple(their_pointwise.shape) == (2, conv.out_channels, middle.height, middle.width)
    if not torch.backends.mkldnn.is_available():
        return
    monkeypatch.setattr(vs_torch, "conv_backend", lambda *_arguments: "slow2d")
    elsewhere = torch_runs(torch, layers, source, x, drawn)
    assert elsewhere.backends == dict.fromkeys(("standard", "depthwise", "pointwise"), "slow2d")
    assert list(elsewhere.onednn) == ["standard", "depthwise", "pointwise", "separable"]
    ours["pointwise"] = to_nchw(pointwise(depthwise(x).copy()))
    for name, expected in ours.items():
        got = elsewhere.onednn[name]()
        assert isinstance(got, torch.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.torch
def test_no_onednn_runs_when_every_conv_ran_on_onednn_or_it_disagrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing more is timed when the dispatcher picked oneDNN for every conv, nor when oneDNN's
    own conv gives other results than PyTorch's conv (it would time other work), refuses the
    arguments, or is not there."""
    import numpy as np

    from dsc_calc.bench import vs_torch

    torch = pytest.importorskip("torch")
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch has no oneDNN")
    conv, source = Conv2d(4, 6, 3), Shape(4, 7, 7)
    layers = (conv, conv.depthwise(), conv.pointwise())
    rng = np.random.default_rng(8)
    drawn = [
        (rng.standard_normal((6, 4, 3, 3), np.float32), None),
        (rng.standard_normal((4, 1, 3, 3), np.float32), None),
        (rng.standard_normal((6, 4, 1, 1), np.float32), None),
    ]
    x = rng.standard_normal((1, 7, 7, 4), np.float32)
    monkeypatch.setattr(vs_torch, "conv_backend", lambda *_arguments: "mkldnn")
    assert vs_torch.torch_runs(torch, layers, source, x, drawn).onednn == {}
    monkeypatch.setattr(vs_torch, "conv_backend", lambda *_arguments: "slow2d")
    real = torch.ops.aten.mkldnn_convolution

    class Aten:
        """torch.ops.aten with a mkldnn_convolution that is off by one."""

        @staticmethod
        def mkldnn_convolution(*arguments: object) -> object:
            return real(*arguments) + 1

    monkeypatch.setattr(torch.ops, "aten", Aten)
    assert vs_torch.torch_runs(torch, layers, source, x, drawn).onednn == {}

    class Refusing:
        """torch.ops.aten with a mkldnn_convolution that refuses its arguments."""

        @staticmethod
        def mkldnn_convolution(*_arguments: object) -> object:
            raise RuntimeError("mkldnn_convolution: unsupported")

    monkeypatch.setattr(torch.ops, "aten", Refusing)
    assert vs_torch.torch_runs(torch, layers, source, x, drawn).onednn == {}
    monkeypatch.setattr(torch.ops, "aten", object())  # a torch without the op
    assert vs_torch.torch_runs(torch, layers, source, x, drawn).onednn == {}


def test_run_notes_name_short_kernels_and_what_threads_reach() -> None:
    """Notes for kernels short of --repeat runs, and for what --threads reaches per engine: the
    NumPy depthwise kernel shares its rows only in shares of DEPTHWISE_THREAD_MACS or more."""
    from dsc_calc.bench.depthwise import DEPTHWISE_THREAD_MACS
    from dsc_calc.bench.notes import run_notes

    large = 3 * DEPTHWISE_THREAD_MACS
    assert run_notes([], 5, 1, "numpy", large) == []
    short, numpy_threads = run_notes(["standard"], 5, 2, "numpy", large)
    assert "standard reached 5 runs" in short
    assert "NumPy depthwise kernel (its row blocks are shared out)" in numpy_threads
    (three_of_four,) = run_notes([], 5, 4, "numpy", large)
    assert "depthwise kernel runs on 3 of them" in three_of_four
    (small,) = run_notes([], 5, 2, "numpy", DEPTHWISE_THREAD_MACS - 1)
    assert "depthwise kernel runs on 1 of them" in small
    (numba_threads,) = run_notes([], 5, 2, "numba", large)
    assert "BLAS GEMMs only" in numba_threads


def test_chunked_pointwise_note_names_the_chunks_it_ran() -> None:
    """No note without chunked pointwise plans; one plan's chunk and pixel counts; a count of
    several."""
    from dsc_calc.bench.notes import chunked_pointwise_note

    assert chunked_pointwise_note([]) == []
    (one,) = chunked_pointwise_note([(488, 12544)])
    assert "GEMMs over 488 of its 12544 pixels at a time" in one
    (two,) = chunked_pointwise_note([(488, 12544), (651, 3136)])
    assert "2 pointwise convs ran as GEMMs over chunks" in two


@pytest.mark.parametrize("kept", [True, False])
def test_bench_notes_say_when_the_pointwise_gemm_ran_in_chunks(
    kept: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the pointwise plan kept chunks is measured as it is made, so the single-layer and
    the network reports say so when it did, and say nothing when it did not."""
    from dsc_calc.bench import kernels
    from dsc_calc.bench.run import run_network_bench

    monkeypatch.setattr(
        kernels, "_faster_chunking", lambda plan, chunk: chunk if kept else plan.pixels
    )
    conv, source = Conv2d(16, 32, 3), Shape(16, 48, 48)  # pointwise: 2304 pixels, chunks of 1953
    quick = BenchSettings(budget=2.0, min_time=0.001, repeat=2)
    notes = run_bench(conv, source, settings=quick).notes
    chunked = [note for note in notes if "ran as GEMMs over" in note]
    assert chunked == (
        [
            "On this BLAS the pointwise conv ran as GEMMs over 1953 of its 2304 pixels"
            " at a time: measured faster than one GEMM when the kernel was planned (a small GEMM can"
            " take the BLAS's faster small-matrix path)."
        ]
        if kept
        else []
    )
    network = run_network_bench([("pw", conv.pointwise(), source)], settings=quick)
    assert any("ran as GEMMs over 1953 of its 2304" in note for note in network.notes) == kept


def test_warm_up_stops_at_its_time_limit() -> None:
    """The PyTorch warm-up calls each kernel up to TORCH_WARM_UP_RUNS times, within its seconds."""
    from dsc_calc.bench.vs_torch import TORCH_WARM_UP_RUNS, warm_up

    calls: list[str] = []
    warm_up({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3600.0)
    assert calls.count("a") == calls.count("b") == TORCH_WARM_UP_RUNS
    calls.clear()
    warm_up({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 0.0)
    assert calls == ["a", "b"]


def test_numpy_engine_note_only_when_auto_fell_back_and_a_depthwise_conv_ran() -> None:
    """The note on NumPy's einsum kernel is given when ``auto`` resolved to numpy and a depthwise
    conv was timed; not for an engine asked for by name, numba, or no depthwise conv."""
    from dsc_calc.bench.notes import numpy_engine_note

    (note,) = numpy_engine_note("auto", "numpy", depthwise=True)
    assert "baseline SIMD (128-bit on x86-64)" in note
    assert "pip install 'dsc-calc[fast]'" in note
    assert numpy_engine_note("numpy", "numpy", depthwise=True) == []
    assert numpy_engine_note("auto", "numba", depthwise=True) == []
    assert numpy_engine_note("auto", "numpy", depthwise=False) == []


def test_bench_notes_the_numpy_engine_where_numba_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without numba, `bench` (engine auto) notes what the NumPy depthwise kernel means for its
    figures, and a network bench does so only when a layer ran on that kernel; `--engine numpy`
    (asked for by name) has no such note."""
    from dsc_calc.bench import kernels
    from dsc_calc.bench.run import run_network_bench

    monkeypatch.setattr(kernels, "numba_available", lambda: False)
    hint = "pip install 'dsc-calc[fast]'"
    layer = quick_json()
    assert layer["settings"]["engine"] == "numpy"
    assert any(hint in note for note in layer["notes"])
    assert not any(hint in note for note in quick_json("--engine", "numpy")["notes"])
    settings = BenchSettings(budget=2.0, min_time=0.002, repeat=1)
    plain = [("conv", Conv2d(3, 8, 3), Shape(3, 8, 8))]
    separable = [*plain, ("dw", Conv2d(8, 8, 3, groups=8), Shape(8, 8, 8))]
    assert not any(hint in n for n in run_network_bench(plain, settings=settings).notes)
    assert any(hint in n for n in run_network_bench(separable, settings=settings).notes)


@pytest.mark.torch
@pytest.mark.parametrize("picked", ["slow2d", "mkldnn"])
def test_vs_torch_times_onednn_own_conv_where_pytorch_did_not(
    picked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where PyTorch's dispatcher sends the 1x1 conv elsewhere than oneDNN, `torch.onednn` holds
    oneDNN's own 1x1 conv and the pair with oneDNN for both convs, our ratios to them and that
    pair's speedup (the standard conv, already oneDNN's, from PyTorch's side); the table has a
    row for each and the note gives the speedup. Where every conv ran on oneDNN: null, no rows."""
    torch = pytest.importorskip("torch")
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch has no oneDNN")
    from dsc_calc.bench import vs_torch

    def backend(_torch: object, _value: object, weight: Any, *_rest: object) -> str:
        return picked if tuple(weight.shape[-2:]) == (1, 1) else "mkldnn"

    monkeypatch.setattr(vs_torch, "conv_backend", backend)
    data = quick_json("--vs-torch", "--repeat", "3")
    theirs = data["torch"]
    assert theirs["kernels"]["pointwise"]["backend"] == picked
    table = run_cli("bench", *QUICK, "--vs-torch", "-q")
    assert table.exit_code == 0, table.stderr
    if picked == "mkldnn":
        assert theirs["onednn"] is None
        assert "pointwise, oneDNN" not in table.stdout
        return
    onednn = theirs["onednn"]
    assert list(onednn["kernels"]) == ["pointwise", "separable"]
    for name, entry in onednn["kernels"].items():
        assert entry["samples"] >= 3
        assert entry["ratio"] == pytest.approx(
            data["kernels"][name]["median_s"] / entry["median_s"]
        )
    standard = theirs["kernels"]["standard"]["median_s"]
    speedup = standard / onednn["kernels"]["separable"]["median_s"]
    assert onednn["speedup"] == pytest.approx(speedup)
    assert onednn["speedup_gap"] == pytest.approx(data["speedup"]["measured"] / speedup - 1)
    assert any(f"gives a speedup of {speedup:.2f}" in note for note in data["notes"])
    assert "pointwise, oneDNN" in table.stdout
    assert "separable, oneDNN" in table.stdout


def test_onednn_speedup_takes_onednn_standard_time_where_it_was_timed() -> None:
    """The speedup with oneDNN for every conv: None when oneDNN's own pair was not timed; the
    standard conv's oneDNN time when it was re-timed, PyTorch's otherwise."""
    from dsc_calc.bench.vs_torch import TorchTiming

    kernels = {name: Timing((value,)) for name, value in (("standard", 8.0), ("separable", 2.0))}
    assert TorchTiming("2.13", 1, True, kernels).onednn_speedup is None
    pair = {"separable": Timing((1.0,))}
    assert TorchTiming("2.13", 1, True, kernels, {}, pair).onednn_speedup == 8.0
    both = {**pair, "standard": Timing((4.0,))}
    assert TorchTiming("2.13", 1, True, kernels, {}, both).onednn_speedup == 4.0


def test_vs_torch_budget_counts_pytorch_and_onednn_warm_ups() -> None:
    """With --vs-torch a warm-up is counted three times (ours, PyTorch's, and oneDNN's own at
    most all over again): a layer whose single warm-up fits the budget at the pessimistic rate,
    but not three of them, is refused with --vs-torch only."""
    from dsc_calc.bench.settings import PESSIMISTIC_GFLOPS, check_layer_limits
    from dsc_calc.cost.conv import compare
    from dsc_calc.errors import DscCalcError

    comparison = compare(Conv2d(64, 64, 3), Shape(64, 56, 56))
    flops = comparison.standard.flops + 2 * comparison.separable.flops
    budget = 2 * flops / (PESSIMISTIC_GFLOPS * 1e9)  # room for two warm-ups, not three
    settings = BenchSettings(budget=budget, min_time=0.0)
    check_layer_limits(comparison, settings, 0.0, machine=False, vs_torch=False)
    with pytest.raises(DscCalcError, match="raise --budget"):
        check_layer_limits(comparison, settings, 0.0, machine=False, vs_torch=True)
