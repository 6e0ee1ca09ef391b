"""Joint training of the review model's heads (frozen encoder or fine-tuned).

``ReviewTrainer`` follows scikit-learn habits: ``__init__`` stores settings,
``fit(model, data)`` trains and returns self with ``model_`` and ``history_``.
Frozen mode feeds cached sentence embeddings to the heads (the encoder never
runs). Finetune mode trains the encoder's top ``tune_layers`` blocks on cached
lower-layer states (:mod:`cx_core.reviews.tune`, early stopping on a slice of
the training rows); ``tune_layers=0`` runs the whole encoder with gradients on a
capped subset (the slow original finetune).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from cx_core.progress import Progress
from cx_core.reviews.losses import (
    balanced_weights,  # noqa: F401  (re-exported: older imports)
    loss_functions,
    optimizer_step,
    target_tensors,
)
from cx_core.reviews.model import ReviewModel


def sentiment_from_ratings(ratings: Sequence[float | None]) -> np.ndarray:
    """1-2 stars -> 0 (negative), 3 -> 1 (neutral), 4-5 -> 2 (positive); missing -> -1."""
    r = np.asarray([np.nan if v is None else v for v in ratings], dtype=float)
    out = np.full(len(r), -1, np.int64)
    out[r <= 2.5] = 0
    out[(r > 2.5) & (r < 3.5)] = 1
    out[r >= 3.5] = 2
    return out


def rating_classes(ratings: Sequence[float | None]) -> np.ndarray:
    """Star ratings rounded to classes 0..4 (1-5 stars); missing -> -1."""
    r = np.asarray([np.nan if v is None else v for v in ratings], dtype=float)
    out = np.full(len(r), -1, np.int64)
    ok = ~np.isnan(r)
    out[ok] = np.clip(np.rint(r[ok]), 1, 5).astype(np.int64) - 1
    return out


@dataclass
class TrainingSet:
    """Texts, optional cached sentence embeddings (frozen mode) and per-head targets.

    Multiclass targets are class indices with -1 for "unknown"; multilabel
    targets are ``(n, n_labels)`` 0/1 arrays.
    """

    texts: list[str]
    targets: dict[str, np.ndarray]
    deep: np.ndarray | None = None

    def subset(self, index: np.ndarray) -> "TrainingSet":
        """The rows ``index`` of every part."""
        return TrainingSet(
            [self.texts[i] for i in index],
            {h: t[index] for h, t in self.targets.items()},
            None if self.deep is None else self.deep[index],
        )


class ReviewTrainer:
    """Train a :class:`ReviewModel`'s heads jointly (see module docstring).

    ``mode`` "frozen" needs ``data.deep`` (cached embeddings of ``data.texts``);
    "finetune" trains the encoder too, on at most ``max_texts`` texts (0 = all)
    cut to the model's ``max_length``: its top ``tune_layers`` blocks on cached
    lower-layer states, in batches of at most ``batch_tokens`` padded tokens and
    ``batch_size`` texts, for at most ``epochs`` epochs, keeping the epoch that
    scores best on a ``val_share`` slice (at most ``val_max`` rows) of the training
    rows and stopping after ``patience`` epochs without gain or once training
    (lower-layer pass included) took ``time_budget_s`` (0: no limit; ``budget_clock``
    "wall", or "cpu": CPU seconds per thread, the time on idle cores) (``tune_layers=0``:
    the whole encoder, no cache). Frozen mode: small training sets get more
    epochs, up to ``min_steps`` optimiser steps in all.
    """

    def __init__(
        self,
        mode: str = "frozen",
        epochs: int = 6,
        batch_size: int = 64,
        lr: float = 3e-3,
        encoder_lr: float = 3e-5,
        weight_decay: float = 1e-4,
        dropout: float = 0.1,
        balanced: bool = True,
        max_texts: int = 0,
        min_steps: int = 0,
        seed: int = 0,
        tune_layers: int = 0,
        batch_tokens: int = 2048,
        val_share: float = 0.1,
        val_max: int = 2000,
        min_train: int = 200,
        patience: int = 1,
        time_budget_s: float = 0.0,
        budget_clock: str = "wall",
    ) -> None:
        self.mode = mode
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.encoder_lr = encoder_lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.balanced = balanced
        self.max_texts = max_texts
        self.min_steps = min_steps
        self.seed = seed
        self.tune_layers = tune_layers
        self.batch_tokens = batch_tokens
        self.val_share = val_share
        self.val_max = val_max
        self.min_train = min_train
        self.patience = patience
        self.time_budget_s = time_budget_s
        self.budget_clock = budget_clock

    def _check(self, model: ReviewModel, data: TrainingSet) -> None:
        if self.mode not in ("frozen", "finetune"):
            raise ValueError(f"mode must be 'frozen' or 'finetune', got {self.mode!r}")
        if self.mode != model.mode:
            raise ValueError(f"trainer mode {self.mode!r} does not match the model's {model.mode!r}")
        if self.mode == "frozen" and model.use_deep and data.deep is None:
            raise ValueError("frozen mode trains on cached embeddings: pass data.deep")
        if not data.texts:
            raise ValueError("no texts to train on")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")

    def optimizers(self, model: ReviewModel, steps: int) -> list[tuple[torch.optim.Optimizer, Any]]:
        """SparseAdam for the n-gram tables, AdamW for the heads (and the encoder when fine-tuning),
        each with a short warm-up and a linear decay."""
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        sparse = [p for n, p in named if n.startswith("lexical.")]
        dense = [
            {"params": [p for n, p in named if not n.startswith(("lexical.", "encoder."))], "lr": self.lr}
        ]
        if self.mode == "finetune":
            dense.append({"params": [p for n, p in named if n.startswith("encoder.")], "lr": self.encoder_lr})
        opts: list[torch.optim.Optimizer] = [torch.optim.AdamW(dense, weight_decay=self.weight_decay)]
        if sparse:
            opts.append(torch.optim.SparseAdam(sparse, lr=self.lr))
        warm = max(1, steps // 20)

        def schedule(s: int) -> float:
            return min(1.0, (s + 1) / warm) * max(0.0, 1 - s / max(steps, 1))

        return [(o, torch.optim.lr_scheduler.LambdaLR(o, schedule)) for o in opts]

    def fit(
        self,
        model: ReviewModel,
        data: TrainingSet,
        progress: Progress | None = None,
        epoch_hook: Any = None,
    ) -> "ReviewTrainer":
        """Train ``model`` in place on ``data``; returns self (``model_``, ``history_``).

        ``epoch_hook(model, epoch) -> dict`` is called after each top-layer tuning epoch
        (see :class:`cx_core.reviews.tune.TopLayerFit`)."""
        self._check(model, data)
        rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        if self.max_texts and len(data.texts) > self.max_texts:
            data = data.subset(np.sort(rng.choice(len(data.texts), self.max_texts, replace=False)))
        if self.mode == "finetune" and self.tune_layers > 0:
            return self._fit_top_layers(model, data, progress, epoch_hook)
        losses = loss_functions(model, data.targets, self.balanced)
        n = len(data.texts)
        per_epoch = math.ceil(n / self.batch_size)
        epochs = max(self.epochs, math.ceil(self.min_steps / per_epoch))  # small data: more passes
        optimizers = self.optimizers(model, per_epoch * epochs)
        drop = nn.Dropout(self.dropout)
        history, start = [], time.perf_counter()
        model.train()
        if self.mode == "frozen":
            model.encoder.eval()
        for epoch in range(epochs):
            order, total = rng.permutation(n), 0.0
            for step, lo in enumerate(range(0, n, self.batch_size)):
                idx = order[lo : lo + self.batch_size]
                loss = losses(self._logits(model, data, idx, drop), target_tensors(data, idx))
                optimizer_step(optimizers, loss)
                total += loss.item() * len(idx)
                if progress is not None:
                    done = (epoch * per_epoch + step + 1) / (per_epoch * epochs)
                    progress(done, f"epoch {epoch + 1}/{epochs}, loss {loss.item():.3f}")
            history.append(
                {
                    "epoch": epoch + 1,
                    "loss": round(total / n, 5),
                    "seconds": round(time.perf_counter() - start, 2),
                }
            )
        model.eval()
        self.model_, self.history_, self.n_train_, self.epochs_ = model, history, n, epochs
        return self

    def _fit_top_layers(
        self, model: ReviewModel, data: TrainingSet, progress: Progress | None, epoch_hook: Any
    ) -> "ReviewTrainer":
        from cx_core.reviews.tune import TopLayerFit

        run = TopLayerFit(self).fit(model, data, progress, epoch_hook)
        self.model_, self.history_, self.n_train_ = model, run.history_, run.n_train_
        self.epochs_, self.best_epoch_ = len(run.history_), run.best_epoch_
        self.val_rows_, self.cache_s_ = run.val_rows_, run.cache_s_
        return self

    def _logits(
        self, model: ReviewModel, data: TrainingSet, idx: np.ndarray, drop: nn.Module
    ) -> dict[str, torch.Tensor]:
        ids, mask = model.tokenize([data.texts[i] for i in idx])
        ids, mask = ids.to(model.device), mask.to(model.device)
        deep = None
        if model.use_deep:
            if self.mode == "frozen":
                deep = torch.as_tensor(data.deep[idx], dtype=torch.float32, device=model.device)
            else:
                deep = model.deep_features(ids, mask)
            deep = drop(deep)
        lex = drop(model.lexical_features(ids, mask)) if model.lexical is not None else None
        return model.logits_from_features(deep, lex)
