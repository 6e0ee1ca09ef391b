"""import-run: everything once, in one transaction; a failing import leaves the workspace as it was."""

from __future__ import annotations

import pytest

from cx_core.scale.store import export_known, import_run
from cx_core.store import runs
from tests.scale.conftest import review_rows, write_run_without_ray


def _state(ws):
    return (
        ws.scalar("SELECT count(*) FROM embeddings"),
        ws.scalar("SELECT count(*) FROM review_scores"),
        ws.scalar("SELECT count(*) FROM runs"),
    )


def test_import_loads_vectors_and_a_scoring_run_once(ws, tmp_path):
    rows = review_rows(30)
    manifest = write_run_without_ray(rows, tmp_path / "run", tmp_path, "ds_x")
    res = import_run(ws, tmp_path / "run")
    unique_texts = rows["Review Text"].fillna("").nunique()
    assert res.vectors_new == unique_texts and res.vectors_cached == 0
    assert res.scores == len(rows) - 1  # the blank text is not scored
    run = runs.latest(ws, runs.StageName.REVIEW_SCORES)
    assert run.run_id == res.scores_run_id and run.dataset_key == "ds_x"
    assert run.config["model_id"] == "rm_scale_test" and run.config["scale_run_id"] == manifest["run_id"]
    assert run.metrics["reviews"] == res.scores and run.metrics["engine"] == "ray"
    assert (
        ws.scalar("SELECT count(DISTINCT review_id) FROM review_scores WHERE run_id = ?", [res.scores_run_id])
        == res.scores
    )
    before = _state(ws)
    with pytest.raises(ValueError, match="already imported"):
        import_run(ws, tmp_path / "run")
    assert _state(ws) == before


def test_a_second_run_over_cached_texts_adds_no_vectors(ws, tmp_path):
    write_run_without_ray(review_rows(20), tmp_path / "a", tmp_path, "ds_x")
    write_run_without_ray(review_rows(20), tmp_path / "b", tmp_path, "ds_x")
    first = import_run(ws, tmp_path / "a")
    second = import_run(ws, tmp_path / "b")
    assert first.vectors_new > 0 and second.vectors_new == 0 and second.vectors_cached == first.vectors_new
    assert len(runs.history(ws, runs.StageName.REVIEW_SCORES)) == 2


def test_failing_import_leaves_the_workspace_unchanged(ws, tmp_path, monkeypatch):
    write_run_without_ray(review_rows(20), tmp_path / "run", tmp_path, "ds_x")
    before = _state(ws)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(runs, "record_run", broken)  # fails after vectors and scores were inserted
    with pytest.raises(RuntimeError, match="disk full"):
        import_run(ws, tmp_path / "run")
    assert _state(ws) == before
    monkeypatch.undo()
    (tmp_path / "run" / "shards" / "part-1.parquet").write_bytes(b"not parquet")
    with pytest.raises(Exception):
        import_run(ws, tmp_path / "run")
    assert _state(ws) == before


def test_unfinished_or_incomplete_runs_are_refused(ws, tmp_path):
    with pytest.raises(ValueError, match="manifest.json is missing"):
        import_run(ws, tmp_path)
    write_run_without_ray(review_rows(10), tmp_path / "run", tmp_path, "ds_x")
    (tmp_path / "run" / "shards" / "part-0.parquet").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        import_run(ws, tmp_path / "run")


def test_export_known_writes_the_cache_of_one_encoder(ws, tmp_path):
    import pyarrow.parquet as pq

    write_run_without_ray(review_rows(10), tmp_path / "run", tmp_path, "ds_x")
    import_run(ws, tmp_path / "run")
    model_id = ws.scalar("SELECT any_value(model_id) FROM embeddings")
    assert export_known(ws, model_id, tmp_path / "k.parquet") == ws.scalar("SELECT count(*) FROM embeddings")
    assert pq.read_schema(tmp_path / "k.parquet").names == ["text_hash", "vec"]
    assert export_known(ws, "other-model", tmp_path / "none.parquet") == 0
    assert pq.read_table(tmp_path / "none.parquet").num_rows == 0


def test_import_run_command(ws, cfg, tmp_path, capsys):
    import json

    from cx_core.cli.main import build_parser, dispatch

    write_run_without_ray(review_rows(10), tmp_path / "run", tmp_path, "ds_x")
    args = build_parser().parse_args(["import-run", str(tmp_path / "run")])
    assert dispatch(ws, args, cfg) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["scores"] == 9 and out["scores_run_id"].startswith("rs_")
    assert dispatch(ws, args, cfg) == 2  # already imported: a plain error, exit 2


def test_only_the_cli_imports_scale():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "architecture"))
    from imports import module_graph, package_of

    users = {
        m
        for m, deps in module_graph().items()
        for d in deps
        if package_of(d) == "scale" and package_of(m) != "scale"
    }
    assert users and {package_of(m) for m in users} == {"cli"}, users
