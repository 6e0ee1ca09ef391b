"""Running a stage from a page: as a server-side job (it outlives the tab), followed with a progress
bar while the page is open; the sidebar block shows every job on every page."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import streamlit as st

from cx_core.pipeline.jobs import BATCH, JobRunner, describe_eta, last_duration
from cx_core.progress import Progress, clamp
from cx_core.store import jobs as job_table
from pages._ui import allowed, cached_config, current_actor, get_config, md, shared_workspace

STAGE_LABELS = {
    "embed": "Embedding reviews",
    "review_model": "Training the review model",
    "review_scores": "Scoring reviews",
    "profiles": "Customer profiles",
    "segments": "Segmentation",
    "themes": "Theme discovery",
    "recommend": "Recommendations",
    "ingest": "Loading data",
    "export": "Export",
    "cli": "Command from the terminal",
    BATCH: "Analysing everything",
}


@st.cache_resource(show_spinner=False)
def get_runner() -> JobRunner:
    """The server's one job runner (shared by every session and tab of this process); it also runs
    the CLI commands handed to the app while it holds the workspace."""
    from cx_core.cli.main import run_in_app

    cfg = cached_config()
    ws = shared_workspace()
    runner = JobRunner(ws, cfg)
    runner.serve_inbox(cfg.db.path, lambda argv: run_in_app(ws, cfg, argv))
    return runner


@contextmanager
def progress_block(text: str = "Starting") -> Iterator[Progress]:
    """A progress bar for the duration of the block; removed even when the work fails, so an
    error message never sits under a frozen bar."""
    bar = st.progress(0.0, text=text)
    try:
        yield lambda fraction, message: bar.progress(clamp(fraction), text=message)
    finally:
        bar.empty()


def _label(job: job_table.Job) -> str:
    eta = describe_eta(job.eta_s)
    rate = f" · {job.rate:,.1f}/s" if job.rate and job.units_total else ""
    return f"{STAGE_LABELS.get(job.stage, job.stage)}: {job.message}{rate}" + (
        f" · {eta} left" if eta else ""
    )


def run_stage(name: str, settings: Any = None, encoder: Any = None) -> job_table.Job | None:
    """Start stage ``name`` as a job and follow it here with a progress bar. Closing the tab or
    leaving the page does not stop it (the sidebar shows it everywhere). Returns the finished job,
    or None when it failed or was cancelled (with a message on the page)."""
    if not allowed("analyse"):
        st.error("Your role can browse results but not run analyses.")
        return None
    runner = get_runner()
    job_id = runner.submit(name, settings, started_by=current_actor().name, encoder=encoder)
    job = job_table.get_job(runner.ws, job_id)
    with progress_block(f"{STAGE_LABELS.get(name, name)}: queued") as progress:
        while job is not None and job.active:
            progress(job.progress, _label(job))
            time.sleep(0.25)
            job = job_table.get_job(runner.ws, job_id)
    if job is None or job.state == "failed":
        st.error(md(f"{STAGE_LABELS.get(name, name)} failed: {job.error if job else 'job lost'}"))
        return None
    if job.state != "done":
        st.warning(md(f"{STAGE_LABELS.get(name, name)} was {job.state}: {job.message}"))
        return None
    return job


def missing_inputs(name: str) -> str | None:
    """Why stage ``name`` cannot run on the loaded data (the stage's own check), or None."""
    from cx_core.pipeline.stage import StageContext
    from cx_core.pipeline.stages import STAGES

    return STAGES[name].missing(StageContext(get_runner().ws, cached_config()))


def missing_note(name: str, what: str) -> str | None:
    """Why ``what`` (stage ``name``) cannot run, with what is loaded so far in counts, as one
    Markdown-safe sentence for the page (None when its inputs exist)."""
    from cx_core.ingest.datasets import summarize

    why = missing_inputs(name)
    if why is None:
        return None
    s = summarize(get_runner().ws)
    nouns = {"customers": "customer rows", "orders": "order lines", "reviews": "reviews"}
    have = ", ".join(f"{s[k].rows:,} {n}" for k, n in nouns.items() if s[k].rows) or "nothing yet"
    return md(
        f"{what} cannot run yet: {why[0].lower() + why[1:]}. Loaded so far: {have}. "
        "Load what is missing on the Data page."
    )


def estimate_caption(name: str) -> str:
    """ "Last run took about 3 min" for a stage, from this machine's earlier jobs ("" without one)."""
    took = last_duration(get_runner().ws, name)
    return f"Last run on this machine took {describe_eta(took).removeprefix('about ')}." if took else ""


def jobs_sidebar() -> None:
    """Every active job (any tab, any user) with progress, time left and Cancel. The block refreshes
    itself every few seconds (one small query), so a tab opened before a job started shows it too,
    and it reruns the page when a job it showed finishes. The fragment is called inside the sidebar
    (a fragment may not write to ``st.sidebar`` itself)."""
    with st.sidebar:
        _jobs_fragment()


@st.fragment(run_every=3.0)
def _jobs_fragment() -> None:
    ws = get_runner().ws
    active = job_table.active_jobs(ws)
    seen = st.session_state.setdefault("_cx_jobs_seen", set())
    if seen - {j.job_id for j in active}:
        st.session_state["_cx_jobs_seen"] = {j.job_id for j in active}
        st.rerun(scope="app")  # a job finished: pages show its result
    seen.update(j.job_id for j in active)
    if not active:
        _recent_job_note(ws)
        return
    st.markdown("**Running jobs**")
    for job in active:
        st.markdown(md(_label(job)))
        st.progress(clamp(job.progress))
        st.caption(md(f"Started by {job.started_by}"))
        if allowed("analyse") and st.button("Cancel", key=f"cancel_{job.job_id}"):
            get_runner().cancel(job.job_id)


def _recent_job_note(ws) -> None:
    recent = job_table.recent_jobs(ws, 1)
    if recent and recent[0].state in ("failed", "cancelled", "interrupted"):
        job = recent[0]
        st.caption(md(f"Last job: {STAGE_LABELS.get(job.stage, job.stage)} {job.state}. {job.message}"))


def embedding_estimate() -> str:
    """Before a job that embeds reviews: texts left and the time this machine's measured rate implies."""
    from cx_core.text.embeddings import make_encoder
    from cx_core.text.speed import estimate

    try:
        model_id = make_encoder(cached_config().model).identify()
    except (OSError, ValueError) as exc:
        return f"The text encoder cannot be read: {exc}"
    return estimate(get_runner().ws, model_id).describe()


def first_start() -> None:
    """On a brand-new workspace: the demo store loads (with its progress), then is analysed end to
    end as a job, once, so every page shows results a few minutes later (``ui.first_start_analysis``)."""
    from cx_core.ingest.bootstrap import first_analysis_pending, mark_first_analysis
    from pages._ui import get_workspace

    get_workspace()  # loads the demo store into a brand-new workspace
    cfg = cached_config()
    runner = get_runner()
    if not cfg.ui.first_start_analysis or not allowed("analyse") or not first_analysis_pending(runner.ws):
        return
    mark_first_analysis(runner.ws, runner.submit(BATCH, {"demo": True}, started_by="first start"))


def analysis_running() -> job_table.Job | None:
    """The running (or queued) whole-pipeline job, if any."""
    return next((j for j in job_table.active_jobs(get_runner().ws) if j.stage == BATCH), None)


def running_notice(*stages: str) -> None:
    """On a page whose results a running job is about to replace: say so (the page reruns by itself
    when the job finishes)."""
    get_config()  # the page's access check first: nothing about jobs for a session not let in
    wanted = {*stages, BATCH}
    for job in job_table.active_jobs(get_runner().ws):
        if job.stage in wanted:
            st.info(
                md(
                    f"{STAGE_LABELS.get(job.stage, job.stage)} is running ({job.message}); this page "
                    "shows the new results when it finishes."
                )
            )
            return
