"""Hostile and broken input: each gets a clear message and changes nothing."""

import json
from datetime import date

import pandas as pd
import pytest

from cx_core.ingest.duplicates import repeated_reviews
from cx_core.ingest.load import MappingError, load_file
from cx_core.ingest.options import LoadOptions
from cx_core.ingest.readers import InputFileError

XSS = "<img src=x onerror=alert(1)>"
SQLI = '"; DROP TABLE orders; --'


def state(ws):
    return [
        ws.scalar(f"SELECT count(*) FROM {t}") for t in ("datasets", "orders", "reviews", "customers")
    ] + [sorted(r[0] for r in ws.execute("SELECT table_name FROM duckdb_tables()"))]


@pytest.mark.parametrize(
    "name, content, kind, error, words",
    [
        ("empty.csv", b"", "reviews", InputFileError, "empty"),
        ("blank.csv", b"\n\n  \n", "reviews", InputFileError, "no content"),
        ("binary.csv", bytes(range(256)) * 40, "reviews", InputFileError, "binary"),
        ("book.csv", b"PK\x03\x04" + b"\x00" * 100, "reviews", InputFileError, "Excel"),
        ("utf16.csv", "text,rating\nhi,5\n".encode("utf-16"), "reviews", InputFileError, "UTF-16"),
        ("bad.gz", b"\x1f\x8b\x08\x00garbage", "reviews", InputFileError, "gzip"),
        ("headers.csv", b"a,b\n", "reviews", MappingError, "Review text"),
        (
            "wrongdelim.csv",
            b"review text  rating  date\nnice  5  2024-01-01\n",
            "reviews",
            MappingError,
            "delimiter",
        ),
        ("nomap.csv", b"foo,bar\n1,2\n", "orders", MappingError, "Customer id"),
    ],
)
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
    p.write_text(
        "review_text,rating,date\nok,5,2024-01-01\nshort,4\ntoo,many,2024-01-02,x\nfine,3,2024-01-03\n"
    )
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
    p.write_text(
        f'"{XSS}","{SQLI.replace(chr(34), chr(34) * 2)}",rating\n'
        f'"{XSS}","{SQLI.replace(chr(34), chr(34) * 2)}",5\n',
        encoding="utf-8",
    )
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


# --- issue #12: data exactly right -------------------------------------------------------------


ORDER_MAP = {
    "order_id": "inv",
    "customer_id": "cust",
    "ts": "date",
    "quantity": "qty",
    "unit_price": "price",
    "amount": "amount",
}


def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_text(text, encoding=encoding, newline="")
    return p


def orders(ws, cols="order_id, quantity, unit_price, amount"):
    return ws.query_df(f"SELECT {cols} FROM orders ORDER BY line_no")


def test_european_file_semicolons_day_first_dates_decimal_commas(ws, tmp_path):
    p = write(
        tmp_path,
        "eu.csv",
        "Rechnung;Kunde;Datum;Menge;Einzelpreis;Betrag\n"
        'A1;K1;03.01.2024;2;2,55;"1,5"\n'
        "A2;K2;04.01.2024;1;1.234,50;1.234,50\n"
        "A3;K1;05.02.2024;3;0,99;2,97\n",
    )
    mapping = {
        "order_id": "Rechnung",
        "customer_id": "Kunde",
        "ts": "Datum",
        "quantity": "Menge",
        "unit_price": "Einzelpreis",
        "amount": "Betrag",
    }
    rep = load_file(ws, p, "orders", mapping)
    assert rep.rows_loaded == 3 and not rep.rejected
    got = orders(ws)
    assert got["unit_price"].tolist() == [2.55, 1234.5, 0.99]
    assert got["amount"].tolist() == [1.5, 1234.5, 2.97]
    assert str(ws.scalar("SELECT min(ts) FROM orders")) == "2024-01-03 00:00:00"
    text = "\n".join(rep.summary_lines())
    assert "`2,55` → 2.55" in text and "`1.234,50` → 1234.5" in text and "decimal comma" in text


