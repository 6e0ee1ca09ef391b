"""Exports change nothing: CSV, Parquet and Excel read back (csv module, pandas, openpyxl) hold the
same ids, numbers and text, for awkward values (leading - = + @, CR/LF, quotes, unicode, long text).

What a format is allowed to change is documented and checked here exactly:
CSV guards formula-like *free text* with one leading ``'`` (every text column with
``spreadsheet_safe``) and rounds floats (probabilities 4 d.p., money 2 d.p.); Excel rounds
floats the same way and writes characters XML cannot hold with the OOXML ``_xHHHH_``
escape (Excel undoes it on opening: :func:`xlsx_unescape`); Parquet keeps everything.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cx_core.ingest.load import load_file
from cx_core.insight.export import export_segments
from cx_core.insight.export_files import (
    EXACT_COLUMNS,
    XLSX_MAX_CHARS,
    float_digits,
    guard_cell,
    looks_like_formula,
    to_bytes,
    xlsx_unescape,
)
from tests.insight.test_export import XSS, _insert, _run

AWKWARD = [
    "-EyEj5BujVFisco6OwmR8A",
    "=1+1",
    "+44 7700 900123",
    "@SUM(A1)",
    " =1+1",
    "\t@SUM(A1)",
    "\r=cmd|' /C calc'!A0",
    "Ann\r=cmd|' /C calc'!A0",
    "line one\r\nline two",
    "cr\ronly",
    'say "hi", then go',
    "'already quoted",
    "a;b,c\td",
    "ünïcødé ✓ 😀 汉字",
    XSS,
    "_x000D_ literal",
    "＝1+1",
    "-",
    "0042",
    "1e5",
    "NaN",
    "null",
    "  padded  ",
]
#: any character but surrogates (not UTF-8) and U+FFFE/U+FFFF (no Excel file can hold them: refused,
#: see test_xlsx_refuses_what_excel_cannot_hold)
TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff"), min_size=1, max_size=40
)
AWKWARD_TEXT = st.one_of(
    st.sampled_from(AWKWARD),
    TEXT,
    st.builds(
        lambda p, t: p + t, st.sampled_from(["-", "=", "+", "@", " =", "\t@", "\r=", "\n-", "'"]), TEXT
    ),
    st.builds(lambda t, n: (t * n)[:XLSX_MAX_CHARS], st.sampled_from(AWKWARD), st.integers(50, 400)),
)
PROB = st.one_of(st.none(), st.floats(0, 1))
MONEY = st.one_of(st.none(), st.floats(-1e9, 1e9, allow_nan=False))


@st.composite
def export_tables(draw) -> pd.DataFrame:
    """A table shaped like a segment export: ids, ints, bools, floats, a date and free text."""
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(AWKWARD_TEXT, min_size=n, max_size=n, unique=True))
    col = lambda s: draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype=object),
            "segment_id": pd.Series(col(st.integers(-1, 50)), dtype="int64"),
            "segment_name": pd.Series(col(AWKWARD_TEXT), dtype=object),
            "is_outlier": pd.Series(col(st.booleans()), dtype=bool),
            "segment_probability": pd.Series(col(PROB), dtype="float64"),
            "clv": pd.Series(col(MONEY), dtype="float64"),
            "last_order_date": pd.to_datetime(
                pd.Series(col(st.dates(datetime(1990, 1, 1).date(), datetime(2030, 1, 1).date())))
            ),
            "name": pd.Series(col(st.one_of(st.none(), AWKWARD_TEXT)), dtype=object),
            "email": pd.Series(col(st.one_of(st.none(), AWKWARD_TEXT)), dtype=object),
        }
    )


def expected_float(value: float, column: str) -> float | None:
    """What CSV and Excel hold for a float: rounded, missing stays missing."""
    return None if value is None or math.isnan(value) else round(value, float_digits(column))


def expected_csv_text(value: object, column: str, safe: bool) -> str:
    """What CSV holds for a text cell: exact, or guarded with one ``'`` where documented."""
    if value is None:
        return ""
    guard = safe or column not in EXACT_COLUMNS
    return guard_cell(value) if guard else value


