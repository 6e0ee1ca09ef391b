"""Stage order: topological over ``needs``; running a stage with the upstream stages it lacks."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from cx_core.config import Config
from cx_core.pipeline.stage import RunOptions, Stage, StageContext, StageResult, run_stage
from cx_core.progress import Progress, no_progress, scaled
from cx_core.store.db import Workspace
from cx_core.store.runs import latest_id


def topological(stages: Mapping[str, Stage]) -> list[str]:
    """Stage names so that every stage comes after the stages it needs (ties in given order)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"stage cycle through {name!r}")
        visiting.add(name)
        for need in stages[name].needs:
            if need not in stages:
                raise ValueError(f"stage {name!r} needs unknown stage {need!r}")
            visit(need)
        visiting.discard(name)
        order.append(name)

    for name in stages:
        visit(name)
    return order


def upstream(stages: Mapping[str, Stage], name: str) -> list[str]:
    """Every stage ``name`` depends on (transitively), in run order, without ``name`` itself."""
    seen: list[str] = []

    def visit(n: str) -> None:
        for need in stages[n].needs:
            if need not in seen:
                visit(need)
                seen.append(need)

    visit(name)
    return seen


def run_with_needs(
    stages: Mapping[str, Stage],
    name: str,
    ctx: StageContext,
    progress: Progress = no_progress,
    produce: Iterable[str] = ("profiles",),
) -> StageResult:
    """Run stage ``name``; first run the upstream stages in ``produce`` that never ran
    (e.g. segments need customer profiles: they are computed first, with a message)."""
    missing = [
        n
        for n in upstream(stages, name)
        if n in produce and latest_id(ctx.ws, n) is None and not stages[n].missing(ctx)
    ]
    share = 0.2 if missing else 0.0
    for i, need in enumerate(missing):
        lo, hi = share * i / len(missing), share * (i + 1) / len(missing)
        run_stage(stages[need], ctx, scaled(progress, lo, hi, f"First {need}: "), check_unchanged=False)
    return run_stage(stages[name], ctx, scaled(progress, share, 1.0), check_unchanged=False)


def run_named(
    name: str,
    ws: Workspace,
    cfg: Config,
    progress: Progress = no_progress,
    settings: Any = None,
    encoder: Any = None,
    opts: RunOptions | None = None,
) -> StageResult:
    """What a page or a CLI command calls: stage ``name`` of :data:`cx_core.pipeline.stages.STAGES`
    with explicit ``settings`` (else from ``cfg``), an optional injected encoder, and the upstream
    stages it lacks (profiles before segments) run first."""
    from cx_core.pipeline.stages import STAGES

    ctx = StageContext(
        ws, cfg, opts or RunOptions(), settings={name: settings} if settings else {}, encoder_override=encoder
    )
    return run_with_needs(STAGES, name, ctx, progress)
