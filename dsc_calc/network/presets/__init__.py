"""Famous networks shipped as spec files inside the package, with the figures their papers print.

The JSON files sit beside this module (package data, so they ship in the wheel) and are read by
path: :mod:`importlib.resources` would add about 4 ms to every start for the same bytes. Each has
a ``family`` (which selects the ``--alpha`` channel rounding) and a ``source``.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from dsc_calc.errors import DscCalcError


class Published(msgspec.Struct, frozen=True):
    """What a paper prints for a network: mult-adds and params as written, and where."""

    macs: str
    params: str
    source: str


#: The published figures, as the papers print them (rounded as there).
PUBLISHED: dict[str, Published] = {
    "mobilenet_v1": Published("569M", "4.2M", "Howard et al. 2017, Table 8"),
    "mobilenet_v1_full": Published("4866M", "29.3M", "Howard et al. 2017, Table 4"),
    "mobilenet_v2": Published("300M", "3.4M", "Sandler et al. 2018, Table 4"),
    "mobilenet_v3_large": Published("219M", "5.4M", "Howard et al. 2019, Table 3"),
    "mobilenet_v3_small": Published("56M", "2.5M", "Howard et al. 2019, Table 4"),
    "xception": Published("-", "22,855,952", "Chollet 2017, Table 3"),
    # torchvision 0.28's documented figures ("GFLOPS" there are GMACs of conv and linear layers),
    # exact: its parameter count and its conv + linear multiply-accumulates at 224x224.
    "resnet18": Published("1,814,073,344", "11,689,512", "He et al. 2016; torchvision 0.28"),
    "resnet50": Published("4,089,184,256", "25,557,032", "He et al. 2016; torchvision 0.28"),
    "resnext50_32x4d": Published(
        "4,230,479,872", "25,028,904", "Xie et al. 2017; torchvision 0.28"
    ),
    "vgg16": Published(
        "15,470,264,320", "138,357,544", "Simonyan and Zisserman 2015; torchvision 0.28"
    ),
    "efficientnet_b0": Published("385,814,752", "5,288,548", "Tan and Le 2019; torchvision 0.28"),
    "mnasnet1_0": Published("314,415,872", "4,383,312", "Tan et al. 2019; torchvision 0.28"),
    "regnet_y_400mf": Published(
        "401,842,848", "4,344,144", "Radosavovic et al. 2020; torchvision 0.28"
    ),
    "shufflenet_v2_x1_0": Published(
        "144,907,992", "2,278,604", "Ma et al. 2018, Table 5 (1x); torchvision 0.28"
    ),
    "squeezenet1_0": Published(
        "818,924,576", "1,248,424", "Iandola et al. 2016, Table 1; torchvision 0.28"
    ),
    "googlenet": Published(
        "1,498,376,192", "6,624,904", "Szegedy et al. 2014, Table 1; torchvision 0.28, no aux heads"
    ),
    "inception_v3": Published(
        "5,713,216,096", "23,834,568", "Szegedy et al. 2016; torchvision 0.28, no aux head, 299"
    ),
    "densenet121": Published(
        "2,834,161,664", "7,978,856", "Huang et al. 2017, Table 1; torchvision 0.28"
    ),
    "convnext_tiny": Published("4,455,531,264", "28,589,128", "Liu et al. 2022; torchvision 0.28"),
}


def names() -> tuple[str, ...]:
    """Every preset name, in a stable order."""
    return tuple(PUBLISHED)


def read(name: str) -> bytes:
    """The spec JSON of preset ``name``."""
    if name not in PUBLISHED:
        raise DscCalcError(name, f"is not a preset; presets: {', '.join(names())}")
    return Path(__file__).with_name(f"{name}.json").read_bytes()
