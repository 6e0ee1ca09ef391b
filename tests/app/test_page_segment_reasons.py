"""The Segments page's "why" section under AppTest: offered as a job before, word lists and
highlighted representatives after, every user string escaped."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

from cx_core.config import load_config
from cx_core.ingest.load import load_file
from cx_core.segments.reasons import ReasonSettings, compute_reasons
from cx_core.store.db import Workspace
from tests.conftest import ROOT
from tests.explain_fixtures import tiny_sentiment_model

XSS = "<img src=x onerror=alert(1)>"
TEXTS = {
    "a": f"{XSS} the zipper broke and the zipper is cheap",
    "b": "the zipper broke again, cheap fabric",
    "c": "lovely soft fabric, lovely colour",
    "d": "lovely dress and soft fabric",
}


def _workspace(root) -> tuple[Workspace, str]:
    cfg = load_config(env={}, db__path=str(root / "ws.duckdb"))
    ws = Workspace.open(cfg.db)
    csv = root / "r.csv"
    pd.DataFrame(
        {"customer_id": list(TEXTS), "review_text": list(TEXTS.values()), "rating": [1, 2, 5, 5]}
    ).to_csv(csv, index=False)
    load_file(ws, csv, "reviews")
    run_id = "seg_why"
    config = {"unit_kind": "customer", "strategy": "single", "min_segment_size": 2, "inputs": {}}
    metrics = {"n": 4, "unit_kind": "customer", "n_segments": 2, "noise_share": 0.0, "text_coverage": 1.0}
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES (?, 'segments', ?, ?, ?, ?, 'done', ?)",
            [run_id, "x", json.dumps(config), datetime.now(), datetime.now(), json.dumps(metrics)],
        )
        for uid, seg in (("a", 0), ("b", 0), ("c", 1), ("d", 1)):
            cur.execute(
                "INSERT INTO segments VALUES (?, 'customer', ?, ?, false, 0.9, ?, ?)",
                [run_id, uid, seg, float(seg), 1.0],
            )
        for seg, name, rep in ((0, XSS + " zipper", "a"), (1, "Lovely fabric", "c")):
            cur.execute(
                "INSERT INTO segment_info (run_id, segment_id, name, keywords_json, size, share, "
                "top_aspects_json, representative_json, traits_json) VALUES (?, ?, ?, '[]', 2, 0.5, '[]', ?, '[]')",
                [run_id, seg, name, json.dumps([{"review_id": rep, "rating": 1, "text": TEXTS[rep]}])],
            )
    return ws, run_id


def _page(monkeypatch, root) -> AppTest:
    monkeypatch.setenv("CX_DB_PATH", str(root / "ws.duckdb"))
    monkeypatch.setenv("CX_DEMO_DIR", str(root / "demo"))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/segments.py").run()
    assert not at.exception, at.exception
    return at


def test_offered_as_a_job_then_shown_escaped(tmp_path, monkeypatch):
    ws, run_id = _workspace(tmp_path)
    ws.close()
    at = _page(monkeypatch, tmp_path)
    assert any(s.value == "Why each segment feels the way it does" for s in at.subheader)
    assert [i for i in at.info if "Find the words" in i.value]
    sizes = at.selectbox(key="seg_reasons_run_size").options
    assert len(sizes) >= 4 and all("reviews" in o and "first guess" in o for o in sizes)
    assert any(b.label == "Find the words behind each segment" for b in at.button)

    ws = Workspace.open(load_config(env={}, db__path=str(tmp_path / "ws.duckdb")).db)
    compute_reasons(
        ws, run_id, tiny_sentiment_model(), ReasonSettings(reviews_per_segment=5, n_steps=4, min_reviews=1)
    )
    ws.close()
    at = _page(monkeypatch, tmp_path)
    expanders = [e.label for e in at.expander]
    assert any("zipper" in e for e in expanders) and not any(
        "<img" in e and "\\<img" not in e for e in expanders
    )
    lists = [m.value for m in at.markdown if m.value.startswith("Pushed towards")]
    assert len(lists) == 4 and any("**" in v for v in lists)
    htmls = [h.proto.body for h in at.get("html")]
    assert len(htmls) == 2 and any(">&lt;</span>" in h for h in htmls)  # the tag is shown as text
    assert not any("<img" in h for h in htmls)
    assert any("measured" not in c.value and "s each" in c.value for c in at.caption)
    assert not [i for i in at.info if "Find the words" in i.value]
