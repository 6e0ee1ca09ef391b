"""Scale-out commands for ``python -m cx_core``: ``scale embed`` (embed + score on Ray, Parquet in
and out) and ``import-run`` (load a finished run into the workspace in one transaction)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from cx_core.cli.common import parse_map
from cx_core.cli.common import progress_bar as _progress
from cx_core.store.db import Workspace


def cmd_scale(ws: Workspace, args: Any, cfg: Any) -> int:
    """Run embed (+ score with --review-model) over the input files on Ray; prints the manifest."""
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
    manifest = run_embed_score(settings, _progress)
    print(json.dumps(manifest, indent=2, default=str))
    return 0


def cmd_import_run(ws: Workspace, args: Any, cfg: Any) -> int:
    """Load a scale run's shards into the workspace (one transaction); prints what came in."""
    from cx_core.scale.store import import_run

    res = import_run(ws, args.dir, _progress)
    print(
        json.dumps(
            {
                "scale_run_id": res.scale_run_id,
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
    """Add ``scale embed`` and ``import-run``; returns their handlers."""
    s = subparsers.add_parser("scale", help="run embed + score on a Ray cluster (Parquet in and out)")
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
    i = subparsers.add_parser("import-run", help="load a finished scale run into the workspace")
    i.add_argument("dir", help="the run's --out folder (manifest.json + shards/)")
    return {"scale": cmd_scale, "import-run": cmd_import_run}
