"""Hostile files, streams and values: each ends in a result or exactly one clean ``Error:`` line.

Cases that need a real process (closed streams, FIFOs, signals, terminal encodings) run
``python -m dsc_calc`` in a subprocess; the rest go through the in-process CLI runner.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CLI_ENV, TOY, assert_clean_error, run_cli

from dsc_calc.errors import DscCalcError
from dsc_calc.files import read_bounded, write_atomic

LAYER = ("layer", "--cin", "3", "--cout", "8", "--hw", "8")
BENCH = ("bench", "--cin", "2", "--cout", "2", "--hw", "4", "-q", "--budget", "5")


def run_process(
    *args: str, stdin: int | None = None, env: dict[str, str] | None = None, **kwargs: object
) -> subprocess.CompletedProcess[bytes]:
    """``dsc-calc ARGS`` in a fresh interpreter, with bytes captured."""
    environment = {**os.environ, **CLI_ENV, **(env or {})}
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", "from dsc_calc.cli import main; main()", *args],
        stdin=stdin,
        env=environment,
        timeout=60,
        check=False,
        **kwargs,
    )


def assert_one_error_line(stderr: bytes, *fragments: str) -> str:
    """stderr is one ``Error:`` line naming every fragment, with no traceback."""
    text = stderr.decode("utf-8", "replace")
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert lines[0].startswith("Error: "), text
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- Special files as input ---------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ("network", "{}"),
        ("kernel", "--file", "{}"),
        ("bench", "{}"),
        (*LAYER, "--profile", "{}"),
    ],
)
def test_a_fifo_as_input_is_refused_without_blocking(fifo: Path, args: tuple[str, ...]) -> None:
    """A FIFO with no writer would block an open() forever: it is refused as not a regular file."""
    outcome = run_cli(*(arg.format() if arg != "{}" else str(fifo) for arg in args))
    assert_clean_error(outcome, "FIFO", "not a regular file")


def test_a_device_as_a_spec_is_refused() -> None:
    """/dev/zero never ends: it is refused before anything is read."""
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    assert_clean_error(run_cli("network", "/dev/zero"), "/dev/zero", "device")


def test_an_empty_spec_name_is_named() -> None:
    """`network ""` says the name is empty, not that "." is a directory."""
    assert_clean_error(run_cli("network", ""), "SPEC", "empty file name")


def test_the_bounded_reader_refuses_a_file_over_its_limit(tmp_path: Path) -> None:
    """The one reader stops at its limit and names it."""
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 101)
    assert read_bounded(path, 101, where="x", what="spec") == b" " * 101
    with pytest.raises(DscCalcError, match="over the 100 bytes limit"):
        read_bounded(path, 100, where="x", what="spec")


@pytest.mark.parametrize("args", [("network", "-"), ("kernel", "-"), ("bench", "-")])
def test_a_closed_stdin_is_one_clean_error(args: tuple[str, ...]) -> None:
    """`<&-` leaves sys.stdin None: one error line, not an AttributeError."""
    result = run_process(*args, stdin=None, close_fds=True, preexec_fn=lambda: os.close(0))
    assert result.returncode == 1
    assert result.stdout == b""
    assert_one_error_line(result.stderr, "standard input", "closed")


# --- -o and --save-profile ----------------------------------------------------------------------

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def test_a_new_output_file_honours_the_umask(tmp_path: Path) -> None:
    """A new file gets 0666 less the umask, as `>` gives, not mkstemp's 0600."""
    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.json").stat().st_mode) == 0o640


def test_an_existing_output_file_keeps_its_mode(tmp_path: Path) -> None:
    """Replacing a file keeps its permission bits."""
    path = tmp_path / "out.json"
    path.write_text("old")
    path.chmod(0o604)
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_a_symlink_is_written_through_to_its_target(tmp_path: Path) -> None:
    """The link stays a link; its target gets the new content."""
    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    outcome = run_cli(*LAYER, "--json", "-o", str(link))
    assert outcome.exit_code == 0, outcome.stderr
    assert link.is_symlink()
    assert json.loads(target.read_text())["standard"]["params"] == 216


