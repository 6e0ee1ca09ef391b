"""Segment figures name the unit they place: customers, or reviews for a review-level run."""

from __future__ import annotations

import pandas as pd

from cx_core.plots.segments import segment_map_figure, size_value_figure, unit_noun


def test_segment_figures_name_the_unit():
    units = pd.DataFrame(
        {
            "segment_id": [0, 0],
            "segment": ["a", "a"],
            "unit_id": ["r1", "r2"],
            "x": [0.0, 1.0],
            "y": [0.0, 1.0],
            "snippet": ["x", "y"],
        }
    )
    info = pd.DataFrame({"segment_id": [0], "name": ["a"], "share": [1.0], "revenue_share": [None]})
    assert unit_noun("review") == "reviews" and unit_noun(None) == "customers"
    assert "similar reviews are close" in segment_map_figure(units, "review").layout.title.text
    assert "similar customers are close" in segment_map_figure(units).layout.title.text
    assert size_value_figure(info, "review").data[0].name == "Share of reviews"
    assert size_value_figure(info, "customer").data[0].name == "Share of customers"
