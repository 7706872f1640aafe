"""The typed API as a user's type checker sees it: the README's calls pass ``mypy --strict``.

``Conv2d`` takes an int for a square kernel, stride, padding or dilation and stores pairs; without
its declared constructor, mypy read the stored field types as the arguments and refused
``Conv2d(3, 4, kernel=3, padding=1)``, the README's own example.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

USER_CODE = """
from fractions import Fraction

import dsc_calc
from dsc_calc import Conv2d, Shape, compare

result = compare(Conv2d(3, 4, kernel=3, padding=1, bias=True), Shape(3, 32, 32))
ratio: Fraction = result.macs_ratio
params: int = result.standard.params + result.separable.params
grouped = Conv2d(32, 64, kernel=(3, 5), stride=2, padding="valid", dilation=(1, 2), groups=2)
kernel_height, kernel_width = grouped.kernel
stride_height: int = grouped.stride[0]
macs: int = dsc_calc.analyse("mobilenet_v1").totals.macs
reveal_type(grouped.kernel)
reveal_type(grouped.padding)
Conv2d(3, 4, kernel="3")
Conv2d(3, 4, padding="full")
"""


def test_the_readme_calls_type_check_and_wrong_types_do_not(tmp_path: Path) -> None:
    """Ints where a pair is stored pass; the fields read back as pairs; a str kernel and an unknown
    padding mode are still refused, on their lines."""
    api = pytest.importorskip("mypy.api")
    source = tmp_path / "user_code.py"
    source.write_text(USER_CODE)
    stdout, stderr, status = api.run(
        ["--strict", "--no-incremental", "--python-version", "3.11", str(source)]
    )
    errors = re.findall(r"user_code\.py:(\d+): error: (.*)", stdout)
    lines = USER_CODE.splitlines()
    assert {lines[int(number) - 1] for number, _ in errors} == {
        'Conv2d(3, 4, kernel="3")',
        'Conv2d(3, 4, padding="full")',
    }, stdout + stderr
    assert status == 1
    revealed = re.findall(r'Revealed type is "(.*)"', stdout)
    assert revealed[0] == "tuple[int, int]"
    assert "tuple[int, int]" in revealed[1]
    assert "Literal['same']" in revealed[1]
