"""The three real shapes in ../shared/data load through the same mapping code."""

import pandas as pd
import pytest

from cx_core.ingest.load import load_file
from cx_core.ingest.mapping import suggest_mapping
from tests.conftest import shared


def test_online_retail_csv(ws):
    rep = load_file(ws, shared("online_retail/online_retail.csv.gz"), "orders")
    assert rep.rows_read == 541_909
    assert rep.notes["rows without a customer id (kept; left out of customer analytics)"] == 135_080
    assert rep.notes["exact duplicate rows dropped"] == 5_268
    assert rep.rows_loaded == 541_909 - 5_268
    assert ws.scalar("SELECT count(DISTINCT customer_id) FROM orders") == 4_372
    assert ws.scalar("SELECT count(DISTINCT order_id) FROM orders WHERE order_id LIKE 'C%'") == 3_836
    assert ws.scalar("SELECT bool_and(is_return) FROM orders WHERE order_id LIKE 'C%'")
    assert (rep.date_min, rep.date_max) == ("2010-12-01 08:26:00", "2011-12-09 12:50:00")


def test_online_retail_parquet_is_recognised_as_the_same_rows(ws):
    first = load_file(ws, shared("online_retail/online_retail.parquet"), "orders")
    assert first.rows_loaded == 541_909 - 5_268
    again = load_file(ws, shared("online_retail/online_retail.csv.gz"), "orders")
    assert again.rows_loaded == 0 and again.dataset_id is None


def test_clothing_reviews_without_customer_id(ws):
    path = shared("womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz")
    rep = load_file(ws, path, "reviews")
    assert rep.mapping["text"] == "Review Text" and rep.mapping["rating"] == "Rating"
    assert rep.mapping["customer_id"] is None
    assert rep.rows_read == 23_486 and rep.rejected == {"empty review text": 845}
    assert rep.rows_loaded == 22_641
    assert ws.scalar("SELECT count(DISTINCT review_id) FROM reviews") == 22_641
    assert any("analysed on its own" in w for w in rep.warnings)


def test_amazon_json_lines_with_repeat_reviewers(ws):
    path = shared("amazon_musical_instruments/reviews_Musical_Instruments_5.json.gz")
    rep = load_file(ws, path, "reviews")
    assert rep.mapping["customer_id"] == "reviewerID" and rep.ts_format == "unix_s"
    assert rep.rows_read == 10_261
    assert ws.scalar("SELECT count(DISTINCT customer_id) FROM reviews") == 1_429
    assert ws.scalar("SELECT min(n) FROM (SELECT count(*) n FROM reviews GROUP BY customer_id)") >= 4
    assert rep.date_min.startswith("2004") and rep.date_max.startswith("2014")


def test_suggestions_for_the_real_headers():
    got = suggest_mapping(
        "reviews",
        [
            "reviewerID",
            "asin",
            "reviewerName",
            "helpful",
            "reviewText",
            "overall",
            "summary",
            "unixReviewTime",
            "reviewTime",
        ],
    )
    assert {k: v for k, v in got.items() if v} == {
        "customer_id": "reviewerID",
        "ts": "unixReviewTime",
        "title": "summary",
        "text": "reviewText",
        "rating": "overall",
        "item": "asin",
    }


# --- the same totals as an independent pandas computation (issue #12) ----------------------------


def test_online_retail_totals_match_pandas(ws):
    path = shared("online_retail/online_retail.csv.gz")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    kept = df.drop_duplicates()  # every column equal: the lines the load drops (quantity, no line column)
    revenue = (kept["Quantity"].astype(float) * kept["UnitPrice"].astype(float)).sum()
    rep = load_file(ws, path, "orders")
    assert rep.rows_loaded == len(kept) and rep.notes["exact duplicate rows dropped"] == len(df) - len(kept)
    assert ws.scalar("SELECT sum(amount) FROM orders") == pytest.approx(revenue, rel=1e-12)
    assert ws.scalar("SELECT sum(quantity) FROM orders") == kept["Quantity"].astype(float).sum()
    assert (
        ws.scalar("SELECT count(DISTINCT customer_id) FROM orders")
        == kept.loc[kept["CustomerID"] != "", "CustomerID"].nunique()
    )
    dup_revenue = revenue_of_repeats(df)
    assert f"(amount {dup_revenue:,.2f}); dropped" in rep.duplicates


def revenue_of_repeats(df: pd.DataFrame) -> float:
    rep = df[df.duplicated()]
    return float((rep["Quantity"].astype(float) * rep["UnitPrice"].astype(float)).sum())


