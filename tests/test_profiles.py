"""Machine profile files: the shipped examples, the bench format, and one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from dsc_calc.errors import DscCalcError
from dsc_calc.memory.profiles import MAX_PROFILE_BYTES, load_profile, shipped_profiles
from dsc_calc.memory.traffic import MachineProfile

PROFILE_DIR = Path(__file__).parent.parent / "dsc_calc" / "memory" / "profiles"


CPU_EXAMPLES = ["example-desktop", "example-laptop", "example-rpi4"]
GPU_EXAMPLES = ["example-gpu-a100", "example-gpu-rtx4090"]


def test_example_profiles_ship() -> None:
    """The package ships its example profiles, named by file stem: three CPUs and two GPUs."""
    assert shipped_profiles() == sorted(CPU_EXAMPLES + GPU_EXAMPLES)


@pytest.mark.parametrize("name", CPU_EXAMPLES)
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


@pytest.mark.parametrize("name", GPU_EXAMPLES)
def test_gpu_example_profiles_are_labelled_and_their_spec_sheet_arithmetic_holds(name: str) -> None:
    """A GPU example names its spec sheet; fp32 = cores·clock·2, fp16/int8 = tensor cores·clock·
    FLOPs per cycle, bandwidth = bus width / 8 · data rate, and each is the sheet's rounded figure.
    """
    document = json.loads((PROFILE_DIR / f"{name}.json").read_text(encoding="utf-8"))
    details = document["details"]
    profile = load_profile(name)
    assert profile.name.startswith("example")
    assert "GPU" in profile.name
    assert "EXAMPLE" in profile.source
    assert "spec sheet" in profile.source
    assert "NVIDIA" in profile.source  # the source is named
    assert details["example"] is True
    clock = details["boost_clock_ghz"]
    fp32 = details["cuda_cores"] * clock * details["fp32_flops_per_core_cycle"]
    fp16 = details["tensor_cores"] * clock * details["tensor_fp16_flops_per_cycle"]
    int8 = details["tensor_cores"] * clock * details["tensor_int8_ops_per_cycle"]
    bandwidth = details["bus_bits"] / 8 * details["data_rate_gbps"]
    assert profile.peak_gflops == pytest.approx(fp32, rel=1e-12)
    assert profile.peaks_gflops == pytest.approx({"fp16": fp16, "bf16": fp16, "int8": int8})
    assert profile.bandwidth_gbs == pytest.approx(bandwidth, rel=1e-12)
    sheet = details["sheet_tflops"]
    for dtype, peak in {"fp32": fp32, "fp16": fp16, "bf16": fp16, "int8": int8}.items():
        assert peak / 1000 == pytest.approx(sheet[dtype], rel=5e-3), dtype
    assert bandwidth == pytest.approx(details["sheet_bandwidth_gbs"], rel=5e-3)


def test_per_dtype_peaks_are_optional_and_picked_by_dtype(tmp_path: Path) -> None:
    """``peaks_gflops`` may give any subset; fp32 is peak_gflops, a missing type keeps fp32's."""
    path = tmp_path / "gpu.json"
    path.write_text(
        '{"name": "g", "peak_gflops": 10, "bandwidth_gbs": 2, "peaks_gflops": {"fp16": 40}}',
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert profile.peaks_gflops == {"fp16": 40.0}
    assert profile.for_dtype("fp16").peak_gflops == 40.0
    assert profile.for_dtype("fp16").peak_dtype == "fp16"
    assert profile.for_dtype("fp16").ridge_intensity == 20.0
    assert profile.for_dtype("fp32").peak_gflops == 10.0
    assert profile.for_dtype("fp32").peak_dtype == "fp32"
    assert profile.for_dtype("bf16") == profile  # no bf16 peak: fp32's, unresolved
    assert profile.for_dtype("fp16").for_dtype("fp16") == profile.for_dtype("fp16")
    with pytest.raises(DscCalcError, match="already has the fp16 peak"):
        profile.for_dtype("fp16").for_dtype("int8")
    with pytest.raises(DscCalcError, match="unknown data type"):
        profile.for_dtype("fp64")
    assert load_profile("example-rpi4").peaks_gflops == {}  # the old format loads unchanged


@pytest.mark.parametrize(
    ("peaks", "where", "fragment"),
    [
        ('{"fp64": 3}', "peaks_gflops.fp64", "not a known data type"),
        ('{"fp16": 0}', "peaks_gflops.fp16", "from 0.001 to 1e+12"),
        ('{"fp16": "fast"}', "peaks_gflops.fp16", 'got "fast"'),
        ("[3]", "peaks_gflops", "object"),
    ],
)
def test_bad_per_dtype_peaks_are_refused_with_the_key(
    tmp_path: Path, peaks: str, where: str, fragment: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        f'{{"name": "a", "peak_gflops": 1, "bandwidth_gbs": 1, "peaks_gflops": {peaks}}}',
        encoding="utf-8",
    )
    with pytest.raises(DscCalcError) as caught:
        load_profile(str(path))
    assert caught.value.where == f"{path}: {where}"
    assert fragment in caught.value.problem


def test_machine_profile_checks_its_per_dtype_peaks() -> None:
    with pytest.raises(DscCalcError, match=r"peaks_gflops\.fp16"):
        MachineProfile("m", 1.0, 1.0, peaks_gflops={"fp16": -1.0})
    with pytest.raises(DscCalcError, match="unknown data type"):
        MachineProfile("m", 1.0, 1.0, peaks_gflops={"fp8": 1.0})


@pytest.mark.parametrize(
    "command",
    [
        ("layer", "--cin", "32", "--cout", "64", "-k", "3", "--hw", "56"),
        ("network", "mobilenet_v1"),
    ],
)
def test_dtype_fp16_uses_the_gpu_profiles_fp16_peak(command: tuple[str, ...]) -> None:
    """--dtype fp16 on a profile with an fp16 peak: the roofline runs at that peak (read here
    from the profile file), the document says so, and the 'used as is' caveat is gone."""
    document = json.loads((PROFILE_DIR / "example-gpu-a100.json").read_text(encoding="utf-8"))
    fp16_peak = document["peaks_gflops"]["fp16"]
    bandwidth = document["bandwidth_gbs"]
    doc = run_cli(*command, "--profile", "example-gpu-a100", "--dtype", "fp16", "--json").json()
    assert doc["profile"]["peak_gflops"] == fp16_peak
    assert doc["profile"]["peak_dtype"] == "fp16"
    assert doc["profile"]["ridge_intensity"] == pytest.approx(fp16_peak / bandwidth)
    design = doc["standard"] if command[0] == "layer" else doc["layers"][0]
    expected = max(
        design["flops"] / (fp16_peak * 1e9), design["memory"]["access_cost"] / (bandwidth * 1e9)
    )
    assert design["roofline"]["time_s"] == pytest.approx(expected, rel=1e-12)
    table = run_cli(
        *command, "--profile", "example-gpu-a100", "--dtype", "fp16", "-f", "markdown"
    ).stdout
    assert "used as is" not in table
    assert f"{fp16_peak:g} GFLOP/s" in table
    cpu = run_cli(
        *command, "--profile", "example-desktop", "--dtype", "fp16", "-f", "markdown"
    ).stdout
    assert "used as is for fp16" in cpu  # a CPU profile has no fp16 peak: the caveat stays
    fp32 = run_cli(*command, "--profile", "example-gpu-a100", "--json").json()["profile"]
    assert fp32["peak_gflops"] == document["peak_gflops"]
    assert fp32["peak_dtype"] == "fp32"


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
    with pytest.raises(
        DscCalcError, match="example-desktop, example-gpu-a100, example-gpu-rtx4090"
    ):
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


def test_importing_profiles_and_the_layer_command_does_not_import_rich_or_numpy() -> None:
    """The layer command and the profile reader start without Rich (tables only) or NumPy (bench
    only), so startup stays fast."""
    code = (
        "import sys, dsc_calc.memory.profiles, dsc_calc.memory.layer, dsc_calc.cli.layer; "
        "print('rich' in sys.modules, 'numpy' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.split() == ["False", "False"]


def test_profile_help_names_every_shipped_example() -> None:
    """--profile's help lists each shipped example, so a new one cannot be forgotten there."""
    flat = " ".join(run_cli("layer", "--help").stdout.split())
    for name in shipped_profiles():
        assert name in flat
