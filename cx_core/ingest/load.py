"""Load a user's file into the workspace: validate, report, and insert in one transaction.

``load_file(..., dry_run=True)`` produces the validation report without
changing anything; ``dry_run=False`` runs the very same steps and commits.
Any failure rolls the whole load back, so a bad file leaves the database as
it was.  Re-loading a file already loaded (same bytes, same kind) changes
nothing and says so.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Mapping

import duckdb
import pandas as pd

from cx_core.store.db import Workspace, quote_ident
from cx_core.ingest.mapping import fields_for, kind_hint, mapping_problems, suggest_mapping
from cx_core.ingest.readers import InputFileError, SourceFile, inspect_file, reader_sql
from cx_core.ingest.transforms import detect_ts_format, id_expr, label_expr, num_expr, text_expr, ts_expr

Progress = Callable[[float, str], None]

REJECT_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (("customer_id IS NULL", "missing customer id"),),
    "orders": (("ts IS NULL", "order date missing or not parsed"),
               ("amount IS NULL", "amount missing or not a number")),
    "reviews": (("text IS NULL", "empty review text"),),
}


class MappingError(ValueError):
    """The column mapping cannot be used; ``problems`` lists why in plain words."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass
class LoadReport:
    """What a load found and did (or, on a dry run, would do)."""

    kind: str
    source_name: str
    columns: list[str]
    mapping: dict[str, str | None]
    ts_format: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    malformed_lines: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    reject_examples: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    date_min: str | None = None
    date_max: str | None = None
    dataset_id: str | None = None
    already_loaded: str | None = None
    dry_run: bool = True

    def summary_lines(self) -> list[str]:
        """The report as short plain sentences for a screen or a terminal."""
        lines = [f"{self.rows_read:,} rows read from '{self.source_name}' as {self.kind}."]
        if self.already_loaded:
            lines.append(f"This file is already loaded as dataset {self.already_loaded}; nothing changed.")
        verb = "would be loaded" if self.dry_run else "loaded"
        lines.append(f"{self.rows_loaded:,} rows {verb}.")
        if self.malformed_lines:
            lines.append(f"{self.malformed_lines:,} malformed lines skipped (wrong number of fields).")
        lines += [f"{n:,} rows rejected: {why}." for why, n in self.rejected.items() if n]
        lines += [f"{n:,} {what}." for what, n in self.notes.items() if n]
        if self.date_min:
            lines.append(f"Dates from {self.date_min} to {self.date_max}"
                         + (f" (format {self.ts_format})." if self.ts_format else "."))
        lines += self.warnings
        return lines

    def to_json(self) -> str:
        """The report as JSON (stored with the dataset)."""
        return json.dumps(asdict(self), default=str)


class _DryRun(Exception):
    """Raised inside the write transaction to roll a dry run back."""


def read_sample(ws: Workspace, src: SourceFile, n: int = 20_000) -> tuple[SourceFile, pd.DataFrame]:
    """The first ``n`` rows of the file (as DuckDB reads them); retries a CSV as Latin-1 when
    UTF-8 decoding fails.  The column names are the sample's columns."""
    for attempt in range(2):
        reader, params = reader_sql(src)
        try:
            return src, ws.query_df(f"SELECT * FROM {reader} LIMIT ?", [*params, int(n)])
        except duckdb.Error as exc:
            msg = str(exc)
            if attempt == 0 and src.fmt == "csv" and src.encoding == "utf-8" and "unicode" in msg.lower():
                src = SourceFile(**{**asdict(src), "encoding": "latin-1"})
                continue
            raise InputFileError(_reader_message(src, msg)) from exc
    raise AssertionError("unreachable")


def read_columns(ws: Workspace, src: SourceFile) -> tuple[SourceFile, list[str]]:
    """The file's column names (see :func:`read_sample`)."""
    src, df = read_sample(ws, src, 1)
    return src, [str(c) for c in df.columns]


