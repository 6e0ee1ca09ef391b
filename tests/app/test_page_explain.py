"""The Explain page under AppTest: pick a review, explain it, everything escaped, cache hit."""

from __future__ import annotations

from datetime import datetime

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from cx_core.config import load_config
from cx_core.ingest.load import load_file
from cx_core.store.db import Workspace
from tests.conftest import ROOT

XSS = "<img src=x onerror=alert(1)>"
BREAKOUT = '"><script>alert(2)</script>'


@pytest.fixture
def app_ws(tmp_path, monkeypatch):
    """A workspace holding three reviews, two of them hostile (so no demo store is generated)."""
    monkeypatch.setenv("CX_DB_PATH", str(tmp_path / "ws.duckdb"))
    monkeypatch.setenv("CX_DEMO_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("CX_INGEST_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("CX_REVIEWS_MODEL_STORE", str(tmp_path / "models"))
    f = tmp_path / "reviews.csv"
    f.write_text(
        "review_id,review_text,rating\n"
        f'r1,"Lovely dress {XSS} but the zip broke",2\n'
        f'r2,"Terrible fit {BREAKOUT.replace(chr(34), chr(34) * 2)} never again",1\n'
        "r3,Great quality and fast delivery,5\n"
        "r4,Mail me at jane.doe@example.com about the refund,3\n"
    )
    ws = Workspace.open(load_config().db)
    load_file(ws, f, "reviews")
    ws.close()
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


@pytest.fixture
def tiny_model():
    from transformers import AutoTokenizer

    from cx_core.explain.reference import EncoderHeadModel, tiny_bert
    from cx_core.text.encoder import default_model_dir

    tok = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    torch.manual_seed(0)
    return EncoderHeadModel(
        tiny_bert(tok),
        tok,
        {"sentiment": ["negative", "neutral", "positive"]},
        max_length=64,
        model_id="tiny-zero-shot",
    )


def _explain_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/explain.py").run()
    assert not at.exception, at.exception
    return at


def _no_raw_html(at: AppTest) -> None:
    for el in [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success]:
        assert "<img" not in el.value and "<script" not in el.value, el.value
    for el in at.html:
        assert "<img" not in el.value and "<script" not in el.value


def _click_explain(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Explain this review").click().run()
    assert not at.exception, at.exception
    return at


def test_explain_page_zero_shot_hostile_review_and_cache(app_ws, tiny_model, monkeypatch):
    import cx_core.explain.loader as loader

    monkeypatch.setattr(loader, "zero_shot_model", lambda cfg: tiny_model)
    at = _explain_page()
    assert any("No trained review model yet" in i.value for i in at.info)
    assert any("Rough and untrained" in w.value for w in at.warning)  # zero-shot says what it is
    assert any(b.label == "Train on your ratings" for b in at.button)
    at.text_input(key="explain_search").set_value("onerror").run()
    assert len(at.selectbox(key="explain_review").options) == 1
    at = _click_explain(at)
    assert len(at.html) == 2  # integrated gradients + attention
    ig_html = at.html[0].value
    assert "&lt;" in ig_html and "Convergence delta" in ig_html
    assert any("computed in" in c.value for c in at.caption)
    _no_raw_html(at)
    at = _click_explain(at)
    assert any("from the cache" in c.value for c in at.caption)
    at.text_input(key="explain_search").set_value("r2").run()  # by id
    at = _click_explain(at)
    _no_raw_html(at)
    assert "&lt;" in at.html[0].value and "&quot;" in at.html[0].value
    at.text_input(key="explain_search").set_value("r4").run()  # personal data masked by default
    assert "jane" not in at.selectbox(key="explain_review").options[0]
    at = _click_explain(at)
    assert "jane" not in at.html[0].value and "refund" in at.html[0].value


def test_explain_page_with_a_trained_review_model(app_ws):
    """The real path: a (tiny, untrained) ReviewModel saved and recorded like a trained one."""
    from cx_core.reviews.store import record_training
    from cx_core.reviews.testing import tiny_review_model

    model = tiny_review_model(app_ws / "enc")
    model.model_id_ = model.meta_["model_id"] = "rm_test_0001"
    out = model.save(app_ws / "models" / "rm_test_0001")
    ws = Workspace.open(load_config().db)
    record_training(ws, "rm_test_0001", out, "all", {"mode": "frozen"}, {}, datetime.now())
    ws.close()
    at = _explain_page()
    assert not any("No trained review model yet" in i.value for i in at.info)
    at.selectbox(key="explain_head").set_value("aspects").run()
    at.selectbox(key="explain_label").set_value("price").run()
    at = _click_explain(at)
    assert len(at.html) == 2
    assert any("aspects: price" in m.value for m in at.markdown)
    _no_raw_html(at)


def test_explain_page_without_reviews(tmp_path, monkeypatch):
    monkeypatch.setenv("CX_DB_PATH", str(tmp_path / "ws.duckdb"))
    ws = Workspace.open(load_config().db)
    with ws.write() as cur:  # an empty workspace that is not brand-new: no demo store
        cur.execute("INSERT INTO meta VALUES ('demo_seeded', '7')")
    ws.close()
    st.cache_resource.clear()
    at = _explain_page()
    assert any("No reviews yet" in i.value for i in at.info)
