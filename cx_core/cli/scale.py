"""Scale-out commands for ``python -m cx_core``: ``scale embed`` (embed + score on Ray, Parquet in
and out), ``scale profile`` (customer profiles over customer partitions), ``scale segment`` (fit on a
seeded sample, place the rest) and ``import-run`` (load a finished run into the workspace in one
transaction)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from cx_core.cli.common import parse_map
from cx_core.cli.common import progress_bar as _progress
from cx_core.store.db import Workspace


def cmd_scale(ws: Workspace, args: Any, cfg: Any) -> int:
    """Run one ``scale`` sub-command; prints the run's manifest."""
    run = {"embed": scale_embed, "profile": scale_profile, "segment": scale_segment}[args.scale_command]
    manifest = run(ws, args, cfg)
    print(json.dumps(manifest, indent=2, default=str))
    return 0


def scale_profile(ws: Workspace, args: Any, cfg: Any) -> dict[str, Any]:
    """Customer profiles of the order lines on Ray (the ``customers`` config section's churn options)."""
    from cx_core.customers.profiles import ProfileSettings
    from cx_core.scale.profiles_run import ProfileScaleSettings, run_profiles

    profile = ProfileSettings.from_config(
        cfg.customers,
        horizon_weeks=args.horizon_weeks,
        annual_discount_rate=args.discount_rate,
        cutoff=args.cutoff,
    )
    settings = ProfileScaleSettings(
        inputs=tuple(args.input),
        out_dir=args.out,
        profile=profile,
        mapping=parse_map(args.map),
        address=args.address,
        num_cpus=args.num_cpus,
        workers=args.workers,
        partitions=args.partitions,
    )
    return run_profiles(settings, _progress)


def scale_segment(ws: Workspace, args: Any, cfg: Any) -> dict[str, Any]:
    """Segments of the units on Ray: fit on a seeded sample, place the rest."""
    from cx_core.scale.segments_run import SegmentScaleSettings, run_segments
    from cx_core.segments.run import SegmentSettings

    seg = SegmentSettings.from_config(cfg).replace(unit="customer")
    if args.preset:
        seg = seg.replace(preset=args.preset)
    if args.seed is not None:
        seg = seg.replace(seed=args.seed)
    settings = SegmentScaleSettings(
        inputs=tuple(args.input),
        out_dir=args.out,
        segments=seg,
        id_column=args.id_column,
        features=tuple(f for f in (args.features or "").split(",") if f),
        sample=args.sample,
        address=args.address,
        num_cpus=args.num_cpus,
    )
    return run_segments(settings, _progress)


def scale_embed(ws: Workspace, args: Any, cfg: Any) -> dict[str, Any]:
    """Run embed (+ score with --review-model) over the input files on Ray."""
    from cx_core.scale.run import ScaleSettings, run_embed_score
    from cx_core.scale.store import export_known

    model = replace(cfg.model, model_dir=args.model_dir) if args.model_dir else cfg.model
    known = args.known
    if args.use_cache and not known:
        from cx_core.text.embeddings import make_encoder

        known = str(Path(args.out) / "known.parquet")
        rows = export_known(ws, make_encoder(model).identify(), known)
        _progress(0.01, f"{rows:,} cached vectors exported for the workers")
    settings = ScaleSettings(
        inputs=tuple(args.input),
        out_dir=args.out,
        model=model,
        review_model=args.review_model,
        mapping=parse_map(args.map),
        dataset_id=args.dataset_id,
        known=known,
        address=args.address,
        num_cpus=args.num_cpus,
        workers=args.workers,
        batch_rows=args.batch_rows,
    )
    return run_embed_score(settings, _progress)


def cmd_import_run(ws: Workspace, args: Any, cfg: Any) -> int:
    """Load a scale run's shards into the workspace (one transaction); prints what came in."""
    from cx_core.scale.store import import_run

    res = import_run(ws, args.dir, _progress)
    print(
        json.dumps(
            {
                "scale_run_id": res.scale_run_id,
                "kind": res.kind,
                "run_id": res.run_id,
                "rows": res.rows,
                "vectors_new": res.vectors_new,
                "vectors_cached": res.vectors_cached,
                "scores_run_id": res.scores_run_id,
                "scores": res.scores,
                "metrics": res.metrics,
            },
            indent=2,
            default=str,
        )
    )
    return 0


