"""The value sets a user chooses from, each defined once.

Everything else derives from these with :func:`typing.get_args`: the core's checks, the spec's
schema, the CLI's choices and the JSON contracts. Adding a value is one edit here (and the code
that handles it). Nothing is imported but :mod:`typing`, so the CLI can read them at start-up.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Elementwise nonlinearities a spec layer may end with, or be.
Activation = Literal["relu", "relu6", "hswish", "hsigmoid", "sigmoid", "silu", "gelu"]
#: ``--what-if``: the redesigns of a network's convs.
WhatIf = Literal["separable", "standard", "spatial"]
#: ``--sort``: orders of the layer table.
SortKey = Literal["order", "macs", "params"]
#: ``--engine``: who runs the depthwise conv of ``bench``.
Engine = Literal["auto", "numpy", "numba"]
#: ``--dtype``: element types of the memory model.
DType = Literal["fp32", "fp16", "bf16", "int8"]
#: ``sweep --measure``: which ratio the heatmap shows.
Measure = Literal["macs", "params"]
#: Network families with their own width rounding (``--alpha``).
Family = Literal[
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3",
    "xception",
    "resnet",
    "vgg",
    "efficientnet",
    "mnasnet",
    "regnet",
    "shufflenet",
    "squeezenet",
    "googlenet",
    "inception",
    "densenet",
    "convnext",
]

ACTIVATIONS: tuple[Activation, ...] = get_args(Activation)
WHAT_IFS: tuple[WhatIf, ...] = get_args(WhatIf)
SORT_KEYS: tuple[SortKey, ...] = get_args(SortKey)
ENGINES: tuple[Engine, ...] = get_args(Engine)
DTYPES: tuple[DType, ...] = get_args(DType)
MEASURES: tuple[Measure, ...] = get_args(Measure)
FAMILIES: tuple[Family, ...] = get_args(Family)
