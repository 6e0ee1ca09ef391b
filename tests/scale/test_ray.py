"""The Ray path on a local Ray (2 CPUs, 2 actors): same vectors and labels as the in-process path,
every input row exactly once, and the run imports into the workspace like a local run."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from cx_core.scale.manifest import read_manifest, shard_dir
from tests.scale.conftest import review_rows, save_tiny_review_model, tiny_model_config

pytestmark = pytest.mark.slow

ROWS = 150


@pytest.fixture(scope="module")
def ray_run(ray_local, scale_root):
    """One embed + score run over 3 Parquet files on 2 CPU actors."""
    from cx_core.scale.run import ScaleSettings, run_embed_score

    rows = review_rows(ROWS)
    for k in range(3):
        rows.iloc[k * 50 : (k + 1) * 50].to_parquet(scale_root / f"reviews-{k}.parquet", index=False)
    settings = ScaleSettings(
        inputs=(str(scale_root / "reviews-*.parquet"),),
        out_dir=str(scale_root / "run"),
        model=tiny_model_config(scale_root),
        review_model=save_tiny_review_model(scale_root),
        dataset_id="ds_placeholder",
        workers=2,
        batch_rows=32,
    )
    manifest = run_embed_score(settings)
    return rows, manifest, pq.read_table(shard_dir(scale_root / "run")).to_pandas()


def test_every_input_row_once_and_the_manifest_counts(ray_run, scale_root):
    rows, manifest, shards = ray_run
    assert sorted(shards["review_id"]) == sorted(rows["Review ID"])  # exactly once each
    assert manifest == read_manifest(scale_root / "run")
    counts = manifest["counts"]
    assert counts["rows"] == ROWS and counts["encoded"] == ROWS and counts["scored"] == ROWS - 1
    assert manifest["cluster"]["workers"] == 2 and manifest["cluster"]["device"] == "cpu"
    assert manifest["review_model"]["model_id"] == "rm_scale_test" and manifest["ray_version"]
    assert sum(w["rows"] for w in manifest["workers"]) == ROWS
    assert all(w["peak_rss_mb"] > 0 for w in manifest["workers"])


def test_ray_vectors_and_labels_equal_the_in_process_path(ray_run, scale_root, ws, tmp_path):
    from cx_core.ingest.load import load_file
    from cx_core.reviews.model import load_review_model
    from cx_core.reviews.score import score_reviews
    from cx_core.reviews.testing import tiny_text_encoder
    from cx_core.scale.worker import vector_matrix

    rows, _, shards = ray_run
    shards = shards.set_index("review_id").loc[rows["Review ID"]]
    expected = tiny_text_encoder(scale_root).encode(rows["Review Text"].fillna("").tolist())
    got = vector_matrix(__import__("pyarrow").array(shards["vector"].tolist()))
    assert np.min(np.sum(got * expected, axis=1)) >= 0.999
    path = tmp_path / "reviews.csv"
    rows.to_csv(path, index=False)
    load_file(ws, path, "reviews", {"review_id": "Review ID", "text": "Review Text"})
    local = score_reviews(ws, load_review_model(save_tiny_review_model(scale_root))).scores.set_index(
        "review_id"
    )
    scored = shards[shards["scored"]]
    assert sorted(scored.index) == sorted(local.index)
    assert (scored["sentiment"] == local.loc[scored.index, "sentiment"]).all()
    np.testing.assert_allclose(
        scored["sentiment_score"], local.loc[scored.index, "sentiment_score"], atol=1e-4
    )


def test_ray_run_imports_like_a_local_run(ray_run, scale_root, ws):
    from cx_core.scale.store import import_run
    from cx_core.store import runs

    res = import_run(ws, scale_root / "run")
    assert res.scores == ROWS - 1 and res.vectors_new == ray_run[0]["Review Text"].fillna("").nunique()
    assert runs.latest(ws, runs.StageName.REVIEW_SCORES).run_id == res.scores_run_id


def test_scale_embed_command_uses_the_workspace_cache(ray_run, scale_root, ws, cfg, capsys, monkeypatch):
    """`scale embed --use-cache` after an import: every text is known, nothing is embedded again."""
    import json

    from cx_core.cli.main import build_parser, dispatch
    from cx_core.scale.store import import_run

    import_run(ws, scale_root / "run")
    model = tiny_model_config(scale_root)
    cfg = cfg.__class__(**{**cfg.__dict__, "model": model})
    args = build_parser().parse_args(
        [
            "scale",
            "embed",
            "--input",
            str(scale_root / "reviews-0.parquet"),
            "--out",
            str(scale_root / "again"),
            "--dataset-id",
            "d",
            "--use-cache",
            "--workers",
            "1",
            "--batch-rows",
            "64",
        ]
    )
    assert dispatch(ws, args, cfg) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["counts"]["rows"] == 50 and manifest["counts"]["cached"] == 50
    assert manifest["counts"]["encoded"] == 0
