"""Sentiment benchmark: our review model vs TF-IDF + logistic regression, and zero-shot.

Prints one JSON object. Datasets (read by path from ../shared/data):

* clothing: Women's E-Commerce Clothing Reviews, 3 classes from ratings (1-2 negative,
  3 neutral, 4-5 positive), exact-duplicate texts dropped, stratified 80/20 split,
  seed 42; the review model is trained jointly with its rating, aspect and risk
  heads, as in the app.
* sst2: SST-2 train -> dev, binary labels: the model gets a binary sentiment head
  (as the app does for a binary label field); train texts that repeat a dev text
  (or another train text) are dropped; ``--sst2-train`` subsamples train.

Baselines on the same split: TF-IDF word 1-2 grams (sublinear tf) + logistic
regression, naive (C = 1, no class weights) and the honest one (balanced class
weights, C by 3-fold CV over 0.25-64). Every row reports per-class F1.

Ablation (frozen mode): deep only (MiniLM embedding), wide only (hashed n-grams),
both (the default model). Finetune mode tunes the encoder's top ``--tune-layers``
blocks on cached lower-layer states (texts cut at ``--finetune-length`` tokens), with
early stopping on a slice of the training split and a ``--finetune-budget`` in
seconds; after every epoch the held-out split is scored from the cached states too,
which gives the curve (training seconds vs macro-F1 / accuracy) in ``curve`` (reported
only: the epoch kept is chosen on the training slice). The final finetune numbers come
from the ordinary full forward pass. Embeddings are cached in a workspace file
(``--cache``, default under /tmp) and reused across runs. Every row reports its
threads and the load average before and after.

    python bench/sentiment.py --datasets clothing --variants deep,wide,both,zero-shot
    python bench/sentiment.py --datasets sst2 --sst2-train 0 --variants both,finetune --threads 2
    python bench/sentiment.py --datasets clothing --variants finetune --finetune-texts 2000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cx_core.reviews import evaluate as ev  # noqa: E402
from cx_core.reviews.model import (
    BINARY_SENTIMENT_LABELS,
    SENTIMENT_LABELS,  # noqa: E402
    build_review_model,
)
from cx_core.reviews.pipeline import build_targets, heads_proba  # noqa: E402
from cx_core.reviews.taxonomy import DEFAULT_TAXONOMY  # noqa: E402
from cx_core.reviews.train import ReviewTrainer, TrainingSet  # noqa: E402
from cx_core.reviews.weak import AspectLabeller  # noqa: E402
from cx_core.reviews.zeroshot import (
    prompt_texts,
    prototypes,
    split_prompt_vectors,  # noqa: E402
    zero_shot_proba,
)
from cx_core.store.db import Workspace  # noqa: E402
from cx_core.store.schema import ensure_schema  # noqa: E402
from cx_core.text.embeddings import embed_texts_cached  # noqa: E402
from cx_core.text.encoder import TextEncoder, cpu_model_name  # noqa: E402

DATA = Path(os.environ.get("CX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_clothing(train_max: int = 0) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int]:
    """Texts, ratings, the 80/20 stratified split (seed 42) of the clothing reviews (the training
    part optionally subsampled, seed 0; the test part always whole) and the number of
    exact-duplicate texts dropped first."""
    df = pd.read_csv(DATA / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz")
    df = df.dropna(subset=["Review Text"])
    dupes = ev.duplicate_mask(df["Review Text"].astype(str).tolist())
    df = df[~dupes]
    texts, ratings = df["Review Text"].astype(str).tolist(), df["Rating"].to_numpy(float)
    from cx_core.reviews.train import sentiment_from_ratings

    train, test = ev.split_indices(sentiment_from_ratings(ratings), 0.2, 42)
    if train_max and len(train) > train_max:
        train = np.sort(np.random.default_rng(0).choice(train, train_max, replace=False))
    keep = np.sort(np.concatenate([train, test]))  # embed only the texts in use
    pos = np.full(len(texts), -1)
    pos[keep] = np.arange(len(keep))
    texts, ratings = [texts[i] for i in keep], ratings[keep]
    return texts, ratings, pos[train], pos[test], int(dupes.sum())


def load_sst2(train_max: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int]:
    """SST-2 train (deduplicated, no dev text; optionally subsampled, seed 0) then dev;
    ratings 1 (neg) / 5 (pos); and how many train texts were dropped as duplicates."""
    read = lambda f: pd.read_csv(DATA / "sst2" / f, sep="\t", quoting=3)  # noqa: E731
    tr, dv = read("train.tsv"), read("dev.tsv")
    dupes = ev.duplicate_mask(dv["sentence"].astype(str).tolist() + tr["sentence"].astype(str).tolist())
    keep = ~dupes[len(dv) :]
    tr = tr[keep]
    if train_max and len(tr) > train_max:
        tr = tr.sample(n=train_max, random_state=0)
    texts = tr["sentence"].astype(str).tolist() + dv["sentence"].astype(str).tolist()
    ratings = np.concatenate([tr["label"], dv["label"]]).astype(float) * 4 + 1
    return texts, ratings, np.arange(len(tr)), np.arange(len(tr), len(texts)), int((~keep).sum())


def labels_for(name: str) -> list[str]:
    """The sentiment head's labels on a dataset (SST-2 is binary)."""
    return list(BINARY_SENTIMENT_LABELS if name == "sst2" else SENTIMENT_LABELS)


