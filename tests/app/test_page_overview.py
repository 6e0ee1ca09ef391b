"""Overview page under AppTest: KPIs with deltas, hints without scores, drivers with scores."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import streamlit as st

from cx_core.config import load_config
from cx_core.ingest.bootstrap import ensure_demo
from cx_core.store.db import Workspace
from tests.app_fixtures import XSS, app_env, new_app  # noqa: F401  (app_env is a fixture)


@pytest.fixture(autouse=True)
def _fresh_caches():
    """The app caches config, workspace and data per process: start and leave each test without them."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _seed() -> None:
    """Demo store plus a scoring run where a hostile-named aspect is negative in low ratings, and profiles."""
    cfg = load_config()
    ws = Workspace.open(cfg.db)
    try:
        ensure_demo(ws, cfg)
        now = datetime.now()
        with ws.write() as cur:
            for run, stage in (("rs_1", "review_scores"), ("p_1", "profiles")):
                cur.execute(
                    "INSERT INTO runs VALUES (?, ?, 'k', '{}', ?, ?, 'done', '{}')", [run, stage, now, now]
                )
            cur.execute(
                "INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, sentiment_method, "
                "sentiment, sentiment_score, aspects, aspect_sentiment_json) "
                "SELECT 'rs_1', dataset_id, review_id, 'm', 'test', "
                "CASE WHEN rating <= 2 THEN 'negative' ELSE 'positive' END, (rating - 3) / 2, "
                "[?, 'price'], json_object(?, CASE WHEN rating <= 2 THEN -0.8 ELSE 0.4 END, 'price', 0.5) "
                "FROM reviews",
                [XSS, XSS],
            )
            cur.execute(
                "INSERT INTO customer_profiles (run_id, customer_id, churn_prob, clv) "
                "SELECT DISTINCT 'p_1', customer_id, CASE WHEN hash(customer_id) % 4 = 0 "
                "THEN 0.9 ELSE 0.1 END, 5.0 FROM reviews WHERE customer_id IS NOT NULL"
            )
    finally:
        ws.close()


def _no_raw_html(at) -> None:
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert not re.search(r"(?<!\\)<img", el.value), el.value  # only md-escaped (\<img)


def test_overview_without_scores_shows_hints(app_env):  # noqa: F811
    at = new_app()
    metrics = {m.label: m for m in at.metric}
    assert int(metrics["Customers"].value.replace(",", "")) == 600
    assert metrics["Avg sentiment (−1 to +1)"].value == "–" and metrics["Likely to churn"].value == "–"
    assert metrics["Orders"].delta not in (None, "")
    assert any("Reviews" in c.value and "Score" in c.value for c in at.caption)
    assert any("No aspect scores yet" in i.value for i in at.info)
    _no_raw_html(at)


def test_overview_with_scores_ranks_drivers(app_env):  # noqa: F811
    _seed()
    at = new_app()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Avg sentiment (−1 to +1)"] != "–" and metrics["Likely to churn"].endswith("%")
    assert float(metrics["Predicted lifetime value (total)"].replace(",", "")) > 0
    drivers = at.dataframe[0].value
    assert drivers["Aspect"].iloc[0] == XSS  # shown as data in a table, never as HTML
    gain = drivers["Stars gained if fixed"]
    assert gain.iloc[0] > 0 and gain.iloc[1] == pytest.approx(0)
    assert "Trend p-value" not in drivers  # statistics behind "Show ids and details"
    assert any(e.label == "How this was computed" for e in at.expander)
    assert any("costs the most" in m.value and "\\<img" in m.value for m in at.markdown)
    _no_raw_html(at)


def test_overview_what_changed_block(app_env):  # noqa: F811
    """A hostile-named aspect negative only in the last 90 days shows up, escaped, under 'What changed'."""
    cfg = load_config()
    ws = Workspace.open(cfg.db)
    try:
        ensure_demo(ws, cfg)
        now = datetime.now()
        with ws.write() as cur:
            cur.execute(
                "INSERT INTO runs VALUES ('rs_1', 'review_scores', 'k', '{}', ?, ?, 'done', '{}')", [now, now]
            )
            cur.execute(
                "INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, sentiment_method, "
                "sentiment, sentiment_score, aspects, aspect_sentiment_json) "
                "SELECT 'rs_1', dataset_id, review_id, 'm', 'test', 'neutral', 0.0, [?], json_object(?, "
                "CASE WHEN ts > greatest((SELECT max(ts) FROM orders), (SELECT max(ts) FROM reviews)) "
                "- INTERVAL 90 DAY THEN -0.8 ELSE 0.4 END) FROM reviews",
                [XSS, XSS],
            )
    finally:
        ws.close()
    at = new_app()
    assert any(s.value == "What changed" for s in at.subheader)
    assert any(
        "Complaints about" in m.value and "\\<img" in m.value and "rose" in m.value for m in at.markdown
    )
    _no_raw_html(at)


def test_overview_says_how_far_reviews_and_orders_join(app_env):  # noqa: F811
    at = new_app()
    assert not at.exception, at.exception
    said = " ".join(c.value for c in [*at.caption, *at.warning]).replace("\\", "")
    assert "reviewers match an order customer" in said
