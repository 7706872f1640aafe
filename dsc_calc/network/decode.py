"""Decoding a JSON spec into the Structs of :mod:`dsc_calc.network.spec`, with errors in our words.

:func:`decode` reads bytes (a byte-order mark skipped, integers beyond 64 bits named, duplicate
keys refused) and :func:`convert` validates parsed JSON; msgspec's errors are re-worded by
:func:`reword` to dsc-calc's style: the exact place (``layers[3].stride``), what is wrong with the
value, and the known choices.

Like :mod:`dsc_calc.network.spec`, this module imports msgspec at import time.
"""

from __future__ import annotations

import re

import msgspec

from dsc_calc.choices import ACTIVATIONS, FAMILIES
from dsc_calc.errors import DscCalcError
from dsc_calc.network.spec import BLOCK_KEYS, LAYER_TYPES, MAX_REPEAT, Input, NetworkSpec

_LOCATION = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")

#: What each key accepts, said the way a user would fix it.
_EXPECTED = {
    "k": "a positive integer or a pair [h, w]",
    "stride": "a positive integer or a pair [h, w]",
    "dilation": "a positive integer or a pair [h, w]",
    "padding": "'same', 'valid', a non-negative integer or a pair [h, w]",
    "out": "a positive integer",
    "groups": "a positive integer",
    "multiplier": "a positive integer",
    "squeeze": "a positive integer",
    "expand_channels": "a positive integer",
    "channels": "a positive integer",
    "height": "a positive integer",
    "width": "a positive integer",
    "repeat": f"an integer from 1 to {MAX_REPEAT}",
    "expand": "a positive number",
    "ratio": "a positive number",
    "bias": "true or false",
    "bn": "true or false",
    "se": "true or false",
    "global": "true or false",
    "ceil_mode": "true or false",
    "output_size": "a positive integer or a pair [h, w]",
    "output_padding": "a non-negative integer or a pair [h, w]",
    "scale": "a positive integer or a pair [h, w]",
    "split": "true, false or a list of positive channel counts",
    "branches": "a list of branches, each a list of layers",
    "p": "a number in [0, 1)",
    "name": "a string",
    "source": "a string",
    "description": "a string",
    "layers": "a list of layers",
    "shortcut": "a list of layers",
    "input": 'an object {"channels": C, "height": H, "width": W}',
}
_CHOICES = {
    "act": ACTIVATIONS,
    "gate": ACTIVATIONS,
    "op": ("max", "avg"),
    "merge": ("concat", "add"),
    "mode": ("nearest", "bilinear"),
    "family": FAMILIES,
    "padding": ("same", "valid"),
}


def _field_names(cls: type[msgspec.Struct]) -> list[str]:
    return [field.encode_name for field in msgspec.structs.fields(cls)]


def _known_types() -> str:
    return ", ".join(sorted(LAYER_TYPES))


def _lookup(document: object, tokens: list[str | int]) -> object:
    value = document
    for token in tokens:
        if isinstance(value, list) and isinstance(token, int) and token < len(value):
            value = value[token]
            continue
        if not (isinstance(value, dict) and isinstance(token, str) and token in value):
            return None
        value = value[token]
    return value


def _place(tokens: list[str | int]) -> str:
    text = "".join(f"[{t}]" if isinstance(t, int) else f".{t}" for t in tokens)
    return text.removeprefix(".")


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _struct_at(document: object, tokens: list[str | int]) -> type[msgspec.Struct] | None:
    """The Struct class that decodes the object at ``tokens``."""
    if not tokens:
        return NetworkSpec
    if tokens == ["input"]:
        return Input
    value = _lookup(document, tokens)
    if isinstance(value, dict):
        return LAYER_TYPES.get(str(value.get("type")))
    return None


