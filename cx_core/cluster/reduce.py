"""Dimension-reduction stages: PCA, UMAP and a pass-through.

Every stage follows scikit-learn habits: ``__init__`` only stores parameters,
``fit(X)`` validates and returns ``self``, learned state ends with ``_``
(``embedding_`` holds the reduced training rows), and ``transform`` before
``fit`` raises ``sklearn.exceptions.NotFittedError``.

UMAP and numba's JIT cache
--------------------------
umap 0.5.12 marks only one tiny kernel (``layouts.rdist``) ``cache=True``; the
ones a fit actually compiles -- ``smooth_knn_dist``,
``compute_membership_strengths`` and the SGD epoch
``_optimize_layout_euclidean_single_epoch`` -- are recompiled in every new
process (about 8-15 s on 2 busy cores).  :func:`enable_umap_jit_cache` rebinds
those module attributes to copies compiled with the same options plus
``cache=True`` (same Python function, so the same maths), so a second process
loads them from disk in well under a second.  ``UmapReducer(jit_cache=True)``
calls it on fit; it is idempotent and a no-op if umap's layout differs.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from cx_core.cluster.knn import KnnGraph, compute_knn

log = logging.getLogger(__name__)

_UMAP_KERNELS = {
    "umap.umap_": ("smooth_knn_dist", "compute_membership_strengths"),
    "umap.layouts": (
        "_nb_optimize_layout_euclidean_single_epoch",
        "_nb_optimize_layout_euclidean_single_epoch_parallel",
    ),
}
_umap_cache_enabled = False


def enable_umap_jit_cache() -> bool:
    """Make umap's per-fit numba kernels disk-cached; returns True if done.

    Rebinds ``umap.umap_.smooth_knn_dist``, ``compute_membership_strengths``
    and the euclidean SGD epoch functions in ``umap.layouts`` to
    ``numba.njit(cache=True, **same_options)(same_python_function)``.  umap
    looks these up as module globals at call time, so every later UMAP fit in
    this process uses the cached copies.  Safe to call repeatedly.
    """
    global _umap_cache_enabled
    if _umap_cache_enabled:
        return True
    try:
        import importlib

        import numba
        from numba.core.dispatcher import Dispatcher

        for mod_name, names in _UMAP_KERNELS.items():
            mod = importlib.import_module(mod_name)
            for name in names:
                disp = getattr(mod, name, None)
                cached = type(getattr(disp, "_cache", None)).__name__ != "NullCache"
                if not isinstance(disp, Dispatcher) or cached:
                    continue
                opts = {
                    k: v
                    for k, v in disp.targetoptions.items()
                    if k not in ("nopython", "boundscheck", "cache")
                }
                setattr(mod, name, numba.njit(cache=True, **opts)(disp.py_func))
        _umap_cache_enabled = True
    except Exception as exc:  # pragma: no cover - depends on umap internals
        log.warning("could not enable the UMAP JIT cache: %s", exc)
    return _umap_cache_enabled


def check_X(X: Any, min_rows: int = 2) -> np.ndarray:
    """2-D finite float32 array with at least ``min_rows`` rows."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {X.shape}")
    if X.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} rows, got {X.shape[0]}")
    if not np.isfinite(X).all():
        raise ValueError("input contains NaN or infinite values")
    return X


def _check_new_rows(stage: Any, X: Any) -> np.ndarray:
    """Validate rows passed to ``transform`` of a fitted stage (same number of columns as fit)."""
    check_is_fitted(stage, "embedding_")
    X = check_X(X, min_rows=1)
    if X.shape[1] != stage.n_features_in_:
        raise ValueError(f"expected {stage.n_features_in_} columns, got {X.shape[1]}")
    return X


class NullReducer(TransformerMixin, BaseEstimator):
    """Pass-through stage: ``embedding_`` is the input as float32."""

    def fit(self, X: np.ndarray, y: Any = None) -> "NullReducer":
        """Store the input as the embedding."""
        X = check_X(X, min_rows=1)
        self.n_features_in_ = X.shape[1]
        self.embedding_ = X
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return ``X`` unchanged (as float32)."""
        check_is_fitted(self, "embedding_")
        return check_X(X, min_rows=1)

    def fit_transform(self, X: np.ndarray, y: Any = None) -> np.ndarray:
        """Fit and return the embedding."""
        return self.fit(X).embedding_


class PCAReducer(TransformerMixin, BaseEstimator):
    """Linear reduction to ``n_components`` dims; skipped when the input is not wider.

    ``svd_solver="auto"`` uses the covariance eigendecomposition for tall,
    narrow inputs (n >> d, one BLAS pass; the fastest for customer vectors)
    and scikit-learn's choice otherwise.  ``skipped_`` tells whether the
    stage was a pass-through.
    """

    def __init__(
        self, n_components: int = 50, random_state: int | None = 42, svd_solver: str = "auto"
    ) -> None:
        self.n_components = n_components
        self.random_state = random_state
        self.svd_solver = svd_solver

    def fit(self, X: np.ndarray, y: Any = None) -> "PCAReducer":
        """Fit the projection (or decide to skip) and store ``embedding_``."""
        from sklearn.decomposition import PCA

        X = check_X(X)
        if self.n_components < 1:
            raise ValueError("n_components must be >= 1")
        self.n_features_in_ = X.shape[1]
        k = min(self.n_components, X.shape[0])
        self.skipped_ = X.shape[1] <= k
        if self.skipped_:
            self.pca_ = None
            self.embedding_ = X
            self.explained_variance_ratio_ = None
            return self
        solver = self.svd_solver
        if solver == "auto":
            solver = "covariance_eigh" if X.shape[0] >= 10 * X.shape[1] else "auto"
        self.pca_ = PCA(n_components=k, svd_solver=solver, random_state=self.random_state)
        self.embedding_ = self.pca_.fit_transform(X).astype(np.float32)
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project new rows with the fitted components."""
        X = _check_new_rows(self, X)
        return X if self.skipped_ else self.pca_.transform(X).astype(np.float32)

    def fit_transform(self, X: np.ndarray, y: Any = None) -> np.ndarray:
        """Fit and return the reduced training rows."""
        return self.fit(X).embedding_


