"""Hostile and broken input: each gets a clear message and changes nothing."""

import pytest

from cx_core.ingest.load import MappingError, load_file
from cx_core.ingest.readers import InputFileError

XSS = "<img src=x onerror=alert(1)>"
SQLI = '"; DROP TABLE orders; --'


def state(ws):
    return [ws.scalar(f"SELECT count(*) FROM {t}") for t in ("datasets", "orders", "reviews", "customers")] + [
        sorted(r[0] for r in ws.execute("SELECT table_name FROM duckdb_tables()"))]


@pytest.mark.parametrize("name, content, kind, error, words", [
    ("empty.csv", b"", "reviews", InputFileError, "empty"),
    ("blank.csv", b"\n\n  \n", "reviews", InputFileError, "no content"),
    ("binary.csv", bytes(range(256)) * 40, "reviews", InputFileError, "binary"),
    ("book.csv", b"PK\x03\x04" + b"\x00" * 100, "reviews", InputFileError, "Excel"),
    ("utf16.csv", "text,rating\nhi,5\n".encode("utf-16"), "reviews", InputFileError, "UTF-16"),
    ("bad.gz", b"\x1f\x8b\x08\x00garbage", "reviews", InputFileError, "gzip"),
    ("headers.csv", b"a,b\n", "reviews", MappingError, "Review text"),
    ("wrongdelim.csv", b"review text  rating  date\nnice  5  2024-01-01\n", "reviews",
     MappingError, "delimiter"),
    ("nomap.csv", b"foo,bar\n1,2\n", "orders", MappingError, "Customer id"),
])
def test_bad_files_get_messages_and_change_nothing(ws, tmp_path, name, content, kind, error, words):
    p = tmp_path / name
    p.write_bytes(content)
    before = state(ws)
    with pytest.raises(error) as exc:
        load_file(ws, p, kind)
    assert words.lower() in str(exc.value).lower()
    assert state(ws) == before


def test_missing_file(ws, tmp_path):
    with pytest.raises(InputFileError, match="No file"):
        load_file(ws, tmp_path / "nope.csv", "reviews")


def test_zero_row_file_loads_nothing(ws, tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("review_text,rating\n")
    before = state(ws)
    rep = load_file(ws, p, "reviews")
    assert rep.rows_read == 0 and rep.rows_loaded == 0 and rep.dataset_id is None
    assert any("headers but no data rows" in w for w in rep.warnings)
    assert state(ws) == before


def test_ragged_rows_are_reported_not_fatal(ws, tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("review_text,rating,date\nok,5,2024-01-01\nshort,4\ntoo,many,2024-01-02,x\nfine,3,2024-01-03\n")
    rep = load_file(ws, p, "reviews")
    assert rep.rows_loaded == 2 and rep.malformed_lines == 2
    assert any("line" in e for e in rep.reject_examples["malformed lines"])


def test_duplicate_and_blank_headers_are_named(ws, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("review_text,rating,rating,\nok,5,4,x\n")
    rep = load_file(ws, p, "reviews")
    assert rep.rows_loaded == 1
    text = " ".join(rep.warnings)
    assert "more than once" in text and "blank header" in text


def test_hostile_names_and_values_are_stored_as_text(ws, tmp_path):
    p = tmp_path / "h.csv"
    p.write_text(f'"{XSS}","{SQLI.replace(chr(34), chr(34) * 2)}",rating\n'
                 f'"{XSS}","{SQLI.replace(chr(34), chr(34) * 2)}",5\n', encoding="utf-8")
    mapping = {"text": XSS, "title": SQLI, "rating": "rating"}
    rep = load_file(ws, p, "reviews", mapping)
    assert rep.rows_loaded == 1
    assert ws.query_one("SELECT text, title FROM reviews") == (XSS, SQLI)
    assert ws.table_exists("orders")


def test_hostile_mapping_target_is_refused(ws, tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("review_text\nok\n")
    with pytest.raises(MappingError, match="not in the file"):
        load_file(ws, p, "reviews", {"text": 'review_text" FROM x; DROP TABLE orders; --'})
    assert ws.table_exists("orders")


def test_unknown_kind(ws, tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("a\n1\n")
    with pytest.raises(ValueError, match="unknown table kind"):
        load_file(ws, p, "payments")
