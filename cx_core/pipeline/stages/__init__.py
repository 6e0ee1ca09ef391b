"""Every stage object, by name, in batch order (the app, the CLI, the batch and jobs share these)."""

from __future__ import annotations

from cx_core.pipeline.stage import Stage
from cx_core.pipeline.stages.customers import ProfilesStage
from cx_core.pipeline.stages.export import ExportStage
from cx_core.pipeline.stages.ingest import IngestStage
from cx_core.pipeline.stages.recommend import RecommendStage
from cx_core.pipeline.stages.reviews import ReviewModelStage, ReviewScoresStage
from cx_core.pipeline.stages.segments import SegmentReasonsStage, SegmentsStage
from cx_core.pipeline.stages.text import EmbedStage
from cx_core.pipeline.stages.themes import ThemesStage

STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        IngestStage(),
        EmbedStage(),
        ReviewModelStage(),
        ReviewScoresStage(),
        ProfilesStage(),
        SegmentsStage(),
        SegmentReasonsStage(),
        ThemesStage(),
        RecommendStage(),
        ExportStage(),
    )
}