def _reader_message(src: SourceFile, msg: str) -> str:
    first = msg.strip().splitlines()[0] if msg.strip() else msg
    if "sniff" in msg.lower() or "dialect" in msg.lower():
        return (f"'{src.name}' could not be read as {src.fmt.upper()}: no consistent delimiter or "
                "quoting was found. Check that it is a CSV/TSV export, or JSON lines.")
    return f"'{src.name}' could not be read as {src.fmt.upper()}: {first}"


def header_warnings(columns: list[str]) -> list[str]:
    """Warnings for blank or repeated header names (DuckDB renames them)."""
    import re

    out = []
    for c in columns:
        if re.fullmatch(r"column\d+", c):
            out.append(f"A column had a blank header and was named '{c}'.")
        m = re.fullmatch(r"(.+)_(\d+)", c)
        if m and m.group(1) in columns:
            out.append(f"Header '{m.group(1)}' appears more than once; the repeat was named '{c}'.")
    if len(columns) == 1:
        out.append("Only one column was found: if this is a delimited file, is the delimiter right?")
    return out


def _select_list(kind: str, mapping: Mapping[str, str | None], ts_fmt: dict[str, str]) -> list[str]:
    """One typed expression per canonical field (NULL for unmapped fields)."""
    exprs = []
    for spec in fields_for(kind):
        src = mapping.get(spec.name)
        if not src:
            exprs.append(f"NULL AS {spec.name}")
            continue
        make = {"id": id_expr, "str": text_expr, "text": text_expr, "num": num_expr,
                "label": label_expr}.get(spec.vtype)
        e = ts_expr(src, ts_fmt[spec.name]) if spec.vtype == "ts" else make(src)
        exprs.append(f"{e} AS {spec.name}")
        if spec.vtype in ("ts", "num"):
            exprs.append(f"(NULLIF(trim(CAST({quote_ident(src)} AS VARCHAR)), '') IS NOT NULL) "
                         f"AS _has_{spec.name}")
    return exprs


def _stage_sql(kind: str, mapping: Mapping[str, str | None], ts_fmt: dict[str, str],
               reader: str, attrs: list[str]) -> str:
    cols = _select_list(kind, mapping, ts_fmt)
    if attrs:
        struct = ", ".join(f"{quote_ident(a)}: CAST({quote_ident(a)} AS VARCHAR)" for a in attrs)
        cols.append(f"to_json({{{struct}}})::VARCHAR AS attrs_json")
    return f"SELECT {', '.join(cols)} FROM {reader}"


def _finish_expr(kind: str, mapping: Mapping[str, str | None]) -> str:
    """Derived columns computed after staging (amount, order id, returns, text hash)."""
    if kind == "orders":
        amount = "amount" if mapping.get("amount") else "quantity * unit_price"
        order = ("order_id" if mapping.get("order_id")
                 else "coalesce(customer_id, '?') || '@' || strftime(ts, '%Y%m%d%H%M%S')")
        return f"SELECT * REPLACE ({amount} AS amount, {order} AS order_id) FROM ({{stage}})"
    return "SELECT * FROM ({stage})"


def _reason_case(kind: str) -> str:
    whens = " ".join(f"WHEN {cond} THEN '{why}'" for cond, why in REJECT_RULES[kind])
    return f"CASE {whens} END"


def load_file(ws: Workspace, path: str | Path, kind: str,
              mapping: Mapping[str, str | None] | None = None, *, name: str | None = None,
              dry_run: bool = False, replace_dataset: str | None = None,
              progress: Progress | None = None, sample_rows: int = 20_000) -> LoadReport:
    """Validate a file and (unless ``dry_run``) load it as a new dataset, all in one transaction.

    Raises :class:`InputFileError` for unreadable files and :class:`MappingError`
    for an unusable mapping; either way nothing in the workspace changes.
    """
    step = progress or (lambda f, m: None)
    step(0.02, "Checking the file")
    src, sample = read_sample(ws, inspect_file(path, name), sample_rows)
    columns = [str(c) for c in sample.columns]
    mapping = dict(mapping) if mapping is not None else suggest_mapping(kind, columns)
    problems = mapping_problems(kind, mapping, columns)
    hint = [h for h in [kind_hint(kind, columns)] if h]
    if problems:
        raise MappingError(problems + hint + [w for w in header_warnings(columns) if "delimiter" in w])
    report = LoadReport(kind, src.name, columns, dict(mapping), dry_run=dry_run,
                        warnings=hint + header_warnings(columns))
    used = {v for v in mapping.values() if v}
    report.ignored_columns = [c for c in columns if c not in used]
    step(0.1, "Detecting date formats")
    ts_fmt = _detect_formats(ws, kind, mapping, sample, report)
    suffix = uuid.uuid4().hex[:12]
    reader, params = reader_sql(src, rejects_suffix=suffix if src.fmt == "csv" else None)
    attrs = report.ignored_columns if kind == "customers" else []
    try:
        with ws.write() as cur:
            _load_in_transaction(cur, src, kind, mapping, ts_fmt, reader, params, attrs,
                                 suffix, report, replace_dataset, step)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except duckdb.Error as exc:
        raise InputFileError(_reader_message(src, str(exc))) from exc
    step(1.0, "Done" if not dry_run else "Validated")
    return report