def test_us_thousands_and_plain_numbers(ws, tmp_path):
    p = write(
        tmp_path,
        "us.csv",
        "inv,cust,date,qty,price,amount\n"
        'A1,K1,2024-01-03,2,2.55,"1,234.50"\nA2,K2,2024-01-04,1,1234,"$2,000"\n',
    )
    rep = load_file(ws, p, "orders", ORDER_MAP)
    assert orders(ws)["amount"].tolist() == [1234.5, 2000.0]
    assert orders(ws)["unit_price"].tolist() == [2.55, 1234.0]
    assert rep.rows_loaded == 2


@pytest.mark.parametrize(
    "choice, expected", [("comma", [1.234, 5.0]), (",", [1.234, 5.0]), ("point", [1234.0, 5000.0])]
)
def test_ambiguous_thousands_column_asks_then_honours_the_choice(ws, tmp_path, choice, expected):
    p = write(
        tmp_path, "amb.csv", 'inv,cust,date,amount\nA1,K1,2024-01-03,"1,234"\nA2,K1,2024-01-04,"5,000"\n'
    )
    mapping = {"order_id": "inv", "customer_id": "cust", "ts": "date", "amount": "amount"}
    before = state(ws)
    with pytest.raises(MappingError) as exc:
        load_file(ws, p, "orders", mapping)
    assert "'1,234'" in str(exc.value) and "point or comma" in str(exc.value)
    assert state(ws) == before
    load_file(ws, p, "orders", mapping, options=LoadOptions(decimal=choice))
    assert orders(ws, "amount")["amount"].tolist() == expected


def test_mixed_decimal_styles_ask_instead_of_guessing(ws, tmp_path):
    p = write(tmp_path, "mix.csv", 'inv,cust,date,amount\nA1,K1,2024-01-03,2.55\nA2,K1,2024-01-04,"2,55"\n')
    with pytest.raises(MappingError, match="mixes decimal commas and decimal points"):
        load_file(
            ws, p, "orders", {"order_id": "inv", "customer_id": "cust", "ts": "date", "amount": "amount"}
        )


def test_a_decimal_comma_value_in_a_point_column_is_not_read_as_hundreds(ws, tmp_path):
    rows = "".join(f"A{i},K1,2024-01-03,1.5\n" for i in range(30)) + 'B,K1,2024-01-03,"2,55"\n'
    p = write(tmp_path, "late.csv", "inv,cust,date,amount\n" + rows)
    rep = load_file(
        ws,
        p,
        "orders",
        {"order_id": "inv", "customer_id": "cust", "ts": "date", "amount": "amount"},
        sample_rows=10,
    )
    assert rep.rejected == {"amount missing or not a number": 1}
    assert ws.scalar("SELECT max(amount) FROM orders") == 1.5


def test_non_finite_numbers_are_refused_with_row_numbers(ws, tmp_path):
    p = write(
        tmp_path,
        "nan.csv",
        "inv,cust,date,qty,price\nA1,K1,2024-01-03,1,2.5\n"
        "A2,K1,2024-01-04,1,NaN\nA3,K1,2024-01-05,inf,1\nA4,K1,2024-01-06,1,-Infinity\n",
    )
    rep = load_file(ws, p, "orders", {k: v for k, v in ORDER_MAP.items() if k != "amount"})
    assert rep.rows_loaded == 1 and sum(rep.rejected.values()) == 3
    assert any("nan or infinite" in why.lower() for why in rep.rejected)
    examples = [e for why, ex in rep.reject_examples.items() if "infinite" in why for e in ex]
    assert sorted(examples) == ["row 2", "row 3", "row 4"]
    assert ws.scalar("SELECT bool_and(isfinite(amount)) FROM orders")


