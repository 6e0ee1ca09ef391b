"""One-command batch run: every stage of :mod:`cx_core.pipeline.stages` in topological order,
headless, everything written into the workspace the app reads.

A stage's *key* is a fingerprint of its inputs (the loaded datasets, the run ids it reads and
its settings); the keys and run ids of every batch are stored as one ``runs`` row (stage
``batch``). A stage whose key equals the last batch's key, and whose run still exists, is
skipped with a message, so a re-run after no change does no work. Embeddings are cached by
text hash, so after new rows only the new texts are encoded; segments and themes extend their
last run when few units changed (:mod:`cx_core.pipeline.extend`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from cx_core.config import Config
from cx_core.ingest.datasets import count_rows
from cx_core.pipeline.graph import topological
from cx_core.pipeline.stage import RunOptions, StageContext, StageResult, run_stage
from cx_core.pipeline.stages import STAGES
from cx_core.progress import Progress, no_progress, scaled
from cx_core.store import runs
from cx_core.store.db import Workspace

STAGE = runs.StageName.BATCH
ORDER = tuple(topological(STAGES))


def previous_batch(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Stage records ({key, run_id}) of the newest finished batch run."""
    run = runs.latest(ws, STAGE)
    return run.config.get("stages", {}) if run else {}


def batch_context(ws: Workspace, cfg: Config, opts: RunOptions, encoder: Any = None) -> StageContext:
    """The context a batch runs its stages in (incremental: models kept, scores carried, runs extended)."""
    return StageContext(
        ws, cfg, replace(opts, incremental=True), previous_batch(ws), encoder_override=encoder
    )


def run_batch(
    ws: Workspace,
    cfg: Config,
    opts: RunOptions,
    progress: Progress | None = None,
    say: Callable[[str], None] | None = None,
    encoder: Any = None,
) -> dict[str, Any]:
    """Run every stage in order (skipping unchanged ones); returns the JSON-ready summary."""
    unknown = sorted(set(opts.skip) - set(ORDER))
    if unknown:
        raise ValueError(f"unknown stage(s) to skip: {', '.join(unknown)}; stages: {', '.join(ORDER)}")
    if not opts.demo and not opts.files and not count_rows(ws, "datasets"):
        raise ValueError("Nothing to run on: pass --demo or a FILE with --kind.")
    say = say or (lambda m: None)
    started = datetime.now()
    ctx = batch_context(ws, cfg, opts, encoder)
    records, summary = {}, []
    for i, name in enumerate(ORDER):
        say(f"== {name}")
        t0 = time.perf_counter()
        step = scaled(progress or no_progress, i / len(ORDER), (i + 1) / len(ORDER), f"{name}: ")
        out = (
            StageResult("skipped", reason="--skip")
            if name in opts.skip
            else run_stage(STAGES[name], ctx, step)
        )
        secs = round(time.perf_counter() - t0, 2)
        if out.status == "skipped":
            say(f"   skipped: {out.reason}")
        records[name] = {"key": out.key, "run_id": out.run_id} if out.key else ctx.previous.get(name, {})
        summary.append(
            {
                "stage": name,
                "status": out.status,
                "seconds": secs,
                "run_id": out.run_id,
                **({"reason": out.reason} if out.reason else {}),
                **out.extra,
            }
        )
    return _record(ws, started, ctx.data_key(), records, summary)


def _record(ws: Workspace, started: datetime, data_key: str, records: dict, summary: list) -> dict:
    """Store the batch's ``runs`` row and return the summary."""
    run_id = f"batch_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"
    result = {
        "batch_run_id": run_id,
        "stages": summary,
        "ran": [s["stage"] for s in summary if s["status"] == "done"],
        "skipped": [s["stage"] for s in summary if s["status"] == "skipped"],
        "seconds": round((datetime.now() - started).total_seconds(), 2),
        "exports": [s["path"] for s in summary if s.get("path")],
    }
    with ws.write() as cur:
        runs.record_run(cur, run_id, STAGE, data_key, {"stages": records}, started, result)
    return result
