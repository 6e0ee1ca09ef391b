"""The embed stage: embed review texts not in the cache yet."""

from __future__ import annotations

from typing import Any

from cx_core.config import Config
from cx_core.pipeline.stage import StageContext, StageResult, fingerprint
from cx_core.progress import Progress, counted


class EmbedStage:
    """Embed review texts not cached yet (cache keyed by text hash and encoder id)."""

    name = "embed"
    needs = ("ingest",)

    def settings(self, cfg: Config) -> Any:
        """The encoder section of the config."""
        return cfg.model

    def missing(self, ctx: StageContext) -> str | None:
        """Nothing to embed without reviews."""
        return None if ctx.count("reviews") else "no reviews loaded"

    def fingerprint(self, ctx: StageContext) -> str:
        """Loaded data + the encoder's identity."""
        return fingerprint(ctx.data_key(), ctx.encoder.identify())

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Encode the new texts and write them to the cache."""
        from cx_core.text.embeddings import embed_reviews

        stats = embed_reviews(ctx.ws, ctx.encoder, counted(progress, "Embedding texts"))
        return StageResult("done", extra={k: stats[k] for k in ("newly_encoded", "cached")}, output=stats)