def test_dates_outside_the_window_are_refused(ws, tmp_path):
    p = write(
        tmp_path,
        "dates.csv",
        "inv,cust,date,amount\nA1,K1,2024-01-03,1\nA2,K1,0000-01-01,1\n"
        "A3,K1,9999-12-31,1\nA4,K1,294247-01-01,1\nA5,K1,1989-12-31,1\nA6,K1,1990-01-01,1\n",
    )
    mapping = {"order_id": "inv", "customer_id": "cust", "ts": "date", "amount": "amount"}
    rep = load_file(ws, p, "orders", mapping)
    assert rep.rows_loaded == 2
    window = [why for why in rep.rejected if "outside" in why]
    assert window and sum(rep.rejected.values()) == 4
    assert ws.scalar("SELECT min(ts)::DATE::VARCHAR FROM orders") == "1990-01-01"
    assert "1990-01-01" in window[0]
    ws.execute("DELETE FROM orders"), ws.execute("DELETE FROM datasets")
    rep = load_file(
        ws, p, "orders", mapping, options=LoadOptions(date_min=date(1980, 1, 1), date_max=date(2030, 1, 1))
    )
    assert rep.rows_loaded == 3


def test_nan_ids_are_missing_never_the_text_nan(ws, tmp_path):
    df = pd.DataFrame(
        {
            "InvoiceNo": ["1", "2", "3"],
            "CustomerID": [17850.0, float("nan"), 1.0],
            "InvoiceDate": pd.to_datetime(["2024-01-01"] * 3),
            "Amount": [1.0, 2.0, 3.0],
        }
    )
    df.to_parquet(tmp_path / "o.parquet")
    p2 = write(tmp_path, "ids.csv", "inv,cust,date,amount\nA1,nan,2024-01-03,1\nA2,None,2024-01-03,1\n")
    load_file(ws, tmp_path / "o.parquet", "orders")
    load_file(ws, p2, "orders", {"order_id": "inv", "customer_id": "cust", "ts": "date", "amount": "amount"})
    ids = ws.query_df("SELECT customer_id FROM orders ORDER BY line_no")["customer_id"].tolist()
    assert "nan" not in ids and "None" not in ids and "17850" in ids
    assert ws.scalar("SELECT count(*) FROM orders WHERE customer_id IS NULL") == 3


def test_control_characters_refused_in_ids_removed_from_text(ws, tmp_path):
    filler = "".join(f"r{i},ok text {i},u{i}\n" for i in range(4000))  # NULs beyond the first 64 KiB
    p = tmp_path / "nul.csv"
    p.write_bytes(
        ("review_id,text,user\n" + filler).encode()
        + b"bad\x00id,fine,u1\nx1,te\x00xt\x07 here,u2\nx2,ok,u\x01\n"
    )
    assert p.stat().st_size > 65536
    rep = load_file(ws, p, "reviews", {"review_id": "review_id", "text": "text", "customer_id": "user"})
    assert sum(n for why, n in rep.rejected.items() if "control characters" in why) == 2
    assert ws.scalar("SELECT text FROM reviews WHERE review_id = 'x1'") == "text here"
    assert (
        ws.scalar("SELECT count(*) FROM reviews WHERE regexp_matches(review_id || text, '[\\x00-\\x08]')")
        == 0
    )
    assert any("control characters" in what for what in rep.notes)


def test_ids_longer_than_the_cap_are_refused(ws, tmp_path):
    p = write(tmp_path, "long.csv", "review_id,text\n" + "x" * 2_000_000 + ",hello\nok,fine\n")
    rep = load_file(ws, p, "reviews", {"review_id": "review_id", "text": "text"})
    assert rep.rows_loaded == 1 and rep.rejected == {"review id longer than 256 characters": 1}
    assert rep.reject_examples["review id longer than 256 characters"] == ["row 1"]
    ws.execute("DELETE FROM reviews"), ws.execute("DELETE FROM datasets")
    rep = load_file(
        ws,
        p,
        "reviews",
        {"review_id": "review_id", "text": "text"},
        options=LoadOptions(max_id_length=3_000_000),
    )
    assert rep.rows_loaded == 2


