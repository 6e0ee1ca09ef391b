"""Segment-actions command for ``python -m cx_core``: ``actions``.

``actions [--run RUN_ID] [--csv]`` prints, per segment of a segment run (default: the newest),
the suggested next best action from the workspace's rule table (:mod:`cx_core.segments.actions`:
the rule that fired, the reason, the aspect to fix) and the products that over-index in the
segment (lift), as text or as CSV (spreadsheet formulas neutralised) on stdout.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import pandas as pd

from cx_core.store.db import Workspace

Handler = Callable[[Workspace, argparse.Namespace, Any], int]
CSV_COLUMNS = [
    "segment_id",
    "name",
    "size",
    "clv_level",
    "churn_level",
    "complaints",
    "rule",
    "reason",
    "action",
    "fix",
    "top_products",
]


def reason_text(row: dict) -> str:
    """Why the rule fired: the segment's CLV / churn level against the median segment and complaints."""
    complaints = ", ".join(row.get("complaints") or []) or "none"
    return (
        f"CLV {row.get('clv_level') or 'unknown'}, churn risk {row.get('churn_level') or 'unknown'} "
        f"(vs the median segment); complaints: {complaints}"
    )


def actions_table(
    ws: Workspace, run_id: str | None = None, top: int = 5, min_buyers: int = 3
) -> pd.DataFrame:
    """Per segment of ``run_id`` (default: newest segment run): ``CSV_COLUMNS``.

    ``top_products`` lists up to ``top`` over-indexing items as ``name [item] (lift x.x)``, best first.
    Raises ``ValueError`` when there is no such run.
    """
    from cx_core.segments.actions import load_rules, segment_actions, segment_products
    from cx_core.segments.run import load_segment_info
    from cx_core.store.runs import latest_id

    run_id = run_id or latest_id(ws, "segments")
    if run_id is None:
        raise ValueError("No segment run yet: run `python -m cx_core segment` (or the Segments page) first.")
    info = load_segment_info(ws, run_id)
    if info.empty:
        raise ValueError(f"No segment run {run_id!r} in this workspace.")
    acts = segment_actions(info, load_rules(ws))
    products = segment_products(ws, run_id, top=top, min_buyers=min_buyers)
    lists = {
        seg: "; ".join(
            f"{r.item_name if isinstance(r.item_name, str) else r.item} [{r.item}] (lift {r.lift:.2f})"
            for r in g.itertuples()
        )
        for seg, g in products.groupby("segment_id")
    }
    recs = acts.to_dict("records")
    out = pd.DataFrame(recs, columns=list(acts.columns))
    out["reason"] = [reason_text(r) for r in recs]
    out["complaints"] = [", ".join(r["complaints"] or []) for r in recs]
    out["top_products"] = [lists.get(r["segment_id"], "") for r in recs]
    return out[CSV_COLUMNS]


def cmd_actions(ws: Workspace, args: argparse.Namespace, cfg: Any) -> int:
    """Print the next best action and over-indexing products of every segment."""
    if args.top < 1 or args.min_buyers < 1:
        print("error: --top and --min-buyers must be at least 1.", file=sys.stderr)
        return 2
    table = actions_table(ws, args.run, args.top, args.min_buyers)
    if args.csv:
        from cx_core.insight.export import neutralise_formulas

        neutralise_formulas(table).to_csv(sys.stdout, index=False, lineterminator="\n")
        return 0
    if table.empty:
        print("This run has no segments (only outliers).")
        return 0
    for r in table.itertuples():
        print(f"segment {r.segment_id}: {r.name} ({r.size:,} units)")
        if not isinstance(r.rule, str):
            print("  action: none (no rule matches; add a catch-all rule)")
        else:
            fix = f"; fix: {r.fix}" if isinstance(r.fix, str) and r.fix else ""
            print(f"  action: {r.action}{fix}\n  rule:   {r.rule}")
        print(f"  reason: {r.reason}\n  products that over-index: {r.top_products or 'none'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add ``actions`` to the CLI; returns its handler."""
    ap = subparsers.add_parser("actions", help="per segment: next best action and over-indexing products")
    ap.add_argument("--run", metavar="RUN_ID", help="segment run (default: the newest)")
    ap.add_argument("--top", type=int, default=5, help="products per segment (default 5)")
    ap.add_argument("--min-buyers", type=int, default=3, help="fewest buyers in the segment (default 3)")
    ap.add_argument("--csv", action="store_true", help="CSV on stdout instead of text")
    return {"actions": cmd_actions}
