"""The ``dsc-calc`` command line: parse options, call the core, hand the result to the renderer.

Each command lives in its own module, which registers itself on the shared Typer app when
imported. ``from dsc_calc.cli import app`` gives the app with every command; the console entry
point :func:`main` imports only the module of the command being run, because Typer builds the
options of every registered command before it runs one (about 25 ms for all of them). Command
modules import only the standard library, Typer and the pure core (whose records are msgspec
Structs) at import time; Rich, NumPy, the spec decoder and the contracts are imported inside the
command that needs them.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    import typer

#: Each command -> the module that registers it, in the order ``--help`` lists them.
COMMAND_MODULES = {
    "layer": "layer",
    "network": "network",
    "presets": "network",
    "bench": "bench",
    "sweep": "sweep",
    "kernel": "kernel",
    "schema": "schema",
}


def load_commands(names: Iterable[str] | None = None) -> typer.Typer:
    """Register the commands ``names`` (every command when None) and return the app."""
    from dsc_calc.cli._app import app

    wanted = COMMAND_MODULES.values() if names is None else (COMMAND_MODULES[n] for n in names)
    for module in dict.fromkeys(wanted):
        importlib.import_module(f"dsc_calc.cli.{module}")
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """The console-script entry point: register the command being run, or all of them for help,
    completion and anything unrecognised (so those list every command)."""
    first = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    completing = any(key.startswith("_DSC_CALC_COMPLETE") for key in os.environ)
    only = [first] if first in COMMAND_MODULES and not completing else None
    try:
        load_commands(only)()
    except KeyboardInterrupt:  # Ctrl-C while the command's modules are still being imported
        from dsc_calc.cli._app import ExitCode, fail

        fail("interrupted", ExitCode.INTERRUPTED)
    finally:
        # The process ends here: move every object to the permanent generation, so that the
        # collections at interpreter shutdown do not walk them all (10-20 ms of every run, more
        # than the command itself). Reference counting still frees them; atexit still runs.
        gc.freeze()


__all__ = ["COMMAND_MODULES", "load_commands", "main"]
