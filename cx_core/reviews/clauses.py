"""Aspect-level sentiment: split a review into clauses and score each clause that names an aspect.

"Love the fabric but shipping took weeks" becomes two clauses; the first
mentions quality, the second delivery, and each clause's sentiment (scored by
the same model) is that aspect's sentiment in the review.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_CONTRAST = re.compile(
    r"\s*(?:,\s*)?\b(?:but|however|although|though|whereas|yet|except)\b\s*", re.IGNORECASE
)
MIN_CLAUSE_CHARS = 3


def split_clauses(text: str | None) -> list[str]:
    """Sentences, further cut before contrast words (but, however, although, ...)."""
    out: list[str] = []
    for sentence in _SENTENCE.split(text or ""):
        for part in _CONTRAST.split(sentence):
            part = part.strip(" ,;-")
            if len(part) >= MIN_CLAUSE_CHARS:
                out.append(part)
    return out


def aspect_clauses(texts: Sequence[str], match: "callable") -> list[list[tuple[str, list[int]]]]:
    """Per review: ``(clause, aspect column indices)`` for each clause that names an aspect.

    ``match(clauses) -> (n, n_aspects)`` 0/1, e.g. ``AspectLabeller.match``.
    """
    pieces = [split_clauses(t) for t in texts]
    flat = [c for p in pieces for c in p]
    hits = match(flat) if flat else np.zeros((0, 0))
    out, k = [], 0
    for p in pieces:
        review = []
        for clause in p:
            cols = np.flatnonzero(hits[k]).tolist()
            if cols:
                review.append((clause, cols))
            k += 1
        out.append(review)
    return out


def aspect_scores(
    per_review: list[list[tuple[str, list[int]]]], clause_score: dict[str, float], aspects: Sequence[str]
) -> list[dict[str, float]]:
    """``{aspect: mean score of its clauses}`` per review (scores in [-1, 1], rounded)."""
    out = []
    for review in per_review:
        acc: dict[str, list[float]] = {}
        for clause, cols in review:
            for j in cols:
                acc.setdefault(aspects[j], []).append(clause_score[clause])
        out.append({a: round(float(np.mean(v)), 4) for a, v in acc.items()})
    return out
