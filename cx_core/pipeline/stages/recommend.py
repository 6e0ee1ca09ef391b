"""The recommend stage: items for every customer (ALS on orders, review text for reviewers)."""

from __future__ import annotations

from typing import Any

from cx_core.config import Config
from cx_core.pipeline.stage import StageContext, StageResult, fingerprint
from cx_core.progress import Progress
from cx_core.store import runs

RECOMMEND_METHOD, RECOMMEND_N = "auto", 10


class RecommendStage:
    """Recommend items for every customer (ALS on orders, review text for reviewers without orders)."""

    name = "recommend"
    needs = ("review_scores",)

    def settings(self, cfg: Config) -> dict[str, Any]:
        """Method (auto: ALS for customers with orders, text for reviewers) and list length."""
        return {"method": RECOMMEND_METHOD, "n": RECOMMEND_N}

    def missing(self, ctx: StageContext) -> str | None:
        """Recommendations need orders or reviews that name items."""
        from cx_core.recommend.store import count_item_rows

        return None if sum(count_item_rows(ctx.ws)) else "no orders or reviews with items"

    def fingerprint(self, ctx: StageContext) -> str:
        """Loaded data, settings and the newest scores."""
        s = ctx.settings_for(self)
        return fingerprint(
            ctx.data_key(), s["method"], s["n"], runs.latest_id(ctx.ws, runs.StageName.REVIEW_SCORES)
        )

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Build and persist the recommendation run."""
        from cx_core.recommend.store import build_recommendations, count_item_rows

        s = ctx.settings_for(self)
        encoder = ctx.encoder if count_item_rows(ctx.ws)[1] else None
        return StageResult(
            "done", run_id=build_recommendations(ctx.ws, s["method"], s["n"], progress, encoder)
        )
