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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Mapping

import duckdb
import pandas as pd

from cx_core.auth.roles import LOCAL_ACTOR, Actor
from cx_core.ingest.checks import BASE_RULES, reason_case
from cx_core.ingest.content import rating_warning, text_problem
from cx_core.ingest.duplicates import (
    ORDER_KEY,
    dedupe_key,
    in_file_duplicates,
    key_hash_sql,
    order_policy,
    repeated_review_texts,
)
from cx_core.ingest.joins import reviewer_match_in
from cx_core.ingest.mapping import fields_for, kind_hint, mapping_problems, suggest_mapping
from cx_core.ingest.messages import reader_message
from cx_core.ingest.numbers import detect_style, parse_number_sql, parsed_examples
from cx_core.ingest.options import LoadOptions
from cx_core.ingest.plan import ReadPlan, column_kinds, stage_sql, text_fields
from cx_core.ingest.readers import (
    BackgroundCopy,
    InputFileError,
    SourceFile,
    drop_head_of,
    drop_utf8_copy,
    inspect_file,
    reader_sql,
    sniff,
    with_head,
)
from cx_core.ingest.transforms import detect_ts_format, ts_expr
from cx_core.progress import Progress
from cx_core.store.audit import record_audit
from cx_core.store.db import Workspace
from cx_core.store.sql import quote_ident

REJECT_RULES = BASE_RULES  # the always-on rules; see cx_core.ingest.checks for the rest


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
    parsed: list[str] = field(default_factory=list)  # "UnitPrice (decimal comma): `2,55` → 2.55"
    duplicates: str | None = None  # what was decided about repeated order lines, and why
    joins: str | None = None  # "0 of 6,403 reviewers match an order customer…"

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
            lines.append(
                f"Dates from {self.date_min} to {self.date_max}"
                + (f" (format {self.ts_format})." if self.ts_format else ".")
            )
        lines += [f"Read as: {p}" for p in self.parsed]
        lines += [x for x in (self.duplicates, self.joins) if x]
        lines += self.warnings
        return lines

    def to_json(self) -> str:
        """The report as JSON (stored with the dataset)."""
        return json.dumps(asdict(self), default=str)


class _DryRun(Exception):
    """Raised inside the write transaction to roll a dry run back."""


def read_sample(ws: Workspace, src: SourceFile, n: int = 20_000) -> tuple[SourceFile, pd.DataFrame]:
    """The first ``n`` rows of the file (as DuckDB reads them); retries a CSV as Latin-1 when
    UTF-8 decoding fails.  The column names are the sample's columns.

    A CSV is sampled from its decoded head (:func:`cx_core.ingest.readers.with_head`), whose
    dialect is sniffed once and kept on the returned file for the full read; the caller
    deletes the head with :func:`cx_core.ingest.readers.drop_utf8_copy`.
    """
    for attempt in range(2):
        try:
            if src.fmt == "csv":
                src = with_head(src, n)
                with ws.cursor() as cur:
                    src = sniff(cur, src)
            reader, params = reader_sql(src, head=src.fmt == "csv")
            return src, ws.query_df(f"SELECT * FROM {reader} LIMIT ?", [*params, int(n)])
        except duckdb.Error as exc:
            msg = str(exc)
            if attempt == 0 and src.fmt == "csv" and src.encoding == "utf-8" and "unicode" in msg.lower():
                src = replace(src, encoding="latin-1")
                continue
            drop_utf8_copy(src)
            raise InputFileError(_reader_message(src, msg)) from exc
    raise AssertionError("unreachable")


def read_columns(ws: Workspace, src: SourceFile) -> tuple[SourceFile, list[str]]:
    """The file's column names (see :func:`read_sample`); no head file is left behind."""
    src, df = read_sample(ws, src, 1)
    drop_head_of(src)
    return replace(src, head=None), [str(c) for c in df.columns]


def _reader_message(src: SourceFile, msg: str) -> str:
    return reader_message(src, msg)


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


