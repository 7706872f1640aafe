"""The documented JSON contracts (dsc_calc.output.contracts) match what each command prints with --json."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from typing import Any

import msgspec
import pytest
from conftest import assert_clean_error, run_cli

from dsc_calc.output import contracts
from dsc_calc.output.contracts import (
    CONTRACTS,
    BenchDocument,
    KernelDocument,
    LayerDocument,
    NetworkBenchDocument,
    NetworkDocument,
    PresetsDocument,
    SweepDocument,
)

#: A small network with a residual block, a depthwise + pointwise pair and a classifier.
TINY_SPEC = json.dumps(
    {
        "input": {"channels": 3, "height": 16, "width": 16},
        "layers": [
            {"type": "conv", "out": 8, "k": 3, "stride": 2},
            {"type": "batchnorm"},
            {"type": "relu"},
            {"type": "residual", "layers": [{"type": "conv", "out": 8, "k": 3}]},
            {"type": "dwconv", "k": 3},
            {"type": "pwconv", "out": 16},
            {"type": "pool", "op": "avg", "global": True},
            {"type": "linear", "out": 10},
        ],
    }
)

#: (command line, stdin, contract): small inputs that reach every nullable branch of each document.
CASES: list[tuple[tuple[str, ...], str | None, type[msgspec.Struct]]] = [
    (("layer", "--cin", "4", "--cout", "8", "--hw", "8"), None, LayerDocument),
    (
        ("layer", "-M", "3", "-N", "5", "-k", "5x3", "-H", "9", "-W", "7", "-p", "1x2", "--bias"),
        None,
        LayerDocument,
    ),
    (
        ("layer", "--cin", "8", "--cout", "16", "--hw", "8", "-s", "2", "-p", "valid", "-b", "2",
         "--dtype", "fp16", "--profile", "example-desktop"),
        None,
        LayerDocument,
    ),
    (("network", "mobilenet_v1"), None, NetworkDocument),
    (("network", "-", "--dtype", "fp16", "--profile", "example-gpu-a100"), TINY_SPEC, NetworkDocument),
    (("network", "-", "--what-if", "standard", "--profile", "example-laptop"), TINY_SPEC, NetworkDocument),
    (("network", "-", "--what-if", "separable", "-b", "2"), TINY_SPEC, NetworkDocument),
    (("network", "-", "--what-if", "spatial", "--peak-gflops", "100", "--bandwidth-gbs", "10"), TINY_SPEC, NetworkDocument),
    (("presets",), None, PresetsDocument),
    (("sweep",), None, SweepDocument),
    (("sweep", "--cout", "8,16", "-k", "3,5", "--bias", "--measure", "params"), None, SweepDocument),
    (("kernel", "[[1,2,1],[2,4,2],[1,2,1]]"), None, KernelDocument),
    (("kernel", "[[0.5,0.25],[1.5,2]]"), None, KernelDocument),
    (("kernel", "[[0,0],[0,0]]"), None, KernelDocument),
    (("kernel", "[1,2,3]"), None, KernelDocument),
    (("kernel", "[[1e-400,2e-400],[3e-400,7e-400]]", "--tol", "1e-6"), None, KernelDocument),
    # --min-time keeps these short; the budget only has to cover a first numba compile.
    (("bench", "--cin", "4", "--cout", "8", "--hw", "8", "--min-time", "0.05", "-q"), None, BenchDocument),
    (("bench", "-", "--min-time", "0.02", "-q"), TINY_SPEC, NetworkBenchDocument),
]  # fmt: skip


def undocumented(raw: Any, decoded: Any, where: str = "$") -> list[str]:
    """Paths of keys in ``raw`` that the decoded contract does not name (msgspec dropped them)."""
    if isinstance(decoded, msgspec.Struct):
        assert isinstance(raw, dict), where
        names = {field.encode_name for field in msgspec.structs.fields(decoded)}
        found = [f"{where}.{key}" for key in raw if key not in names]
        for key in raw.keys() & names:
            found += undocumented(raw[key], getattr(decoded, key), f"{where}.{key}")
        return found
    if isinstance(decoded, dict):
        return [p for key in raw for p in undocumented(raw[key], decoded[key], f"{where}.{key}")]
    if isinstance(decoded, list | tuple):
        return [
            p
            for index, (item, value) in enumerate(zip(raw, decoded, strict=True))
            for p in undocumented(item, value, f"{where}[{index}]")
        ]
    return []


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with a ``$ref`` into ``$defs`` followed."""
    ref = node.get("$ref")
    if ref is None:
        return node
    prefix = "#/$defs/"
    assert ref.startswith(prefix), ref
    return resolve(schema, schema["$defs"][ref.removeprefix(prefix)])


