"""Jobs: the table's life cycle, the runner (done, failed, cancelled), rate and ETA, and resuming an
embedding job after its process was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

from cx_core.pipeline.jobs import JobRunner, Tracker
from cx_core.pipeline.stage import StageResult
from cx_core.store import jobs as job_table
from cx_core.text.embeddings import text_hash
from tests.conftest import ROOT
from tests.segment_helpers import BowEncoder


def _reviews(ws, n: int, dataset: str = "d1") -> None:
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO datasets (dataset_id, kind, source_name, sha256, loaded_at, rows, rejected, "
            "mapping_json, report_json) VALUES (?, 'reviews', 'x.csv', ?, now(), ?, 0, '{}', '{}')",
            [dataset, dataset, n],
        )
        for i in range(n):
            text = f"review number {i} about fit and price {dataset}"
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, text_hash) VALUES (?, ?, ?, ?)",
                [dataset, str(i), text, text_hash(text)],
            )


def test_job_table_life_cycle(ws):
    job_id = job_table.create_job(ws, "embed", {"a": 1}, "ann", estimate_s=12.0, device="cpu")
    job = job_table.get_job(ws, job_id)
    assert job.state == "queued" and job.settings == {"a": 1} and job.started_by == "ann" and job.active
    job_table.start_job(ws, job_id)
    job_table.update_progress(ws, job_id, 0.4, "Embedding texts 40/100", 40, 100, 8.0, 7.5)
    job = job_table.get_job(ws, job_id)
    assert (job.state, job.progress, job.units_done, job.rate, job.eta_s, job.pid) == (
        "running",
        0.4,
        40,
        8.0,
        7.5,
        os.getpid(),
    )
    assert [j.job_id for j in job_table.active_jobs(ws)] == [job_id]
    assert job_table.request_cancel(ws, job_id) and job_table.cancel_requested(ws, job_id)
    job_table.finish_job(ws, job_id, "done", run_id="r1")
    job = job_table.get_job(ws, job_id)
    assert job.state == "done" and job.progress == 1.0 and job.result_run_id == "r1" and not job.active
    assert not job_table.request_cancel(ws, job_id)  # finished: nothing to cancel
    assert job_table.stage_rate(ws, "embed") == 8.0 and job_table.stage_rate(ws, "embed", "cuda") is None
    with pytest.raises(ValueError):
        job_table.finish_job(ws, job_id, "running")


def test_jobs_of_dead_processes_become_interrupted(ws):
    job_id = job_table.create_job(ws, "embed", {}, "ann")
    with ws.write() as cur:  # a job left running by a process that no longer exists
        cur.execute("UPDATE jobs SET state = 'running', pid = 2147483000 WHERE job_id = ?", [job_id])
    mine = job_table.create_job(ws, "embed", {}, "ann")
    job_table.start_job(ws, mine)
    assert job_table.mark_interrupted(ws) == 1
    assert job_table.get_job(ws, job_id).state == "interrupted"
    assert job_table.get_job(ws, mine).state == "running"  # this process is alive


def test_tracker_rate_and_eta_from_counts(ws):
    job_id = job_table.create_job(ws, "embed", {}, "ann")
    now = [0.0]
    tr = Tracker(ws, job_id, interval_s=0.0, clock=lambda: now[0])
    tr(0.0, "Embedding texts 0/1,000")
    now[0] = 10.0
    tr(0.25, "Embedding texts 250/1,000")
    assert tr.rate == pytest.approx(25.0) and tr.eta(10.0) == pytest.approx(30.0)
    job = job_table.get_job(ws, job_id)
    assert job.units_done == 250 and job.units_total == 1000 and job.eta_s == pytest.approx(30.0)
    tr2 = Tracker(ws, job_id, interval_s=0.0, clock=lambda: now[0])
    now[0] = 20.0
    tr2(0.5, "Fitting")  # no counts: time left from the fraction done
    assert tr2.eta(20.0) == pytest.approx(10.0)


@dataclass
class _FakeStage:
    """A stage that reports progress in steps and can fail."""

    name: str = "fake"
    needs: tuple = ()
    steps: int = 5
    pause: float = 0.0
    fail: bool = False

    def settings(self, cfg):
        return {}

    def missing(self, ctx):
        return None

    def fingerprint(self, ctx):
        return "k"

    def run(self, ctx, progress):
        for i in range(self.steps):
            progress(i / self.steps, f"Working {i}/{self.steps}")
            time.sleep(self.pause)
            if self.fail and i == 2:
                raise RuntimeError("boom")
        return StageResult("done", run_id="fake_run")


@pytest.fixture
def fake_stages(monkeypatch):
    from cx_core.pipeline import stages

    def put(stage):
        monkeypatch.setitem(stages.STAGES, stage.name, stage)
        return stage.name

    return put


def test_runner_runs_fails_and_cancels(ws, cfg, fake_stages):
    runner = JobRunner(ws, cfg, interval_s=0.0)
    ok = runner.wait(runner.submit(fake_stages(_FakeStage()), started_by="ann"), timeout_s=30)
    assert ok.state == "done" and ok.result_run_id == "fake_run" and ok.progress == 1.0 and ok.rate
    bad = runner.wait(runner.submit(fake_stages(_FakeStage(name="bad", fail=True))), timeout_s=30)
    assert bad.state == "failed" and "RuntimeError: boom" in bad.error
    slow = runner.submit(fake_stages(_FakeStage(name="slow", steps=400, pause=0.02)))
    deadline = time.monotonic() + 20
    while job_table.get_job(ws, slow).state != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.cancel(slow)
    done = runner.wait(slow, timeout_s=30)
    assert done.state == "cancelled" and done.progress < 1.0


@dataclass
class _InTransaction(_FakeStage):
    """Reports progress while it holds the workspace's write lock (as a long load does)."""

    name: str = "in_tx"

    def run(self, ctx, progress):
        with ctx.ws.write() as cur:
            for i in range(3):
                cur.execute("SELECT 1")
                progress(i / 3, f"Writing {i}/3")
        return StageResult("done", run_id="tx_run")


