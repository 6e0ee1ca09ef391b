"""Excel workbooks (.xlsx / .xlsm): one sheet becomes a text-only Parquet copy DuckDB reads.

Cells are written as text the way the rest of the loader expects them: numbers
in their shortest exact form with a decimal point (``2.55``, ``17850``),
dates as ISO timestamps, formulas as their cached values (never evaluated).
The copy lives in the temp folder, named by the file's hash and the sheet.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date, datetime, time
from pathlib import Path

from cx_core.ingest.errors import InputFileError

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
_BATCH = 50_000


def _open(path: str | Path, name: str):
    try:
        from openpyxl import load_workbook

        return load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a damaged or password-protected workbook
        raise InputFileError(
            f"'{name}' could not be opened as an Excel workbook ({type(exc).__name__}). "
            "Open it in Excel and save it again, or save the sheet as CSV."
        ) from exc


def list_sheets(path: str | Path, name: str | None = None) -> list[str]:
    """The workbook's sheet names, in order."""
    wb = _open(path, name or Path(path).name)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def cell_text(v) -> str | None:
    """One cell as text (None for an empty cell)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    return str(v)


def _header(row: tuple) -> list[str]:
    names: list[str] = []
    for i, v in enumerate(row):
        base = cell_text(v) or f"column{i}"
        name, k = base, 1
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def sheet_copy(path: str | Path, name: str, sha256: str, sheet: str | None) -> tuple[str, str]:
    """``(parquet_path, sheet_name)``: the sheet (the first when None) as a text-only Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wb = _open(path, name)
    try:
        sheets = list(wb.sheetnames)
        if sheet is None:
            sheet = sheets[0]
        if sheet not in sheets:
            raise InputFileError(
                f"'{name}' has no sheet named '{sheet}'; its sheets are {', '.join(repr(s) for s in sheets)}."
            )
        tag = hashlib.sha256(f"{sha256}\0{sheet}".encode()).hexdigest()[:32]
        out = Path(tempfile.gettempdir()) / "cx_xlsx" / f"{tag}.parquet"
        if out.exists():
            return str(out), sheet
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        rows = wb[sheet].iter_rows(values_only=True)
        first = next(rows, None)
        if first is None or all(v is None for v in first):
            raise InputFileError(f"Sheet '{sheet}' of '{name}' is empty (no header row).")
        names = _header(first)
        schema = pa.schema([(n, pa.string()) for n in names])
        fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".part")
        os.close(fd)
        try:
            with pq.ParquetWriter(tmp, schema) as writer:
                batch: list[list[str | None]] = []
                for row in rows:
                    if all(v is None for v in row):
                        continue  # Excel keeps formatted empty rows; they are not data
                    cells = [cell_text(v) for v in row[: len(names)]]
                    batch.append(cells + [None] * (len(names) - len(cells)))
                    if len(batch) >= _BATCH:
                        writer.write_table(_table(batch, names, schema))
                        batch = []
                writer.write_table(_table(batch, names, schema))
            os.replace(tmp, out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return str(out), sheet
    finally:
        wb.close()


def _table(batch, names, schema):
    import pyarrow as pa

    cols = list(zip(*batch)) if batch else [[] for _ in names]
    return pa.table([pa.array(list(c), pa.string()) for c in cols], schema=schema)


def with_sheet(src, sheet: str | None):
    """``src`` (an Excel :class:`~cx_core.ingest.readers.SourceFile`) bound to one sheet (the
    first when None); its identity hash covers the sheet, so two sheets are two datasets."""
    from dataclasses import replace

    sheets = list_sheets(src.path, src.name)
    chosen = sheet if sheet is not None else sheets[0]
    if chosen not in sheets:
        raise InputFileError(
            f"'{src.name}' has no sheet named '{chosen}'; its sheets are "
            f"{', '.join(repr(s) for s in sheets)}."
        )
    if src.sheet is not None:  # already bound (its hash covers that sheet)
        return src
    tagged = hashlib.sha256(f"{src.sha256}\0{chosen}".encode()).hexdigest()
    return replace(src, sheet=chosen, sha256=tagged)
