"""Reading numbers as they were written: decimal comma or point, thousands separators.

Each numeric column gets a :class:`NumberStyle` from a sample of its values
(``1.234,50`` and ``2,55`` say "decimal comma"; ``1,234.50`` and ``2.55`` say
"decimal point") unless the user chose one.  A column whose values could be
read either way (``1,234`` only: 1.234 or 1234?) is not guessed: the load
stops with a question.  Parsing is one SQL expression per column, run by
DuckDB over the whole file; detection runs on the sample, also in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from cx_core.ingest.transforms import raw
from cx_core.store.sql import quote_ident

DECIMALS = ("auto", "point", "comma")

# currency signs, spaces (incl. no-break and narrow no-break) and the Swiss apostrophe go
_STRIP = "[$€£¥\\s\u00a0\u202f'’]"
_POINT_OK = "[+-]?(\\d{1,3}(,\\d{3})+|\\d*)(\\.\\d*)?"
_COMMA_OK = "[+-]?(\\d{1,3}(\\.\\d{3})+|\\d*)(,\\d*)?"
# values that can only be read one way
_COMMA_SAYS = (
    "[+-]?\\d*,(\\d{1,2}|\\d{4,})|[+-]?0,\\d+|[+-]?\\d{4,},\\d+|"
    "[+-]?\\d{1,3}(\\.\\d{3})+,\\d*|[+-]?\\d{1,3}(\\.\\d{3}){2,}"
)
_POINT_SAYS = (
    "[+-]?\\d*\\.(\\d{1,2}|\\d{4,})|[+-]?0\\.\\d+|[+-]?\\d{4,}\\.\\d+|"
    "[+-]?\\d{1,3}(,\\d{3})+\\.\\d*|[+-]?\\d{1,3}(,\\d{3}){2,}"
)
_EITHER = "[+-]?[1-9]\\d{0,2}[.,]\\d{3}"  # 1,234 or 1.234: a separator that says nothing


def normalise_decimal(choice: str | None) -> str:
    """'auto', 'point' or 'comma' from what a user typed ('.', ',', 'Point', None...)."""
    c = (choice or "auto").strip().lower()
    c = {".": "point", ",": "comma", "dot": "point", "period": "point", "": "auto"}.get(c, c)
    if c not in DECIMALS:
        raise ValueError(f"decimal separator must be auto, point (.) or comma (,), got {choice!r}")
    return c


@dataclass(frozen=True)
class NumberStyle:
    """How one column writes numbers: ``decimal`` is 'point' or 'comma'; ``question`` is set
    when the sample cannot tell (then nothing is loaded until the user chooses)."""

    column: str
    decimal: str
    why: str
    question: str | None = None


def _sql_str(pattern: str) -> str:
    return "'" + pattern.replace("'", "''") + "'"


def _clean(r: str, also: str = "") -> str:
    """``r`` without currency signs and spaces (and the characters in ``also``)."""
    pattern = _STRIP[:-1] + also + "]" if also else _STRIP
    return f"regexp_replace({r}, {_sql_str(pattern)}, '', 'g')"


def parse_number_sql(
    col: str, decimal: str, native: bool = False, nested: bool = False, pre: bool = False
) -> str:
    """SQL that reads ``col`` as a DOUBLE written with a decimal ``point`` or ``comma``.

    Thousands separators must group by three (``1,234,567.5`` / ``1.234.567,5``); anything
    else (``2,55`` in a decimal-point column) gives NULL, counted as "could not be parsed"
    rather than read as 255.  NaN and infinity are kept so that they can be refused by name.
    ``native`` columns (Parquet/JSON numbers) are cast directly; ``pre``: the column already
    holds trimmed text (see :func:`cx_core.ingest.transforms.raw`).
    """
    if native:
        return f"TRY_CAST({quote_ident(col)} AS DOUBLE)"
    r = raw(col, nested, pre)
    # The check and the value strip the text with different patterns on purpose: DuckDB
    # computes an expression written twice once for every row, before COALESCE or CASE
    # pick the rows that need it, and these fallbacks are needed by few rows.
    c = _clean(r)
    special = f"CASE WHEN NOT isfinite(TRY_CAST({r} AS DOUBLE)) THEN TRY_CAST({r} AS DOUBLE) END"
    if decimal == "comma":
        value = f"replace({_clean(r, '.')}, ',', '.')"
        return (
            f"coalesce(CASE WHEN regexp_full_match({c}, {_sql_str(_COMMA_OK)}) THEN "
            f"TRY_CAST({value} AS DOUBLE) END, {special})"
        )
    if decimal != "point":
        raise ValueError(f"unknown decimal style {decimal!r}")
    return (
        f"coalesce(TRY_CAST({r} AS DOUBLE), CASE WHEN regexp_full_match({c}, "
        f"{_sql_str(_POINT_OK)}) THEN TRY_CAST({_clean(r, ',')} AS DOUBLE) END)"
    )


def detect_style(cur, table: str, col: str, choice: str = "auto") -> NumberStyle:
    """The number style of ``col`` in a sample ``table`` (registered on ``cur``), or the user's
    ``choice`` when it is 'point' or 'comma'."""
    if choice in ("point", "comma"):
        return NumberStyle(col, choice, "chosen")
    c = _clean(raw(col))
    comma, point, either, ex = cur.execute(
        f"SELECT count(*) FILTER (WHERE regexp_full_match({c}, {_sql_str(_COMMA_SAYS)})), "
        f"count(*) FILTER (WHERE regexp_full_match({c}, {_sql_str(_POINT_SAYS)})), "
        f"count(*) FILTER (WHERE regexp_full_match({c}, {_sql_str(_EITHER)})), "
        f"list(DISTINCT {raw(col)}) FILTER (WHERE regexp_full_match({c}, {_sql_str(_EITHER)}))[1:3] "
        f"FROM {quote_ident(table)}"
    ).fetchone()
    if comma and point:
        return NumberStyle(
            col,
            "point",
            "mixed",
            (
                f"Column '{col}' mixes decimal commas and decimal points ({comma:,} values like "
                f"'2,55', {point:,} like '2.55'). Which is the decimal separator: point or comma?"
            ),
        )
    if comma:
        return NumberStyle(col, "comma", "detected")
    if point:
        return NumberStyle(col, "point", "detected")
    if either:
        shown = ", ".join(f"'{v}'" for v in ex or [])
        return NumberStyle(
            col,
            "point",
            "ambiguous",
            (
                f"Column '{col}' has values like {shown} only, which could be read with a decimal "
                f"separator (1.234) or a thousands separator (1234). Which is the decimal separator: "
                "point or comma?"
            ),
        )
    return NumberStyle(col, "point", "whole numbers")


def format_number(x: float | None) -> str:
    """A parsed number as shown in the validation report (up to 15 significant digits)."""
    return "not a number" if x is None else f"{x:.15g}"


def parsed_examples(cur, table: str, col: str, expr: str, n: int = 3) -> list[str]:
    """Up to ``n`` distinct sample values of ``col`` with what ``expr`` makes of them, preferring
    values with a separator: "`1.234,50` → 1234.5"."""
    r = raw(col)
    rows = cur.execute(
        f"SELECT v, p FROM (SELECT DISTINCT {r} AS v, {expr} AS p, "
        f"regexp_matches({r}, '[.,]') AS sep FROM {quote_ident(table)} WHERE {r} IS NOT NULL) "
        f"ORDER BY sep DESC, length(v) DESC, v LIMIT ?",
        [int(n)],
    ).fetchall()
    return [f"`{v}` → {format_number(p)}" for v, p in rows]
