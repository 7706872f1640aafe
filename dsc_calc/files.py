"""Reading input files and writing output files, with one clean error for every way they fail.

:func:`read_bounded` is the one reader of spec, kernel and profile files: it opens without
blocking, refuses anything but a regular file (a FIFO would block forever, a device never ends),
and reads at most a limit. :func:`read_stdin` reads ``-`` within the same limit.

:func:`write_atomic` writes ``-o FILE`` and ``--save-profile FILE``: a reader of a regular file sees
the old file or the whole new one, never a part. It keeps an existing file's mode (a new file gets
``0o666`` less the umask, as ``>`` does), writes through a symlink to its target, writes a FIFO or
a device (``/dev/null``, ``/dev/stdout``) in place rather than replacing it, and writes in place,
not atomically, where a replacement would break something: a file with several hard links (the
links stay one file) and a writable file in a folder that is not writable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from typing import TYPE_CHECKING

from dsc_calc.errors import DscCalcError

if TYPE_CHECKING:
    from pathlib import Path

#: Why a temporary file beside an existing file could not be made: then it is written in place.
_NO_TEMPORARY = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT})
#: How much :func:`read_bounded` asks for in one ``read``.
_CHUNK = 1 << 20


def read_bounded(
    path: str | Path, limit: int, *, where: str, what: str, stdin_ok: bool = True
) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Errors name ``where`` (the option or the path that gave the file) and what the file should be
    (``what``: "spec", "kernel", "profile"). A FIFO, a device, a socket or a directory is refused
    before anything is read, and so is a file over ``limit`` bytes. ``stdin_ok`` says whether the
    error may suggest ``-`` (standard input) instead.
    """
    text = str(path)
    if len(where) > 100:  # a name too long for the system: cut its middle in the message
        where = f"{where[:50]}...{where[-30:]}"
    if not text:
        raise DscCalcError(where, f"is an empty file name; give the path of a {what} file")
    try:
        handle = os.open(text, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise DscCalcError(where, f"cannot be read: {_reason(error)}") from None
    try:
        info = os.fstat(handle)
        if stat.S_ISDIR(info.st_mode):
            raise DscCalcError(where, f"is a directory; give a {what} file")
        if not stat.S_ISREG(info.st_mode):
            hint = ", or '-' and pipe it to standard input" if stdin_ok else ""
            raise DscCalcError(
                where, f"is {_kind(info.st_mode)}, not a regular file; give a {what} file{hint}"
            )
        if info.st_size > limit:
            raise DscCalcError(
                where, f"is {info.st_size:,} bytes, over the {_size(limit)} limit for a {what} file"
            )
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(handle, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise DscCalcError(where, f"cannot be read: {_reason(error)}") from None
    finally:
        os.close(handle)
    if size > limit:
        raise DscCalcError(where, f"is more than the {_size(limit)} limit for a {what} file")
    return b"".join(chunks)


#: A serialised ONNX ModelProto starts with one of its fields' keys (ir_version, producer_name,
#: graph, opset_import, ...), which no JSON text starts with.
ONNX_FIRST_BYTES = frozenset(b"\x08\x12\x1a\x22\x28\x32\x3a\x42")


def looks_like_onnx(source: str) -> bool:
    """Whether ``source`` names an ONNX model: by extension, or by the first byte of a regular
    file (a FIFO or a device is never opened here: the reader refuses those itself)."""
    if source == "-" or not source:
        return False
    if source.lower().endswith(".onnx"):
        return True
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):
            return False
        with open(source, "rb") as handle:
            first = handle.read(1)
    except (OSError, ValueError):
        return False
    return bool(first) and first[0] in ONNX_FIRST_BYTES


def read_stdin(limit: int, *, where: str = "standard input") -> bytes:
    """Standard input's bytes, at most ``limit`` (one more is read, to refuse an endless stream)."""
    stream = sys.stdin
    if stream is None:
        raise DscCalcError(where, "is closed; pipe the input in, or give a file")
    try:
        data = stream.buffer.read(limit + 1) if hasattr(stream, "buffer") else b""
    except (OSError, ValueError) as error:  # ValueError: a closed file object
        reason = _reason(error) if isinstance(error, OSError) else "it is closed"
        raise DscCalcError(where, f"cannot be read: {reason}") from None
    return data


def duplicate_key(data: bytes) -> tuple[str, str] | None:
    """The first key given twice in one object of the JSON ``data``, as (its object's place such
    as ``layers[3]``, the key); None when every key is unique. Reads ``data`` with :mod:`json`
    (slow: callers try a cheaper test first)."""
    import json

    class Marked(dict[str, object]):
        duplicate: str | None = None

    def pairs(items: list[tuple[str, object]]) -> Marked:
        marked = Marked(items)
        if len(marked) != len(items):
            seen: set[str] = set()
            marked.duplicate = next(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        return marked

    try:
        document = json.loads(data, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None  # not JSON the caller could have decoded: its own decoder reports it
    stack: list[tuple[object, str]] = [(document, "")]
    while stack:
        value, place = stack.pop(0)
        if isinstance(value, Marked) and value.duplicate is not None:
            return place, value.duplicate
        if isinstance(value, dict):
            stack.extend((item, f"{place}.{key}" if place else key) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{place}[{index}]") for index, item in enumerate(value))
    return None


def write_atomic(path: Path, text: str, *, where: str = "--output") -> None:
    """Write ``text`` (UTF-8) to ``path``; see the module docstring for what each kind of path gets.

    On any failure ``path`` is left as it was (a temporary file is removed) and the error names
    ``where`` (the option that gave the path) and the reason.
    """
    data = text.encode("utf-8", errors="surrogateescape")
    name = str(path)
    info = _output_target(name, where)
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_through(name, data, where)  # a FIFO or a device: never replace it
        return
    target = os.path.realpath(name)  # a symlink is written through to its target
    if info is not None and info.st_nlink > 1:
        _write_in_place(target, data, where, name)
        return
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    try:
        _replace(target, data, mode)
    except OSError as error:
        # A file we may write in a folder we may not: write it in place, as `>` does.
        if info is not None and error.errno in _NO_TEMPORARY and os.access(target, os.W_OK):
            _write_in_place(target, data, where, name)
            return
        raise DscCalcError(where, f"cannot write {_shown(name)}: {_reason(error)}") from None


def check_writable(path: Path, *, where: str = "--output") -> None:
    """Refuse ``path`` now if :func:`write_atomic` certainly could not write it later.

    Used before work that takes long (a benchmark), so that its result is not measured in vain.
    """
    name = str(path)
    info = _output_target(name, where)
    target = os.path.realpath(name)
    folder = os.path.dirname(target) or "."
    if info is not None:
        if not os.access(target, os.W_OK):
            raise DscCalcError(where, f"cannot write {_shown(name)}: Permission denied")
        return
    try:
        os.stat(folder)
    except OSError as error:
        raise DscCalcError(where, f"cannot write {_shown(name)}: {_reason(error)}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DscCalcError(where, f"cannot write {_shown(name)}: Permission denied")
    if len(os.path.basename(target).encode("utf-8", "surrogateescape")) > 255:
        raise DscCalcError(where, f"cannot write {_shown(name)}: File name too long")


def _output_target(name: str, where: str) -> os.stat_result | None:
    """What is at the output path ``name`` now (None: nothing), or an error if no file can be
    written there (an empty name, a folder, a path that cannot be looked up)."""
    if not name:
        raise DscCalcError(where, "is an empty file name; give a file name")
    try:
        info: os.stat_result | None = os.stat(name)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise DscCalcError(where, f"cannot write {_shown(name)}: {_reason(error)}") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise DscCalcError(where, f"{_shown(name)} is a directory; give a file name")
    return info


def _replace(target: str, data: bytes, mode: int) -> None:
    """Write a temporary file beside ``target`` with ``mode``, then ``os.replace`` it."""
    import tempfile  # only when a file is written: not on every start-up

    folder = os.path.dirname(target) or "."
    base = os.path.basename(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{base[:40]}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_in_place(target: str, data: bytes, where: str, name: str) -> None:
    """Truncate and rewrite ``target`` itself (not atomic: used where a replacement would harm)."""
    try:
        handle = os.open(target, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as error:
        raise DscCalcError(where, f"cannot write {_shown(name)}: {_reason(error)}") from None


def _write_through(name: str, data: bytes, where: str) -> None:
    """Write to a FIFO or a device as it is; a FIFO without a reader is refused, not waited on."""
    try:
        handle = os.open(name, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        reason = "a FIFO with no reader" if error.errno == errno.ENXIO else _reason(error)
        raise DscCalcError(where, f"cannot write {_shown(name)}: {reason}") from None
    try:
        os.set_blocking(handle, True)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
    except OSError as error:
        raise DscCalcError(where, f"cannot write {_shown(name)}: {_reason(error)}") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _shown(name: str) -> str:
    """A file name quoted for a message, its middle cut when it is long."""
    return repr(name) if len(name) <= 80 else repr(f"{name[:40]}...{name[-30:]}")


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 and limit % 2**20 == 0 else f"{limit:,} bytes"
