"""Shared pieces of the scale tests: review rows, the tiny encoder and a saved tiny review model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cx_core.config import ModelConfig

PHRASES = (
    "Great fit and lovely fabric",
    "Too expensive for the quality",
    "The price is fair but it runs small",
    "Arrived damaged, never again",
    "Comfortable, true to size, would buy again",
    "Colour faded after one wash; poor quality",
)


def review_rows(n: int = 120) -> pd.DataFrame:
    """``n`` reviews with repeated texts (cache hits), a blank text and ids in a column of their own."""
    texts = [f"{PHRASES[i % len(PHRASES)]}{'' if i % 4 == 0 else f' (order {i})'}" for i in range(n)]
    texts[3] = ""
    return pd.DataFrame(
        {
            "Review ID": [f"r{i:04d}" for i in range(n)],
            "Review Text": texts,
            "Rating": [1 + i % 5 for i in range(n)],
        }
    )


def tiny_model_config(root: Path) -> ModelConfig:
    """The encoder section that builds the same tiny encoder as ``tiny_text_encoder(root)``."""
    from cx_core.reviews.testing import tiny_encoder_dir

    return ModelConfig(
        model_dir=tiny_encoder_dir(root),
        device="cpu",
        dtype="float32",
        max_length=64,
        batch_tokens=512,
        threads=1,
    )


def save_tiny_review_model(root: Path) -> str:
    """A saved (untrained) frozen review model on the tiny encoder; returns its folder."""
    from cx_core.reviews.testing import tiny_review_model

    out = root / "review_model"
    if not (out / "config.json").is_file():
        model = tiny_review_model(root)
        model.model_id_ = "rm_scale_test"
        model.save(out)
    return str(out)


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray with 2 CPUs and no dashboard, started once for every Ray test (each start costs
    tens of seconds on 2 cores) and shut down at the end of the session."""
    ray = pytest.importorskip("ray")
    from cx_core.scale.run import connect

    assert connect(None, 2)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def scale_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module-wide folder with the tiny encoder and review model written once."""
    root = tmp_path_factory.mktemp("scale")
    save_tiny_review_model(root)
    return root


def write_run_without_ray(rows: pd.DataFrame, out: Path, root: Path, dataset_id: str, parts: int = 2) -> dict:
    """A finished run folder made by the worker functions in this process (no Ray): shards,
    manifest. Lets the import be tested fast; the Ray tests make the same folder on Ray."""
    import pyarrow.parquet as pq

    from cx_core.reviews.model import load_review_model
    from cx_core.scale.manifest import FORMAT, count_shards, shard_dir, write_manifest
    from cx_core.scale.run import review_model_info
    from cx_core.scale.worker import EmbedScoreWorker

    model_dir = save_tiny_review_model(root)
    worker = EmbedScoreWorker(
        tiny_model_config(root),
        model_dir,
        None,
        {"dataset_id": None, "review_id": "Review ID", "text": "Review Text"},
        dataset_id,
    )
    assert load_review_model(model_dir).model_id_ == "rm_scale_test"
    shard_dir(out).mkdir(parents=True)
    step = -(-len(rows) // parts)
    for k in range(parts):
        pq.write_table(
            worker(rows.iloc[k * step : (k + 1) * step].reset_index(drop=True)),
            shard_dir(out) / f"part-{k}.parquet",
        )
    counts = count_shards(out)
    manifest = {
        "format": FORMAT,
        "run_id": f"sc_test_{out.name}",
        "review_model": review_model_info(model_dir),
        "counts": counts,
        "seconds": 1.0,
        "ray_version": "none",
    }
    write_manifest(out, manifest)
    return manifest


def order_rows(customers: int = 160, seed: int = 3) -> pd.DataFrame:
    """Order lines of ``customers`` customers over about two years (repeat buyers, returns, some
    churners), sorted by customer id so the in-process customer order is the sorted one."""
    import numpy as np

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    rows = []
    for c in range(customers):
        first = int(rng.integers(0, 500))
        stop = first + int(rng.integers(0, 730 - first)) if rng.random() < 0.6 else 729
        rate = float(rng.uniform(0.005, 0.06))
        day, k = first, 0
        while day <= stop:
            for line in range(int(rng.integers(1, 3))):
                amount = round(float(rng.gamma(2.0, 20.0)), 2)
                is_return = bool(rng.random() < 0.05 and k > 0)
                ts = start + pd.Timedelta(days=day, hours=int(rng.integers(8, 20)))
                rows.append((f"c{c:04d}", f"o{c:04d}-{k}", ts, -amount if is_return else amount, is_return))
            k += 1
            day += max(1, int(rng.exponential(1 / rate)))
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "ts", "amount", "is_return"])
