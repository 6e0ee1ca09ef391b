"""Benchmark the text encoder against sentence-transformers on real review texts.

Takes ``--n`` (default 20,000) non-empty review texts: the women's clothing
reviews' ``Review Text`` plus the Amazon Musical Instruments ``reviewText`` (both
in ../shared/data), shuffled with a fixed seed. On the same device, in the same
run, it times

* ours: ``cx_core.text.encoder.TextEncoder.encode`` (token-sorted dynamic batches,
  fast tokenizer, prefetching thread, auto dtype), and
* the baseline: ``sentence_transformers.SentenceTransformer(<same local dir>,
  device=...).encode(texts, batch_size=..., normalize_embeddings=True)``,

and reports texts/s of both, their ratio and the cosine agreement of the two
embeddings. Both are warmed up on a few texts first; model loading is not timed.
The texts are timed in ``--rounds`` slices, alternating which encoder goes first,
and both wall and process CPU time are reported (the machine may be shared).

Prints one JSON object. Usage:
``python bench/embed.py [--n 20000] [--threads 0] [--device auto] [--dtype auto]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cx_core.text.encoder import (
    CHUNK_TEXTS,
    TextEncoder,
    cpu_has_native_bf16,  # noqa: E402
    cpu_model_name,
    default_model_dir,
    dtype_name,
    plan_batches,
)

SHARED = Path(os.environ.get("CX_SHARED_DATA", ROOT.parent / "shared" / "data"))
CLOTHING = SHARED / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz"
AMAZON = SHARED / "amazon_musical_instruments" / "reviews_Musical_Instruments_5.json.gz"


def load_texts(n: int, seed: int) -> list[str]:
    """``n`` non-empty real review texts (clothing + Amazon), shuffled with ``seed``."""
    clothing = pd.read_csv(CLOTHING, usecols=["Review Text"])["Review Text"]
    with gzip.open(AMAZON, "rt", encoding="utf-8") as f:
        amazon = pd.Series([json.loads(line).get("reviewText") for line in f])
    texts = pd.concat([clothing, amazon]).dropna().astype(str)
    texts = texts[texts.str.strip() != ""].tolist()
    if n > len(texts):
        raise SystemExit(f"only {len(texts)} non-empty texts available, asked for {n}")
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.permutation(len(texts))[:n]]


def padded_tokens(texts: list[str], lengths: np.ndarray, batch_size: int, budget: int) -> dict[str, float]:
    """Padded / real tokens: ours (token-sorted budget batches, as in the encoder's chunks)
    and the baseline's (sorted by characters, ``batch_size`` rows per batch)."""
    real = int(lengths.sum())
    order = np.argsort([-len(t) for t in texts], kind="stable")
    base = sum(
        int(lengths[b].max()) * len(b)
        for b in (order[i : i + batch_size] for i in range(0, len(order), batch_size))
    )
    ours = 0
    for c in range(0, len(order), CHUNK_TEXTS):
        chunk = lengths[order[c : c + CHUNK_TEXTS]]
        ours += sum(int(chunk[rows].max()) * len(rows) for rows in plan_batches(chunk, budget))
    return {"ours": round(ours / real, 4), "baseline": round(base / real, 4)}


def timed(fn: Callable[[], Any], device: torch.device) -> tuple[Any, float, float]:
    """Result of ``fn``, its wall seconds and the process CPU seconds (all threads)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start, time.process_time() - cpu


def run_rounds(
    texts: list[str],
    rounds: int,
    base_fn: Callable[[list[str]], np.ndarray],
    ours_fn: Callable[[list[str]], np.ndarray],
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Both encoders on ``rounds`` equal slices, alternating which goes first (ABBA), so
    a change in the machine's load during the run hits both alike."""
    base_parts, ours_parts = [], []
    t = {"base_s": 0.0, "base_cpu_s": 0.0, "ours_s": 0.0, "ours_cpu_s": 0.0}
    for r, idx in enumerate(np.array_split(np.arange(len(texts)), rounds)):
        part = [texts[i] for i in idx]
        for who in ("base", "ours") if r % 2 == 0 else ("ours", "base"):
            out, wall, cpu = timed(lambda: (base_fn if who == "base" else ours_fn)(part), device)
            (base_parts if who == "base" else ours_parts).append(np.asarray(out, np.float32))
            t[f"{who}_s"] += wall
            t[f"{who}_cpu_s"] += cpu
    return np.concatenate(base_parts), np.concatenate(ours_parts), t


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print (and return) the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20_000, help="number of texts")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--dtype", default="auto", help="our dtype: auto, float32, bfloat16, float16")
    ap.add_argument("--batch-tokens", type=int, default=0, help="our token budget (0: auto)")
    ap.add_argument(
        "--baseline-batch-size",
        type=int,
        default=32,
        help="sentence-transformers batch_size (its default is 32)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="slices timed alternately (ABBA) to spread load changes over both",
    )
    args = ap.parse_args(argv)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model_dir = default_model_dir()
    texts = load_texts(args.n, args.seed)
    load_before = os.getloadavg()

    ours = TextEncoder(
        model_dir=model_dir,
        device=args.device,
        dtype=args.dtype,
        batch_tokens=args.batch_tokens,
        threads=args.threads,
    ).load()
    device = ours.device_
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(model_dir, device=str(device))
    warm = texts[:64]
    st.encode(warm, batch_size=args.baseline_batch_size, normalize_embeddings=True)
    ours.encode(warm)

    batches = []
    base, mine, t = run_rounds(
        texts,
        args.rounds,
        lambda part: st.encode(part, batch_size=args.baseline_batch_size, normalize_embeddings=True),
        lambda part: ours.encode(part, progress=lambda d, n: batches.append(d)),
        device,
    )
    base_s, ours_s = t["base_s"], t["ours_s"]
    cos = (base * mine).sum(1)
    lengths = np.fromiter((len(e.ids) for e in ours._fast_.encode_batch_fast(texts)), np.int64)
    padding = padded_tokens(texts, lengths, args.baseline_batch_size, ours.batch_tokens_)

    result = {
        "benchmark": "text encoder vs sentence-transformers (all-MiniLM-L6-v2)",
        "n_texts": len(texts),
        "tokens_total": int(lengths.sum()),
        "tokens_mean": round(float(lengths.mean()), 1),
        "truncated_texts": int((lengths >= ours.max_length_).sum()),
        "ours_texts_per_s": round(len(texts) / ours_s, 1),
        "baseline_texts_per_s": round(len(texts) / base_s, 1),
        "speedup": round(base_s / ours_s, 3),
        "speedup_cpu_time": round(t["base_cpu_s"] / t["ours_cpu_s"], 3),
        "ours_s": round(ours_s, 2),
        "baseline_s": round(base_s, 2),
        "ours_cpu_s": round(t["ours_cpu_s"], 2),
        "baseline_cpu_s": round(t["base_cpu_s"], 2),
        "rounds": args.rounds,
        "cosine_min": round(float(cos.min()), 7),
        "cosine_mean": round(float(cos.mean()), 8),
        "ours_padded_over_real_tokens": padding["ours"],
        "baseline_padded_over_real_tokens": padding["baseline"],
        "device": str(device),
        "dtype": dtype_name(ours.dtype_),
        "baseline_dtype": dtype_name(next(st.parameters()).dtype),
        "batch_tokens": ours.batch_tokens_,
        "batches": len(batches),
        "baseline_batch_size": args.baseline_batch_size,
        "max_length": ours.max_length_,
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_model_name(),
        "cpu_native_bf16": cpu_has_native_bf16(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "model_id": ours.model_id_,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
