"""Customer segmentation engine: numpy in, segments out (no UI code here).

Swappable stages in the spirit of BERTopic, each a small scikit-learn-style
estimator::

    features  -> CustomerFeatureBuilder (text embedding + behaviour -> vectors)
    reduce    -> PCAReducer, UmapReducer, NullReducer
    knn       -> compute_knn (one graph shared by the UMAP stages)
    cluster   -> HdbscanClusterer, KMeansClusterer
    represent -> CTfidfRepresentation, representative_docs
    pipeline  -> SegmentPipeline, default_pipeline, fast_pipeline
    place     -> NeighbourPlacer (customers without text, by behaviour)

Importing this package does not import umap, hdbscan or numba; the stages
import them when they are fit.
"""

from cx_core.cluster.cluster import (
    OUTLIER,
    HdbscanClusterer,
    KMeansClusterer,
    assign_to_nearest,
    canonical_labels,
)
from cx_core.cluster.features import CustomerFeatureBuilder, build_customer_vectors, mean_review_embeddings
from cx_core.cluster.knn import KnnGraph, compute_knn, configure_numba_cache
from cx_core.cluster.pipeline import (
    PRESETS,
    SegmentPipeline,
    default_min_cluster_size,
    default_pipeline,
    fast_pipeline,
    make_pipeline,
)
from cx_core.cluster.place import NeighbourPlacer, Placement
from cx_core.cluster.reduce import NullReducer, PCAReducer, UmapReducer, enable_umap_jit_cache
from cx_core.cluster.represent import (
    CTfidfRepresentation,
    ctfidf,
    readable_name,
    representative_docs,
    representative_indices,
)

__all__ = [
    "OUTLIER",
    "PRESETS",
    "CTfidfRepresentation",
    "CustomerFeatureBuilder",
    "HdbscanClusterer",
    "KMeansClusterer",
    "KnnGraph",
    "NeighbourPlacer",
    "NullReducer",
    "Placement",
    "PCAReducer",
    "SegmentPipeline",
    "UmapReducer",
    "assign_to_nearest",
    "build_customer_vectors",
    "canonical_labels",
    "compute_knn",
    "configure_numba_cache",
    "ctfidf",
    "default_min_cluster_size",
    "default_pipeline",
    "enable_umap_jit_cache",
    "fast_pipeline",
    "make_pipeline",
    "mean_review_embeddings",
    "readable_name",
    "representative_docs",
    "representative_indices",
]
