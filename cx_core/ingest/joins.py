"""Do the tables join?  Reviewers that match an order customer, said in one sentence."""

from __future__ import annotations

from cx_core.store.db import Workspace

MATCH_SQL = (
    "WITH rv AS (SELECT DISTINCT customer_id FROM reviews WHERE customer_id IS NOT NULL), "
    "od AS (SELECT DISTINCT customer_id FROM orders WHERE customer_id IS NOT NULL) "
    "SELECT (SELECT count(*) FROM rv), (SELECT count(*) FROM od), "
    "(SELECT count(*) FROM rv SEMI JOIN od USING (customer_id))"
)


def match_sentence(reviewers: int, customers: int, matched: int) -> str | None:
    """ "1,200 of 6,403 reviewers match an order customer." (None when a side is empty)."""
    if not reviewers or not customers:
        return None
    line = f"{matched:,} of {reviewers:,} reviewers match an order customer"
    if matched == 0:
        return (
            line + ": reviews and orders do not share customer ids, so nothing links what "
            "customers write to what they buy. Check that both files use the same id column."
        )
    return line + f" ({matched / reviewers:.0%})."


def reviewer_match(ws: Workspace) -> str | None:
    """How many reviewers in the workspace are also order customers, as a sentence."""
    return match_sentence(*ws.query_one(MATCH_SQL))


def reviewer_match_in(cur) -> str | None:
    """:func:`reviewer_match` on an open cursor (inside a load's transaction)."""
    return match_sentence(*cur.execute(MATCH_SQL).fetchone())
