"""Benchmark per-review explanations (integrated gradients) on real review texts.

Model: the packaged all-MiniLM-L6-v2 + mean pooling + a 3-class sentiment head
fitted (logistic regression, balanced) on ``--fit`` clothing reviews (ratings 1-2
negative, 3 neutral, 4-5 positive); ``--lexical D`` adds a hashed word-piece
embedding as a second attribution layer (the wide-and-deep shape).
Texts: ``--n`` other clothing reviews of 55-65 words (the "60-word review").

For each text, in the same run:

* ours: :func:`cx_core.explain.integrated.explain_review` with the default
  settings (Gauss-Legendre, 12 points over 2 path segments; segments doubled
  while |delta| > 5 % of the logit gap, at most 24 points);
* the baseline: Captum's ``LayerIntegratedGradients`` with its default settings
  (``n_steps=50``, Gauss-Legendre) on the same layers, baseline and target;
* delta vs n_steps: ours with a fixed number of steps (no doubling), on one
  segment (plain Gauss-Legendre, as Captum) and on two, the relative |delta| and
  the agreement (Pearson r, top-5 words) with the 50-step baseline.

Wall and process CPU seconds are both reported (the machine may be shared):
medians over the texts. Prints one JSON object. Usage:
``python bench/explain.py [--n 10] [--fit 600] [--threads 0] [--lexical 0] [--model-dir DIR]``
(``--model-dir``: explain the sentiment head of a review model saved by ``cx_core.reviews``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cx_core.explain.integrated import (
    IGSettings,
    encode_review,
    explain_review,  # noqa: E402
    pad_baseline,
    torch_threads,
)
from cx_core.explain.reference import EncoderHeadModel, load_minilm  # noqa: E402
from cx_core.text.encoder import cpu_model_name  # noqa: E402

SHARED = Path(os.environ.get("CX_SHARED_DATA", ROOT.parent / "shared" / "data"))
CLOTHING = SHARED / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz"
SENTIMENT = ["negative", "neutral", "positive"]


def load_reviews(seed: int) -> pd.DataFrame:
    """Clothing reviews with text and a 3-class sentiment label from the rating, shuffled."""
    df = pd.read_csv(CLOTHING, usecols=["Review Text", "Rating"]).dropna()
    df = df.rename(columns={"Review Text": "text", "Rating": "rating"})
    df["label"] = np.select([df.rating <= 2, df.rating == 3], [0, 1], 2)
    df["words"] = df.text.str.split().str.len()
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def load_saved(model_dir: str) -> tuple[object, float]:
    """A review model saved by ``cx_core.reviews`` (its sentiment head is explained)."""
    from cx_core.explain.loader import load_trained

    t0 = time.perf_counter()
    return load_trained(model_dir), time.perf_counter() - t0


def build_model(df: pd.DataFrame, n_fit: int, lexical: int) -> tuple[EncoderHeadModel, float]:
    """MiniLM + a sentiment head fitted on ``n_fit`` reviews (balanced per class)."""
    enc, tok = load_minilm()
    model = EncoderHeadModel(enc, tok, {"sentiment": SENTIMENT}, lexical_dim=lexical)
    per = n_fit // 3
    fit = pd.concat([g.head(per) for _, g in df.groupby("label")])
    t0 = time.perf_counter()
    feats = model.pooled_features(fit.text.tolist())
    model.fit_head("sentiment", feats, fit.label.to_numpy())
    return model, time.perf_counter() - t0


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, wall seconds, process CPU seconds)`` of one call."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def captum_default(model: EncoderHeadModel, text: str, target: int) -> np.ndarray:
    """Captum LayerIntegratedGradients, default settings, per-token scores (all layers)."""
    from captum.attr import LayerIntegratedGradients

    enc = encode_review(model, text, model.max_length)
    base = pad_baseline(model, enc)
    layers = model.attribution_layers()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lig = LayerIntegratedGradients(
            lambda ids, mask: model.forward_logits(ids, mask)["sentiment"],
            layers if len(layers) > 1 else layers[0],
        )
    attrs = lig.attribute(
        enc.input_ids, baselines=base, target=target, additional_forward_args=(enc.attention_mask,)
    )
    attrs = attrs if isinstance(attrs, list) else [attrs]
    return sum(a.detach().double().sum(-1)[0] for a in attrs).numpy()


def agreement(ours: np.ndarray, ref: np.ndarray, k: int = 5) -> tuple[float, float]:
    """Pearson r of token scores and the overlap of the top-k |score| tokens."""
    r = float(np.corrcoef(ours, ref)[0, 1]) if len(ours) > 2 else 1.0
    top = lambda a: set(np.argsort(-np.abs(a))[:k])  # noqa: E731
    return r, len(top(ours) & top(ref)) / k


def measure(
    model: Any, texts: list[str], grid_keys: list[tuple[int, int]], threads: int
) -> tuple[list[dict[str, Any]], dict[tuple[int, int], list[dict[str, Any]]]]:
    """Per text: ours (default settings), Captum's default, and ours at each fixed grid setting.

    Every variant runs with ``threads`` torch threads.
    """
    rows: list[dict[str, Any]] = []
    grid: dict[tuple[int, int], list[dict[str, Any]]] = {k: [] for k in grid_keys}
    for text in texts:
        ours, w, c = timed(lambda: explain_review(model, text, "sentiment", threads=threads))
        with torch_threads(threads):
            ref, bw, bc = timed(lambda: captum_default(model, text, ours.target_index))
        ours_tok = np.array([p[3] for p in ours.pieces])
        rows.append(
            dict(
                tokens=ours.n_tokens,
                wall=w,
                cpu=c,
                base_wall=bw,
                base_cpu=bc,
                steps=ours.n_steps,
                rel_delta=ours.relative_delta,
                gap=ours.logit - ours.baseline_logit,
                agree=agreement(ours_tok, ref),
            )
        )
        for seg, n in grid_keys:
            fixed, fw, fc = timed(
                lambda: explain_review(
                    model, text, "sentiment", n_steps=n, segments=seg, max_steps=n, threads=threads
                )
            )
            r, top5 = agreement(np.array([p[3] for p in fixed.pieces]), ref)
            grid[(seg, n)].append(dict(rel=fixed.relative_delta, wall=fw, cpu=fc, r=r, top5=top5))
    return rows, grid


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The benchmark; returns the JSON-able result."""
    threads = args.threads or torch.get_num_threads()
    df = load_reviews(args.seed)
    if args.model_dir:
        model, fit_s = load_saved(args.model_dir)
    else:
        model, fit_s = build_model(df, args.fit, args.lexical)
    test = df.iloc[args.fit * 2 :]
    texts = test[(test.words >= 55) & (test.words <= 65)].text.head(args.n).tolist()
    explain_review(model, texts[0], "sentiment")  # warm-up
    steps = [int(n) for n in args.steps.split(",")]
    keys = [(seg, n) for seg in (1, 2) for n in steps if n % seg == 0]
    rows, grid = measure(model, texts, keys, threads)
    return {
        "benchmark": "explain",
        "date": dt.date.today().isoformat(),
        "device": f"{cpu_model_name()} ({os.cpu_count()} cores), torch {torch.__version__}, "
        f"{threads} threads for every variant, fp32",
        "load_avg_start_end": [round(x, 2) for x in os.getloadavg()],
        "model": _model_label(args, model, fit_s),
        "texts": f"{len(texts)} clothing reviews of 55-65 words",
        "median_tokens": _med(rows, "tokens"),
        "ours": _ours_summary(rows),
        "baseline_captum_lig_default_n50": {
            "median_wall_s": _med(rows, "base_wall"),
            "median_cpu_s": _med(rows, "base_cpu"),
        },
        "speedup_wall": _med(rows, "base_wall") / _med(rows, "wall"),
        "speedup_cpu": _med(rows, "base_cpu") / _med(rows, "cpu"),
        "delta_vs_n_steps": {
            f"{n} steps, {seg} segment{'s' if seg > 1 else ''}": _grid_summary(g)
            for (seg, n), g in grid.items()
        },
        "python": platform.python_version(),
    }


