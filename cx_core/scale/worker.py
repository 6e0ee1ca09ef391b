"""The work of one batch: embed the texts not cached yet, score every review, one Arrow table out.

:func:`embed_score_batch` is a plain function (tested without Ray, and the reference the Ray path is
compared with); :class:`EmbedScoreWorker` is the Ray Data actor around it: it loads the encoder, the
optional review model and the known-vector cache once per actor, then runs batch after batch. The
encoder packs each batch into its own token-budget model calls.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cx_core.config import DbConfig, ModelConfig

#: score columns of a shard (those of ``review_scores`` without run, dataset, review and model ids)
SCORE_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("sentiment_method", pa.string()),
    ("sentiment", pa.string()),
    ("p_negative", pa.float64()),
    ("p_neutral", pa.float64()),
    ("p_positive", pa.float64()),
    ("sentiment_score", pa.float64()),
    ("rating_pred", pa.float64()),
    ("aspects", pa.list_(pa.string())),
    ("aspect_sentiment_json", pa.string()),
    ("risk", pa.float64()),
    ("risk_flags", pa.list_(pa.string())),
)
#: columns every shard starts with
ROW_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("dataset_id", pa.string()),
    ("review_id", pa.string()),
    ("text_hash", pa.string()),
    ("model_id", pa.string()),
    ("cached", pa.bool_()),
    ("encoded", pa.bool_()),
    ("scored", pa.bool_()),
)


def shard_schema(dim: int, with_scores: bool) -> pa.Schema:
    """The Arrow schema of a shard: row fields, ``vector`` (FLOAT[dim], NULL when cached), scores."""
    fields = [*ROW_FIELDS, ("vector", pa.list_(pa.float32(), dim))]
    return pa.schema(fields + (list(SCORE_FIELDS) if with_scores else []))


@dataclass
class KnownVectors:
    """Text hashes already embedded for the encoder (the workspace's cache), vectors optional."""

    hashes: set[str] = field(default_factory=set)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def __contains__(self, text_hash: str) -> bool:
        return text_hash in self.hashes


def load_known(path: str | None) -> KnownVectors:
    """The known-hash Parquet (``text_hash`` and optionally ``vec``); empty when ``path`` is None."""
    if not path:
        return KnownVectors()
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    hashes = table.column("text_hash").to_pylist()
    vectors: dict[str, np.ndarray] = {}
    if "vec" in table.column_names and table.num_rows:
        vectors = dict(zip(hashes, vector_matrix(table.column("vec"))))
    return KnownVectors(set(hashes), vectors)


def vector_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A (fixed-size) list-of-float column as a float32 matrix ``(rows, dim)``."""
    lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(lists)
    flat = lists.flatten().to_numpy(zero_copy_only=False)
    if rows and flat.size % rows:
        raise ValueError("vectors of different lengths")
    return np.ascontiguousarray(flat, dtype=np.float32).reshape(rows, flat.size // rows if rows else 0)


def normalise_rows(
    batch: pd.DataFrame, mapping: dict[str, str | None], dataset_id: str | None
) -> pd.DataFrame:
    """A batch of source rows as ``dataset_id, review_id, text`` strings (None/NaN text -> "")."""
    from cx_core.text.encoder import clean_texts

    n = len(batch)
    ds = (
        batch[mapping["dataset_id"]].astype(str).tolist()
        if mapping.get("dataset_id")
        else [dataset_id or ""] * n
    )
    ids = batch[mapping["review_id"]]
    if ids.isna().any():
        raise ValueError(f"{int(ids.isna().sum())} rows have no review id (column {mapping['review_id']!r}).")
    return pd.DataFrame(
        {
            "dataset_id": ds,
            "review_id": ids.astype(str).tolist(),
            "text": clean_texts(batch[mapping["text"]].tolist()),
        }
    )


def _vector_column(vectors: np.ndarray, keep: np.ndarray, dim: int) -> pa.Array:
    """FLOAT[dim] column of ``vectors`` with NULL where ``keep`` is False."""
    values = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    return pa.FixedSizeListArray.from_arrays(values, dim, mask=pa.array(~keep))


def _score_columns(rows: pd.DataFrame, deep: np.ndarray | None, model: Any, scratch: Any) -> pd.DataFrame:
    """Score columns for every row (NULL for blank texts), as the in-process scoring computes them."""
    from cx_core.reviews.pipeline import heads_proba
    from cx_core.reviews.score import clause_sentiment, score_frame

    names = [n for n, _ in SCORE_FIELDS]
    pos = np.flatnonzero(rows["text"].str.strip().str.len().to_numpy() > 0)
    if not len(pos):
        return pd.DataFrame(index=range(len(rows)), columns=names)
    part = rows.iloc[pos].reset_index(drop=True)
    texts = part["text"].tolist()
    proba = heads_proba(model, texts, None if deep is None else deep[pos])
    frame = score_frame(model, part, proba, clause_sentiment(scratch, model, texts), run_id="")
    return frame[names].set_axis(pos).reindex(range(len(rows)))


def embed_score_batch(
    rows: pd.DataFrame,
    encoder: Any,
    model: Any = None,
    known: KnownVectors | None = None,
    scratch: Any = None,
) -> pa.Table:
    """Embed and (with a review ``model``) score one batch of ``dataset_id, review_id, text`` rows.

    Texts whose hash is in ``known`` are not embedded again (their ``vector`` is NULL, ``cached``
    True) unless scoring needs a vector the cache file does not hold; identical texts are encoded
    once. ``scratch`` is a workspace for the clause-vector cache of aspect sentiment (an in-memory
    one per worker). Returns one row per input row, in input order (:func:`shard_schema`).
    """
    from cx_core.text.embeddings import text_hash

    known = known or KnownVectors()
    texts = rows["text"].tolist()
    hashes = [text_hash(t) for t in texts]
    cached = np.fromiter((h in known for h in hashes), bool, len(hashes))
    model_id = encoder.identify()
    dim = int(encoder.dim_)
    vectors = np.zeros((len(texts), dim), np.float32)
    shared_features = model is not None and model.use_deep and model.mode != "finetune"
    need = [h for h, c in zip(hashes, cached) if not c or (shared_features and h not in known.vectors)]
    first = {h: texts[i] for i, h in reversed(list(enumerate(hashes)))}
    unique = list(dict.fromkeys(need))
    if unique:
        got = dict(zip(unique, np.asarray(encoder.encode([first[h] for h in unique]), np.float32)))
    else:
        got = {}
    for i, h in enumerate(hashes):
        vec = got.get(h)
        vectors[i] = vec if vec is not None else known.vectors.get(h, 0.0)
    out = {
        "dataset_id": rows["dataset_id"].tolist(),
        "review_id": rows["review_id"].tolist(),
        "text_hash": hashes,
        "model_id": [model_id] * len(rows),
        "cached": cached,
        "encoded": ~cached,
        "scored": np.zeros(len(rows), bool),
    }
    table = pa.table(out, schema=pa.schema(list(ROW_FIELDS)))
    table = table.append_column(
        pa.field("vector", pa.list_(pa.float32(), dim)), _vector_column(vectors, ~cached, dim)
    )
    if model is None:
        return table
    deep = vectors if shared_features else None
    scores = _score_columns(rows, deep, model, scratch)
    table = table.set_column(
        table.schema.get_field_index("scored"),
        "scored",
        pa.array(scores["sentiment"].notna().to_numpy(), pa.bool_()),
    )
    score_table = pa.Table.from_pandas(
        scores.reset_index(drop=True), schema=pa.schema(list(SCORE_FIELDS)), preserve_index=False
    )
    for name, column in zip(score_table.column_names, score_table.columns):
        table = table.append_column(score_table.schema.field(name), column)
    return table


def scratch_workspace() -> Any:
    """An in-memory workspace (schema only) for a worker's clause-vector cache."""
    from cx_core.store.db import Workspace

    return Workspace.open(DbConfig(path=":memory:", memory_limit="256MB", threads=1))


class EmbedScoreWorker:
    """A Ray Data actor: one encoder (+ optional review model) load, then ``__call__`` per batch.

    ``model`` is the encoder section; with a frozen ``review_model_dir`` the review model's own
    encoder embeds (so vectors and scores come from one forward pass) and must be the same model.
    """

    def __init__(
        self,
        model: ModelConfig,
        review_model_dir: str | None,
        known_path: str | None,
        mapping: dict[str, str | None],
        dataset_id: str | None,
        device: str = "cpu",
        stats_dir: str | None = None,
    ) -> None:
        start = time.perf_counter()
        self.stats = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "device": device,
            "batches": 0,
            "rows": 0,
            "busy_s": 0.0,
        }
        self.stats_dir = stats_dir
        self.mapping, self.dataset_id = mapping, dataset_id
        self.model = None
        if review_model_dir:
            from cx_core.reviews.model import load_review_model

            self.model = load_review_model(review_model_dir, device=device)
        self.encoder = worker_encoder(model, self.model, device)
        self.encoder.load()
        self.known = load_known(known_path)
        self.scratch = scratch_workspace() if self.model is not None else None
        self.stats["load_s"] = round(time.perf_counter() - start, 3)

    def __call__(self, batch: pd.DataFrame) -> pa.Table:
        """Embed and score one batch of source rows."""
        start = time.perf_counter()
        rows = normalise_rows(batch, self.mapping, self.dataset_id)
        out = embed_score_batch(rows, self.encoder, self.model, self.known, self.scratch)
        self.stats["batches"] += 1
        self.stats["rows"] += len(rows)
        self.stats["busy_s"] = round(self.stats["busy_s"] + time.perf_counter() - start, 3)
        self.write_stats()
        return out

    def write_stats(self) -> None:
        """This worker's counts and peak RSS (MiB) to ``stats_dir/<host>-<pid>.json``."""
        if not self.stats_dir:
            return
        self.stats["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        path = Path(self.stats_dir) / f"{self.stats['host']}-{self.stats['pid']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.stats), encoding="utf-8")


def worker_encoder(model: ModelConfig, review_model: Any, device: str) -> Any:
    """The encoder a worker embeds with: the frozen review model's own (checked to be the configured
    model), else a :class:`TextEncoder` built from ``model`` on ``device``."""
    from cx_core.text.encoder import TextEncoder

    encoder = TextEncoder(
        model_dir=model.model_dir,
        device=device,
        dtype=model.dtype,
        max_length=model.max_length,
        batch_tokens=model.batch_tokens,
        threads=model.threads,
    )
    if review_model is not None and review_model.mode != "finetune":
        own = review_model.text_encoder_
        if own.identify() != encoder.identify():
            raise ValueError(
                f"The review model was trained on encoder {own.identify()}, but the run "
                f"embeds with {encoder.identify()}: give --model-dir of the model's encoder."
            )
        own.batch_tokens_ = encoder.batch_tokens_
        if model.threads:
            own.threads = model.threads
        return own
    return encoder
