"""Jobs: long stages run by the server, not by a browser session.

A :class:`JobRunner` lives once per server process (the app caches it); it runs one job at a time on a
worker thread (2-core machines: one heavy job at a time), each job being one stage object run through
:func:`cx_core.pipeline.graph.run_named`. Progress, rate and time left go to the ``jobs`` table
(:mod:`cx_core.store.jobs`) at most every ``interval_s``, so any page in any tab, and any process,
can show them; closing the tab that started a job does not stop it. A cancel request is noticed at the
next progress report and rolls back the stage's open transaction; work already committed (embedding
chunks, finished runs) stays, so a rerun continues where the job stopped.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import weakref
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any, Callable

from cx_core.config import Config
from cx_core.pipeline.graph import run_named
from cx_core.pipeline.stage import RunOptions, StageResult
from cx_core.progress import clamp
from cx_core.store import jobs as job_table
from cx_core.store.db import Workspace, WorkspaceBusy

#: the job name of the whole pipeline (every stage in order, as ``python -m cx_core run``)
BATCH = "batch"
_COUNT = re.compile(r"(\d[\d,]*)\s*/\s*(\d[\d,]*)")


class JobCancelled(Exception):
    """Raised inside a running stage when its job was cancelled."""


def settings_json(settings: Any) -> dict[str, Any]:
    """A settings object (dataclass or dict) as JSON-ready data for the job row."""
    if settings is None:
        return {}
    if is_dataclass(settings):
        return asdict(settings)
    return dict(settings)


@dataclass
class Tracker:
    """Turns a stage's ``progress(fraction, message)`` into stored progress with rate and ETA.

    Counts in messages ("Embedding texts 300/1,000") give the rate in units per second; without
    them the time left is extrapolated from the fraction done.
    """

    ws: Workspace
    job_id: str
    interval_s: float = 0.5
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self.started = self.clock()
        self._last_write = -1e9
        self._phase: tuple[str, float, int] | None = None  # (verb, t0, units at t0)
        self.units_done: int | None = None
        self.units_total: int | None = None
        self.rate: float | None = None
        self.fraction = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        self.fraction = clamp(fraction)
        now = self.clock()
        self._count(message, now)
        if now - self._last_write >= self.interval_s or self.fraction >= 1.0:
            if job_table.cancel_requested(self.ws, self.job_id):
                raise JobCancelled("cancelled")
            try:  # never wait: the stage itself may hold the write lock (progress inside its transaction)
                job_table.update_progress(
                    self.ws,
                    self.job_id,
                    self.fraction,
                    message,
                    self.units_done,
                    self.units_total,
                    self.rate,
                    self.eta(now),
                    timeout_s=0.0,
                )
            except WorkspaceBusy:
                return  # the next report tries again
            self._last_write = now

    def _count(self, message: str, now: float) -> None:
        found = _COUNT.findall(message)
        if not found:
            return
        done, total = (int(x.replace(",", "")) for x in found[-1])
        verb = _COUNT.sub("", message).strip()
        if self._phase is None or self._phase[0] != verb or done < self._phase[2]:
            self._phase = (verb, now, done)
        self.units_done, self.units_total = done, total
        elapsed = now - self._phase[1]
        if elapsed > 0.5 and done > self._phase[2]:
            self.rate = (done - self._phase[2]) / elapsed

    def eta(self, now: float) -> float | None:
        """Seconds left: from the unit rate when known, else from the fraction done."""
        if self.rate and self.units_total is not None and self.units_done is not None:
            return max(self.units_total - self.units_done, 0) / self.rate
        elapsed = now - self.started
        if self.fraction >= 0.02 and elapsed > 1.0:
            return elapsed / self.fraction * (1.0 - self.fraction)
        return None


@dataclass
class _Request:
    job_id: str
    stage: str
    settings: Any
    encoder: Any = None


class JobRunner:
    """One worker thread that runs submitted stages as jobs, in order, in this process."""

    def __init__(self, ws: Workspace, cfg: Config, encoder: Any = None, interval_s: float = 0.5) -> None:
        self.ws = ws
        self.cfg = cfg
        self.encoder = encoder
        self.interval_s = interval_s
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._inbox: threading.Thread | None = None
        self._lock = threading.Lock()
        self._exec = threading.Lock()  # one heavy job at a time: page jobs and CLI commands alike
        self._closed = False
        self.interrupted_ = job_table.mark_interrupted(ws)

    def submit(
        self,
        stage: str,
        settings: Any = None,
        started_by: str = "local",
        estimate_s: float | None = None,
        device: str | None = None,
        encoder: Any = None,
    ) -> str:
        """Queue stage ``stage`` with ``settings`` (and an encoder for this job only); returns the
        job id at once."""
        job_id = job_table.create_job(self.ws, stage, settings_json(settings), started_by, estimate_s, device)
        self._queue.put(_Request(job_id, stage, settings, encoder))
        self._ensure_worker()
        return job_id

    def _run_batch(self, settings: Any, progress: Tracker, encoder: Any) -> StageResult:
        """The whole pipeline as one job (``settings``: a :class:`RunOptions` or its fields)."""
        from cx_core.pipeline.batch import run_batch

        opts = settings if isinstance(settings, RunOptions) else RunOptions(**(settings or {}))
        summary = run_batch(self.ws, self.cfg, opts, progress, encoder=encoder)
        return StageResult(
            "done",
            run_id=summary["batch_run_id"],
            reason=f"ran {', '.join(summary['ran']) or 'nothing (all up to date)'}",
        )

    def cancel(self, job_id: str) -> bool:
        """Ask a queued or running job to stop."""
        return job_table.request_cancel(self.ws, job_id)

    def wait(self, job_id: str, timeout_s: float = 600.0, poll_s: float = 0.1) -> job_table.Job:
        """Block until the job finished (tests, the CLI); returns its final row."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = job_table.get_job(self.ws, job_id)
            if job is not None and not job.active:
                return job
            time.sleep(poll_s)
        raise TimeoutError(f"job {job_id} still running after {timeout_s:.0f} s")

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="cx-jobs", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            try:
                req = self._queue.get(timeout=5.0)
            except queue.Empty:
                return
            if req is None:
                return
            self.run_one(req.job_id, req.stage, req.settings, req.encoder)

    def run_one(self, job_id: str, stage: str, settings: Any, encoder: Any = None) -> None:
        """Run one job to its end (``done``/``failed``/``cancelled``) in the calling thread."""
        with self._exec:
            self._run_one(job_id, stage, settings, encoder)

    def _run_one(self, job_id: str, stage: str, settings: Any, encoder: Any) -> None:
        if job_table.cancel_requested(self.ws, job_id):
            job_table.finish_job(self.ws, job_id, "cancelled", message="Cancelled before it started")
            return
        job_table.start_job(self.ws, job_id)
        tracker = Tracker(self.ws, job_id, self.interval_s)
        encoder = encoder if encoder is not None else self.encoder
        try:
            if stage == BATCH:
                result = self._run_batch(settings, tracker, encoder)
            else:
                result = run_named(stage, self.ws, self.cfg, tracker, settings=settings, encoder=encoder)
        except JobCancelled:
            job_table.finish_job(self.ws, job_id, "cancelled", message="Cancelled; finished work was kept")
            return
        except Exception as exc:  # noqa: BLE001 - a job reports any failure on its row
            job_table.finish_job(
                self.ws, job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000], message="Failed"
            )
            return
        if tracker.units_done and tracker.rate is None:
            elapsed = max(tracker.clock() - tracker.started, 1e-6)
            tracker.rate = tracker.units_done / elapsed
        job_table.update_progress(
            self.ws, job_id, 1.0, "Finished", tracker.units_done, tracker.units_total, tracker.rate, 0.0
        )
        message = (result.reason or "Done") if result.done else f"Nothing to do: {result.reason}"
        job_table.finish_job(self.ws, job_id, "done", run_id=result.run_id, message=message)

    # ------------------------------------------------------------ commands handed over by the CLI

    def serve_inbox(self, db_path: str, command: Callable[[list[str]], int]) -> None:
        """Run CLI commands handed to this process (:mod:`cx_core.pipeline.handoff`) as jobs of
        stage ``cli``, one at a time with the page jobs; ``command(argv) -> exit code`` runs one
        (its prints go to the request's files, its progress bar to the job row)."""
        from cx_core.pipeline import handoff

        with self._lock:
            if self._inbox is not None and self._inbox.is_alive():
                return
            handoff.write_marker(db_path)
            me = weakref.ref(self)  # the thread ends once the runner is dropped (e.g. a cleared cache)

            def stop() -> bool:
                runner = me()
                return runner is None or runner._closed or not handoff.inbox_dir(db_path).is_dir()

            def handle(req: Any) -> int:
                runner = me()
                return 1 if runner is None else runner.run_command(req, command)

            self._inbox = threading.Thread(
                target=handoff.serve_forever, name="cx-inbox", daemon=True, args=(db_path, handle, stop)
            )
            self._inbox.start()

    def run_command(self, req: Any, command: Callable[[list[str]], int]) -> int:
        """One handed-over command as a job: output captured per thread, progress tracked."""
        from cx_core.pipeline.capture import captured

        job_id = job_table.create_job(self.ws, "cli", {"argv": req.argv}, "cli")
        with self._exec:
            job_table.start_job(self.ws, job_id)
            tracker = Tracker(self.ws, job_id, self.interval_s)
            with (
                open(req.out_path, "a", encoding="utf-8") as out,
                open(req.err_path, "a", encoding="utf-8") as err,
            ):
                try:
                    with captured(_Flushing(out), _Flushing(err), tracker):
                        code = command(req.argv)
                except JobCancelled:
                    job_table.finish_job(self.ws, job_id, "cancelled", message="Cancelled")
                    err.write("\ncancelled in the app\n")
                    return 130
                except Exception as exc:  # noqa: BLE001
                    job_table.finish_job(
                        self.ws, job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000]
                    )
                    raise
        state = "done" if code == 0 else "failed"
        job_table.finish_job(
            self.ws,
            job_id,
            state,
            error=None if code == 0 else f"exit code {code}",
            message=f"python -m cx_core {' '.join(req.argv)}"[:200],
        )
        return code

    def close(self) -> None:
        """Stop serving the inbox (the worker thread ends when its queue is idle)."""
        self._closed = True


class _Flushing:
    """A text file that flushes after every write (the CLI follows it as it grows)."""

    def __init__(self, f: Any) -> None:
        self.f = f

    def write(self, text: str) -> int:
        n = self.f.write(text)
        self.f.flush()
        return n

    def flush(self) -> None:
        self.f.flush()


def last_duration(ws: Workspace, stage: str) -> float | None:
    """Seconds the newest finished job of ``stage`` took (a plain estimate for the next run)."""
    for job in job_table.recent_jobs(ws, 50):
        if job.stage == stage and job.state == "done" and job.started_at and job.finished_at:
            return (job.finished_at - job.started_at).total_seconds()
    return None


def describe_eta(seconds: float | None) -> str:
    """ "about 3 min" / "about 40 s" / "" for a number of seconds."""
    if seconds is None:
        return ""
    if seconds >= 90:
        return f"about {seconds / 60:.0f} min"
    return f"about {max(seconds, 1):.0f} s"
