"""``dsc-calc layer`` through the CLI: the JSON contract, every format, aliases and every error."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import Outcome, assert_clean_error, run_cli

SEED = ("layer", "--cin", "3", "--cout", "4", "-k", "3", "--hw", "32", "-p", "1")


def as_json(*args: str) -> Any:
    outcome = run_cli(*args, "--json")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stderr == ""
    return outcome.json()


def test_json_contract_keys_and_exact_integers() -> None:
    """The documented keys are all there and every count is an exact integer."""
    doc = as_json("layer", "--cin", "32", "--cout", "64", "-k", "3", "--hw", "112")
    assert doc["input"] == {"channels": 32, "height": 112, "width": 112}
    assert doc["output"] == {"channels": 64, "height": 112, "width": 112}
    assert set(doc["config"]) >= {
        "kernel",
        "stride",
        "padding",
        "dilation",
        "groups",
        "bias",
        "batch",
    }
    for part in (
        doc["standard"],
        doc["separable"],
        *(doc["separable"][p] for p in ("depthwise", "pointwise")),
    ):
        assert set(part) >= {"params", "macs", "flops"}
        assert all(type(part[key]) is int for key in ("params", "macs", "flops"))
    assert set(doc["ratio"]) >= {"params", "macs", "formula"}
    assert doc["standard"]["macs"] == 64 * 112 * 112 * 32 * 9
    assert doc["separable"]["macs"] == 32 * 112 * 112 * 9 + 32 * 64 * 112 * 112


def test_seed_example_through_the_cli() -> None:
    """3 -> 4 channels, 3x3, padding 1, 32x32: output 4x32x32, 108 vs 39 params, 112 vs 46 with bias."""
    plain, biased = as_json(*SEED), as_json(*SEED, "--bias")
    assert plain["output"] == {"channels": 4, "height": 32, "width": 32}
    assert (plain["standard"]["params"], plain["separable"]["params"]) == (108, 39)
    assert (biased["standard"]["params"], biased["separable"]["params"]) == (112, 46)
    assert biased["ratio"]["exact"]["params"] == "23/56"  # 46/112


def test_seed_formula_value_n100_dk512() -> None:
    """N = 100, Dk = 512 gives the formula value 0.010004 of the derivation."""
    doc = as_json("layer", "-M", "3", "-N", "100", "--dk", "512", "--hw", "1")
    assert round(doc["ratio"]["formula"], 6) == 0.010004
    assert doc["ratio"]["macs"] == doc["ratio"]["formula"]


def test_json_flag_and_format_json_agree() -> None:
    """--json is exactly --format json."""
    assert run_cli(*SEED, "--json").stdout == run_cli(*SEED, "-f", "json").stdout


def test_derivation_aliases_equal_long_options() -> None:
    """-M/-N/--dk/--df are the same options as --cin/--cout/-k/--hw."""
    long = as_json("layer", "--cin", "16", "--cout", "24", "-k", "5", "--hw", "20")
    short = as_json("layer", "-M", "16", "-N", "24", "--dk", "5", "--df", "20")
    assert long == short


def test_non_square_input_kernel_stride_dilation_groups() -> None:
    """Non-square input and kernel, per-axis stride and dilation, groups: shapes and MACs by hand."""
    doc = as_json(
        "layer", "--cin", "8", "--cout", "12", "-k", "5x3", "-H", "20", "-W", "11",
        "-s", "2x1", "-p", "0", "-d", "1x2", "-g", "4", "-b", "2",
    )  # fmt: skip
    hout, wout = (20 - 5) // 2 + 1, (11 - 2 * 2 - 1) // 1 + 1
    assert doc["output"] == {"channels": 12, "height": hout, "width": wout}
    assert doc["standard"]["params"] == 12 * 2 * 5 * 3
    assert doc["standard"]["macs"] == 2 * 12 * hout * wout * 2 * 5 * 3
    assert doc["config"]["groups"] == 4
    assert doc["config"]["batch"] == 2
    assert doc["config"]["stride"] == [2, 1]
    assert doc["config"]["dilation"] == [1, 2]


def test_same_padding_reports_its_sides() -> None:
    """'same' with stride 2 on an even input pads one pixel at the bottom/right only (TF split)."""
    doc = as_json("layer", "--cin", "4", "--cout", "4", "-k", "3", "--hw", "8", "-s", "2")
    assert doc["output"]["height"] == 4
    assert doc["config"]["padding"] == "same"
    assert doc["config"]["padding_sides"] == {"top": 0, "bottom": 1, "left": 0, "right": 1}


def test_csv_is_the_cost_table_with_exact_values() -> None:
    """CSV has a header and one row per design, with the same exact integers as the JSON."""
    doc = as_json(*SEED)
    rows = list(csv.DictReader(io.StringIO(run_cli(*SEED, "-f", "csv").stdout)))
    by_design = {row["Design"]: row for row in rows}
    assert int(by_design["standard"]["Params"]) == doc["standard"]["params"]
    assert int(by_design["standard"]["MACs"]) == doc["standard"]["macs"]
    assert int(by_design["separable (dw + pw)"]["FLOPs"]) == doc["separable"]["flops"]
    assert int(by_design["depthwise"]["Params"]) == doc["separable"]["depthwise"]["params"]


def test_markdown_is_a_pasteable_table() -> None:
    """Markdown output has a header row and an alignment row for each table."""
    lines = run_cli(*SEED, "-f", "markdown").stdout.splitlines()
    assert "| Design | Layer | Output | Params | MACs | FLOPs |" in lines
    assert "|:--|:--|:--|--:|--:|--:|" in lines
    assert any(line.startswith("| params |") for line in lines)


def test_table_golden(golden: Any) -> None:
    """The default Rich table at 100 columns without colour is stable, byte for byte."""
    outcome = run_cli("layer", "--cin", "32", "--cout", "64", "-k", "3", "--hw", "112", "--bias")
    assert outcome.exit_code == 0
    assert "\x1b[" not in outcome.stdout
    golden("layer_32_64_k3_112_bias.txt", outcome.stdout)


def test_table_mentions_shape_ratio_saving_and_formula() -> None:
    """The table shows the output shape, the ratios, the saving as ×N and the formula."""
    text = run_cli("layer", "--cin", "32", "--cout", "64", "-k", "3", "--hw", "112").stdout
    for fragment in ("64×112×112", "73/576", "×7.89", "1/64 + 1/9", "formula 1/N + 1/Dk²"):
        assert fragment in text


@pytest.mark.parametrize(
    ("args", "fragments", "code"),
    [
        (("--cin", "0", "--cout", "4", "--hw", "8"), ("--cin", "got 0"), 1),
        (("--cin", "3", "--cout", "-4", "--hw", "8"), ("--cout", "got -4"), 1),
        (("--cin", "3", "--cout", "4", "--hw", "0"), ("--hw", "got 0"), 1),
        (("--cin", "3", "--cout", "4", "-H", "8", "-W", "-1"), ("--width", "got -1"), 1),
        (
            ("--cin", "3", "--cout", "4", "--hw", "8", "-g", "2"),
            ("--groups", "groups=2", "in_channels=3"),
            1,
        ),
        (
            ("--cin", "3", "--cout", "4", "--hw", "3", "-k", "5", "-p", "0"),
            ("--kernel", "effective kernel 5", "padded input height 3"),
            1,
        ),
        (("--cin", "3", "--cout", "4", "--hw", "8", "-p", "full"), ("--padding", "'full'"), 1),
        (("--cin", "3", "--cout", "4", "--hw", "8", "-k", "3x3x3"), ("--kernel", "'3x3x3'"), 1),
        (("--cin", "3", "--cout", "4", "--hw", "8", "-s", "0"), ("--stride", "'0'"), 1),
        (("--cin", "3", "--cout", "4", "--hw", "8", "-d", "two"), ("--dilation", "'two'"), 1),
        (("--cin", "3", "--cout", "4", "--hw", "8", "-b", "0"), ("--batch", "got 0"), 1),
        (("--cin", "3", "--cout", "4", "--hw", str(2**31)), ("--hw", "at most 2147483647"), 1),
        (("--cin", "3", "--cout", "4"), ("--hw", "input size is missing"), 1),
        (("--cout", "4", "--hw", "8"), ("Missing option", "--cin"), 2),
        (("--cin", "x", "--cout", "4", "--hw", "8"), ("--cin", "'x'"), 2),
        (("--cin", "3", "--cout", "4", "--hw", "8", "-f", "yaml"), ("--format", "yaml"), 2),
        (("--cin", "3", "--cout", "4", "--hw", "8", "--nope"), ("--nope",), 2),
    ],
)
def test_bad_input_is_one_clean_line(
    args: tuple[str, ...], fragments: tuple[str, ...], code: int
) -> None:
    """Every bad value or missing option: one Error line naming it, exit code, empty stdout."""
    assert_clean_error(run_cli("layer", *args), *fragments, code=code)


def test_bad_input_with_json_still_keeps_stdout_empty() -> None:
    """Asking for JSON does not put anything on stdout when the input is bad."""
    assert_clean_error(
        run_cli("layer", "--cin", "3", "--cout", "4", "--hw", "8", "-g", "2", "--json"), "--groups"
    )


def test_version_and_root_help() -> None:
    """--version prints the package version; no arguments prints the help and exits 2."""
    from dsc_calc import __version__

    outcome = run_cli("--version")
    assert outcome.stdout.strip() == f"dsc-calc {__version__}"
    bare: Outcome = run_cli()
    assert bare.exit_code == 2
    assert "layer" in bare.stdout + bare.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    """`python -m dsc_calc` is a working entry point in a real process."""
    done = subprocess.run(
        [sys.executable, "-m", "dsc_calc", *SEED, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"params": 108' in done.stdout


def test_output_file_is_written_whole(tmp_path: Path) -> None:
    """--output writes exactly what stdout would have shown, and prints nothing."""
    target = tmp_path / "layer.json"
    outcome = run_cli(*SEED, "--json", "-o", str(target))
    assert outcome.exit_code == 0
    assert outcome.stdout == ""
    assert target.read_text(encoding="utf-8") == run_cli(*SEED, "--json").stdout


def test_output_error_leaves_no_partial_file(tmp_path: Path) -> None:
    """A refused value or an unwritable path leaves the old file untouched and no temporary files."""
    target = tmp_path / "layer.csv"
    target.write_text("old", encoding="utf-8")
    bad = run_cli("layer", "--cin", "3", "--cout", "4", "--hw", "8", "-g", "2", "-o", str(target))
    assert_clean_error(bad, "--groups")
    assert target.read_text(encoding="utf-8") == "old"
    missing = run_cli(*SEED, "-o", str(tmp_path / "no" / "such" / "dir.csv"))
    assert_clean_error(missing, "--output", "No such file or directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.csv"]


def test_entry_point_registers_only_the_command_it_runs() -> None:
    """`dsc-calc layer` imports no other command's module; `--help` lists every command."""
    probe = (
        "import sys; sys.argv = ['dsc-calc', *sys.argv[1:]]\n"
        "from dsc_calc.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        "shared = ('dsc_calc.cli._app', 'dsc_calc.cli.options')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('dsc_calc.cli.') and m not in shared)\n"
        "print(loaded, file=sys.stderr)"
    )
    layer = subprocess.run(
        [sys.executable, "-c", probe, *SEED, "--json"], capture_output=True, text=True, check=True
    )
    assert '"params": 108' in layer.stdout
    assert layer.stderr.strip() == "['dsc_calc.cli.layer']"
    helped = subprocess.run(
        [sys.executable, "-c", probe, "--help"], capture_output=True, text=True, check=True
    )
    for command in ("layer", "network", "presets", "bench", "sweep", "kernel", "schema"):
        assert command in helped.stdout


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, typer.Abort])
def test_interruption_exits_130_with_nothing_on_stdout(
    interruption: type[BaseException], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or an abort) while a command runs: exit status 130, no traceback, no stdout."""
    import dsc_calc.cli.layer as command

    def interrupted(*_: object, **__: object) -> None:
        raise interruption

    monkeypatch.setattr(command, "compare", interrupted)
    outcome = run_cli(*SEED, "--json")
    assert outcome.exit_code == 130
    assert outcome.stdout == ""
    assert "Traceback" not in outcome.stderr


@pytest.mark.parametrize(
    ("argv", "registered"),
    [
        (["layer", *SEED[1:], "--json"], {"layer"}),
        # network's module holds presets too; the options it shares come from cli.options
        (["presets", "-f", "csv"], {"network", "presets"}),
        (["network", "mobilenet_v1", "--json"], {"network", "presets"}),
        (["bench", "--help"], {"bench"}),
        (["--version"], {"layer", "network", "presets", "bench", "sweep", "kernel", "schema"}),
    ],
)
def test_main_registers_what_it_runs(
    argv: list[str], registered: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entry point registers the command named on the line, or every command otherwise."""
    from dsc_calc import cli
    from dsc_calc.cli import _app

    fresh = typer.Typer(cls=_app.DscCalcGroup, name="dsc-calc", pretty_exceptions_enable=False)
    fresh.callback()(_app._root)
    monkeypatch.setattr(_app, "app", fresh)
    for module in ("layer", "network", "bench", "sweep", "kernel", "schema"):
        monkeypatch.delitem(sys.modules, f"dsc_calc.cli.{module}", raising=False)
    monkeypatch.setattr(sys, "argv", ["dsc-calc", *argv])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 0
    assert set(typer.main.get_command(fresh).commands) == registered  # type: ignore[attr-defined]


def test_write_atomic_refuses_a_directory_and_cleans_up_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory is refused by name; a failing write removes its temporary file and says why."""
    import os

    from dsc_calc import DscCalcError
    from dsc_calc.files import write_atomic

    with pytest.raises(DscCalcError, match="is a directory"):
        write_atomic(tmp_path, "x")

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(DscCalcError, match="No space left on device"):
        write_atomic(tmp_path / "out.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_lets_an_interrupt_through_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupt mid-write propagates as itself and leaves no temporary file."""
    import os

    from dsc_calc.files import write_atomic

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "out.json", "{}")
    assert list(tmp_path.iterdir()) == []
