"""Fixes found by browser QA on real data: Windows-1252 CSVs, undated reviews under a date filter."""

from __future__ import annotations

import gzip
from datetime import date

from cx_core.ingest.load import load_file
from cx_core.reviews.browse import ReviewFilter, filter_reviews

CP1252_TEXT = "id;Review Text;stars\n1;It\u2019s great \u2013 \u20ac20, caf\u00e9;5\n2;\u201cNa\u00efve\u201d fit;2\n"


def test_windows_1252_csv_with_curly_quotes_and_euro_loads(ws, tmp_path):
    """Excel on Windows writes bytes 0x80-0x9F (’ “ ” – €) that strict Latin-1 refuses."""
    p = tmp_path / "excel.csv"
    p.write_bytes(CP1252_TEXT.encode("cp1252"))
    rep = load_file(ws, p, "reviews")
    assert rep.rows_loaded == 2
    texts = set(ws.query_df("SELECT text FROM reviews")["text"])
    assert texts == {"It\u2019s great \u2013 \u20ac20, caf\u00e9", "\u201cNa\u00efve\u201d fit"}


def test_windows_1252_gzip_and_late_non_ascii(ws, tmp_path):
    """A gzip CSV whose first MiB is ASCII and whose Windows-1252 bytes come later."""
    rows = "".join(f"{i};plain text {i};4\n" for i in range(3, 40_000))
    text = "id;Review Text;stars\n" + rows + "99999;late \u2019quote\u2019 \u20ac;1\n"
    p = tmp_path / "late.csv.gz"
    p.write_bytes(gzip.compress(text.encode("cp1252")))
    rep = load_file(ws, p, "reviews", {"review_id": "id", "text": "Review Text", "rating": "stars"})
    assert rep.rows_loaded == 39_998
    assert ws.scalar("SELECT text FROM reviews WHERE review_id = '99999'") == "late \u2019quote\u2019 \u20ac"


def test_date_filter_keeps_reviews_without_a_date(ws, tmp_path):
    """Reviews with no date (e.g. a reviews export without dates) must not vanish under the
    Reviews page's default date range."""
    p = tmp_path / "r.csv"
    p.write_text("id,text,date\n1,dated one,2025-03-01\n2,no date here,\n3,too old,2020-01-01\n")
    load_file(ws, p, "reviews", {"review_id": "id", "text": "text", "ts": "date"})
    with ws.write() as cur:
        cur.execute("INSERT INTO review_scores (run_id, dataset_id, review_id, model_id, "
                    "sentiment_method, sentiment, sentiment_score, aspects) "
                    "SELECT 'rs1', dataset_id, review_id, 'm', 'supervised', 'neutral', 0.0, [] "
                    "FROM reviews")
    f = ReviewFilter(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
    assert sorted(filter_reviews(ws, "rs1", f)["review_id"]) == ["1", "2"]
    strict = ReviewFilter(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31), include_undated=False)
    assert filter_reviews(ws, "rs1", strict)["review_id"].tolist() == ["1"]


def test_data_page_offers_to_remove_demo_next_to_own_data(tmp_path, monkeypatch):
    """Own data loaded next to the auto-loaded demo store: the Data page says so and removes it."""
    from tests.app.test_app_pages import _clear_streamlit_caches, _load_by_path, new_app

    for k, v in {"CX_DB_PATH": tmp_path / "ws.duckdb", "CX_DEMO_DIR": tmp_path / "demo",
                 "CX_INGEST_UPLOAD_DIR": tmp_path / "uploads", "CX_INGEST_ALLOWED_DIRS": tmp_path, "CX_DEMO_CUSTOMERS": 200}.items():
        monkeypatch.setenv(k, str(v))
    _clear_streamlit_caches()
    try:
        f = tmp_path / "mine.csv"
        f.write_text("review_text,rating\ngreat fit,5\ntoo small,2\n")
        at = new_app()
        at.switch_page("pages/data.py").run()
        assert not any("demo store is still loaded" in w.value for w in at.warning)
        at = _load_by_path(at, str(f), "reviews")
        next(b for b in at.button if b.label.startswith("Load 2 rows")).click().run()
        assert any("demo store is still loaded" in w.value for w in at.warning)
        at.button(key="remove_demo").click().run()
        assert not at.exception, at.exception
        assert any("Removed the demo store (3 datasets)" in s.value for s in at.success)
        assert not any("demo store is still loaded" in w.value for w in at.warning)
        assert [m.value for m in at.metric if m.label == "Reviews"] == ["2"]
    finally:
        _clear_streamlit_caches()


def test_item_label_does_not_repeat_the_id():
    """Recommend showed "Dora Satin Slip Dress (Dora Satin Slip Dress)" when the id is the name."""
    from cx_core.recommend.text import item_label

    assert item_label("Dora Satin Slip Dress", "Dora Satin Slip Dress") == ("Dora Satin Slip Dress", None)
    assert item_label("KNT-C02", "Nell Cable Knit") == ("Nell Cable Knit", "KNT-C02")
    assert item_label("984", None) == ("984", None)
    assert item_label("984", float("nan")) == ("984", None)
    assert item_label("984", "  ") == ("984", None)


def test_headers_only_file_says_so(ws, tmp_path):
    p = tmp_path / "headers.csv"
    p.write_text("id,Review Text,Rating\n")
    rep = load_file(ws, p, "reviews", dry_run=True)
    assert rep.rows_read == 0 and rep.rows_loaded == 0
    assert any("has column headers but no data rows" in w for w in rep.warnings), rep.warnings


def test_themes_empty_state_opens_the_run_form(tmp_path, monkeypatch):
    """No theme run yet: the 'Find themes' expander is open, so 'Discover themes' is visible."""
    from tests.app.test_app_pages import _clear_streamlit_caches, new_app

    for k, v in {"CX_DB_PATH": tmp_path / "ws.duckdb", "CX_DEMO_DIR": tmp_path / "demo",
                 "CX_INGEST_UPLOAD_DIR": tmp_path / "uploads", "CX_INGEST_ALLOWED_DIRS": tmp_path, "CX_DEMO_CUSTOMERS": 200}.items():
        monkeypatch.setenv(k, str(v))
    _clear_streamlit_caches()
    try:
        at = new_app()
        at.switch_page("pages/themes.py").run()
        assert not at.exception, at.exception
        assert any("No themes yet" in i.value for i in at.info)
        finder = next(e for e in at.expander if e.label == "Find themes")
        assert finder.proto.expanded
    finally:
        _clear_streamlit_caches()
