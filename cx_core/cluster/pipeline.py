"""The segmentation pipeline: vectors in, segments + 2-D map + descriptions out.

Stages (each swappable, BERTopic-style, all scikit-learn-like estimators)::

    X --pre_reducer (PCA 50)--> Z --kNN graph (once)--+--> reducer (UMAP 5-D) --> clusterer
                                                      +--> map_reducer (UMAP 2-D) --> map_2d_
    texts + labels --> representation (c-TF-IDF) --> names, top words

The kNN graph is computed once on ``Z`` and handed to every UMAP stage.  The
map UMAP starts from the clustering embedding projected to 2-D
(``map_init="clustering"``) so it needs few epochs.  ``map_reducer="reuse"``
uses the clustering embedding itself (when it is 2-D) as the map; a
``NullReducer`` skips the map (``map_2d_`` is then ``None``).  ``seed`` is
written into every stage that has a ``random_state``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from cx_core.cluster.cluster import OUTLIER, HdbscanClusterer
from cx_core.cluster.knn import METHODS, METRICS, KnnGraph, compute_knn
from cx_core.cluster.reduce import NullReducer, PCAReducer, UmapReducer, check_X
from cx_core.cluster.represent import OUTLIER_NAME, CTfidfRepresentation, representative_docs

REUSE = "reuse"


def default_min_cluster_size(n_rows: int) -> int:
    """Smallest segment worth reporting: 0.5 % of the rows, clipped to [10, 1000]."""
    return int(np.clip(round(0.005 * n_rows), 10, 1000))


def default_min_samples(n_rows: int) -> int:
    """HDBSCAN ``min_samples``: about log2(n), clipped to [5, 25].

    Small values keep HDBSCAN fast (its cost grows with ``min_samples``) and
    label fewer rows as outliers.  100k rows in 5-D on 2 busy cores:
    ``min_samples=500`` (hdbscan's default, = min_cluster_size) 40-56 s,
    10-17 about 12-18 s on all rows, 2-3 s with ``max_fit_rows=25_000``.
    """
    return int(np.clip(round(np.log2(max(n_rows, 2))), 5, 25))


class SegmentPipeline(BaseEstimator):
    """Segment customers from their vectors; see the module docstring.

    ``None`` for a stage means its default: ``PCAReducer(50)``,
    ``UmapReducer(5-D, min_dist=0)``, ``HdbscanClusterer(15)``, a 2-D
    ``UmapReducer(min_dist=0.1)`` and ``CTfidfRepresentation()``.
    ``knn_metric`` is the metric of the shared kNN graph and of every UMAP stage.
    ``map_reducer``: a stage, ``"reuse"`` (the clustering embedding, projected
    to 2-D if wider) or ``NullReducer()`` (no map, ``map_2d_`` is ``None``);
    ``representation=False`` skips names/top words.

    After ``fit``: ``labels_``, ``embedding_`` (clustering space), ``map_2d_``,
    ``segment_info_`` (segment_id, size, share, name, top_words; an outlier
    row with id -1 when there are outliers), ``outlier_share_``,
    ``noise_share_``, ``representative_docs_``, ``knn_graph_``, ``timings_``
    (seconds per stage) and the fitted stages ``pre_reducer_``, ``reducer_``,
    ``clusterer_``, ``map_reducer_``, ``representation_``.
    """

    def __init__(
        self,
        reducer: Any = None,
        clusterer: Any = None,
        map_reducer: Any = None,
        representation: Any = None,
        pre_reducer: Any = None,
        knn_metric: str = "euclidean",
        knn_method: str = "auto",
        map_init: str = "clustering",
        representative_k: int = 3,
        seed: int = 42,
    ) -> None:
        self.reducer = reducer
        self.clusterer = clusterer
        self.map_reducer = map_reducer
        self.representation = representation
        self.pre_reducer = pre_reducer
        self.knn_metric = knn_metric
        self.knn_method = knn_method
        self.map_init = map_init
        self.representative_k = representative_k
        self.seed = seed

    # ------------------------------------------------------------------ stages
    def _stage(self, given: Any, default: Any) -> Any:
        """An unfitted copy of ``given`` (or ``default``) with the seed applied."""
        stage = clone(default if given is None else given)
        if "random_state" in stage.get_params(deep=False):
            stage.set_params(random_state=self.seed)
        return stage

    def _make_stages(self) -> dict[str, Any]:
        """Fresh stage objects for one fit."""
        if self.knn_metric not in METRICS:
            raise ValueError(f"knn_metric must be one of {METRICS}")
        if self.knn_method not in METHODS:
            raise ValueError(f"knn_method must be one of {METHODS}")
        if self.map_init not in ("clustering", "stage"):
            raise ValueError("map_init must be 'clustering' or 'stage'")
        stages = {
            "pre_reducer": self._stage(self.pre_reducer, PCAReducer(50)),
            "reducer": self._stage(self.reducer, UmapReducer(n_components=5, min_dist=0.0)),
            "clusterer": self._stage(self.clusterer, HdbscanClusterer(min_cluster_size=15)),
            "map_reducer": (
                REUSE
                if isinstance(self.map_reducer, str) and self.map_reducer == REUSE
                else self._stage(self.map_reducer, UmapReducer(n_components=2, min_dist=0.1))
            ),
            "representation": (
                None
                if self.representation is False
                else self._stage(self.representation, CTfidfRepresentation())
            ),
        }
        if isinstance(self.map_reducer, str) and self.map_reducer != REUSE:
            raise ValueError(f"map_reducer must be a stage or {REUSE!r}")
        return stages

    def _share_graph(self, Z: np.ndarray, stages: dict[str, Any]) -> KnnGraph | None:
        """Build one kNN graph for all UMAP stages and hand it to them."""
        umaps = [s for s in (stages["reducer"], stages["map_reducer"]) if isinstance(s, UmapReducer)]
        if not umaps:
            return None
        k = min(max(s.n_neighbors for s in umaps), Z.shape[0] - 1)
        graph = compute_knn(Z, k, self.knn_metric, random_state=self.seed, method=self.knn_method)
        for s in umaps:
            if s.n_neighbors <= graph.n_neighbors:
                s.set_params(precomputed_knn=graph, metric=self.knn_metric)
        return graph

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: np.ndarray,
        texts_by_row: Sequence[Any] | None = None,
        y: Any = None,
        progress: Callable[[str], None] | None = None,
    ) -> "SegmentPipeline":
        """Segment the rows of ``X``; ``texts_by_row`` (str or list of str per row) names them.

        ``progress(stage_name)`` is called as each stage starts (pre_reduce, knn,
        reduce, cluster, map, represent).
        """
        self._progress = progress
        X = check_X(X, min_rows=3)
        if texts_by_row is not None and len(texts_by_row) != X.shape[0]:
            raise ValueError(f"{len(texts_by_row)} texts for {X.shape[0]} rows")
        self.n_rows_, self.n_features_in_ = X.shape
        st = self._make_stages()
        self.timings_: dict[str, float] = {}
        Z = self._timed("pre_reduce", lambda: st["pre_reducer"].fit_transform(X))
        self.knn_graph_ = self._timed("knn", lambda: self._share_graph(Z, st))
        self.embedding_ = self._timed("reduce", lambda: st["reducer"].fit_transform(Z))
        clusterer = self._timed("cluster", lambda: st["clusterer"].fit(self.embedding_))
        self.labels_ = np.asarray(clusterer.labels_, dtype=np.int64)
        self.map_2d_ = self._timed("map", lambda: self._fit_map(Z, st))
        self._timed("represent", lambda: self._describe(Z, texts_by_row, st["representation"]))
        self.pre_reducer_, self.reducer_, self.clusterer_ = (st["pre_reducer"], st["reducer"], clusterer)
        self.map_reducer_, self.representation_ = st["map_reducer"], st["representation"]
        self.outlier_share_ = float(np.mean(self.labels_ == OUTLIER))
        self.noise_share_ = float(getattr(clusterer, "noise_share_", self.outlier_share_))
        self._progress = None
        return self

    def fit_predict(self, X: np.ndarray, texts_by_row: Sequence[Any] | None = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, texts_by_row).labels_

    def _timed(self, name: str, fn: Any) -> Any:
        """Run ``fn`` and record its wall time under ``name``."""
        if getattr(self, "_progress", None) is not None:
            self._progress(name)
        t0 = time.perf_counter()
        out = fn()
        self.timings_[name] = round(time.perf_counter() - t0, 3)
        return out

    def _fit_map(self, Z: np.ndarray, st: dict[str, Any]) -> np.ndarray | None:
        """The 2-D map: reuse, skip, or a UMAP started from the clustering embedding."""
        stage = st["map_reducer"]
        E = self.embedding_
        if isinstance(stage, str):  # "reuse"
            if E.shape[1] == 2:
                return E.copy()
            return np.hstack([E, np.zeros_like(E)]) if E.shape[1] == 1 else _project_2d(E)
        if isinstance(stage, NullReducer):
            return None
        if (
            isinstance(stage, UmapReducer)
            and self.map_init == "clustering"
            and stage.n_components == 2
            and E.shape[1] >= 2
            and isinstance(stage.init, str)
            and stage.init == "spectral"
        ):
            stage.set_params(init=_project_2d(E))
        out = np.asarray(stage.fit_transform(Z), dtype=np.float32)
        if out.ndim != 2 or out.shape[1] != 2:
            raise ValueError(f"map_reducer must give 2 columns, gave {out.shape}")
        return out

    def _describe(self, Z: np.ndarray, texts: Sequence[Any] | None, rep: Any) -> None:
        """Names, top words and representative texts per segment -> ``segment_info_``."""
        names: dict[int, str] = {}
        words: dict[int, list[str]] = {}
        self.representative_docs_: dict[int, list[str]] = {}
        if texts is not None and rep is not None:
            rep.fit(texts, self.labels_)
            names = {c: rep.name(c) for c in rep.names_}
            words = {c: rep.top_words(c) for c in rep.top_words_}
            self.representative_docs_ = representative_docs(Z, self.labels_, texts, k=self.representative_k)
        self.segment_info_ = _segment_table(self.labels_, names, words)

    # ------------------------------------------------------------------ reporting
    def config_(self) -> dict[str, Any]:
        """JSON-ready description of the fitted run: stages, parameters, versions."""
        check_is_fitted(self, "labels_")
        stages = {
            "pre_reducer": self.pre_reducer_,
            "reducer": self.reducer_,
            "clusterer": self.clusterer_,
            "map_reducer": self.map_reducer_,
            "representation": self.representation_,
        }
        return {
            "pipeline": type(self).__name__,
            "seed": self.seed,
            "knn_metric": self.knn_metric,
            "knn_method": self.knn_graph_.method if self.knn_graph_ is not None else None,
            "knn_neighbors": self.knn_graph_.n_neighbors if self.knn_graph_ is not None else None,
            "map_init": self.map_init,
            "n_rows": int(self.n_rows_),
            "n_features": int(self.n_features_in_),
            "n_segments": int(self.labels_.max() + 1) if self.labels_.size else 0,
            "outlier_share": self.outlier_share_,
            "stages": {k: _stage_config(v) for k, v in stages.items()},
            "timings_s": dict(self.timings_),
            "versions": _versions(),
        }


def _project_2d(E: np.ndarray) -> np.ndarray:
    """First two principal axes of ``E`` (deterministic: full SVD, sign-fixed)."""
    C = E - E.mean(axis=0)
    _, _, vt = np.linalg.svd(C[:: max(1, C.shape[0] // 20000)], full_matrices=False)
    vt = vt[:2] * np.sign(vt[:2, :1] + 1e-12)
    return (C @ vt.T).astype(np.float32)


def _segment_table(labels: np.ndarray, names: dict[int, str], words: dict[int, list[str]]) -> pd.DataFrame:
    """segment_id, size, share, name, top_words; the outlier row last."""
    ids, sizes = np.unique(labels, return_counts=True)
    order = [i for i in range(ids.size) if ids[i] != OUTLIER] + [
        i for i in range(ids.size) if ids[i] == OUTLIER
    ]
    rows = []
    for i in order:
        seg = int(ids[i])
        default = OUTLIER_NAME if seg == OUTLIER else f"Segment {seg}"
        rows.append(
            {
                "segment_id": seg,
                "size": int(sizes[i]),
                "share": float(sizes[i] / labels.size),
                "name": names.get(seg, default),
                "top_words": list(words.get(seg, [])),
            }
        )
    return pd.DataFrame(rows, columns=["segment_id", "size", "share", "name", "top_words"])


def _jsonable(v: Any) -> Any:
    """Parameters as JSON values (arrays and graphs summarised)."""
    if isinstance(v, (str, bool, int, float)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return f"<array {tuple(v.shape)}>"
    if isinstance(v, KnnGraph):
        return f"<shared knn graph {v.method}, k={v.n_neighbors}>"
    if isinstance(v, BaseEstimator):
        return _stage_config(v)
    return repr(v)


def _stage_config(stage: Any) -> Any:
    """``{"class": name, "params": {...}}`` for a stage (or the reuse marker)."""
    if stage is None or isinstance(stage, str):
        return stage
    return {
        "class": type(stage).__name__,
        "params": {k: _jsonable(v) for k, v in stage.get_params(deep=False).items()},
    }


def _versions() -> dict[str, str]:
    """Versions of the numeric libraries that shape the result."""
    import importlib.metadata as md

    out = {}
    for pkg in ("numpy", "scikit-learn", "umap-learn", "hdbscan", "pynndescent", "numba"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "absent"
    return out


# ---------------------------------------------------------------------- presets

FAST_HDBSCAN_ROWS = 25_000
FAST_FULL_NEIGHBOURS_ROWS = 25_000


def fast_neighbours(n_rows: int) -> int:
    """UMAP neighbours for the fast preset: UMAP's default 15 up to 25k rows, 10 above.

    Fewer neighbours only pay at scale (15 instead of 10 costs 10-27 % more time at 10k-25k
    rows, about 2 s).  On small stores 10 leaves adjacent groups joined by a few bridge points:
    on the 800-customer demo, ``bargain_hunters`` and ``new_customers`` came out as one segment
    in 8 of 30 seeds with 10 neighbours and in 1-2 of 30 with 15 (AVX-512, AVX2 and generic
    kernels; ARI 0.72 -> 0.77 on average; ``bench/segment.py --pipeline-seeds 30``).
    """
    return 15 if n_rows <= FAST_FULL_NEIGHBOURS_ROWS else 10


def fast_epochs(n_rows: int) -> int:
    """SGD epochs for the fast preset: about 2M row-epochs, clipped to [30, 200]."""
    return int(np.clip(round(2_000_000 / max(n_rows, 1)), 30, 200))


def default_pipeline(n_rows: int, seed: int = 42, **overrides: Any) -> SegmentPipeline:
    """The recommended pipeline for ``n_rows`` customers (min segment size from n).

    PCA 50 -> shared kNN (15) -> UMAP 5-D (umap's default epochs, spectral
    init) -> HDBSCAN on all rows -> 2-D map UMAP (100 epochs from the
    clustering embedding) -> c-TF-IDF.  ``overrides`` replace any argument.
    """
    params = dict(
        pre_reducer=PCAReducer(50),
        reducer=UmapReducer(n_components=5, n_neighbors=15, min_dist=0.0, metric="euclidean"),
        clusterer=HdbscanClusterer(
            min_cluster_size=default_min_cluster_size(n_rows), min_samples=default_min_samples(n_rows)
        ),
        map_reducer=UmapReducer(
            n_components=2, n_neighbors=15, min_dist=0.1, metric="euclidean", n_epochs=100
        ),
        representation=CTfidfRepresentation(),
        seed=seed,
    )
    params.update(overrides)
    return SegmentPipeline(**params)


def fast_pipeline(n_rows: int, seed: int = 42, **overrides: Any) -> SegmentPipeline:
    """Speed preset: 100k rows in well under 60 s on 2 cores (see bench/segment.py).

    Differences from :func:`default_pipeline`: kNN 10 instead of 15 above 25k rows
    (:func:`fast_neighbours`), UMAP with
    PCA init, 2 negative samples per edge and :func:`fast_epochs` epochs
    (30 at 100k), HDBSCAN fit on at most 25k sampled rows, 2-D map with
    half the epochs (>= 30).
    """
    epochs = fast_epochs(n_rows)
    params = dict(
        pre_reducer=PCAReducer(50),
        reducer=UmapReducer(
            n_components=5,
            n_neighbors=fast_neighbours(n_rows),
            min_dist=0.0,
            metric="euclidean",
            n_epochs=epochs,
            negative_sample_rate=2,
            init="pca",
        ),
        clusterer=HdbscanClusterer(
            min_cluster_size=default_min_cluster_size(n_rows),
            min_samples=default_min_samples(n_rows),
            max_fit_rows=FAST_HDBSCAN_ROWS,
        ),
        map_reducer=UmapReducer(
            n_components=2,
            n_neighbors=10,
            min_dist=0.1,
            metric="euclidean",
            n_epochs=max(30, epochs // 2),
            negative_sample_rate=2,
        ),
        representation=CTfidfRepresentation(),
        seed=seed,
    )
    params.update(overrides)
    return SegmentPipeline(**params)


PRESETS = {"default": default_pipeline, "fast": fast_pipeline}


def make_pipeline(preset: str, n_rows: int, seed: int = 42, **overrides: Any) -> SegmentPipeline:
    """A preset pipeline by name (``"default"`` or ``"fast"``)."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return PRESETS[preset](n_rows, seed=seed, **overrides)
