"""The whole pipeline as one job: first-start analysis and the Overview's "Analyse everything"."""

from __future__ import annotations

from cx_core.ingest.bootstrap import first_analysis_pending, load_demo, mark_first_analysis
from cx_core.pipeline.jobs import BATCH, JobRunner
from cx_core.store import jobs as job_table
from cx_core.store import runs


def test_batch_runs_as_one_job_with_overall_progress(tmp_path):
    from cx_core.config import load_config
    from cx_core.store.db import Workspace

    cfg = load_config(
        env={},
        db__path=str(tmp_path / "ws.duckdb"),
        demo__dir=str(tmp_path / "demo"),
        demo__customers=200,
        reviews__model_store=str(tmp_path / "models"),
        reviews__epochs=1,
        reviews__min_steps=0,
        reviews__lexical_dim=8,
    )
    ws = Workspace.open(cfg.db)
    try:
        load_demo(ws, cfg)
        assert first_analysis_pending(ws)
        from cx_core.reviews.testing import tiny_text_encoder

        runner = JobRunner(ws, cfg, encoder=tiny_text_encoder(tmp_path / "enc"), interval_s=0.0)
        job_id = runner.submit(
            BATCH, {"demo": True, "skip": ["themes", "recommend"]}, started_by="first start"
        )
        mark_first_analysis(ws, job_id)
        assert not first_analysis_pending(ws)  # started once per workspace
        job = runner.wait(job_id, timeout_s=600)
        assert job.state == "done", job.error
        assert job.result_run_id == runs.latest_id(ws, "batch") and job.message.startswith("ran ")
        for stage in ("review_model", "review_scores", "profiles", "segments"):
            assert runs.latest_id(ws, stage), stage
        again = runner.wait(runner.submit(BATCH, {"skip": ["themes", "recommend"]}), timeout_s=600)
        assert again.state == "done" and "nothing (all up to date)" in again.message
        assert [j.stage for j in job_table.recent_jobs(ws)] == [BATCH, BATCH]
    finally:
        ws.close()
