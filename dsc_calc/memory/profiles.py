"""Machine profiles for the roofline estimate: a JSON file format, a loader, shipped examples.

A profile file is one JSON object, exactly the one ``dsc-calc bench --machine --save-profile FILE``
writes::

    {"name": str, "peak_gflops": float, "bandwidth_gbs": float, "source": str, "details": {...}}

and optionally ``"peaks_gflops": {"fp16": float, "bf16": float, "int8": float}``: peaks of other
data types (a GPU's tensor cores), any subset; ``peak_gflops`` is always the fp32 peak, and
``--dtype fp16`` uses ``peaks_gflops.fp16`` when the profile has it (bench does not write it).
``source`` says where the figures come from and ``details`` holds anything that backs them (the
measurement, or the spec-sheet arithmetic); both are optional when writing one by hand. Unknown keys
are refused. The package ships a few example profiles (``dsc_calc/memory/profiles/*.json``), named
by their file stem: theoretical peaks worked out from vendor spec sheets, labelled as examples.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import msgspec

from dsc_calc.errors import DscCalcError
from dsc_calc.memory.traffic import DTYPE_BYTES, MAX_RATE, MIN_RATE, MachineProfile

#: The largest profile file read (a measured profile is well under 4 KiB).
MAX_PROFILE_BYTES = 1 << 20
#: The keys of a profile file, in order.
PROFILE_FIELDS = ("name", "peak_gflops", "bandwidth_gbs", "source", "details", "peaks_gflops")


def shipped_profiles() -> list[str]:
    """Names of the example profiles shipped with the package, sorted."""
    from importlib import resources

    folder = resources.files("dsc_calc.memory").joinpath("profiles")
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


def load_profile(path_or_name: str | Path) -> MachineProfile:
    """The profile in the file ``path_or_name``, or the shipped example profile of that name.

    An existing file wins over a shipped name. Errors name the file and the key at fault
    (``my.json: peak_gflops: ...``).
    """
    text = str(path_or_name)
    path = Path(text)
    try:
        exists = path.exists()
    except OSError:  # a name too long, a folder without search permission: the reader says so
        exists = True
    if exists:
        return decode_profile(_read(path), label=text)
    name = text.removesuffix(".json")
    if name in shipped_profiles() and "/" not in text and "\\" not in text:
        from importlib import resources

        entry = resources.files("dsc_calc.memory").joinpath("profiles", f"{name}.json")
        return decode_profile(entry.read_bytes(), label=name)
    raise DscCalcError(
        text,
        "no such profile file, and no shipped example profile of that name; give the path of a "
        "JSON file (as written by `dsc-calc bench --machine --save-profile FILE`) or one of: "
        + ", ".join(shipped_profiles()),
    )


def _read(path: Path) -> bytes:
    from dsc_calc.files import read_bounded

    return read_bounded(path, MAX_PROFILE_BYTES, where=str(path), what="profile", stdin_ok=False)


@cache
def _profile_struct() -> Any:
    """The profile file as a msgspec Struct type, built on the first decode (its per-dtype peaks
    come from the data types the traffic model knows)."""
    rate = Annotated[float, msgspec.Meta(ge=MIN_RATE, le=MAX_RATE)]
    return msgspec.defstruct(
        "ProfileFile",
        [
            ("name", Annotated[str, msgspec.Meta(min_length=1, max_length=200)]),
            ("peak_gflops", rate),
            ("bandwidth_gbs", rate),
            ("source", str, ""),
            ("details", dict[str, Any], msgspec.field(default_factory=dict)),
            ("peaks_gflops", _peaks_struct(rate) | None, None),
        ],
        forbid_unknown_fields=True,
        frozen=True,
    )


def _peaks_struct(rate: Any) -> Any:
    """The optional per-dtype peaks: a Struct of the non-fp32 types, as a dict after decoding."""
    fields = [(dtype, rate | None, None) for dtype in DTYPE_BYTES if dtype != "fp32"]
    return msgspec.defstruct("PeaksGflops", fields, forbid_unknown_fields=True, frozen=True)


def decode_profile(data: bytes, *, label: str = "profile") -> MachineProfile:
    """Decode a profile file's bytes; errors name ``label`` (the file) and the key at fault."""
    try:
        document = msgspec.json.decode(data, type=_profile_struct())
    except msgspec.ValidationError as error:
        where, problem = _reword(str(error))
        if where in _RATES and (shown := _value_at(data, where)):
            problem += f", got {shown}"
        raise DscCalcError(f"{label}: {where}" if where else label, problem) from None
    except msgspec.DecodeError as error:
        raise DscCalcError(
            label, f"is not valid JSON ({error}); a profile file is one JSON object"
        ) from None
    from dsc_calc.files import duplicate_key

    if (found := duplicate_key(data)) is not None:  # a profile is small: always checked
        place, key = found
        raise DscCalcError(f"{label}: {place}" if place else label, f"has the key {key!r} twice")
    return MachineProfile(
        name=document.name,
        peak_gflops=float(document.peak_gflops),
        bandwidth_gbs=float(document.bandwidth_gbs),
        source=document.source,
        peaks_gflops=_peaks(document.peaks_gflops),
    )


#: The keys that hold a rate, as the error messages name them.
_RATES = (
    "peak_gflops",
    "bandwidth_gbs",
    "peaks_gflops.fp16",
    "peaks_gflops.bf16",
    "peaks_gflops.int8",
)


def _peaks(peaks: Any) -> dict[str, float]:
    """The decoded ``peaks_gflops`` Struct (or None) as a dict of the types it gives."""
    if peaks is None:
        return {}
    fields: tuple[str, ...] = peaks.__struct_fields__
    return {dtype: float(peak) for dtype in fields if (peak := getattr(peaks, dtype)) is not None}


def _value_at(data: bytes, key: str) -> str | None:
    """The JSON text of ``key`` (``a.b``: nested) in the valid JSON object ``data``, shortened."""
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError:  # a number too large for a float
        return "a number out of range"
    for part in key.split("."):
        if not isinstance(document, dict) or part not in document:
            return None
        document = document[part]
    return msgspec.json.encode(document).decode()[:40]


def _reword(message: str) -> tuple[str, str]:
    """msgspec's ``Expected `float`, got `str` - at `$.peak_gflops``` as (place, problem)."""
    problem, _, at = message.partition(" - at `$")
    path = at.removesuffix("`").removeprefix(".")
    fields = ", ".join(PROFILE_FIELDS)
    if missing := re.fullmatch(r"Object missing required field `(\w+)`", problem):
        return missing[1], f"is missing; a profile file has the keys {fields}"
    if unknown := re.fullmatch(r"Object contains unknown field `(.*)`", problem):
        where = f"{path}.{unknown[1]}" if path else unknown[1]
        if path == "peaks_gflops":
            return where, "is not a known data type; peaks_gflops has the keys fp16, bf16, int8"
        return where, f"is not a known key; a profile file has only the keys {fields}"
    if path in _RATES:
        return path, f"must be a number from {MIN_RATE:g} to {MAX_RATE:g}"
    if not path and problem.startswith("Expected `object`"):
        return "", f"must be a JSON object with the keys {fields} ({problem})"
    return path, problem[:1].lower() + problem[1:]
