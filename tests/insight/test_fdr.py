"""Benjamini-Hochberg FDR control of the trend flags and the "what changed" alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control

from cx_core.insight.alert import Alert
from cx_core.insight.alerts import control_fdr
from cx_core.insight.stats import ALPHA, benjamini_hochberg, fdr_q
from cx_core.insight.trends import trends_from_frame


def test_bh_matches_scipy_and_hand_example():
    rng = np.random.default_rng(0)
    for p in (
        rng.uniform(size=50),
        np.concatenate([rng.uniform(0, 1e-3, 5), rng.uniform(size=95)]),
        np.array([0.01, 0.01, 0.04, 1.0]),
    ):
        assert benjamini_hochberg(p) == pytest.approx(false_discovery_control(p, method="bh"))
        assert fdr_q(p) == pytest.approx(benjamini_hochberg(p))
    # by hand: p sorted (0.01, 0.02, 0.03, 0.5), m = 4 -> 0.04, 0.04, 0.04, 0.5
    assert benjamini_hochberg([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.04, 0.5, 0.04, 0.04])
    q = fdr_q([np.nan, 0.01, 0.04])  # NaN is not part of the family and stays NaN
    assert np.isnan(q[0]) and q[1:] == pytest.approx([0.02, 0.04])
    assert benjamini_hochberg([]).size == 0


def _reviews(months: int, per_month: int, rng, neg_rate=lambda m: 0.3, sentiment=lambda m: 0.0):
    """Per-review rows over ``months`` months with one aspect 'x'."""
    rows = []
    for m in range(months):
        start = datetime(2022, 1, 1) + pd.DateOffset(months=m)
        for i in range(per_month):
            neg = rng.random() < neg_rate(m)
            rows.append(
                {
                    "ts": start + timedelta(hours=i),
                    "rating": 3.0,
                    "sentiment_score": sentiment(m) + rng.normal(0, 0.5),
                    "aspects": ["x"],
                    "aspect_sentiment_json": '{"x": %s}' % (-0.8 if neg else 0.6),
                    "churn_prob": float(np.clip(rng.normal(0.4, 0.15), 0, 1)),
                }
            )
    return pd.DataFrame(rows)


def test_noise_series_give_almost_no_flags_but_a_planted_jump_is_kept():
    rng = np.random.default_rng(1)
    noise = trends_from_frame(_reviews(24, 60, rng))  # 3 series x 23 month-pairs = 69 tests of pure noise
    raw = (noise[["negative_share_p", "sentiment_p", "churn_p"]] < ALPHA).to_numpy().sum()
    flagged = (noise["flags"] != "").sum()
    assert flagged <= 1 and flagged <= raw  # uncorrected p < 0.05 would flag ~3.5 of 69
    jump = trends_from_frame(_reviews(24, 60, rng, neg_rate=lambda m: 0.7 if m == 20 else 0.3))
    assert "negative share of aspect mentions up" in jump["flags"].iloc[20]
    assert jump["negative_share_q"].iloc[20] <= ALPHA
    assert jump["negative_share_q"].iloc[20] >= jump["negative_share_p"].iloc[20]
    assert np.isnan(jump["negative_share_p"].iloc[0])  # the first month has nothing to compare with


def test_uncorrected_noise_flags_more_than_fdr():
    """Many noise series: counting raw p < 0.05 flags ~5 %, BH flags (almost) none."""
    rng = np.random.default_rng(2)
    raw = fdr_total = tests = 0
    for _ in range(5):
        t = trends_from_frame(_reviews(24, 40, rng))
        p = t[["negative_share_p", "sentiment_p", "churn_p"]].to_numpy(float)
        tests += int((~np.isnan(p)).sum())
        raw += int((p < ALPHA).sum())
        fdr_total += int((t["flags"] != "").sum())
        plain = trends_from_frame(_reviews(2, 40, rng), fdr=False)
        assert (plain["negative_share_q"].fillna(-1) == plain["negative_share_p"].fillna(-1)).all()
    assert tests == 5 * 69 and raw >= 5 and fdr_total <= 1


def test_control_fdr_keeps_structural_and_corrects_tested():
    tested = [
        Alert("aspect_worse", f"a{i}", f"m{i}.", 0.1, 0.2, p)
        for i, p in enumerate([0.001, 0.04, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99])
    ]
    structural = Alert("segment_new", "<img src=x onerror=alert(1)>", "New.", np.nan, 0.2, np.nan)
    kept = control_fdr(tested + [structural])
    assert [a.subject for a in kept] == ["a0", structural.subject]  # 0.04 * 10 / 2 = 0.2 > 0.05
    assert kept[0].q_value == pytest.approx(0.01) and "q = 0.01" in kept[0].message
    assert len(control_fdr(tested, fdr=False)) == 2  # without correction p = 0.04 passes too


def test_flagged_months_reach_the_report(ws):
    from cx_core.insight.report_sections import changes_section
    from cx_core.insight.trends import monthly_trends
    from tests.drivers_fixtures import planted

    planted(ws)  # delivery complaints jump from 20 % to 60 % of mentions 90 days before the end
    t = monthly_trends(ws)
    assert (t["flags"] != "").any() and t["negative_share_q"].min() <= ALPHA
    html = changes_section(ws, True, lambda fig: "")
    assert "Significant monthly changes" in html and "negative share of aspect mentions up" in html
    assert "Complaints about" in html and "FDR q = " in html