def _detect_formats(ws: Workspace, kind: str, mapping: Mapping[str, str | None],
                    sample: pd.DataFrame, report: LoadReport) -> dict[str, str]:
    fmts: dict[str, str] = {}
    for spec in fields_for(kind):
        src_col = mapping.get(spec.name)
        if spec.vtype != "ts" or not src_col:
            continue
        with ws.cursor() as cur:
            values = sample[[src_col]].dropna().head(2_000).astype(str)
            cur.register("_cx_sample", values)
            fmt, share = detect_ts_format(cur, "_cx_sample", src_col)
        fmts[spec.name] = fmt
        report.ts_format = report.ts_format or fmt
        if share < 0.5:
            report.warnings.append(f"Only {share:.0%} of '{src_col}' values look like dates.")
    return fmts


def _load_in_transaction(cur, src: SourceFile, kind: str, mapping, ts_fmt, reader, params,
                         attrs, suffix, report: LoadReport, replace_dataset, step) -> None:
    existing = cur.execute(
        "SELECT dataset_id FROM datasets WHERE sha256 = ? AND kind = ? AND dataset_id <> ?",
        [src.sha256, kind, replace_dataset or ""]).fetchone()
    step(0.15, "Reading the file")
    stage = _finish_expr(kind, mapping).format(stage=_stage_sql(kind, mapping, ts_fmt, reader, attrs))
    cur.execute("SET preserve_insertion_order = true")  # rowid = line order, for row numbers
    try:
        cur.execute(f"CREATE TEMP TABLE _cx_stage AS SELECT *, {_reason_case(kind)} AS _reject "
                    f"FROM ({stage})", params)
    finally:
        cur.execute("SET preserve_insertion_order = false")
    base = cur.execute("SELECT coalesce(min(rowid), 0) FROM _cx_stage").fetchone()[0]
    row_no = f"(rowid - {int(base)} + 1)"  # the data row's number in the file
    step(0.55, "Validating rows")
    if src.fmt == "csv":
        report.malformed_lines = cur.execute(f"SELECT count(*) FROM cx_rej_{suffix}").fetchone()[0]
        _malformed_examples(cur, suffix, report)
    _fill_report(cur, kind, mapping, report, row_no)
    if existing:
        report.already_loaded = existing[0]
        report.rows_loaded = 0
        _drop_temps(cur, src, suffix)
        return
    if replace_dataset:
        _delete_rows(cur, replace_dataset)
    dataset_id = "ds_" + uuid.uuid4().hex[:10]
    step(0.7, "Writing rows")
    report.rows_loaded, had_rows = _insert_rows(cur, kind, mapping, dataset_id, bool(attrs), row_no)
    _count_skipped(cur, kind, mapping, had_rows, report)
    if report.rows_loaded == 0:
        report.warnings.append(
            f"'{report.source_name}' has column headers but no data rows. Nothing changed."
            if report.rows_read == 0 else "Nothing new to load: no row passed validation or every "
            "row is already in the workspace. Nothing changed.")
        _drop_temps(cur, src, suffix)
        return
    report.dataset_id = None if report.dry_run else dataset_id
    cur.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [dataset_id, kind, src.name, src.sha256, datetime.now(), report.rows_loaded,
                 sum(report.rejected.values()) + report.malformed_lines,
                 json.dumps(mapping), report.to_json()])
    _drop_temps(cur, src, suffix)


