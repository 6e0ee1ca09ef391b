"""The fast CSV path keeps every guarantee: the mapping is checked on a decoded head before the
whole file is read, the sniffed dialect is reused, and control characters are still caught
when the byte scan lets the load skip its regular expressions."""

from __future__ import annotations

import dataclasses
import gzip
import tempfile
import time

import pytest

import cx_core.ingest.readers as readers
from cx_core.ingest.csv_head import CONTROL_BYTES, has_control_bytes
from cx_core.ingest.load import MappingError, load_file
from cx_core.ingest.readers import BackgroundCopy, inspect_file, utf8_copy_path, with_copy

ORDERS = "Invoice;Kunde;Datum;Betrag;Land\n" + "".join(
    f"A{i};C{i % 7};{1 + i % 28:02d}.03.2024;{i},5{i % 10};Österreich – Süd\n" for i in range(300)
)


@pytest.fixture
def endless_full_read(monkeypatch):
    """The whole-file copy (which runs in the background while the head is checked) never ends
    unless it is stopped; measuring the whole file up front fails the test."""
    seen: dict[str, bool] = {}

    def endless(src, chunk, stop=None):
        seen["started"] = True
        seen["stopped"] = stop is not None and stop.wait(60)
        return "", None

    def boom(*a, **k):
        raise AssertionError("the whole file was measured before the mapping was checked")

    monkeypatch.setattr(readers, "_copy", endless)
    monkeypatch.setattr(readers, "check_expanded_size", boom)
    return seen


@pytest.mark.parametrize("packing", ["gzip", "cp1252", "gzip+cp1252"])
def test_a_missing_field_is_reported_without_waiting_for_the_whole_file(
    ws, tmp_path, endless_full_read, packing
):
    data = ORDERS.encode("cp1252" if "cp1252" in packing else "utf-8")
    p = tmp_path / ("o.csv.gz" if "gzip" in packing else "o.csv")
    p.write_bytes(gzip.compress(data) if "gzip" in packing else data)
    t0 = time.monotonic()
    with pytest.raises(MappingError, match="(?i)order date"):
        load_file(ws, p, "orders", {"order_id": "Invoice", "customer_id": "Kunde", "amount": "Betrag"})
    assert time.monotonic() - t0 < 30  # the copy was stopped, not waited for
    assert endless_full_read == {"started": True, "stopped": True}
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


def test_control_bytes_are_found_exactly():
    for b in range(256):
        block = b"id,text\r\n1,ok\n" + bytes([b]) + b"x\n"
        assert has_control_bytes(block) == (b in CONTROL_BYTES), b
    assert not has_control_bytes(b"") and not has_control_bytes(b"\r\n" * 1000)


@pytest.mark.parametrize("packing", ["gzip", "cp1252"])
def test_the_background_copy_is_the_copy_a_load_reads(tmp_path, packing, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    data = ORDERS.encode("cp1252" if packing == "cp1252" else "utf-8")
    p = tmp_path / ("o.csv.gz" if packing == "gzip" else "o.csv")
    p.write_bytes(gzip.compress(data) if packing == "gzip" else data)
    src = inspect_file(p, defer_csv_expansion=True)
    copying = BackgroundCopy(src)
    made = copying.result(src)
    copying.close()
    assert open(made.copy, encoding="utf-8").read() == ORDERS and made.control_free
    utf8_copy_path(src).unlink()
    assert with_copy(src) == made


def test_a_background_copy_made_with_the_wrong_encoding_is_made_again(tmp_path, monkeypatch):
    """The sample can find a file is not UTF-8 after the copy started as UTF-8."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    p = tmp_path / "o.csv.gz"
    p.write_bytes(gzip.compress(ORDERS.encode("cp1252")))
    src = inspect_file(p, defer_csv_expansion=True)
    copying = BackgroundCopy(dataclasses.replace(src, encoding="utf-8"))
    made = copying.result(dataclasses.replace(src, encoding="latin-1"))
    copying.close()
    assert open(made.copy, encoding="utf-8").read() == ORDERS


def test_a_stopped_copy_leaves_no_files(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    p = tmp_path / "big.csv.gz"
    p.write_bytes(gzip.compress(ORDERS.encode() * 2000))
    src = inspect_file(p, defer_csv_expansion=True)
    copying = BackgroundCopy(src, chunk=1 << 12)
    copying.close()
    assert not [f for f in (tmp_path / "tmp").rglob("*") if f.is_file()]
