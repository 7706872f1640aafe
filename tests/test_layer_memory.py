"""`dsc-calc layer` with memory traffic and the roofline: JSON keys added (none changed), closed-form
bytes, dtype scaling, predicted speedup, the table switch, and one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_clean_error, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from dsc_calc.cost.conv import Conv2d, Shape, compare
from dsc_calc.memory.layer import layer_memory
from dsc_calc.memory.traffic import MachineProfile

PROFILE_DIR = Path(__file__).parent.parent / "dsc_calc" / "memory" / "profiles"
#: The README's worked example: 64 -> 128 channels, 3x3, 56x56, fp32.
WORKED = ("layer", "--cin", "64", "--cout", "128", "-k", "3", "--hw", "56")


def layer_json(*args: str) -> Any:
    """Run `dsc-calc layer ARGS --json` and return the parsed document."""
    outcome = run_cli(*args, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stderr == ""
    return outcome.json()


def contains(big: Any, small: Any) -> bool:
    """Every key of ``small`` is in ``big`` with an equal value, recursively."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and contains(big[k], v) for k, v in small.items()
        )
    return bool(big == small)


def example(name: str) -> tuple[float, float]:
    """Peak GFLOP/s and bandwidth GB/s of a shipped example, read from its file."""
    document = json.loads((PROFILE_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return document["peak_gflops"], document["bandwidth_gbs"]


def test_json_keeps_every_existing_key_and_value() -> None:
    """The layer JSON with memory is a superset of compare().to_dict(): nothing renamed or changed."""
    doc = layer_json(*WORKED, "--profile", "example-desktop", "--dtype", "fp16")
    assert contains(doc, compare(Conv2d(64, 128, (3, 3)), Shape(64, 56, 56)).to_dict())


def test_memory_keys_are_always_there_and_exact() -> None:
    """Without options the JSON has memory{}, intensity and a null roofline, in fp32, by closed form."""
    doc = layer_json(*WORKED)
    hw = 56 * 56
    expected = {
        "standard": (128 * 64 * 9, 64 * hw, 128 * hw),
        "depthwise": (64 * 9, 64 * hw, 64 * hw),
        "pointwise": (128 * 64, 64 * hw, 128 * hw),
    }
    parts = {
        "standard": doc["standard"],
        "depthwise": doc["separable"]["depthwise"],
        "pointwise": doc["separable"]["pointwise"],
    }
    for name, (weights, inputs, outputs) in expected.items():
        part = parts[name]
        assert part["memory"] == {
            "weights_bytes": 4 * weights,
            "input_bytes": 4 * inputs,
            "output_bytes": 4 * outputs,
            "access_cost": 4 * (weights + inputs + outputs),
        }
        assert all(type(value) is int for value in part["memory"].values())
        assert part["intensity"] == pytest.approx(
            part["flops"] / (4 * (weights + inputs + outputs))
        )
        assert part["roofline"] is None
    # the pair moves both parts' bytes: the 64x56x56 intermediate is written, then read back
    pair = doc["separable"]["memory"]
    assert pair["access_cost"] == 4 * sum(sum(expected[p]) for p in ("depthwise", "pointwise"))
    assert doc["dtype"] == "fp32"
    assert doc["profile"] is None
    assert doc["ratio"]["time"] is None
    assert doc["saving"]["time"] is None
    assert doc["ratio"]["access_cost"] == pytest.approx(
        pair["access_cost"] / doc["standard"]["memory"]["access_cost"]
    )


def test_pointwise_memory_is_the_shufflenet_formula() -> None:
    """The pointwise part moves h*w*(c1 + c2) + c1*c2 elements (int8: one byte each)."""
    doc = layer_json(*WORKED, "--dtype", "int8")
    assert doc["separable"]["pointwise"]["memory"]["access_cost"] == 56 * 56 * (64 + 128) + 64 * 128


@pytest.mark.parametrize(("dtype", "divisor"), [("fp16", 2), ("bf16", 2), ("int8", 4)])
def test_dtype_scales_every_byte_count(dtype: str, divisor: int) -> None:
    """fp16/bf16 halve and int8 quarters every byte count of fp32; FLOPs do not change."""
    wide = layer_json(*WORKED, "--bias", "-s", "2")
    narrow = layer_json(*WORKED, "--bias", "-s", "2", "--dtype", dtype.upper())
    assert narrow["dtype"] == dtype
    for path in (
        ("standard",),
        ("separable",),
        ("separable", "depthwise"),
        ("separable", "pointwise"),
        ("spatial",),
    ):
        a, b = wide, narrow
        for key in path:
            a, b = a[key], b[key]
        assert {k: v // divisor for k, v in a["memory"].items()} == b["memory"]
        assert b["flops"] == a["flops"]
        assert b["intensity"] == pytest.approx(divisor * a["intensity"])


@pytest.mark.parametrize("name", ["example-desktop", "example-laptop", "example-rpi4"])
def test_roofline_times_and_predicted_speedup(name: str) -> None:
    """Each part's time is max(FLOPs/peak, bytes/bandwidth); the pair's is the sum; speedup = ratio."""
    peak, bandwidth = example(name)
    doc = layer_json(*WORKED, "--profile", name)
    times = {}
    for label, part in (
        ("standard", doc["standard"]),
        ("depthwise", doc["separable"]["depthwise"]),
        ("pointwise", doc["separable"]["pointwise"]),
    ):
        compute = part["flops"] / (peak * 1e9)
        memory = part["memory"]["access_cost"] / (bandwidth * 1e9)
        assert part["roofline"]["time_s"] == pytest.approx(max(compute, memory))
        assert part["roofline"]["bound"] == ("compute" if compute >= memory else "memory")
        times[label] = max(compute, memory)
    pair = times["depthwise"] + times["pointwise"]
    assert doc["separable"]["roofline"]["time_s"] == pytest.approx(pair)
    assert doc["saving"]["time"] == pytest.approx(times["standard"] / pair)
    assert doc["ratio"]["time"] == pytest.approx(pair / times["standard"])
    assert doc["profile"]["peak_gflops"] == peak
    assert doc["profile"]["ridge_intensity"] == pytest.approx(peak / bandwidth)
    assert doc["profile"]["name"].startswith("example")


def test_worked_example_depthwise_is_memory_bound_and_the_speedup_lags_the_macs() -> None:
    """On the desktop example the depthwise conv is memory-bound, so ~8.4x fewer MACs give < 6x."""
    doc = layer_json(*WORKED, "--profile", "example-desktop")
    peak, bandwidth = example("example-desktop")
    ridge = peak / bandwidth
    assert doc["separable"]["depthwise"]["roofline"]["bound"] == "memory"
    assert doc["separable"]["depthwise"]["intensity"] < ridge < doc["standard"]["intensity"]
    assert doc["standard"]["roofline"]["bound"] == "compute"
    assert doc["saving"]["macs"] == pytest.approx(1152 / 137)
    assert doc["saving"]["time"] < 6 < doc["saving"]["macs"]


def test_peak_and_bandwidth_flags_equal_a_profile_file(tmp_path: Path) -> None:
    """--peak-gflops/--bandwidth-gbs and a profile file with the same figures predict the same."""
    path = tmp_path / "m.json"
    path.write_text(
        '{"name": "m", "peak_gflops": 200, "bandwidth_gbs": 20, "source": "", "details": {}}'
    )
    flags = layer_json(*WORKED, "--peak-gflops", "200", "--bandwidth-gbs", "20")
    from_file = layer_json(*WORKED, "--profile", str(path))
    assert flags["separable"]["roofline"] == from_file["separable"]["roofline"]
    assert flags["saving"]["time"] == from_file["saving"]["time"]


@settings(max_examples=25, deadline=None)
@given(
    cin=st.integers(1, 64),
    cout=st.integers(1, 64),
    k=st.integers(1, 5),
    hw=st.integers(5, 40),
    peak=st.floats(1, 1e4),
    bandwidth=st.floats(1, 1e3),
)
def test_pair_time_is_never_below_either_part(
    cin: int, cout: int, k: int, hw: int, peak: float, bandwidth: float
) -> None:
    """The pair's predicted time is the sum of its parts, and each part is at least its own roofline."""
    report = layer_memory(
        compare(Conv2d(cin, cout, (k, k)), Shape(cin, hw, hw)),
        profile=MachineProfile("p", peak, bandwidth),
    )
    parts = (report.depthwise, report.pointwise)
    pair = report.separable
    assert pair.roofline is not None
    for part in parts:
        assert part.roofline is not None
        assert part.roofline.time_s >= part.flops / (peak * 1e9) * (1 - 1e-12)
        assert part.roofline.time_s >= part.traffic.access_cost / (bandwidth * 1e9) * (1 - 1e-12)
    assert pair.roofline.time_s == pytest.approx(
        sum(p.roofline.time_s for p in parts if p.roofline)
    )


def test_default_table_is_unchanged_and_memory_adds_a_table() -> None:
    """No memory table by default; --memory, --dtype or a machine adds it, and a machine adds Time."""
    plain = run_cli(*WORKED).stdout
    assert "Memory traffic" not in plain
    for extra in (("--memory",), ("-m",), ("--dtype", "fp16")):
        shown = run_cli(*WORKED, *extra).stdout
        assert "Memory traffic" in shown
        assert "FLOP/B" in shown
        assert "Bound" not in shown
        assert shown.startswith(plain.split("\n\n")[0])
    timed = run_cli(*WORKED, "--profile", "example-desktop").stdout
    assert "roofline time" in timed
    assert "memory-bound" in timed
    assert "predicted time (roofline)" in timed
    assert "fewer MACs but is predicted only" in timed


def test_csv_stays_the_cost_table_and_markdown_has_the_memory_table() -> None:
    """CSV is still the cost table; Markdown shows every table, the memory one included."""
    csv = run_cli(*WORKED, "--memory", "-f", "csv").stdout
    assert csv.splitlines()[0] == "Design,Layer,Output,Params,MACs,FLOPs"
    markdown = run_cli(*WORKED, "--profile", "example-rpi4", "-f", "markdown").stdout
    assert "Memory traffic and roofline time" in markdown
    assert "| Bound" in markdown


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--dtype", "fp64"), ("--dtype", "fp32, fp16, bf16, int8")),
        (("--peak-gflops", "10"), ("--bandwidth-gbs", "missing")),
        (("--bandwidth-gbs", "10"), ("--peak-gflops", "missing")),
        (("--peak-gflops", "-1", "--bandwidth-gbs", "3"), ("--peak-gflops", "positive")),
        (("--peak-gflops", "10", "--bandwidth-gbs", "0"), ("--bandwidth-gbs", "positive")),
        (("--peak-gflops", "nan", "--bandwidth-gbs", "3"), ("--peak-gflops",)),
        (("--peak-gflops", "inf", "--bandwidth-gbs", "3"), ("--peak-gflops", "finite")),
        (("--profile", "no-such-machine"), ("--profile no-such-machine", "example-desktop")),
        (("--profile", "example-rpi4", "--peak-gflops", "3"), ("--profile", "not both")),
    ],
)
def test_bad_memory_options_are_one_clean_line(
    args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    """Each bad memory option gives one Error: line naming the option, exit 1, empty stdout."""
    assert_clean_error(run_cli(*WORKED, *args), *fragments)
    assert_clean_error(run_cli(*WORKED, *args, "--json"), *fragments)


def test_bad_profile_file_names_the_file_and_key(tmp_path: Path) -> None:
    """A profile file with a bad key is refused naming --profile, the file and the key."""
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x", "peak_gflops": 1, "bandwidth_gbs": 1, "clock": 3}')
    assert_clean_error(run_cli(*WORKED, "--profile", str(path)), f"--profile {path}: clock")


def test_help_documents_the_memory_options() -> None:
    """layer --help lists --memory, --dtype, --profile and the roofline flags, with an example."""
    text = run_cli("layer", "--help").stdout
    for option in ("--memory", "--dtype", "--profile", "--peak-gflops", "--bandwidth-gbs"):
        assert option in text
    assert "--profile example-desktop" in text


def test_spatial_pair_memory_and_ratios() -> None:
    """The spatial pair moves both convs' bytes (3x1 64->128, then 1x3 128->128); ratios follow."""
    doc = layer_json(*WORKED, "--peak-gflops", "100", "--bandwidth-gbs", "10")
    hw = 56 * 56
    vertical = 128 * 64 * 3 + 64 * hw + 128 * hw
    horizontal = 128 * 128 * 3 + 128 * hw + 128 * hw
    assert doc["spatial"]["memory"]["access_cost"] == 4 * (vertical + horizontal)
    standard = doc["standard"]
    ratio = doc["ratio"]["spatial"]
    assert ratio["access_cost"] == pytest.approx(
        doc["spatial"]["memory"]["access_cost"] / standard["memory"]["access_cost"]
    )
    assert ratio["time"] == pytest.approx(
        doc["spatial"]["roofline"]["time_s"] / standard["roofline"]["time_s"]
    )