def refs(node: object) -> list[str]:
    """Every ``$ref`` anywhere inside ``node``."""
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in refs(value)]
    return []


JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(
    schema: dict[str, Any], node: dict[str, Any], value: Any, where: str
) -> list[str]:
    """Where ``value`` breaks ``node`` of ``schema``: a small validator for the subset msgspec emits.

    It checks types (a bool is not an integer, a float is not an integer), required properties,
    anyOf, enum, and array items and prefixItems: independent of msgspec's own decoder.
    """
    node = resolve(schema, node)
    if "anyOf" in node:
        branches = [schema_errors(schema, branch, value, where) for branch in node["anyOf"]]
        return [] if any(not errors for errors in branches) else [f"{where}: no anyOf branch fits"]
    errors: list[str] = []
    kinds = node.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        fits = any(
            isinstance(value, JSON_TYPES[kind])
            and not (isinstance(value, bool) and kind in ("integer", "number"))
            for kind in kinds
        )
        if not fits:
            return [f"{where}: {value!r} is not {kinds}"]
    if "enum" in node and value not in node["enum"]:
        errors.append(f"{where}: {value!r} not in {node['enum']}")
    if isinstance(value, dict):
        errors += [
            f"{where}: missing {key}" for key in node.get("required", []) if key not in value
        ]
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key, extra if isinstance(extra, dict) else None)
            if child is not None:
                errors += schema_errors(schema, child, item, f"{where}.{key}")
    if isinstance(value, list):
        prefix = node.get("prefixItems", [])
        for index, item in enumerate(value):
            child = prefix[index] if index < len(prefix) else node.get("items")
            if child is not None:
                errors += schema_errors(schema, child, item, f"{where}[{index}]")
    return errors


@pytest.mark.parametrize(("args", "stdin", "contract"), CASES, ids=lambda case: str(case)[:60])
def test_each_command_json_decodes_as_its_contract(
    args: tuple[str, ...], stdin: str | None, contract: type[msgspec.Struct]
) -> None:
    """The --json output decodes strictly as the documented contract and has no undocumented key."""
    outcome = run_cli(*args, "--json", input=stdin)
    assert outcome.exit_code == 0, outcome.stderr
    decoded = msgspec.json.decode(outcome.stdout, type=contract)
    raw = json.loads(outcome.stdout)
    missing_from_contract = undocumented(raw, decoded)
    assert not missing_from_contract, (
        f"keys not described in dsc_calc/output/contracts/: {missing_from_contract}"
    )
    command = args[0]
    schema = contracts.json_schema(command)
    assert contract in CONTRACTS[command]
    assert schema_errors(schema, schema, raw, "$") == []


def test_nullable_branches_are_reached() -> None:
    """The cases above produce both null and non-null values of the main nullable keys."""
    plain = run_cli("layer", "--cin", "4", "--cout", "8", "--hw", "8", "--json").json()
    machine = run_cli(
        "layer", "--cin", "4", "--cout", "8", "--hw", "8", "--profile", "example-desktop", "--json"
    ).json()
    assert plain["profile"] is None
    assert plain["standard"]["roofline"] is None
    assert machine["profile"] is not None
    assert machine["ratio"]["time"] is not None
    network = run_cli("network", "-", "--what-if", "standard", "--json", input=TINY_SPEC).json()
    assert network["what_if"] is not None
    assert network["latency"] is None
    zero = run_cli("kernel", "[[0,0],[0,0]]", "--json").json()
    assert zero["cost"]["saving_rank"] is None
    exact = run_cli("kernel", "[[1,2],[2,4]]", "--json").json()
    assert exact["factors"]["scale_exact"] is not None
    assert run_cli("kernel", "[[1,0],[0,1]]", "--json").json()["factors"]["scale_exact"] is None
    geometry = ("kernel", "stride", "padding", "dilation", "groups")
    rows = network["layers"]
    assert any(all(row[key] is None for key in geometry) for row in rows)
    assert any(all(row[key] is not None for key in geometry) for row in rows)


