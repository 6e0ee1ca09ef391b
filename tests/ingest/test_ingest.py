"""Loading files: validation report, transactions, re-loads, replace and delete, encodings (Latin-1,
Windows-1252), dataset labels, concurrency."""

import gzip
import threading

import pytest

from cx_core.ingest.datasets import dataset_labels
from cx_core.ingest.load import delete_dataset, load_file, peek_file
from cx_core.store.db import WorkspaceBusy

ORDERS = """order_id,customer_id,order_date,sku,quantity,unit_price
O1,C1,2024-01-05 10:00:00,A,2,5.00
O1,C1,2024-01-05 10:00:00,B,1,3.50
O2,C2,2024-02-01 09:00:00,A,1,5.00
O2,C2,2024-02-01 09:00:00,A,1,5.00
R1,C1,2024-01-10 10:00:00,A,-1,5.00
O3,,2024-03-01 12:00:00,B,1,3.50
O4,C3,not a date,B,1,3.50
O5,C3,2024-03-02 12:00:00,B,1,abc
"""


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def counts(ws):
    return {t: ws.scalar(f"SELECT count(*) FROM {t}") for t in ("datasets", "orders", "reviews", "customers")}


def test_orders_report_and_load(ws, tmp_path):
    rep = load_file(ws, write(tmp_path, "o.csv", ORDERS), "orders")
    assert rep.rows_read == 8
    assert rep.rejected == {"order date missing or not parsed": 1, "amount missing or not a number": 1}
    assert rep.notes["exact duplicate rows dropped"] == 1
    assert rep.notes["rows without a customer id (kept; left out of customer analytics)"] == 1
    assert rep.notes["cancellation or return lines (negative quantity or amount)"] == 1
    assert rep.rows_loaded == 5 and rep.dataset_id
    assert ws.scalar("SELECT sum(amount) FROM orders") == pytest.approx(10 + 3.5 + 5 - 5 + 3.5)
    assert ws.scalar("SELECT count(*) FROM orders WHERE is_return") == 1
    assert any("row 7" in e for e in rep.reject_examples["order date missing or not parsed"])


def test_dry_run_changes_nothing(ws, tmp_path):
    before = counts(ws)
    rep = load_file(ws, write(tmp_path, "o.csv", ORDERS), "orders", dry_run=True)
    assert rep.rows_loaded == 5 and rep.dataset_id is None
    assert counts(ws) == before


def test_reload_same_file_does_not_duplicate(ws, tmp_path):
    p = write(tmp_path, "o.csv", ORDERS)
    first = load_file(ws, p, "orders")
    again = load_file(ws, p, "orders")
    assert again.already_loaded == first.dataset_id and again.rows_loaded == 0
    assert ws.scalar("SELECT count(*) FROM orders") == first.rows_loaded
    # the same rows in another file are recognised too
    other = load_file(ws, write(tmp_path, "copy.csv", ORDERS + "O9,C9,2024-04-01 10:00:00,A,1,5\n"), "orders")
    assert other.rows_loaded == 1


def test_failed_load_leaves_database_as_it_was(ws, tmp_path, monkeypatch):
    load_file(ws, write(tmp_path, "o.csv", ORDERS), "orders")
    before = counts(ws)
    import cx_core.ingest.load as ingest

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest, "_insert_rows", boom)
    with pytest.raises(RuntimeError):
        load_file(ws, write(tmp_path, "o2.csv", ORDERS.replace("O", "X")), "orders")
    assert counts(ws) == before
    assert ws.scalar("SELECT count(*) FROM duckdb_tables() WHERE temporary") == 0


def test_replace_and_delete(ws, tmp_path):
    a = load_file(ws, write(tmp_path, "o.csv", ORDERS), "orders")
    b = load_file(
        ws, write(tmp_path, "o2.csv", ORDERS.replace("C1", "K1")), "orders", replace_dataset=a.dataset_id
    )
    assert ws.execute("SELECT dataset_id FROM datasets") == [(b.dataset_id,)]
    assert ws.scalar("SELECT count(*) FROM orders WHERE customer_id = 'C1'") == 0
    assert delete_dataset(ws, b.dataset_id) is True
    assert counts(ws)["orders"] == 0 and delete_dataset(ws, b.dataset_id) is False