def register(subparsers: Any) -> dict[str, Callable[..., int]]:
    """Add ``scale embed|profile|segment`` and ``import-run``; returns their handlers."""
    s = subparsers.add_parser("scale", help="run the heavy stages on a Ray cluster (Parquet in and out)")
    what = s.add_subparsers(dest="scale_command", required=True)
    e = what.add_parser("embed", help="embed (and with --review-model score) review rows on Ray")
    e.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="GLOB",
        help="Parquet or CSV files of review rows (repeatable; globs)",
    )
    e.add_argument("--out", required=True, metavar="DIR", help="new folder for shards/ and manifest.json")
    e.add_argument("--address", help="Ray cluster: auto or ray://host:10001 (default: a local Ray here)")
    e.add_argument("--model-dir", help="encoder model directory (default: model.model_dir)")
    e.add_argument("--review-model", metavar="DIR", help="a saved review model folder: score as well")
    e.add_argument("--dataset-id", help="workspace dataset id of the rows (else a dataset_id column)")
    e.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="column of review_id, text or dataset_id (default: the mapping suggestion)",
    )
    e.add_argument("--known", metavar="PARQUET", help="text hashes (+ vec) already embedded: skipped")
    e.add_argument(
        "--use-cache",
        action="store_true",
        help="export this workspace's embedding cache to OUT/known.parquet and skip those texts",
    )
    e.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    e.add_argument("--workers", type=int, help="actors (default: one per GPU, else one per CPU)")
    e.add_argument("--batch-rows", type=int, default=1024, help="rows per actor call (default 1024)")
    add_profile_parser(what)
    add_segment_parser(what)
    i = subparsers.add_parser("import-run", help="load a finished scale run into the workspace")
    i.add_argument("dir", help="the run's --out folder (manifest.json + shards/)")
    return {"scale": cmd_scale, "import-run": cmd_import_run}


def _cluster_args(p: Any, what: str) -> None:
    """--input, --out, --address and --num-cpus of a scale sub-command."""
    p.add_argument(
        "--input", action="append", required=True, metavar="GLOB", help=f"{what} (repeatable; globs)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="new folder for shards/ and manifest.json")
    p.add_argument("--address", help="Ray cluster: auto or ray://host:10001 (default: a local Ray here)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")


def add_profile_parser(what: Any) -> None:
    """``scale profile``: customer profiles over customer partitions."""
    p = what.add_parser("profile", help="customer profiles (RFM, BG/NBD, Gamma-Gamma, churn) on Ray")
    _cluster_args(p, "Parquet or CSV files of order lines")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="column of customer_id, order_id, ts, amount or is_return (default: same name, or the suggestion)",
    )
    p.add_argument("--horizon-weeks", type=int, default=52)
    p.add_argument("--discount-rate", type=float, default=0.10, help="yearly")
    p.add_argument("--cutoff", help="last day to use (default: last order day)")
    p.add_argument("--workers", type=int, help="scoring actors (default: one per CPU)")
    p.add_argument("--partitions", type=int, help="customer partitions (default: 4 per CPU)")


def add_segment_parser(what: Any) -> None:
    """``scale segment``: fit on a seeded sample, place every other unit."""
    p = what.add_parser("segment", help="customer segments on Ray: fit on a sample, place the rest")
    _cluster_args(p, "Parquet or CSV files of units (e.g. a scale profile run's shards)")
    p.add_argument("--id-column", default="customer_id", help="the unit id column (default customer_id)")
    p.add_argument("--features", help="comma-separated behaviour columns (default: the profile ones present)")
    p.add_argument("--sample", type=int, default=200_000, help="most units fitted (default 200000)")
    p.add_argument(
        "--preset", choices=("fast", "default"), help="segment pipeline (default: segments.preset)"
    )
    p.add_argument("--seed", type=int, help="sample and pipeline seed (default: segments.seed)")
