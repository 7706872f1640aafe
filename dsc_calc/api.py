"""The Python API for whole networks: :func:`load_network` and :func:`analyse`.

Both are exported from the top-level package, lazily: ``import dsc_calc`` does not import the
spec decoder (msgspec) or the network walker until one of them is first used.

A spec comes as a preset name, a path to a JSON file, or a dict (parsed JSON, the same document a
spec file holds)::

    >>> import dsc_calc
    >>> report = dsc_calc.analyse("mobilenet_v1")
    >>> report.totals.params, report.totals.macs
    (4231976, 568740352)
    >>> spec = {"input": {"channels": 3, "height": 8, "width": 8},
    ...         "layers": [{"type": "conv", "out": 4, "k": 3, "padding": 1, "bias": False}]}
    >>> report = dsc_calc.analyse(dsc_calc.load_network(spec))
    >>> report.totals.params, report.totals.macs  # 3·4·3·3 weights, each used on 8·8 pixels
    (108, 6912)

Bad arguments raise :class:`~dsc_calc.errors.DscCalcError` naming the argument, never a
``TypeError`` or ``AttributeError`` from deep inside::

    >>> dsc_calc.analyse(42)
    Traceback (most recent call last):
    ...
    dsc_calc.errors.DscCalcError: spec: must be a preset name, ... got int
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from collections.abc import Callable

    from dsc_calc.network.report import NetworkReport
    from dsc_calc.network.spec import NetworkSpec

#: The loader calls a dict spec "standard input" (it is read as stdin would be): here, "spec".
_ARGUMENTS = {"standard input": "spec"}


def load_network(
    source: str | os.PathLike[str] | Mapping[str, object],
    *,
    alpha: float | None = None,
    resolution: int | None = None,
) -> NetworkSpec:
    """The spec in ``source``: a preset name, a path to a spec JSON file, or a spec dict.

    ``alpha`` scales the channels with the spec family's rounding (MobileNet's width multiplier);
    ``resolution`` replaces the input height and width. The dict is the JSON object a spec file
    holds (``{"input": {...}, "layers": [...]}``) and is checked exactly as a file is.
    """
    from dsc_calc.network import load

    if isinstance(source, Mapping):
        try:
            data = json.dumps(source, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as error:
            raise DscCalcError("spec", f"is not JSON data ({error})") from None
        return _relabelled(
            lambda: load.load_network("-", alpha=alpha, resolution=resolution, stdin=data)
        )
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise DscCalcError("source", f"must be a text path, got {type(path).__name__}")
        if path == "-":
            raise DscCalcError(
                "source", "'-' (standard input) is for the CLI; read the text and pass a dict"
            )
        return _relabelled(lambda: load.load_network(path, alpha=alpha, resolution=resolution))
    raise DscCalcError(
        "source",
        f"must be a preset name, a path to a spec file or a spec dict, got {type(source).__name__}",
    )


def analyse(
    spec: str | os.PathLike[str] | Mapping[str, object] | NetworkSpec,
    *,
    batch: int = 1,
    what_if: str | None = None,
) -> NetworkReport:
    """Params, MACs and FLOPs of every layer of ``spec`` and their totals.

    ``spec`` is a loaded spec (:func:`load_network`), or anything :func:`load_network` takes.
    ``batch`` scales MACs; ``what_if`` (``separable``, ``standard`` or ``spatial``) adds the
    redesigned network's totals under ``what_if``.
    """
    from dsc_calc.network import walk
    from dsc_calc.network.spec import NetworkSpec

    if isinstance(spec, str | os.PathLike | Mapping):
        try:
            spec = load_network(spec)
        except DscCalcError as error:
            raise error.renamed({"source": "spec"}) from None
    if not isinstance(spec, NetworkSpec):
        raise DscCalcError(
            "spec",
            "must be a preset name, a path to a spec file, a spec dict or a loaded spec, "
            f"got {type(spec).__name__}",
        )
    return walk.analyse(spec, batch=batch, what_if=what_if)


def _relabelled(load: Callable[[], NetworkSpec]) -> NetworkSpec:
    """Run the loader; its errors name the API's arguments, not the CLI's options."""
    try:
        return load()
    except DscCalcError as error:
        raise error.renamed(_ARGUMENTS) from None
