"""The per-batch work without Ray: same vectors and labels as the in-process path, cache honoured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cx_core.scale.inputs import expand_inputs, review_mapping
from cx_core.scale.run import plan_workers
from cx_core.scale.worker import KnownVectors, embed_score_batch, normalise_rows, shard_schema, vector_matrix
from tests.scale.conftest import review_rows, save_tiny_review_model, tiny_model_config

MAPPING = {"dataset_id": None, "review_id": "Review ID", "text": "Review Text"}


def test_mapping_uses_the_suggestion_and_overrides():
    cols = ["Review ID", "Review Text", "Rating"]
    assert review_mapping(cols, dataset_id="d1") == MAPPING
    assert review_mapping([*cols, "dataset_id"])["dataset_id"] == "dataset_id"
    assert review_mapping(["id", "body"], {"review_id": "id"}, "d1")["text"] == "body"
    with pytest.raises(ValueError, match="review_id"):
        review_mapping(["body"], dataset_id="d1")
    with pytest.raises(ValueError, match="dataset id"):
        review_mapping(cols)
    with pytest.raises(ValueError, match="no such column"):
        review_mapping(cols, {"text": "nope"}, "d1")


def test_inputs_expand_globs_and_refuse_mixed_formats(tmp_path):
    for name in ("b.parquet", "a.parquet", "c.csv"):
        (tmp_path / name).write_text("x")
    assert [p.rsplit("/", 1)[1] for p in expand_inputs([str(tmp_path / "*.parquet")])] == [
        "a.parquet",
        "b.parquet",
    ]
    with pytest.raises(ValueError, match="mix formats"):
        expand_inputs([str(tmp_path / "*")])
    with pytest.raises(ValueError, match="No input file"):
        expand_inputs([str(tmp_path / "*.json")])


def test_plan_workers_gpu_actors_or_cpu_actors_leaving_a_cpu_for_io():
    gpu = plan_workers({"CPU": 16, "GPU": 2})
    assert (gpu.workers, gpu.device, gpu.num_gpus) == (2, "cuda", 1.0)
    cpu = plan_workers({"CPU": 2}, workers=2)
    assert (cpu.workers, cpu.device, cpu.num_gpus, cpu.threads) == (2, "cpu", 0.0, 1)
    assert cpu.workers * cpu.num_cpus <= 1.0  # one CPU stays free for read and write tasks


@pytest.fixture
def loaded(ws, tmp_path):
    """The review rows loaded into a workspace (the in-process reference) and the model folder."""
    from cx_core.ingest.load import load_file

    rows = review_rows(40)
    path = tmp_path / "reviews.csv"
    rows.to_csv(path, index=False)
    rep = load_file(ws, path, "reviews", {"review_id": "Review ID", "text": "Review Text"})
    return rows, rep.dataset_id, save_tiny_review_model(tmp_path)


def test_batch_gives_the_in_process_vectors_and_labels(ws, tmp_path, loaded):
    from cx_core.reviews.model import load_review_model
    from cx_core.reviews.score import score_reviews
    from cx_core.reviews.testing import tiny_text_encoder
    from cx_core.scale.worker import scratch_workspace, worker_encoder

    rows, dataset_id, model_dir = loaded
    model = load_review_model(model_dir)
    encoder = worker_encoder(tiny_model_config(tmp_path), model, "cpu")
    out = embed_score_batch(
        normalise_rows(rows, MAPPING, dataset_id), encoder, model, None, scratch_workspace()
    )
    assert out.schema.equals(shard_schema(32, with_scores=True))
    assert out.column("review_id").to_pylist() == rows["Review ID"].tolist()
    expected = tiny_text_encoder(tmp_path).encode(rows["Review Text"].fillna("").tolist())
    got = vector_matrix(out.column("vector"))
    assert np.min(np.sum(got * expected, axis=1)) >= 0.999
    local = score_reviews(ws, load_review_model(model_dir)).scores.set_index("review_id")
    ours = out.to_pandas().set_index("review_id")
    scored = ours[ours["scored"]]
    assert sorted(scored.index) == sorted(local.index)  # the blank text is not scored, like locally
    assert not ours.loc["r0003", "scored"]
    assert (scored["sentiment"] == local.loc[scored.index, "sentiment"]).all()
    np.testing.assert_allclose(
        scored["sentiment_score"], local.loc[scored.index, "sentiment_score"], atol=1e-4
    )
    assert [sorted(a) for a in scored["aspects"]] == [sorted(a) for a in local.loc[scored.index, "aspects"]]
    assert (scored["aspect_sentiment_json"] == local.loc[scored.index, "aspect_sentiment_json"]).all()


def test_known_texts_are_not_embedded_again(tmp_path):
    from cx_core.reviews.testing import tiny_text_encoder
    from cx_core.text.embeddings import text_hash

    rows = normalise_rows(review_rows(12), MAPPING, "d1")
    encoder = tiny_text_encoder(tmp_path)
    calls = []
    real = encoder.encode
    encoder.encode = lambda texts, progress=None: calls.append(list(texts)) or real(texts)
    known = KnownVectors({text_hash(rows["text"][0]), text_hash(rows["text"][1])})
    out = embed_score_batch(rows, encoder, known=known).to_pandas()
    assert out["cached"].tolist()[:2] == [True, True] and not out["cached"][2:].any()
    assert out["vector"][:2].isna().all() and out["vector"][2:].notna().all()
    assert rows["text"][0] not in calls[0] and rows["text"][1] not in calls[0]
    assert len(calls[0]) == len(set(rows["text"][2:]))  # identical texts encoded once


def test_known_vectors_file_round_trip(tmp_path):
    from cx_core.scale.worker import load_known

    pd.DataFrame({"text_hash": ["a", "b"], "vec": [[1.0, 0.0], [0.0, 1.0]]}).to_parquet(
        tmp_path / "k.parquet"
    )
    known = load_known(str(tmp_path / "k.parquet"))
    assert "a" in known and "c" not in known
    np.testing.assert_array_equal(known.vectors["b"], [0.0, 1.0])
    assert pq.read_schema(tmp_path / "k.parquet").names == ["text_hash", "vec"]
