"""The JSON contracts of the commands: what ``dsc-calc COMMAND --json`` prints, as msgspec types.

Each ``*Document`` Struct mirrors a report's ``to_dict()`` key for key: ints are ``int``, ratios
and times ``float``, and a key that can be ``null`` is ``X | None`` (still required). Decoding is
additive-friendly: keys a contract does not name are ignored (msgspec's default), so a script
that decodes with these types keeps working when a release adds keys; a missing key or a value of
the wrong type is an error. Keys are only ever added; removing or renaming one is a major version
and a changelog entry.

Value sets that may grow (a row's ``kind``, a roofline ``bound``) are typed ``str`` and name their
values in a description, so that a new value is an addition, not a break.

Each command's document types live in a module of their own (``layer``, ``network``, ``presets``,
``bench``, ``sweep``, ``kernel``), the pieces they share in ``common``. This package exports each
command's document type (``LayerDocument``, ...), :data:`CONTRACTS` and :func:`json_schema`. It
imports msgspec at import time: only ``dsc-calc schema`` and the tests import it.
"""

from typing import Any

import msgspec

from dsc_calc.output.contracts.bench import BenchDocument, NetworkBenchDocument
from dsc_calc.output.contracts.common import _Contract
from dsc_calc.output.contracts.kernel import KernelDocument
from dsc_calc.output.contracts.layer import LayerDocument
from dsc_calc.output.contracts.network import NetworkDocument
from dsc_calc.output.contracts.presets import PresetsDocument
from dsc_calc.output.contracts.sweep import SweepDocument

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

__all__ = [
    "CONTRACTS",
    "JSON_SCHEMA_DIALECT",
    "BenchDocument",
    "KernelDocument",
    "LayerDocument",
    "NetworkBenchDocument",
    "NetworkDocument",
    "PresetsDocument",
    "SweepDocument",
    "json_schema",
]


def __getattr__(name: str) -> Any:
    """The component types (``NetworkRow``, ``Roofline``, ...) by name from the module that
    defines them, as when the contracts were one module."""
    import pkgutil
    from importlib import import_module

    for module in pkgutil.iter_modules(__path__):
        value = getattr(import_module(f"{__name__}.{module.name}"), name, None)
        if isinstance(value, type) and issubclass(value, msgspec.Struct):
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- the catalogue --------------------------------------------------------------------------------

#: Each command's document types: ``bench`` has one per mode (a layer, or a network).
CONTRACTS: dict[str, tuple[type[_Contract], ...]] = {
    "layer": (LayerDocument,),
    "network": (NetworkDocument,),
    "bench": (BenchDocument, NetworkBenchDocument),
    "sweep": (SweepDocument,),
    "kernel": (KernelDocument,),
    "presets": (PresetsDocument,),
}


def json_schema(command: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``dsc-calc COMMAND --json``.

    A command with one document gets its ``$ref``; ``bench`` gets ``anyOf`` its two modes.
    ``additionalProperties`` is left open: documents may gain keys.
    """
    types = CONTRACTS[command]
    schemas, definitions = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    root: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT}
    if len(schemas) == 1:
        root.update(schemas[0])
    else:
        root["anyOf"] = list(schemas)
    root["title"] = f"dsc-calc {command} --json"
    root["$defs"] = dict(definitions)
    return root