def test_network_row_schema_has_the_geometry() -> None:
    """The network schema's row lists the geometry keys (nullable) and the description."""
    schema = contracts.json_schema("network")
    row = schema["$defs"]["NetworkRow"]
    for key in ("kernel", "stride", "padding", "dilation", "groups"):
        assert key in row["required"]
        assert {"type": "null"} in row["properties"][key]["anyOf"], key
    assert row["properties"]["description"]["type"] == "string"


def test_bench_with_machine_decodes_as_its_contract() -> None:
    """bench --machine fills machine.profile, gemm and copy and each kernel's roofline."""
    outcome = run_cli(
        "bench", "--cin", "4", "--cout", "8", "--hw", "8", "--budget", "1", "-q", "--machine",
        "--json",
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.stderr
    document = msgspec.json.decode(outcome.stdout, type=BenchDocument)
    assert document.machine.profile is not None
    assert document.machine.gemm is not None
    assert document.machine.copy is not None
    assert document.kernels.standard.roofline is not None
    assert undocumented(json.loads(outcome.stdout), document) == []


def layer_json() -> dict[str, Any]:
    result: dict[str, Any] = run_cli(
        "layer", "--cin", "4", "--cout", "8", "--hw", "8", "--json"
    ).json()
    return result


@pytest.mark.torch
def test_bench_vs_torch_decodes_as_its_contract() -> None:
    """bench --vs-torch fills the torch key, described key for key by the contract and schema."""
    pytest.importorskip("torch")
    outcome = run_cli(
        "bench", "--cin", "4", "--cout", "8", "--hw", "8", "--budget", "1", "-q", "--vs-torch",
        "--json",
    )  # fmt: skip
    assert outcome.exit_code == 0, outcome.stderr
    document = msgspec.json.decode(outcome.stdout, type=BenchDocument)
    assert document.torch is not None
    raw = json.loads(outcome.stdout)
    assert undocumented(raw, document) == []
    schema = contracts.json_schema("bench")
    assert schema_errors(schema, schema, raw, "$") == []


def test_contract_tolerates_added_keys() -> None:
    """A document with keys added at the top and deep inside still decodes (additive-friendly)."""
    document = layer_json()
    document["added_later"] = {"anything": [1, 2]}
    document["standard"]["memory"]["added_later"] = 1
    document["ratio"]["exact"]["added_later"] = "x"
    decoded = msgspec.json.decode(json.dumps(document), type=LayerDocument)
    assert decoded.standard.memory.access_cost == document["standard"]["memory"]["access_cost"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("standard", "macs"), 1.5),  # an int key given a float
        (("config", "bias"), 1),  # a bool given an int
        (("ratio", "params"), "0.5"),  # a ratio given a string
        (("config", "kernel"), [3]),  # a pair given one number
        (("notes",), None),  # a non-nullable key given null
    ],
)
def test_contract_refuses_a_wrong_type(path: tuple[str, ...], value: object) -> None:
    """A documented key with the wrong type is refused, naming the key's path."""
    document = layer_json()
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(msgspec.ValidationError, match=path[-1]):
        msgspec.json.decode(json.dumps(document), type=LayerDocument)


def test_contract_refuses_a_missing_key() -> None:
    """Every documented key is required: a document without one is refused, naming it."""
    document = layer_json()
    del document["separable"]["depthwise"]["flops"]
    with pytest.raises(msgspec.ValidationError, match="flops"):
        msgspec.json.decode(json.dumps(document), type=LayerDocument)


@pytest.mark.parametrize("command", sorted(CONTRACTS))
def test_schema_structure(command: str) -> None:
    """Each schema is draft 2020-12, every $ref resolves, and objects list properties and required."""
    schema = contracts.json_schema(command)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == f"dsc-calc {command} --json"
    assert "$ref" in schema or "anyOf" in schema
    for ref in refs(schema):
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref
    for name, definition in schema["$defs"].items():
        if definition.get("type") == "object":
            assert definition["properties"], name
            assert set(definition["required"]) <= set(definition["properties"]), name
            assert definition.get("additionalProperties") is not False, name
    roots = [resolve(schema, branch) for branch in schema.get("anyOf", [schema])]
    for root, contract in zip(roots, CONTRACTS[command], strict=True):
        fields = msgspec.structs.fields(contract)
        assert set(root["required"]) == {field.encode_name for field in fields if field.required}