def check_csv(df: pd.DataFrame, data: bytes, safe: bool) -> None:
    """Read with the csv module and with pandas; compare every cell to the documented rule."""
    text = data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(df.columns) and len(rows) == len(df) + 1
    frames = {
        "csv": pd.DataFrame(rows[1:], columns=rows[0]),
        "pandas": pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False),
    }
    for reader, back in frames.items():
        for col in ("customer_id", "segment_name", "name", "email"):
            want = [expected_csv_text(v, col, safe) for v in df[col]]
            assert back[col].tolist() == want, (reader, col)
        assert back["segment_id"].astype(int).tolist() == df["segment_id"].tolist()
        assert back["is_outlier"].tolist() == [str(b) for b in df["is_outlier"]]
        for col in ("segment_probability", "clv"):
            got = [None if s == "" else float(s) for s in back[col]]
            assert got == [expected_float(v, col) for v in df[col]], (reader, col)
        assert back["last_order_date"].tolist() == [d.strftime("%Y-%m-%d") for d in df["last_order_date"]]
    again = io.StringIO()  # every field quoted, rows end in CRLF: writing the rows back gives the file
    csv.writer(again, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    assert again.getvalue() == text
    if safe:  # no text cell a spreadsheet would evaluate
        for col in ("customer_id", "segment_name", "name", "email"):
            assert not any(looks_like_formula(c) for c in frames["csv"][col]), col


def check_xlsx(df: pd.DataFrame, data: bytes) -> None:
    """Read with openpyxl: strings are string cells (never formulas), numbers and dates typed."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    sheet = wb["export"]
    cells = list(sheet.iter_rows(values_only=False))
    assert [c.value for c in cells[0]] == list(df.columns)
    cols = list(df.columns)
    for i, row in enumerate(cells[1:]):
        got = {c: cell for c, cell in zip(cols, row)}
        for col in ("customer_id", "segment_name", "name", "email"):
            want = df[col].iat[i]
            cell = got[col]
            if want is None:
                assert cell.value is None
            else:
                assert cell.data_type == "s" and xlsx_unescape(cell.value) == want, col
        assert got["segment_id"].value == df["segment_id"].iat[i]
        assert got["is_outlier"].value is bool(df["is_outlier"].iat[i])
        for col in ("segment_probability", "clv"):
            assert got[col].value == expected_float(df[col].iat[i], col), col
        assert got["last_order_date"].value == df["last_order_date"].iat[i].to_pydatetime()
    assert len(cells) == len(df) + 1


def values(series: pd.Series) -> list:
    """The values of a column with every missing value as None."""
    return [None if pd.isna(v) else v for v in series.astype(object)]


def check_parquet(df: pd.DataFrame, data: bytes) -> None:
    """Parquet keeps every value at full precision."""
    back = pq.read_table(io.BytesIO(data)).to_pandas()
    assert list(back.columns) == list(df.columns)
    for col in df.columns:
        assert values(back[col]) == values(df[col]), col


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(export_tables(), st.booleans())
def test_every_format_round_trips_awkward_values(df, safe):
    check_csv(df, to_bytes(df, "csv", spreadsheet_safe=safe), safe)
    check_xlsx(df, to_bytes(df, "xlsx", {"k": "v"}))
    check_parquet(df, to_bytes(df, "parquet"))


@given(AWKWARD_TEXT)
@settings(max_examples=150, deadline=None)
def test_guard_is_one_apostrophe_and_only_before_formulas(text):
    out = guard_cell(text)
    assert out == text or out == "'" + text
    assert (out != text) == looks_like_formula(text)
    assert not looks_like_formula(out)


def test_xlsx_refuses_what_excel_cannot_hold():
    df = pd.DataFrame({"customer_id": ["a"], "name": ["x" * (XLSX_MAX_CHARS + 1)]})
    with pytest.raises(ValueError, match="an Excel cell holds at most 32,767"):
        to_bytes(df, "xlsx")
    assert to_bytes(df, "csv").decode().count("x") == XLSX_MAX_CHARS + 1  # CSV keeps it
    with pytest.raises(ValueError, match="U\\+FFFE or U\\+FFFF"):
        to_bytes(pd.DataFrame({"name": ["a\uffffb"]}), "xlsx")


# ---------------------------------------------------------------------- load -> export -> read

CUSTOMERS = [  # (customer_id, name, email, phone)
    ("-EyEj5BujVFisco6OwmR8A", "Ann\r=cmd|' /C calc'!A0", "-ann@example.com", "+44 7700 900123"),
    ("=1+1", " =1+1", "=bob@example.org", "@12"),
    ("+49-30-1234", "\t@SUM(A1)", None, None),
    ("@home", "line one\r\nline two", "c@example.net", "0042"),
    ("ünï-😀", XSS, None, None),
    ('say "hi", ok', "'already quoted", None, None),
    ("0042", "é" * 5000, None, None),
]


@pytest.fixture
def loaded(ws, tmp_path):
    """Customers loaded through the real loader from a Parquet file, in a two-segment run."""
    src = pd.DataFrame(CUSTOMERS, columns=["customer_id", "name", "email", "phone"])
    path = tmp_path / "customers.parquet"
    src.to_parquet(path, index=False)
    load_file(ws, path, "customers")
    _run(ws, "seg1", "segments")
    _insert(
        ws,
        "segments",
        [
            {
                "run_id": "seg1",
                "unit_kind": "customer",
                "unit_id": c,
                "segment_id": i % 2,
                "is_outlier": False,
                "probability": 1 / 3 + i / 7,
                "x": 0.0,
                "y": 0.0,
            }
            for i, (c, *_rest) in enumerate(CUSTOMERS)
        ],
    )
    _insert(
        ws,
        "segment_info",
        [
            {"run_id": "seg1", "segment_id": 0, "name": "-budget items", "size": 4},
            {"run_id": "seg1", "segment_id": 1, "name": "=late & refund", "size": 3},
        ],
    )
    return ws, src


def test_loaded_ids_and_text_survive_every_export(loaded):
    ws, src = loaded
    stored = ws.query_df("SELECT customer_id, name, email, phone FROM customers")
    assert sorted(stored["customer_id"]) == sorted(src["customer_id"])  # the loader kept the ids
    want = stored.set_index("customer_id")
    probs = {c: 1 / 3 + i / 7 for i, (c, *_r) in enumerate(CUSTOMERS)}
    exact = lambda c, col: "" if pd.isna(want.loc[c, col]) else want.loc[c, col]  # noqa: E731
    data = export_segments(ws, fmt="csv", mask_pii=False)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert sorted(r["customer_id"] for r in rows) == sorted(want.index)  # ids exact
    for r in rows:
        c = r["customer_id"]
        assert r["name"] == guard_cell(want.loc[c, "name"])  # free text: guarded where documented
        for col in ("email", "phone"):  # codes: exact, missing -> empty
            assert r[col] == exact(c, col), col
        assert float(r["segment_probability"]) == round(probs[c], 4)
        assert r["segment_name"] in ("'-budget items", "'=late & refund")
    assert any("\r\n" in r["name"] for r in rows) and any(r["name"].startswith("Ann\r") for r in rows)
    wb = openpyxl.load_workbook(io.BytesIO(export_segments(ws, fmt="xlsx", mask_pii=False)))
    sheet = wb["export"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    for row in sheet.iter_rows(min_row=2, values_only=True):
        r = dict(zip(header, row))
        c = xlsx_unescape(r["customer_id"])
        assert xlsx_unescape(r["name"]) == want.loc[c, "name"]  # text cells: nothing to guard
        assert r["segment_probability"] == round(probs[c], 4)
        assert xlsx_unescape(r["segment_name"]) in ("-budget items", "=late & refund")
    about = dict(wb["about"].iter_rows(values_only=True))
    assert about["segment_run_id"] == "seg1" and about["personal_data_masked"] == "false"
    back = pq.read_table(io.BytesIO(export_segments(ws, fmt="parquet", mask_pii=False))).to_pandas()
    got = back.set_index("customer_id")
    assert sorted(got.index) == sorted(want.index)
    for c in want.index:
        assert got.loc[c, "name"] == want.loc[c, "name"]
        assert got.loc[c, "segment_probability"] == probs[c]  # full precision
