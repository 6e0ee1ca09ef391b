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
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from cx_core.ingest.csv_head import (
    HEAD_MAX_BYTES,
    CsvDialect,
    drop_head,
    has_control_bytes,
    sniff_dialect,
    write_head,
)
from cx_core.ingest.errors import InputFileError
from cx_core.ingest.gunzip import gunzip_blocks

SNIFF_BYTES = 1 << 20
#: default cap on a file's decompressed size and on its UTF-8 copy (setting ingest.max_expanded_gb)
DEFAULT_MAX_EXPANDED = 4 * 10**9
UTF8_COPY_DIR = "cx_utf8"


@dataclass(frozen=True)
class SourceFile:
    """What we learned about a file before reading it."""

    path: str
    name: str
    fmt: str  # csv | json | parquet | xlsx
    encoding: str  # utf-8 | latin-1 (read as Windows-1252, its superset)
    compressed: bool
    size: int
    sha256: str
    max_expanded: int = DEFAULT_MAX_EXPANDED  # bytes a decompressed stream or UTF-8 copy may reach
    sheet: str | None = None  # Excel: the sheet read (None: the first)
    head: str | None = None  # CSV: the decoded head file the sample and the sniffer read
    dialect: CsvDialect | None = None  # CSV: sniffed on the head, reused by the full read
    copy: str | None = None  # CSV: the plain UTF-8 copy the full read reads (gzip, Windows-1252)
    control_free: bool = False  # CSV: True when the file as read has no control bytes but CR/LF


def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    """Streaming sha256 of a file (memory stays flat for any size)."""
    return hash_and_scan(path, chunk)[0]


def hash_and_scan(path: str | Path, chunk: int = 1 << 22) -> tuple[str, bool]:
    """Streaming sha256 of a file and whether it is free of control bytes (other than line
    breaks), in one pass."""
    h, clean = hashlib.sha256(), True
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
            clean = clean and not has_control_bytes(block)
    return h.hexdigest(), clean


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
        if lower.endswith((".xlsx", ".xlsm")):
            return "xlsx"
        raise InputFileError(
            f"'{name}' is a ZIP or Excel file under another name. Give an Excel "
            "workbook its .xlsx name, or save it as CSV (or unzip it) first."
        )
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "json"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "csv"


MAX_COLUMNS = 2_000


def check_width(name: str, head: bytes, limit: int = MAX_COLUMNS) -> None:
    """Refuse a delimited file whose header has more than ``limit`` columns, before reading it."""
    header = head.split(b"\n", 1)[0]
    width = 1 + max(header.count(d) for d in (b",", b";", b"\t", b"|"))
    if width > limit:
        raise InputFileError(
            f"'{name}' has about {width:,} columns; the most this app reads is {limit:,}. Keep only "
            "the columns you need (a customers, orders or reviews file needs a handful) and save "
            "it again."
        )


def _guess_encoding(head: bytes) -> str:
    """UTF-8 when the first MiB decodes as UTF-8 (a cut multi-byte tail is allowed), else Latin-1."""
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:
            return "utf-8"
        return "latin-1"


def too_big_message(name: str, limit: int) -> str:
    """The refusal for a file that expands beyond ``limit`` bytes."""
    return (
        f"'{name}' expands to more than {limit / 1e9:,.1f} GB when decompressed or converted to "
        "UTF-8, more than this app accepts (setting ingest.max_expanded_gb). Split the file, or "
        "ask your administrator to raise the limit."
    )


def check_expanded_size(path: str | Path, name: str, limit: int, chunk: int = 1 << 22) -> int:
    """Decompressed size of a gzip file, streamed and stopped as soon as it passes ``limit``
    (:class:`InputFileError` then): a small "zip bomb" never reaches the disk or the database."""
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while block := fh.read(chunk):
                total += len(block)
                if total > limit:
                    raise InputFileError(too_big_message(name, limit))
    except (OSError, EOFError) as exc:
        raise InputFileError(f"'{name}' is not a readable gzip file ({exc}).") from exc
    return total