def test_a_hard_link_is_written_in_place_and_stays_one_file(tmp_path: Path) -> None:
    """Both names still show the same (new) content: the link is not split."""
    first = tmp_path / "a.json"
    first.write_text("old")
    second = tmp_path / "b.json"
    os.link(first, second)
    write_atomic(second, "new")
    assert first.read_text() == "new"
    assert os.path.samefile(first, second)


def test_a_fifo_output_is_written_through_or_refused(fifo: Path) -> None:
    """A FIFO is never replaced by a regular file; without a reader it is refused at once."""
    outcome = run_cli(*LAYER, "--json", "-o", str(fifo))
    assert_clean_error(outcome, "--output", "FIFO with no reader")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dev_null_as_output_is_written_not_replaced() -> None:
    """`-o /dev/null` writes to the device (as root, a replacement would destroy it)."""
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null")
    outcome = run_cli(*LAYER, "--json", "-o", "/dev/null")
    assert outcome.exit_code == 0, outcome.stderr
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)


def test_dev_full_as_output_is_one_clean_error() -> None:
    """A device that refuses the write gives the system's reason."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    assert_clean_error(run_cli(*LAYER, "-o", "/dev/full"), "--output", "No space left")


@pytest.mark.skipif(ROOT, reason="root may write into a read-only folder")
def test_a_writable_file_in_a_read_only_folder_is_written_in_place(tmp_path: Path) -> None:
    """`>` works there, so -o does too (in place, as it cannot be atomic)."""
    path = tmp_path / "out.json"
    path.write_text("old")
    tmp_path.chmod(0o555)
    try:
        outcome = run_cli(*LAYER, "--json", "-o", str(path))
    finally:
        tmp_path.chmod(0o755)
    assert outcome.exit_code == 0, outcome.stderr
    assert json.loads(path.read_text())["standard"]["params"] == 216


@pytest.mark.skipif(ROOT, reason="root may search any folder")
def test_a_folder_without_search_permission_is_one_clean_error(tmp_path: Path) -> None:
    """EACCES on the folder: reading and writing both name the path and the reason."""
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "net.json").write_text(json.dumps(TOY))
    folder.chmod(0o000)
    try:
        assert_clean_error(run_cli("network", str(folder / "net.json")), "Permission denied")
        out = run_cli(*LAYER, "-o", str(folder / "out.json"))
        assert_clean_error(out, "--output", "Permission denied")
    finally:
        folder.chmod(0o755)


def test_proc_files_are_refused_with_the_real_reason() -> None:
    """`-o /proc/version` does not blame a missing file."""
    if not Path("/proc/version").exists():
        pytest.skip("no /proc")
    outcome = run_cli(*LAYER, "-o", "/proc/version")
    assert_clean_error(outcome, "--output", "/proc/version")
    assert "No such file" not in outcome.stderr


@pytest.mark.parametrize(
    "option", ["-o", "--profile", "--save-profile"], ids=["output", "profile", "save-profile"]
)
def test_a_file_name_too_long_is_one_clean_error(tmp_path: Path, option: str) -> None:
    """ENAMETOOLONG for each option that takes a file, with the name shortened in the message."""
    name = str(tmp_path / ("a" * 300))
    args = [*BENCH, option, name] if option == "--save-profile" else [*LAYER, option, name]
    outcome = run_cli(*args)
    assert_clean_error(outcome, "too long")
    assert len(outcome.stderr) < 300


def test_a_bench_whose_output_cannot_be_written_is_refused_before_it_runs(tmp_path: Path) -> None:
    """The check comes before the run, so nothing is measured in vain."""
    outcome = run_cli(
        "bench", "--cin", "2", "--cout", "2", "--hw", "4", "-q", "-o", str(tmp_path / "no" / "x")
    )
    assert_clean_error(outcome, "--output", "No such file")


def test_a_bench_result_survives_an_output_that_fails_after_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When -o fails after the run (the disk filled up), the result goes to stdout and the error
    says so."""
    import dsc_calc.cli._app as app_module

    def full(*_: object, **__: object) -> None:
        raise DscCalcError("--output", "cannot write 'x': No space left on device")

    monkeypatch.setattr(app_module, "write_atomic", full)
    outcome = run_cli(*BENCH, "--json", "-o", str(tmp_path / "x.json"))
    assert outcome.exit_code == 1
    assert json.loads(outcome.stdout)["kernels"]
    assert "the result is on standard output instead" in outcome.stderr


