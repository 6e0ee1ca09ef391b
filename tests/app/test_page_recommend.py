"""Recommend page: compute, pick a customer, items with reasons, hostile names escaped (AppTest)."""

from __future__ import annotations

import pandas as pd
import pytest
import streamlit as st

from cx_core.config import load_config
from cx_core.safe import md_escape
from cx_core.store.db import Workspace
from tests.app_fixtures import XSS, app_env, new_app  # noqa: F401  (app_env is a fixture)
from tests.recommend.test_recommend import _baskets


@pytest.fixture(autouse=True)
def _no_cached_config():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _seed_orders(tmp_path) -> None:
    """Load the synthetic baskets (a1's name is hostile) as an orders dataset."""
    from cx_core.ingest.load import load_file

    lines = _baskets()
    lines.loc[lines["item"] == "a4", "item_name"] = XSS + " *bold*"
    f = tmp_path / "orders.csv"
    lines.assign(amount=1.0, quantity=lines["is_return"].map({True: -1.0, False: 1.0})).drop(
        columns="is_return"
    ).to_csv(f, index=False)
    ws = Workspace.open(load_config().db)
    try:
        load_file(
            ws,
            f,
            "orders",
            {
                "customer_id": "customer_id",
                "order_id": "order_id",
                "ts": "ts",
                "amount": "amount",
                "quantity": "quantity",
                "item": "item",
                "item_name": "item_name",
            },
        )
    finally:
        ws.close()


def test_recommend_page(app_env, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "0")
    _seed_orders(app_env)
    at = new_app()
    at.switch_page("pages/recommend.py").run()
    assert not at.exception, at.exception
    assert any("No recommendations yet" in i.value for i in at.info)
    at.button[0].click().run()  # Compute recommendations
    assert not at.exception, at.exception
    at.selectbox(key="recommend_pick").set_value("t").run()
    assert not at.exception, at.exception
    lines = [m.value for m in at.markdown if m.value[:2] in {f"{i}." for i in range(1, 10)}]
    assert lines and "who also bought" in lines[0]
    text = " ".join(m.value for m in at.markdown)
    assert XSS not in text and md_escape(XSS) in text
    assert "*bold*" not in text and md_escape("*bold*") in text
    assert "a4" in lines[0]  # the co-purchased item comes first
    history = at.dataframe[0].value
    assert isinstance(history, pd.DataFrame) and set(history["Item code"]) == {"a1", "a2", "a3", "b0"}


def _seed_reviews(tmp_path) -> None:
    """Review-only data (no orders): anonymous reviewers, hostile category and text."""
    from cx_core.ingest.load import load_file

    texts = ["soft fabric, true to size", "lovely colour and fit", f"{XSS} runs small", "fits well"]
    df = pd.DataFrame(
        {
            "review_id": [f"v{i}" for i in range(12)],
            "item": ["p1", "p2", "p3"] * 4,
            "rating": [5, 4, 5, 2] * 3,
            "category": [XSS, "Tops", "Dresses"] * 4,
            "title": [f"{XSS} title", "", "Nice", "ok"] * 3,
            "text": texts * 3,
        }
    )
    f = tmp_path / "reviews.csv"
    df.to_csv(f, index=False)
    ws = Workspace.open(load_config().db)
    try:
        load_file(
            ws,
            f,
            "reviews",
            {
                "review_id": "review_id",
                "item": "item",
                "rating": "rating",
                "category": "category",
                "title": "title",
                "text": "text",
            },
        )
    finally:
        ws.close()


@pytest.mark.slow
def test_recommend_page_text_for_review_only_data(app_env, monkeypatch, tmp_path):  # noqa: F811
    from cx_core.reviews.testing import tiny_encoder_dir

    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "0")
    monkeypatch.setenv("CX_MODEL_DIR", tiny_encoder_dir(tmp_path / "enc"))
    monkeypatch.setenv("CX_MODEL_DEVICE", "cpu")
    _seed_reviews(app_env)
    at = new_app()
    at.switch_page("pages/recommend.py").run()
    assert not at.exception, at.exception
    options = " ".join(at.selectbox(key="recommend_method").options)
    assert "Auto:" in options and "Text:" in options
    at.selectbox(key="recommend_method").set_value("text")
    at.button[0].click().run()
    assert not at.exception, at.exception
    pick = at.selectbox(key="recommend_pick")
    assert "anonymous reviewer, review v0" in pick.options
    pick.set_value("review:v2").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "anonymous reviewer, review v2" in " ".join(s.value for s in at.subheader)
    lines = [m.value for m in at.markdown if m.value[:2] in {f"{i}." for i in range(1, 10)}]
    assert lines and all("review text" in line for line in lines)
    assert "What they praised" in text and "What they bought" not in text
    assert XSS not in text and md_escape(XSS) in text
