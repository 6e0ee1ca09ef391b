"""Place units that lack a block (customers without reviews) into segments found without them.

Two-stage segmentation: customers who wrote reviews ("anchors") are segmented
on text + behaviour; every other customer is placed by their behaviour alone,
with the labels of their ``k`` nearest anchors in the (scaled) behaviour space.
Zero-filling the missing text instead puts all silent customers in one corner
of the space, where they form segments of their own ("people who never
review") that cut across the real groups.  Demo store (3,000 customers, seed
7), ARI vs the hidden groups over all customers: zero-filled text 0.27-0.45
(11-33 segments, depending on the minimum segment size), placement 0.71-0.80.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from cx_core.cluster.cluster import OUTLIER
from cx_core.cluster.reduce import check_X


@dataclass(frozen=True)
class Placement:
    """Labels, raw labels, vote shares and 2-D positions of the placed rows."""

    labels: np.ndarray
    raw_labels: np.ndarray
    probability: np.ndarray
    xy: np.ndarray | None


def _vote(neigh_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Majority label per row (ties: the nearest neighbour's label) and its vote share."""
    votes = (neigh_labels[:, :, None] == neigh_labels[:, None, :]).sum(axis=2)
    pick = np.argmax(votes, axis=1)  # first (= nearest) of the most-voted labels
    rows = np.arange(neigh_labels.shape[0])
    return neigh_labels[rows, pick], votes[rows, pick] / neigh_labels.shape[1]


class NeighbourPlacer(BaseEstimator):
    """k-nearest-anchor placement (scikit-learn habits: ``fit`` stores, ``place`` predicts).

    ``fit(anchor_X, labels, raw_labels, anchor_xy=None)``; ``place(X)`` returns
    a :class:`Placement`: the majority final label and the majority raw label
    (so a placed row is flagged an outlier when its neighbours mostly were),
    the vote share of the final label as probability, and the distance-weighted
    mean map position of the neighbours.
    """

    def __init__(self, n_neighbors: int = 15) -> None:
        self.n_neighbors = n_neighbors

    def fit(
        self,
        X: np.ndarray,
        labels: np.ndarray,
        raw_labels: np.ndarray | None = None,
        xy: np.ndarray | None = None,
    ) -> "NeighbourPlacer":
        """Remember the anchors; returns self."""
        from sklearn.neighbors import NearestNeighbors

        X = check_X(X, min_rows=1)
        if self.n_neighbors < 1:
            raise ValueError("n_neighbors must be >= 1")
        self.labels_ = np.asarray(labels, dtype=np.int64)
        self.raw_labels_ = self.labels_ if raw_labels is None else np.asarray(raw_labels, np.int64)
        if not (self.labels_.shape[0] == self.raw_labels_.shape[0] == X.shape[0]):
            raise ValueError("labels must have one entry per anchor row")
        self.xy_ = None if xy is None else np.asarray(xy, dtype=np.float64)
        self.k_ = min(self.n_neighbors, X.shape[0])
        self.nn_ = NearestNeighbors(n_neighbors=self.k_).fit(X)
        self.n_features_in_ = X.shape[1]
        return self

    def place(self, X: np.ndarray) -> Placement:
        """Labels and positions for new rows."""
        check_is_fitted(self, "nn_")
        X = check_X(X, min_rows=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got {X.shape[1]}")
        dist, ind = self.nn_.kneighbors(X)
        labels, share = _vote(self.labels_[ind])
        raw, _ = _vote(self.raw_labels_[ind])
        raw = np.where(labels == OUTLIER, OUTLIER, raw)
        xy = None
        if self.xy_ is not None:
            w = 1.0 / (dist + 1e-6)
            w /= w.sum(axis=1, keepdims=True)
            xy = np.einsum("ij,ijk->ik", w, self.xy_[ind])
        return Placement(labels, raw, share.astype(np.float64), xy)
