"""The modules a command crosses from the CLI to stdout, and how often the dtype is validated.

Runs ``dsc-calc network mobilenet_v2 --memory --json`` (or the arguments given) in this process
with :func:`sys.setprofile`, after the command's modules are imported, and prints each dsc_calc
module whose functions were called, in the order first entered, with its call count, then the
calls from one module into another, then the number of calls of ``memory.traffic.dtype_bytes``
(the one dtype check). Import-time calls do not
count: the question is what one run of the command goes through.

    python benchmarks/call_path.py [network mobilenet_v2 --memory --json]
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

PACKAGE = Path(str(__import__("dsc_calc").__file__)).parent


def module_of(frame: FrameType) -> str | None:
    """The dotted dsc_calc module of ``frame``'s code, or None outside the package."""
    path = Path(frame.f_code.co_filename)
    if PACKAGE not in path.parents:
        return None
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def main() -> None:
    args = sys.argv[1:] or ["network", "mobilenet_v2", "--memory", "--json"]
    from dsc_calc.cli import load_commands

    app = load_commands([args[0]])
    import typer.main

    command = typer.main.get_command(app)
    calls: Counter[str] = Counter()
    edges: Counter[tuple[str, str]] = Counter()
    dtype_checks = 0

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        nonlocal dtype_checks
        if event != "call":
            return
        module = module_of(frame)
        if module is not None:
            calls[module] += 1
            caller = module_of(frame.f_back) if frame.f_back is not None else None
            if caller is not None and caller != module:
                edges[caller, module] += 1
            if frame.f_code.co_name == "dtype_bytes":
                dtype_checks += 1

    # Import what the command imports inside itself first (a dry run), so only the run counts.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        command(args, standalone_mode=False)
    sys.setprofile(profile)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            command(args, standalone_mode=False)
    finally:
        sys.setprofile(None)
    print(f"dsc-calc {' '.join(args)}")
    for module, count in calls.items():
        print(f"  {module:<36} {count:>7,} calls")
    print("calls from one module into another:")
    for (caller, callee), count in edges.items():
        print(f"  {caller} -> {callee}: {count:,}")
    print(f"modules crossed: {len(calls)}; dtype validated: {dtype_checks}x")


if __name__ == "__main__":
    main()
