"""Segment command for ``python -m cx_core``: ``segment``.

``register(subparsers)`` adds the sub-commands and returns ``{name: handler}``;
a handler is ``fn(ws, args, cfg) -> int`` (the exit code).  Progress goes to
stderr, results to stdout.
"""

from __future__ import annotations

import argparse
from typing import Any

from cx_core.cli.common import Handler
from cx_core.cli.common import progress_bar as _progress


def cmd_segment(ws: Any, args: argparse.Namespace, cfg: Any) -> int:
    """Segment customers (or reviews) and print the segments of the new run."""
    from cx_core.pipeline.graph import run_named
    from cx_core.segments.run import SegmentSettings, load_segment_info

    base = SegmentSettings.from_config(cfg)
    settings = base.replace(
        preset=args.preset or base.preset,
        min_size=base.min_size if args.min_size is None else args.min_size,
        assign_outliers=args.assign_outliers or base.assign_outliers,
        seed=base.seed if args.seed is None else args.seed,
        text_weight=base.text_weight if args.text_weight is None else args.text_weight,
        behaviour_weight=(base.behaviour_weight if args.behaviour_weight is None else args.behaviour_weight),
        unit=args.unit,
    )
    run_id = run_named("segments", ws, cfg, _progress, settings=settings).run_id
    info = load_segment_info(ws, run_id)
    print(f"run_id: {run_id}")
    for r in info.itertuples():
        print(f"{r.segment_id:>3}  {r.size:>7,}  {r.share:6.1%}  {r.name}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add the segment commands; returns their handlers by name."""
    seg = subparsers.add_parser("segment", help="segment customers from review text and behaviour")
    seg.add_argument(
        "--preset", choices=["fast", "default"], help="pipeline preset (default: segments.preset)"
    )
    seg.add_argument(
        "--min-size",
        type=int,
        default=None,
        help="smallest segment in units (0 = auto: 0.5%% of units, at least 10)",
    )
    seg.add_argument(
        "--assign-outliers",
        action="store_true",
        help="assign outliers to the nearest segment (they stay flagged)",
    )
    seg.add_argument("--seed", type=int, default=None)
    seg.add_argument("--text-weight", type=float, default=None)
    seg.add_argument("--behaviour-weight", type=float, default=None)
    seg.add_argument(
        "--unit",
        choices=["auto", "customer", "review"],
        default="auto",
        help="what one point is (auto: customers when ids exist, else reviews)",
    )

    return {"segment": cmd_segment}
