"""Clustering stages: HDBSCAN (density, with outliers) and k-means (no outliers).

Label ids are canonical: segments are renumbered 0, 1, 2, ... by descending
size, ties broken by the smallest row index in the segment, so the same data
and settings always give the same ids; ``-1`` means outlier.

Outlier assignment (``assign_outliers_to_nearest``) uses the nearest segment
*centroid* in the space the clusterer was fit on (the reduced UMAP space).
Chosen over hdbscan's ``approximate_predict``/membership vectors because those
need ``prediction_data=True`` (extra time and memory at 100k rows, and
``approximate_predict`` of training noise mostly returns noise again), while a
centroid rule is deterministic, O(outliers x segments), and in a UMAP space with
``min_dist=0`` the segments are compact, so the centroid is a fair summary.
``method="knn"`` (majority label of the nearest non-outlier rows) is offered
for elongated segments.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from cx_core.cluster.reduce import check_X

log = logging.getLogger(__name__)

OUTLIER = -1


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber segments by descending size, then by smallest member index.

    ``-1`` (outlier) is kept; the result does not depend on the ids the
    algorithm happened to pick, only on the partition.
    """
    labels = np.asarray(labels).astype(np.int64, copy=False)
    out = np.full(labels.shape, OUTLIER, dtype=np.int64)
    inside = np.flatnonzero(labels != OUTLIER)
    if inside.size == 0:
        return out
    ids, first, inverse, sizes = np.unique(
        labels[inside], return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((inside[first], -sizes))
    rank = np.empty(ids.size, dtype=np.int64)
    rank[order] = np.arange(ids.size)
    out[inside] = rank[inverse.ravel()]
    return out


def centroids(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(segment_ids, centroid rows)`` for every non-outlier label."""
    X = np.asarray(X, dtype=np.float64)
    inside = labels != OUTLIER
    ids, inverse = np.unique(labels[inside], return_inverse=True)
    sums = np.zeros((ids.size, X.shape[1]))
    np.add.at(sums, inverse.ravel(), X[inside])
    counts = np.bincount(inverse.ravel(), minlength=ids.size)
    return ids, sums / np.maximum(counts, 1)[:, None]


def assign_to_nearest(X: np.ndarray, labels: np.ndarray, method: str = "centroid", k: int = 15) -> np.ndarray:
    """Give each outlier row the label of its nearest segment; others unchanged.

    ``method="centroid"``: nearest segment centroid (euclidean); ``"knn"``:
    majority label among the ``k`` nearest non-outlier rows (ties: smaller id).
    Returns a new array; if there are no segments the labels are returned as is.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).copy()
    out = np.flatnonzero(labels == OUTLIER)
    if out.size == 0:
        return labels
    ids, cents = centroids(X, labels)
    if ids.size == 0:
        log.warning("no segments found; outliers left unassigned")
        return labels
    if method == "centroid":
        d = (cents**2).sum(axis=1)[None, :] - 2.0 * X[out] @ cents.T
        labels[out] = ids[np.argmin(d, axis=1)]
    elif method == "knn":
        from sklearn.neighbors import NearestNeighbors

        inl = np.flatnonzero(labels != OUTLIER)
        nn = NearestNeighbors(n_neighbors=min(k, inl.size)).fit(X[inl])
        nbr = labels[inl][nn.kneighbors(X[out], return_distance=False)]
        counts = np.stack([(nbr == i).sum(axis=1) for i in ids], axis=1)
        labels[out] = ids[np.argmax(counts, axis=1)]
    else:
        raise ValueError(f"method must be 'centroid' or 'knn', got {method!r}")
    return labels


def extend_labels(
    E_fit: np.ndarray, labels_fit: np.ndarray, probs_fit: np.ndarray, E_new: np.ndarray, k: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Labels for new rows: majority label of their ``k`` nearest fitted rows.

    Outlier (-1) votes count like any label; ties go to the label of the
    nearest of the tied neighbours.  The probability is the mean probability of
    the neighbours that carry the chosen label.
    """
    from sklearn.neighbors import KDTree

    k = min(k, E_fit.shape[0])
    ind = KDTree(E_fit).query(E_new, k=k, return_distance=False)
    nl = labels_fit[ind]
    votes = (nl[:, :, None] == nl[:, None, :]).sum(axis=2)
    pick = np.argmax(votes, axis=1)
    lab = nl[np.arange(nl.shape[0]), pick]
    same = nl == lab[:, None]
    prob = (probs_fit[ind] * same).sum(axis=1) / same.sum(axis=1)
    return lab, prob


class HdbscanClusterer(ClusterMixin, BaseEstimator):
    """HDBSCAN on the reduced vectors, with canonical ids.

    After ``fit``: ``labels_`` (final, after assignment when
    ``assign_outliers``), ``raw_labels_`` (HDBSCAN's, canonical, with -1),
    ``probabilities_`` (HDBSCAN membership strength; 0 for its outliers),
    ``noise_share_`` (share HDBSCAN left as outliers), ``outlier_share_``
    (share of -1 in ``labels_``) and ``n_segments_``.
    ``min_samples=None`` means HDBSCAN's default (= ``min_cluster_size``).

    ``max_fit_rows``: above this many rows, HDBSCAN runs on a seeded random
    sample of that size (``min_cluster_size`` scaled by the sampling rate) and
    the other rows take the majority label of their 5 nearest sampled rows
    (:func:`extend_labels`).  At 100k rows in 5-D: 2.6 s instead of 15 s,
    same partition on the benchmark data.  ``None`` always fits on all rows.
    ``core_dist_n_jobs=1``: hdbscan's joblib-parallel core distances spent
    ~10 s waiting on workers at 100k rows on 2 busy cores.
    """

    def __init__(
        self,
        min_cluster_size: int = 15,
        min_samples: int | None = None,
        cluster_selection_method: str = "eom",
        cluster_selection_epsilon: float = 0.0,
        assign_outliers: bool = False,
        outlier_method: str = "centroid",
        max_fit_rows: int | None = None,
        random_state: int | None = 42,
        core_dist_n_jobs: int = 1,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.assign_outliers = assign_outliers
        self.outlier_method = outlier_method
        self.max_fit_rows = max_fit_rows
        self.random_state = random_state
        self.core_dist_n_jobs = core_dist_n_jobs

    def fit(self, X: np.ndarray, y: Any = None) -> "HdbscanClusterer":
        """Cluster ``X`` (n, d); returns self."""
        import hdbscan

        X = check_X(X)
        if self.min_cluster_size < 2:
            raise ValueError("min_cluster_size must be >= 2")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ValueError("cluster_selection_method must be 'eom' or 'leaf'")
        self.n_features_in_ = X.shape[1]
        fit_rows = self._fit_rows(X.shape[0])
        rate = fit_rows.size / X.shape[0]
        mcs = max(2, min(int(round(self.min_cluster_size * rate)), fit_rows.size))
        ms = None if self.min_samples is None else min(self.min_samples, fit_rows.size - 1)
        model = hdbscan.HDBSCAN(
            min_cluster_size=mcs,
            min_samples=ms,
            cluster_selection_method=self.cluster_selection_method,
            cluster_selection_epsilon=self.cluster_selection_epsilon,
            core_dist_n_jobs=self.core_dist_n_jobs,
        )
        model.fit(X[fit_rows].astype(np.float64))
        labels = np.asarray(model.labels_, dtype=np.int64)
        probs = np.asarray(model.probabilities_, dtype=np.float64)
        if fit_rows.size < X.shape[0]:
            labels, probs = self._extend(X, fit_rows, labels, probs)
        self.raw_labels_ = canonical_labels(labels)
        self.probabilities_ = probs
        self.noise_share_ = float(np.mean(self.raw_labels_ == OUTLIER))
        self._fit_X = X
        self.labels_ = self.assign_outliers_to_nearest(X) if self.assign_outliers else self.raw_labels_.copy()
        self.outlier_share_ = float(np.mean(self.labels_ == OUTLIER))
        self.n_segments_ = int(self.labels_.max() + 1) if self.labels_.size else 0
        return self

    def _fit_rows(self, n: int) -> np.ndarray:
        """Indices HDBSCAN is fit on: all rows, or a seeded sample of ``max_fit_rows``."""
        if self.max_fit_rows is None or n <= self.max_fit_rows:
            return np.arange(n)
        if self.max_fit_rows < 2:
            raise ValueError("max_fit_rows must be >= 2")
        rng = np.random.default_rng(self.random_state)
        return np.sort(rng.choice(n, self.max_fit_rows, replace=False))

    @staticmethod
    def _extend(
        X: np.ndarray, fit_rows: np.ndarray, labels: np.ndarray, probs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Full-length labels/probabilities from the sampled fit."""
        rest = np.setdiff1d(np.arange(X.shape[0]), fit_rows, assume_unique=True)
        all_l = np.empty(X.shape[0], dtype=np.int64)
        all_p = np.empty(X.shape[0], dtype=np.float64)
        all_l[fit_rows], all_p[fit_rows] = labels, probs
        all_l[rest], all_p[rest] = extend_labels(X[fit_rows], labels, probs, X[rest])
        return all_l, all_p

    def assign_outliers_to_nearest(self, X: np.ndarray | None = None) -> np.ndarray:
        """New labels with every HDBSCAN outlier moved to its nearest segment.

        ``X`` defaults to the rows the clusterer was fit on; existing segment
        labels are never changed (see module docstring for the rule).
        """
        check_is_fitted(self, "raw_labels_")
        X = self._fit_X if X is None else check_X(X)
        if X.shape[0] != self.raw_labels_.shape[0]:
            raise ValueError("X must be the rows the clusterer was fit on")
        return assign_to_nearest(X, self.raw_labels_, method=self.outlier_method)


class KMeansClusterer(ClusterMixin, BaseEstimator):
    """k-means with canonical ids; never produces outliers.

    ``probabilities_`` is a soft score in (0, 1]: the distance to the second
    nearest centre over the sum of the two nearest distances, rescaled.
    """

    def __init__(self, n_clusters: int = 8, random_state: int | None = 42, n_init: int = 4) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.n_init = n_init

    def fit(self, X: np.ndarray, y: Any = None) -> "KMeansClusterer":
        """Cluster ``X`` (n, d); returns self."""
        from sklearn.cluster import KMeans

        X = check_X(X)
        if self.n_clusters < 1:
            raise ValueError("n_clusters must be >= 1")
        self.n_features_in_ = X.shape[1]
        k = min(self.n_clusters, X.shape[0])
        km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(X)
        self.raw_labels_ = canonical_labels(km.labels_)
        self.labels_ = self.raw_labels_.copy()
        d = np.sort(km.transform(X), axis=1)
        self.probabilities_ = d[:, 1] / (d[:, 0] + d[:, 1] + 1e-12) if k > 1 else np.ones(X.shape[0])
        self.probabilities_ = (
            np.clip(2 * self.probabilities_ - 1 + 1e-12, 0, 1) if k > 1 else self.probabilities_
        )
        self.noise_share_ = 0.0
        self.outlier_share_ = 0.0
        self.n_segments_ = int(self.labels_.max() + 1)
        return self

    def assign_outliers_to_nearest(self, X: np.ndarray | None = None) -> np.ndarray:
        """k-means has no outliers: a copy of ``labels_``."""
        check_is_fitted(self, "labels_")
        return self.labels_.copy()
