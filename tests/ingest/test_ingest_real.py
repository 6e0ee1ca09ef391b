"""The three real shapes in ../shared/data load through the same mapping code."""

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
    assert suggest_mapping("reviews", ["reviewerID", "asin", "reviewerName", "helpful", "reviewText",
                                       "overall", "summary", "unixReviewTime", "reviewTime"]) == {
        "review_id": None, "customer_id": "reviewerID", "ts": "unixReviewTime", "title": "summary",
        "text": "reviewText", "rating": "overall", "item": "asin", "category": None}
