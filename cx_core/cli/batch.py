"""``python -m cx_core run``: the whole pipeline in one command (see :mod:`cx_core.pipeline.batch`).

Progress goes to stderr; the final JSON summary (stages run/skipped, seconds each,
run ids, export paths) goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from cx_core.cli.common import progress_bar
from cx_core.ingest.mapping import KINDS
from cx_core.pipeline.batch import ORDER, run_batch
from cx_core.pipeline.stage import InputFile, RunOptions

Handler = Callable[[Any, argparse.Namespace, Any], int]


def _say(msg: str) -> None:
    """A stage heading or note on stderr."""
    print(msg, file=sys.stderr, flush=True)


def input_files(paths: list[str], kinds: list[str], maps: list[str]) -> list[InputFile]:
    """Pair each FILE with its --kind (one per file in order, or one for all) and the --map overrides."""
    from cx_core.cli.common import parse_map

    if not paths:
        if kinds or maps:
            raise ValueError("--kind and --map need a FILE to load")
        return []
    if len(kinds) not in (1, len(paths)):
        raise ValueError(
            f"give one --kind for all files or one per file ({len(paths)} files, {len(kinds)} --kind)"
        )
    kinds = kinds * len(paths) if len(kinds) == 1 else kinds
    overrides = parse_map(maps)
    return [InputFile(p, k, dict(overrides)) for p, k in zip(paths, kinds)]


def cmd_run(ws: Any, args: argparse.Namespace, cfg: Any) -> int:
    """Run ingest, embeddings, review model, scores, profiles, segments, themes and exports."""
    opts = RunOptions(
        demo=args.demo,
        files=input_files(args.files, args.kind, args.map),
        export_dir=args.export_dir,
        skip=args.skip,
        retrain=args.retrain,
        force=args.force,
    )
    summary = run_batch(ws, cfg, opts, progress_bar, _say)
    print(json.dumps(summary, indent=1, default=str))
    return 0


def cmd_report(ws: Any, args: argparse.Namespace, cfg: Any) -> int:
    """Write the self-contained HTML insight report (personal data masked unless --no-mask)."""
    from cx_core.insight.report import write_report

    path = write_report(ws, args.out, mask_pii=not args.no_mask, currency=cfg.ui.currency)
    _say(
        f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB"
        f"{', personal data NOT masked' if args.no_mask else ', personal data masked'})"
    )
    print(str(path))
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add ``run`` and ``report``; returns their handlers."""
    r = subparsers.add_parser(
        "run",
        help="the whole pipeline headless: load, embed, train/score reviews, profiles, "
        "segments, themes, exports (unchanged stages are skipped)",
    )
    r.add_argument("files", nargs="*", metavar="FILE", help="files to load (CSV, Parquet, JSON lines)")
    r.add_argument("--demo", action="store_true", help="load the demo store (once)")
    r.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=KINDS,
        help="table kind of the FILEs: once for all, or once per FILE in order",
    )
    r.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="override the suggested mapping of the FILEs (repeatable)",
    )
    r.add_argument("--export-dir", default=None, help="write the segment list (CSV, masked) here")
    r.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=ORDER,
        metavar="STAGE",
        help=f"leave a stage out (repeatable): {', '.join(ORDER)}",
    )
    r.add_argument("--retrain", action="store_true", help="train a new review model even if one exists")
    r.add_argument("--force", action="store_true", help="rerun every stage even when nothing changed")
    rep = subparsers.add_parser(
        "report",
        help="write the self-contained HTML insight report (overview, drivers, segments, model quality)",
    )
    rep.add_argument("--out", default="cx_insight_report.html", help="HTML file to write")
    rep.add_argument("--no-mask", action="store_true", help="show personal data (masked by default)")
    return {"run": cmd_run, "report": cmd_report}
