"""The training modes offered on the Model page: time each would take on this machine, and which
one won the last time both were trained on the same reviews.

Estimates use measured rates only: the encoder speed this machine recorded while embedding
(:mod:`cx_core.text.speed`, full forward passes per second) and, once a mode has trained here,
its own measured seconds per training review. Finetune mode runs the lower encoder blocks once
and the top ``finetune_layers`` blocks forward and backward (about three forward passes) for each
epoch, so before its first run it is estimated from the encoder speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cx_core.config import ReviewsConfig
from cx_core.reviews.store import list_models

MODES = ("frozen", "finetune")
#: seconds per training review and epoch of the heads on cached embeddings (measured: 206 s for
#: 18,112 reviews x 6 epochs on a loaded 2-core EPYC) when no frozen training was timed here yet
FROZEN_S_PER_TEXT_EPOCH = 0.002
ENCODER_LAYERS = 6


@dataclass(frozen=True)
class ModeResult:
    """The newest training of one mode on one set of reviews."""

    mode: str
    model_id: str
    macro_f1: float | None
    accuracy: float | None
    train_s: float | None
    train_texts: int | None


def mode_results(ws: Any, dataset_key: str = "all") -> dict[str, ModeResult]:
    """Newest trained model per mode on ``dataset_key`` (trainings without held-out metrics count)."""
    out: dict[str, ModeResult] = {}
    models = list_models(ws)
    for row in models.itertuples():
        mode = (row.config or {}).get("mode")
        if row.dataset_key != dataset_key or mode not in MODES or mode in out:
            continue
        m = row.metrics or {}
        s = m.get("sentiment") or {}
        out[mode] = ModeResult(
            mode,
            str(row.model_id),
            s.get("macro_f1"),
            s.get("accuracy"),
            m.get("train_s"),
            m.get("train_texts") or m.get("n_train"),
        )
    return out


def winner(results: dict[str, ModeResult]) -> str | None:
    """The mode with the best held-out sentiment macro-F1, once at least two modes were trained."""
    scored = {k: r.macro_f1 for k, r in results.items() if r.macro_f1 is not None}
    if len(scored) < 2:
        return None
    return max(scored, key=lambda k: (scored[k], k == "frozen"))  # a tie goes to the cheaper mode


def training_seconds(
    mode: str, n_train: int, cfg: ReviewsConfig, encode_rate: float | None, measured: ModeResult | None
) -> float | None:
    """Estimated training seconds of ``mode`` on ``n_train`` reviews (None: nothing measured yet)."""
    if measured is not None and measured.train_s and measured.train_texts:
        secs = measured.train_s * n_train / measured.train_texts
    elif mode == "frozen":
        secs = n_train * cfg.epochs * FROZEN_S_PER_TEXT_EPOCH
    elif not encode_rate:
        return None
    else:
        k = cfg.finetune_layers or ENCODER_LAYERS
        n = min(n_train, cfg.finetune_max_texts or n_train)
        passes = (ENCODER_LAYERS - min(k, ENCODER_LAYERS)) / ENCODER_LAYERS
        passes += cfg.finetune_epochs * 3 * min(k, ENCODER_LAYERS) / ENCODER_LAYERS
        secs = n * passes / encode_rate
    if mode == "finetune" and cfg.finetune_minutes:
        secs = min(secs, cfg.finetune_minutes * 60)
    return secs


def scoring_seconds(mode: str, n_test: int, encode_rate: float | None) -> float:
    """Held-out scoring: finetune mode runs the whole (tuned) encoder over the held-out reviews."""
    return n_test / encode_rate if mode == "finetune" and encode_rate else 0.0


def estimate_modes(
    ws: Any,
    cfg: ReviewsConfig,
    n_reviews: int,
    embed_seconds: float | None,
    encode_rate: float | None,
    dataset_key: str = "all",
) -> dict[str, float | None]:
    """Seconds each mode should take on this machine for ``n_reviews`` (embedding the texts not
    embedded yet included; None where nothing was measured yet)."""
    results = mode_results(ws, dataset_key)
    n_test = int(round(n_reviews * cfg.test_share))
    out: dict[str, float | None] = {}
    for mode in MODES:
        train = training_seconds(mode, n_reviews - n_test, cfg, encode_rate, results.get(mode))
        if train is None or embed_seconds is None:
            out[mode] = None
        else:
            out[mode] = embed_seconds + train + scoring_seconds(mode, n_test, encode_rate)
    return out


def describe_seconds(secs: float | None) -> str:
    """``about 12 min`` / ``about 40 s`` / ``time measured on the first run``."""
    if secs is None:
        return "time measured on the first run"
    return f"about {secs / 60:.0f} min" if secs >= 90 else f"about {max(secs, 1):.0f} s"
