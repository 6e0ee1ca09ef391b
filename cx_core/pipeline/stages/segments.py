"""The segments stage: customers (or reviews) segmented on text and behaviour."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cx_core.config import Config
from cx_core.pipeline.extend import Extension, extend_or_refit
from cx_core.pipeline.stage import StageContext, StageResult, fingerprint
from cx_core.progress import Progress
from cx_core.store import runs


class SegmentsStage:
    """Segment customers (or reviews) from text and behaviour. In the batch the last run is
    extended (new or changed units placed) while they are at most ``batch.refit_share`` of all
    units, else refitted. Needs customer profiles: the caller runs that stage first."""

    name = "segments"
    needs = ("profiles", "review_scores")

    def settings(self, cfg: Config) -> Any:
        """:class:`~cx_core.segments.run.SegmentSettings` from the ``segments`` section."""
        from cx_core.segments.run import SegmentSettings

        return SegmentSettings.from_config(cfg)

    def missing(self, ctx: StageContext) -> str | None:
        """Segments need reviews or orders."""
        return None if (ctx.count("reviews") or ctx.count("orders")) else "no reviews or orders loaded"

    def fingerprint(self, ctx: StageContext) -> str:
        """Loaded data, the profile and score runs it reads, and the settings."""
        return fingerprint(
            ctx.data_key(),
            runs.latest_id(ctx.ws, runs.StageName.PROFILES),
            runs.latest_id(ctx.ws, runs.StageName.REVIEW_SCORES),
            asdict(ctx.settings_for(self)),
        )

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Extend the newest run when the run is incremental (the batch), else refit."""
        if ctx.opts.incremental:
            return extend_or_refit(self, ctx, progress)
        return StageResult("done", run_id=self.refit(ctx, progress))

    def _encoder(self, ctx: StageContext) -> Any:
        return ctx.encoder if ctx.count("reviews") else None

    def extend(self, ctx: StageContext, base: str, progress: Progress) -> Extension:
        """Place changed customers into run ``base`` (declines above ``batch.refit_share``)."""
        from cx_core.segments.extend import extend_segmentation

        return extend_segmentation(
            ctx.ws,
            base,
            ctx.settings_for(self),
            progress,
            encoder=self._encoder(ctx),
            model=ctx.cfg.model,
            max_share=ctx.cfg.batch.refit_share,
        )

    def refit(self, ctx: StageContext, progress: Progress) -> str:
        """Fit a new segment run; returns its id."""
        from cx_core.segments.run import run_segmentation

        return run_segmentation(
            ctx.ws, ctx.settings_for(self), progress, encoder=self._encoder(ctx), model=ctx.cfg.model
        )


class SegmentReasonsStage:
    """The words that pushed each segment's reviews towards negative or positive sentiment
    (integrated gradients over a seeded sample per segment, summed), for the newest segment run."""

    name = "segment_reasons"
    needs = ("segments",)

    def settings(self, cfg: Config) -> Any:
        """:class:`~cx_core.segments.reasons.ReasonSettings` from the ``explain`` section."""
        from cx_core.segments.reasons import ReasonSettings

        return ReasonSettings.from_config(cfg)

    def missing(self, ctx: StageContext) -> str | None:
        """Needs reviews, a segment run and a non-zero sample size."""
        if not ctx.settings_for(self).reviews_per_segment:
            return "turned off (explain.segment_reviews = 0)"
        if not ctx.count("reviews"):
            return "no reviews loaded"
        return None if self._segment_run(ctx) else "no segment run yet"

    def fingerprint(self, ctx: StageContext) -> str:
        """The newest segment run, the newest model and the settings."""
        from cx_core.reviews.store import latest_model

        model = latest_model(ctx.ws)
        return fingerprint(
            self._segment_run(ctx),
            model["model_id"] if model else "zero-shot",
            asdict(ctx.settings_for(self)),
        )

    def _segment_run(self, ctx: StageContext) -> str | None:
        return ctx.settings_for(self).segment_run or runs.latest_id(ctx.ws, runs.StageName.SEGMENTS)

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Explain the chosen (default: newest) segment run's sample and store the word lists."""
        from cx_core.segments.reasons import compute_reasons, reason_model

        segment_run = self._segment_run(ctx)
        progress(0.0, "loading the review model")
        model = reason_model(ctx.ws, ctx.cfg)
        res = compute_reasons(ctx.ws, segment_run, model, ctx.settings_for(self), progress)
        extra = {"reviews": res.reviews, "seconds_per_review": round(res.seconds_per_review, 3)}
        return StageResult("done", run_id=res.run_id, extra=extra, output=res)
