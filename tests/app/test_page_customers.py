"""Customers page: churn probability with method and window, text signals, escaping (AppTest)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import streamlit as st

from cx_core.config import load_config
from cx_core.ingest.bootstrap import ensure_demo
from cx_core.store.db import Workspace
from tests.app_fixtures import XSS, app_env, new_app  # noqa: F401  (app_env is a fixture)


@pytest.fixture(autouse=True)
def _no_cached_config():
    """The app caches its config and workspace per process: start and leave each test without them."""
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _seed_scores(customer_id: str | None = None) -> str:
    """Load the demo store and score the reviews of one customer, with a hostile aspect name."""
    cfg = load_config()
    ws = Workspace.open(cfg.db)
    try:
        ensure_demo(ws, cfg)
        cid = customer_id or ws.scalar(
            "SELECT r.customer_id FROM reviews r JOIN orders o USING (customer_id) "
            "GROUP BY 1 ORDER BY count(DISTINCT r.review_id) DESC, 1 LIMIT 1"
        )
        with ws.write() as cur:
            now = datetime.now()
            cur.execute(
                "INSERT INTO runs VALUES ('rs_1', 'review_scores', 'k', '{}', ?, ?, 'done', '{}')", [now, now]
            )
            cur.execute(
                "INSERT INTO review_scores SELECT 'rs_1', dataset_id, review_id, 'm', 'supervised', "
                "'negative', NULL, NULL, NULL, -0.7, NULL, [?], ?, 0.9, ['refund'] "
                "FROM reviews WHERE customer_id = ?",
                [XSS, json.dumps({XSS: -0.8}), cid],
            )
        return cid
    finally:
        ws.close()


def test_customers_page_shows_churn_and_text_signals(app_env):  # noqa: F811
    cid = _seed_scores()
    at = new_app()
    at.switch_page("pages/customers.py").run()
    at.button[0].click().run()  # Compute profiles
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Likely to churn"].endswith("%")
    churn_caption = next(c.value for c in at.caption if "Churn" in c.value and "AUC" in c.value)
    assert "90 days after the data ends" in churn_caption  # under "How this was computed"
    assert any("still active and yet likely to churn" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert table["Chance of churning (%)"].between(0, 100).all()
    assert "churn_method" not in table and "Churn method" not in table  # behind "Show ids and details"
    assert not any("P(alive)" in m.label for m in at.metric)  # no model term next to the churn share
    at.toggle(key="customers_table_ids").set_value(True).run()
    assert at.dataframe[0].value["Churn method"].str.contains("logistic regression").all()

    at.selectbox(key="customer_pick").set_value(cid).run()
    assert not at.exception, at.exception
    one = {m.label: m.value for m in at.metric}
    assert one["Chance of churning"].endswith("%")
    signals = next(d.value for d in at.dataframe if "signal" in d.value.columns).set_index("signal")
    shown = next(d.value for d in at.dataframe if list(d.value.columns) == ["value"])
    assert "None" not in shown["value"].tolist() and "nan" not in shown["value"].tolist()
    assert signals.loc["Negative reviews", "value"] == "100%"
    assert signals.loc["Top complaints", "value"] == XSS  # shown as data in a table, never as HTML
    for el in [*at.markdown, *at.caption, *at.success, *at.warning, *at.error, *at.info]:
        assert "<img" not in el.value, el.value


def test_customers_page_without_reviews_or_churn(app_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "60")
    monkeypatch.setenv("CX_CUSTOMERS_CHURN_HORIZON_DAYS", "2000")  # longer than the data
    at = new_app()
    at.switch_page("pages/customers.py").run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Likely to churn"] == "—"
    assert any("No churn scores" in c.value for c in at.caption)


def test_customers_page_with_reviews_only_says_what_is_missing(app_env, tmp_path):  # noqa: F811
    """No dead end: with reviews but no orders there is no Compute button, only what to load."""
    cfg = load_config()
    ws = Workspace.open(cfg.db)
    try:
        ensure_demo(ws, cfg)
        from cx_core.ingest.bootstrap import demo_dataset_ids
        from cx_core.ingest.load import delete_dataset

        for ds in demo_dataset_ids(ws):
            if ws.scalar("SELECT kind FROM datasets WHERE dataset_id = ?", [ds]) != "reviews":
                delete_dataset(ws, ds)
        reviewers = ws.scalar("SELECT count(DISTINCT customer_id) FROM reviews")
    finally:
        ws.close()
    at = new_app()
    at.switch_page("pages/customers.py").run()
    assert not at.exception, at.exception
    info = " ".join(i.value for i in at.info).replace("\\", "")
    assert f"You loaded reviews only ({reviewers:,} reviewers)" in info and "orders file" in info
    assert not [b for b in at.button if b.label == "Compute profiles"]
    assert not at.error


def test_a_running_job_is_announced_on_the_page_it_will_change(app_env):  # noqa: F811
    """Started in another tab (or by the CLI): the page says the job runs and will refresh."""
    from cx_core.store import jobs as job_table

    cfg = load_config()
    ws = Workspace.open(cfg.db)
    try:
        ensure_demo(ws, cfg)
        job_id = job_table.create_job(ws, "profiles", {}, "ana")
        job_table.start_job(ws, job_id)  # this process: alive, so not marked interrupted
        job_table.update_progress(ws, job_id, 0.4, "Fitting BG/NBD")
    finally:
        ws.close()
    at = new_app()
    at.switch_page("pages/customers.py").run()
    assert not at.exception, at.exception
    said = " ".join(i.value for i in at.info).replace("\\", "")
    assert "Customer profiles is running (Fitting BG/NBD)" in said
