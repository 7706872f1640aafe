"""Check the built wheel and sdist: the package data ships, and the wheel installs a working CLI.

Run by .ci/run after `python -m build --outdir DIST`: python .ci/check_dist.py DIST
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

REQUIRED_IN_WHEEL = [
    "dsc_calc/py.typed",
    "dsc_calc/network/presets/mobilenet_v1.json",
    "dsc_calc/network/presets/xception.json",
    "dsc_calc/memory/profiles/example-desktop.json",
]


def main() -> None:
    dist = Path(sys.argv[1])
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in REQUIRED_IN_WHEEL if name not in names]
    presets = sorted(
        n for n in names if n.startswith("dsc_calc/network/presets/") and n.endswith(".json")
    )
    with tarfile.open(sdist) as archive:
        sdist_names = archive.getnames()
    if (
        missing
        or len(presets) < 6
        or not any(n.endswith("/tests/conftest.py") for n in sdist_names)
    ):
        raise SystemExit(f"bad distribution: missing {missing}, presets {presets}")
    with tempfile.TemporaryDirectory() as folder:
        venv.create(folder, with_pip=True)
        python = Path(folder) / "bin" / "python"
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, str(wheel)], check=True)
        done = subprocess.run(
            [
                str(Path(folder) / "bin" / "dsc-calc"),
                "network",
                "xception",
                "-f",
                "csv",
                "--top",
                "1",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        if "22855952" not in done.stdout:
            raise SystemExit(f"the installed wheel's CLI did not count xception: {done.stdout!r}")
    print(f"{wheel.name}: {len(names)} files, {len(presets)} presets")
    print(f"{sdist.name}: {len(sdist_names)} files; the installed wheel's CLI works")


if __name__ == "__main__":
    main()
