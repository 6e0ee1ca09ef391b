"""Shared by the explanation tests: a tiny random BERT review model (fast, real tokenizer)."""

from __future__ import annotations

from typing import Any

import torch


def tiny_sentiment_model(lexical_dim: int = 8, **kwargs: Any) -> Any:
    """A 2-layer random BERT with MiniLM's tokenizer, a 3-class sentiment head and (by default) a
    lexical n-gram layer: two attribution layers, seeded, built in about a second."""
    from transformers import AutoTokenizer

    from cx_core.explain.reference import EncoderHeadModel, tiny_bert
    from cx_core.text.encoder import default_model_dir

    tok = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    torch.manual_seed(0)
    return EncoderHeadModel(
        tiny_bert(tok),
        tok,
        {"sentiment": ["negative", "neutral", "positive"]},
        {"sentiment": "multiclass"},
        max_length=64,
        lexical_dim=lexical_dim,
        **kwargs,
    )
