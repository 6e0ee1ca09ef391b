"""The ingest stage: load the demo store (once) or each file not loaded before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cx_core.config import Config
from cx_core.pipeline.stage import InputFile, StageContext, StageResult
from cx_core.progress import Progress


class IngestStage:
    """Load the demo store (once) or each given file not loaded before (same sha256 and kind)."""

    name = "ingest"
    needs: tuple[str, ...] = ()

    def settings(self, cfg: Config) -> dict[str, Any]:
        """Nothing to set beyond the options' files."""
        return {}

    def missing(self, ctx: StageContext) -> str | None:
        """Never missing: with nothing new the run itself says so."""
        return None

    def fingerprint(self, ctx: StageContext) -> str:
        """Empty: ingest always checks its files (a file already loaded is skipped by hash)."""
        return ""

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Load what is new; ``skipped`` when every input was loaded before."""
        from cx_core.ingest.bootstrap import demo_seeded, load_demo

        loaded: list[str] = []
        if ctx.opts.demo and not demo_seeded(ctx.ws):
            loaded += [r.dataset_id for r in load_demo(ctx.ws, ctx.cfg, progress) if r.dataset_id]
        for f in ctx.opts.files:
            ds = load_input(ctx, f, progress)
            if ds:
                loaded.append(ds)
        if not loaded:
            return StageResult("skipped", ctx.data_key(), reason="no new input (already loaded)")
        return StageResult("done", ctx.data_key(), extra={"datasets": loaded})


def load_input(ctx: StageContext, f: InputFile, progress: Progress) -> str | None:
    """Load one file with the suggested mapping plus overrides; None when already loaded."""
    from cx_core.ingest.datasets import find_dataset_by_hash
    from cx_core.ingest.load import load_file, read_columns
    from cx_core.ingest.mapping import suggest_mapping
    from cx_core.ingest.readers import inspect_file

    src = inspect_file(f.path)
    if find_dataset_by_hash(ctx.ws, src.sha256, f.kind):
        progress(1.0, f"{Path(f.path).name}: already loaded, skipped")
        return None
    mapping = None
    if f.overrides:
        _, columns = read_columns(ctx.ws, src)
        mapping = {**suggest_mapping(f.kind, columns), **f.overrides}
    return load_file(ctx.ws, f.path, f.kind, mapping, progress=progress).dataset_id
