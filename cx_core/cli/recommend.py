"""Recommendation command for ``python -m cx_core``: ``recommend``.

``recommend --customer ID`` (repeatable) or ``recommend --all`` recommends by
``--method``: ``auto`` (default; ALS on orders for customers with order history,
review-text similarity, :class:`cx_core.recommend.text.TextRecommender`, for
reviewers without orders), ``text``, ``als`` or ``popularity``, and prints the
top ``-n`` items per customer with their reasons, as text or ``--csv``;
``--save`` instead stores recommendations for every customer as a run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from cx_core.store.db import Workspace

Handler = Callable[[Workspace, argparse.Namespace, Any], int]


def cmd_recommend(ws: Workspace, args: argparse.Namespace, cfg: Any) -> int:
    """Recommend by the chosen method and print the items with their reasons."""
    from cx_core.recommend.store import recommend_frame

    if args.save:
        from cx_core.pipeline.graph import run_named

        run_id = run_named(
            "recommend", ws, cfg, _progress, settings={"method": args.method, "n": args.n}
        ).run_id
        sys.stderr.write("\n")
        print(
            f"run_id: {run_id} (recommendations for every customer saved; the app's Recommend page "
            "shows them)"
        )
        return 0
    if not args.all and not args.customer:
        print("error: give --customer ID (repeatable) or --all.", file=sys.stderr)
        return 2
    if args.n < 1:
        print("error: -n must be at least 1.", file=sys.stderr)
        return 2
    encoder = None
    if args.method in ("auto", "text"):
        from cx_core.text.encoder import TextEncoder

        encoder = TextEncoder.from_config(cfg.model)
    recs, _ = recommend_frame(ws, args.method, args.n, _progress, encoder)
    sys.stderr.write("\n")
    if args.customer:
        wanted = [str(c) for c in args.customer]
        missing = sorted(set(wanted) - set(recs["customer_id"]))
        if missing:
            print(
                f"error: No purchases for customer(s) {', '.join(missing[:5])} and no reviews with "
                "items by them (anonymous reviewers are review:<review_id>).",
                file=sys.stderr,
            )
            return 2
        recs = recs[recs["customer_id"].isin(wanted)]
    if args.csv:
        recs.to_csv(sys.stdout, index=False)
        return 0
    for cust, group in recs.groupby("customer_id", sort=False):
        print(f"customer {cust}:")
        for r in group.itertuples():
            print(f"  {r.rank:>2}. {r.item_name} [{r.item}] ({r.source}): {r.reason}")
    return 0


def _progress(frac: float, msg: str) -> None:
    sys.stderr.write(f"\r{msg[:70]:<70} {frac:4.0%}")


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add ``recommend`` to the CLI; returns its handler."""
    rp = subparsers.add_parser(
        "recommend",
        help="item recommendations with reasons (ALS on orders, "
        "review-text similarity for reviewers without orders)",
    )
    who = rp.add_mutually_exclusive_group()
    who.add_argument("--customer", action="append", default=[], metavar="ID", help="customer id (repeatable)")
    who.add_argument("--all", action="store_true", help="every customer with purchases")
    rp.add_argument("-n", type=int, default=10, help="items per customer (default 10)")
    rp.add_argument(
        "--method",
        choices=("auto", "text", "als", "popularity"),
        default="auto",
        help="auto (default): ALS for customers with orders, text for reviewers without; "
        "text: review texts for every reviewer; als / popularity: orders only",
    )
    rp.add_argument("--csv", action="store_true", help="CSV on stdout instead of text")
    rp.add_argument(
        "--save", action="store_true", help="compute for every customer and store the run in the workspace"
    )
    return {"recommend": cmd_recommend}
