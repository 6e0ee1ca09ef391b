"""Attention rollout (Abnar & Zuidema 2020) for one review, merged to words.

Each layer's attention is averaged over heads, the residual connection is
added as ``0.5 * A + 0.5 * I`` and rows are renormalised; the product over the
layers says how much of each final token representation comes from each
input token. The review models pool the final tokens by their mean (or take
[CLS] when ``model.pooling_ == "cls"``), so a token's share is the mean (or the
[CLS] row) of the rollout over the pooled positions. Shares are positive and
sum to 1 over the tokens: attention says *where the model looked*, not in
which direction a word pushed the score (integrated gradients does that).

Hugging Face returns attention maps only with the "eager" implementation
(``sdpa`` returns none in transformers 5), so the encoder is switched to eager
for this one call under a lock and switched back after; eager computes the same
outputs, so a scoring call that runs meanwhile is only slower.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import torch

from cx_core.explain.integrated import ROLLOUT_METHOD, ExplainError, Explanation, encode_review, eval_mode
from cx_core.explain.words import merge_pieces

_ATTN_LOCK = threading.Lock()


def rollout(attentions: Sequence[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """Rollout ``(seq, seq)`` from per-layer maps ``(1, heads, seq, seq)`` (first layer first)."""
    if not attentions:
        raise ExplainError("The encoder returned no attention maps.")
    seq = attentions[0].shape[-1]
    eye = torch.eye(seq, dtype=torch.float64)
    out = eye
    for att in attentions:
        a = att[0].double().mean(0)
        a = residual * eye + (1.0 - residual) * a
        a = a / a.sum(-1, keepdim=True)
        out = a @ out
    return out


@contextmanager
def eager_attention(encoder: Any) -> Iterator[None]:
    """Switch an HF model to eager attention for a block (and back), under a lock."""
    config = getattr(encoder, "config", None)
    with _ATTN_LOCK:
        previous = getattr(config, "_attn_implementation", None)
        switch = previous not in (None, "eager") and hasattr(encoder, "set_attn_implementation")
        if switch:
            encoder.set_attn_implementation("eager")
        try:
            yield
        finally:
            if switch:
                encoder.set_attn_implementation(previous)


def attention_maps(encoder: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> list[torch.Tensor]:
    """Per-layer attention probabilities ``(1, heads, seq, seq)`` of one input."""
    with eager_attention(encoder), eval_mode(encoder), torch.no_grad():
        out = encoder(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True)
    maps = [a for a in (getattr(out, "attentions", None) or ()) if a is not None]
    if not maps:
        raise ExplainError(
            "The encoder returned no attention maps (it may not support the eager attention implementation)."
        )
    return maps


def explain_attention(model: Any, text: str, max_length: int = 256) -> Explanation:
    """Attention-rollout share of every word of ``text`` (head-independent)."""
    t0 = time.perf_counter()
    enc = encode_review(model, text, max_length)
    maps = attention_maps(model.attention_encoder(), enc.input_ids, enc.attention_mask)
    roll = rollout(maps)
    if getattr(model, "pooling_", "mean") == "cls":
        share = roll[0]
    else:
        share = roll.mean(0)
    values = share.tolist()
    words, special = merge_pieces(text, enc.offsets, values, enc.seen_until if enc.truncated else None)
    return Explanation(
        method=ROLLOUT_METHOD,
        model_id=str(model.model_id_),
        head="",
        target="",
        target_index=-1,
        text=text,
        words=words,
        pieces=[(t, s, e, v) for t, (s, e), v in zip(enc.tokens, enc.offsets, values)],
        special_score=special,
        settings=rollout_key(max_length),
        truncated=enc.truncated,
        n_tokens=len(values),
        seconds=time.perf_counter() - t0,
    )


def rollout_key(max_length: int) -> str:
    """The cache settings key of an attention view."""
    return f"rollout:v1:0.5:{int(max_length)}"