def test_progress_inside_the_stages_own_transaction_does_not_block(ws, cfg, fake_stages):
    runner = JobRunner(ws, cfg, interval_s=0.0)
    t0 = time.monotonic()
    job = runner.wait(runner.submit(fake_stages(_InTransaction())), timeout_s=30)
    assert job.state == "done" and job.result_run_id == "tx_run", job.error
    assert time.monotonic() - t0 < 10  # skipped progress writes, no 5 s waits per report


def test_a_job_outlives_its_caller_and_runs_the_real_stage(ws, cfg):
    _reviews(ws, 30)
    runner = JobRunner(ws, cfg, encoder=BowEncoder(), interval_s=0.0)
    job = runner.wait(runner.submit("embed"), timeout_s=60)
    assert job.state == "done", job.error
    assert ws.scalar("SELECT count(*) FROM embeddings") == 30
    again = runner.wait(runner.submit("embed"), timeout_s=60)
    assert again.state == "done" and ws.scalar("SELECT count(*) FROM embeddings") == 30


_KILLED_JOB = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from cx_core.config import load_config
    from cx_core.pipeline.jobs import JobRunner
    from cx_core.store.db import Workspace
    from cx_core.text import embeddings
    from tests.segment_helpers import BowEncoder

    class Slow(BowEncoder):
        def encode(self, texts, progress=None):
            with open({marks!r}, "a") as f:  # one line per chunk begun
                f.write("chunk\\n")
            time.sleep(0.3)
            return super().encode(texts, progress)

    embeddings.REVIEW_CHUNK = 20
    ws = Workspace.open(load_config(env={{}}, db__path={db!r}).db)
    runner = JobRunner(ws, load_config(env={{}}, db__path={db!r}), encoder=Slow(), interval_s=0.0)
    job_id = runner.submit("embed")
    runner.wait(job_id, timeout_s=120)
""")


@pytest.mark.slow
def test_killed_embedding_job_resumes_with_only_the_rest(tmp_path):
    from cx_core.config import load_config
    from cx_core.store.db import Workspace

    db = str(tmp_path / "ws.duckdb")
    ws = Workspace.open(load_config(env={}, db__path=db).db)
    _reviews(ws, 200)
    ws.close()
    script = tmp_path / "job.py"
    marks = tmp_path / "chunks.txt"
    script.write_text(_KILLED_JOB.format(root=str(ROOT), db=db, marks=str(marks)))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    try:  # kill -9 once the 4th of 10 chunks has begun: 3 are committed, the rest is not
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if marks.exists() and len(marks.read_text().splitlines()) >= 4:
                break
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    ws = Workspace.open(load_config(env={}, db__path=db).db)
    try:
        kept = ws.scalar("SELECT count(*) FROM embeddings")
        assert 0 < kept < 200
        runner = JobRunner(ws, load_config(env={}, db__path=db), encoder=BowEncoder(), interval_s=0.0)
        assert runner.interrupted_ == 1  # the killed job is marked at the next start
        job = runner.wait(runner.submit("embed"), timeout_s=60)
        assert job.state == "done" and job.units_total == 200 - kept  # only the rest is encoded
        assert ws.scalar("SELECT count(*) FROM embeddings") == 200
    finally:
        ws.close()