# --- stdout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "csv", "table"])
def test_a_closed_stdout_is_one_clean_error(fmt: str) -> None:
    """`>&-`: not an AttributeError (json, csv), not a silent exit 0 (tables)."""
    result = run_process(*LAYER, "-f", fmt, close_fds=True, preexec_fn=lambda: os.close(1))
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "standard output", "closed")


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_stdout_on_a_full_disk_is_one_clean_error(fmt: str) -> None:
    """/dev/full as stdout: ENOSPC is reported once, with no "Exception ignored" at exit."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with open("/dev/full", "wb") as full:
        result = run_process(*LAYER, "-f", fmt, stdout=full, stderr=subprocess.PIPE)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "standard output", "No space left")


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_a_non_utf8_stdout_falls_back_to_ascii_signs(encoding: str) -> None:
    """× and → become x and ->: no UnicodeEncodeError on a cp1252 console."""
    result = run_process("network", "mobilenet_v1", "-n", "3", env={"PYTHONIOENCODING": encoding})
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode(encoding)
    times = "\u00d7" if encoding == "cp1252" else "x"  # cp1252 has the sign, ASCII does not
    assert f"3{times}224{times}224 -> 1000{times}1{times}1" in text
    assert "Traceback" not in result.stderr.decode(encoding)


def test_no_color_on_a_terminal_prints_no_style_at_all() -> None:
    """NO_COLOR=1 with a terminal: no colour and no bold escapes either."""
    pty = pytest.importorskip("pty")
    leader, follower = pty.openpty()
    try:
        result = run_process(*LAYER, stdout=follower, env={"NO_COLOR": "1", "TERM": "xterm"})
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert result.returncode == 0
    text = b"".join(chunks).decode()
    assert "Standard" in text or "standard" in text
    assert "\x1b[" not in text


# --- Options ------------------------------------------------------------------------------------


def test_json_with_another_format_is_a_usage_error() -> None:
    """`--json -f csv` contradict each other: exit 2, both named."""
    assert_clean_error(run_cli(*LAYER, "--json", "-f", "csv"), "--json", "csv", code=2)
    assert run_cli(*LAYER, "--json", "-f", "json").exit_code == 0


@pytest.mark.parametrize(
    "extra",
    [("-k", "3", "-k", "5"), ("--bias", "--no-bias"), ("-f", "csv", "--format", "json")],
)
def test_an_option_given_twice_is_refused(extra: tuple[str, ...]) -> None:
    """The last one no longer wins silently."""
    assert_clean_error(run_cli(*LAYER, *extra), "more than once", code=2)


@pytest.mark.parametrize("kernel", ["3_3", "٣", " 3", "+3"])
def test_a_kernel_size_is_ascii_digits_only(kernel: str) -> None:
    """int() would read `3_3` as 33."""
    assert_clean_error(run_cli(*LAYER, "-k", kernel), "--kernel", repr(kernel))


#: A child that says "ready" on stderr once the benchmark starts, so the test signals it then.
READY_CHILD = """
import sys
import dsc_calc.bench.run as run

timed = run.run_bench

def announced(*args, **kwargs):
    sys.stderr.write("ready\\n")
    sys.stderr.flush()
    return timed(*args, **kwargs)

