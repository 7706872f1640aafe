"""The contract of ``dsc-calc presets --json``: the shipped presets beside their papers' figures."""

from typing import Annotated

import msgspec

from dsc_calc.output.contracts.common import Shape, _Contract


class PresetEntry(_Contract):
    """One shipped preset: what dsc-calc counts beside what its paper prints.

    ``input`` (the string) is deprecated in favour of ``input_shape`` and stays until a major
    version, as the stability promise requires.
    """

    name: str
    family: str | None
    source: str | None
    input: Annotated[
        str,
        msgspec.Meta(
            description="CxHxW, e.g. 3×224×224. Deprecated: read input_shape; kept while the "
            "stability promise holds (removal takes a major version).",
            extra_json_schema={"deprecated": True},
        ),
    ]
    input_shape: Annotated[Shape, msgspec.Meta(description="The input, as every document has it.")]
    params: int
    macs: int
    published_params: str
    published_macs: str
    published_source: str


class PresetsDocument(_Contract):
    """dsc-calc presets --json: the shipped presets."""

    presets: list[PresetEntry]
