"""The streaming gunzip used for the load's plain copy reads what :mod:`gzip` reads."""

from __future__ import annotations

import gzip
import io
import os
import zlib

import pytest

from cx_core.ingest import gunzip
from cx_core.ingest.gunzip import gunzip_blocks

DATA = os.urandom(50_000).hex().encode() + b"\n" + b"a,b\n1,2\n" * 20_000


@pytest.fixture(autouse=True, params=["isal", "zlib"])
def inflater(request, monkeypatch):
    """Every test runs with ISA-L's inflater (the default) and with plain zlib (the fallback)."""
    if request.param == "zlib":
        monkeypatch.setattr(gunzip, "INFLATE", zlib)
    return request.param


def test_isal_is_the_default_inflater(inflater):
    assert gunzip.INFLATE.__name__ == {"isal": "isal.isal_zlib", "zlib": "zlib"}[inflater]


def _read(raw: bytes, chunk: int = 1 << 22, read_size: int = 1 << 20) -> bytes:
    return b"".join(gunzip_blocks(io.BytesIO(raw), chunk, read_size))


@pytest.mark.parametrize("chunk,read_size", [(1 << 22, 1 << 20), (1000, 777), (7, 3)])
def test_same_bytes_as_gzip_for_any_block_sizes(chunk, read_size):
    raw = gzip.compress(DATA)
    assert _read(raw, chunk, read_size) == DATA
    assert all(len(b) <= chunk for b in gunzip_blocks(io.BytesIO(raw), chunk, read_size))


def test_multi_member_and_zero_padding_read_like_gzip():
    raw = gzip.compress(b"first\n") + gzip.compress(b"second\n") + b"\x00" * 10
    assert _read(raw, read_size=5) == gzip.GzipFile(fileobj=io.BytesIO(raw)).read() == b"first\nsecond\n"


def test_empty_input_is_empty():
    assert _read(b"") == b""


def test_truncated_file_raises_eof_error():
    with pytest.raises(EOFError):
        _read(gzip.compress(DATA)[:-100])


def test_corrupt_stream_raises_os_error():
    raw = bytearray(gzip.compress(DATA))
    raw[200:260] = b"\xff" * 60
    with pytest.raises(OSError):
        _read(bytes(raw))


def test_garbage_after_a_member_raises_os_error():
    with pytest.raises(OSError):
        _read(gzip.compress(b"ok\n") + b"not gzip")