def sentiment_scores(name: str, y: np.ndarray, proba: np.ndarray) -> dict:
    """Accuracy / macro-F1 / AUC / per-class F1 in the dataset's label space; a 3-column
    (zero-shot) output on SST-2 is scored on negative vs positive."""
    if name == "sst2" and proba.shape[1] == 3:
        proba = proba[:, [0, 2]]
    m = ev.classification_metrics(y, proba, labels_for(name))
    out = {k: m.get(k) for k in ("accuracy", "macro_f1", "auc_ovr", "confusion")}
    out["per_class"] = {
        c: {k: v.get(k) for k in ("precision", "recall", "f1")} for c, v in m.get("per_class", {}).items()
    }
    out["f1_per_class"] = {c: v["f1"] for c, v in m.get("per_class", {}).items()}
    return out


def load_now() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def curve_hook(name: str, model, test_texts: list[str], y: np.ndarray, first: int):
    """An epoch hook scoring the held-out texts from cached lower-layer states (built once)."""
    from cx_core.reviews.tune import build_cache, cached_proba

    cache: list = []

    def hook(m, epoch: int) -> dict:
        if not cache:
            cache.append(build_cache(m, test_texts, first))
        proba = cached_proba(m, cache[0], np.arange(len(test_texts)))["sentiment"]
        s = sentiment_scores(name, y, proba)
        row = {"epoch": epoch, "test_accuracy": s["accuracy"], "test_macro_f1": s["macro_f1"]}
        row["load"] = load_now()
        print(json.dumps({name: {"curve_point": row}}), file=sys.stderr, flush=True)
        return row

    return hook


def train_variant(
    name: str,
    variant: str,
    encoder: TextEncoder,
    data: TrainingSet,
    train: np.ndarray,
    test: np.ndarray,
    args: argparse.Namespace,
) -> dict:
    """Train one variant on ``train`` and score sentiment on ``test``."""
    torch.manual_seed(0)
    mode = "finetune" if variant == "finetune" else "frozen"
    kwargs = {"use_deep": variant != "wide", "lexical_dim": 0 if variant == "deep" else args.lexical_dim}
    if mode == "finetune":
        kwargs["max_length"] = args.finetune_length
    model = build_review_model(
        encoder,
        list(DEFAULT_TAXONOMY),
        mode=mode,
        with_rating=name == "clothing",
        sentiment_labels=labels_for(name),
        **kwargs,
    )
    trainer = (
        ReviewTrainer(
            mode=mode,
            epochs=args.finetune_epochs,
            batch_size=64,
            max_texts=args.finetune_texts,
            seed=0,
            tune_layers=args.tune_layers,
            batch_tokens=args.batch_tokens,
            encoder_lr=args.finetune_lr,
            time_budget_s=args.finetune_budget,
            budget_clock="cpu",
        )
        if mode == "finetune"
        else ReviewTrainer(epochs=args.epochs, batch_size=64, seed=0)
    )
    test_rows = test if mode == "frozen" or not args.finetune_test else test[: args.finetune_test]
    tdata = data.subset(test_rows)
    hook = None
    if mode == "finetune" and args.tune_layers > 0:
        from cx_core.reviews.tune import first_tuned_layer

        first = first_tuned_layer(model, args.tune_layers)
        hook = curve_hook(name, model, tdata.texts, tdata.targets["sentiment"], first)
    load_before, start = load_now(), time.perf_counter()
    trainer.fit(model, data.subset(train), epoch_hook=hook)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    proba = heads_proba(model, tdata.texts, tdata.deep)["sentiment"]
    out = sentiment_scores(name, tdata.targets["sentiment"], proba)
    out.update(
        train_texts=trainer.n_train_,
        test_texts=len(test_rows),
        epochs=trainer.epochs,
        train_s=round(train_s, 1),
        predict_s=round(time.perf_counter() - start, 1),
        threads=torch.get_num_threads(),
        load_before=load_before,
        load_after=load_now(),
    )
    if mode == "finetune":
        out.update(
            max_length=args.finetune_length,
            tune_layers=args.tune_layers,
            encoder_lr=args.finetune_lr,
            epochs=trainer.epochs_,
            best_epoch=getattr(trainer, "best_epoch_", None),
            validation_texts=len(getattr(trainer, "val_rows_", [])),
            cache_s=getattr(trainer, "cache_s_", None),
            curve=trainer.history_,
        )
        if hook is not None:  # training seconds without the curve's test scoring
            out["train_s"] = trainer.history_[-1]["seconds"]
    return out


