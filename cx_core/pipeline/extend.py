"""Extend-or-refit, shared by the segments and themes stages.

After new rows, placing the new units into the last run keeps segments/themes
stable and is cheap; when too much changed (more than ``batch.refit_share``) the
stage's ``extend`` declines and the stage refits.
"""

from __future__ import annotations

from typing import Any, Protocol

from cx_core.pipeline.stage import StageContext, StageResult
from cx_core.progress import Progress
from cx_core.store import runs


class Extension(Protocol):
    """What an ``extend`` returns: the new run id (None when it declined), why, units placed."""

    run_id: str | None
    reason: str
    placed: int


class ExtendableStage(Protocol):
    """A stage that can extend its last run instead of refitting."""

    name: str

    def extend(self, ctx: StageContext, base: str, progress: Progress) -> Extension:
        """Place the new or changed units into run ``base``."""

    def refit(self, ctx: StageContext, progress: Progress) -> str:
        """Fit from scratch; returns the new run id."""


def extend_or_refit(
    stage: ExtendableStage, ctx: StageContext, progress: Progress, extra: dict[str, Any] | None = None
) -> StageResult:
    """Extend the stage's newest run when allowed (not ``--force``), else refit."""
    base = None if ctx.opts.force else runs.latest_id(ctx.ws, stage.name)
    why = "--force" if ctx.opts.force else f"no {stage.name.removesuffix('s')} run yet"
    if base is not None:
        ext = stage.extend(ctx, base, progress)
        if ext.run_id:
            return StageResult(
                "done",
                run_id=ext.run_id,
                reason=ext.reason,
                extra={"mode": "extended", "placed": ext.placed, **(extra or {})},
            )
        why = ext.reason
    run_id = stage.refit(ctx, progress)
    return StageResult(
        "done", run_id=run_id, reason=f"refit: {why}", extra={"mode": "refit", **(extra or {})}
    )
