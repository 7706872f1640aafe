"""Atomic output files: a reader sees the old file or the whole new one, never a part."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from dsc_calc.errors import DscCalcError


def write_atomic(path: Path, text: str, *, where: str = "--output") -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    On any failure the temporary file is removed and ``path`` is left as it was; the error names
    ``where`` (the option that gave the path) and the reason.
    """
    import tempfile  # only when a file is written: not on every start-up

    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise DscCalcError(where, f"{str(path)!r} is a directory; give a file name")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise DscCalcError(where, f"cannot write {str(path)!r}: {error.strerror}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise DscCalcError(where, f"cannot write {str(path)!r}: {error.strerror}") from None
        raise
