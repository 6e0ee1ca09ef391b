"""Weak labels for the heads that have no human labels: aspects and complaint risk.

Kept apart from the model on purpose: a labeller turns texts (and their
embeddings) into 0/1 targets, so user corrections can later replace these
targets without touching the model or the trainer.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from cx_core.reviews.model import RISK_LABELS

#: complaint / churn-risk flags and the phrases that raise them
RISK_PATTERNS: dict[str, str] = {
    "refund": r"\brefund(?:ed|s|ing)?\b|money back",
    "return": (
        r"\b(?:return(?:ed|ing|s)?|send(?:ing)? (?:it |this |them )?back"
        r"|sent (?:it |this |them )?back)\b"
    ),
    "cancel": r"\bcancel+(?:ed|ing|lation|s)?\b",
    "never_again": (
        r"\bnever (?:again|buy|order|purchase|shop)|\b(?:won'?t|will not|wouldn'?t) "
        r"(?:buy|order|purchase|shop|be (?:buying|ordering|back))|\blast time i\b"
        r"|\bdo not (?:buy|recommend)\b|\bdon'?t (?:buy|waste)\b"
    ),
    "damaged": r"\b(?:damaged|defective|broken|torn|ripped|came apart|fell apart|holes?)\b",
}
_RISK_RE = {k: re.compile(v, re.IGNORECASE) for k, v in RISK_PATTERNS.items()}


def seed_pattern(seeds: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive whole-word pattern matching any seed phrase."""
    parts = sorted({re.escape(s.strip().lower()) for s in seeds if s.strip()}, key=len, reverse=True)
    if not parts:
        return re.compile(r"(?!x)x")
    return re.compile(r"\b(?:" + "|".join(parts) + r")\b", re.IGNORECASE)


class AspectLabeller:
    """Aspect labels from seed phrases, widened by embedding similarity to each aspect.

    A review gets aspect *a* when one of *a*'s seed phrases occurs in it, or when
    its embedding is at least ``min_similarity`` close to *a*'s prototype (the
    mean embedding of the seed phrases) and among the ``top_share`` most similar
    reviews of the batch.
    """

    def __init__(
        self, taxonomy: dict[str, list[str]], min_similarity: float = 0.45, top_share: float = 0.05
    ) -> None:
        self.taxonomy = taxonomy
        self.min_similarity = min_similarity
        self.top_share = top_share

    def fit(self, seed_vectors: dict[str, np.ndarray] | None = None) -> "AspectLabeller":
        """Compile the seed patterns; ``seed_vectors`` (aspect -> (n_seeds, dim)) gives prototypes."""
        self.aspects_ = list(self.taxonomy)
        self.patterns_ = {a: seed_pattern(s) for a, s in self.taxonomy.items()}
        self.prototypes_ = None
        if seed_vectors:
            protos = np.stack([seed_vectors[a].mean(0) for a in self.aspects_])
            self.prototypes_ = protos / np.linalg.norm(protos, axis=1, keepdims=True).clip(1e-9)
        return self

    def match(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, n_aspects)`` 0/1: a seed phrase occurs in the text."""
        out = np.zeros((len(texts), len(self.aspects_)), np.float32)
        for j, a in enumerate(self.aspects_):
            pat = self.patterns_[a]
            out[:, j] = [bool(pat.search(t or "")) for t in texts]
        return out

    def transform(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """Weak labels ``(n, n_aspects)``: seed matches, plus close embeddings when available."""
        labels = self.match(texts)
        if embeddings is None or self.prototypes_ is None or not len(texts):
            return labels
        sims = embeddings @ self.prototypes_.T
        cut = np.quantile(sims, 1 - self.top_share, axis=0)
        close = (sims >= np.maximum(cut, self.min_similarity)).astype(np.float32)
        return np.maximum(labels, close)


class RiskLabeller:
    """Complaint / churn-risk flags from phrases, and ``at_risk`` from flags or low ratings.

    ``at_risk`` is 1 when a rating of ``low_rating`` or less was given, or when a
    ``refund``, ``cancel`` or ``never_again`` phrase occurs (returns and damage
    alone are common in happy reviews of clothes, so they do not count).
    """

    def __init__(
        self, low_rating: float = 2.0, strong_flags: tuple[str, ...] = ("refund", "cancel", "never_again")
    ) -> None:
        self.low_rating = low_rating
        self.strong_flags = strong_flags

    def fit(self) -> "RiskLabeller":
        """Nothing to learn; returns self (estimator habit)."""
        self.labels_ = list(RISK_LABELS)
        return self

    def flags(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, n_flags)`` 0/1 for the flags after ``at_risk`` in :data:`RISK_LABELS`."""
        names = RISK_LABELS[1:]
        out = np.zeros((len(texts), len(names)), np.float32)
        for j, name in enumerate(names):
            out[:, j] = [bool(_RISK_RE[name].search(t or "")) for t in texts]
        return out

    def transform(self, texts: Sequence[str], ratings: Sequence[float] | None = None) -> np.ndarray:
        """``(n, len(RISK_LABELS))`` weak labels (``at_risk`` first)."""
        flags = self.flags(texts)
        strong = [RISK_LABELS[1:].index(f) for f in self.strong_flags]
        at_risk = flags[:, strong].max(axis=1) if strong else np.zeros(len(texts), np.float32)
        if ratings is not None:
            r = np.asarray(ratings, dtype=float)
            at_risk = np.maximum(at_risk, np.nan_to_num(r, nan=99.0) <= self.low_rating)
        return np.column_stack([at_risk, flags]).astype(np.float32)
