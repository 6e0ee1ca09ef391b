"""One-command batch run: ingest -> embeddings -> review model -> scores -> profiles -> segments
-> themes -> recommendations -> exports, headless, everything written into the workspace the app reads.

Each stage is a small function ``fn(ctx) -> StageOutcome`` that calls the feature's own
code (nothing is re-implemented here).  A stage's *key* is a fingerprint of its inputs
(``cx_core.ingest.datasets.dataset_version`` plus the run ids it reads and its settings); the keys
and run ids of every batch are stored as one ``runs`` row (stage ``batch``).  A stage
whose key equals the last batch's key, and whose run still exists, is skipped with a
message, so a re-run after no change does no work.  Embeddings are cached by text hash,
so after new rows only the new texts are encoded.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from cx_core.config import Config
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_run, latest_run_id, record_run

Progress = Callable[[float, str], None]
STAGE = "batch"
REPORT_FILE = "cx_insight_report.html"
STAGES = ("ingest", "embed", "review_model", "review_scores", "profiles", "segments", "themes",
          "recommend", "export")


@dataclass(frozen=True)
class InputFile:
    """One file to load: path, table kind and field -> column overrides."""

    path: str
    kind: str
    overrides: dict[str, str | None] = field(default_factory=dict)


@dataclass
class BatchOptions:
    """What the batch does: demo or files, where exports go, what to skip, retrain or not."""

    demo: bool = False
    files: list[InputFile] = field(default_factory=list)
    export_dir: str | None = None
    skip: Sequence[str] = ()
    retrain: bool = False
    force: bool = False


@dataclass
class StageOutcome:
    """What one stage did: ``done`` or ``skipped`` (with the reason), its key and run id."""

    status: str
    key: str = ""
    run_id: str | None = None
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchContext:
    """Shared state of one batch run (workspace, config, options, previous keys, encoder)."""

    ws: Workspace
    cfg: Config
    opts: BatchOptions
    progress: Progress
    previous: dict[str, dict[str, Any]]
    _encoder: Any = None

    @property
    def encoder(self) -> Any:
        """The configured text encoder (weights load only when something must be encoded)."""
        if self._encoder is None:
            from cx_core.text.encoder import TextEncoder

            self._encoder = TextEncoder.from_config(self.cfg.model)
        return self._encoder

    def data_key(self) -> str:
        """Fingerprint of the loaded datasets."""
        from cx_core.ingest.datasets import dataset_version

        return dataset_version(self.ws)

    def unchanged(self, stage: str, key: str) -> bool:
        """Whether the last batch ran ``stage`` on the same key and its run still exists."""
        prev = self.previous.get(stage) or {}
        if self.opts.force or prev.get("key") != key:
            return False
        run_id = prev.get("run_id")
        return run_id is None or bool(self.ws.scalar(
            "SELECT count(*) FROM runs WHERE run_id = ? AND status = 'done'", [run_id]))

    def count(self, table: str) -> int:
        """Rows in a data table (customers, orders, reviews)."""
        from cx_core.store.db import quote_ident

        return int(self.ws.scalar(f"SELECT count(*) FROM {quote_ident(table)}"))


def fingerprint(*parts: Any) -> str:
    """A short stable hash of the parts (JSON-encoded)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]




