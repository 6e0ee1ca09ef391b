"""Benchmark the Segments page's "why" word lists: cost per review and agreement with Captum defaults.

Model: the packaged all-MiniLM-L6-v2 + a 3-class sentiment head fitted on ``--fit`` clothing reviews
(as ``bench/explain.py``), or a saved review model (``--model-dir``). Segments: the clothing
reviews' own departments (Tops, Dresses, Bottoms, ...) stand in for segments, ``--per`` reviews
each (seeded), so the benchmark needs no clustering run.

In the same run, on the same reviews:

* ours: :func:`cx_core.explain.batch.explain_batch` on ``logit(positive) - logit(negative)``,
  16 Gauss-Legendre points, one review per call, then
  :func:`cx_core.segments.reasons.aggregate` into per-segment word lists;
* the baseline a user would write: Captum ``LayerIntegratedGradients`` with its defaults
  (50 steps) on the same output and layers, on the first ``--baseline-n`` reviews of each segment;
  the same aggregation over its scores.

Reports seconds per review (wall and CPU), the speed ratio, Pearson r of token scores, the overlap of
each segment's top-8 words, and the projected time of 200 reviews x 10 segments. Prints JSON.

    nice -n 5 python bench/segment_reasons.py [--per 40] [--segments 4] [--baseline-n 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from explain import CLOTHING, build_model, load_saved  # noqa: E402

from cx_core.explain.batch import BatchSettings, explain_batch  # noqa: E402
from cx_core.explain.integrated import encode_review, pad_baseline, torch_threads  # noqa: E402
from cx_core.explain.words import merge_pieces  # noqa: E402
from cx_core.segments.reasons import aggregate  # noqa: E402
from cx_core.text.encoder import cpu_model_name  # noqa: E402


def segments(per: int, k: int, seed: int) -> pd.DataFrame:
    """``per`` seeded reviews of each of the ``k`` largest departments: segment_id, text."""
    df = pd.read_csv(CLOTHING, usecols=["Review Text", "Department Name"]).dropna()
    df = df.rename(columns={"Review Text": "text", "Department Name": "dept"})
    top = df["dept"].value_counts().index[:k]
    parts = [df[df.dept == d].sample(per, random_state=seed).assign(segment_id=i) for i, d in enumerate(top)]
    return pd.concat(parts, ignore_index=True)


def captum_margin(model, text: str):
    """Captum LayerIntegratedGradients (defaults) of logit(positive) - logit(negative)."""
    from captum.attr import LayerIntegratedGradients

    from cx_core.explain.integrated import Explanation

    labels = model.heads_["sentiment"]
    pos, neg = labels.index("positive"), labels.index("negative")
    enc = encode_review(model, text, 128)
    layers = list(model.attribution_layers())

    def margin(ids, mask):
        z = model.forward_logits(ids, mask)["sentiment"]
        return z[:, pos] - z[:, neg]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lig = LayerIntegratedGradients(margin, layers if len(layers) > 1 else layers[0])
    attrs = lig.attribute(
        enc.input_ids, baselines=pad_baseline(model, enc), additional_forward_args=(enc.attention_mask,)
    )
    attrs = attrs if isinstance(attrs, list) else [attrs]
    values = sum(a.detach().double().sum(-1)[0] for a in attrs).tolist()
    words, _ = merge_pieces(text, enc.offsets, values, enc.seen_until if enc.truncated else None)
    return Explanation("integrated_gradients", "", "sentiment", "positive vs negative", pos, text, words, [])


def top_sets(lists: pd.DataFrame) -> dict[tuple[int, str], set[str]]:
    """Each (segment, direction)'s listed words."""
    return {k: set(g["word"]) for k, g in lists.groupby(["segment_id", "direction"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per", type=int, default=40)
    p.add_argument("--segments", type=int, default=4)
    p.add_argument("--baseline-n", type=int, default=10)
    p.add_argument("--fit", type=int, default=600)
    p.add_argument("--model-dir", default="")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    torch.set_num_threads(1)
    load_start = [round(x, 2) for x in os.getloadavg()]
    if args.model_dir:
        model, _ = load_saved(args.model_dir)
    else:
        from explain import load_reviews

        model, _ = build_model(load_reviews(args.seed), args.fit, 0)
    model.model_id_ = getattr(model, "model_id_", "bench")
    data = segments(args.per, args.segments, args.seed)
    cfg = BatchSettings(n_steps=16, max_length=128, batch_size=1, threads=1)
    explain_batch(
        model, data.text.head(1).tolist(), "sentiment", "positive", cfg, against="negative"
    )  # warm-up
    ours, w0, c0 = [], time.perf_counter(), time.process_time()
    for text in data.text:
        ours += explain_batch(model, [text], "sentiment", "positive", cfg, against="negative")
    ours_wall, ours_cpu = time.perf_counter() - w0, time.process_time() - c0
    base_rows = data.groupby("segment_id").head(args.baseline_n)
    base, w0, c0 = [], time.perf_counter(), time.process_time()
    with torch_threads(1):
        for text in base_rows.text:
            base.append(captum_margin(model, text))
    base_wall, base_cpu = time.perf_counter() - w0, time.process_time() - c0
    ours_sub = [ours[i] for i in base_rows.index]
    r = [
        float(np.corrcoef([w.score or 0 for w in a.words], [w.score or 0 for w in b.words])[0, 1])
        for a, b in zip(ours_sub, base)
        if len(a.words) > 2
    ]
    full = aggregate(data.segment_id, ours)
    ours_lists = top_sets(aggregate(base_rows.segment_id, ours_sub))
    base_lists = top_sets(aggregate(base_rows.segment_id, base))
    overlap = [len(ours_lists[k] & base_lists.get(k, set())) / max(len(ours_lists[k]), 1) for k in ours_lists]
    per_review = ours_wall / len(data)
    out = {
        "benchmark": "segment_reasons",
        "date": dt.date.today().isoformat(),
        "device": f"{cpu_model_name()} ({os.cpu_count()} cores), torch {torch.__version__}, 1 thread, fp32",
        "load_avg_start_end": [load_start, [round(x, 2) for x in os.getloadavg()]],
        "model": args.model_dir or f"MiniLM + sentiment head fitted on {args.fit} clothing reviews",
        "reviews": len(data),
        "segments": args.segments,
        "ours": {
            "s_per_review_wall": round(per_review, 3),
            "s_per_review_cpu": round(ours_cpu / len(data), 3),
            "steps": cfg.n_steps,
            "median_rel_delta": round(
                float(np.median([abs(e.delta) / max(abs(e.logit - e.baseline_logit), 0.05) for e in ours])), 4
            ),
        },
        "baseline_captum_lig_default_n50": {
            "reviews": len(base),
            "s_per_review_wall": round(base_wall / len(base), 3),
            "s_per_review_cpu": round(base_cpu / len(base), 3),
        },
        "speedup_wall": round((base_wall / len(base)) / per_review, 2),
        "speedup_cpu": round((base_cpu / len(base)) / (ours_cpu / len(data)), 2),
        "token_pearson_r_median": round(float(np.median(r)), 4),
        "top8_overlap_mean": round(float(np.mean(overlap)), 3),
        "projected_min_200_reviews_x_10_segments": round(per_review * 2000 / 60, 1),
        "example_lists": {
            f"{s}/{d}": g.sort_values("rank")["word"].tolist()[:8]
            for (s, d), g in full.groupby(["segment_id", "direction"])
        },
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