class UmapReducer(TransformerMixin, BaseEstimator):
    """UMAP to ``n_components`` dims on a (shared) kNN graph.

    ``precomputed_knn``: a :class:`~cx_core.cluster.knn.KnnGraph` or umap's
    ``(indices, distances)`` tuple for the rows passed to ``fit``; without it
    the stage builds one with :func:`~cx_core.cluster.knn.compute_knn`
    (``knn_method``), which avoids pynndescent's per-process JIT.
    ``init`` is ``"spectral"``, ``"pca"``, ``"random"`` or an ``(n,
    n_components)`` array (e.g. the clustering embedding projected to 2-D).
    ``random_state`` set: single-threaded, reproducible SGD; ``None``: umap's
    parallel SGD (faster on many cores, not reproducible).
    ``transform`` places new rows at the distance-weighted mean embedding of
    their nearest training rows (umap's own starting guess for new points,
    without the extra SGD), since a precomputed graph has no search index.
    """

    def __init__(
        self,
        n_components: int = 5,
        n_neighbors: int = 15,
        min_dist: float = 0.0,
        metric: str = "cosine",
        random_state: int | None = 42,
        n_epochs: int | None = None,
        precomputed_knn: Any = None,
        negative_sample_rate: int = 5,
        init: Any = "spectral",
        knn_method: str = "auto",
        jit_cache: bool = True,
    ) -> None:
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state
        self.n_epochs = n_epochs
        self.precomputed_knn = precomputed_knn
        self.negative_sample_rate = negative_sample_rate
        self.init = init
        self.knn_method = knn_method
        self.jit_cache = jit_cache

    def _graph(self, X: np.ndarray) -> KnnGraph:
        """The kNN graph to use: the given one (checked) or a freshly built one."""
        pre = self.precomputed_knn
        if pre is None:
            return compute_knn(
                X,
                self.n_neighbors,
                self.metric,
                random_state=0 if self.random_state is None else self.random_state,
                method=self.knn_method,
            )
        if not isinstance(pre, KnnGraph):
            ind, dist = pre[0], pre[1]
            pre = KnnGraph(
                np.asarray(ind, dtype=np.int32),
                np.asarray(dist, dtype=np.float32),
                self.metric,
                "precomputed",
            )
        if pre.n_samples != X.shape[0]:
            raise ValueError(f"precomputed_knn has {pre.n_samples} rows, X has {X.shape[0]}")
        if pre.n_neighbors < self.n_neighbors:
            raise ValueError(
                f"precomputed_knn has {pre.n_neighbors} neighbours, n_neighbors={self.n_neighbors}"
            )
        return pre.truncate(self.n_neighbors) if pre.n_neighbors > self.n_neighbors else pre

    def fit(self, X: np.ndarray, y: Any = None) -> "UmapReducer":
        """Embed ``X``; stores ``embedding_`` (float32) and ``knn_graph_``."""
        X = check_X(X, min_rows=3)
        if self.n_components < 1 or self.n_neighbors < 2:
            raise ValueError("n_components must be >= 1 and n_neighbors >= 2")
        if self.jit_cache:
            enable_umap_jit_cache()
        import umap

        self.n_features_in_ = X.shape[1]
        k = min(self.n_neighbors, X.shape[0] - 1)
        self.knn_graph_ = (
            self._graph(X) if k == self.n_neighbors else compute_knn(X, k, self.metric, method="exact")
        )
        init = self.init
        if not isinstance(init, str):
            init = np.asarray(init, dtype=np.float32)
            if init.shape != (X.shape[0], self.n_components):
                raise ValueError(f"init array must have shape {(X.shape[0], self.n_components)}")
        model = umap.UMAP(
            n_components=self.n_components,
            n_neighbors=k,
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.random_state,
            n_epochs=self.n_epochs,
            negative_sample_rate=self.negative_sample_rate,
            init=init,
            precomputed_knn=self.knn_graph_.as_umap(),
            verbose=False,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*precomputed_knn.*")
            warnings.filterwarnings("ignore", message=".*n_jobs value.*")
            warnings.filterwarnings("ignore", message=".*disconnected.*")
            self.embedding_ = np.asarray(model.fit_transform(X), dtype=np.float32)
        self._train_X = X
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Approximate placement of new rows (see class docstring)."""
        from sklearn.neighbors import NearestNeighbors

        X = _check_new_rows(self, X)
        metric = "cosine" if self.metric == "cosine" else "euclidean"
        k = min(self.n_neighbors, self._train_X.shape[0])
        nn = NearestNeighbors(n_neighbors=k, metric=metric).fit(self._train_X)
        dist, ind = nn.kneighbors(X)
        w = 1.0 / (dist + 1e-6)
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("ij,ijk->ik", w, self.embedding_[ind]).astype(np.float32)

    def fit_transform(self, X: np.ndarray, y: Any = None) -> np.ndarray:
        """Fit and return ``embedding_``."""
        return self.fit(X).embedding_
