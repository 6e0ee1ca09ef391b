"""``themes`` and ``export`` commands for ``python -m cx_core``.

``register(subparsers)`` adds them and returns ``{name: handler}``; a handler is
``fn(ws, args, cfg) -> int``.  Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
from typing import Any

from cx_core.cli.common import Handler
from cx_core.cli.common import progress_bar as _progress


def cmd_themes(ws: Any, args: argparse.Namespace, cfg: Any) -> int:
    """Discover themes (or promote one) and print the theme table."""
    from cx_core.pipeline.graph import run_named
    from cx_core.themes.run import ThemeSettings, load_themes, promote_theme, theme_runs

    if args.promote is not None:
        runs = theme_runs(ws)
        run_id = args.run or (runs["run_id"].iloc[0] if not runs.empty else None)
        if run_id is None:
            raise ValueError("No theme run yet: run `python -m cx_core themes` first.")
        print(f"Added aspect {promote_theme(ws, run_id, args.promote, args.name)!r} to the taxonomy.")
        return 0
    base = ThemeSettings.from_config(cfg)
    settings = base.replace(
        min_size=base.min_size if args.min_size is None else args.min_size,
        selection=args.selection or base.selection,
        seed=base.seed if args.seed is None else args.seed,
        assign_outliers=args.assign_outliers or base.assign_outliers,
        dataset_id=args.dataset,
    )
    run_id = run_named("themes", ws, cfg, _progress, settings=settings).run_id
    metrics = theme_runs(ws).set_index("run_id").loc[run_id, "metrics"]
    print(
        f"run_id: {run_id}\nreviews: {metrics['n_reviews']:,} (skipped short: "
        f"{metrics['skipped_short']:,})\noutlier share: {metrics['outlier_share']:.1%}"
    )
    for r in load_themes(ws, run_id).itertuples():
        covered = f"covered by {r.covered_by}" if r.covered_by else ("" if r.theme_id < 0 else "NEW")
        print(
            f"{r.theme_id:>3}  {r.size:>7,}  {r.share:6.1%}  {r.name}  [{covered}]  "
            f"{', '.join(r.keywords[:6])}"
        )
    return 0


def cmd_export(ws: Any, args: argparse.Namespace, cfg: Any) -> int:
    """Write a segment run to a CSV, Excel (.xlsx) or Parquet file."""
    from cx_core.insight.export import export_segments

    suffix = str(args.out).lower().rsplit(".", 1)[-1]
    fmt = args.format or (suffix if suffix in ("parquet", "xlsx") else "csv")
    segments = None
    if args.segments:
        try:
            segments = [int(s) for s in args.segments.split(",") if s.strip()]
        except ValueError:
            raise ValueError(f"--segments takes ids separated by commas, got {args.segments!r}")
    path = export_segments(
        ws,
        args.run,
        fmt,
        mask_pii=not args.no_mask,
        path=args.out,
        segments=segments,
        spreadsheet_safe=args.spreadsheet_safe,
    )
    masked = "personal data shown" if args.no_mask else "personal data masked"
    safe = ", every text column formula-guarded" if args.spreadsheet_safe and fmt != "parquet" else ""
    print(f"Wrote {path} ({fmt}, {masked}{safe}).")
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add ``themes`` and ``export``; returns their handlers by name."""
    th = subparsers.add_parser("themes", help="discover open themes in review texts")
    th.add_argument("--min-size", type=int, default=None, help="smallest theme (0 = auto)")
    th.add_argument(
        "--selection",
        choices=["eom", "leaf"],
        default=None,
        help="eom: broader themes; leaf: finer themes, more outliers",
    )
    th.add_argument("--seed", type=int, default=None)
    th.add_argument(
        "--assign-outliers",
        action="store_true",
        help="give outlier reviews their nearest theme (they stay flagged)",
    )
    th.add_argument("--dataset", default=None, help="only this reviews dataset")
    th.add_argument(
        "--promote",
        type=int,
        default=None,
        metavar="THEME_ID",
        help="add this theme of the latest (or --run) theme run to the taxonomy",
    )
    th.add_argument("--name", default=None, help="aspect name for --promote")
    th.add_argument("--run", default=None, help="theme run id for --promote")
    ex = subparsers.add_parser("export", help="export a segment run as CSV, Excel or Parquet")
    ex.add_argument("--out", required=True, help="file to write")
    ex.add_argument(
        "--format",
        choices=["csv", "xlsx", "parquet"],
        default=None,
        help="default: from the file name (.xlsx, .parquet) else csv",
    )
    ex.add_argument(
        "--spreadsheet-safe",
        action="store_true",
        help="CSV/Excel: prefix ' to every text cell a spreadsheet would run as a formula, "
        "ids included (default: free-text columns only; ids written exactly)",
    )
    ex.add_argument("--segments", default=None, help="segment ids, e.g. 0,2,-1 (default: all)")
    ex.add_argument("--run", default=None, help="segment run id (default: the newest)")
    ex.add_argument("--no-mask", action="store_true", help="include unmasked personal data")
    return {"themes": cmd_themes, "export": cmd_export}
