"""The export stage: the newest segment run as CSV plus the HTML insight report (masked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cx_core.config import Config
from cx_core.pipeline.stage import StageContext, StageResult, fingerprint
from cx_core.progress import Progress
from cx_core.store import runs

REPORT_FILE = "cx_insight_report.html"


class ExportStage:
    """Write the newest segment run as CSV and the HTML insight report (personal data masked)
    into the export folder."""

    name = "export"
    needs = ("segments", "recommend")

    def settings(self, cfg: Config) -> dict[str, Any]:
        """Exports from the batch are always masked CSV."""
        return {"format": "csv", "mask_pii": True}

    def missing(self, ctx: StageContext) -> str | None:
        """Needs an export folder and a segment run."""
        if runs.latest_id(ctx.ws, runs.StageName.SEGMENTS) is None:
            return "no segment run"
        return None if ctx.opts.export_dir else "no --export-dir"

    def _targets(self, ctx: StageContext) -> tuple[Path, Path]:
        from cx_core.insight.export import file_name

        run_id = runs.latest_id(ctx.ws, runs.StageName.SEGMENTS)
        folder = Path(ctx.opts.export_dir or ".")
        return folder / file_name(run_id, "csv"), folder / REPORT_FILE

    def fingerprint(self, ctx: StageContext) -> str:
        """The runs it reads and the target path."""
        target, report = self._targets(ctx)
        return fingerprint(
            *(
                runs.latest_id(ctx.ws, s)
                for s in (
                    runs.StageName.SEGMENTS,
                    runs.StageName.PROFILES,
                    runs.StageName.REVIEW_SCORES,
                    runs.StageName.RECOMMEND,
                )
            ),
            str(target.resolve()),
            target.is_file() and report.is_file(),
        )

    def run(self, ctx: StageContext, progress: Progress) -> StageResult:
        """Write both files (the batch skips this stage while they exist and nothing changed)."""
        from cx_core.insight.export import export_segments
        from cx_core.insight.report import write_report

        target, report = self._targets(ctx)
        progress(0.5, f"Writing {target.name}")
        path = export_segments(
            ctx.ws, runs.latest_id(ctx.ws, runs.StageName.SEGMENTS), "csv", mask_pii=True, path=target
        )
        progress(0.8, f"Writing {REPORT_FILE}")
        write_report(ctx.ws, report, mask_pii=True, currency=ctx.cfg.ui.currency)
        progress(1.0, f"Wrote {Path(path).name} and {REPORT_FILE}")
        return StageResult("done", self.fingerprint(ctx), extra={"path": str(path), "report": str(report)})
