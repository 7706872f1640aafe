"""Regenerate the SVG pictures of the README from real runs of dsc-calc.

Each command runs in a subprocess with colour forced at 100 columns; its ANSI output is replayed
into a recording Rich console and exported as SVG, which renders on any code host.
Run: python docs/screenshots.py
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.text import Text

HERE = Path(__file__).parent

#: picture name -> the command line it shows.
PICTURES = {
    "layer": "dsc-calc layer --cin 32 --cout 64 -k 3 --hw 112",
    "network": "dsc-calc network mobilenet_v1 --top 6 --sort macs",
    "sweep": "dsc-calc sweep --cout 8,16,32,...,1024 -k 1,3,5,7",
    "roofline": "dsc-calc layer --cin 64 --cout 128 -k 3 --hw 56 --profile example-desktop",
}


def main() -> None:
    env = {**os.environ, "FORCE_COLOR": "1", "COLORTERM": "truecolor", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    for name, command in PICTURES.items():
        argv = [sys.executable, "-m", "dsc_calc", *shlex.split(command)[1:]]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        console = Console(
            record=True,
            width=100,
            file=io.StringIO(),
            force_terminal=True,
            color_system="truecolor",
        )
        console.print(Text(f"$ {command}", style="bold"))
        console.print(Text.from_ansi(done.stdout), end="")
        target = HERE / f"{name}.svg"
        target.write_text(console.export_svg(title=command), encoding="utf-8")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