def test_nested_json_values_become_json_text_with_a_warning(ws, tmp_path):
    rows = [
        {"reviewerID": "u1", "reviewText": {"body": "great", "lang": "en"}, "overall": 5, "helpful": [1, 2]},
        {"reviewerID": "u2", "reviewText": "plain", "overall": 4, "helpful": [0, 0]},
    ]
    p = write(tmp_path, "n.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    rep = load_file(
        ws, p, "reviews", {"customer_id": "reviewerID", "text": "reviewText", "rating": "overall"}
    )
    texts = ws.query_df("SELECT text FROM reviews ORDER BY customer_id")["text"].tolist()
    assert json.loads(texts[0]) == {"body": "great", "lang": "en"} and "'" not in texts[0]
    assert any("nested JSON" in w for w in rep.warnings)


def test_review_ids_are_unique_per_dataset_not_per_workspace(ws, tmp_path):
    a = write(tmp_path, "a.csv", "review_id,text\n1,alpha one\n2,alpha two\n3,alpha three\n")
    b = write(tmp_path, "b.csv", "review_id,text\n1,beta one\n2,beta two\n3,beta three\n3,beta again\n")
    load_file(ws, a, "reviews")
    rep = load_file(ws, b, "reviews")
    assert rep.rows_loaded == 3 and rep.notes["duplicate review ids (first kept)"] == 1
    assert ws.scalar("SELECT count(*) FROM reviews") == 6
    assert "already in the workspace" not in " ".join(rep.summary_lines())


def test_repeated_review_texts_are_reported_and_flagged(ws, tmp_path):
    p = write(
        tmp_path,
        "dup.csv",
        "user,asin,text\nu1,i1,Great strings\nu1,i1,Great strings\n"
        "u2,i1,Great strings\nu1,i2,Great strings\nu1,i1,Great strings\n",
    )
    rep = load_file(ws, p, "reviews", {"customer_id": "user", "item": "asin", "text": "text"})
    assert rep.rows_loaded == 5
    key = "repeated reviews (same text, author and item; kept and flagged)"
    assert rep.notes[key] == 2 and rep.reject_examples["repeated reviews"][0].startswith("row 2")
    flagged = repeated_reviews(ws)
    assert len(flagged) == 2


def test_duplicate_order_lines_kept_with_a_line_column(ws, tmp_path):
    p = write(
        tmp_path,
        "items.csv",
        "order_id,order_item_id,customer_id,date,product_id,price\n"
        "o1,1,c1,2024-01-03,p1,10.5\no1,2,c1,2024-01-03,p1,10.5\no2,1,c2,2024-01-04,p2,3\n",
    )
    rep = load_file(ws, p, "orders")
    assert rep.rows_loaded == 3 and not rep.duplicates
    assert ws.scalar("SELECT sum(amount) FROM orders") == 24.0


def test_duplicate_order_lines_kept_without_a_quantity_column(ws, tmp_path):
    p = write(
        tmp_path,
        "units.csv",
        "order_id,customer_id,date,product_id,price\no1,c1,2024-01-03,p1,10.5\no1,c1,2024-01-03,p1,10.5\n",
    )
    rep = load_file(ws, p, "orders")
    assert rep.rows_loaded == 2 and rep.notes["exact duplicate rows kept"] == 1
    assert "kept because without a quantity column" in rep.duplicates


def test_duplicate_order_lines_dropped_with_their_revenue_reported_or_kept_on_request(ws, tmp_path):
    p = write(
        tmp_path,
        "dups.csv",
        "inv,cust,date,qty,price\nA1,K1,2024-01-03,2,2.5\nA1,K1,2024-01-03,2,2.5\nA2,K1,2024-01-04,1,1\n",
    )
    mapping = {k: v for k, v in ORDER_MAP.items() if k != "amount"}
    rep = load_file(ws, p, "orders", mapping, dry_run=True)
    assert rep.rows_loaded == 2 and rep.notes["exact duplicate rows dropped"] == 1
    assert "(amount 5.00); dropped" in rep.duplicates
    assert rep.reject_examples["exact duplicate order lines"] == ["row 2"]
    rep = load_file(ws, p, "orders", mapping, options=LoadOptions(duplicates="keep"))
    assert rep.rows_loaded == 3 and ws.scalar("SELECT sum(amount) FROM orders") == 11.0


