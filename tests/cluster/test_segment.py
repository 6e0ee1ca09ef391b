"""Tests for the segmentation engine (cx_core.cluster); small n, < 60 s on 2 cores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score

from cx_core.cluster import (
    OUTLIER,
    CTfidfRepresentation,
    CustomerFeatureBuilder,
    HdbscanClusterer,
    KMeansClusterer,
    NullReducer,
    PCAReducer,
    SegmentPipeline,
    UmapReducer,
    assign_to_nearest,
    canonical_labels,
    compute_knn,
    default_pipeline,
    fast_pipeline,
    mean_review_embeddings,
    readable_name,
    representative_docs,
)


def blobs(
    sizes: tuple[int, ...] = (320, 240, 180, 140, 100), dim: int = 384, noise: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm gaussian blobs around random directions (sentence-embedding-like)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.repeat(np.arange(len(sizes)), sizes)
    X = centres[y] + noise * rng.normal(size=(y.size, dim)) / np.sqrt(dim)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    perm = rng.permutation(y.size)
    return X[perm].astype(np.float32), y[perm]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return blobs()


@pytest.fixture(scope="module")
def fitted(data) -> SegmentPipeline:
    X, _ = data
    return default_pipeline(X.shape[0], seed=7).fit(X)


# ---------------------------------------------------------------- pipeline


def test_pipeline_recovers_planted_blobs(data, fitted):
    X, y = data
    assert adjusted_rand_score(y, fitted.labels_) >= 0.9
    assert fitted.map_2d_.shape == (X.shape[0], 2)
    assert np.isfinite(fitted.map_2d_).all()
    info = fitted.segment_info_
    assert list(info.columns) == ["segment_id", "size", "share", "name", "top_words"]
    assert info["size"].sum() == X.shape[0]
    assert info["share"].sum() == pytest.approx(1.0)
    assert 0.0 <= fitted.outlier_share_ <= 0.1
    seg = info[info.segment_id >= 0]
    assert list(seg.segment_id) == list(range(len(seg)))
    assert list(seg["size"]) == sorted(seg["size"], reverse=True)  # canonical order
    cfg = fitted.config_()
    json.dumps(cfg)
    assert cfg["seed"] == 7 and cfg["stages"]["reducer"]["params"]["random_state"] == 7
    assert cfg["knn_method"] == "exact"


def test_pipeline_is_reproducible(data, fitted):
    X, _ = data
    again = default_pipeline(X.shape[0], seed=7).fit(X)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    pd.testing.assert_frame_equal(again.segment_info_, fitted.segment_info_)
    np.testing.assert_array_equal(again.map_2d_, fitted.map_2d_)


def test_fast_preset_with_texts_names_segments():
    X, y = blobs(sizes=(200, 150, 100), seed=3)
    words = np.array(["delivery", "refund", "price"])
    rng = np.random.default_rng(0)
    filler = ["order", "product", "customer", "service", "time"]
    texts = [f"{words[c]} {' '.join(rng.choice(filler, 3))}" for c in y]
    texts[0] = None  # a customer without text
    pipe = fast_pipeline(X.shape[0], seed=1).fit(X, texts_by_row=texts)
    assert adjusted_rand_score(y, pipe.labels_) >= 0.9
    named = {tuple(r.top_words[:1]) for r in pipe.segment_info_.itertuples() if r.segment_id >= 0}
    assert named == {("delivery",), ("refund",), ("price",)}
    assert all(len(v) == 3 for v in pipe.representative_docs_.values())


def test_fast_preset_keeps_umaps_15_neighbours_on_small_stores_and_shares_one_graph():
    """10 neighbours only where they pay (above 25k rows); the 2-D map reads the same graph."""
    assert fast_pipeline(800).reducer.n_neighbors == 15
    assert fast_pipeline(25_000).reducer.n_neighbors == 15
    assert fast_pipeline(25_001).reducer.n_neighbors == 10
    X, _ = blobs(sizes=(120, 80), seed=4)
    pipe = fast_pipeline(X.shape[0], seed=1, representation=False).fit(X)
    assert pipe.knn_graph_.n_neighbors == 15
    assert pipe.map_reducer_.precomputed_knn is pipe.knn_graph_


def test_pipeline_with_kmeans_and_null_stages():
    X, y = blobs(sizes=(150, 100, 80), dim=20, seed=2)
    pipe = SegmentPipeline(
        pre_reducer=NullReducer(),
        reducer=NullReducer(),
        clusterer=KMeansClusterer(n_clusters=3),
        map_reducer="reuse",
        representation=False,
    ).fit(X)
    assert adjusted_rand_score(y, pipe.labels_) == pytest.approx(1.0)
    assert pipe.map_2d_.shape == (X.shape[0], 2)
    assert pipe.knn_graph_ is None and pipe.outlier_share_ == 0.0


# ---------------------------------------------------------------- clustering


def test_canonical_labels_order_by_size_then_first_index():
    raw = np.array([7, 7, 3, -1, 3, 9, 9, 9, 5])
    # sizes: 9 -> 3, 7 -> 2 (first at 0), 3 -> 2 (first at 2), 5 -> 1
    np.testing.assert_array_equal(canonical_labels(raw), [1, 1, 2, -1, 2, 0, 0, 0, 3])
    assert (canonical_labels(np.full(4, -1)) == -1).all()


def test_outlier_assignment_keeps_labels_and_leaves_no_outliers():
    rng = np.random.default_rng(1)
    pts = np.vstack([rng.normal(c, 0.3, size=(150, 5)) for c in (0.0, 4.0, 8.0)])
    noise = rng.uniform(-3, 11, size=(40, 5))
    X = np.vstack([pts, noise])
    clu = HdbscanClusterer(min_cluster_size=20).fit(X)
    assert clu.n_segments_ == 3 and (clu.labels_ == OUTLIER).any()
    new = clu.assign_outliers_to_nearest(X)
    assert not (new == OUTLIER).any()
    kept = clu.labels_ != OUTLIER
    np.testing.assert_array_equal(new[kept], clu.labels_[kept])
    knn = assign_to_nearest(X, clu.labels_, method="knn")
    assert not (knn == OUTLIER).any() and (knn[kept] == clu.labels_[kept]).all()
    auto = HdbscanClusterer(min_cluster_size=20, assign_outliers=True).fit(X)
    np.testing.assert_array_equal(auto.labels_, new)
    assert auto.outlier_share_ == 0.0 and auto.noise_share_ == pytest.approx(clu.outlier_share_)


def test_hdbscan_on_a_sample_extends_labels_to_all_rows():
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    y = np.repeat([0, 1, 2], [500, 300, 200])
    X = centres[y] + rng.normal(0, 0.5, size=(y.size, 2))
    full = HdbscanClusterer(min_cluster_size=40).fit(X)
    sampled = HdbscanClusterer(min_cluster_size=40, max_fit_rows=300, random_state=0).fit(X)
    assert sampled.labels_.shape == y.shape and sampled.probabilities_.shape == y.shape
    assert adjusted_rand_score(y, sampled.labels_) >= 0.95
    assert adjusted_rand_score(full.labels_, sampled.labels_) >= 0.95
    again = HdbscanClusterer(min_cluster_size=40, max_fit_rows=300, random_state=0).fit(X)
    np.testing.assert_array_equal(again.labels_, sampled.labels_)


def test_kmeans_clusterer_is_canonical():
    X, y = blobs(sizes=(90, 60, 30), dim=8, noise=0.2, seed=4)
    km = KMeansClusterer(n_clusters=3).fit(X)
    assert adjusted_rand_score(y, km.labels_) == pytest.approx(1.0)
    assert list(np.bincount(km.labels_)) == [90, 60, 30]
    assert ((km.probabilities_ >= 0) & (km.probabilities_ <= 1)).all()


# ---------------------------------------------------------------- representation


def test_ctfidf_picks_planted_words():
    rng = np.random.default_rng(5)
    planted = {0: "delivery", 1: "refund", 2: "battery"}
    filler = ["order", "product", "customer", "service", "time", "item", "store"]
    texts, labels = [], []
    for c, word in planted.items():
        for _ in range(15):
            texts.append(" ".join([word, *rng.choice(filler, 4)]))
            labels.append(c)
    rep = CTfidfRepresentation(top_k=5).fit(texts, labels)
    for c, word in planted.items():
        assert rep.top_words(c)[0] == word
        assert not set(rep.top_words(c)[:1]) & set(filler)
    assert rep.name(0).startswith("delivery")
    scores = rep.ctfidf_.toarray()
    assert scores.shape[0] == 3 and (scores >= 0).all()


def test_readable_name_skips_covered_words():
    name = readable_name(["late delivery", "late", "refund", "slow"])
    assert name == "late delivery, refund & slow"
    assert readable_name(["refund"]) == "refund"
    assert readable_name([]) == ""


def test_representative_docs_are_closest_to_centroid():
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    texts = ["a0", "a1", "a2", "b0", "", "b2"]
    docs = representative_docs(X, labels, texts, k=1)
    assert docs == {0: ["a1"], 1: ["b0"]}  # row 4 (centre of 1) has no text; tie -> lower index


# ---------------------------------------------------------------- features


@pytest.fixture(scope="module")
def customer_inputs() -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(6)
    n = 200
    text = rng.normal(size=(n, 16)).astype(np.float32)
    text[:20] = np.nan  # customers without reviews
    beh = pd.DataFrame(
        {
            "revenue": rng.lognormal(4, 1.2, n),
            "orders": rng.poisson(3, n).astype(float),
            "recency_days": rng.uniform(0, 365, n),
            "rating": rng.uniform(1, 5, n),
        }
    )
    beh.loc[5, "revenue"] = np.nan
    return text, beh


def test_features_both_blocks(customer_inputs):
    text, beh = customer_inputs
    fb = CustomerFeatureBuilder(text_weight=1.0, behaviour_weight=1.0)
    V = fb.fit_transform(text, beh)
    assert V.shape == (200, 16 + 1 + 4) and V.dtype == np.float32 and np.isfinite(V).all()
    assert "revenue" in fb.log_columns_ and "recency_days" not in fb.log_columns_
    t, b = V[:, fb.blocks_["text"]], V[:, fb.blocks_["behaviour"]]
    assert (t[:20] == 0).all() and (V[:20, fb.blocks_["text_missing"]] == 1).all()
    assert (V[20:, fb.blocks_["text_missing"]] == 0).all()
    assert t.var(axis=0).sum() == pytest.approx(1.0, rel=0.05)  # equal-weight blocks
    assert b.var(axis=0).sum() == pytest.approx(1.0, rel=0.5)
    heavy = CustomerFeatureBuilder(text_weight=1.0, behaviour_weight=3.0).fit_transform(text, beh)
    assert heavy[:, fb.blocks_["behaviour"]].var(axis=0).sum() > 5 * b.var(axis=0).sum()


def test_features_text_only_and_behaviour_only(customer_inputs):
    text, beh = customer_inputs
    fb = CustomerFeatureBuilder().fit(text=text)
    V = fb.transform(text=text)
    assert V.shape == (200, 17) and "behaviour" not in fb.blocks_
    fb2 = CustomerFeatureBuilder().fit(behaviour=beh)
    W = fb2.transform(behaviour=beh)
    assert W.shape == (200, 4) and fb2.feature_names_ == list(beh.columns)
    assert np.abs(W).max() <= 5.0 / 2 + 1e-6  # clipped at 5, divided by sqrt(4)
    with pytest.raises(ValueError):
        fb2.transform(text=text)
    with pytest.raises(ValueError):
        CustomerFeatureBuilder().fit()


def test_mean_review_embeddings():
    E = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0]], dtype=np.float32)
    out = mean_review_embeddings(E, ["b", "b", "a"], ["a", "b", "c"])
    np.testing.assert_allclose(out[0], [1.0, 0.0])
    np.testing.assert_allclose(out[1], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    assert np.isnan(out[2]).all()


# ---------------------------------------------------------------- kNN and stages


def test_knn_graph_exact_and_ivf(data):
    X, _ = data
    exact = compute_knn(X, 10, metric="cosine", method="exact")
    ivf = compute_knn(X, 10, metric="cosine", method="ivf")
    assert exact.indices.shape == ivf.indices.shape == (X.shape[0], 10)
    assert (exact.indices[:, 0] == np.arange(X.shape[0])).all()
    assert (ivf.indices[:, 0] == np.arange(X.shape[0])).all()
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.indices, ivf.indices)])
    assert recall > 0.95
    again = compute_knn(X, 10, metric="cosine", method="ivf")
    np.testing.assert_array_equal(again.indices, ivf.indices)
    assert (np.diff(exact.distances, axis=1) >= -1e-6).all()


def test_pca_reducer_skips_narrow_input():
    X = np.random.default_rng(0).normal(size=(50, 8))
    red = PCAReducer(n_components=10).fit(X)
    assert red.skipped_ and red.embedding_.shape == (50, 8)
    wide = PCAReducer(n_components=3).fit(X)
    assert wide.transform(X).shape == (50, 3) and not wide.skipped_


@pytest.mark.parametrize(
    "stage, call",
    [
        (PCAReducer(), lambda s: s.transform(np.zeros((2, 3)))),
        (UmapReducer(), lambda s: s.transform(np.zeros((2, 3)))),
        (NullReducer(), lambda s: s.transform(np.zeros((2, 3)))),
        (HdbscanClusterer(), lambda s: s.assign_outliers_to_nearest(np.zeros((2, 3)))),
        (KMeansClusterer(), lambda s: s.assign_outliers_to_nearest()),
        (CTfidfRepresentation(), lambda s: s.top_words(0)),
        (CustomerFeatureBuilder(), lambda s: s.transform(text=np.zeros((2, 3)))),
        (SegmentPipeline(), lambda s: s.config_()),
    ],
)
def test_stage_used_before_fit_raises(stage, call):
    with pytest.raises(NotFittedError):
        call(stage)


def test_umap_reducer_transform_places_training_rows_near_themselves(data):
    X, _ = data
    Z = PCAReducer(20).fit_transform(X[:300])
    red = UmapReducer(n_components=2, metric="euclidean", n_epochs=100).fit(Z)
    placed = red.transform(Z[:20])
    spread = np.ptp(red.embedding_, axis=0).max()
    assert np.abs(placed - red.embedding_[:20]).max() < 0.2 * spread