run.run_bench = announced
from dsc_calc.cli import main
main()
"""


def test_a_sigint_exits_130_with_one_line_and_no_partial_file(tmp_path: Path) -> None:
    """Ctrl-C during a bench: exit 130, "interrupted", no output file left behind."""
    import signal

    out = tmp_path / "out.json"
    args = [
        "bench",
        "--cin",
        "64",
        "--cout",
        "64",
        "--hw",
        "64",
        "--budget",
        "60",
        "--min-time",
        "50",
        "-q",
        "-o",
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", READY_CHILD, *args, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **CLI_ENV},
    )
    assert process.stderr is not None
    assert process.stderr.readline() == b"ready\n"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stdout == b""
    assert_one_error_line(stderr, "interrupted")
    assert list(tmp_path.iterdir()) == []


# --- Terminal escapes ---------------------------------------------------------------------------

HOSTILE = "evil\x1b]0;owned\x07\x1b[31mred\x9b"


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_control_characters_in_names_are_shown_escaped(fmt: str) -> None:
    """ESC]0; would set the window title and ESC[31m colour the output: both come out escaped."""
    spec = {**TOY, "layers": [{"type": "conv", "out": 8, "k": 3, "name": HOSTILE}]}
    outcome = run_cli("network", "-", "-f", fmt, input=json.dumps(spec))
    assert outcome.exit_code == 0, outcome.stderr
    assert "\x1b" not in outcome.stdout
    assert "\x9b" not in outcome.stdout
    assert "\\x1b]0;owned\\x07" in outcome.stdout


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_formats_for_scripts_keep_names_exact(fmt: str) -> None:
    """JSON (escaped by JSON itself) and CSV carry the name exactly as the spec gave it."""
    spec = {**TOY, "layers": [{"type": "conv", "out": 8, "k": 3, "name": HOSTILE}]}
    outcome = run_cli("network", "-", "-f", fmt, input=json.dumps(spec))
    assert outcome.exit_code == 0, outcome.stderr
    if fmt == "json":
        assert outcome.json()["layers"][0]["name"].startswith(HOSTILE)
    else:
        assert HOSTILE in outcome.stdout


def test_control_characters_in_an_error_are_shown_escaped() -> None:
    """The one error line cannot carry an escape to the terminal either."""
    spec = {**TOY, "layers": [{"type": "conv\x1b[31m", "out": 8}]}
    outcome = run_cli("network", "-", input=json.dumps(spec))
    assert_clean_error(outcome)
    assert "\x1b" not in outcome.stderr


# --- Extreme rates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peak", "bandwidth", "bad"),
    [
        ("1e308", "1e308", "--peak-gflops"),
        ("1e-320", "1", "--peak-gflops"),
        ("1", "5e-324", "--bandwidth-gbs"),
        ("1", "1e13", "--bandwidth-gbs"),
    ],
)
def test_rates_outside_the_one_range_are_refused(peak: str, bandwidth: str, bad: str) -> None:
    """1e308 gave a ZeroDivisionError and 1e-320 inf and nan: both are now outside the range."""
    outcome = run_cli(*LAYER, "--peak-gflops", peak, "--bandwidth-gbs", bandwidth, "--json")
    assert_clean_error(outcome, bad, "from 0.001 to 1e+12")


@pytest.mark.parametrize("value", ["5e-324", "1e-4", "1e308", "1e13"])
def test_profile_files_share_the_range_of_the_flags(tmp_path: Path, value: str) -> None:
    """A profile file with a peak of 5e-324 is refused with the same range as the flags."""
    path = tmp_path / "p.json"
    path.write_text(f'{{"name": "x", "peak_gflops": {value}, "bandwidth_gbs": 1}}')
    outcome = run_cli(*LAYER, "--profile", str(path))
    assert_clean_error(outcome, "peak_gflops", "from 0.001 to 1e+12")


@pytest.mark.parametrize("fmt", ["json", "table", "csv", "markdown"])
@pytest.mark.parametrize(("peak", "bandwidth"), [("1e-3", "1e12"), ("1e12", "1e-3")])
def test_the_ends_of_the_range_print_finite_figures(fmt: str, peak: str, bandwidth: str) -> None:
    """At the range's ends, on the largest layer and on a network: never inf, nan or a crash."""
    big = ("layer", "--cin", "2147483647", "--cout", "2147483647", "--hw", "2147483647")
    for args in (big, ("network", "mobilenet_v1")):
        outcome = run_cli(*args, "--peak-gflops", peak, "--bandwidth-gbs", bandwidth, "-f", fmt)
        assert outcome.exit_code == 0, outcome.stderr
        words = set(outcome.stdout.lower().replace(",", " ").split())
        assert not words & {"inf", "nan", "infinity", "-inf", "inf×", "nan×"}
        if fmt == "json":
            json.loads(outcome.stdout, parse_constant=pytest.fail)


# --- bench strides ------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", ["2147483647", "65", "10000x1"])
def test_bench_refuses_a_huge_stride_before_any_work(stride: str) -> None:
    """The phase split visited stride² phases before any limit: -s 10000 took over a minute."""
    outcome = run_cli(*BENCH, "-s", stride)
    assert_clean_error(outcome, "--stride", "phases", "4,096")


def test_bench_of_a_network_refuses_a_huge_stride_naming_the_layer() -> None:
    """The same check for every conv layer of a network spec, by the layer's name."""
    spec = {
        "input": {"channels": 4, "height": 8, "width": 8},
        "layers": [{"type": "dwconv", "k": 3, "stride": 100, "name": "wide"}],
    }
    outcome = run_cli("bench", "-", "-q", input=json.dumps(spec))
    assert_clean_error(outcome, "wide", "phases")


# --- Accepted without a word --------------------------------------------------------------------


def spec_with(*layers: object) -> str:
    return json.dumps({"input": {"channels": 3, "height": 8, "width": 8}, "layers": list(layers)})


@pytest.mark.parametrize(
    ("text", "where", "key"),
    [
        ('{"type": "conv", "type": "relu", "out": 8}', "layers[0]", "type"),
        (
            '{"repeat": 2, "layers": [{"type": "relu", "name": "a", "name": "b"}]}',
            "layers[0].layers[0]",
            "name",
        ),
        ('{"type" : "relu", "type" : "relu"}', "layers[0]", "type"),
    ],
)
def test_a_duplicate_key_in_a_spec_is_refused_with_its_place(
    text: str, where: str, key: str
) -> None:
    """The last one no longer wins silently, not even for `type`."""
    data = '{"input": {"channels": 3, "height": 8, "width": 8}, "layers": [' + text + "]}"
    outcome = run_cli("network", "-", input=data)
    assert_clean_error(outcome, f"{where}: has the key '{key}' twice")


def test_a_duplicate_key_in_the_input_object_is_refused() -> None:
    data = '{"input": {"channels": 3, "height": 8, "height": 9, "width": 8}, "layers": []}'
    assert_clean_error(run_cli("network", "-", input=data), "input", "'height' twice")


def test_quotes_and_colons_inside_names_are_no_duplicates() -> None:
    """A name holding `":` makes the cheap count disagree; the exact pass then finds no repeat."""
    outcome = run_cli("network", "-", "--json", input=spec_with({"type": "relu", "name": 'a":b'}))
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.json()["layers"][0]["name"].startswith('a":b')


def test_a_duplicate_key_in_a_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"name": "a", "peak_gflops": 5, "peak_gflops": 7, "bandwidth_gbs": 1}')
    assert_clean_error(run_cli(*LAYER, "--profile", str(path)), "'peak_gflops' twice")


