"""Customer commands for ``python -m cx_core``: ``churn`` and ``customer``.

``churn`` trains and evaluates the churn model (hold-out: the last N days)
and prints the metrics as JSON, ours next to the BG/NBD baselines.  Unless
``--no-save`` is given it then writes a new profile run (RFM, CLV, churn and
text profile; the same as ``profile``, which also scores churn) so the app
shows the scores.  ``customer ID`` prints one customer's latest profile as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from cx_core.cli.common import progress_bar as _progress
from cx_core.customers.churn import METHODS, evaluate_churn
from cx_core.customers.churn_features import OrderHistory
from cx_core.customers.profiles import ProfileSettings, build_profiles, load_orders, load_profiles
from cx_core.customers.text_profile import load_review_signals
from cx_core.store import runs
from cx_core.store.db import Workspace

Handler = Callable[[Workspace, argparse.Namespace, Any], int]


def _settings(args: argparse.Namespace, cfg: Any) -> ProfileSettings:
    """Profile settings from the config's customers section and the command-line overrides."""
    values: dict[str, Any] = {"horizon_weeks": args.horizon_weeks, "annual_discount_rate": args.discount_rate}
    for key, arg in (
        ("churn_horizon_days", "horizon_days"),
        ("churn_method", "method"),
        ("churn_cutoffs", "cutoffs"),
    ):
        if getattr(args, arg) is not None:
            values[key] = getattr(args, arg)
    return ProfileSettings.from_config(cfg.customers, **values)


def cmd_churn(ws: Workspace, args: argparse.Namespace, cfg: Any) -> int:
    """Evaluate the churn model against the baselines; save a profile run unless --no-save."""
    settings = _settings(args, cfg)
    if args.no_save:
        signals = load_review_signals(ws, runs.latest_id(ws, runs.StageName.REVIEW_SCORES))
        report = evaluate_churn(
            OrderHistory(load_orders(ws)), settings.churn(), None if signals.empty else signals
        )
        print(json.dumps(report, indent=1))
        return 0
    res = build_profiles(ws, settings, _progress)
    print(json.dumps({"run_id": res.run_id, **res.metrics["churn"]}, indent=1, default=str))
    return 0


def cmd_customer(ws: Workspace, args: argparse.Namespace, cfg: Any) -> int:
    """Print one customer's profile from the latest profile run as JSON."""
    run = runs.latest(ws, runs.StageName.PROFILES)
    if run is None:
        print("No profiles yet: run `python -m cx_core profile` first.", file=sys.stderr)
        return 2
    df = load_profiles(ws, run.run_id)
    row = df[df["customer_id"] == args.customer_id]
    if row.empty:
        print(f"No customer {args.customer_id!r} in profile run {run.run_id}.", file=sys.stderr)
        return 2
    record = json.loads(row.drop(columns=["name", "email"]).to_json(orient="records", date_format="iso"))[0]
    print(json.dumps({"run_id": run.run_id, **record}, indent=1))
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add ``churn`` and ``customer`` to the CLI; returns their handlers."""
    ch = subparsers.add_parser(
        "churn",
        help="train and evaluate the churn model (JSON metrics vs "
        "BG/NBD baselines) and save a profile run with churn scores",
    )
    ch.add_argument(
        "--horizon-days",
        type=int,
        default=None,
        help="churn = no purchase in this many days (default: config, 0 = from the data)",
    )
    ch.add_argument("--method", choices=METHODS, default=None, help="classifier (default: config)")
    ch.add_argument("--cutoffs", type=int, default=None, help="training cutoffs stacked (default: config)")
    ch.add_argument("--horizon-weeks", type=int, default=52, help="CLV horizon of the saved run")
    ch.add_argument("--discount-rate", type=float, default=0.10, help="yearly, for CLV")
    ch.add_argument("--no-save", action="store_true", help="evaluate only; write nothing")
    cu = subparsers.add_parser(
        "customer", help="one customer's latest profile (RFM, CLV, churn, text signals) as JSON"
    )
    cu.add_argument("customer_id")
    return {"churn": cmd_churn, "customer": cmd_customer}
