"""The branching presets (torchvision 0.28's classics) and the branching walk they rely on."""

from __future__ import annotations

import json

from dsc_calc.network.spec import convert
from dsc_calc.network.walk import analyse


def test_a_concat_row_writes_the_concatenated_shape() -> None:
    """A concat of 4 and 6 channels writes 10 channels (not 10 + 6), so the next row holds no
    phantom tensor and the concat's output is the block's."""
    spec = convert(
        {
            "input": {"channels": 3, "height": 8, "width": 8},
            "layers": [
                {
                    "type": "branches",
                    "branches": [
                        [{"type": "conv", "out": 4, "k": 1, "padding": 0}],
                        [{"type": "conv", "out": 6, "k": 1, "padding": 0}],
                    ],
                },
                {"type": "conv", "out": 2, "k": 1, "padding": 0},
            ],
        }
    )
    report = analyse(spec)
    concat = next(row for row in report.rows if row.type == "concat")
    assert (concat.input.channels, concat.output.channels) == (10, 10)
    assert report.rows[-1].input == concat.output
    assert report.rows[-1].held_elements == 0


def test_a_repeat_block_inside_a_branch_decodes_and_round_trips() -> None:
    """``{"repeat": n, "layers": [...]}`` has no ``type`` inside a branch as anywhere else, and is
    written back without one."""
    from dsc_calc.network.spec import decode, to_builtins

    document = {
        "input": {"channels": 3, "height": 8, "width": 8},
        "layers": [
            {
                "type": "branches",
                "branches": [
                    [{"repeat": 2, "layers": [{"type": "conv", "out": 4, "k": 1, "padding": 0}]}],
                    [],
                ],
            }
        ],
    }
    spec = convert(document)
    assert analyse(spec).output.channels == 7
    written = to_builtins(spec)
    assert "type" not in written["layers"][0]["branches"][0][0]
    assert decode(json.dumps(written).encode()) == spec
