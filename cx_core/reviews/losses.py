"""The review model's joint training objective: one loss per head, class-balanced, and the
targets of a batch as tensors (shared by frozen training and top-layer tuning)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from cx_core.reviews.model import MULTICLASS, ReviewModel

#: loss weight of each head in the joint objective
HEAD_WEIGHTS = {"sentiment": 1.0, "rating": 0.5, "aspects": 0.5, "risk": 0.5}


def balanced_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """``n / (k * count_c)`` for each class over the known (>= 0) targets (1.0 when absent)."""
    y = y[y >= 0]
    counts = np.bincount(y, minlength=n_classes).astype(float)
    w = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 1.0)
    return torch.tensor(w, dtype=torch.float32)


def positive_weights(y: np.ndarray, cap: float = 10.0) -> torch.Tensor:
    """BCE ``pos_weight`` per label: negatives / positives, capped (rare labels count more)."""
    pos = y.sum(0)
    w = np.where(pos > 0, (len(y) - pos) / np.maximum(pos, 1), 1.0)
    return torch.tensor(np.clip(w, 1.0, cap), dtype=torch.float32)


@dataclass
class _Losses:
    """The per-head loss functions built from the training targets."""

    fns: dict[str, nn.Module] = field(default_factory=dict)

    @classmethod
    def build(cls, model: ReviewModel, targets: dict[str, np.ndarray], balanced: bool) -> "_Losses":
        """One loss per head that has targets (class-balanced when ``balanced``)."""
        fns: dict[str, nn.Module] = {}
        for head, labels in model.heads_.items():
            if head not in targets:
                continue
            y = targets[head]
            if model.head_kinds_[head] == MULTICLASS:
                w = balanced_weights(y, len(labels)) if balanced else None
                fns[head] = nn.CrossEntropyLoss(weight=w, ignore_index=-1)
            else:
                pw = positive_weights(y) if balanced else None
                fns[head] = nn.BCEWithLogitsLoss(pos_weight=pw)
        return cls(fns)

    def __call__(self, logits: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The weighted sum of the head losses on one batch."""
        total = torch.zeros(())
        for head, fn in self.fns.items():
            y = batch[head]
            if y.dtype == torch.int64 and not (y >= 0).any():
                continue
            total = total + HEAD_WEIGHTS.get(head, 0.5) * fn(logits[head], y)
        return total


def loss_functions(model: ReviewModel, targets: dict[str, np.ndarray], balanced: bool) -> _Losses:
    """The joint loss (a callable ``(logits, target_tensors) -> loss``) for ``targets``."""
    return _Losses.build(model, targets, balanced)


def target_tensors(data: Any, idx: np.ndarray) -> dict[str, torch.Tensor]:
    """The targets of rows ``idx`` as tensors (long for classes, float for multi-label)."""
    out = {}
    for head, y in data.targets.items():
        t = torch.as_tensor(y[idx])
        out[head] = t.long() if y.ndim == 1 else t.float()
    return out


def optimizer_step(optimizers: list[tuple[torch.optim.Optimizer, Any]], loss: torch.Tensor) -> None:
    """One training step: clear the gradients, back-propagate ``loss``, step every optimizer and
    its learning-rate schedule."""
    for opt, _ in optimizers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt, sched in optimizers:
        opt.step()
        sched.step()