def load_file(
    ws: Workspace,
    path: str | Path,
    kind: str,
    mapping: Mapping[str, str | None] | None = None,
    *,
    name: str | None = None,
    dry_run: bool = False,
    replace_dataset: str | None = None,
    progress: Progress | None = None,
    sample_rows: int = 20_000,
    actor: Actor = LOCAL_ACTOR,
    max_expanded_bytes: int | None = None,
    options: LoadOptions | None = None,
) -> LoadReport:
    """Validate a file and (unless ``dry_run``) load it as a new dataset, all in one transaction.

    The load is recorded in ``audit_log`` (``actor``) in that same transaction; a gzip file or a
    Windows-1252 copy bigger than ``max_expanded_bytes`` is refused; any UTF-8 copy made for the
    load is deleted afterwards, whatever happened.  ``options`` carry the decimal separator,
    the duplicate choice, the Excel sheet and the date/id limits (defaults: :class:`LoadOptions`).
    Raises :class:`InputFileError` for unreadable files and :class:`MappingError` for an unusable
    mapping or a number column that cannot be read without a choice; either way nothing in the
    workspace changes.
    """
    (progress or (lambda f, m: None))(0.02, "Checking the file")
    first = inspect_file(path, name, max_expanded_bytes, defer_csv_expansion=True)
    try:
        return _validate_and_load(
            ws,
            first,
            kind,
            mapping,
            dry_run=dry_run,
            actor=actor,
            replace_dataset=replace_dataset,
            progress=progress,
            sample_rows=sample_rows,
            opts=options or LoadOptions(),
        )
    finally:
        drop_utf8_copy(first)


def _validate_and_load(
    ws: Workspace,
    first: SourceFile,
    kind: str,
    mapping: Mapping[str, str | None] | None,
    *,
    dry_run: bool,
    replace_dataset: str | None,
    progress: Progress | None,
    sample_rows: int,
    actor: Actor,
    opts: LoadOptions,
) -> LoadReport:
    step = progress or (lambda f, m: None)
    if first.fmt == "xlsx":
        from cx_core.ingest.excel import with_sheet

        first = with_sheet(first, opts.sheet)
    copying = BackgroundCopy(first)  # gzip / Windows-1252: inflated while the head is checked
    try:
        src, sample = read_sample(ws, first, sample_rows)
        try:
            return _check_and_load(
                ws, src, sample, kind, mapping, dry_run, replace_dataset, step, actor, opts, copying
            )
        finally:
            drop_head_of(src)
    finally:
        copying.close()


def _check_and_load(
    ws: Workspace,
    src: SourceFile,
    sample: pd.DataFrame,
    kind: str,
    mapping: Mapping[str, str | None] | None,
    dry_run: bool,
    replace_dataset: str | None,
    step: Progress,
    actor: Actor,
    opts: LoadOptions,
    copying: BackgroundCopy,
) -> LoadReport:
    """Check the mapping and formats on the sample, then read, check and load the whole file
    (its plain copy, when it needs one, comes from ``copying``)."""
    columns = [str(c) for c in sample.columns]
    mapping = dict(mapping) if mapping is not None else suggest_mapping(kind, columns, sample)
    problems = mapping_problems(kind, mapping, columns)
    hint = [h for h in [kind_hint(kind, columns)] if h]
    if problems:
        raise MappingError(problems + hint + [w for w in header_warnings(columns) if "delimiter" in w])
    report = LoadReport(
        kind, src.name, columns, dict(mapping), dry_run=dry_run, warnings=hint + header_warnings(columns)
    )
    used = {v for v in mapping.values() if v}
    report.ignored_columns = [c for c in columns if c not in used]
    plan = ReadPlan(
        rest=list(report.ignored_columns), attrs=report.ignored_columns if kind == "customers" else []
    )
    plan.nested, plan.native = column_kinds(_column_types(ws, src)) if src.fmt != "csv" else (set(), set())
    plan.all_text = src.fmt == "csv"  # read with all_varchar
    _check_content(kind, mapping, sample, plan, report)
    step(0.1, "Detecting number and date formats")
    _detect_numbers(ws, kind, mapping, sample, plan, opts, report)
    plan.ts_formats = _detect_formats(ws, kind, mapping, sample, report)
    step(0.12, "Reading the file")
    src = copying.result(src)  # gzip / Windows-1252: decompressed or converted once, capped, scanned
    plan.control_free = src.fmt == "csv" and src.control_free
    suffix = uuid.uuid4().hex[:12]
    reader, params = reader_sql(src, rejects_suffix=suffix if src.fmt == "csv" else None)
    try:
        with ws.write() as cur:
            _load_in_transaction(
                cur, src, kind, mapping, plan, reader, params, opts, suffix, report, replace_dataset, step
            )
            if report.dataset_id:
                record_audit(cur, actor.name, actor.role, "load", _load_detail(report, replace_dataset))
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except duckdb.Error as exc:
        raise InputFileError(_reader_message(src, str(exc))) from exc
    step(1.0, "Done" if not dry_run else "Validated")
    return report


