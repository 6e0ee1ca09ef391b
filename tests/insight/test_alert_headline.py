"""Alert headlines: the marketer-facing message without its test statistics."""

from __future__ import annotations

import math

from cx_core.insight.alert import Alert


def test_headline_drops_only_the_trailing_test_statistics():
    tested = Alert(
        "aspect",
        "fit",
        "Complaints about fit (size 10) rose to 9% (p = 0.0012, FDR q = 0.031)",
        0.03,
        0.09,
        0.0012,
    )
    assert tested.headline == "Complaints about fit (size 10) rose to 9%"
    plain = Alert("segment", "s", "Segment 3 split in two", 0, 1, math.nan)
    assert plain.headline == plain.message
