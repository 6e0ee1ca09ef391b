"""Duplicates as a decision: what repeats in a file, what it carries, and what the load does.

* Order lines that repeat another line in every column of the file: kept when the
  file has a line-number column or no quantity column (each row is then one unit
  sold), dropped otherwise; either way counted with the revenue they carry, and
  the user can choose (``LoadOptions.duplicates``: auto / keep / drop).
* Review ids are unique per dataset (the first row of a repeated id is kept); two
  sources that both number their reviews 1, 2, 3 load side by side.
* Reviews with the same text from the same author on the same item are kept but
  counted and flagged (:func:`repeated_reviews`), so a model can leave them out of
  its evaluation split.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

import pandas as pd

from cx_core.ingest.mapping import normalise
from cx_core.store.db import Workspace

ORDER_KEY = (
    "order_id",
    "customer_id",
    "ts",
    "amount",
    "quantity",
    "unit_price",
    "item",
    "item_name",
    "country",
)
REST_HASH = "_rest_hash"  # hash of the file's unmapped columns, part of the duplicate key
_LINE_NAMES = re.compile(
    r"^(line|lines|lineno|linenumber|linenum|lineid|lineitem|lineitemid|"
    r"orderitemid|orderlineid|orderline|itemseq|itemno|seq|seqno|sequence|"
    r"position|pos|posnr|rownumber|rowno)$"
)


def line_column(columns: Iterable[str]) -> str | None:
    """The file's line-number column (``order_item_id``, ``line_no``…), if it has one."""
    return next((c for c in columns if _LINE_NAMES.match(normalise(c))), None)


def order_policy(choice: str, mapping: Mapping[str, str | None], columns: Iterable[str]) -> tuple[str, str]:
    """``(keep|drop, why)`` for order lines that repeat another line exactly."""
    if choice in ("keep", "drop"):
        return choice, "as chosen"
    line = line_column(columns)
    if line:
        return "keep", f"the file has a line-number column ('{line}')"
    if not mapping.get("quantity"):
        return "keep", "without a quantity column each row counts as one unit sold"
    return "drop", "the file has a quantity column and no line-number column"


def dedupe_key(kind: str, mapping: Mapping[str, str | None], has_rest: bool) -> tuple[str, ...] | None:
    """Columns of the staged rows that make two rows "the same" for a kind."""
    if kind == "orders":
        return ORDER_KEY + ((REST_HASH,) if has_rest else ())
    if kind == "customers":
        return ("customer_id",)
    if kind == "reviews" and mapping.get("review_id"):
        return ("review_id",)
    return None


KEY_HASH = "_key"  # the staged rows' hash of a multi-column duplicate key (see key_hash_sql)


def key_hash_sql(key: tuple[str, ...] | None) -> str:
    """``, hash(...) AS _key`` for the staging SELECT when ``key`` has several columns (computed
    once while the file is read, not again per duplicate query); empty otherwise."""
    return f", hash({', '.join(key)}) AS {KEY_HASH}" if key and len(key) > 1 else ""


def in_file_duplicates(
    cur, key: tuple[str, ...], row_no: str, money: str | None, max_examples: int = 10
) -> tuple[int, float, list[str]]:
    """Accepted staged rows that repeat an earlier one on ``key``: count, sum of ``money``
    (0 when None) and the first row numbers.  Their rowids are kept in the temp table
    ``_cx_dups`` (the insert leaves them out with an anti-join)."""
    cols = ", ".join(key)
    h = KEY_HASH if key_hash_sql(key) else f"hash({cols})"
    cur.execute("DROP TABLE IF EXISTS _cx_dups")
    # a hash aggregate finds the (few) candidate groups; the exact window runs on those rows only
    cur.execute(
        f"CREATE TEMP TABLE _cx_dups AS WITH cand AS (SELECT {h} AS h FROM _cx_stage "
        f"WHERE _reject IS NULL GROUP BY 1 HAVING count(*) > 1) "
        f"SELECT rowid AS rid, {money or 0} AS money, {row_no} AS r FROM _cx_stage "
        f"WHERE _reject IS NULL AND {h} IN (SELECT h FROM cand) "
        f"QUALIFY row_number() OVER (PARTITION BY {cols} ORDER BY rowid) > 1"
    )
    n, total, rows = cur.execute(
        f"SELECT count(*), coalesce(sum(money), 0), list(r ORDER BY r)[1:{int(max_examples)}] FROM _cx_dups"
    ).fetchone()
    return int(n), float(total), [f"row {r}" for r in rows or []]


def repeated_review_texts(cur, row_no: str, max_examples: int = 10) -> tuple[int, list[str]]:
    """Accepted staged reviews repeating an earlier review's text by the same author on the same
    item (author required): count and examples."""
    n, ex = cur.execute(
        f"SELECT count(*), list('row ' || r || ': ' || left(text, 60) ORDER BY r)[1:{int(max_examples)}] "
        f"FROM (SELECT {row_no} AS r, text FROM _cx_stage WHERE _reject IS NULL "
        "AND customer_id IS NOT NULL QUALIFY row_number() OVER "
        "(PARTITION BY customer_id, item, text ORDER BY rowid) > 1)"
    ).fetchone()
    return int(n), list(ex or [])


REPEATED_REVIEWS_SQL = (
    "SELECT dataset_id, review_id FROM reviews WHERE customer_id IS NOT NULL "
    "QUALIFY row_number() OVER (PARTITION BY dataset_id, customer_id, item, text_hash "
    "ORDER BY review_id) > 1"
)


def repeated_reviews(ws: Workspace) -> pd.DataFrame:
    """``(dataset_id, review_id)`` of every review that repeats an earlier one of its dataset
    (same text, same author, same item): leave these out of evaluation splits."""
    return ws.query_df(REPEATED_REVIEWS_SQL)
