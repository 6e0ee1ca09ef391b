"""Segment changes across runs: Jaccard + Hungarian matching, grew/shrank/new/gone/split/merged alerts."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest

from cx_core.insight.alerts import control_fdr, what_changed
from cx_core.insight.segment_changes import change_alerts, match_segments, run_pair, segment_run_alerts
from tests.app_fixtures import app_env, new_app  # noqa: F401  (app_env is a fixture)
from tests.drivers_fixtures import ANCHOR, add_run, insert

XSS = "<img src=x onerror=alert(1)>"


def _ids(prefix: str, n: int, start: int = 0) -> list[str]:
    return [f"{prefix}{i}" for i in range(start, start + n)]


def _run(
    ws,
    run_id: str,
    members: dict[int, list[str]],
    names: dict[int, str],
    days_ago: int,
    kind: str = "customer",
) -> None:
    rows = [(run_id, kind, c, s) for s, cs in members.items() for c in cs]
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
    add_run(ws, run_id, "segments", ANCHOR - timedelta(days=days_ago))


def _overlap(pairs: dict[tuple[int, int], int]) -> pd.DataFrame:
    return pd.DataFrame([(a, b, n) for (a, b), n in pairs.items()], columns=["prev", "new", "n"])


def test_hungarian_prefers_the_best_total_and_respects_the_floor():
    # prev 0 overlaps new 0 and new 1 heavily; prev 1 only new 0: the best total pairs 0-1 and 1-0
    ov = _overlap({(0, 0): 50, (0, 1): 45, (1, 0): 40, (2, 2): 5})
    prev, new = {0: 100, 1: 50, 2: 100}, {0: 100, 1: 50, 2: 100}
    m = match_segments(ov, prev, new)
    assert {(a, b) for a, b, _ in m} == {(0, 1), (1, 0)}  # (2, 2): Jaccard 5/195 < floor
    j = dict(((a, b), v) for a, b, v in m)
    assert j[(0, 1)] == pytest.approx(45 / 105) and j[(1, 0)] == pytest.approx(40 / 110)
    assert match_segments(ov, {}, new) == []


def test_split_and_merge_are_named():
    # prev 0 (80) splits into new 0 / new 1 (30 each, Jaccard 30/130 < 0.3);
    # prev 1 + prev 2 (40 each) merge into new 2 (80): new 2 matches one, the other "merged into"
    ov = _overlap({(0, 0): 30, (0, 1): 30, (1, 2): 40, (2, 2): 40})
    prev, new = {0: 80, 1: 40, 2: 40}, {0: 80, 1: 80, 2: 80}
    names = ({0: "Old", 1: "A", 2: "B"}, {0: "N0", 1: "N1", 2: XSS})
    alerts = change_alerts(ov, prev, new, names, (200, 260), "customers")
    kinds = {(a.kind, a.subject) for a in alerts}
    assert ("segment_split", "Old") in kinds and ("segment_merged", "B") in kinds
    assert ("segment_run_grew", XSS) in kinds  # matched A -> XSS: 40 -> 80
    split = next(a for a in alerts if a.subject == "Old")
    assert "'N0' (38%)" in split.message and "'N1' (38%)" in split.message and math.isnan(split.p_value)
    grew = next(a for a in alerts if a.kind == "segment_run_grew")
    assert "from 40 to 80 customers (+100%)" in grew.message and "where it was 'A'" in grew.message
    assert grew.p_value < 0.05 and [a.subject for a in control_fdr([grew])] == [XSS]


def test_two_runs_in_a_workspace(ws):
    loyal, bargain, gone = _ids("l", 120), _ids("b", 100), _ids("g", 60)
    _run(
        ws,
        "seg_old",
        {0: loyal, 1: bargain, 2: gone, -1: _ids("o", 20)},
        {0: "Loyal", 1: "Bargain", 2: "Gone"},
        days_ago=30,
    )
    fresh = _ids("f", 60)
    _run(
        ws,
        "seg_new",
        {0: loyal + _ids("x", 60), 1: bargain[:95], 2: fresh, -1: gone + bargain[95:] + _ids("o", 20)},
        {0: XSS, 1: "Bargain", 2: "Fresh"},
        days_ago=1,
    )
    _run(ws, "seg_rev", {0: _ids("r", 30)}, {0: "Review run"}, days_ago=10, kind="review")
    assert run_pair(ws) == ("seg_new", "seg_old", "customer")  # the review run is skipped
    alerts = {(a.kind, a.subject): a for a in segment_run_alerts(ws)}
    assert set(alerts) == {("segment_run_grew", XSS), ("segment_new", "Fresh"), ("segment_gone", "Gone")}
    grew = alerts[("segment_run_grew", XSS)]
    assert "grew from 120 to 180 customers (+50%)" in grew.message and "where it was 'Loyal'" in grew.message
    assert grew.before == pytest.approx(120 / 300) and grew.after == pytest.approx(180 / 420)
    # Bargain 100 -> 95 is below the 10 % change floor: no candidate at all
    shown = {(a.kind, a.subject): a for a in what_changed(ws)}
    assert ("segment_new", "Fresh") in shown and ("segment_gone", "Gone") in shown
    # +50 % members, but the run grew too: share 40 % -> 43 % is not significant, so not shown
    assert grew.p_value > 0.05 and ("segment_run_grew", XSS) not in shown
    assert list(shown)[-1][0] in ("segment_new", "segment_gone")  # structural alerts come last


def test_single_run_or_empty_gives_nothing(ws):
    assert segment_run_alerts(ws) == []
    _run(ws, "seg_1", {0: _ids("a", 20)}, {0: "Only"}, days_ago=1)
    assert segment_run_alerts(ws) == [] and what_changed(ws) == []


def test_report_section_escapes_segment_names(ws):
    from cx_core.insight.report_sections import changes_section

    _run(ws, "seg_old", {0: _ids("g", 60), 1: _ids("k", 50)}, {0: XSS, 1: "Kept"}, days_ago=30)
    _run(ws, "seg_new", {0: _ids("n", 70), 1: _ids("k", 50)}, {0: "Also " + XSS, 1: "Kept"}, days_ago=1)
    html = changes_section(ws, False, lambda fig: "")
    assert "no longer exists" in html and "New segment" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html


def test_overview_page_shows_segment_run_changes_escaped(app_env):  # noqa: F811
    import streamlit as st

    from cx_core.config import load_config
    from cx_core.ingest.bootstrap import ensure_demo
    from cx_core.store.db import Workspace

    st.cache_resource.clear()
    st.cache_data.clear()
    cfg = load_config()
    w = Workspace.open(cfg.db)
    try:
        ensure_demo(w, cfg)
        _run(w, "seg_old", {0: _ids("g", 60)}, {0: "Old"}, days_ago=30)
        _run(w, "seg_new", {0: _ids("n", 70)}, {0: XSS}, days_ago=1)
    finally:
        w.close()
    at = new_app()
    msgs = [m.value for m in at.markdown if "New segment" in m.value]
    assert msgs and "\\<img" in msgs[0] and "<img" not in msgs[0].replace("\\<img", "")
    assert any("Previous segment 'Old'" in m.value for m in at.markdown)
    st.cache_resource.clear()
    st.cache_data.clear()
