"""Inspect a user's file and build the DuckDB reader call for it.

Files are read by DuckDB's own readers (``read_csv``, ``read_json``,
``read_parquet``), never through pandas, so a multi-GB file streams.  Before
that, :func:`inspect_file` looks at the first bytes to give a plain message
for the usual accidents: an empty file, a binary file, a spreadsheet saved
under a .csv name, an encoding that is not UTF-8.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 1 << 20


class InputFileError(ValueError):
    """A file we cannot read, with a message meant for the user."""


@dataclass(frozen=True)
class SourceFile:
    """What we learned about a file before reading it."""

    path: str
    name: str
    fmt: str  # csv | json | parquet
    encoding: str  # utf-8 | latin-1 (read as Windows-1252, its superset)
    compressed: bool
    size: int
    sha256: str


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    """Streaming sha256 of a file (memory stays flat for any size)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _head(path: Path, compressed: bool) -> bytes:
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise InputFileError(f"'{path.name}' is not a readable gzip file ({exc}).") from exc


def _guess_format(name: str, head: bytes, raw_magic: bytes) -> str:
    lower = name.lower().removesuffix(".gz")
    if raw_magic.startswith(b"PAR1") or lower.endswith(".parquet"):
        return "parquet"
    if raw_magic.startswith(b"PK\x03\x04"):
        raise InputFileError(f"'{name}' is a ZIP or Excel file. Save it as CSV (or unzip it) first.")
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "json"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _guess_encoding(head: bytes) -> str:
    """UTF-8 when the first MiB decodes as UTF-8 (a cut multi-byte tail is allowed), else Latin-1."""
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:
            return "utf-8"
        return "latin-1"


def inspect_file(path: str | Path, name: str | None = None) -> SourceFile:
    """Check that a file is there, non-empty and text-like, and guess format and encoding.

    Raises :class:`InputFileError` with a message for the user when it is not.
    """
    p = Path(path)
    name = name or p.name
    if not p.is_file():
        raise InputFileError(f"No file at '{p}'.")
    size = p.stat().st_size
    if size == 0:
        raise InputFileError(f"'{name}' is empty (0 bytes).")
    with open(p, "rb") as fh:
        raw_magic = fh.read(4)
    compressed = raw_magic[:2] == b"\x1f\x8b"
    if raw_magic.startswith(b"PAR1"):
        return SourceFile(str(p), name, "parquet", "utf-8", False, size, file_sha256(p))
    head = _head(p, compressed)
    if not head.strip():
        raise InputFileError(f"'{name}' has no content.")
    fmt = _guess_format(name, head, raw_magic)
    if fmt != "parquet" and b"\x00" in head[:65536]:
        raise InputFileError(
            f"'{name}' looks like a binary file (or UTF-16 text), not CSV or JSON lines. "
            "Export it as UTF-8 CSV and try again.")
    return SourceFile(str(p), name, fmt, _guess_encoding(head), compressed, size, file_sha256(p))


def _latin1_fallback(exc: UnicodeDecodeError) -> tuple[str, int]:
    """Decode the 5 bytes Windows-1252 leaves undefined as their Latin-1 code points."""
    return "".join(chr(b) for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error("cx_latin1", _latin1_fallback)


def utf8_copy(src: SourceFile, chunk: int = 1 << 22) -> str:
    """Path of a UTF-8 copy of a non-UTF-8 CSV, decoded as Windows-1252 (a superset of Latin-1).

    DuckDB reads only UTF-8, UTF-16 and strict Latin-1; a CSV saved by Excel on Windows
    (curly quotes, the euro sign, dashes: bytes 0x80-0x9F) is none of them.  The copy is
    streamed (memory stays flat), kept in the temp folder and reused for the same content.
    """
    out = Path(tempfile.gettempdir()) / "cx_utf8" / f"{src.sha256}.csv"
    if out.exists():
        return str(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _drop_stale_copies(out.parent)
    opener = gzip.open if src.compressed else open
    decoder = codecs.getincrementaldecoder("cp1252")(errors="cx_latin1")
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    try:
        with opener(src.path, "rb") as fin, os.fdopen(fd, "w", encoding="utf-8", newline="") as fout:
            while block := fin.read(chunk):
                fout.write(decoder.decode(block))
            fout.write(decoder.decode(b"", final=True))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(out)


def _drop_stale_copies(folder: Path, max_age_s: float = 86_400) -> None:
    """Delete UTF-8 copies older than a day (a load reads its copy within minutes)."""
    import time

    for f in folder.glob("*.csv"):
        try:
            if time.time() - f.stat().st_mtime > max_age_s:
                f.unlink()
        except OSError:
            pass  # another process removed or is writing it


def reader_sql(src: SourceFile, rejects_suffix: str | None = None) -> tuple[str, list]:
    """The DuckDB table-function call that reads the file, and its bound parameters.

    CSV is read as text (``all_varchar``) so that no value is lost to a wrong
    type guess; malformed lines go to a rejects table when ``rejects_suffix`` is
    given (names are generated by us, never from user input).
    """
    if src.fmt == "parquet":
        return "read_parquet(?)", [src.path]
    if src.fmt == "json":
        return "read_json(?, format='auto', maximum_object_size=67108864)", [src.path]
    opts = "all_varchar=true, header=true, encoding=?, max_line_size=4194304"
    if rejects_suffix:
        if not rejects_suffix.isalnum():
            raise ValueError("rejects suffix must be alphanumeric")
        opts += (f", store_rejects=true, rejects_table='cx_rej_{rejects_suffix}',"
                 f" rejects_scan='cx_scan_{rejects_suffix}'")
    else:  # same dialect detection as with store_rejects, without creating tables
        opts += ", ignore_errors=true"
    if src.encoding != "utf-8":  # Windows-1252 / Latin-1: read a UTF-8 copy
        return f"read_csv(?, {opts})", [utf8_copy(src), "utf-8"]
    return f"read_csv(?, {opts})", [src.path, src.encoding]