def test_a_number_column_is_refused_as_review_text(ws, tmp_path):
    p = write(
        tmp_path,
        "olist.csv",
        "review_id,order_id,review_score,review_comment_title,"
        "review_comment_message\nr1,o1,5,Top,Chegou antes do prazo\nr2,o2,1,,Nao recebi\n",
    )
    rep = load_file(ws, p, "reviews", dry_run=True)
    assert rep.mapping["text"] == "review_comment_message" and rep.mapping["rating"] == "review_score"
    with pytest.raises(MappingError, match="holds numbers"):
        load_file(ws, p, "reviews", {"text": "review_score"})


def test_rating_column_with_class_labels_warns(ws, tmp_path):
    p = write(tmp_path, "lab.csv", "text,rating\n" + "".join(f"t {i},{i % 3}\n" for i in range(9)))
    rep = load_file(ws, p, "reviews", {"text": "text", "rating": "rating"}, dry_run=True)
    assert any("0/1/2" in w for w in rep.warnings)


def test_mapping_is_checked_before_the_file_is_read(ws, tmp_path, monkeypatch):
    import cx_core.ingest.load as load_mod

    def boom(*a, **k):
        raise AssertionError("the whole file was read before the mapping was checked")

    monkeypatch.setattr(load_mod, "_load_in_transaction", boom)
    p = write(tmp_path, "m.csv", "review_score,x\n5,1\n")
    with pytest.raises(MappingError):
        load_file(ws, p, "reviews", {"text": "review_score"})
    with pytest.raises(MappingError):
        load_file(ws, p, "orders", {"customer_id": "x"})