def _count_skipped(cur, kind: str, mapping, had_rows: bool, report: LoadReport) -> None:
    """Split accepted-but-not-inserted rows into in-file duplicates and rows already loaded."""
    key = _dedupe_key(kind, mapping)
    not_inserted = report.rows_read - sum(report.rejected.values()) - report.rows_loaded
    if key is None:
        return
    dups = _dup_count(cur, key) if had_rows else not_inserted
    report.notes[DUPLICATE_NOTES[kind]] = dups
    report.notes["rows already in the workspace (skipped)"] = not_inserted - dups


def _drop_temps(cur, src: SourceFile, suffix: str) -> None:
    cur.execute("DROP TABLE IF EXISTS _cx_stage")
    if src.fmt == "csv":
        cur.execute(f"DROP TABLE IF EXISTS cx_rej_{suffix}")
        cur.execute(f"DROP TABLE IF EXISTS cx_scan_{suffix}")


def _malformed_examples(cur, suffix: str, report: LoadReport) -> None:
    rows = cur.execute(f"SELECT line, error_type, csv_line FROM cx_rej_{suffix} ORDER BY line LIMIT 10"
                       ).fetchall()
    if rows:
        report.reject_examples["malformed lines"] = [
            f"line {line}: {etype.lower()}: {str(text)[:200]}" for line, etype, text in rows]


def _fill_report(cur, kind: str, mapping, report: LoadReport, row_no: str) -> None:
    report.rows_read = cur.execute("SELECT count(*) FROM _cx_stage").fetchone()[0]
    for why, n, ex in cur.execute(
            f"SELECT _reject, count(*), list({row_no} ORDER BY rowid)[1:10] FROM _cx_stage "
            "WHERE _reject IS NOT NULL GROUP BY _reject ORDER BY 2 DESC").fetchall():
        report.rejected[why] = n
        report.reject_examples[why] = [f"row {r}" for r in ex]
    for spec in fields_for(kind):
        if mapping.get(spec.name) and spec.vtype in ("ts", "num"):
            n = cur.execute(f"SELECT count(*) FROM _cx_stage WHERE _has_{spec.name} "
                            f"AND {spec.name} IS NULL").fetchone()[0]
            if n:
                report.notes[f"values of '{mapping[spec.name]}' that could not be parsed"] = n
    _kind_notes(cur, kind, mapping, report)


def _kind_notes(cur, kind: str, mapping, report: LoadReport) -> None:
    ok = "_reject IS NULL"
    if kind in ("orders", "reviews"):
        lo, hi = cur.execute(f"SELECT min(ts)::VARCHAR, max(ts)::VARCHAR FROM _cx_stage WHERE {ok}"
                             ).fetchone()
        report.date_min, report.date_max = lo, hi
    if kind == "orders":
        miss, ret = cur.execute(
            f"SELECT count(*) FILTER (WHERE customer_id IS NULL), "
            f"count(*) FILTER (WHERE amount < 0 OR quantity < 0) FROM _cx_stage WHERE {ok}").fetchone()
        report.notes["rows without a customer id (kept; left out of customer analytics)"] = miss
        report.notes["cancellation or return lines (negative quantity or amount)"] = ret
    elif kind == "reviews":
        n = cur.execute(f"SELECT count(*) FROM _cx_stage WHERE {ok} AND length(text) < 3").fetchone()[0]
        report.notes["very short texts (under 3 characters)"] = n
        if not mapping.get("customer_id"):
            report.warnings.append("No customer id: each review is analysed on its own.")


DUPLICATE_NOTES = {"orders": "exact duplicate rows dropped",
                   "customers": "duplicate customer ids (first kept)",
                   "reviews": "duplicate review ids (first kept)"}

_ORDER_KEY = ("order_id", "customer_id", "ts", "amount", "quantity", "unit_price", "item",
              "item_name", "country")


