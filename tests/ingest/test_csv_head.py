"""The fast CSV path keeps every guarantee: the mapping is checked on a decoded head before the
whole file is read, the sniffed dialect is reused, and control characters are still caught
when the byte scan lets the load skip its regular expressions."""

from __future__ import annotations

import gzip
import tempfile

import pytest

import cx_core.ingest.readers as readers
from cx_core.ingest.load import MappingError, load_file
from cx_core.ingest.readers import inspect_file

ORDERS = "Invoice;Kunde;Datum;Betrag;Land\n" + "".join(
    f"A{i};C{i % 7};{1 + i % 28:02d}.03.2024;{i},5{i % 10};Österreich – Süd\n" for i in range(300)
)


@pytest.fixture
def no_full_read(monkeypatch):
    """Fail the test if the whole file is decompressed, converted or measured."""

    def boom(*a, **k):
        raise AssertionError("the whole file was read before the mapping was checked")

    monkeypatch.setattr(readers, "_copy", boom)
    monkeypatch.setattr(readers, "check_expanded_size", boom)


@pytest.mark.parametrize("packing", ["gzip", "cp1252", "gzip+cp1252"])
def test_a_missing_field_is_reported_before_the_whole_file_is_read(ws, tmp_path, no_full_read, packing):
    data = ORDERS.encode("cp1252" if "cp1252" in packing else "utf-8")
    p = tmp_path / ("o.csv.gz" if "gzip" in packing else "o.csv")
    p.write_bytes(gzip.compress(data) if "gzip" in packing else data)
    with pytest.raises(MappingError, match="(?i)order date"):
        load_file(ws, p, "orders", {"order_id": "Invoice", "customer_id": "Kunde", "amount": "Betrag"})
    assert ws.scalar("SELECT count(*) FROM datasets") == 0


@pytest.mark.parametrize("packing", ["gzip", "cp1252", "gzip+cp1252", "plain"])
def test_the_whole_file_loads_with_the_dialect_sniffed_on_its_head(ws, tmp_path, packing, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # heads and copies land here
    data = ORDERS.encode("cp1252" if "cp1252" in packing else "utf-8")
    p = tmp_path / ("o.csv.gz" if "gzip" in packing else "o.csv")
    p.write_bytes(gzip.compress(data) if "gzip" in packing else data)
    mapping = {"order_id": "Invoice", "customer_id": "Kunde", "ts": "Datum", "amount": "Betrag"}
    mapping["country"] = "Land"
    # a head of 5 rows: the sample and the sniffer see 5 rows, the load reads all 300
    rep = load_file(ws, p, "orders", mapping, sample_rows=5)
    assert rep.rows_read == rep.rows_loaded == 300
    assert ws.scalar("SELECT sum(amount) FROM orders") == pytest.approx(
        sum(float(f"{i}.5{i % 10}") for i in range(300))
    )
    assert ws.scalar("SELECT DISTINCT country FROM orders") == "Österreich – Süd"
    assert not [f for f in (tmp_path / "tmp").rglob("*") if f.is_file()]  # no head or copy left


def _reviews(path, ids: list[str]) -> None:
    lines = ["review_id,text,stars"] + [f'"{i}",fine text number {n},4' for n, i in enumerate(ids)]
    path.write_text("\n".join(lines) + "\n")


def test_a_line_break_inside_a_quoted_id_is_refused_in_a_control_free_file(ws, tmp_path):
    p = tmp_path / "r.csv"
    _reviews(p, ["r1", "r2\nbis", "r3"])
    assert inspect_file(p).control_free  # only line breaks: the load takes the fast path
    rep = load_file(ws, p, "reviews", {"review_id": "review_id", "text": "text", "rating": "stars"})
    assert rep.rows_loaded == 2
    assert rep.rejected == {"review id contains control characters (such as NUL)": 1}


@pytest.mark.parametrize("bad", ["r2\tx", "r2\x7fx", "r2\x1bx"])
def test_other_control_characters_send_the_load_to_the_full_check(ws, tmp_path, bad):
    p = tmp_path / "r.csv"
    _reviews(p, ["r1", bad, "r3"])
    assert not inspect_file(p).control_free
    rep = load_file(ws, p, "reviews", {"review_id": "review_id", "text": "text", "rating": "stars"})
    assert rep.rows_loaded == 2 and sum(rep.rejected.values()) == 1


def test_control_characters_in_text_after_the_head_are_removed(ws, tmp_path):
    p = tmp_path / "r.csv.gz"
    rows = ["review_id,text,stars"] + [f"r{i},plain text {i},4" for i in range(3000)]
    rows.append("r-last,tail\x00with\x07bytes,2")
    p.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    rep = load_file(
        ws, p, "reviews", {"review_id": "review_id", "text": "text", "rating": "stars"}, sample_rows=10
    )
    assert rep.rows_loaded == 3001
    assert ws.scalar("SELECT text FROM reviews WHERE review_id = 'r-last'") == "tailwithbytes"
