"""The models the Explain page can explain: a trained review model, or zero-shot sentiment.

The zero-shot model needs no training: the packaged encoder plus a sentiment
head made of label-description prototypes (``cx_core.reviews.zeroshot``), the
same head a trained model uses when a workspace has too few ratings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cx_core.explain.integrated import ExplainError
from cx_core.explain.protocol import ExplainableModel

if TYPE_CHECKING:  # pragma: no cover
    from cx_core.config import Config

ZERO_SHOT = "zero-shot"


def check_explainable(model: Any) -> Any:
    """Return ``model`` if it implements the explainer's contract, else raise ExplainError."""
    if not isinstance(model, ExplainableModel):
        raise ExplainError(
            f"{type(model).__name__} does not implement the explainer's contract "
            "(cx_core.explain.protocol.ExplainableModel)."
        )
    if not getattr(model.tokenizer_, "is_fast", False):
        raise ExplainError("The model's tokenizer has no fast version (needed for word spans).")
    return model


def load_trained(model_dir: str) -> Any:
    """A review model saved by ``ReviewModel.save`` (eval mode, CPU)."""
    from cx_core.reviews.model import load_review_model

    return check_explainable(load_review_model(model_dir))


def zero_shot_model(cfg: "Config") -> Any:
    """Sentiment-only review model: encoder + zero-shot prototype head (no training)."""
    from cx_core.reviews.model import MULTICLASS, SENTIMENT_LABELS, ReviewModel
    from cx_core.reviews.zeroshot import (
        install_zero_shot_sentiment,
        prompt_texts,
        prototypes,
        split_prompt_vectors,
    )
    from cx_core.text.encoder import TextEncoder

    encoder = TextEncoder.from_config(cfg.model).load()
    model = ReviewModel(
        encoder, {"sentiment": list(SENTIMENT_LABELS)}, {"sentiment": MULTICLASS}, lexical_dim=0
    )
    vectors = encoder.encode(prompt_texts())
    install_zero_shot_sentiment(model, prototypes(split_prompt_vectors(vectors)))
    model.model_id_ = f"{ZERO_SHOT}:{encoder.identify()}"
    return check_explainable(model.eval())
