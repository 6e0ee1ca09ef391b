"""Write an export table as CSV, Excel (.xlsx) or Parquet without changing what it holds.

The guarantees (README, "Themes and exports"):

* **Ids and codes are written exactly** (customer and review ids, items, emails,
  phones, churn method/window): ``-EyEj5…`` stays ``-EyEj5…``.
* **CSV**: UTF-8, every field quoted (``csv.QUOTE_ALL``), rows end in CRLF, and a
  line break inside a cell stays inside its quotes.  Free-text cells (names,
  segment names, aspects, recommended items, review text) that a spreadsheet
  would evaluate get a leading ``'`` (OWASP "CSV injection"); the check looks
  at the first character after leading whitespace and control characters, so
  ``" =1+1"``, ``"\\t@SUM(A1)"`` and ``"\\r=cmd|…"`` are caught.
  ``spreadsheet_safe=True`` guards every text column, ids included.
* **Excel**: typed cells (numbers, booleans, dates); every string is a string
  cell, so nothing is evaluated as a formula and no guard is needed (unless
  ``spreadsheet_safe``).  Characters XML cannot hold (CR, other control
  characters) are written with the OOXML ``_xHHHH_`` escape Excel reads back;
  a cell over 32,767 characters or holding U+FFFE/U+FFFF is refused (use CSV
  or Parquet), never cut.
* **Floats** in CSV and Excel are rounded to sensible digits (money 2 d.p.,
  everything else 4 d.p.); **Parquet** keeps full precision and never guards.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any, Iterable

import numpy as np
import pandas as pd

FORMATS = ("csv", "xlsx", "parquet")
FORMAT_LABELS = {"csv": "CSV", "xlsx": "Excel (.xlsx)", "parquet": "Parquet"}
MIME = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: characters that make a spreadsheet evaluate a cell (ASCII and full-width forms)
FORMULA_CHARS = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: columns written exactly in every format: identifiers, codes and values we generate ourselves
EXACT_COLUMNS = frozenset(
    {"customer_id", "review_id", "unit_id", "item", "email", "phone", "churn_method", "churn_window"}
)
#: money columns: 2 decimals in CSV and Excel (other floats: FLOAT_DIGITS)
MONEY_COLUMNS = frozenset({"clv", "revenue", "aov", "amount", "monetary_value"})
MONEY_DIGITS = 2
FLOAT_DIGITS = 4
#: the longest text an Excel cell holds
XLSX_MAX_CHARS = 32_767
XLSX_MAX_ROWS = 1_048_575  # plus the header row
_XML_NONCHAR = "[\ufffe\uffff]"


# ---------------------------------------------------------------------- formula guard


def _skippable(ch: str) -> bool:
    """Whitespace and control/format characters a spreadsheet ignores before a formula."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def looks_like_formula(value: object) -> bool:
    """True for a string whose first character after whitespace/control characters starts a formula."""
    if not isinstance(value, str):
        return False
    for ch in value:
        if not _skippable(ch):
            return ch in FORMULA_CHARS
    return False


def guard_cell(value: Any) -> Any:
    """One cell: a string a spreadsheet would evaluate gets a leading ``'``; anything else as is."""
    return "'" + value if looks_like_formula(value) else value


def text_columns(df: pd.DataFrame) -> list[str]:
    """The columns of ``df`` that hold strings (object or string dtype)."""
    return [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]


def guarded_columns(df: pd.DataFrame, spreadsheet_safe: bool = False) -> list[str]:
    """The columns the formula guard applies to: free-text ones, or every text column when
    ``spreadsheet_safe``."""
    cols = text_columns(df)
    return cols if spreadsheet_safe else [c for c in cols if c not in EXACT_COLUMNS]


