"""Integrated gradients for many reviews at once: the batched form behind segment-level reasons.

:func:`explain_batch` pads a batch of reviews to one length and integrates all
of them in one Captum call (each review has its own [PAD] baseline, the same
reference as :func:`cx_core.explain.integrated.explain_review`). It uses a
fixed number of quadrature points and no adaptive refinement: the results are
summed over hundreds of reviews, where a per-review convergence delta of a few
percent washes out, and a fixed shape is what makes batching pay. Padding rows
are the same in a review and its baseline, so they get no attribution.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from cx_core.explain.integrated import (
    IG_METHOD,
    METHODS,
    ExplainError,
    Explanation,
    LayerTap,
    eval_mode,
    head_outputs,
    model_device,
    torch_threads,
)
from cx_core.explain.words import merge_pieces

BATCH_VERSION = "igbatch:v1"


@dataclass(frozen=True)
class BatchSettings:
    """How batched integrated gradients runs (``key()`` is part of every cache key)."""

    n_steps: int = 16
    method: str = "gausslegendre"
    max_length: int = 128
    batch_size: int = 8  # reviews per Captum call
    threads: int = 1

    def __post_init__(self) -> None:
        if self.n_steps < 2 or self.batch_size < 1 or self.max_length < 4:
            raise ValueError("need n_steps >= 2, batch_size >= 1 and max_length >= 4")
        if self.method not in METHODS:
            raise ValueError(f"unknown integration method {self.method!r}")

    def key(self) -> str:
        """A short stable string of the settings that change results."""
        return f"{BATCH_VERSION}:{self.method}:{self.n_steps}:{self.max_length}"


@dataclass
class _Batch:
    """One padded batch: ids, mask, [PAD] baseline ids, offsets and special flags per row."""

    ids: torch.Tensor
    mask: torch.Tensor
    base: torch.Tensor
    offsets: list[list[tuple[int, int]]]
    special: list[list[bool]]
    tokens: list[list[str]]


def _encode(model: Any, texts: Sequence[str], max_length: int) -> _Batch:
    tok = model.tokenizer_
    own = int(getattr(model, "max_length", 0) or max_length)
    enc = tok(
        list(texts),
        truncation=True,
        max_length=max(4, min(max_length, own)),
        padding=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_tensors="pt",
    )
    pad = tok.pad_token_id
    if pad is None:
        raise ExplainError("The model's tokenizer has no [PAD] token for the baseline.")
    special = enc["special_tokens_mask"].bool()
    ids = enc["input_ids"]
    device = model_device(model)
    base = torch.where(special, ids, torch.full_like(ids, int(pad)))
    return _Batch(
        ids.to(device),
        enc["attention_mask"].to(device),
        base.to(device),
        [[tuple(map(int, o)) for o in row] for row in enc["offset_mapping"].tolist()],
        special.tolist(),
        [tok.convert_ids_to_tokens(row) for row in ids.tolist()],
    )


class _Capture(LayerTap):
    """A tap that records each layer's whole output while ``capture`` is set."""

    def __init__(self, layers: Sequence[torch.nn.Module]) -> None:
        super().__init__(layers)
        self.capture = False
        self.owner = threading.get_ident()

    def _hook(self, i: int, module: torch.nn.Module, args: Any, output: Any) -> Any:
        if self.capture and self.replace is None and threading.get_ident() == self.owner:
            self.inputs[i] = output.detach()
            return None
        return super()._hook(i, module, args, output)


def _layer_outputs(model: Any, tap: _Capture, head: str, ids: torch.Tensor, mask: torch.Tensor):
    tap.capture = True
    try:
        with torch.no_grad():
            logits = model.forward_logits(ids, mask)[head]
    finally:
        tap.capture = False
    return list(tap.inputs), logits


def _explained(z: torch.Tensor, index: int, against: int | None) -> torch.Tensor:
    """The explained output ``(batch, 1)``: one logit, or the gap between two."""
    out = z[:, index : index + 1]
    return out if against is None else out - z[:, against : against + 1]