def _column_types(ws: Workspace, src: SourceFile) -> dict[str, str]:
    """DuckDB's type of each source column (Parquet, JSON, Excel copy)."""
    reader, params = reader_sql(src)
    try:
        rows = ws.execute(f"DESCRIBE SELECT * FROM {reader}", params)
    except duckdb.Error as exc:
        raise InputFileError(_reader_message(src, str(exc))) from exc
    return {str(r[0]): str(r[1]) for r in rows}


def _check_content(kind: str, mapping, sample: pd.DataFrame, plan: ReadPlan, report: LoadReport) -> None:
    """Refuse a number column as text; warn on 0/1/2 ratings and on nested JSON values."""
    problems = [
        p
        for spec in fields_for(kind)
        if spec.vtype == "text" and mapping.get(spec.name)
        for p in [text_problem(mapping[spec.name], spec.label, sample[mapping[spec.name]])]
        if p
    ]
    if problems:
        raise MappingError(problems)
    if kind == "reviews" and mapping.get("rating"):
        report.warnings += [w for w in [rating_warning(mapping["rating"], sample[mapping["rating"]])] if w]
    for col in sorted(plan.nested & {c for c in mapping.values() if c} | set(plan.nested) & set(plan.attrs)):
        report.warnings.append(
            f"Column '{col}' holds nested JSON objects or lists; they are kept as JSON text."
        )


def _detect_numbers(
    ws: Workspace,
    kind: str,
    mapping,
    sample: pd.DataFrame,
    plan: ReadPlan,
    opts: LoadOptions,
    report: LoadReport,
) -> None:
    """Decimal separator per number field (refusing to guess), with parsed examples."""
    questions = []
    for spec in fields_for(kind):
        col = mapping.get(spec.name)
        if spec.vtype != "num" or not col or col in plan.native:
            continue
        with ws.cursor() as cur:
            cur.register("_cx_sample", sample[[col]].dropna().head(5_000).astype(str))
            style = detect_style(cur, "_cx_sample", col, opts.decimal)
            plan.decimals[spec.name] = style.decimal
            if style.question:
                questions.append(style.question)
                continue
            shown = parsed_examples(
                cur, "_cx_sample", col, parse_number_sql(col, style.decimal, nested=col in plan.nested)
            )
        if shown:
            how = "whole numbers" if style.why == "whole numbers" else f"decimal {style.decimal}, {style.why}"
            report.parsed.append(f"{col} ({how}): {', '.join(shown)}")
    if questions:
        raise MappingError(
            questions
            + [
                "Choose the decimal separator (point or comma) in the form, "
                "or with --decimal on the command line."
            ]
        )


def _load_detail(report: LoadReport, replace_dataset: str | None) -> dict:
    """What the audit log keeps of a load: ids and counts, never row content."""
    return {
        "dataset_id": report.dataset_id,
        "kind": report.kind,
        "source_name": report.source_name,
        "rows": report.rows_loaded,
        "replaced": replace_dataset,
    }


def _detect_formats(
    ws: Workspace, kind: str, mapping: Mapping[str, str | None], sample: pd.DataFrame, report: LoadReport
) -> dict[str, str]:
    fmts: dict[str, str] = {}
    for spec in fields_for(kind):
        src_col = mapping.get(spec.name)
        if spec.vtype != "ts" or not src_col:
            continue
        with ws.cursor() as cur:
            values = sample[[src_col]].dropna().head(2_000).astype(str)
            cur.register("_cx_sample", values)
            fmt, share = detect_ts_format(cur, "_cx_sample", src_col)
            shown = cur.execute(
                f"SELECT DISTINCT {quote_ident(src_col)} AS v, ({ts_expr(src_col, fmt)})::VARCHAR "
                f"FROM _cx_sample ORDER BY v LIMIT 2"
            ).fetchall()
        report.parsed.append(
            f"{src_col} ({fmt}): " + ", ".join(f"`{v}` → {p or 'not a date'}" for v, p in shown)
        )
        fmts[spec.name] = fmt
        report.ts_format = report.ts_format or fmt
        if share < 0.5:
            report.warnings.append(f"Only {share:.0%} of '{src_col}' values look like dates.")
    return fmts