def reword(error: msgspec.ValidationError, document: object) -> DscCalcError:  # noqa: PLR0912
    """msgspec's message as a :class:`DscCalcError` naming the place, the value and the fix."""
    match = _LOCATION.match(str(error))
    message = match.group("message") if match else str(error)
    path = (match.group("path") if match else None) or ""
    tokens: list[str | int] = [
        int(index) if index else name for name, index in _TOKEN.findall(path)
    ]
    where = _place(tokens)
    value = _lookup(document, tokens)
    key = next((t for t in reversed(tokens) if isinstance(t, str)), "")
    got = f"got {_show(value)}"

    if message.startswith("Object contains unknown field"):
        unknown = message[message.index("`") + 1 : message.rindex("`")]
        cls = _struct_at(document, tokens)
        known = ", ".join(_field_names(cls)) if cls else "?"
        what = f"a {cls.__struct_config__.tag!r} layer" if cls and tokens else "this object"
        if cls is NetworkSpec:
            what = "the spec"
        elif cls is Input:
            what = "input"
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,39}", unknown) is None:
            # A key that would not read as a path (empty, spaces, newlines, 1 MB long): quoted.
            return DscCalcError(
                where or "spec", f"unknown key {_show(unknown)}; the keys of {what} are: {known}"
            )
        return DscCalcError(
            _place([*tokens, unknown]), f"unknown key; the keys of {what} are: {known}"
        )
    if message.startswith("Object missing required field"):
        missing = message.split("`")[1]
        if missing == "type":
            return DscCalcError(
                where,
                'a layer needs a "type" (or is a {"repeat": n, "layers": [...]} block); '
                f"known types: {_known_types()}",
            )
        return DscCalcError(_place([*tokens, missing]), "is required but missing")
    if tokens and isinstance(tokens[-1], int) and message.startswith("Expected `object`"):
        return DscCalcError(
            where,
            f'must be a layer object such as {{"type": "relu"}}, {got}; '
            f"known types: {_known_types()}",
        )
    if key == "type" and message.startswith(("Invalid value", "Expected")):
        return DscCalcError(
            where, f"unknown layer type {_show(value)}; known types: {_known_types()}"
        )
    if message.startswith("Invalid enum value") and key in _CHOICES:
        choices = ", ".join(repr(c) for c in _CHOICES[key])
        if key == "padding":
            choices += ", a non-negative integer or a pair [h, w]"
        return DscCalcError(where, f"must be one of {choices}; {got}")
    if message.startswith("Expected `object`") and not tokens:
        return DscCalcError("spec", f"must be a JSON object with input and layers, {got}")
    bound = re.search(r"Expected `(\w+)` (>=|>|<=|<) ([\d.e+]+)", message)
    too_long = re.match(r"Expected `str` of length <= (\d+)", message)
    if too_long and isinstance(value, str):
        return DscCalcError(
            where, f"must be at most {too_long.group(1)} characters, got {len(value)}; shorten it"
        )
    if message.startswith("Expected `array` of length >= 1") and value == []:
        return DscCalcError(where, "must not be empty: list at least one layer")
    if bound and bound.group(1) == "array":
        return DscCalcError(where, f"must be {_EXPECTED.get(key, 'a pair [h, w]')}, {got}")
    if bound:
        op, limit = bound.group(2), bound.group(3)
        if op == ">=" and limit == "1":
            return DscCalcError(where, f"must be a positive integer, {got}")
        if op == ">=" and limit == "0":
            return DscCalcError(where, f"must be a non-negative integer, {got}")
        if op == ">":
            return DscCalcError(where, f"must be a positive number, {got}")
        return DscCalcError(where, f"must be at most {limit}, {got}")
    if message.startswith("Expected"):
        expected = _EXPECTED.get(key) or (
            "one of " + ", ".join(repr(c) for c in _CHOICES[key]) if key in _CHOICES else None
        )
        if expected is None:
            expected = message.removeprefix("Expected ").split(",")[0].replace("`", "")
        return DscCalcError(where or "spec", f"must be {expected}, {got}")
    # A __post_init__ check (pool) or anything else: msgspec's own words, with our place.
    return DscCalcError(where or "spec", message[:1].lower() + message[1:])


def _tag_repeats(value: object, depth: int = 0) -> None:
    """Give ``{"repeat": n, "layers": [...]}`` blocks their implicit ``type`` (in place)."""
    if depth > MAX_NESTING:
        raise DscCalcError("layers", f"blocks are nested more than {MAX_NESTING} deep")
    if isinstance(value, list):
        for item in value:
            _tag_repeats(item, depth + 1)
    elif isinstance(value, dict):
        if "repeat" in value and "type" not in value:
            value["type"] = "repeat"
        for key in BLOCK_KEYS:
            if key in value:
                _tag_repeats(value[key], depth + 1)


#: How deep blocks (repeat, residual) may nest, counting their lists: far beyond any real network.
MAX_NESTING = 64


def decode(data: bytes) -> NetworkSpec:
    """Decode and validate a JSON spec; every problem is a one-line :class:`DscCalcError`.

    A leading UTF-8 byte-order mark (as some Windows editors write) is skipped. Integers beyond
    64 bits, which msgspec cannot hold, are re-read with :mod:`json` so that the error names
    their place in the spec.
    """
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        document = msgspec.json.decode(data)
    except RecursionError:
        raise DscCalcError("spec", "the JSON is nested too deeply") from None
    except UnicodeDecodeError as error:
        bad = error.object[error.start : error.start + 1].hex()
        raise DscCalcError(
            "spec", f"is not UTF-8 text (a string holds the byte 0x{bad}); save it as UTF-8"
        ) from None
    except msgspec.DecodeError as error:
        if "out of range" not in str(error):
            if surrogate := _LONE_SURROGATE.search(data):
                raise DscCalcError(
                    "spec",
                    f'holds the lone surrogate escape "{surrogate[0].decode()}" (at byte '
                    f"{surrogate.start():,}), which is no character; remove it or write the "
                    "character itself",
                ) from None
            raise DscCalcError("spec", f"is not valid JSON ({error}); check the file") from None
        document = _decode_wide(data, error)
    refuse_duplicate_keys(data, document)
    return convert(document)


