"""The profiles stage: RFM, lifetime value, churn and text profile of every customer with orders."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cx_core.config import Config
from cx_core.pipeline.stage import StageContext, StageResult, fingerprint
from cx_core.progress import Progress
from cx_core.store import runs


class ProfilesStage:
    """RFM, CLV, churn and text profile of every customer with orders."""

    name = "profiles"
    needs = ("review_scores",)

    def settings(self, cfg: Config) -> Any:
        """:class:`~cx_core.customers.profiles.ProfileSettings` from the ``customers`` section."""
        from cx_core.customers.profiles import ProfileSettings

        return ProfileSettings.from_config(cfg.customers)

    def missing(self, ctx: StageContext) -> str | None:
        """Profiles need orders with customer ids."""
        from cx_core.customers.profiles import count_customer_orders
        from cx_core.ingest.datasets import distinct_reviewers

        if count_customer_orders(ctx.ws):
            return None
        reviewers = distinct_reviewers(ctx.ws)
        if reviewers:
            return (
                f"you loaded reviews only ({reviewers:,} reviewers): customer profiles need an orders "
                "file with customer ids (load one on the Data page)"
            )
        return "no orders with customer ids loaded: load an orders file on the Data page"

    def fingerprint(self, ctx: StageContext) -> str:
        """Loaded data, the newest scores (text signals) and the settings."""
        return fingerprint(
            ctx.data_key(),
            runs.latest_id(ctx.ws, runs.StageName.REVIEW_SCORES),
            asdict(ctx.settings_for(self)),
        )

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Build and persist the profiles."""
        from cx_core.customers.profiles import build_profiles

        res = build_profiles(ctx.ws, ctx.settings_for(self), progress)
        return StageResult("done", run_id=res.run_id, extra={"customers": int(len(res.profiles))}, output=res)
