"""The Segments page under AppTest: run, show, assign outliers, compare; user strings escaped."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from cx_core.config import load_config
from cx_core.ingest.load import load_file
from cx_core.store.db import Workspace
from tests.conftest import ROOT
from tests.segment_helpers import DEMO_CUSTOMERS, DEMO_SEED, demo_workspace

XSS = "<img src=x onerror=alert(1)>"


def _env(monkeypatch, root, customers: int = DEMO_CUSTOMERS) -> None:
    monkeypatch.setenv("CX_DB_PATH", str(root / "ws.duckdb"))
    monkeypatch.setenv("CX_DEMO_DIR", str(root / "demo"))
    monkeypatch.setenv("CX_INGEST_UPLOAD_DIR", str(root / "uploads"))
    monkeypatch.setenv("CX_DEMO_SEED", str(DEMO_SEED))
    monkeypatch.setenv("CX_DEMO_CUSTOMERS", str(customers))
    monkeypatch.setenv("CX_MODEL_THREADS", "1")


def _segments_page() -> AppTest:
    st.cache_resource.clear()  # the app caches its config and workspace per process
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.run()
    at.switch_page("pages/segments.py").run()
    assert not at.exception, at.exception
    return at


RAW_TAG = re.compile(r"(?<!\\)<img")  # a tag Markdown would render; "\<img" shows literally


def _rendered_text(at: AppTest) -> list[str]:
    """Every markdown-ish string and every chart spec on the page."""
    out = [el.value for el in [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success]]
    out += [el.proto.spec for el in at.get("plotly_chart")]
    return out


def _assert_escaped(at: AppTest) -> None:
    for text in _rendered_text(at):
        assert not RAW_TAG.search(text), text[:200]
    for spec in (el.proto.spec for el in at.get("plotly_chart")):
        assert "<img" not in spec


@pytest.mark.slow
def test_run_show_compare_and_assign_outliers(tmp_path, monkeypatch):
    ws, _ = demo_workspace(tmp_path)  # demo store + its MiniLM vectors already cached
    ws.close()
    _env(monkeypatch, tmp_path)
    at = _segments_page()
    assert at.title[0].value == "Segments"
    assert any("No segments yet" in i.value for i in at.info)
    at.button[0].click().run()  # the form's "Run segmentation"
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers"] == f"{DEMO_CUSTOMERS:,}"  # the unit in plain words
    assert int(metrics["Segments"]) >= 4
    assert len(at.get("plotly_chart")) >= 4  # map, size/value, CLV vs churn, trends
    cards = [m.value for m in at.markdown if m.value.startswith("**")]
    assert len(cards) >= int(metrics["Segments"])
    assert sum(m.value.startswith(">") for m in at.markdown) >= 3 * int(metrics["Segments"])
    compare = at.dataframe[-1].value
    assert list(compare.columns) == ["A", "B"] and "likely to churn" in compare.index
    at.selectbox(key="seg_cmp_b").set_value(2).run()
    assert not at.exception, at.exception
    assign = [b for b in at.button if b.label.startswith("Assign outliers")]
    if assign:  # only offered when HDBSCAN left outliers
        assign[0].click().run()
        assert not at.exception, at.exception
        assert any("were assigned" in c.value for c in at.caption)
    assert len(at.selectbox(key="seg_run_pick").options) == 1 + bool(assign)
    _assert_escaped(at)


def _hostile_workspace(root) -> None:
    """Reviews with a hostile text and a hand-written segment run with hostile names."""
    cfg = load_config(env={}, db__path=str(root / "ws.duckdb"))
    ws = Workspace.open(cfg.db)
    csv = root / "r.csv"
    pd.DataFrame(
        {"customer_id": ["a", "b", "c"], "review_text": [XSS, "fine **bold**", "ok"], "rating": [1, 5, 3]}
    ).to_csv(csv, index=False)
    load_file(ws, csv, "reviews")
    run_id = "seg_hostile"
    config = {
        "settings": {},
        "unit_kind": "customer",
        "strategy": "single",
        "min_segment_size": 2,
        "inputs": {"review_scores_run": None},
    }
    metrics = {
        "n": 3,
        "unit_kind": "customer",
        "n_segments": 2,
        "noise_share": 1 / 3,
        "outlier_share": 1 / 3,
        "text_coverage": 1.0,
        "churn_source": XSS,
    }
    rep = json.dumps([{"review_id": "1", "rating": 1, "text": XSS}])
    asp = json.dumps([{"aspect": XSS, "share": 0.5, "lift": 2.0, "sentiment": -0.5}])
    traits = json.dumps([{"column": "x", "label": XSS, "z": 1.0, "segment": 1, "overall": 0}])
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES (?, 'segments', ?, ?, ?, ?, 'done', ?)",
            [run_id, "x", json.dumps(config), datetime.now(), datetime.now(), json.dumps(metrics)],
        )
        for uid, seg, out in (("a", 0, False), ("b", 1, False), ("c", -1, True)):
            cur.execute(
                "INSERT INTO segments VALUES (?, 'customer', ?, ?, ?, 0.9, ?, ?)",
                [run_id, uid, seg, out, float(seg), 1.0],
            )
        for seg, name in ((0, XSS), (1, "[link](http://x) & *b*"), (-1, "Outliers")):
            cur.execute(
                "INSERT INTO segment_info (run_id, segment_id, name, keywords_json, size, "
                "share, revenue_share, mean_clv, churn_rate, mean_sentiment, "
                "top_aspects_json, representative_json, traits_json) "
                "VALUES (?, ?, ?, ?, 1, 0.33, NULL, NULL, NULL, NULL, ?, ?, ?)",
                [run_id, seg, name, json.dumps([[XSS, 1.0]]), asp, rep, traits],
            )
    ws.close()


def test_hostile_names_and_texts_are_escaped(tmp_path, monkeypatch):
    _hostile_workspace(tmp_path)
    _env(monkeypatch, tmp_path)
    at = _segments_page()
    assert any("fit no segment" in i.value for i in [*at.info, *at.warning])
    at.toggle(key="segments_mask").set_value(True).run()  # show personal data: raw texts
    assert not at.exception, at.exception
    texts = _rendered_text(at)
    assert any("onerror" in t for t in texts)  # the hostile strings are shown ...
    _assert_escaped(at)  # ... but never as HTML
    assert not any("](http" in m.value for m in at.markdown)  # no live markdown links
    assert any("&lt;img" in spec for spec in (el.proto.spec for el in at.get("plotly_chart")))
