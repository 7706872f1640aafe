"""``dsc-calc schema``: the JSON Schema of the network spec, or of a command's --json document.

The schemas come from msgspec types (:mod:`dsc_calc.network.spec`,
:mod:`dsc_calc.output.contracts`), imported inside the command so that no other command pays for
building them.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from dsc_calc.cli._app import app, examples
from dsc_calc.errors import DscCalcError


class SchemaChoice(StrEnum):
    """Which JSON Schema ``dsc-calc schema`` prints: the spec's, or a command's --json output."""

    spec = "spec"
    layer = "layer"
    network = "network"
    bench = "bench"
    sweep = "sweep"
    kernel = "kernel"
    presets = "presets"


def _schema_choice(value: str | None) -> SchemaChoice | None:
    """WHAT or --output as a :class:`SchemaChoice`; a usage error (exit 2) names the choices.

    The parameters are typed ``str`` so that --help shows ``WHAT``: Rich breaks a long
    ``<spec|layer|…>`` type column in the middle of a choice at 80 columns.
    """
    if value is None:
        return None
    try:
        return SchemaChoice(value)
    except ValueError:
        choices = ", ".join(repr(choice.value) for choice in SchemaChoice)
        raise typer.BadParameter(f"{value!r} is not one of {choices}.") from None


@app.command(
    epilog=examples(
        "dsc-calc schema > network-spec.schema.json",
        "dsc-calc schema layer",
        "dsc-calc schema --output bench > bench.schema.json",
    )
)
def schema(
    what: Annotated[
        str | None,
        typer.Argument(
            help="spec: the network spec that 'dsc-calc network' reads (the default); "
            "layer, network, bench (a layer or a network), sweep, kernel, presets (the listing): "
            "the document that command prints with --json.",
            metavar="[WHAT]",
            show_default=False,
            callback=_schema_choice,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            help="The same choice as WHAT, spelled as an option. Unlike other commands' "
            "-o/--output FILE it names a document, not a file: redirect stdout to save it.",
            metavar="WHAT",
            show_default=False,
            callback=_schema_choice,
        ),
    ] = None,
) -> None:
    """Print a JSON Schema (draft 2020-12): of the network spec, or of a command's JSON output.

    The JSON output of every command is a stable contract: keys are only added; removing or renaming one takes a major version and a changelog entry. The schemas leave additionalProperties open: validate against them and ignore keys you do not know.
    """  # noqa: E501 - Rich re-wraps help paragraphs
    what_choice, output_choice = _schema_choice(what), _schema_choice(output)  # callbacks ran
    if what_choice is not None and output_choice is not None and what_choice is not output_choice:
        raise DscCalcError(
            "--output",
            f"names {output_choice.value!r} but WHAT names {what_choice.value!r}; give one of them",
        )
    chosen = what_choice or output_choice or SchemaChoice.spec
    if chosen is SchemaChoice.spec:
        from dsc_calc.network.spec import json_schema

        document = json_schema()
    else:
        from dsc_calc.output.contracts import json_schema as contract_schema

        document = contract_schema(chosen.value)
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
