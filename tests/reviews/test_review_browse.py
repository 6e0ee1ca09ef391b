"""Browsing scored reviews: undated reviews under a date filter, reviews loaded after the scoring run."""

from __future__ import annotations

from datetime import date

from cx_core.ingest.load import load_file
from cx_core.reviews.browse import ReviewFilter, filter_reviews, unscored_reviews
from tests.review_fixtures import score_all


def test_date_filter_keeps_reviews_without_a_date(ws, tmp_path):
    """Reviews with no date (e.g. a reviews export without dates) must not vanish under the
    Reviews page's default date range."""
    p = tmp_path / "r.csv"
    p.write_text("id,text,date\n1,dated one,2025-03-01\n2,no date here,\n3,too old,2020-01-01\n")
    load_file(ws, p, "reviews", {"review_id": "id", "text": "text", "ts": "date"})
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, "
            "sentiment_method, sentiment, sentiment_score, aspects) "
            "SELECT 'rs1', dataset_id, review_id, 'm', 'supervised', 'neutral', 0.0, [] "
            "FROM reviews"
        )
    f = ReviewFilter(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    assert sorted(filter_reviews(ws, "rs1", f)["review_id"]) == ["1", "2"]
    strict = ReviewFilter(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31), include_undated=False)
    assert filter_reviews(ws, "rs1", strict)["review_id"].tolist() == ["1"]


def test_unscored_reviews_counts_reviews_loaded_after_the_run(ws, tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("id,text\n1,great fit\n2,too small\n3, \n")
    load_file(ws, p, "reviews")
    score_all(ws)
    assert unscored_reviews(ws, "rs1") == 0
    q = tmp_path / "b.csv"
    q.write_text("id,text\n1,lovely colour\n7,runs large\n")
    load_file(ws, q, "reviews")
    assert unscored_reviews(ws, "rs1") == 2