def _attribute(model: Any, b: _Batch, head: str, index: int, against: int | None, cfg: BatchSettings):
    """Per-token attributions ``(batch, seq)`` (summed over layers and hidden dims), the head's
    logits of the texts and the explained output of texts and baselines ``(batch,)``."""
    from captum.attr import IntegratedGradients

    layers = list(model.attribution_layers())
    with _Capture(layers) as tap:
        xs, logits = _layer_outputs(model, tap, head, b.ids, b.mask)
        bs, base_logits = _layer_outputs(model, tap, head, b.base, b.mask)

        def forward(*args: torch.Tensor) -> torch.Tensor:
            *values, ids, mask = args
            tap.replace = values
            try:
                return _explained(model.forward_logits(ids, mask)[head], index, against)
            finally:
                tap.replace = None

        attrs = IntegratedGradients(forward).attribute(
            tuple(xs),
            baselines=tuple(bs),
            target=0,
            additional_forward_args=(b.ids, b.mask),
            n_steps=cfg.n_steps,
            method=cfg.method,
        )
    scores = torch.stack([a.detach().double().sum(-1) for a in attrs]).sum(0)
    fx = _explained(logits, index, against)[:, 0]
    fb = _explained(base_logits, index, against)[:, 0]
    return scores.cpu(), logits, fx, fb


def explain_batch(
    model: Any,
    texts: Sequence[str],
    head: str,
    target: str,
    settings: BatchSettings | None = None,
    against: str | None = None,
) -> list[Explanation | None]:
    """Integrated gradients of ``head``'s ``target`` logit for every text, in input order (None for
    an empty text). With ``against`` the explained output is ``logit(target) - logit(against)``
    (e.g. negative against positive: one pass gives the words that pushed a review either way).
    Texts are integrated ``settings.batch_size`` at a time in one Captum call; on a CPU one at a
    time measured fastest (padding and cache misses cost more than batching saves)."""
    cfg = settings or BatchSettings()
    if head not in model.heads_:
        raise ExplainError(f"Unknown head {head!r}; the model has {', '.join(model.heads_)}.")
    if target not in model.heads_[head]:
        raise ExplainError(f"Unknown label {target!r} for head {head!r}.")
    if against is not None and (against not in model.heads_[head] or against == target):
        raise ExplainError(f"Cannot contrast {target!r} with {against!r} for head {head!r}.")
    index = model.heads_[head].index(target)
    other = None if against is None else model.heads_[head].index(against)
    name = target if against is None else f"{target} vs {against}"
    keep = [t for t in texts if isinstance(t, str) and t.strip()]
    done: list[Explanation] = []
    with eval_mode(model), torch_threads(cfg.threads):
        for lo in range(0, len(keep), cfg.batch_size):
            chunk = keep[lo : lo + cfg.batch_size]
            t0 = time.perf_counter()
            b = _encode(model, chunk, cfg.max_length)
            scores, logits, fx, fb = _attribute(model, b, head, index, other, cfg)
            each = (time.perf_counter() - t0) / len(chunk)
            done += [
                _explanation(model, b, i, text, (head, name, index), scores, logits, (fx, fb), cfg, each)
                for i, text in enumerate(chunk)
            ]
    found = iter(done)
    return [next(found) if isinstance(t, str) and t.strip() else None for t in texts]


def _explanation(
    model: Any,
    b: _Batch,
    i: int,
    text: str,
    what: tuple[str, str, int],
    scores: torch.Tensor,
    logits: torch.Tensor,
    ends: tuple[torch.Tensor, torch.Tensor],
    cfg: BatchSettings,
    seconds: float,
) -> Explanation:
    n = int(b.mask[i].sum())
    offsets, special = b.offsets[i][:n], b.special[i][:n]
    values = scores[i, :n].tolist()
    content = [e for (s, e), sp in zip(offsets, special) if not sp]
    seen_until = max(content, default=0)
    truncated = bool(text[seen_until:].strip())
    words, special_score = merge_pieces(text, offsets, values, seen_until if truncated else None)
    head, target, index = what
    fx, fb = float(ends[0][i]), float(ends[1][i])
    return Explanation(
        method=IG_METHOD,
        model_id=str(model.model_id_),
        head=head,
        target=target,
        target_index=index,
        text=text,
        words=words,
        pieces=[(t, s, e, v) for t, (s, e), v in zip(b.tokens[i][:n], offsets, values)],
        special_score=special_score,
        logit=fx,
        baseline_logit=fb,
        delta=float(sum(values)) - (fx - fb),
        outputs=head_outputs(model, head, logits[i]),
        n_steps=cfg.n_steps,
        settings=cfg.key(),
        truncated=truncated,
        n_tokens=n,
        seconds=seconds,
    )
