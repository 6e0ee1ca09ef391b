"""The themes stage: open themes in the review texts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from cx_core.config import Config
from cx_core.pipeline.extend import Extension, extend_or_refit
from cx_core.pipeline.stage import StageContext, StageResult, fingerprint
from cx_core.progress import Progress


class ThemesStage:
    """Discover open themes in the review texts; in the batch the last theme run is extended (new
    reviews placed into its themes) while they are at most ``batch.refit_share``, else refitted."""

    name = "themes"
    needs = ("embed",)

    def settings(self, cfg: Config) -> Any:
        """:class:`~cx_core.themes.run.ThemeSettings` from the ``themes`` section."""
        from cx_core.themes.run import ThemeSettings

        return ThemeSettings.from_config(cfg)

    def missing(self, ctx: StageContext) -> str | None:
        """Themes need reviews."""
        return None if ctx.count("reviews") else "no reviews loaded"

    def fingerprint(self, ctx: StageContext) -> str:
        """Loaded data, encoder and settings."""
        return fingerprint(ctx.data_key(), ctx.encoder.identify(), asdict(ctx.settings_for(self)))

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Extend the newest run when the run is incremental (the batch), else refit."""
        if ctx.opts.incremental:
            return extend_or_refit(self, ctx, progress)
        return StageResult("done", run_id=self.refit(ctx, progress))

    def extend(self, ctx: StageContext, base: str, progress: Progress) -> Extension:
        """Place new reviews into run ``base``'s themes (declines above ``batch.refit_share``)."""
        from cx_core.themes.extend import extend_themes

        return extend_themes(
            ctx.ws, base, ctx.encoder, ctx.cfg.batch.refit_share, progress, settings=ctx.settings_for(self)
        )

    def refit(self, ctx: StageContext, progress: Progress) -> str:
        """Fit a new theme run; returns its id."""
        from cx_core.themes.run import discover_themes

        return discover_themes(ctx.ws, ctx.settings_for(self), progress, encoder=ctx.encoder)