def test_excel_workbook_first_sheet_or_chosen_sheet(ws, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    from datetime import datetime

    wb = openpyxl.Workbook()
    s1 = wb.active
    s1.title = "Orders"
    s1.append(["InvoiceNo", "CustomerID", "InvoiceDate", "Quantity", "UnitPrice", "Note"])
    s1.append(["536365", 17850, datetime(2010, 12, 1, 8, 26), 6, 2.55, "=1+1"])
    s1.append(["536366", 13047, datetime(2010, 12, 2, 9, 0), 2, 1234.5, XSS])
    s2 = wb.create_sheet("Reviews")
    s2.append(["review_text", "rating"])
    s2.append(["lovely", 5])
    p = tmp_path / "book.xlsx"
    wb.save(p)
    rep = load_file(ws, p, "orders")
    assert rep.rows_loaded == 2
    got = ws.query_df("SELECT customer_id, unit_price, ts::VARCHAR AS ts FROM orders ORDER BY line_no")
    assert got["customer_id"].tolist() == ["17850", "13047"]
    assert got["unit_price"].tolist() == [2.55, 1234.5]
    assert got["ts"].tolist()[0] == "2010-12-01 08:26:00"
    rep = load_file(ws, p, "reviews", options=LoadOptions(sheet="Reviews"))
    assert rep.rows_loaded == 1 and ws.scalar("SELECT text FROM reviews") == "lovely"
    with pytest.raises(InputFileError, match="no sheet named"):
        load_file(ws, p, "reviews", options=LoadOptions(sheet="Nope"))


def test_refused_upload_types_get_a_message_that_says_what_to_do():
    from cx_core.ingest.uploads import safe_suffix, upload_refusal

    assert upload_refusal("orders.xlsx") is None and upload_refusal("x.csv.gz") is None
    assert "Supported" in upload_refusal("report.docx")
    assert ".xlsx" in upload_refusal("old.xls") and "Save the sheet" in upload_refusal("old.xls")
    assert safe_suffix("a.xlsx") == ".xlsx"


def test_reviewers_matching_order_customers_are_counted(ws, tmp_path):
    o = write(tmp_path, "o.csv", "inv,cust,date,amount\nA1,c1,2024-01-03,1\nA2,c2,2024-01-03,1\n")
    r = write(tmp_path, "r.csv", "user,text\nu9,hello there\nu8,hi there\n")
    load_file(ws, o, "orders", {"order_id": "inv", "customer_id": "cust", "ts": "date", "amount": "amount"})
    rep = load_file(ws, r, "reviews", {"customer_id": "user", "text": "text"})
    assert rep.joins.startswith("0 of 2 reviewers match an order customer")
    assert any(line.startswith("0 of 2 reviewers") for line in rep.summary_lines())
    r2 = write(tmp_path, "r2.csv", "user,text\nc1,good\n")
    rep = load_file(ws, r2, "reviews", {"customer_id": "user", "text": "text"})
    assert rep.joins == "1 of 3 reviewers match an order customer (33%)."


def test_a_10mb_field_names_its_real_line(ws, tmp_path):
    p = write(tmp_path, "big.csv", 'review_text,rating\nok,5\n"' + "x" * 10_000_000 + '",4\nfine,3\n')
    with pytest.raises(InputFileError) as exc:
        load_file(ws, p, "reviews")
    msg = str(exc.value)
    assert "Line 3" in msg and "Line: 1" not in msg and "quotation mark" in msg


def test_a_10k_column_file_gets_a_plain_message(ws, tmp_path):
    p = write(
        tmp_path,
        "wide.csv",
        ",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" for _ in range(10_000)) + "\n",
    )
    before = state(ws)
    with pytest.raises(InputFileError) as exc:
        load_file(ws, p, "orders")
    assert "10,000 columns" in str(exc.value) and "Out of Memory" not in str(exc.value)
    assert state(ws) == before


def test_cli_decimal_flag(ws, cfg, tmp_path, capsys):
    from cx_core.cli.main import main

    ws.close()
    p = write(tmp_path, "amb.csv", 'inv,cust,date,amount\nA1,K1,2024-01-03,"1,234"\n')
    maps = [
        "--map",
        "order_id=inv",
        "--map",
        "customer_id=cust",
        "--map",
        "ts=date",
        "--map",
        "amount=amount",
    ]
    assert main(["--db", cfg.db.path, "load", str(p), "--kind", "orders", *maps, "--decimal", ","]) == 0
    out = capsys.readouterr().out
    assert "`1,234` → 1.234" in out


def test_spaces_around_numbers_and_dates_are_read_and_blank_cells_count_as_missing(ws, tmp_path):
    """Number and date columns of a CSV are parsed without a trim pass (their parsers skip
    spaces): padded values read as written, and a cell of spaces is missing, not unparsable."""
    p = tmp_path / "padded.csv"
    p.write_text(
        "order,customer,date,qty,price\n"
        "A1, c1 ,  2024-01-02 10:00 , 2 ,  2.50\n"
        "A2,c2,2024-01-03,   ,3\n"
        "A3,c3,2024-01-04,x1,3\n"
    )
    rep = load_file(
        ws,
        p,
        "orders",
        {
            "order_id": "order",
            "customer_id": "customer",
            "ts": "date",
            "quantity": "qty",
            "unit_price": "price",
        },
    )
    rows = ws.execute(
        "SELECT order_id, customer_id, ts::VARCHAR, quantity, unit_price FROM orders ORDER BY 1"
    )
    assert rows == [("A1", "c1", "2024-01-02 10:00:00", 2.0, 2.5)]
    assert rep.rejected == {"amount missing or not a number": 2}
    assert rep.notes["values of 'qty' that could not be parsed"] == 1  # x1, not the blank cell
