"""Zero-shot sentiment: similarity to label-description prototypes (no ratings needed).

Each class is described by several phrasings; their embeddings are averaged
into a prototype, and a review's class scores are ``scale * cos(review,
prototype)``. Written as the weights of the model's sentiment head (deep part =
scaled prototypes, lexical part = 0, bias = 0), so a zero-shot model scores and
explains exactly like a trained one.
"""

from __future__ import annotations

import numpy as np
import torch

from cx_core.reviews.model import SENTIMENT_LABELS, ReviewModel

#: label descriptions, several phrasings per class (averaged into one prototype)
SENTIMENT_PROMPTS: dict[str, list[str]] = {
    "negative": [
        "This is terrible and I am very disappointed.",
        "Awful quality, a complete waste of money.",
        "I hate it and I would not recommend it to anyone.",
        "A bad experience: it did not work and I regret buying it.",
        "Very poor, cheap and unpleasant.",
    ],
    "neutral": [
        "It is okay, nothing special.",
        "An average product with some good and some bad points.",
        "It's fine, but I have mixed feelings about it.",
        "Decent, but not great and not bad either.",
        "It does the job, it is just acceptable.",
    ],
    "positive": [
        "I love it, it is excellent.",
        "Great quality and highly recommended.",
        "A wonderful product and I am very happy with it.",
        "Perfect, exactly what I wanted, it works beautifully.",
        "Beautiful, amazing and worth every penny.",
    ],
}
#: cosine similarities differ by a few hundredths between classes; this
#: temperature turns them into usable probabilities (argmax is unaffected)
ZERO_SHOT_SCALE = 30.0
METHOD = "zero-shot"


def prototypes(vectors: dict[str, np.ndarray]) -> np.ndarray:
    """Unit prototype per sentiment label from its phrasings' unit vectors, ``(3, dim)``."""
    protos = np.stack([np.asarray(vectors[label], np.float32).mean(0) for label in SENTIMENT_LABELS])
    return protos / np.linalg.norm(protos, axis=1, keepdims=True).clip(1e-9)


def prompt_texts() -> list[str]:
    """Every phrasing, label by label (the order :func:`split_prompt_vectors` expects)."""
    return [p for label in SENTIMENT_LABELS for p in SENTIMENT_PROMPTS[label]]


def split_prompt_vectors(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of ``matrix`` (embedded :func:`prompt_texts`) grouped by label."""
    out, lo = {}, 0
    for label in SENTIMENT_LABELS:
        n = len(SENTIMENT_PROMPTS[label])
        out[label] = matrix[lo : lo + n]
        lo += n
    return out


def install_zero_shot_sentiment(
    model: ReviewModel, protos: np.ndarray, scale: float = ZERO_SHOT_SCALE
) -> ReviewModel:
    """Set the sentiment head to ``scale * prototypes`` on the deep part and freeze it."""
    if not model.use_deep:
        raise ValueError("zero-shot sentiment needs the encoder part of the model")
    head = model.heads["sentiment"]
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.weight[:, : model.deep_dim_] = torch.as_tensor(protos * scale, dtype=head.weight.dtype)
    head.requires_grad_(False)
    model.meta_["sentiment_method"] = METHOD
    return model


def zero_shot_proba(embeddings: np.ndarray, protos: np.ndarray, scale: float = ZERO_SHOT_SCALE) -> np.ndarray:
    """Class probabilities ``(n, 3)`` straight from unit embeddings (same maths as the head)."""
    z = scale * embeddings @ protos.T
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)