def test_a_global_pool_with_padding_is_refused() -> None:
    outcome = run_cli(
        "network", "-", input=spec_with({"type": "pool", "global": True, "padding": 1})
    )
    assert_clean_error(outcome, "layers[0]", "global pool", "padding")


def test_expand_beside_expand_channels_is_refused() -> None:
    layer = {"type": "inverted_residual", "out": 8, "expand": 4, "expand_channels": 12}
    outcome = run_cli("network", "-", input=spec_with(layer))
    assert_clean_error(outcome, "layers[0]", "expand", "not both")


def test_expand_channels_alone_still_round_trips() -> None:
    """The default expand factor is not written back beside expand_channels."""
    from dsc_calc.network.decode import decode
    from dsc_calc.network.spec import to_builtins

    layer = {"type": "inverted_residual", "out": 8, "expand_channels": 12}
    document = to_builtins(decode(spec_with(layer).encode()))
    assert "expand" not in document["layers"][0]
    assert decode(json.dumps(document).encode()) == decode(spec_with(layer).encode())


def test_integral_floats_are_integers_as_the_schema_says() -> None:
    """The schema's integer takes 8.0 (JSON Schema does), and so does the decoder now."""
    whole = run_cli(
        "network", "-", "--json", input=spec_with({"type": "conv", "out": 8.0, "k": 3.0})
    )
    exact = run_cli("network", "-", "--json", input=spec_with({"type": "conv", "out": 8, "k": 3}))
    assert whole.exit_code == 0, whole.stderr
    assert whole.json()["totals"] == exact.json()["totals"]
    schema = run_cli("schema", "spec").json()
    conv = json.dumps(schema["$defs"]["Conv"]["properties"]["out"])
    assert '"integer"' in conv
    fraction = run_cli("network", "-", input=spec_with({"type": "conv", "out": 8.5}))
    assert_clean_error(fraction, "layers[0].out", "8.5")


