"""Plain messages for what DuckDB's readers report in their own words."""

from __future__ import annotations

import gzip
import re

from cx_core.ingest.readers import SourceFile

MAX_LINE_BYTES = 4_194_304  # read_csv max_line_size in readers.reader_sql


def first_long_line(
    path: str, compressed: bool, limit: int = MAX_LINE_BYTES, chunk: int = 1 << 22
) -> tuple[int, int] | None:
    """``(line_number, length_in_bytes)`` of the first physical line longer than ``limit``
    (line 1 is the header), streamed; None when there is none."""
    opener = gzip.open if compressed else open
    line, length = 1, 0
    with opener(path, "rb") as fh:
        while block := fh.read(chunk):
            start = 0
            while (nl := block.find(b"\n", start)) != -1:
                length += nl - start
                if length > limit:
                    return line, length
                line, length, start = line + 1, 0, nl + 1
            length += len(block) - start
    return (line, length) if length > limit else None


def reader_message(src: SourceFile, msg: str) -> str:
    """What went wrong reading ``src``, in words a user can act on."""
    low = msg.lower()
    what = src.fmt.upper() if src.fmt != "xlsx" else "an Excel sheet"
    if "maximum line size" in low or "max_line_size" in low:
        found = first_long_line(src.path, src.compressed)
        where = (
            f"Line {found[0]:,} is {found[1] / 1e6:,.1f} MB long"
            if found
            else "A record spans more than 4 MB"
        )
        return (
            f"'{src.name}' could not be read: {where}; the longest line (or quoted field) "
            "this app reads is 4 MB. Is a quotation mark left open? Shorten or remove that "
            "field, or fix the quoting, and try again."
        )
    if "out of memory" in low:
        return (
            f"'{src.name}' needs more memory to read than the workspace may use (setting "
            "db.memory_limit). Remove columns you do not need, split the file, or ask your "
            "administrator to raise the limit."
        )
    if "sniff" in low or "dialect" in low:
        return (
            f"'{src.name}' could not be read as {what}: no consistent delimiter or "
            "quoting was found. Check that it is a CSV/TSV export, or JSON lines."
        )
    first = msg.strip().splitlines()[0] if msg.strip() else msg
    first = re.sub(r"^(Invalid Input|Conversion|IO|Binder|Parser) Error: ", "", first)
    return f"'{src.name}' could not be read as {what}: {first}"
