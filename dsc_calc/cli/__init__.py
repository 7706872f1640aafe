"""The ``dsc-calc`` command line: parse options, call the core, hand the result to the renderer.

Each command lives in its own module, which registers itself on :data:`app` when imported here.
Command modules import only the standard library, Typer and the pure core at import time; Rich,
NumPy and msgspec are imported inside the command that needs them.
"""

from dsc_calc.cli import bench as bench
from dsc_calc.cli import kernel as kernel
from dsc_calc.cli import layer as layer
from dsc_calc.cli import network as network
from dsc_calc.cli import schema as schema
from dsc_calc.cli import sweep as sweep
from dsc_calc.cli._app import app, main

__all__ = ["app", "main"]
