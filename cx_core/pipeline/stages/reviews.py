"""The review-model and review-scores stages."""

from __future__ import annotations

from typing import Any

from cx_core.config import Config
from cx_core.pipeline.stage import StageContext, StageResult, fingerprint
from cx_core.progress import Progress
from cx_core.store import runs


class ReviewModelStage:
    """Keep the newest review model after new rows; train one when none exists, with --retrain,
    when reviews.mode or the encoder changed, or when the reviews grew by more than
    ``batch.retrain_growth`` since it was trained. The result's reason says which."""

    name = "review_model"
    needs = ("embed",)

    def settings(self, cfg: Config) -> dict[str, Any]:
        """Training mode (``reviews.mode``) and the dataset to train on (None: all)."""
        return {"mode": cfg.reviews.mode, "dataset_id": None}

    def missing(self, ctx: StageContext) -> str | None:
        """No model without reviews."""
        return None if ctx.count("reviews") else "no reviews loaded"

    def fingerprint(self, ctx: StageContext) -> str:
        """Loaded data, training mode and encoder."""
        s = ctx.settings_for(self)
        return fingerprint(ctx.data_key(), s["mode"], s["dataset_id"], ctx.encoder.identify())

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Train; an incremental run (the batch) keeps the newest model when little changed
        (``skipped`` with the reason). ``extra["result"]`` is the training result."""
        from cx_core.reviews.pipeline import train_review_model
        from cx_core.reviews.store import latest_model

        why = "trained on request"
        if ctx.opts.incremental:
            found = latest_model(ctx.ws)
            keep, why = model_decision(ctx, found)
            if keep:
                return StageResult("skipped", run_id=found["model_id"], reason=why)
        s = ctx.settings_for(self)
        res = train_review_model(
            ctx.ws,
            ctx.cfg,
            mode=s["mode"],
            dataset_id=s["dataset_id"],
            encoder=ctx.encoder,
            progress=progress,
        )
        return StageResult(
            "done",
            run_id=res.model.model_id_,
            reason=why,
            extra={"sentiment_method": res.metrics.get("sentiment_method")},
            output=res,
        )


def model_decision(ctx: StageContext, found: dict[str, Any] | None) -> tuple[bool, str]:
    """(keep the model?, why) -- see :class:`ReviewModelStage`."""
    if found is None:
        return False, "no trained review model yet"
    if ctx.opts.retrain or ctx.opts.force:
        return False, "--retrain" if ctx.opts.retrain else "--force"
    cfg = found["config"]
    if cfg.get("mode", ctx.cfg.reviews.mode) != ctx.cfg.reviews.mode:
        return False, f"reviews.mode changed ({cfg.get('mode')} -> {ctx.cfg.reviews.mode})"
    if cfg.get("encoder_id") and cfg["encoder_id"] != ctx.encoder.identify():
        return False, "the text encoder changed"
    now, added = reviews_since(ctx, found["model_id"])
    trained = now - added
    growth = added / max(trained, 1)
    limit = ctx.cfg.batch.retrain_growth
    if growth > limit:
        return False, (
            f"reviews grew by {growth:.0%} since the model was trained "
            f"({trained:,} -> {now:,}; retrain above {limit:.0%})"
        )
    return True, (
        f"model kept: reviews grew by {growth:.1%} since it was trained "
        f"({trained:,} -> {now:,}; retrain above {limit:.0%} or with --retrain)"
    )


def reviews_since(ctx: StageContext, model_id: str) -> tuple[int, int]:
    """(reviews with text now, those of them in datasets loaded after the model's training began)."""
    from cx_core.reviews.browse import count_texts

    new = runs.datasets_since(ctx.ws, model_id)
    return count_texts(ctx.ws), (count_texts(ctx.ws, new) if new else 0)


class ReviewScoresStage:
    """Score the reviews with the newest model into a new review_scores run; when the newest
    run used the same model, its rows are carried and only new reviews are scored."""

    name = "review_scores"
    needs = ("review_model",)

    def settings(self, cfg: Config) -> dict[str, Any]:
        """The model folder (None: the newest trained model) and the dataset (None: all)."""
        return {"model_dir": None, "dataset_id": None}

    def missing(self, ctx: StageContext) -> str | None:
        """Scoring needs reviews and a trained model."""
        from cx_core.reviews.store import latest_model

        ok = ctx.count("reviews") and (
            ctx.settings_for(self)["model_dir"] or latest_model(ctx.ws) is not None
        )
        return None if ok else "no reviews or no trained review model"

    def fingerprint(self, ctx: StageContext) -> str:
        """Loaded data + the newest model."""
        from cx_core.reviews.store import latest_model

        s = ctx.settings_for(self)
        return fingerprint(
            ctx.data_key(), s["model_dir"] or latest_model(ctx.ws)["model_id"], s["dataset_id"]
        )

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Score every review (carrying unchanged rows of the last run of the same model)."""
        from cx_core.reviews.model import load_review_model
        from cx_core.reviews.score import score_reviews
        from cx_core.reviews.store import latest_model

        s = ctx.settings_for(self)
        model_dir = s["model_dir"] or latest_model(ctx.ws)["model_dir"]
        model = load_review_model(model_dir, device=ctx.cfg.model.device)
        incremental = ctx.opts.incremental and not ctx.opts.force and s["dataset_id"] is None
        carry = carry_run(ctx, model.model_id_) if incremental else None
        res = score_reviews(ctx.ws, model, progress, dataset_id=s["dataset_id"], carry_from=carry)
        return StageResult(
            "done",
            run_id=res.run_id,
            extra={k: res.metrics.get(k) for k in ("reviews", "newly_scored", "carried", "carried_from")},
            output=res,
        )


def carry_run(ctx: StageContext, model_id: str) -> str | None:
    """The newest scoring run when it scored every dataset with this model (its rows are reused)."""
    run = runs.latest(ctx.ws, runs.StageName.REVIEW_SCORES)
    ok = run is not None and run.dataset_key == "all" and run.config.get("model_id") == model_id
    return run.run_id if ok else None
