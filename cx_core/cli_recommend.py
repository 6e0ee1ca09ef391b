"""Recommendation command for ``python -m cx_core``: ``recommend``.

``recommend --customer ID`` (repeatable) or ``recommend --all`` fits the ALS
recommender (:class:`cx_core.recommend.ItemRecommender`, or the popularity
baseline with ``--method popularity``) on the loaded orders and prints the
top ``-n`` items per customer with their reasons, as text or ``--csv``;
``--save`` instead stores recommendations for every customer as a run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from .db import Workspace

Handler = Callable[[Workspace, argparse.Namespace, Any], int]


def cmd_recommend(ws: Workspace, args: argparse.Namespace, cfg: Any) -> int:
    """Fit on the loaded orders and print recommendations with reasons."""
    from .recommend import ItemRecommender, PopularityRecommender, load_order_lines

    if args.save:
        from .recommend_store import build_recommendations

        run_id = build_recommendations(ws, args.method, args.n)
        print(f"run_id: {run_id} (recommendations for every customer saved; the app's Recommend page "
              "shows them)")
        return 0
    if not args.all and not args.customer:
        print("error: give --customer ID (repeatable) or --all.", file=sys.stderr)
        return 2
    if args.n < 1:
        print("error: -n must be at least 1.", file=sys.stderr)
        return 2
    model = PopularityRecommender() if args.method == "popularity" else ItemRecommender()
    sys.stderr.write("Fitting the recommender on the loaded orders...\n")
    model.fit(load_order_lines(ws))
    recs = model.recommend(None if args.all else args.customer, n=args.n)
    if args.csv:
        recs.to_csv(sys.stdout, index=False)
        return 0
    for cust, group in recs.groupby("customer_id", sort=False):
        print(f"customer {cust}:")
        for r in group.itertuples():
            print(f"  {r.rank:>2}. {r.item_name} [{r.item}]: {r.reason}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add ``recommend`` to the CLI; returns its handler."""
    rp = subparsers.add_parser("recommend", help="item recommendations with reasons (ALS on orders)")
    who = rp.add_mutually_exclusive_group()
    who.add_argument("--customer", action="append", default=[], metavar="ID",
                     help="customer id (repeatable)")
    who.add_argument("--all", action="store_true", help="every customer with purchases")
    rp.add_argument("-n", type=int, default=10, help="items per customer (default 10)")
    rp.add_argument("--method", choices=("als", "popularity"), default="als")
    rp.add_argument("--csv", action="store_true", help="CSV on stdout instead of text")
    rp.add_argument("--save", action="store_true",
                    help="compute for every customer and store the run in the workspace")
    return {"recommend": cmd_recommend}