def run_dataset(name: str, args: argparse.Namespace, ws: Workspace, encoder: TextEncoder) -> dict:
    """Baselines, zero-shot and the requested variants on one dataset."""
    texts, ratings, train, test, dupes = (
        load_clothing(args.clothing_train) if name == "clothing" else load_sst2(args.sst2_train)
    )
    start = time.perf_counter()
    deep = embed_texts_cached(ws, encoder, texts)
    embed_s = time.perf_counter() - start
    seeds = [s for a in DEFAULT_TAXONOMY.values() for s in a]
    sv = embed_texts_cached(ws, encoder, seeds)
    split_seeds, lo = {}, 0
    for a, s in DEFAULT_TAXONOMY.items():
        split_seeds[a], lo = sv[lo : lo + len(s)], lo + len(s)
    labeller = AspectLabeller(DEFAULT_TAXONOMY).fit(split_seeds)
    targets = build_targets(texts, ratings, deep, labeller)
    if name == "sst2":
        targets.pop("rating")
        targets["sentiment"] = (targets["sentiment"] == 2).astype(np.int64)  # binary coding
    data = TrainingSet(texts, targets, deep)
    y = targets["sentiment"]
    out: dict = {
        "train": int(len(train)),
        "test": int(len(test)),
        "duplicates_removed": dupes,
        "embed_s_uncached_part": round(embed_s, 1),
        "results": {},
    }
    tr_texts, te_texts = [texts[i] for i in train], [texts[i] for i in test]
    for key, balanced in (("tfidf_lr", False), ("tfidf_lr_balanced_cv", True)):
        load_before, start = load_now(), time.perf_counter()
        proba, c = ev.baseline_proba(
            tr_texts, y[train], te_texts, len(labels_for(name)), balanced=balanced, tune_c=balanced
        )
        out["results"][key] = {
            **sentiment_scores(name, y[test], proba),
            "C": c,
            "seconds": round(time.perf_counter() - start, 1),
            "train_texts": int(len(train)),
            "load_before": load_before,
            "load_after": load_now(),
        }
        print(json.dumps({name: {key: out["results"][key]}}), file=sys.stderr, flush=True)
    for variant in args.variants:
        if variant == "zero-shot":
            protos = prototypes(split_prompt_vectors(embed_texts_cached(ws, encoder, prompt_texts())))
            out["results"]["zero-shot"] = sentiment_scores(name, y[test], zero_shot_proba(deep[test], protos))
        else:
            out["results"][variant] = train_variant(name, variant, encoder, data, train, test, args)
        print(json.dumps({name: {variant: out["results"].get(variant)}}), file=sys.stderr, flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="clothing,sst2")
    p.add_argument(
        "--variants", default="both,deep,wide,zero-shot", help="any of both, deep, wide, zero-shot, finetune"
    )
    p.add_argument("--cache", default="/tmp/cx_bench_sentiment.duckdb", help="embedding cache workspace")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lexical-dim", type=int, default=32)
    p.add_argument("--clothing-train", type=int, default=0, help="subsample clothing train (0 = all)")
    p.add_argument("--sst2-train", type=int, default=12000, help="subsample SST-2 train (0 = all 60k)")
    p.add_argument("--finetune-texts", type=int, default=0, help="cap training texts (0 = all)")
    p.add_argument("--finetune-length", type=int, default=128)
    p.add_argument("--finetune-epochs", type=int, default=4, help="at most (early stopping)")
    p.add_argument(
        "--tune-layers", type=int, default=1, help="top encoder blocks trained (0 = all, no cache)"
    )
    p.add_argument("--batch-tokens", type=int, default=2048)
    p.add_argument("--finetune-lr", type=float, default=1e-4, help="learning rate of the tuned blocks")
    p.add_argument(
        "--finetune-budget",
        type=float,
        default=1200,
        help="training seconds at most, counted as CPU seconds per thread (the time on idle cores)",
    )
    p.add_argument("--finetune-test", type=int, default=0, help="cap test texts in finetune (0 = all)")
    args = p.parse_args()
    args.variants = [v for v in args.variants.split(",") if v]
    torch.set_num_threads(args.threads)
    ws = Workspace(args.cache, memory_limit="1GB", threads=1)
    ensure_schema(ws)
    encoder = TextEncoder(threads=args.threads).load()
    out = {
        "device": f"{cpu_model_name()} (CPU, {args.threads} torch thread(s), {os.cpu_count()} cores)",
        "load_start": load_now(),
        "args": vars(args),
        "torch": torch.__version__,
        "encoder": encoder.identify(),
        "datasets": {},
    }
    for name in args.datasets.split(","):
        out["datasets"][name] = run_dataset(name, args, ws, encoder)
    out["load_end"] = load_now()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