@pytest.mark.parametrize(("fmt", "strided"), [("json", True), ("table", True), ("json", False)])
def test_same_padding_with_a_stride_is_noted(fmt: str, strided: bool) -> None:
    """TensorFlow's asymmetric 'same' (PyTorch refuses it with stride > 1) is said in the notes."""
    stride = "2" if strided else "1"
    layer = run_cli(*LAYER, "-s", stride, "-f", fmt)
    net = run_cli(
        "network",
        "-",
        "-f",
        fmt,
        input=spec_with({"type": "conv", "out": 8, "stride": int(stride)}),
    )
    # A network's JSON carries no notes; its tables do.
    for outcome in (layer, net) if fmt != "json" else (layer,):
        assert outcome.exit_code == 0, outcome.stderr
        said = "PyTorch refuses padding='same'" in " ".join(outcome.stdout.split())
        assert said == strided


# --- Messages that blamed the wrong thing -------------------------------------------------------


def test_an_output_too_large_blames_the_padding() -> None:
    outcome = run_cli("layer", "--cin", "3", "--cout", "3", "-p", "2147483647", "--hw", "8")
    assert_clean_error(outcome, "--padding", "output height of 4294967300", "8 + padding")


def test_alpha_past_the_limit_names_alpha() -> None:
    outcome = run_cli(
        "network", "-", "--alpha", "2", input=spec_with({"type": "conv", "out": 2_000_000_000})
    )
    assert_clean_error(outcome, "--alpha", "4000000000")


def test_a_lone_surrogate_is_named_as_such() -> None:
    data = spec_with({"type": "relu", "name": "PLACEHOLDER"}).replace("PLACEHOLDER", "a\\ud800")
    assert_clean_error(run_cli("network", "-", input=data), "lone surrogate", "\\ud800")


def test_sweep_suggests_only_ends_within_the_limit() -> None:
    outcome = run_cli("sweep", "--cout", "1,3,9,...,2147483647")
    assert_clean_error(outcome, "--cout", "end at 1162261467")
    assert "3486784401" not in outcome.stderr


@pytest.mark.parametrize("args", [("presets", "mobilenet_v1"), ("schema",), ("--version",)])
def test_commands_that_write_stdout_directly_see_it_closed_too(args: tuple[str, ...]) -> None:
    """`presets NAME`, `schema` and `--version` write to sys.stdout themselves: one clean error."""
    result = run_process(*args, close_fds=True, preexec_fn=lambda: os.close(1))
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "standard output", "closed")


@pytest.mark.parametrize("value", ["3_2", "\u0663", "abc"])
def test_integer_options_take_ascii_digits_only(value: str) -> None:
    """`--cin 3_2` was read as 32 (Python's int() allows `_` and other scripts' digits)."""
    outcome = run_cli("layer", "--cin", value, "--cout", "8", "--hw", "8")
    assert_clean_error(outcome, "--cin", repr(value), "ASCII digits", code=2)
