"""Shared by the segment tests: a demo workspace with real MiniLM vectors, and a small encoder.

The real encoder embeds the demo store's review texts once per pytest process
(:func:`real_demo_vectors` is cached), and every test workspace gets those
vectors copied into its embedding cache, so ``run_segmentation`` reads them
instead of encoding again.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

import numpy as np

from cx_core.config import Config, load_config
from cx_core.ingest.bootstrap import load_demo
from cx_core.store.db import Workspace
from cx_core.text.embeddings import store_vectors, text_hash

#: the demo store the integration tests segment (seed, customers)
DEMO_SEED, DEMO_CUSTOMERS = 7, 800


class BowEncoder:
    """A real, tiny encoder: hashed bag of words, L2-normalised (64-D). For fast unit tests."""

    dim_ = 64

    def identify(self) -> str:
        return "test-bow:64:f32"

    def encode(self, texts, progress=None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim_), np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", (t or "").lower()):
                out[i, int(hashlib.md5(w.encode()).hexdigest()[:6], 16) % self.dim_] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        if progress:
            progress(len(texts), len(texts))
        return out


def demo_config(root: Path, seed: int = DEMO_SEED, customers: int = DEMO_CUSTOMERS) -> Config:
    """A config whose workspace and demo folder live under ``root``."""
    return load_config(
        env={},
        db__path=str(root / "ws.duckdb"),
        demo__dir=str(root / "demo"),
        ingest__upload_dir=str(root / "uploads"),
        demo__seed=seed,
        demo__customers=customers,
        model__threads=1,
    )


@functools.lru_cache(maxsize=4)
def real_demo_vectors(
    seed: int = DEMO_SEED, customers: int = DEMO_CUSTOMERS
) -> tuple[str, list[str], np.ndarray]:
    """(model id, text hashes, MiniLM vectors) of the demo store's review texts (once per process)."""
    import torch

    from cx_core.ingest.demo import generate_demo
    from cx_core.text.encoder import TextEncoder

    torch.set_num_threads(1)
    texts = sorted(set(generate_demo(seed=seed, n_customers=customers).reviews["review_text"]))
    enc = TextEncoder(threads=1)
    return enc.identify(), [text_hash(t) for t in texts], enc.encode(texts)


def demo_workspace(
    root: Path, seed: int = DEMO_SEED, customers: int = DEMO_CUSTOMERS, vectors: bool = True
) -> tuple[Workspace, Config]:
    """A workspace under ``root`` with the demo store loaded (and its real vectors cached)."""
    cfg = demo_config(root, seed, customers)
    ws = Workspace.open(cfg.db)
    load_demo(ws, cfg)
    if vectors:
        model_id, hashes, vecs = real_demo_vectors(seed, customers)
        store_vectors(ws, model_id, hashes, vecs)
    return ws, cfg
