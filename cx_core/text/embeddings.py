"""The embedding cache: vectors in the ``embeddings`` table keyed by (text_hash, model_id).

``text_hash`` is the lowercase hex SHA-256 of the UTF-8 text (DuckDB's
``sha256(text)``), the same key the ``reviews`` table stores, and ``model_id`` is
the encoder's ``model_id_`` (model content + dtype), so a different model never
reuses another's vectors. Only texts missing for that model are encoded; new
vectors are written in one transaction through an Arrow table registered on the
cursor.

An encoder here is anything with ``identify() -> str`` (the model id, cheap),
``encode(texts, progress=None) -> np.ndarray`` and ``dim_``; optional
``device_`` / ``dtype_`` are reported in the statistics.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Protocol, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from cx_core.progress import CountProgress
from cx_core.store.db import Workspace
from cx_core.store.sql import quote_ident

#: unique texts encoded and committed per transaction (a checkpoint: an interrupted run keeps what
#: it finished); ~2k texts is a minute or less on a 2-core CPU and one small insert
REVIEW_CHUNK = 2_048


class Encoder(Protocol):
    """What the cache needs from an encoder (``TextEncoder`` or a test double)."""

    dim_: int

    def identify(self) -> str:
        """The model id under which vectors are cached."""

    def encode(self, texts: Sequence[str], progress: CountProgress | None = None) -> np.ndarray:
        """Unit vectors ``(len(texts), dim_)`` in input order."""


def text_hash(text: str | None) -> str:
    """Lowercase hex SHA-256 of the UTF-8 text (None hashes like "")."""
    return hashlib.sha256((text or "").encode("utf-8", "surrogatepass")).hexdigest()


def _as_str(text: Any) -> str:
    """A cache input as a string (None and NaN become "", like the encoder)."""
    if isinstance(text, str):
        return text
    from cx_core.text.encoder import clean_texts

    return clean_texts([text])[0]


# -- reading and writing vectors -------------------------------------------------------
def _vectors_from_arrow(column: pa.ChunkedArray, dim: int | None = None) -> np.ndarray:
    """A LIST<FLOAT> column as a float32 matrix ``(rows, dim)`` (dim None: from the data)."""
    lists = column.combine_chunks()
    flat = lists.flatten().to_numpy(zero_copy_only=False)
    rows = len(lists)
    if dim is None:
        dim = len(lists[0]) if rows else 0
    if flat.size != rows * dim:
        raise ValueError(f"stored vectors do not all have dimension {dim}")
    return np.ascontiguousarray(flat, dtype=np.float32).reshape(rows, dim)


def _vectors_to_arrow(vectors: np.ndarray) -> pa.ListArray:
    """A float32 matrix as an Arrow LIST<FLOAT> column (no per-row Python objects)."""
    rows, dim = vectors.shape
    offsets = pa.array(np.arange(0, (rows + 1) * dim, dim, dtype=np.int64), type=pa.int64())
    values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
    return pa.LargeListArray.from_arrays(offsets, values)


def fetch_cached(
    ws: Workspace, model_id: str, hashes: Sequence[str], dim: int
) -> tuple[list[str], np.ndarray]:
    """The stored vectors of ``hashes`` for ``model_id``: (found hashes, matrix)."""
    if not hashes:
        return [], np.empty((0, dim), np.float32)
    wanted = pa.table({"text_hash": pa.array(list(hashes), pa.string())})
    with ws.cursor() as cur:
        cur.register("_cx_wanted_hashes", wanted)
        try:
            tbl = cur.sql(
                "SELECT e.text_hash, e.vec FROM embeddings e "
                "JOIN _cx_wanted_hashes w USING (text_hash) WHERE e.model_id = ?",
                params=[model_id],
            ).to_arrow_table()
        finally:
            cur.unregister("_cx_wanted_hashes")
    return tbl.column("text_hash").to_pylist(), _vectors_from_arrow(tbl.column("vec"), dim)


def store_vectors(ws: Workspace, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> int:
    """Insert vectors in one transaction (existing keys are left as they are); returns rows."""
    if not len(hashes):
        return 0
    new = pa.table({"text_hash": pa.array(list(hashes), pa.string()), "vec": _vectors_to_arrow(vectors)})
    with ws.write() as cur:
        cur.register("_cx_new_vectors", new)
        try:
            cur.execute(
                "INSERT OR IGNORE INTO embeddings (text_hash, model_id, vec) "
                "SELECT text_hash, ?, vec::FLOAT[] FROM _cx_new_vectors",
                [model_id],
            )
        finally:
            cur.unregister("_cx_new_vectors")
    return len(hashes)


# -- the cache -------------------------------------------------------------------------
def _encode_missing(
    ws: Workspace,
    encoder: Encoder,
    model_id: str,
    hashes: list[str],
    texts: list[str],
    progress: CountProgress | None,
) -> np.ndarray:
    """Encode and store unique ``texts`` (with their ``hashes``); returns their vectors. The rate is
    kept for time estimates (:mod:`cx_core.text.speed`)."""
    from cx_core.text.speed import record_rate

    t0 = time.perf_counter()
    vectors = np.asarray(encoder.encode(texts, progress=progress), dtype=np.float32)
    seconds = time.perf_counter() - t0
    if vectors.shape != (len(texts), encoder.dim_):
        raise ValueError(f"encoder returned shape {vectors.shape} for {len(texts)} texts")
    store_vectors(ws, model_id, hashes, vectors)
    record_rate(ws, model_id, str(getattr(encoder, "device_", "cpu")), len(texts), seconds)
    return vectors


def embed_texts_cached(
    ws: Workspace, encoder: Encoder, texts: Sequence[str | None], progress: CountProgress | None = None
) -> np.ndarray:
    """Vectors of ``texts`` in input order, encoding only what is not cached yet.

    Identical texts are encoded once; texts already stored for the encoder's model
    id are read back. New vectors are committed every ``REVIEW_CHUNK`` texts, so an
    interrupted run (a cancelled or killed job) keeps what it encoded and a rerun
    encodes only the rest. ``progress`` receives ``(done, total)`` over the texts
    actually encoded.
    """
    model_id = encoder.identify()
    items = [_as_str(t) for t in texts]
    hashes = [text_hash(t) for t in items]
    first: dict[str, int] = {}
    for i, h in enumerate(hashes):
        first.setdefault(h, i)
    unique = list(first)
    slot = {h: k for k, h in enumerate(unique)}
    found, cached = fetch_cached(ws, model_id, unique, encoder.dim_)
    matrix = np.empty((len(unique), encoder.dim_), np.float32)
    if found:
        matrix[[slot[h] for h in found]] = cached
    missing = sorted(set(unique) - set(found), key=slot.__getitem__)
    for lo in range(0, len(missing), REVIEW_CHUNK):
        part = missing[lo : lo + REVIEW_CHUNK]
        step = None if progress is None else (lambda done, _n, lo=lo: progress(lo + done, len(missing)))
        vecs = _encode_missing(ws, encoder, model_id, part, [items[first[h]] for h in part], step)
        matrix[[slot[h] for h in part]] = vecs
    return matrix[[slot[h] for h in hashes]] if hashes else matrix


def embed_reviews(
    ws: Workspace, encoder: Encoder, progress: CountProgress | None = None, chunk_size: int | None = None
) -> dict[str, Any]:
    """Embed every review ``text`` not yet cached for the encoder's model.

    Works on distinct ``reviews.text_hash`` values; commits every ``chunk_size``
    (default ``REVIEW_CHUNK``) texts so an interrupted run keeps its work. ``progress(done, total)`` counts
    the texts to encode. Returns statistics: ``total`` (reviews), ``unique_texts``,
    ``cached``, ``newly_encoded``, ``seconds``, ``texts_per_s``, ``device``,
    ``dtype``, ``model_id``.
    """
    start = time.perf_counter()
    chunk_size = chunk_size or REVIEW_CHUNK
    model_id = encoder.identify()
    total, unique = ws.query_one("SELECT count(*), count(DISTINCT text_hash) FROM reviews")
    todo = ws.query_df(
        "SELECT text_hash, any_value(text) AS text FROM reviews r WHERE NOT EXISTS ("
        "SELECT 1 FROM embeddings e WHERE e.text_hash = r.text_hash AND e.model_id = ?) "
        "GROUP BY text_hash ORDER BY text_hash",
        [model_id],
    )
    hashes, texts = todo["text_hash"].tolist(), todo["text"].tolist()
    encode_start = time.perf_counter()
    for lo in range(0, len(hashes), chunk_size):
        hi = min(lo + chunk_size, len(hashes))
        step = None if progress is None else (lambda done, _n, lo=lo: progress(lo + done, len(hashes)))
        _encode_missing(ws, encoder, model_id, hashes[lo:hi], texts[lo:hi], step)
    encode_s = time.perf_counter() - encode_start
    dtype = getattr(encoder, "dtype_", None)
    return {
        "total": int(total),
        "unique_texts": int(unique),
        "cached": int(unique) - len(hashes),
        "newly_encoded": len(hashes),
        "seconds": round(time.perf_counter() - start, 3),
        "texts_per_s": round(len(hashes) / encode_s, 1) if hashes and encode_s > 0 else None,
        "device": str(getattr(encoder, "device_", "unknown")),
        "dtype": str(dtype).removeprefix("torch.") if dtype is not None else "unknown",
        "model_id": model_id,
    }


def make_encoder(model: Any) -> Any:
    """The :class:`~cx_core.text.encoder.TextEncoder` for a :class:`~cx_core.config.ModelConfig`
    (passed explicitly: the config is read at the edges); torch loads here, the weights on the
    first encode."""
    from cx_core.text.encoder import TextEncoder

    if model is None:
        raise ValueError("No text encoder given: pass an encoder or the model config section.")
    return TextEncoder.from_config(model)


def load_review_embeddings(
    ws: Workspace, model_id: str, dataset_id: str | None = None
) -> tuple[list[str], np.ndarray]:
    """Review ids and their cached vectors for ``model_id`` (optionally one dataset).

    Rows are ordered by (dataset_id, review_id); reviews without a cached vector
    are left out, so run :func:`embed_reviews` first.
    """
    frame, X = load_review_frame(ws, model_id, dataset_id, ("review_id",))
    return frame["review_id"].tolist(), X


def load_review_frame(
    ws: Workspace,
    model_id: str,
    dataset_id: str | None = None,
    columns: Sequence[str] = ("dataset_id", "review_id", "text"),
) -> tuple[pd.DataFrame, np.ndarray]:
    """``columns`` of the reviews with a cached vector for ``model_id`` and their matrix.

    Ordered by (dataset_id, review_id, text_hash) so runs are reproducible; reviews
    without a cached vector are left out.
    """
    cols = ", ".join(f"r.{quote_ident(c)}" for c in columns)
    sql = (
        f"SELECT {cols}, e.vec FROM reviews r JOIN embeddings e "
        "ON e.text_hash = r.text_hash AND e.model_id = ?"
    )
    params: list[Any] = [model_id]
    if dataset_id is not None:
        sql += " WHERE r.dataset_id = ?"
        params.append(dataset_id)
    sql += " ORDER BY r.dataset_id, r.review_id, r.text_hash"
    with ws.cursor() as cur:
        tbl = cur.sql(sql, params=params).to_arrow_table()
    return tbl.drop_columns(["vec"]).to_pandas(), _vectors_from_arrow(tbl.column("vec"))
