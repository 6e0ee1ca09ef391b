"""Benchmark: stages run as server-side jobs vs called directly, and what resuming a killed job saves.

1. Overhead: the demo batch's stages (ingest through recommend) on a fresh copy of the same demo
   workspace, once called directly through ``run_batch`` (the baseline: what a script would do) and
   once each stage submitted to a :class:`~cx_core.pipeline.jobs.JobRunner` and waited for (progress
   rows written every 0.5 s, cancel checks, job rows). ``--repeats`` alternating pairs; the ratio is
   of the medians. Target: <= 1.05.
   One untimed direct run first warms torch, numba and the caches.
2. Resume: embedding ``--texts`` review texts with the packaged MiniLM as a job in a child process
   that is killed with SIGKILL once half of its checkpoints are committed, then run again: seconds
   of the rerun vs a full run from scratch (the saving a kill at 50 % keeps).

The overhead part uses the tiny random 2-layer BERT the tests use (same code path as MiniLM, so the
job machinery, not the model, is what is timed); ``--minilm`` uses MiniLM there too.

Usage: python bench/jobs.py [--customers 600] [--repeats 3] [--texts 2000] [--minilm]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cx_core.config import load_config  # noqa: E402
from cx_core.ingest.bootstrap import load_demo  # noqa: E402
from cx_core.pipeline.batch import ORDER, run_batch  # noqa: E402
from cx_core.pipeline.jobs import JobRunner  # noqa: E402
from cx_core.pipeline.stage import RunOptions  # noqa: E402
from cx_core.store.db import Workspace  # noqa: E402

STAGES = [s for s in ORDER if s not in ("ingest", "export", "themes")]


def _config(root: Path, customers: int, model_dir: str):
    return load_config(
        env={},
        db__path=str(root / "ws.duckdb"),
        demo__dir=str(root / "demo"),
        demo__customers=customers,
        reviews__model_store=str(root / "models"),
        model__model_dir=model_dir,
        model__device="cpu",
        model__dtype="float32",
        model__max_length=64,
        reviews__epochs=2,
        reviews__min_steps=0,
    )


def _fresh(template: Path, into: Path) -> None:
    if into.exists():
        shutil.rmtree(into)
    shutil.copytree(template, into)


def _direct(root: Path, customers: int, model_dir: str) -> float:
    cfg = _config(root, customers, model_dir)
    ws = Workspace.open(cfg.db)
    try:
        t0 = time.perf_counter()
        run_batch(ws, cfg, RunOptions(skip=("ingest", "export", "themes")))
        return time.perf_counter() - t0
    finally:
        ws.close()


def _as_jobs(root: Path, customers: int, model_dir: str) -> float:
    cfg = _config(root, customers, model_dir)
    ws = Workspace.open(cfg.db)
    try:
        runner = JobRunner(ws, cfg)
        t0 = time.perf_counter()
        for stage in STAGES:
            job = runner.wait(runner.submit(stage), timeout_s=3600, poll_s=0.05)
            if job.state != "done":
                raise RuntimeError(f"{stage}: {job.state} {job.error}")
        return time.perf_counter() - t0
    finally:
        ws.close()


class _NoOp:
    """A stage that does nothing but report progress: what is left is the job machinery's cost."""

    name, needs = "noop", ()

    def settings(self, cfg):
        return {}

    def missing(self, ctx):
        return None

    def fingerprint(self, ctx):
        return "noop"

    def run(self, ctx, progress):
        from cx_core.pipeline.stage import StageResult

        for i in range(10):
            progress(i / 10, f"Working {i}/10")
        return StageResult("done")


def machinery(root: Path, jobs: int = 30) -> dict:
    """Milliseconds one job costs beyond its stage: job row, queue, thread, progress rows, finish."""
    from cx_core.pipeline import stages

    stages.STAGES["noop"] = _NoOp()
    cfg = load_config(env={}, db__path=str(root / "noop.duckdb"))
    ws = Workspace.open(cfg.db)
    try:
        runner = JobRunner(ws, cfg)
        runner.wait(runner.submit("noop"), poll_s=0.005)  # warm
        t0 = time.perf_counter()
        for _ in range(jobs):
            runner.wait(runner.submit("noop"), poll_s=0.005)
        return {"jobs": jobs, "ms_per_job": round((time.perf_counter() - t0) / jobs * 1000, 1)}
    finally:
        stages.STAGES.pop("noop", None)
        ws.close()


_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from cx_core.config import load_config
    from cx_core.pipeline.jobs import JobRunner
    from cx_core.store.db import Workspace
    from cx_core.text import embeddings
    embeddings.REVIEW_CHUNK = {chunk}
    cfg = load_config(env={{}}, db__path={db!r}, model__model_dir={model!r}, model__device="cpu",
                      model__dtype="float32", model__max_length=64)
    ws = Workspace.open(cfg.db)
    store = embeddings.store_vectors

    def marked(*args, **kwargs):  # one line per committed checkpoint, for the parent to count
        store(*args, **kwargs)
        with open({marks!r}, "a") as f:
            f.write("chunk\\n")

    embeddings.store_vectors = marked
    runner = JobRunner(ws, cfg, interval_s=0.2)
    runner.wait(runner.submit("embed"), timeout_s=3600)
