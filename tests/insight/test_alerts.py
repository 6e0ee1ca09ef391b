""" "What changed" alerts on synthetic workspaces: planted jumps flagged, noise not, empty -> []."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from cx_core.insight.alert import Alert
from cx_core.insight.alerts import MIN_COUNT, what_changed
from tests.drivers_fixtures import ANCHOR, add_reviews, add_run, insert, later_order, planted

XSS = "<img src=x onerror=alert(1)>"


def test_empty_workspace_returns_nothing(ws):
    assert what_changed(ws) == []


def test_planted_aspect_jump_is_flagged(ws):
    planted(ws)  # delivery complaints 20 % -> 60 %; price and packaging steady
    alerts = what_changed(ws)
    by = {a.subject: a for a in alerts if a.kind.startswith("aspect")}
    assert set(by) == {"delivery"}
    a = by["delivery"]
    assert a.kind == "aspect_worse" and a.p_value < 1e-6
    assert 0.1 < a.before < 0.3 and 0.5 < a.after < 0.7
    assert "delivery" in a.message and "rose" in a.message


def test_aspect_alerts_use_the_reviews_own_dates(ws):
    planted(ws)
    later_order(ws)  # orders end 200 days after the newest review
    by = {a.subject: a for a in what_changed(ws) if a.kind.startswith("aspect")}
    assert by["delivery"].kind == "aspect_worse" and by["delivery"].p_value < 1e-6


def test_noise_is_not_flagged(ws):
    rng = np.random.default_rng(3)
    n = 400
    ts = [ANCHOR - timedelta(days=int(d)) for d in rng.integers(0, 180, n)]
    scores = [{"price": -0.7 if rng.random() < 0.4 else 0.5} for _ in range(n)]
    add_reviews(ws, ts, [3.0] * n, [f"c{i}" for i in range(n)], scores)
    assert what_changed(ws) == []


def test_small_counts_are_not_flagged(ws):
    # 100 % negative now vs 0 % before, but fewer than MIN_COUNT mentions in each period
    k = MIN_COUNT - 1
    ts = [ANCHOR - timedelta(days=1)] * k + [ANCHOR - timedelta(days=120)] * k
    scores = [{"price": -0.9}] * k + [{"price": 0.9}] * k
    add_reviews(ws, ts, [3.0] * (2 * k), [f"c{i}" for i in range(2 * k)], scores)
    assert what_changed(ws) == []


def _segment_run(ws, members: dict[int, list[str]], names: dict[int, str], run_id: str = "seg_1") -> None:
    rows = [(run_id, "customer", c, s) for s, cs in members.items() for c in cs]
    insert(
        ws,
        "segments",
        pd.DataFrame(rows, columns=["run_id", "unit_kind", "unit_id", "segment_id"]).assign(
            is_outlier=lambda d: d["segment_id"] < 0, probability=1.0, x=0.0, y=0.0
        ),
    )
    insert(
        ws,
        "segment_info",
        pd.DataFrame(
            {
                "run_id": run_id,
                "segment_id": list(names),
                "name": list(names.values()),
                "size": [len(members[s]) for s in names],
            }
        ),
    )
    add_run(ws, run_id, "segments")


def _orders(ws, activity: list[tuple[str, int]]) -> None:
    insert(
        ws,
        "orders",
        pd.DataFrame(
            {
                "dataset_id": "o1",
                "line_no": range(len(activity)),
                "order_id": [f"o{i}" for i in range(len(activity))],
                "customer_id": [c for c, _ in activity],
                "ts": [ANCHOR - timedelta(days=d) for _, d in activity],
                "amount": 10.0,
                "is_return": False,
            }
        ),
    )


def test_growing_segment_is_flagged_and_steady_one_not(ws):
    a = [f"a{i}" for i in range(100)]  # 'a' customers: 20 active before, 80 now
    b = [f"b{i}" for i in range(100)]  # 'b' customers: 80 active before, 20 now
    c = [f"c{i}" for i in range(60)]  # 'c': 50 active in both periods (same share)
    acts = (
        [(x, 120) for x in a[:20]]
        + [(x, 10) for x in a[:80]]
        + [(x, 130) for x in b[:80]]
        + [(x, 5) for x in b[:20]]
        + [(x, 100) for x in c[:50]]
        + [(x, 50) for x in c[:50]]
        + [(x, 400) for x in c[50:]]
    )  # outside both periods
    _orders(ws, acts)
    _segment_run(ws, {0: a, 1: b, 2: c, -1: []}, {0: XSS, 1: "Bargain hunters", 2: "Steady"})
    seg = {x.subject: x for x in what_changed(ws) if x.kind.startswith("segment")}
    assert set(seg) == {XSS, "Bargain hunters"}
    assert seg[XSS].kind == "segment_grew" and seg["Bargain hunters"].kind == "segment_shrank"
    assert seg[XSS].before == 20 / 150 and seg[XSS].after == 80 / 150
    assert "active customers" in seg[XSS].message and "(80 of 150)" in seg[XSS].message
    assert all(isinstance(x, Alert) and x.p_value < 0.05 for x in seg.values())


def test_segment_noise_is_not_flagged(ws):
    rng = np.random.default_rng(5)
    custs = [f"u{i}" for i in range(300)]
    _orders(ws, [(c, int(d)) for c in custs for d in rng.integers(0, 180, 2)])
    _segment_run(ws, {0: custs[:150], 1: custs[150:]}, {0: "One", 1: "Two"})
    assert what_changed(ws) == []


def test_review_unit_segments_count_reviews(ws):
    n = 120  # segment 0: reviews mostly before, segment 1: mostly in the last period
    ts = [ANCHOR - timedelta(days=120 if i % 4 else 10) for i in range(n)] + [
        ANCHOR - timedelta(days=10 if i % 4 else 120) for i in range(n)
    ]
    add_reviews(ws, ts, [3.0] * (2 * n), [None] * (2 * n), [{}] * (2 * n), run_id=None)
    rows = [("seg_r", "review", f"r{i}", int(i >= n)) for i in range(2 * n)]
    insert(
        ws,
        "segments",
        pd.DataFrame(rows, columns=["run_id", "unit_kind", "unit_id", "segment_id"]).assign(
            is_outlier=False, probability=1.0, x=0.0, y=0.0
        ),
    )
    add_run(ws, "seg_r", "segments")
    seg = {a.subject: a for a in what_changed(ws)}
    assert seg["Segment 1"].kind == "segment_grew" and seg["Segment 0"].kind == "segment_shrank"
    assert "reviews written" in seg["Segment 1"].message and seg["Segment 1"].after == 0.75