def inspect_file(
    path: str | Path,
    name: str | None = None,
    max_expanded: int | None = None,
    *,
    defer_csv_expansion: bool = False,
) -> SourceFile:
    """Check that a file is there, non-empty and text-like, and guess format and encoding.

    A gzip file whose content is bigger than ``max_expanded`` bytes (default
    ``DEFAULT_MAX_EXPANDED``) is refused; with ``defer_csv_expansion`` a gzip CSV is
    measured later, while :func:`utf8_copy` decompresses it (the one pass a load makes,
    stopped at the same cap before anything is written).  Raises :class:`InputFileError`
    with a message for the user when the file cannot be used.
    """
    limit = int(max_expanded or DEFAULT_MAX_EXPANDED)
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
        return SourceFile(str(p), name, "parquet", "utf-8", False, size, file_sha256(p), limit)
    head = _head(p, compressed)
    if not head.strip():
        raise InputFileError(f"'{name}' has no content.")
    fmt = _guess_format(name, head, raw_magic)
    if fmt == "xlsx":
        return SourceFile(str(p), name, "xlsx", "utf-8", False, size, file_sha256(p), limit)
    if fmt == "csv":
        check_width(name, head)
    if fmt != "parquet" and b"\x00" in head[:65536]:
        raise InputFileError(
            f"'{name}' looks like a binary file (or UTF-16 text), not CSV or JSON lines. "
            "Export it as UTF-8 CSV and try again."
        )
    if compressed and not (defer_csv_expansion and fmt == "csv"):
        check_expanded_size(p, name, limit)
    sha, clean = hash_and_scan(p)
    plain = fmt == "csv" and not compressed
    return SourceFile(
        str(p), name, fmt, _guess_encoding(head), compressed, size, sha, limit, control_free=plain and clean
    )


def utf8_copy(src: SourceFile, chunk: int = 1 << 22) -> str:
    """Path of a plain UTF-8 copy of a gzip or non-UTF-8 CSV (Windows-1252, a superset of
    Latin-1, is decoded).

    DuckDB reads only UTF-8, UTF-16 and strict Latin-1; a CSV saved by Excel on Windows
    (curly quotes, the euro sign, dashes: bytes 0x80-0x9F) is none of them.  A gzip file is
    decompressed here once: the copy is what its size cap is measured on, and DuckDB reads a
    plain file with all its threads (a gzip stream with one).  The copy is streamed (memory
    stays flat), written 0600 in the temp folder, reused for the same content until
    :func:`drop_utf8_copy` (every load ends with it), and refused with a message once it
    passes ``src.max_expanded`` bytes.
    """
    return _copy(src, chunk)[0]


def with_copy(src: SourceFile, chunk: int = 1 << 22) -> SourceFile:
    """``src`` with its plain UTF-8 copy made (see :func:`utf8_copy`) and ``control_free``
    measured on it, in the same pass; ``src`` itself when it needs no copy."""
    if not needs_copy(src):
        return src
    path, clean = _copy(src, chunk)
    return replace(src, copy=path, control_free=bool(clean))


class _Stopped(Exception):
    """The copy was no longer wanted (see :class:`BackgroundCopy`)."""


def _copy(src: SourceFile, chunk: int, stop: threading.Event | None = None) -> tuple[str, bool | None]:
    """The copy's path and whether it is free of control bytes (None: an earlier copy reused).
    ``stop``: give up (and leave nothing behind) once it is set."""
    out = utf8_copy_path(src)
    if out.exists():
        return str(out), None
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    drop_stale_copies(out.parent)
    decode = (
        codecs.getincrementaldecoder("cp1252")(errors="cx_latin1").decode if src.encoding != "utf-8" else None
    )
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
    try:
        with open(src.path, "rb") as fin, os.fdopen(fd, "wb") as fout:
            written, clean = 0, True
            for block in gunzip_blocks(fin, chunk) if src.compressed else iter(lambda: fin.read(chunk), b""):
                if stop is not None and stop.is_set():
                    raise _Stopped
                data = decode(block).encode("utf-8") if decode else block
                written += len(data)
                if written > src.max_expanded:
                    raise InputFileError(too_big_message(src.name, src.max_expanded))
                clean = clean and not has_control_bytes(data)
                fout.write(data)
            if decode:
                fout.write(decode(b"", final=True).encode("utf-8"))
        os.replace(tmp, out)
    except (OSError, EOFError) as exc:
        raise InputFileError(f"'{src.name}' could not be read and copied ({exc}).") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(out), clean


