"""The embedding cache in DuckDB: encode only what is missing, once, in input order."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from cx_core.text.embeddings import embed_reviews, embed_texts_cached, load_review_embeddings


class FakeEncoder:
    """Deterministic vectors from the text's hash; records every text it encodes."""

    def __init__(self, model_id: str = "fake:1:f32", dim: int = 8) -> None:
        self.model_id_ = model_id
        self.dim_ = dim
        self.device_ = "cpu"
        self.dtype_ = "float32"
        self.calls: list[list[str]] = []

    def identify(self) -> str:
        return self.model_id_

    def encode(self, texts, progress=None) -> np.ndarray:
        texts = ["" if t is None else t for t in texts]
        self.calls.append(list(texts))
        out = np.stack([self.vector(t) for t in texts]) if texts else np.empty((0, self.dim_))
        if progress:
            progress(len(texts), len(texts))
        return out.astype(np.float32)

    def vector(self, text: str) -> np.ndarray:
        seed = int(hashlib.sha256((self.model_id_ + text).encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).standard_normal(self.dim_)
        return (v / np.linalg.norm(v)).astype(np.float32)

    @property
    def encoded(self) -> list[str]:
        return [t for call in self.calls for t in call]


def test_second_call_encodes_nothing_and_keeps_order(ws):
    enc = FakeEncoder()
    texts = ["good fit", "too small", "", "good fit", None, "runs large"]
    first = embed_texts_cached(ws, enc, texts)
    assert sorted(enc.encoded) == sorted(["good fit", "too small", "", "runs large"])  # dupes once
    assert first.shape == (6, 8) and first.dtype == np.float32
    for row, t in zip(first, texts):
        np.testing.assert_allclose(row, enc.vector(t or ""))
    enc.calls.clear()
    again = embed_texts_cached(ws, enc, list(reversed(texts)) + ["new one"])
    assert enc.encoded == ["new one"]
    np.testing.assert_allclose(again[:6], first[::-1])
    assert ws.scalar("SELECT count(*) FROM embeddings") == 5


def test_other_model_does_not_reuse_vectors(ws):
    a, b = FakeEncoder("model-a:1:f32"), FakeEncoder("model-b:1:f32")
    va = embed_texts_cached(ws, a, ["same text"])
    vb = embed_texts_cached(ws, b, ["same text"])
    assert b.encoded == ["same text"]
    assert not np.allclose(va, vb)
    assert ws.scalar("SELECT count(DISTINCT model_id) FROM embeddings") == 2


def test_hash_matches_duckdb_and_empty_input(ws):
    enc = FakeEncoder()
    text = "Ünïcode ✓ review"
    embed_texts_cached(ws, enc, [text])
    stored = ws.scalar("SELECT text_hash FROM embeddings")
    assert stored == ws.scalar("SELECT sha256(?)", [text])
    assert embed_texts_cached(ws, enc, []).shape == (0, 8)


def test_failed_encode_writes_nothing(ws):
    class Broken(FakeEncoder):
        def encode(self, texts, progress=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        embed_texts_cached(ws, Broken(), ["a", "b"])
    assert ws.scalar("SELECT count(*) FROM embeddings") == 0


def _add_reviews(ws, rows):
    with ws.write() as cur:
        for rid, text in rows:
            cur.execute(
                "INSERT INTO reviews (dataset_id, review_id, text, text_hash) "
                "VALUES ('ds1', ?, ?, sha256(?))",
                [rid, text, text],
            )


def test_embed_reviews_stats_and_load(ws):
    _add_reviews(ws, [("r1", "love it"), ("r2", "hate it"), ("r3", "love it")])
    enc = FakeEncoder()
    seen = []
    stats = embed_reviews(ws, enc, progress=lambda d, n: seen.append((d, n)))
    assert stats["total"] == 3 and stats["unique_texts"] == 2
    assert stats["newly_encoded"] == 2 and stats["cached"] == 0
    assert stats["device"] == "cpu" and stats["model_id"] == enc.model_id_
    assert seen[-1] == (2, 2)
    _add_reviews(ws, [("r4", "meh")])
    enc.calls.clear()
    stats = embed_reviews(ws, enc)
    assert enc.encoded == ["meh"] and stats["cached"] == 2 and stats["newly_encoded"] == 1
    ids, mat = load_review_embeddings(ws, enc.model_id_)
    assert ids == ["r1", "r2", "r3", "r4"] and mat.shape == (4, 8)
    np.testing.assert_allclose(mat[0], mat[2])
    np.testing.assert_allclose(mat[3], enc.vector("meh"))
    ids, mat = load_review_embeddings(ws, "other-model")
    assert ids == [] and len(mat) == 0
