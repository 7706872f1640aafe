"""The branching presets (torchvision 0.28's classics) and the branching walk they rely on."""

from __future__ import annotations

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
