"""Reading a network: a spec file, standard input or a preset, with the size limits checked first.

``load_network`` reads the bytes (never more than :data:`MAX_SPEC_BYTES`), decodes them with
:mod:`dsc_calc.network.spec` (the spec Structs, imported only here) and applies ``--alpha`` (see
:mod:`dsc_calc.network.width`) and ``--resolution``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dsc_calc.errors import DscCalcError
from dsc_calc.network.width import scale_width

if TYPE_CHECKING:
    from dsc_calc.network.spec import NetworkSpec

#: Refuse spec files larger than this (bytes) before reading them.
MAX_SPEC_BYTES = 64 * 2**20


def load_network(
    source: str,
    *,
    alpha: float | None = None,
    resolution: int | None = None,
    stdin: bytes | None = None,
) -> NetworkSpec:
    """A spec from a file path, ``-`` (standard input, or ``stdin``) or a preset name.

    ``alpha`` scales channels with the spec's family rounding (see :func:`scale_width`);
    ``resolution`` replaces the input height and width.
    """
    from dsc_calc.files import read_stdin
    from dsc_calc.network import presets
    from dsc_calc.network import spec as specs
    from dsc_calc.network.decode import decode

    if source == "-":
        data = stdin if stdin is not None else read_stdin(MAX_SPEC_BYTES)
        where = "standard input"
    elif source in presets.names() and not Path(source).exists():
        data = presets.read(source)
        where = f"preset {source}"
    else:
        data = _read_file(source)
        where = source
    if len(data) > MAX_SPEC_BYTES:
        raise DscCalcError(where, f"is larger than the {MAX_SPEC_BYTES // 2**20} MiB spec limit")
    if not data.strip():
        raise DscCalcError(where, "is empty; a spec is a JSON object with input and layers")
    try:
        network = decode(data)
    except DscCalcError as error:
        raise DscCalcError(where, error.problem) if error.where == "spec" else error from None
    if alpha is not None:
        network = scale_width(network, alpha)
    if resolution is not None:
        check_int(resolution, "resolution")
        network = specs.replace(
            network,
            input=specs.Input(channels=network.input.channels, height=resolution, width=resolution),
        )
    return network


def check_int(value: int, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise DscCalcError(where, f"must be a positive integer, got {value!r}")


def _read_file(source: str) -> bytes:
    from dsc_calc.files import read_bounded
    from dsc_calc.network import presets

    hint = f"; presets: {', '.join(presets.names())}" if "/" not in source else ""
    try:
        missing = bool(source) and not Path(source).exists()
    except OSError:  # a name too long, a folder without search permission: the reader says so
        missing = False
    if missing:
        raise DscCalcError(source, f"no such file or preset{hint}")
    return read_bounded(source, MAX_SPEC_BYTES, where=source or "SPEC", what="spec")
