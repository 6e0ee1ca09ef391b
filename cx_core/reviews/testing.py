"""Small, fast stand-ins for tests: a random tiny BERT with MiniLM's tokenizer and a model on it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from cx_core.text.encoder import TextEncoder, default_model_dir

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def tiny_encoder_dir(root: str | Path, hidden: int = 32, seed: int = 0) -> str:
    """Write (once) a randomly initialised 2-layer BERT using MiniLM's tokenizer under ``root``."""
    import torch
    from transformers import BertConfig, BertModel

    out = Path(root) / f"tiny-bert-{hidden}-{seed}"
    if (out / "config.json").is_file():
        return str(out)
    torch.manual_seed(seed)
    BertModel(
        BertConfig(
            vocab_size=30522,
            hidden_size=hidden,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=2 * hidden,
            max_position_embeddings=512,
        )
    ).save_pretrained(str(out))
    src = Path(default_model_dir())
    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, out / name)
    return str(out)


def tiny_text_encoder(root: str | Path, max_length: int = 64) -> TextEncoder:
    """A float32 CPU :class:`TextEncoder` on :func:`tiny_encoder_dir`."""
    return TextEncoder(
        model_dir=tiny_encoder_dir(root),
        device="cpu",
        dtype="float32",
        max_length=max_length,
        batch_tokens=512,
    )


def tiny_review_model(
    root: str | Path, aspects: Sequence[str] = ("fit", "price", "quality"), mode: str = "frozen"
):
    """An untrained :class:`~cx_core.reviews.model.ReviewModel` on the tiny encoder."""
    from cx_core.reviews.model import build_review_model

    return build_review_model(
        tiny_text_encoder(root), list(aspects), mode=mode, lexical_dim=8, lexical_buckets=1024
    )
