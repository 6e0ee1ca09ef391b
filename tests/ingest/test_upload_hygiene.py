"""Uploads are private and short-lived; decompression and UTF-8 copies are bounded and removed."""

from __future__ import annotations

import gzip
import os
import tempfile
import time

import pytest

from cx_core.ingest.load import load_file, peek_file
from cx_core.ingest.readers import InputFileError, inspect_file, utf8_copy_path
from cx_core.ingest.uploads import (
    discard_upload,
    drop_session_uploads,
    drop_stale_uploads,
    new_session_token,
    save_upload,
    session_upload_dir,
)

CP1252 = "id,Review Text,stars\n1,\u201cGreat\u201d \u20ac5 fit \u2013 yes,5\n2,Na\xefve,2\n"


def test_upload_is_private_in_a_session_folder(tmp_path):
    token = new_session_token()
    folder = session_upload_dir(tmp_path / "uploads", token)
    with open(tmp_path / "src.csv", "w") as fh:
        fh.write("a,b\n1,2\n")
    with open(tmp_path / "src.csv", "rb") as fh:
        saved = save_upload(fh, "../../etc/<x>.csv", folder)
    assert saved.parent == folder and saved.suffix == ".csv" and "<" not in saved.name
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    discard_upload(saved)
    discard_upload(saved)  # twice is fine
    assert not saved.exists()
    with pytest.raises(ValueError):
        session_upload_dir(tmp_path / "uploads", "../escape")
    drop_session_uploads(tmp_path / "uploads", token)
    assert not folder.exists()


def test_stale_uploads_are_swept(tmp_path):
    root = tmp_path / "uploads"
    old, fresh = (session_upload_dir(root, new_session_token()) for _ in range(2))
    (old / "a.csv").write_text("x")
    (fresh / "b.csv").write_text("x")
    past = time.time() - 10 * 3600
    for p in (old / "a.csv", old):
        os.utime(p, (past, past))
    assert drop_stale_uploads(root, 8 * 3600) == 1
    assert not old.exists() and fresh.exists()
    assert drop_stale_uploads(tmp_path / "absent", 1) == 0


def test_utf8_copy_is_deleted_after_every_load(ws, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # a temp folder of its own
    p = tmp_path / "win.csv"
    p.write_bytes(CP1252.encode("cp1252"))
    src, columns, _ = peek_file(ws, p)
    # the preview reads a decoded head only: no full UTF-8 copy, no head file left behind
    assert src.encoding == "latin-1" and "Review Text" in columns
    assert not utf8_copy_path(src).exists() and not list(utf8_copy_path(src).parent.glob("*.head.csv"))
    rep = load_file(ws, p, "reviews", dry_run=True)
    assert rep.rows_loaded == 2 and not utf8_copy_path(src).exists()
    assert load_file(ws, p, "reviews").rows_loaded == 2
    assert not utf8_copy_path(src).exists()
    assert "\u20ac5" in ws.scalar("SELECT text FROM reviews WHERE rating = 5")
    with pytest.raises(Exception):
        load_file(ws, p, "reviews", {"text": "no such column"})
    assert not utf8_copy_path(src).exists()
    assert not list(utf8_copy_path(src).parent.glob("*.head.csv"))


def test_gzip_bomb_is_refused_before_anything_is_written(ws, tmp_path):
    p = tmp_path / "bomb.csv.gz"
    with gzip.open(p, "wb") as fh:
        fh.write(b"id,text\n")
        fh.write(b"1," + b"a" * 3_000_000 + b"\n")
    assert p.stat().st_size < 20_000
    with pytest.raises(InputFileError, match="expands to more than.*ingest.max_expanded_gb"):
        inspect_file(p, max_expanded=1_000_000)
    with pytest.raises(InputFileError, match="ingest.max_expanded_gb"):
        load_file(ws, p, "reviews", max_expanded_bytes=1_000_000)
    assert ws.scalar("SELECT count(*) FROM datasets") == 0


def test_windows_1252_copy_is_capped(ws, tmp_path):
    p = tmp_path / "big.csv"
    p.write_bytes(
        ("id,text\n" + "".join(f"{i},caf\xe9 \u2013 {'x' * 200}\n" for i in range(5000))).encode("cp1252")
    )
    src = inspect_file(p, max_expanded=500_000)
    with pytest.raises(InputFileError, match="ingest.max_expanded_gb"):
        load_file(ws, p, "reviews", max_expanded_bytes=500_000)
    assert not utf8_copy_path(src).exists()
