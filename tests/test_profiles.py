"""Machine profile files: the shipped examples, the bench format, and one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dsc_calc.errors import DscCalcError
from dsc_calc.memory.profiles import MAX_PROFILE_BYTES, load_profile, shipped_profiles
from dsc_calc.memory.traffic import MachineProfile

PROFILE_DIR = Path(__file__).parent.parent / "dsc_calc" / "memory" / "profiles"


def test_three_example_profiles_ship() -> None:
    """The package ships its example profiles, named by file stem."""
    assert shipped_profiles() == ["example-desktop", "example-laptop", "example-rpi4"]


@pytest.mark.parametrize("name", ["example-desktop", "example-laptop", "example-rpi4"])
def test_example_profiles_are_labelled_and_their_arithmetic_holds(name: str) -> None:
    """Each example says it is one, and its peak and bandwidth are its spec-sheet products."""
    document = json.loads((PROFILE_DIR / f"{name}.json").read_text(encoding="utf-8"))
    details = document["details"]
    profile = load_profile(name)
    assert profile.name.startswith("example")
    assert "EXAMPLE" in profile.source
    assert "spec sheet" in profile.source
    assert details["example"] is True
    peak = details["cores"] * details["clock_ghz"] * details["fp32_flops_per_cycle"]
    bandwidth = details["memory_channels"] * details["memory_mts"] * details["channel_bytes"] / 1000
    assert profile.peak_gflops == pytest.approx(peak, rel=1e-12)
    assert profile.bandwidth_gbs == pytest.approx(bandwidth, rel=1e-12)
    assert f"{peak:g}" in details["peak"]
    assert f"{bandwidth:g}" in details["bandwidth"]


def test_name_with_json_suffix_and_a_file_path_both_work(tmp_path: Path) -> None:
    """``example-rpi4.json`` names the shipped example; an existing file path is read as a file."""
    assert load_profile("example-rpi4.json") == load_profile("example-rpi4")
    path = tmp_path / "example-rpi4"
    path.write_text('{"name": "mine", "peak_gflops": 3, "bandwidth_gbs": 1.5}', encoding="utf-8")
    assert load_profile(path) == MachineProfile("mine", 3.0, 1.5, "")


def test_the_bench_save_profile_format_loads(tmp_path: Path) -> None:
    """The document ``bench --machine --save-profile`` writes (nested details) loads as written."""
    document = {
        "name": "x86_64 (1 thread(s), measured)",
        "peak_gflops": 61.5,
        "bandwidth_gbs": 9.25,
        "source": "dsc-calc bench --machine on 2026-01-01 00:00 UTC",
        "details": {
            "gemm": {"m": 512, "best_s": 0.004},
            "copy": {"bytes": 67108864, "best_s": 0.01},
            "threads": 1,
            "blas": {"name": "openblas", "version": "0.3"},
        },
    }
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    profile = load_profile(str(path))
    assert profile == MachineProfile(
        document["name"],  # type: ignore[arg-type]
        61.5,
        9.25,
        document["source"],  # type: ignore[arg-type]
    )
    assert profile.ridge_intensity == pytest.approx(61.5 / 9.25)


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ('{"name": "a", "peak_gflops": 3}', "bandwidth_gbs", "is missing"),
        ('{"name": "a", "peak_gflops": -3, "bandwidth_gbs": 1}', "peak_gflops", "got -3"),
        (
            '{"name": "a", "peak_gflops": 0, "bandwidth_gbs": 1}',
            "peak_gflops",
            "from 0.001 to 1e+12",
        ),
        ('{"name": "a", "peak_gflops": "fast", "bandwidth_gbs": 1}', "peak_gflops", 'got "fast"'),
        ('{"name": "a", "peak_gflops": 1, "bandwidth_gbs": 1e999}', "bandwidth_gbs", "range"),
        ('{"name": "a", "peak_gflops": 1, "bandwidth_gbs": 1, "cores": 4}', "cores", "not a known"),
        ('{"name": "a", "peak_gflops": 1, "bandwidth_gbs": 1, "details": []}', "details", "object"),
        ('{"name": 7, "peak_gflops": 1, "bandwidth_gbs": 1}', "name", "str"),
        ("[1, 2]", "", "JSON object"),
        ('{"name": ', "", "not valid JSON"),
        ("", "", "not valid JSON"),
    ],
)
def test_bad_profile_files_are_refused_with_the_key(
    tmp_path: Path, text: str, where: str, fragment: str
) -> None:
    """A bad profile names the file and the key at fault, on one line."""
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DscCalcError) as caught:
        load_profile(str(path))
    assert caught.value.where == (f"{path}: {where}" if where else str(path))
    assert fragment in caught.value.problem
    assert "\n" not in str(caught.value)


def test_missing_file_that_is_no_shipped_name_lists_the_examples(tmp_path: Path) -> None:
    """A path that does not exist is refused with the shipped names as the fix."""
    with pytest.raises(DscCalcError, match="example-desktop, example-laptop, example-rpi4"):
        load_profile(str(tmp_path / "nope.json"))
    with pytest.raises(DscCalcError, match="no shipped example"):
        load_profile("../example-rpi4")


def test_directories_and_huge_files_are_refused(tmp_path: Path) -> None:
    """A directory, or a file over the size limit, is refused before decoding."""
    with pytest.raises(DscCalcError, match="is a directory"):
        load_profile(str(tmp_path))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_PROFILE_BYTES + 1))
    with pytest.raises(DscCalcError, match="limit"):
        load_profile(str(big))


def test_importing_profiles_and_the_layer_command_does_not_import_msgspec() -> None:
    """msgspec is imported only when a profile is decoded, so startup stays fast."""
    code = (
        "import sys, dsc_calc.memory.profiles, dsc_calc.memory.layer, dsc_calc.cli.layer; "
        "print('msgspec' in sys.modules, 'rich' in sys.modules, 'numpy' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split()[0] == "False"
