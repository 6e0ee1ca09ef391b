"""Hand-off: a CLI command given to the process that holds the workspace runs there as a job, with its
output and exit code coming back to the CLI."""

from __future__ import annotations

import io
import json
import os

from cx_core.cli.main import run_in_app
from cx_core.pipeline import handoff
from cx_core.pipeline.jobs import JobRunner
from cx_core.store import jobs as job_table


def _serve(ws, cfg) -> JobRunner:
    runner = JobRunner(ws, cfg, interval_s=0.0)
    runner.serve_inbox(cfg.db.path, lambda argv: run_in_app(ws, cfg, argv))
    return runner


def test_marker_names_a_live_app(tmp_path):
    db = str(tmp_path / "ws.duckdb")
    assert handoff.app_pid(db) is None
    handoff.write_marker(db)
    assert handoff.app_pid(db) == os.getpid()
    assert oct(os.stat(handoff.inbox_dir(db)).st_mode & 0o777) == "0o700"
    handoff.marker_path(db).write_text(json.dumps({"pid": 2147483000}))
    assert handoff.app_pid(db) is None  # a dead app does not count


def test_cli_command_runs_in_the_app_as_a_job(ws, cfg):
    runner = _serve(ws, cfg)
    try:
        req = handoff.submit(cfg.db.path, ["datasets"])
        out, err = io.StringIO(), io.StringIO()
        assert handoff.follow(cfg.db.path, req, out, err, poll_s=0.05, timeout_s=30) == 0
        assert "No datasets loaded." in out.getvalue()
        bad = handoff.submit(cfg.db.path, ["delete", "ds_nope"])
        out2, err2 = io.StringIO(), io.StringIO()
        assert handoff.follow(cfg.db.path, bad, out2, err2, poll_s=0.05, timeout_s=30) == 2
        assert "No dataset ds_nope" in err2.getvalue()
        wrong_db = handoff.submit(cfg.db.path, ["--db", "/tmp/other.duckdb", "datasets"])
        out3, err3 = io.StringIO(), io.StringIO()
        assert handoff.follow(cfg.db.path, wrong_db, out3, err3, poll_s=0.05, timeout_s=30) == 2
        assert "the app serves" in err3.getvalue()
    finally:
        runner.close()
    cli_jobs = [j for j in job_table.recent_jobs(ws) if j.stage == "cli"]
    assert {j.state for j in cli_jobs} == {"done", "failed"} and len(cli_jobs) == 3
    assert any(j.settings == {"argv": ["datasets"]} for j in cli_jobs)


def test_cli_prints_of_other_threads_are_not_captured(ws, cfg, capsys):
    runner = _serve(ws, cfg)
    try:
        req = handoff.submit(cfg.db.path, ["datasets"])
        print("server thread line")
        out, err = io.StringIO(), io.StringIO()
        handoff.follow(cfg.db.path, req, out, err, poll_s=0.05, timeout_s=30)
    finally:
        runner.close()
    assert "server thread line" not in out.getvalue()
    assert "server thread line" in capsys.readouterr().out