#: A ``\\uD800``-``\\uDFFF`` escape not part of a high + low pair (msgspec says "truncated").
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
#: A key with white space before its colon, which ``count(b'":')`` would miss.
_SPACED_COLON = re.compile(rb'"[ \t\r\n]+:')


def refuse_duplicate_keys(data: bytes, document: object) -> None:
    """Refuse a key given twice in one object (``{"type": "conv", "type": "relu"}``).

    msgspec, like :mod:`json`, keeps the last value silently. The cheap test first: the colons
    after a closing quote in ``data`` against the keys the decoded spec holds (0.1 s + 0.3 s on a
    64 MiB spec). They agree unless a key was repeated, or a string holds ``\\":``, or an object
    sits where no spec object belongs; only then :mod:`json` reads ``data`` again, pair by pair
    (about 3 s for 64 MiB), to find the object and the key.
    """
    if data.count(b'":') == _count_keys(document) and not _SPACED_COLON.search(data):
        return
    from dsc_calc.files import duplicate_key

    found = duplicate_key(data)
    if found is not None:
        where, key = found
        raise DscCalcError(where or "spec", f"has the key {_show(key)} twice; give each key once")


def _count_keys(document: object) -> int:
    """The keys of the spec's own objects: the top, ``input`` and every layer, nested too.

    Done a list at a time in C (``map(len, ...)``): 0.3 s for 2.6 million layers, where a walk
    layer by layer took 2.4 s.
    """
    if not isinstance(document, dict):
        return -1
    total = len(document)
    if isinstance(document.get("input"), dict):
        total += len(document["input"])
    stack = [document.get("layers")]
    while stack:
        items = stack.pop()
        if not isinstance(items, list):
            continue
        layers = [item for item in items if type(item) is dict]
        total += sum(map(len, layers))
        blocks = [layer for layer in layers if "layers" in layer or "shortcut" in layer]
        stack.extend(block.get("layers") for block in blocks)
        stack.extend(block.get("shortcut") for block in blocks)
    return total


def _decode_wide(data: bytes, error: msgspec.DecodeError) -> object:
    """``data`` read by :mod:`json`, which holds integers of any size (NaN still refused)."""
    import json

    def refuse(constant: str) -> object:
        raise ValueError(constant)

    def integer(text: str) -> int:
        return int(text[:400])  # its leading digits: far beyond every limit, shown as written

    try:
        return json.loads(data, parse_int=integer, parse_constant=refuse)
    except RecursionError:
        raise DscCalcError("spec", "the JSON is nested too deeply") from None
    except ValueError:
        raise DscCalcError("spec", f"is not valid JSON ({error}); check the file") from None


def convert(document: object) -> NetworkSpec:
    """Validate an already parsed JSON document (dicts and lists) as a spec."""
    if isinstance(document, dict):
        _tag_repeats(document.get("layers"))
    _refuse_ignored_keys(document)
    try:
        return msgspec.convert(document, NetworkSpec)
    except RecursionError:
        raise DscCalcError("spec", "the JSON is nested too deeply") from None
    except msgspec.ValidationError as error:
        # JSON Schema's "integer" takes 8.0, and so does the spec: integral floats become ints,
        # so that `dsc-calc schema` and the decoder agree. Done only when a float was refused.
        if "got `float`" not in str(error) or not _integral_floats_to_ints(document):
            raise reword(error, document) from None
    try:
        return msgspec.convert(document, NetworkSpec)
    except msgspec.ValidationError as error:
        raise reword(error, document) from None


def _integral_floats_to_ints(value: object) -> bool:
    """Replace every integral float (8.0) in ``value`` by its int, in place; True if any was."""
    changed = False
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list):
            keys = item.keys() if isinstance(item, dict) else range(len(item))
            for key in keys:
                entry = item[key]
                if isinstance(entry, float) and entry.is_integer() and abs(entry) < 2**63:
                    item[key] = int(entry)
                    changed = True
                elif isinstance(entry, dict | list):
                    stack.append(entry)
    return changed


def _refuse_ignored_keys(document: object) -> None:
    """Refuse keys that another key would make meaningless, naming the layer."""
    if not isinstance(document, dict):
        return
    stack: list[tuple[object, list[str | int]]] = [(document.get("layers"), ["layers"])]
    while stack:
        value, tokens = stack.pop()
        if isinstance(value, list):
            stack.extend((item, [*tokens, index]) for index, item in enumerate(value))
        elif isinstance(value, dict):
            if "expand" in value and value.get("expand_channels") is not None:
                raise DscCalcError(
                    _place(tokens),
                    'give "expand" (a factor) or "expand_channels" (a count), not both: '
                    "expand_channels would win and expand be ignored",
                )
            stack.extend((value[k], [*tokens, k]) for k in ("layers", "shortcut") if k in value)
