"""A CSV's head, decoded once: the sample a load checks, and the dialect its full read reuses.

The first rows of the file are decompressed and decoded to UTF-8 into a private
temp file.  The mapping, number and date checks and DuckDB's dialect sniffer run
on that head, so a mapping problem is reported before the whole file is
decompressed, converted from Windows-1252 or read.  The full read then passes
the sniffed dialect explicitly (``auto_detect=false``): DuckDB sniffs once per
load, not once per query.
"""

from __future__ import annotations

import codecs
import gzip
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: the largest head written (bytes of UTF-8); the sample is the rows that fit
HEAD_MAX_BYTES = 16 << 20
_CHUNK = 1 << 20


def _latin1_fallback(exc: UnicodeDecodeError) -> tuple[str, int]:
    """Decode the 5 bytes Windows-1252 leaves undefined as their Latin-1 code points."""
    return "".join(chr(b) for b in exc.object[exc.start : exc.end]), exc.end


codecs.register_error("cx_latin1", _latin1_fallback)


#: bytes that make a file "not control-free": all C0 controls but line feed and carriage
#: return, and DEL (tab included: ids refuse it)
CONTROL_BYTES = bytes(b for b in range(32) if b not in (10, 13)) + b"\x7f"


def has_control_bytes(block: bytes) -> bool:
    """Whether ``block`` holds a byte of :data:`CONTROL_BYTES`: bytes below 32 are counted
    against line feeds and carriage returns in vectorised passes (twice as fast as
    ``bytes.translate``, which copies the block)."""
    a = np.frombuffer(block, np.uint8)
    below = int(np.count_nonzero(a < 32))
    if below and below != int(np.count_nonzero(a == 10)) + int(np.count_nonzero(a == 13)):
        return True
    return b"\x7f" in block


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written, as DuckDB's sniffer found it on the head."""

    delim: str
    quote: str
    escape: str
    new_line: str
    comment: str
    skip: int
    columns: tuple[str, ...]

    def options(self) -> tuple[str, list]:
        """``read_csv`` options (bound parameters) that read the file without sniffing again."""
        return (
            "auto_detect=false, delim=?, quote=?, escape=?, new_line=?, comment=?, skip=?, columns=?",
            [
                self.delim,
                self.quote,
                self.escape,
                self.new_line,
                self.comment,
                self.skip,
                {c: "VARCHAR" for c in self.columns},
            ],
        )


def _sniffed(value: str | None) -> str:
    return "" if value in (None, "(empty)") else str(value)


def sniff_dialect(cur, path: str, options: str) -> CsvDialect:
    """The dialect of the CSV at ``path`` (a head file) as DuckDB sniffs it with ``options``."""
    row = cur.execute(
        "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, Columns "
        f"FROM sniff_csv(?, {options})",
        [path],
    ).fetchone()
    delim, quote, escape, new_line, comment, skip, columns = row
    return CsvDialect(
        _sniffed(delim),
        _sniffed(quote),
        _sniffed(escape),
        _sniffed(new_line) or "\\n",
        _sniffed(comment),
        int(skip or 0),
        tuple(str(c["name"]) for c in columns),
    )


def _read_head(path: str, compressed: bool, rows: int, max_bytes: int) -> tuple[bytes, bool]:
    """Up to ``max_bytes`` of the (decompressed) file, cut after a line end once ``rows`` lines
    are in; True when the whole file fits."""
    opener = gzip.open if compressed else open
    parts, size, lines = [], 0, 0
    with opener(path, "rb") as fh:
        while size < max_bytes and lines <= rows:
            block = fh.read(min(_CHUNK, max_bytes - size))
            if not block:
                return b"".join(parts), True
            parts.append(block)
            size += len(block)
            lines += block.count(b"\n")
        whole = not fh.read(1)
    head = b"".join(parts)
    if not whole and b"\n" in head:
        head = head[: head.rfind(b"\n") + 1]
    return head, whole


def write_head(
    path: str, compressed: bool, encoding: str, rows: int, folder: Path, max_bytes: int = HEAD_MAX_BYTES
) -> tuple[str, bool]:
    """Write the first ``rows`` data rows (at most ``max_bytes``) of a CSV as UTF-8 into a new
    private file in ``folder``; returns ``(path, whole_file)``.  The caller deletes the file."""
    head, whole = _read_head(path, compressed, rows + 1, max_bytes)
    if encoding != "utf-8":
        head = head.decode("cp1252", errors="cx_latin1").encode("utf-8")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, out = tempfile.mkstemp(dir=folder, suffix=".head.csv")
    with os.fdopen(fd, "wb") as fh:
        fh.write(head)
    return out, whole


def drop_head(path: str | None) -> None:
    """Delete a head file (no error when it is gone)."""
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