def test_every_documented_key_is_required_except_blas_threading_layer() -> None:
    """Only Blas.threading_layer (absent when no BLAS is found) may be missing from a document."""
    modules = [
        importlib.import_module(f"{contracts.__name__}.{info.name}")
        for info in pkgutil.iter_modules(contracts.__path__)
    ]
    optional = sorted(
        {
            f"{name}.{field.name}"
            for module in modules
            for name, definition in vars(module).items()
            if isinstance(definition, type) and issubclass(definition, msgspec.Struct)
            for field in msgspec.structs.fields(definition)
            if not field.required
        }
    )
    assert optional == ["Blas.threading_layer"]


@pytest.mark.parametrize("command", sorted(CONTRACTS))
def test_schema_command_prints_each_schema(command: str) -> None:
    """dsc-calc schema WHAT and dsc-calc schema --output WHAT both print that command's schema."""
    expected = contracts.json_schema(command)
    for args in (("schema", command), ("schema", "--output", command)):
        outcome = run_cli(*args)
        assert outcome.exit_code == 0, outcome.stderr
        assert outcome.stderr == ""
        assert outcome.json() == expected


def test_schema_default_is_the_network_spec() -> None:
    """With no WHAT, and with WHAT spec, dsc-calc schema prints the network spec's schema."""
    from dsc_calc.network.spec import json_schema

    for args in (("schema",), ("schema", "spec"), ("schema", "--output", "spec")):
        assert run_cli(*args).json() == json_schema()


def test_schema_same_choice_twice_is_fine() -> None:
    """Giving the same choice as WHAT and as --output prints that schema."""
    assert run_cli("schema", "kernel", "--output", "kernel").json() == contracts.json_schema(
        "kernel"
    )


def test_schema_unknown_what_is_one_clean_line() -> None:
    """An unknown WHAT (or --output) is a usage error: one line naming it and the choices."""
    assert_clean_error(run_cli("schema", "nonsense"), "nonsense", "layer", code=2)
    assert_clean_error(run_cli("schema", "--output", "nonsense"), "nonsense", "bench", code=2)


def test_schema_conflicting_choices_are_one_clean_line() -> None:
    """WHAT and --output naming different documents is refused with one line naming both."""
    assert_clean_error(
        run_cli("schema", "layer", "--output", "bench"), "--output", "layer", "bench"
    )


def test_schema_help_explains_output_is_not_a_file() -> None:
    """schema --help lists the choices, shows an example and says --output names no file."""
    outcome = run_cli("schema", "--help")
    assert outcome.exit_code == 0
    flat = " ".join(outcome.stdout.split())
    for word in ("spec", "layer", "network", "bench", "sweep", "kernel", "presets", "Example"):
        assert word in flat, word
    assert "not a file" in flat


def test_cli_import_does_not_load_the_contracts_or_the_spec_decoder() -> None:
    """Importing the CLI (every command's startup) loads neither dsc_calc.output.contracts nor the
    spec's Structs (the contracts are for `schema` and the tests; the spec for `network`)."""
    code = "import sys; from dsc_calc.cli import app; print('dsc_calc.output.contracts' in sys.modules, 'dsc_calc.network.spec' in sys.modules)"
    printed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert printed == ["False", "False"]


def test_schema_validator_is_not_vacuous() -> None:
    """The small validator above flags a float for an int, a missing key and a bool for an int."""
    schema = contracts.json_schema("layer")
    document = layer_json()
    document["standard"]["macs"] = 1.5
    del document["output"]["width"]
    document["config"]["groups"] = True
    errors = schema_errors(schema, schema, document, "$")
    assert any("standard.macs" in error for error in errors)
    assert any("missing width" in error for error in errors)
    assert any("config.groups" in error for error in errors)


def test_every_contract_type_is_still_reachable_from_the_package() -> None:
    """The contracts were one module: each of their types (NetworkRow, Roofline, ...) still
    loads from ``dsc_calc.output.contracts`` by name, as the class its own module defines."""
    reached = 0
    for info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"{contracts.__name__}.{info.name}")
        for name, definition in vars(module).items():
            ours = isinstance(definition, type) and definition.__module__ == module.__name__
            if ours and issubclass(definition, msgspec.Struct):
                assert getattr(contracts, name) is definition
                reached += 1
    assert reached > 60
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        contracts.Nope  # noqa: B018 - the access is the test
