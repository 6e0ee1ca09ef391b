"""How each canonical field is read from the file: the staging SELECT of a load.

A :class:`ReadPlan` holds what was decided on the sample (date format and
decimal separator per field, which source columns are nested JSON or already
numbers, which columns are left over); :func:`stage_sql` turns it into one
SELECT that DuckDB runs over the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from cx_core.ingest.checks import ID_CONTROL
from cx_core.ingest.duplicates import REST_HASH
from cx_core.ingest.mapping import fields_for
from cx_core.ingest.numbers import parse_number_sql
from cx_core.ingest.transforms import TEXT_CONTROL, id_expr, label_expr, raw, ts_expr, written_sql
from cx_core.store.sql import quote_ident

NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


@dataclass
class ReadPlan:
    """Per-load reading decisions (see module doc)."""

    ts_formats: dict[str, str] = field(default_factory=dict)  # field -> TS_FORMATS entry
    decimals: dict[str, str] = field(default_factory=dict)  # field -> point | comma
    nested: set[str] = field(default_factory=set)  # source columns holding JSON objects/arrays
    native: set[str] = field(default_factory=set)  # source columns already typed as numbers
    rest: list[str] = field(default_factory=list)  # unmapped source columns
    attrs: list[str] = field(default_factory=list)  # unmapped columns kept as attrs_json
    control_free: bool = False  # the file has no control bytes but line breaks: skip those scans
    all_text: bool = False  # every source column is read as text (a CSV): see trimmed_columns


def column_kinds(types: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """``(nested, native_numeric)`` source column names from DuckDB type names."""
    nested = {
        c
        for c, t in types.items()
        if t.startswith(("STRUCT", "MAP", "UNION")) or t.endswith("]") or t == "JSON"
    }
    native = {c for c, t in types.items() if t.split("(")[0] in NUMERIC_TYPES}
    return nested, native


def _field_expr(spec, col: str, plan: ReadPlan, trimmed: set[str]) -> str:
    """The typed value of a field, from its source column as trimmed text (see
    :func:`trimmed_columns`; a native number column is cast directly)."""
    if spec.vtype == "ts":
        return ts_expr(col, plan.ts_formats[spec.name], pre=True)
    if spec.vtype == "num":
        native = col in plan.native and col not in trimmed
        return parse_number_sql(col, plan.decimals.get(spec.name, "point"), native=native, pre=not native)
    if spec.vtype == "label":
        return label_expr(col, pre=True)
    if spec.vtype == "id":
        return id_expr(col, pre=True)
    return raw(col, pre=True)  # control characters are removed in finish_sql, on flagged rows only


def trimmed_columns(kind: str, mapping: Mapping[str, str | None], plan: ReadPlan) -> list[str]:
    """The mapped source columns read as text: each is trimmed once per row (and nested JSON
    turned into JSON text) before the typed expressions, which then use it several times.
    Left as they are: a native number column mapped only to number fields, and in a CSV a
    column mapped only to number and date fields (their parsers skip spaces themselves)."""
    cols: dict[str, None] = {}
    for spec in fields_for(kind):
        col = mapping.get(spec.name)
        if not col or (spec.vtype == "num" and col in plan.native):
            continue
        if plan.all_text and spec.vtype in ("num", "ts"):
            continue
        cols[col] = None
    return list(cols)


def _control_flag(name: str, cols: list[str], pattern: str, plan: ReadPlan) -> str:
    """``name``: whether some of ``cols`` holds a control character.  A regular expression per
    row, unless the file is control-free: then no text can hold one and an id only a line
    break (a quoted multi-line field), which ``contains`` finds at memchr speed."""
    quoted = [quote_ident(c) for c in cols]
    if not plan.control_free:
        return f"coalesce(regexp_matches(concat_ws('', {', '.join(quoted)}), '{pattern}'), false) AS {name}"
    if pattern == TEXT_CONTROL:
        return f"false AS {name}"
    tests = " OR ".join(f"contains({q}, chr({b}))" for q in quoted for b in (10, 13))
    return f"coalesce({tests}, false) AS {name}"


def select_list(kind: str, mapping: Mapping[str, str | None], plan: ReadPlan) -> list[str]:
    """One typed expression per canonical field (NULL for unmapped fields), plus flags:
    ``_has_<f>`` (a number or date was written), ``_ctl`` (some text field held control
    characters) and ``_idctl`` (some id did).  One regular expression per row for all text
    fields and one for all ids: these scans are the costly part of a load."""
    exprs, texts, ids = [], [], []
    trimmed = set(trimmed_columns(kind, mapping, plan))
    for spec in fields_for(kind):
        col = mapping.get(spec.name)
        if not col:
            exprs.append(f"NULL AS {spec.name}")
            continue
        exprs.append(f"{_field_expr(spec, col, plan, trimmed)} AS {spec.name}")
        if spec.vtype in ("ts", "num"):
            untrimmed_text = plan.all_text and col not in trimmed
            written = written_sql(col) if untrimmed_text else f"({quote_ident(col)} IS NOT NULL)"
            exprs.append(f"{written} AS _has_{spec.name}")
        elif spec.vtype in ("str", "text"):
            texts.append(col)
        elif spec.vtype == "id":
            ids.append(col)
    for name, cols, pattern in (("_ctl", texts, TEXT_CONTROL), ("_idctl", ids, ID_CONTROL)):
        if cols:
            exprs.append(_control_flag(name, cols, pattern, plan))
    return exprs


def text_fields(kind: str, mapping: Mapping[str, str | None]) -> list[str]:
    """The mapped free-text and label fields of a kind."""
    return [s.name for s in fields_for(kind) if s.vtype in ("str", "text") and mapping.get(s.name)]


def stage_sql(kind: str, mapping: Mapping[str, str | None], plan: ReadPlan, reader: str) -> str:
    """The SELECT over the file's reader that yields the staged rows."""
    trimmed = trimmed_columns(kind, mapping, plan)
    cols = select_list(kind, mapping, plan)
    if plan.attrs:
        struct = ", ".join(
            f"{quote_ident(a)}: "
            + (
                f"to_json({quote_ident(a)})::VARCHAR"
                if a in plan.nested
                else f"CAST({quote_ident(a)} AS VARCHAR)"
            )
            for a in plan.attrs
        )
        cols.append(f"to_json({{{struct}}})::VARCHAR AS attrs_json")
    if kind == "orders" and plan.rest:
        cols.append(f"hash({', '.join(quote_ident(c) for c in plan.rest)}) AS {REST_HASH}")
    if trimmed:
        pre = ", ".join(f"{raw(c, c in plan.nested)} AS {quote_ident(c)}" for c in trimmed)
        reader = f"(SELECT * REPLACE ({pre}) FROM {reader})"
    return finish_sql(kind, mapping).format(stage=f"SELECT {', '.join(cols)} FROM {reader}")


def finish_sql(kind: str, mapping: Mapping[str, str | None]) -> str:
    """Derived columns computed after staging (amount, order id, text without control characters);
    ``{stage}`` is the inner SELECT."""
    derived = [
        f"CASE WHEN _ctl THEN NULLIF(trim(regexp_replace({f}, '{TEXT_CONTROL}', '', 'g')), '') "
        f"ELSE {f} END AS {f}"
        for f in text_fields(kind, mapping)
    ]
    if kind == "orders":
        amount = (
            "amount"
            if mapping.get("amount")
            else "quantity * unit_price"
            if mapping.get("quantity")
            else "unit_price"
        )
        order = (
            "order_id"
            if mapping.get("order_id")
            else "coalesce(customer_id, '?') || '@' || strftime(ts, '%Y%m%d%H%M%S')"
        )
        derived += [f"{amount} AS amount", f"{order} AS order_id"]
    return (
        f"SELECT * REPLACE ({', '.join(derived)}) FROM ({{stage}})" if derived else "SELECT * FROM ({stage})"
    )
