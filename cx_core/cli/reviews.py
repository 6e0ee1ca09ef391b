"""Review commands for ``python -m cx_core``: ``train``, ``evaluate`` and ``score``.

``train`` fits the multi-task review model (frozen or finetune mode) on the
workspace's reviews, evaluates it against TF-IDF + LR on a held-out split and
saves it; ``evaluate`` prints those metrics as JSON; ``score`` writes
``review_scores`` for every review with the newest (or a named) model.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

from cx_core.cli.common import progress_bar as _progress
from cx_core.store.db import Workspace


def _model_dir(ws: Workspace, args: Any) -> str:
    from pathlib import Path

    from cx_core.reviews.store import latest_model_dir

    if getattr(args, "model", None):
        return args.model
    found = latest_model_dir(ws)
    if found is None:
        raise ValueError("No trained review model yet: run `python -m cx_core train` first.")
    return str(Path(found))


def cmd_train(ws: Workspace, args: Any, cfg: Any) -> int:
    """Train, evaluate against the baseline, save; prints the model id and the key metrics."""
    from cx_core.pipeline.graph import run_named
    from cx_core.reviews.report import baseline_label, data_notes, language_warning, per_class_table

    settings = {"mode": args.mode or cfg.reviews.mode, "dataset_id": args.dataset}
    res = run_named("review_model", ws, cfg, _progress, settings=settings).output
    m = res.metrics
    print(
        f"model_id: {res.model.model_id_}\nmodel_dir: {res.model_dir}\n"
        f"sentiment_method: {m['sentiment_method']}\nreviews: train {m['n_train']:,}, "
        f"held out {m['n_test']:,}"
    )
    for note in data_notes(m):
        print(note)
    if language_warning(m):
        print(f"WARNING: {language_warning(m)}")
    if "sentiment" in m:
        ours, base = m["sentiment"], m.get("baseline", {})
        print(
            f"sentiment macro-F1: ours {ours['macro_f1']}, baseline {base.get('macro_f1')} "
            f"({baseline_label(base) if base else 'no baseline'})"
        )
        print(per_class_table(m).to_string(index=False))
    return 0


def cmd_evaluate(ws: Workspace, args: Any, cfg: Any) -> int:
    """Print the held-out metrics (ours vs baseline) of the newest or a named model as JSON."""
    from cx_core.reviews.model import read_metrics

    metrics = read_metrics(_model_dir(ws, args))
    if not metrics:
        raise ValueError("this model folder has no metrics.json")
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_score(ws: Workspace, args: Any, cfg: Any) -> int:
    """Score every review with the newest (or a named) model into review_scores."""
    from cx_core.pipeline.graph import run_named

    settings = {"model_dir": _model_dir(ws, args), "dataset_id": args.dataset}
    res = run_named("review_scores", ws, cfg, _progress, settings=settings).output
    print(json.dumps(res.metrics, indent=2, default=str))
    return 0


def register(subparsers: Any) -> dict[str, Callable[..., int]]:
    """Add the review sub-commands; returns their handlers."""
    t = subparsers.add_parser("train", help="train the review model (sentiment, rating, aspects, risk)")
    t.add_argument(
        "--mode",
        choices=("frozen", "finetune"),
        default=None,
        help="frozen: heads on cached embeddings (default, fast); finetune: also the top encoder "
        "block(s), trained on cached lower-layer states (reviews.finetune_layers)",
    )
    t.add_argument("--dataset", help="train on one dataset id (default: every review)")
    e = subparsers.add_parser("evaluate", help="print held-out metrics of a review model (ours vs baseline)")
    e.add_argument("--model", help="model folder (default: the newest trained model)")
    s = subparsers.add_parser("score", help="score every review into review_scores")
    s.add_argument("--model", help="model folder (default: the newest trained model)")
    s.add_argument("--dataset", help="score one dataset id (default: every review)")
    return {"train": cmd_train, "evaluate": cmd_evaluate, "score": cmd_score}


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: python -m cx_core train|evaluate|score")