def neutralise_formulas(df: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy where the string cells of ``columns`` (default: every text column) that a spreadsheet
    would evaluate get a leading ``'``; other cells, numbers and missing values unchanged."""
    out = df.copy()
    for col in text_columns(out) if columns is None else list(columns):
        out[col] = out[col].map(guard_cell)
    return out


# ---------------------------------------------------------------------- numbers


def float_digits(column: str) -> int:
    """Decimals a float column keeps in CSV and Excel (money 2, everything else 4)."""
    return MONEY_DIGITS if column in MONEY_COLUMNS else FLOAT_DIGITS


def round_floats(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every float column rounded to :func:`float_digits` (missing stays missing)."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(float_digits(col))
    return out


def spreadsheet_frame(df: pd.DataFrame, guard: Iterable[str]) -> pd.DataFrame:
    """What CSV and Excel write: floats rounded, the ``guard`` columns formula-guarded."""
    return neutralise_formulas(round_floats(df), guard)


# ---------------------------------------------------------------------- writers


def to_csv_bytes(df: pd.DataFrame, spreadsheet_safe: bool = False) -> bytes:
    """UTF-8 CSV, every field quoted, CRLF rows, floats rounded, formula-like free text guarded."""
    out = spreadsheet_frame(df, guarded_columns(df, spreadsheet_safe))
    text = out.to_csv(index=False, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    return text.encode("utf-8")


def to_parquet_bytes(df: pd.DataFrame, metadata: dict[str, Any] | None = None) -> bytes:
    """Parquet at full precision, nothing guarded, ``metadata`` under the key ``cx_insight``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {**(table.schema.metadata or {}), b"cx_insight": json.dumps(metadata or {}, default=str).encode()}
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    return buf.getvalue()


def xlsx_unescape(text: str) -> str:
    """A cell text as Excel shows it: OOXML ``_xHHHH_`` escapes (control characters, CR, and a
    literal ``_x…_`` written as ``_x005F_x…_``) decoded.  openpyxl returns the raw text."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def check_fits_xlsx(df: pd.DataFrame) -> None:
    """Refuse, before anything is written, a table an Excel sheet cannot hold exactly."""
    if len(df) > XLSX_MAX_ROWS:
        raise ValueError(
            f"{len(df):,} rows do not fit in an Excel sheet (at most "
            f"{XLSX_MAX_ROWS:,}). Export CSV or Parquet instead."
        )
    for col in text_columns(df):
        texts = df[col].map(lambda v: v if isinstance(v, str) else "")
        longest = int(texts.str.len().max() or 0)
        if longest > XLSX_MAX_CHARS:
            raise ValueError(
                f"Column {col!r} has a value of {longest:,} characters; an Excel cell "
                f"holds at most {XLSX_MAX_CHARS:,}. Export CSV or Parquet instead."
            )
        if texts.str.contains(_XML_NONCHAR, regex=True).any():
            raise ValueError(
                f"Column {col!r} holds U+FFFE or U+FFFF, which an Excel file cannot "
                "store. Export CSV or Parquet instead."
            )


def _write_cell(sheet: Any, r: int, c: int, value: Any, date_fmt: Any, time_fmt: Any) -> None:
    """One typed cell: strings always as text (never a formula, number or link)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, (bool, np.bool_)):
        sheet.write_boolean(r, c, bool(value))
    elif isinstance(value, (int, np.integer, float, np.floating)):
        if math.isfinite(float(value)):
            sheet.write_number(r, c, float(value) if isinstance(value, (float, np.floating)) else int(value))
        else:
            sheet.write_string(r, c, str(float(value)))
    elif isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
        ts = ts.tz_convert(None) if ts.tzinfo is not None else ts
        midnight = ts == ts.normalize()
        sheet.write_datetime(r, c, ts.to_pydatetime(), date_fmt if midnight else time_fmt)
    elif isinstance(value, date):
        sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), date_fmt)
    else:
        sheet.write_string(r, c, value if isinstance(value, str) else str(value))


def to_xlsx_bytes(
    df: pd.DataFrame, metadata: dict[str, Any] | None = None, spreadsheet_safe: bool = False
) -> bytes:
    """An Excel workbook: sheet ``export`` with typed cells (strings always as text, never a
    formula), sheet ``about`` with ``metadata``; floats rounded like CSV.

    Written with xlsxwriter, which stores CR and other control characters with the OOXML
    ``_xHHHH_`` escape that Excel decodes on opening (:func:`xlsx_unescape`).
    """
    import xlsxwriter

    check_fits_xlsx(df)
    guard = guarded_columns(df, True) if spreadsheet_safe else []
    out = spreadsheet_frame(df, guard)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(
        buf,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    time_fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet = wb.add_worksheet("export")
    sheet.freeze_panes(1, 0)
    for c, name in enumerate(out.columns):
        sheet.write_string(0, c, str(name))
    for r, row in enumerate(out.itertuples(index=False, name=None), start=1):
        for c, value in enumerate(row):
            _write_cell(sheet, r, c, value, date_fmt, time_fmt)
    about = wb.add_worksheet("about")
    for r, (key, value) in enumerate((metadata or {}).items()):
        about.write_string(r, 0, str(key))
        about.write_string(r, 1, value if isinstance(value, str) else json.dumps(value, default=str))
    wb.close()
    return buf.getvalue()


def to_bytes(
    df: pd.DataFrame, fmt: str, metadata: dict[str, Any] | None = None, spreadsheet_safe: bool = False
) -> bytes:
    """The table as ``csv``, ``xlsx`` or ``parquet`` bytes (see the module docstring)."""
    if fmt == "csv":
        return to_csv_bytes(df, spreadsheet_safe)
    if fmt == "xlsx":
        return to_xlsx_bytes(df, metadata, spreadsheet_safe)
    if fmt == "parquet":
        return to_parquet_bytes(df, metadata)
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def audit_csv(ws: Any) -> bytes:
    """The whole audit log as CSV (UTF-8, spreadsheet formulas neutralised), newest first."""
    from cx_core.store.audit import audit_log

    df = audit_log(ws, limit=None)
    return neutralise_formulas(df).to_csv(index=False, lineterminator="\n").encode("utf-8")
