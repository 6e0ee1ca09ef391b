"""The self-contained HTML insight report: sections, escaping, PII masking, CLI and page button."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pandas as pd
import pytest
import streamlit as st

from cx_core.cli.main import main
from cx_core.config import load_config
from cx_core.insight.report import build_report, write_report
from cx_core.store.db import Workspace
from tests.drivers_fixtures import ANCHOR, add_reviews, insert, planted

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(1)</script>"
EMAIL = "jane.doe@example.com"
PLOTLY_BANNER = "plotly.js v"


@pytest.fixture
def ws(tmp_path):
    w = Workspace.open(load_config(env={}, db__path=str(tmp_path / "ws.duckdb")).db)
    yield w
    w.close()


def _segments(ws: Workspace) -> None:
    """A segment run whose names, keywords and representative reviews are hostile or personal."""
    reps = [{"review_id": "r1", "rating": 1.0, "text": f"{IMG} write to {EMAIL} {SCRIPT}"}]
    info = pd.DataFrame(
        {
            "run_id": "seg_1",
            "segment_id": [0, 1, -1],
            "name": [SCRIPT, IMG, "Outliers"],
            "keywords_json": [json.dumps([[IMG, 0.5], ["zip", 0.3]]), "[]", "[]"],
            "size": [60, 30, 10],
            "share": [0.6, 0.3, 0.1],
            "revenue_share": [0.7, 0.2, 0.1],
            "mean_clv": [120.0, 40.0, 10.0],
            "churn_rate": [0.2, 0.5, 0.3],
            "mean_sentiment": [0.1, -0.4, 0.0],
            "top_aspects_json": [
                json.dumps([{"aspect": SCRIPT, "share": 0.4, "lift": 1.2, "sentiment": -0.3}]),
                "[]",
                "[]",
            ],
            "representative_json": [json.dumps(reps), "[]", "[]"],
            "traits_json": [
                json.dumps([{"column": "aov", "label": "high order value", "z": 1.0}]),
                "[]",
                "[]",
            ],
        }
    )
    insert(ws, "segment_info", info)
    insert(
        ws,
        "segments",
        pd.DataFrame(
            {
                "run_id": "seg_1",
                "unit_kind": "customer",
                "unit_id": [f"c{i}" for i in range(10)],
                "segment_id": [0] * 6 + [1] * 3 + [-1],
                "is_outlier": [False] * 9 + [True],
                "probability": 1.0,
                "x": 0.0,
                "y": 0.0,
            }
        ),
    )
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('seg_1', 'segments', 'k', '{}', ?, ?, 'done', ?)",
            [
                ANCHOR,
                ANCHOR,
                json.dumps({"n": 100, "unit_kind": "customer", "n_segments": 2, "outlier_share": 0.1}),
            ],
        )


def _models(ws: Workspace) -> None:
    """A trained review model's metrics and a profiles run with a churn hold-out check."""
    m = {
        "mode": "frozen",
        "sentiment_method": "head",
        "sentiment": {"accuracy": 0.81, "macro_f1": 0.7, "auc_ovr": 0.9, "n": 200},
        "baseline": {"method": "rating-lexicon", "accuracy": 0.6, "macro_f1": 0.5, "n": 200},
    }
    churn = {
        "evaluation": {
            "holdout_window": "2024-01-01 .. 2024-06-30",
            "customers": 400,
            "holdout_churn_rate": 0.3,
            "model": {"auc": 0.777, "brier": 0.18, "pr_auc": 0.5},
            "baseline_bgnbd_p_no_purchase": {"auc": 0.655, "brier": 0.22},
            "baseline_bgnbd_1_minus_p_alive": {"auc": 0.644, "brier": 0.23},
        }
    }
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO runs VALUES ('rm_1', 'review_model', 'k', '{}', ?, ?, 'done', ?)",
            [ANCHOR, ANCHOR, json.dumps(m)],
        )
        cur.execute(
            "INSERT INTO runs VALUES ('p2', 'profiles', 'k', '{}', ?, ?, 'done', ?)",
            [ANCHOR + timedelta(seconds=1), ANCHOR + timedelta(seconds=1), json.dumps({"churn": churn})],
        )


def _full(ws: Workspace) -> None:
    """Planted drivers, hostile aspect names, segments and model metrics."""
    planted(ws, n=200)
    n = 40
    add_reviews(
        ws,
        [ANCHOR - timedelta(days=i) for i in range(n)],
        [1.0 if i % 2 else 5.0 for i in range(n)],
        [f"x{i}" for i in range(n)],
        [{IMG: -0.8 if i % 2 else 0.5, SCRIPT: -0.7 if i % 2 else 0.4} for i in range(n)],
        run_id="s2",
        dataset_id="d2",
    )
    _segments(ws)
    _models(ws)