def _med(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.median([x[key] for x in rows]))


def _model_label(args: argparse.Namespace, model: Any, fit_s: float) -> str:
    if args.model_dir:
        return (
            f"saved review model {model.model_id_} ({len(model.attribution_layers())} "
            f"attribution layers, loaded in {fit_s:.1f} s)"
        )
    lexical = f" + lexical dim {args.lexical}" if args.lexical else ""
    return f"all-MiniLM-L6-v2 + mean pool + sentiment head (LR on {args.fit} reviews, {fit_s:.1f} s){lexical}"


def _ours_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "settings": IGSettings().key(),
        "median_wall_s": _med(rows, "wall"),
        "median_cpu_s": _med(rows, "cpu"),
        "max_wall_s": max(x["wall"] for x in rows),
        "steps_used": sorted({x["steps"] for x in rows}),
        "median_rel_delta": _med(rows, "rel_delta"),
        "max_rel_delta": max(x["rel_delta"] for x in rows),
        "median_abs_logit_gap": float(np.median([abs(x["gap"]) for x in rows])),
        "pearson_r_vs_baseline_min": min(x["agree"][0] for x in rows),
        "top5_overlap_vs_baseline_mean": float(np.mean([x["agree"][1] for x in rows])),
    }


def _grid_summary(g: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "median_rel_delta": _med(g, "rel"),
        "max_rel_delta": max(x["rel"] for x in g),
        "median_wall_s": _med(g, "wall"),
        "median_cpu_s": _med(g, "cpu"),
        "min_pearson_r_vs_n50": min(x["r"] for x in g),
        "mean_top5_overlap_vs_n50": float(np.mean([x["top5"] for x in g])),
    }


def main() -> None:
    """Parse arguments, run, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10, help="review texts to explain")
    p.add_argument("--fit", type=int, default=600, help="reviews to fit the sentiment head on")
    p.add_argument(
        "--threads",
        type=int,
        default=IGSettings().threads,
        help="torch threads for ours and the baseline (0 = torch default)",
    )
    p.add_argument("--lexical", type=int, default=0, help="lexical embedding dim (0 = none)")
    p.add_argument("--steps", default="2,4,6,8,12,16,24,32", help="fixed n_steps to compare")
    p.add_argument("--model-dir", default="", help="explain a saved review model instead")
    p.add_argument("--seed", type=int, default=0)
    print(json.dumps(run(p.parse_args()), indent=2))


if __name__ == "__main__":
    main()
