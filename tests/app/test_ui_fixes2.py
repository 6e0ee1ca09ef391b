"""Second round of browser-QA fixes: stale review scores, readable pickers and taxonomy, wrong
file kind, review-level segment wording, the Data page's customer count."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cx_core.ingest.datasets import dataset_labels, distinct_customers
from cx_core.ingest.load import MappingError, load_file
from cx_core.ingest.mapping import kind_hint
from cx_core.reviews.browse import unscored_reviews
from cx_core.reviews.taxonomy import add_aspect, taxonomy_frame
from cx_core.store.runs import record_run
from cx_core.plots.segments import segment_map_figure, size_value_figure, unit_noun
from tests.conftest import ROOT

XSS = "<img src=x onerror=alert(1)>"
RETAIL = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country"]
AMAZON = ["reviewerID", "asin", "reviewerName", "helpful", "reviewText", "overall", "summary",
          "unixReviewTime", "reviewTime"]


def _orders_csv(path: Path) -> Path:
    path.write_text(",".join(RETAIL) + "\n536365,85123A,WHITE HEART,6,2010-12-01 08:26,2.55,c1,UK\n"
                    "536366,71053,LANTERN,2,2010-12-02 09:00,3.39,c9,UK\n")
    return path


def _score_all(ws, run_id: str = "rs1") -> None:
    """A scoring run over every loaded review (what Score reviews would leave behind)."""
    with ws.write() as cur:
        cur.execute("INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, "
                    "sentiment_method, sentiment, sentiment_score, aspects) "
                    "SELECT ?, dataset_id, review_id, 'm', 'supervised', 'neutral', 0.0, [] "
                    "FROM reviews", [run_id])
        record_run(cur, run_id, "review_scores", "all", {"model_id": "m"}, datetime.now(), {})


def _app_env(tmp_path, monkeypatch) -> None:
    for k, v in {"CX_DB_PATH": tmp_path / "ws.duckdb", "CX_DEMO_DIR": tmp_path / "demo",
                 "CX_INGEST_UPLOAD_DIR": tmp_path / "uploads", "CX_INGEST_ALLOWED_DIRS": tmp_path}.items():
        monkeypatch.setenv(k, str(v))
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()


def _page(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


# 6. Reviews page: data changed since scoring
def test_unscored_reviews_counts_reviews_loaded_after_the_run(ws, tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("id,text\n1,great fit\n2,too small\n3, \n")
    load_file(ws, p, "reviews")
    _score_all(ws)
    assert unscored_reviews(ws, "rs1") == 0
    q = tmp_path / "b.csv"
    q.write_text("id,text\n1,lovely colour\n7,runs large\n")
    load_file(ws, q, "reviews")
    assert unscored_reviews(ws, "rs1") == 2


def test_reviews_page_says_data_changed(tmp_path, monkeypatch, cfg, ws):
    p = tmp_path / "a.csv"
    p.write_text("id,text\n1,great fit\n2,too small\n")
    load_file(ws, p, "reviews")
    _score_all(ws)
    _app_env(tmp_path, monkeypatch)
    at = _page("pages/reviews.py")
    assert not any("Data changed" in w.value for w in at.warning)
    q = tmp_path / "b.csv"
    q.write_text("id,text\n8,lovely colour\n")
    load_file(ws, q, "reviews")
    at.run()
    assert any("Data changed since these scores were computed: 1 review is not scored yet" in w.value
               and "Score again" in w.value for w in at.warning)


# 7 + 9. Model page: dataset picker shows file names; taxonomy seeds readable
def test_dataset_labels_show_file_name_and_rows(ws, tmp_path):
    p = tmp_path / "clothing.csv"
    p.write_text("id,text\n1,great fit\n2,too small\n")
    rep = load_file(ws, p, "reviews")
    labels = dataset_labels(ws, "reviews")
    assert labels == {rep.dataset_id: f"clothing.csv (2 rows, {rep.dataset_id})"}
    assert dataset_labels(ws, "orders") == {}


def test_taxonomy_seeds_are_readable_phrases_and_round_trip(ws):
    add_aspect(ws, "hardware", ["zipper", "Buckle ", XSS])
    seeds = taxonomy_frame(ws).set_index("aspect").loc["hardware", "seeds"]
    assert seeds == f"zipper, buckle, {XSS}"
    add_aspect(ws, "hardware", (seeds + ", strap").split(","))  # what the editor does
    assert taxonomy_frame(ws).set_index("aspect").loc["hardware", "seeds"] == f"zipper, buckle, {XSS}, strap"
    assert not taxonomy_frame(ws)["seeds"].str.contains(r"[\[\]\"]").any()


def test_model_page_picker_and_taxonomy(tmp_path, monkeypatch, cfg, ws):
    p = tmp_path / "clothing.csv"
    p.write_text("id,text,rating\n1,great fit,5\n2,too small,2\n")
    rep = load_file(ws, p, "reviews")
    _app_env(tmp_path, monkeypatch)
    at = _page("pages/model.py")
    picker = next(s for s in at.selectbox if s.label == "Reviews")
    assert f"clothing.csv (2 rows, {rep.dataset_id})" in picker.options
    assert picker.value == "all reviews"
    seeds = at.dataframe[-1].value["seeds"]
    assert len(seeds) > 3 and not seeds.str.startswith("[").any()


# 10. Wrong file kind
def test_kind_hint_names_the_kind_the_columns_fit():
    hint = kind_hint("reviews", RETAIL)
    assert hint == ("This looks like an orders file (InvoiceNo, Description, Quantity columns): "
                    "choose 'Orders'.")
    assert "an orders file" in kind_hint("customers", RETAIL)
    assert "a reviews file" in kind_hint("customers", AMAZON)
    assert "a reviews file" in kind_hint("orders", AMAZON)
    for kind, cols in [("orders", RETAIL), ("reviews", AMAZON), ("reviews", ["sentence", "label"]),
                       ("customers", ["customer_id", "name", "email", "signup_date"]),
                       ("customers", ["ID", "frequency", "recency", "T"])]:
        assert kind_hint(kind, cols) is None, (kind, cols)


def test_load_file_says_what_the_file_looks_like(ws, tmp_path):
    f = _orders_csv(tmp_path / "retail.csv")
    with pytest.raises(MappingError) as err:
        load_file(ws, f, "reviews")
    assert "Required field 'Review text' is not mapped" in str(err.value)
    assert any("looks like an orders file" in p for p in err.value.problems)
    rep = load_file(ws, f, "customers", dry_run=True)  # loads, but says so
    assert any("choose 'Orders'" in w for w in rep.warnings)


def test_data_page_hints_at_the_right_kind(tmp_path, monkeypatch):
    from tests.app.test_app_pages import _load_by_path

    _app_env(tmp_path, monkeypatch)
    monkeypatch.setenv("CX_DEMO_CUSTOMERS", "200")
    f = _orders_csv(tmp_path / "retail.csv")
    at = _load_by_path(_page("pages/data.py"), str(f), "reviews")
    assert any("This looks like an orders file" in w.value and "choose 'Orders'" in w.value
               for w in at.warning)
    assert any("looks like an orders file" in e.value for e in at.error)


# 12. Review-level segment runs say reviews
def test_segment_figures_name_the_unit():
    import pandas as pd

    units = pd.DataFrame({"segment_id": [0, 0], "segment": ["a", "a"], "unit_id": ["r1", "r2"],
                          "x": [0.0, 1.0], "y": [0.0, 1.0], "snippet": ["x", "y"]})
    info = pd.DataFrame({"segment_id": [0], "name": ["a"], "share": [1.0], "revenue_share": [None]})
    assert unit_noun("review") == "reviews" and unit_noun(None) == "customers"
    assert "similar reviews are close" in segment_map_figure(units, "review").layout.title.text
    assert "similar customers are close" in segment_map_figure(units).layout.title.text
    assert size_value_figure(info, "review").data[0].name == "Share of reviews"
    assert size_value_figure(info, "customer").data[0].name == "Share of customers"


# 13. Data page Customers KPI
def test_customers_kpi_counts_ids_across_tables(tmp_path, monkeypatch, cfg, ws):
    c = tmp_path / "c.csv"
    c.write_text("customer_id,name\nc1,Ann\nc2,Bo\n")
    load_file(ws, c, "customers")
    load_file(ws, _orders_csv(tmp_path / "o.csv"), "orders")  # c1 again and a new c9
    r = tmp_path / "r.csv"
    r.write_text("customer_id,text\nc7,nice\n,anonymous\n")
    load_file(ws, r, "reviews")
    assert distinct_customers(ws) == 4
    _app_env(tmp_path, monkeypatch)
    at = _page("pages/data.py")
    kpi = next(m for m in at.metric if m.label == "Customers")
    assert kpi.value == "4"
    assert "across customers, orders and reviews" in kpi.help