class BackgroundCopy:
    """The plain UTF-8 copy of a CSV (see :func:`utf8_copy`), made on a worker thread while the
    load checks the mapping and formats on the head: inflating and scanning release the GIL,
    so the two overlap on two cores.  :meth:`result` waits for it; :meth:`close` (always call
    it) stops an unfinished copy and waits until its partial file is gone."""

    def __init__(self, src: SourceFile, chunk: int = 1 << 22) -> None:
        self.src, self.chunk = src, chunk
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._out: tuple[str, bool | None] | None = None
        self._error: BaseException | None = None
        if needs_copy(src):
            self._thread = threading.Thread(target=self._run, name="cx-utf8-copy", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._out = _copy(self.src, self.chunk, self._stop)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self, src: SourceFile) -> SourceFile:
        """``src`` with its copy made and ``control_free`` measured (as :func:`with_copy`).  When
        the sample changed how ``src`` is decoded, the early copy is dropped and made again."""
        if not needs_copy(src):
            return src
        if self._thread is None or src.encoding != self.src.encoding:
            self.close()
            utf8_copy_path(src).unlink(missing_ok=True)
            return with_copy(src, self.chunk)
        self._thread.join()
        if self._error is not None:
            raise self._error
        path, clean = self._out  # type: ignore[misc]
        return replace(src, copy=path, control_free=bool(clean))

    def close(self) -> None:
        """Stop the copy if it is still running and wait for its thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def needs_copy(src: SourceFile) -> bool:
    """Whether the full read of a CSV goes through :func:`utf8_copy` (gzip or not UTF-8)."""
    return src.fmt == "csv" and (src.compressed or src.encoding != "utf-8")


def utf8_copy_path(src: SourceFile) -> Path:
    """Where the UTF-8 copy of ``src`` lives (named by content hash, never by user text)."""
    return Path(tempfile.gettempdir()) / UTF8_COPY_DIR / f"{src.sha256}.csv"


def drop_utf8_copy(src: SourceFile) -> None:
    """Delete the UTF-8 copy and the head file of ``src`` if there are (after a load,
    successful or not)."""
    try:
        utf8_copy_path(src).unlink()
    except FileNotFoundError:
        pass
    drop_head_of(src)


def drop_head_of(src: SourceFile) -> None:
    """Delete the head file of ``src`` (never the file itself, which a small file's head is)."""
    if src.head and src.head != src.path:
        drop_head(src.head)


def with_head(src: SourceFile, rows: int) -> SourceFile:
    """``src`` with its head written (see :mod:`cx_core.ingest.csv_head`); a small plain UTF-8
    file is its own head.  Any previous head of ``src`` is deleted."""
    drop_head_of(src)
    cap = min(HEAD_MAX_BYTES, src.max_expanded + 1)
    if not needs_copy(src) and src.size <= cap:
        return replace(src, head=src.path, dialect=None)
    head, _ = write_head(src.path, src.compressed, src.encoding, rows, utf8_copy_path(src).parent, cap)
    return replace(src, head=head, dialect=None)


def sniff(cur, src: SourceFile) -> SourceFile:
    """``src`` with the dialect DuckDB sniffs on its head (call :func:`with_head` first)."""
    return replace(src, dialect=sniff_dialect(cur, src.head, CSV_OPTIONS + ", ignore_errors=true"))


def drop_stale_copies(folder: Path | None = None, max_age_s: float = 3_600) -> None:
    """Delete UTF-8 copies (and unfinished ones) older than an hour: left by a load that was
    never run, or by a server that stopped mid-load."""
    import time

    folder = folder or Path(tempfile.gettempdir()) / UTF8_COPY_DIR
    for f in [*folder.glob("*.csv"), *folder.glob("*.part")]:
        try:
            if time.time() - f.stat().st_mtime > max_age_s:
                f.unlink()
        except OSError:
            pass  # another process removed or is writing it


CSV_OPTIONS = "all_varchar=true, header=true, max_line_size=4194304"


def reader_sql(src: SourceFile, rejects_suffix: str | None = None, head: bool = False) -> tuple[str, list]:
    """The DuckDB table-function call that reads the file, and its bound parameters.

    CSV is read as text (``all_varchar``) so that no value is lost to a wrong
    type guess; malformed lines go to a rejects table when ``rejects_suffix`` is
    given (names are generated by us, never from user input).  ``head``: read the
    CSV's head file (see :func:`with_head`) instead of the whole file.  With a sniffed
    ``src.dialect`` the reader does not sniff again.
    """
    if src.fmt == "parquet":
        return "read_parquet(?)", [src.path]
    if src.fmt == "xlsx":
        from cx_core.ingest.excel import sheet_copy

        return "read_parquet(?)", [sheet_copy(src.path, src.name, src.sha256, src.sheet)[0]]
    if src.fmt == "json":
        return "read_json(?, format='auto', maximum_object_size=67108864)", [src.path]
    opts, params = CSV_OPTIONS + ", encoding='utf-8'", []
    if src.dialect:
        more, params = src.dialect.options()
        opts += ", " + more
    if rejects_suffix:
        if not rejects_suffix.isalnum():
            raise ValueError("rejects suffix must be alphanumeric")
        opts += (
            f", store_rejects=true, rejects_table='cx_rej_{rejects_suffix}',"
            f" rejects_scan='cx_scan_{rejects_suffix}'"
        )
    else:  # same dialect detection as with store_rejects, without creating tables
        opts += ", ignore_errors=true"
    if head:
        path = src.head
    else:  # gzip or Windows-1252 / Latin-1: read a plain UTF-8 copy
        path = src.copy or (utf8_copy(src) if needs_copy(src) else src.path)
    return f"read_csv(?, {opts})", [path, *params]