def _load_in_transaction(
    cur,
    src: SourceFile,
    kind: str,
    mapping,
    plan: ReadPlan,
    reader,
    params,
    opts: LoadOptions,
    suffix,
    report: LoadReport,
    replace_dataset,
    step,
) -> None:
    existing = cur.execute(
        "SELECT dataset_id FROM datasets WHERE sha256 = ? AND kind = ? AND dataset_id <> ?",
        [src.sha256, kind, replace_dataset or ""],
    ).fetchone()
    step(0.15, "Reading the file")
    stage = stage_sql(kind, mapping, plan, reader)
    cur.execute("SET preserve_insertion_order = true")  # rowid = line order, for row numbers
    try:
        cur.execute(
            f"CREATE TEMP TABLE _cx_stage AS SELECT *, {reason_case(kind, mapping, opts)} "
            f"AS _reject{key_hash_sql(dedupe_key(kind, mapping, bool(plan.rest)))} FROM ({stage})",
            params,
        )
    finally:
        cur.execute("SET preserve_insertion_order = false")
    base = cur.execute("SELECT coalesce(min(rowid), 0) FROM _cx_stage").fetchone()[0]
    row_no = f"(rowid - {int(base)} + 1)"  # the data row's number in the file
    step(0.55, "Validating rows")
    if src.fmt == "csv":
        report.malformed_lines = cur.execute(f"SELECT count(*) FROM cx_rej_{suffix}").fetchone()[0]
        _malformed_examples(cur, suffix, report)
    _fill_report(cur, kind, mapping, report, row_no)
    keys = _duplicates(cur, kind, mapping, plan, opts, report, row_no)
    if existing:
        report.already_loaded = existing[0]
        report.rows_loaded = 0
        _drop_temps(cur, src, suffix)
        return
    if replace_dataset:
        _delete_rows(cur, replace_dataset)
    dataset_id = "ds_" + uuid.uuid4().hex[:10]
    step(0.7, "Writing rows")
    report.rows_loaded = _insert_rows(cur, kind, mapping, dataset_id, bool(plan.attrs), row_no, *keys)
    _count_skipped(kind, report)
    if kind in ("orders", "reviews") and report.rows_loaded:
        report.joins = reviewer_match_in(cur)
    if report.rows_loaded == 0:
        report.warnings.append(
            f"'{report.source_name}' has column headers but no data rows. Nothing changed."
            if report.rows_read == 0
            else "Nothing new to load: no row passed validation or every "
            "row is already in the workspace. Nothing changed."
        )
        _drop_temps(cur, src, suffix)
        return
    report.dataset_id = None if report.dry_run else dataset_id
    cur.execute(
        "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            dataset_id,
            kind,
            src.name,
            src.sha256,
            datetime.now(),
            report.rows_loaded,
            sum(report.rejected.values()) + report.malformed_lines,
            json.dumps(mapping),
            report.to_json(),
        ],
    )
    _drop_temps(cur, src, suffix)