""")


def _reviews_workspace(root: Path, texts: int) -> str:
    from cx_core.text.embeddings import text_hash

    db = str(root / "embed.duckdb")
    ws = Workspace.open(load_config(env={}, db__path=db).db)
    with ws.write() as cur:
        cur.execute(
            "INSERT INTO datasets VALUES ('d', 'reviews', 'x', 'x', now(), ?, 0, '{}', '{}')", [texts]
        )
        for i in range(texts):
            t = f"review {i}: the fit was {'great' if i % 2 else 'poor'} and delivery took {i % 9} days"
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, text_hash) VALUES ('d', ?, ?, ?)",
                [str(i), t, text_hash(t)],
            )
    ws.close()
    return db


def _embed_seconds(db: str, model_dir: str) -> tuple[float, int]:
    cfg = load_config(
        env={},
        db__path=db,
        model__model_dir=model_dir,
        model__device="cpu",
        model__dtype="float32",
        model__max_length=64,
    )
    ws = Workspace.open(cfg.db)
    try:
        runner = JobRunner(ws, cfg)
        t0 = time.perf_counter()
        job = runner.wait(runner.submit("embed"), timeout_s=3600, poll_s=0.05)
        return time.perf_counter() - t0, int(job.units_total or 0)
    finally:
        ws.close()


def resume(root: Path, texts: int, model_dir: str, chunk: int) -> dict:
    """Full embedding time vs the rerun after a kill at ~50 %."""
    (root / "full").mkdir()
    full_s, _ = _embed_seconds(_reviews_workspace(root / "full", texts), model_dir)
    (root / "killed").mkdir()
    db = _reviews_workspace(root / "killed", texts)
    script, marks = root / "child.py", root / "marks.txt"
    script.write_text(_CHILD.format(root=str(ROOT), db=db, model=model_dir, chunk=chunk, marks=str(marks)))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT)
    t0 = time.perf_counter()
    half = (texts // chunk) // 2
    while proc.poll() is None and not (marks.exists() and len(marks.read_text().split()) >= half):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_after = time.perf_counter() - t0
    ws = Workspace.open(load_config(env={}, db__path=db).db, read_only=True)
    kept = int(ws.scalar("SELECT count(*) FROM embeddings"))
    ws.close()
    rerun_s, encoded = _embed_seconds(db, model_dir)
    return {
        "encoder": "MiniLM (packaged)",
        "texts": texts,
        "chunk": chunk,
        "full_s": round(full_s, 2),
        "killed_after_s": round(killed_after, 2),
        "kept_after_kill": kept,
        "rerun_s": round(rerun_s, 2),
        "rerun_encoded": encoded,
        "saving": round(1 - rerun_s / full_s, 3) if full_s else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument(
        "--chunk", type=int, default=256, help="texts committed per checkpoint in the resume test"
    )
    ap.add_argument("--minilm", action="store_true", help="use the packaged MiniLM (slow on CPU)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tmp = Path(tempfile.mkdtemp(prefix="cx_bench_jobs_"))
    try:
        if args.minilm:
            model_dir = ""
        else:
            from cx_core.reviews.testing import tiny_encoder_dir

            model_dir = tiny_encoder_dir(tmp)
        template = tmp / "template"
        template.mkdir()
        cfg = _config(template, args.customers, model_dir)
        ws = Workspace.open(cfg.db)
        load_demo(ws, cfg)
        ws.close()
        _fresh(template, tmp / "warm")
        _direct(tmp / "warm", args.customers, model_dir)  # warm-up, not timed
        direct, jobs = [], []
        for _ in range(args.repeats):
            _fresh(template, tmp / "a")
            direct.append(_direct(tmp / "a", args.customers, model_dir))
            _fresh(template, tmp / "b")
            jobs.append(_as_jobs(tmp / "b", args.customers, model_dir))
        out = {
            "device": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
            f"{os.getloadavg()[0]:.1f}",
            "encoder": "MiniLM" if args.minilm else "tiny random BERT (2 layers)",
            "overhead": {
                "stages": STAGES,
                "customers": args.customers,
                "direct_s": [round(x, 2) for x in direct],
                "jobs_s": [round(x, 2) for x in jobs],
                "ratio_jobs_vs_direct": round(statistics.median(jobs) / statistics.median(direct), 3),
            },
            "machinery": machinery(tmp),
            "resume": resume(tmp, args.texts, "", args.chunk),
        }  # MiniLM
        per_batch = out["machinery"]["ms_per_job"] * len(STAGES) / 1000
        out["overhead"]["machinery_share_of_direct_median"] = round(per_batch / statistics.median(direct), 4)
        print(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