def _safe(html: str) -> None:
    """Hostile strings only escaped; no external scripts; plotly.js exactly once."""
    assert IMG not in html and "<script>alert" not in html and "onerror=alert(1)>" not in html
    assert not re.search(r"<script[^>]+src\s*=\s*[\"']?https?:", html, re.I)
    assert html.count(PLOTLY_BANNER) == 1


def test_full_report_has_every_section_escaped_and_masked(ws):
    _full(ws)
    html = build_report(ws)
    _safe(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;/script&gt;" in html
    for title in ("Overview", "What to fix first", "Segments", "Model quality"):
        assert f"<h2>{title}</h2>" in html
    assert 'class="missing"' not in html
    assert "Representative reviews" in html and "high order value" in html
    assert EMAIL not in html and "j•••@e•••.com" in html
    assert "rm_1" in html and "0.810" in html and "rating-lexicon" in html  # model vs baseline
    assert "AUC 0.777 vs 0.655" in html  # churn hold-out
    assert html.count('class="plotly-graph-div"') == 3  # drivers, size/value, value/churn


def test_unmasked_report_keeps_emails_but_still_escapes(ws):
    _full(ws)
    html = build_report(ws, mask_pii=False)
    _safe(html)
    assert EMAIL in html and "NOT masked" in html


def test_empty_workspace_says_what_is_missing(ws):
    html = build_report(ws)
    _safe(html)
    assert html.count('class="missing"') == 5
    assert "No data loaded" in html and "No segment run yet" in html


def test_reviews_without_scores_still_report_kpis(ws):
    add_reviews(ws, [datetime(2024, 1, 1)] * 3, [5, 4, 1], ["a", "b", "c"], [{}] * 3, run_id=None)
    html = build_report(ws)
    assert "No aspect scores yet" in html and ">Reviews<" in html and 'class="value">3<' in html


def test_broken_section_becomes_a_note(ws):
    _full(ws)
    with ws.write() as cur:  # corrupt the newest model's metrics
        cur.execute("UPDATE runs SET metrics_json = '{\"sentiment\": 5}' WHERE run_id = 'rm_1'")
    html = build_report(ws)
    assert "<h2>Segments</h2>" in html and "<h2>Model quality</h2>" in html
    assert "This section could not be built: AttributeError" in html and "Representative reviews" in html


def test_write_report_rejects_non_html_path(ws, tmp_path):
    with pytest.raises(ValueError, match=r"\.html"):
        write_report(ws, tmp_path / "report.pdf")


def test_cli_writes_the_report(tmp_path, capsys):
    db = str(tmp_path / "ws.duckdb")
    w = Workspace.open(load_config(env={}, db__path=db).db)
    _full(w)
    w.close()
    out = tmp_path / "sub" / "r.html"
    assert main(["--db", db, "report", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    _safe(html)
    assert EMAIL not in html
    assert main(["--db", db, "report", "--out", str(out), "--no-mask"]) == 0
    assert EMAIL in out.read_text(encoding="utf-8")
    assert main(["--db", db, "report", "--out", str(tmp_path / "r.txt")]) == 2
    assert ".html" in capsys.readouterr().err


def test_overview_page_builds_and_offers_the_report(tmp_path, monkeypatch):
    from tests.app_fixtures import new_app

    db = tmp_path / "ws.duckdb"
    w = Workspace.open(load_config(env={}, db__path=str(db)).db)
    _full(w)
    w.close()
    monkeypatch.setenv("CX_DB_PATH", str(db))
    monkeypatch.setenv("CX_DEMO_DIR", str(tmp_path / "demo"))
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = new_app()
        assert [b for b in at.button if b.label == "Build report"]
        assert not at.get("download_button")
        next(b for b in at.button if b.label == "Build report").click().run()
        assert not at.exception, at.exception
        (dl,) = at.get("download_button")
        assert dl.proto.label == "Download insight report (HTML)"
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()


def test_batch_export_stage_writes_the_report(ws, tmp_path):
    from cx_core.pipeline.stage import RunOptions, StageContext, run_stage
    from cx_core.pipeline.stages import STAGES
    from cx_core.pipeline.stages.export import REPORT_FILE
    from cx_core.progress import no_progress

    _full(ws)
    cfg = load_config(env={}, db__path=str(tmp_path / "ws.duckdb"))
    ctx = StageContext(ws, cfg, RunOptions(export_dir=str(tmp_path / "out")), {})
    out = run_stage(STAGES["export"], ctx, no_progress)
    assert out.status == "done" and out.extra["report"].endswith(REPORT_FILE)
    html = (tmp_path / "out" / REPORT_FILE).read_text(encoding="utf-8")
    _safe(html)
    assert EMAIL not in html
    ctx.previous = {"export": {"key": out.key, "run_id": None}}
    assert run_stage(STAGES["export"], ctx, no_progress).status == "skipped"  # unchanged: nothing rewritten
    (tmp_path / "out" / REPORT_FILE).unlink()
    assert (
        run_stage(STAGES["export"], ctx, no_progress).status == "done"
        and (tmp_path / "out" / REPORT_FILE).is_file()
    )