def _dup_count(cur, key: tuple[str, ...]) -> int:
    cols = ", ".join(key)
    return cur.execute(f"SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT {cols} FROM _cx_stage "
                       f"WHERE _reject IS NULL)) FROM _cx_stage WHERE _reject IS NULL").fetchone()[0]


def _dedupe_key(kind: str, mapping) -> tuple[str, ...] | None:
    if kind == "orders":
        return _ORDER_KEY
    if kind == "customers":
        return ("customer_id",)
    if kind == "reviews" and mapping.get("review_id"):
        return ("review_id",)
    return None


def _insert_rows(cur, kind: str, mapping, dataset_id: str, has_attrs: bool,
                 row_no: str) -> tuple[int, bool]:
    """Insert accepted rows, dropping in-file duplicates and rows already in the workspace.

    Returns the number of rows inserted and whether the table held rows before."""
    names = [s.name for s in fields_for(kind)]
    extra = {"orders": "(amount < 0 OR quantity < 0) IS TRUE AS is_return",
             "reviews": "sha256(text) AS text_hash",
             "customers": ("attrs_json" if has_attrs else "NULL AS attrs_json")}[kind]
    if kind == "reviews":
        names = [n if mapping.get("review_id") or n != "review_id"
                 else f"? || '-' || CAST({row_no} AS VARCHAR) AS review_id" for n in names]
    key = _dedupe_key(kind, mapping)
    where = "_reject IS NULL"
    qualify = ""
    table_has_rows = cur.execute(f"SELECT count(*) > 0 FROM (SELECT 1 FROM {quote_ident(kind)} LIMIT 1)"
                                 ).fetchone()[0]
    if key and table_has_rows:
        on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM s.{k}" for k in key)
        where += f" AND NOT EXISTS (SELECT 1 FROM {quote_ident(kind)} t WHERE {on})"
    if key:
        qualify = f"QUALIFY row_number() OVER (PARTITION BY {', '.join(key)} ORDER BY rowid) = 1"
    cols = ", ".join(names)
    target_cols = ", ".join(["dataset_id", *(["line_no"] if kind == "orders" else []),
                             *[s.name for s in fields_for(kind)],
                             {"orders": "is_return", "reviews": "text_hash",
                              "customers": "attrs_json"}[kind]])
    line = f"{row_no}, " if kind == "orders" else ""
    params = [dataset_id] + ([dataset_id] if kind == "reviews" and not mapping.get("review_id") else [])
    before = cur.execute(f"SELECT count(*) FROM {quote_ident(kind)}").fetchone()[0]
    cur.execute(f"INSERT INTO {quote_ident(kind)} ({target_cols}) SELECT ?, {line}{cols}, {extra} "
                f"FROM _cx_stage s WHERE {where} {qualify}", params)
    return cur.execute(f"SELECT count(*) FROM {quote_ident(kind)}").fetchone()[0] - before, table_has_rows


def _delete_rows(cur, dataset_id: str) -> None:
    for table in ("customers", "orders", "reviews"):
        cur.execute(f"DELETE FROM {quote_ident(table)} WHERE dataset_id = ?", [dataset_id])
    cur.execute("DELETE FROM datasets WHERE dataset_id = ?", [dataset_id])


def delete_dataset(ws: Workspace, dataset_id: str) -> bool:
    """Delete a dataset and its rows in one transaction; False when it did not exist."""
    with ws.write() as cur:
        if not cur.execute("SELECT count(*) FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchone()[0]:
            return False
        _delete_rows(cur, dataset_id)
    return True


def peek_file(ws: Workspace, path: str | Path, name: str | None = None,
              n: int = 20) -> tuple[SourceFile, list[str], "pd.DataFrame"]:
    """Inspect a file and return its description, column names and first ``n`` rows (as text)."""
    src, columns = read_columns(ws, inspect_file(path, name))
    reader, params = reader_sql(src)
    try:
        df = ws.query_df(f"SELECT * FROM {reader} LIMIT ?", [*params, int(n)])
    except duckdb.Error as exc:
        raise InputFileError(_reader_message(src, str(exc))) from exc
    return src, columns, df.astype(str)