def test_latin1_and_semicolon(ws, tmp_path):
    text = "id;Review Text;stars\n1;Caf\xe9 tr\xe8s bon;5\n2;Na\xefve fit;2\n"
    rep = load_file(ws, write(tmp_path, "r.csv", text, "latin-1"), "reviews")
    assert rep.rows_loaded == 2
    assert ws.scalar("SELECT text FROM reviews ORDER BY rating DESC LIMIT 1") == "Café très bon"


CP1252_TEXT = (
    "id;Review Text;stars\n1;It\u2019s great \u2013 \u20ac20, caf\u00e9;5\n2;\u201cNa\u00efve\u201d fit;2\n"
)


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


def test_gzip_tsv_and_jsonl(ws, tmp_path):
    p = tmp_path / "r.tsv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("user_id\treviewText\toverall\tunixReviewTime\nu1\tgreat\t5\t1393545600\n")
    assert load_file(ws, p, "reviews").rows_loaded == 1
    assert str(ws.scalar("SELECT ts FROM reviews")) == "2014-02-28 00:00:00"
    j = write(
        tmp_path,
        "r.jsonl",
        '{"reviewerID": "a", "reviewText": "fine", "overall": 4}\n'
        '{"reviewerID": "b", "reviewText": "bad", "overall": 1}\n',
    )
    assert load_file(ws, j, "reviews").rows_loaded == 2


def test_us_dates_and_currency(ws, tmp_path):
    text = 'InvoiceNo,CustomerID,InvoiceDate,Amount\n1,17850.0,12/1/2010 8:26,"$1,234.50"\n'
    rep = load_file(ws, write(tmp_path, "o.csv", text), "orders")
    assert rep.ts_format == "%m/%d/%Y %H:%M"
    row = ws.query_one("SELECT customer_id, ts::VARCHAR, amount FROM orders")
    assert row == ("17850", "2010-12-01 08:26:00", 1234.5)


def test_customers_keep_extra_columns_and_first_duplicate(ws, tmp_path):
    text = (
        "Customer ID,Email,Loyalty Tier,Home Address\nC1,a@example.com,gold,1 Main St\nC1,b@example.com,x,y\n"
    )
    rep = load_file(ws, write(tmp_path, "c.csv", text), "customers")
    assert rep.rows_loaded == 1 and rep.notes["duplicate customer ids (first kept)"] == 1
    assert "gold" in ws.scalar("SELECT attrs_json FROM customers")


def test_peek_file(ws, tmp_path):
    src, cols, head = peek_file(ws, write(tmp_path, "o.csv", ORDERS), n=3)
    assert cols[:2] == ["order_id", "customer_id"] and len(head) == 3 and src.fmt == "csv"


def test_concurrent_loads_both_succeed_or_one_is_busy(ws, tmp_path):
    files = [write(tmp_path, f"o{i}.csv", ORDERS.replace("O", f"Z{i}")) for i in range(2)]
    results, errors = [], []

    def run(p):
        try:
            results.append(load_file(ws, p, "orders"))
        except WorkspaceBusy as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in files]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(results) + len(errors) == 2 and results
    assert ws.scalar("SELECT count(*) FROM datasets") == len(results)
    assert ws.scalar("SELECT count(*) FROM orders") == sum(r.rows_loaded for r in results)


def test_dataset_labels_show_file_name_and_rows(ws, tmp_path):
    p = tmp_path / "clothing.csv"
    p.write_text("id,text\n1,great fit\n2,too small\n")
    rep = load_file(ws, p, "reviews")
    labels = dataset_labels(ws, "reviews")
    assert labels == {rep.dataset_id: f"clothing.csv (2 rows, {rep.dataset_id})"}
    assert dataset_labels(ws, "orders") == {}