def previous_batch(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Stage records ({key, run_id}) of the newest finished batch run."""
    run = latest_run(ws, STAGE)
    return run.config.get("stages", {}) if run else {}


# ---------------------------------------------------------------------- stages

def stage_ingest(ctx: BatchContext) -> StageOutcome:
    """Load the demo store (once) or each file not loaded before (same sha256 and kind)."""
    from cx_core.ingest.bootstrap import demo_seeded, load_demo

    loaded: list[str] = []
    if ctx.opts.demo and not demo_seeded(ctx.ws):
        loaded += [r.dataset_id for r in load_demo(ctx.ws, ctx.cfg, ctx.progress) if r.dataset_id]
    for f in ctx.opts.files:
        ds = _load_file(ctx, f)
        if ds:
            loaded.append(ds)
    if not loaded:
        return StageOutcome("skipped", ctx.data_key(), reason="no new input (already loaded)")
    return StageOutcome("done", ctx.data_key(), extra={"datasets": loaded})


def _load_file(ctx: BatchContext, f: InputFile) -> str | None:
    """Load one file with the suggested mapping plus overrides; None when already loaded."""
    from cx_core.ingest.load import load_file, read_columns
    from cx_core.ingest.mapping import suggest_mapping
    from cx_core.ingest.readers import inspect_file

    src = inspect_file(f.path)
    if ctx.ws.scalar("SELECT count(*) FROM datasets WHERE sha256 = ? AND kind = ?",
                     [src.sha256, f.kind]):
        ctx.progress(1.0, f"{Path(f.path).name}: already loaded, skipped")
        return None
    mapping = None
    if f.overrides:
        _, columns = read_columns(ctx.ws, src)
        mapping = {**suggest_mapping(f.kind, columns), **f.overrides}
    rep = load_file(ctx.ws, f.path, f.kind, mapping, progress=ctx.progress)
    return rep.dataset_id


def stage_embed(ctx: BatchContext) -> StageOutcome:
    """Embed review texts not cached yet (cache keyed by text hash and encoder id)."""
    from cx_core.text.embeddings import embed_reviews

    if not ctx.count("reviews"):
        return StageOutcome("skipped", reason="no reviews loaded")
    key = fingerprint(ctx.data_key(), ctx.encoder.identify())
    if ctx.unchanged("embed", key):
        return StageOutcome("skipped", key, reason="no new review texts since the last batch")
    stats = embed_reviews(ctx.ws, ctx.encoder, lambda d, n: ctx.progress(
        d / n if n else 1.0, f"Embedding {d:,}/{n:,} texts"))
    return StageOutcome("done", key, extra={k: stats[k] for k in ("newly_encoded", "cached")})


def stage_review_model(ctx: BatchContext) -> StageOutcome:
    """Keep the newest review model after new rows; train one when none exists, with --retrain,
    when reviews.mode or the encoder changed, or when the reviews grew by more than
    ``batch.retrain_growth`` since it was trained.  The outcome's reason says which."""
    from cx_core.reviews.pipeline import train_review_model
    from cx_core.reviews.store import latest_model

    if not ctx.count("reviews"):
        return StageOutcome("skipped", reason="no reviews loaded")
    key = fingerprint(ctx.data_key(), ctx.cfg.reviews.mode, ctx.encoder.identify())
    found = latest_model(ctx.ws)
    keep, why = _model_decision(ctx, found)
    if keep:
        return StageOutcome("skipped", key, found["model_id"], why)
    res = train_review_model(ctx.ws, ctx.cfg, encoder=ctx.encoder, progress=ctx.progress)
    return StageOutcome("done", key, res.model.model_id_, why,
                        extra={"sentiment_method": res.metrics.get("sentiment_method")})


def _model_decision(ctx: BatchContext, found: dict[str, Any] | None) -> tuple[bool, str]:
    """(keep the model?, why) -- see :func:`stage_review_model`."""
    if found is None:
        return False, "no trained review model yet"
    if ctx.opts.retrain or ctx.opts.force:
        return False, "--retrain" if ctx.opts.retrain else "--force"
    cfg = found["config"]
    if cfg.get("mode", ctx.cfg.reviews.mode) != ctx.cfg.reviews.mode:
        return False, f"reviews.mode changed ({cfg.get('mode')} -> {ctx.cfg.reviews.mode})"
    if cfg.get("encoder_id") and cfg["encoder_id"] != ctx.encoder.identify():
        return False, "the text encoder changed"
    now, added = _reviews_since(ctx.ws, found["model_id"])
    trained = now - added
    growth = added / max(trained, 1)
    limit = ctx.cfg.batch.retrain_growth
    if growth > limit:
        return False, (f"reviews grew by {growth:.0%} since the model was trained "
                       f"({trained:,} -> {now:,}; retrain above {limit:.0%})")
    return True, (f"model kept: reviews grew by {growth:.1%} since it was trained "
                  f"({trained:,} -> {now:,}; retrain above {limit:.0%} or with --retrain)")


def _reviews_since(ws: Workspace, model_id: str) -> tuple[int, int]:
    """(reviews with text now, those of them loaded after the model's training started)."""
    row = ws.query_one(
        "SELECT count(*), count(*) FILTER (WHERE dataset_id IN (SELECT dataset_id FROM datasets "
        "WHERE loaded_at > (SELECT started_at FROM runs WHERE run_id = ?))) "
        "FROM reviews WHERE length(trim(text)) > 0", [model_id])
    return int(row[0]), int(row[1])


def stage_review_scores(ctx: BatchContext) -> StageOutcome:
    """Score the reviews with the newest model into a new review_scores run; when the newest
    run used the same model, its rows are carried and only new reviews are scored."""
    from cx_core.reviews.model import load_review_model
    from cx_core.reviews.score import score_reviews
    from cx_core.reviews.store import latest_model

    found = latest_model(ctx.ws) if ctx.count("reviews") else None
    if found is None:
        return StageOutcome("skipped", reason="no reviews or no trained review model")
    key = fingerprint(ctx.data_key(), found["model_id"])
    if ctx.unchanged("review_scores", key):
        return StageOutcome("skipped", key, ctx.previous["review_scores"].get("run_id"),
                            "reviews and model unchanged")
    model = load_review_model(found["model_dir"], device=ctx.cfg.model.device)
    carry = None if ctx.opts.force else _carry_run(ctx.ws, found["model_id"])
    res = score_reviews(ctx.ws, model, ctx.progress, carry_from=carry)
    return StageOutcome("done", key, res.run_id, extra={
        k: res.metrics[k] for k in ("reviews", "newly_scored", "carried", "carried_from")})


def _carry_run(ws: Workspace, model_id: str) -> str | None:
    """The newest scoring run when it scored every dataset with this model (its rows are reused)."""
    run = latest_run(ws, "review_scores")
    ok = run is not None and run.dataset_key == "all" and run.config.get("model_id") == model_id
    return run.run_id if ok else None


def stage_profiles(ctx: BatchContext) -> StageOutcome:
    """RFM, CLV, churn and text profile of every customer with orders."""
    from cx_core.customers.profiles import ProfileSettings, build_profiles

    if not ctx.ws.scalar("SELECT count(*) FROM orders WHERE customer_id IS NOT NULL"):
        return StageOutcome("skipped", reason="no orders with customer ids loaded")
    settings = ProfileSettings.from_config(ctx.cfg.customers)
    key = fingerprint(ctx.data_key(), latest_run_id(ctx.ws, "review_scores"), asdict(settings))
    if ctx.unchanged("profiles", key):
        return StageOutcome("skipped", key, ctx.previous["profiles"].get("run_id"),
                            "orders, scores and settings unchanged")
    res = build_profiles(ctx.ws, settings, ctx.progress)
    return StageOutcome("done", key, res.run_id, extra={"customers": int(len(res.profiles))})


def stage_segments(ctx: BatchContext) -> StageOutcome:
    """Segment customers (or reviews) from text and behaviour: extend the last run (place the new
    or changed units) while they are at most ``batch.refit_share`` of all units, else refit."""
    from cx_core.segments.extend import extend_segmentation
    from cx_core.segments.run import SegmentSettings, run_segmentation

    if not (ctx.count("reviews") or ctx.count("orders")):
        return StageOutcome("skipped", reason="no reviews or orders loaded")
    settings = SegmentSettings.from_config(ctx.cfg)
    key = fingerprint(ctx.data_key(), latest_run_id(ctx.ws, "profiles"),
                      latest_run_id(ctx.ws, "review_scores"), asdict(settings))
    if ctx.unchanged("segments", key):
        return StageOutcome("skipped", key, ctx.previous["segments"].get("run_id"),
                            "inputs and settings unchanged")
    encoder = ctx.encoder if ctx.count("reviews") else None
    base = None if ctx.opts.force else latest_run_id(ctx.ws, "segments")
    why = "no segment run yet" if base is None and not ctx.opts.force else "--force"
    if base is not None:
        ext = extend_segmentation(ctx.ws, base, settings, ctx.progress, encoder=encoder,
                                  model=ctx.cfg.model, max_share=ctx.cfg.batch.refit_share)
        if ext.run_id:
            return StageOutcome("done", key, ext.run_id, ext.reason,
                                extra={"mode": "extended", "placed": ext.placed})
        why = ext.reason
    run_id = run_segmentation(ctx.ws, settings, ctx.progress, encoder=encoder, model=ctx.cfg.model,
                              customers=ctx.cfg.customers)
    return StageOutcome("done", key, run_id, f"refit: {why}", extra={"mode": "refit"})


def stage_themes(ctx: BatchContext) -> StageOutcome:
    """Discover open themes in the review texts: extend the last theme run (place the new reviews
    into its themes) while they are at most ``batch.refit_share`` of the reviews, else refit."""
    from cx_core.themes.run import ThemeSettings, discover_themes
    from cx_core.themes.extend import extend_themes

    if not ctx.count("reviews"):
        return StageOutcome("skipped", reason="no reviews loaded")
    settings = ThemeSettings.from_config(ctx.cfg)
    key = fingerprint(ctx.data_key(), ctx.encoder.identify(), asdict(settings))
    if ctx.unchanged("themes", key):
        return StageOutcome("skipped", key, ctx.previous["themes"].get("run_id"),
                            "review texts and settings unchanged")
    base = None if ctx.opts.force else latest_run_id(ctx.ws, "themes")
    why = "no theme run yet" if base is None and not ctx.opts.force else "--force"
    if base is not None:
        ext = extend_themes(ctx.ws, base, ctx.encoder, ctx.cfg.batch.refit_share, ctx.progress,
                            settings=settings)
        if ext.run_id:
            return StageOutcome("done", key, ext.run_id, ext.reason,
                                extra={"mode": "extended", "placed": ext.placed})
        why = ext.reason
    run_id = discover_themes(ctx.ws, settings, ctx.progress, encoder=ctx.encoder)
    return StageOutcome("done", key, run_id, f"refit: {why}", extra={"mode": "refit"})


RECOMMEND_METHOD, RECOMMEND_N = "auto", 10


def stage_recommend(ctx: BatchContext) -> StageOutcome:
    """Recommend items for every customer (ALS on orders, review text for reviewers without orders)."""
    from cx_core.recommend.store import build_recommendations

    if not ctx.ws.scalar("SELECT (SELECT count(*) FROM orders WHERE item IS NOT NULL AND customer_id "
                         "IS NOT NULL) + (SELECT count(*) FROM reviews WHERE item IS NOT NULL)"):
        return StageOutcome("skipped", reason="no orders or reviews with items")
    key = fingerprint(ctx.data_key(), RECOMMEND_METHOD, RECOMMEND_N,
                      latest_run_id(ctx.ws, "review_scores"))
    if ctx.unchanged("recommend", key):
        return StageOutcome("skipped", key, ctx.previous["recommend"].get("run_id"),
                            "orders, reviews and scores unchanged")
    encoder = ctx.encoder if ctx.ws.scalar("SELECT count(*) FROM reviews WHERE item IS NOT NULL") else None
    run_id = build_recommendations(ctx.ws, RECOMMEND_METHOD, RECOMMEND_N, ctx.progress, encoder)
    return StageOutcome("done", key, run_id)


def stage_export(ctx: BatchContext) -> StageOutcome:
    """Write the newest segment run as CSV and the HTML insight report (personal data masked)
    into the export folder."""
    from cx_core.insight.export import export_segments, file_name
    from cx_core.insight.report import write_report

    run_id = latest_run_id(ctx.ws, "segments")
    if not ctx.opts.export_dir or run_id is None:
        return StageOutcome("skipped", reason="no --export-dir" if run_id else "no segment run")
    target = Path(ctx.opts.export_dir) / file_name(run_id, "csv")
    key = fingerprint(run_id, latest_run_id(ctx.ws, "profiles"),
                      latest_run_id(ctx.ws, "review_scores"), latest_run_id(ctx.ws, "recommend"),
                      str(target.resolve()))
    report = Path(ctx.opts.export_dir) / REPORT_FILE
    if target.is_file() and report.is_file() and ctx.unchanged("export", key):
        return StageOutcome("skipped", key, reason="segment run already exported",
                            extra={"path": str(target), "report": str(report)})
    ctx.progress(0.5, f"Writing {target.name}")
    path = export_segments(ctx.ws, run_id, "csv", mask_pii=True, path=target)
    ctx.progress(0.8, f"Writing {REPORT_FILE}")
    write_report(ctx.ws, report, mask_pii=True)
    ctx.progress(1.0, f"Wrote {Path(path).name} and {REPORT_FILE}")
    return StageOutcome("done", key, extra={"path": str(path), "report": str(report)})


STAGE_FUNCS: dict[str, Callable[[BatchContext], StageOutcome]] = {
    "ingest": stage_ingest, "embed": stage_embed, "review_model": stage_review_model,
    "review_scores": stage_review_scores, "profiles": stage_profiles, "segments": stage_segments,
    "themes": stage_themes, "recommend": stage_recommend, "export": stage_export}


# ---------------------------------------------------------------------- driver

def run_batch(ws: Workspace, cfg: Config, opts: BatchOptions,
              progress: Progress | None = None, say: Callable[[str], None] | None = None
              ) -> dict[str, Any]:
    """Run every stage in order (skipping unchanged ones); returns the JSON-ready summary."""
    unknown = sorted(set(opts.skip) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) to skip: {', '.join(unknown)}; stages: {', '.join(STAGES)}")
    if not opts.demo and not opts.files and not ws.scalar("SELECT count(*) FROM datasets"):
        raise ValueError("Nothing to run on: pass --demo or a FILE with --kind.")
    say = say or (lambda m: None)
    started = datetime.now()
    ctx = BatchContext(ws, cfg, opts, progress or (lambda f, m: None), previous_batch(ws))
    records, summary = {}, []
    for name in STAGES:
        say(f"== {name}")
        t0 = time.perf_counter()
        out = (StageOutcome("skipped", reason="--skip") if name in opts.skip
               else STAGE_FUNCS[name](ctx))
        secs = round(time.perf_counter() - t0, 2)
        if out.status == "skipped":
            say(f"   skipped: {out.reason}")
        records[name] = ({"key": out.key, "run_id": out.run_id} if out.key
                         else ctx.previous.get(name, {}))
        summary.append({"stage": name, "status": out.status, "seconds": secs, "run_id": out.run_id,
                        **({"reason": out.reason} if out.reason else {}), **out.extra})
    return _record(ws, started, ctx.data_key(), records, summary)


def _record(ws: Workspace, started: datetime, data_key: str, records: dict, summary: list) -> dict:
    """Store the batch's ``runs`` row and return the summary."""
    run_id = f"batch_{started:%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"
    result = {"batch_run_id": run_id, "stages": summary,
              "ran": [s["stage"] for s in summary if s["status"] == "done"],
              "skipped": [s["stage"] for s in summary if s["status"] == "skipped"],
              "seconds": round((datetime.now() - started).total_seconds(), 2),
              "exports": [s["path"] for s in summary if s.get("path")]}
    with ws.write() as cur:
        record_run(cur, run_id, STAGE, data_key, {"stages": records}, started, result)
    return result