def test_clothing_reviews_totals_match_pandas(ws):
    path = shared("womens_clothing_reviews/womens_clothing_ecommerce_reviews.csv.gz")
    df = pd.read_csv(path)
    has_text = df[df["Review Text"].fillna("").str.strip() != ""]
    load_file(ws, path, "reviews")
    assert ws.scalar("SELECT count(*) FROM reviews") == len(has_text)
    assert ws.scalar("SELECT sum(rating) FROM reviews") == has_text["Rating"].sum()
    assert ws.scalar("SELECT count(DISTINCT item) FROM reviews") == has_text["Clothing ID"].nunique()


def test_amazon_totals_match_pandas(ws):
    path = shared("amazon_musical_instruments/reviews_Musical_Instruments_5.json.gz")
    df = pd.read_json(path, lines=True)
    has_text = df[df["reviewText"].fillna("").str.strip() != ""]
    rep = load_file(ws, path, "reviews")
    assert ws.scalar("SELECT count(*) FROM reviews") == len(has_text)
    assert ws.scalar("SELECT sum(rating) FROM reviews") == has_text["overall"].sum()
    assert ws.scalar("SELECT count(DISTINCT customer_id) FROM reviews") == has_text["reviewerID"].nunique()
    repeats = has_text.duplicated(["reviewerID", "asin", "reviewText"]).sum()
    assert rep.notes["repeated reviews (same text, author and item; kept and flagged)"] == repeats


def test_telco_customers_match_pandas(ws):
    path = shared("telco_churn/Telco-Customer-Churn.csv")
    df = pd.read_csv(path, dtype=str)
    rep = load_file(ws, path, "customers")
    assert rep.rows_loaded == df["customerID"].nunique() == 7_043
    assert (
        ws.scalar("SELECT count(*) FROM customers WHERE gender = 'Female'")
        == (df["gender"] == "Female").sum()
    )
    # unmapped columns are kept as JSON; TotalCharges has blanks, summed the same way
    total = pd.to_numeric(df["TotalCharges"].str.strip(), errors="coerce").sum()
    got = ws.scalar(
        "SELECT sum(TRY_CAST(nullif(trim(json_extract_string(attrs_json, '$.TotalCharges')), '') "
        "AS DOUBLE)) FROM customers"
    )
    assert got == pytest.approx(total, rel=1e-12)


def test_sst2_dev_sentences_match_pandas(ws):
    path = shared("sst2/dev.tsv")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    rep = load_file(ws, path, "reviews", {"text": "sentence"})
    assert rep.rows_loaded == (df["sentence"].str.strip() != "").sum()
    assert ws.scalar("SELECT sum(length(text)) FROM reviews") == df["sentence"].str.strip().str.len().sum()


def test_cdnow_summary_customers_match_pandas(ws):
    path = shared("cdnow/cdnow_customers_summary.csv")
    df = pd.read_csv(path)
    rep = load_file(ws, path, "customers", {"customer_id": "ID"})
    assert rep.rows_loaded == df["ID"].nunique()
    got = ws.scalar("SELECT sum(CAST(json_extract_string(attrs_json, '$.recency') AS DOUBLE)) FROM customers")
    assert got == pytest.approx(df["recency"].sum(), rel=1e-12)


def test_cdnow_fixed_width_master_file_gets_a_plain_message(ws):
    from cx_core.ingest.load import MappingError

    with pytest.raises(MappingError, match="delimiter"):
        load_file(ws, shared("cdnow/CDNOW_master.txt"), "orders")


def test_sst2_train_sentences_match_pandas(ws):
    path = shared("sst2/train.tsv")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    rep = load_file(ws, path, "reviews", {"text": "sentence", "label": "label"})
    text = df["sentence"].str.strip()
    assert rep.rows_loaded == (text != "").sum()
    assert ws.scalar("SELECT sum(length(text)) FROM reviews") == text.str.len().sum()
    assert ws.scalar("SELECT count(*) FROM reviews WHERE label = 'positive'") == (df["label"] == "1").sum()


def test_cdnow_summary_with_transactions_matches_pandas(ws):
    path = shared("cdnow/cdnow_customers_summary_with_transactions.csv")
    df = pd.read_csv(path)
    rep = load_file(ws, path, "customers", {"customer_id": "ID"})
    assert rep.rows_loaded == df["ID"].nunique()
    for col in ("x", "t_x", "zbar"):
        got = ws.scalar(
            f"SELECT sum(CAST(json_extract_string(attrs_json, '$.{col}') AS DOUBLE)) FROM customers"
        )
        assert got == pytest.approx(df[col].sum(), rel=1e-12)