def _duplicates(
    cur, kind: str, mapping, plan: ReadPlan, opts: LoadOptions, report: LoadReport, row_no: str
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """Count in-file duplicates, decide what happens to them, and return the keys the insert uses:
    ``(in_file_key, workspace_key)`` (None: no check)."""
    key = dedupe_key(kind, mapping, bool(plan.rest))
    n = 0
    if key is not None:
        n, revenue, examples = in_file_duplicates(cur, key, row_no, "amount" if kind == "orders" else None)
    if kind == "orders":
        action, why = order_policy(opts.duplicates, mapping, report.columns)
        report.notes["exact duplicate rows dropped" if action == "drop" else "exact duplicate rows kept"] = n
        if n:
            report.reject_examples["exact duplicate order lines"] = examples
            lines = "order line repeats" if n == 1 else "order lines repeat"
            report.duplicates = (
                f"{n:,} {lines} an earlier line in every column "
                f"(amount {revenue:,.2f}); {'dropped' if action == 'drop' else 'kept'} "
                f"because {why}. Choose keep or drop to change this."
            )
        return (key if action == "drop" else None), ORDER_KEY
    if kind == "reviews":
        report.notes[DUPLICATE_NOTES["reviews"]] = n
        reps, ex = repeated_review_texts(cur, row_no)
        report.notes[REPEATED_REVIEWS] = reps
        if reps:
            report.reject_examples["repeated reviews"] = ex
        return key, None  # review ids are unique per dataset, not per workspace
    report.notes[DUPLICATE_NOTES[kind]] = n
    return key, key


REPEATED_REVIEWS = "repeated reviews (same text, author and item; kept and flagged)"


def _count_skipped(kind: str, report: LoadReport) -> None:
    """Accepted rows neither inserted nor dropped as in-file duplicates: already in the workspace."""
    if kind == "reviews":
        return
    dropped = (
        report.notes.get("exact duplicate rows dropped", 0)
        if kind == "orders"
        else report.notes.get(DUPLICATE_NOTES[kind], 0)
    )
    not_inserted = report.rows_read - sum(report.rejected.values()) - report.rows_loaded
    report.notes["rows already in the workspace (skipped)"] = not_inserted - dropped


def _drop_temps(cur, src: SourceFile, suffix: str) -> None:
    cur.execute("DROP TABLE IF EXISTS _cx_stage")
    cur.execute("DROP TABLE IF EXISTS _cx_dups")
    if src.fmt == "csv":
        cur.execute(f"DROP TABLE IF EXISTS cx_rej_{suffix}")
        cur.execute(f"DROP TABLE IF EXISTS cx_scan_{suffix}")


def _malformed_examples(cur, suffix: str, report: LoadReport) -> None:
    rows = cur.execute(
        f"SELECT line, error_type, csv_line FROM cx_rej_{suffix} ORDER BY line LIMIT 10"
    ).fetchall()
    if rows:
        report.reject_examples["malformed lines"] = [
            f"line {line}: {etype.lower()}: {str(text)[:200]}" for line, etype, text in rows
        ]


def _fill_report(cur, kind: str, mapping, report: LoadReport, row_no: str) -> None:
    report.rows_read = cur.execute("SELECT count(*) FROM _cx_stage").fetchone()[0]
    for why, n, ex in cur.execute(
        f"SELECT _reject, count(*), list({row_no} ORDER BY rowid)[1:10] FROM _cx_stage "
        "WHERE _reject IS NOT NULL GROUP BY _reject ORDER BY 2 DESC"
    ).fetchall():
        report.rejected[why] = n
        report.reject_examples[why] = [f"row {r}" for r in ex]
    for spec in fields_for(kind):
        if mapping.get(spec.name) and spec.vtype in ("ts", "num"):
            n = cur.execute(
                f"SELECT count(*) FROM _cx_stage WHERE _has_{spec.name} AND {spec.name} IS NULL"
            ).fetchone()[0]
            if n:
                report.notes[f"values of '{mapping[spec.name]}' that could not be parsed"] = n
    if text_fields(kind, mapping):
        report.notes["rows whose text had control characters (such as NUL) removed"] = cur.execute(
            "SELECT count(*) FROM _cx_stage WHERE _ctl"
        ).fetchone()[0]
    _kind_notes(cur, kind, mapping, report)


def _kind_notes(cur, kind: str, mapping, report: LoadReport) -> None:
    ok = "_reject IS NULL"
    if kind in ("orders", "reviews"):
        lo, hi = cur.execute(
            f"SELECT min(ts)::VARCHAR, max(ts)::VARCHAR FROM _cx_stage WHERE {ok}"
        ).fetchone()
        report.date_min, report.date_max = lo, hi
    if kind == "orders":
        miss, ret = cur.execute(
            f"SELECT count(*) FILTER (WHERE customer_id IS NULL), "
            f"count(*) FILTER (WHERE amount < 0 OR quantity < 0) FROM _cx_stage WHERE {ok}"
        ).fetchone()
        report.notes["rows without a customer id (kept; left out of customer analytics)"] = miss
        report.notes["cancellation or return lines (negative quantity or amount)"] = ret
    elif kind == "reviews":
        n = cur.execute(f"SELECT count(*) FROM _cx_stage WHERE {ok} AND length(text) < 3").fetchone()[0]
        report.notes["very short texts (under 3 characters)"] = n
        if not mapping.get("customer_id"):
            report.warnings.append("No customer id: each review is analysed on its own.")


DUPLICATE_NOTES = {
    "orders": "exact duplicate rows dropped",
    "customers": "duplicate customer ids (first kept)",
    "reviews": "duplicate review ids (first kept)",
}


def _insert_rows(
    cur,
    kind: str,
    mapping,
    dataset_id: str,
    has_attrs: bool,
    row_no: str,
    in_file_key: tuple[str, ...] | None,
    workspace_key: tuple[str, ...] | None,
) -> int:
    """Insert accepted rows, keeping the first of rows equal on ``in_file_key`` and skipping rows
    equal on ``workspace_key`` to one already in the table; returns the number inserted."""
    names = [s.name for s in fields_for(kind)]
    extra = {
        "orders": "(amount < 0 OR quantity < 0) IS TRUE AS is_return",
        "reviews": "sha256(text) AS text_hash",
        "customers": ("attrs_json" if has_attrs else "NULL AS attrs_json"),
    }[kind]
    if kind == "reviews":
        names = [
            n
            if mapping.get("review_id") or n != "review_id"
            else f"? || '-' || CAST({row_no} AS VARCHAR) AS review_id"
            for n in names
        ]
    where = "_reject IS NULL"
    table_has_rows = cur.execute(
        f"SELECT count(*) > 0 FROM (SELECT 1 FROM {quote_ident(kind)} LIMIT 1)"
    ).fetchone()[0]
    if workspace_key and table_has_rows:
        on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM s.{k}" for k in workspace_key)
        where += f" AND NOT EXISTS (SELECT 1 FROM {quote_ident(kind)} t WHERE {on})"
    if in_file_key:  # the repeats found by in_file_duplicates
        where += " AND s.rowid NOT IN (SELECT rid FROM _cx_dups)"
    cols = ", ".join(names)
    target_cols = ", ".join(
        [
            "dataset_id",
            *(["line_no"] if kind == "orders" else []),
            *[s.name for s in fields_for(kind)],
            {"orders": "is_return", "reviews": "text_hash", "customers": "attrs_json"}[kind],
        ]
    )
    line = f"{row_no}, " if kind == "orders" else ""
    params = [dataset_id] + ([dataset_id] if kind == "reviews" and not mapping.get("review_id") else [])
    before = cur.execute(f"SELECT count(*) FROM {quote_ident(kind)}").fetchone()[0]
    cur.execute(
        f"INSERT INTO {quote_ident(kind)} ({target_cols}) SELECT ?, {line}{cols}, {extra} "
        f"FROM _cx_stage s WHERE {where}",
        params,
    )
    return cur.execute(f"SELECT count(*) FROM {quote_ident(kind)}").fetchone()[0] - before


def _delete_rows(cur, dataset_id: str) -> None:
    for table in ("customers", "orders", "reviews"):
        cur.execute(f"DELETE FROM {quote_ident(table)} WHERE dataset_id = ?", [dataset_id])
    cur.execute("DELETE FROM datasets WHERE dataset_id = ?", [dataset_id])


def delete_dataset(ws: Workspace, dataset_id: str, actor: Actor = LOCAL_ACTOR) -> bool:
    """Delete a dataset and its rows in one transaction (audited); False when it did not exist."""
    with ws.write() as cur:
        if not cur.execute("SELECT count(*) FROM datasets WHERE dataset_id = ?", [dataset_id]).fetchone()[0]:
            return False
        _delete_rows(cur, dataset_id)
        record_audit(cur, actor.name, actor.role, "delete", {"dataset_id": dataset_id})
    return True


def peek_file(
    ws: Workspace,
    path: str | Path,
    name: str | None = None,
    n: int = 20,
    max_expanded_bytes: int | None = None,
    sheet: str | None = None,
) -> tuple[SourceFile, list[str], "pd.DataFrame"]:
    """Inspect a file and return its description, column names and first ``n`` rows (as text);
    for an Excel workbook, of ``sheet`` (the first when None)."""
    first = inspect_file(path, name, max_expanded_bytes)
    if first.fmt == "xlsx":
        from cx_core.ingest.excel import with_sheet

        first = with_sheet(first, sheet)
    src, df = read_sample(ws, first, n)  # a CSV's head only: nothing is decompressed or converted
    drop_head_of(src)
    return replace(src, head=None), [str(c) for c in df.columns], df.astype(str)
