"""Integrated gradients for one review: which words pushed a head's logit up or down.

:func:`explain_review` computes layer integrated gradients (Captum) over every
layer of ``model.attribution_layers()`` at once (the word-piece embeddings, and
e.g. a lexical n-gram embedding), sums the attributions over the hidden
dimension and over the layers, and merges word pieces into words with the
fast tokenizer's offsets.

What is explained is the **logit** of one label (not its probability): the
attributions add up to ``logit(text) - logit(baseline)`` up to the convergence
delta, which is returned and shown.

The baseline keeps the text's length, [CLS], [SEP], positions and attention
mask and replaces every word piece by [PAD] (the reference used in Captum's BERT
tutorials). Only the words differ between the two, so the special tokens get no
attribution through the word-piece layer, and [PAD] is the one token that was
never trained as content (padding is masked out in pre-training), the closest a
BERT input gets to "no words at all". A zero vector would leave the region the
model was trained on, and [MASK] or [UNK] carry learned meaning.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import torch

from cx_core.config import ExplainConfig
from cx_core.explain.words import Word, merge_pieces

IG_METHOD = "integrated_gradients"
ROLLOUT_METHOD = "attention_rollout"
#: logit differences below this are treated as this size when judging the delta
MIN_LOGIT_GAP = 0.05
METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")


class ExplainError(ValueError):
    """The review or the head/label cannot be explained (shown to the user as a message)."""


@dataclass(frozen=True)
class IGSettings(ExplainConfig):
    """How integrated gradients is computed (part of the cache key): the ``explain`` config section
    (one set of fields and defaults: see :class:`~cx_core.config.ExplainConfig`) plus the batch size.

    The path from the baseline to the text is cut into ``segments`` equal pieces
    and each is integrated with ``n_steps // segments`` points of ``method``
    (composite quadrature: the model's output changes sharply over a short
    stretch of the path, which one global rule with few points misses). While
    ``|delta|`` exceeds ``rel_tol`` x ``max(|F(x) - F(baseline)|, MIN_LOGIT_GAP)``
    the segments are doubled, up to ``max_steps`` points in all. ``threads`` is
    not in the key.
    """

    internal_batch_size: int = 0  # 0: all steps in one batch

    def __post_init__(self) -> None:
        if self.segments < 1 or self.n_steps < 2:
            raise ValueError("need segments >= 1 and n_steps >= 2")
        if self.n_steps % self.segments:
            raise ValueError("n_steps must be a multiple of segments")
        if self.max_steps < self.n_steps:
            raise ValueError("max_steps must be >= n_steps")
        if self.method not in METHODS:
            raise ValueError(f"unknown integration method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.max_length < 4:
            raise ValueError("max_length must be at least 4 tokens")
        if self.threads < 0:
            raise ValueError("threads must be >= 0")

    @property
    def per_segment(self) -> int:
        """Quadrature points per segment."""
        return self.n_steps // self.segments

    def key(self) -> str:
        """A short stable string of the settings (for the cache key)."""
        return (
            f"ig:v2:{self.method}:{self.segments}x{self.per_segment}-{self.max_steps}:"
            f"{self.rel_tol:g}:{self.max_length}"
        )


@dataclass
class Explanation:
    """Scores per word of one review for one head/label (integrated gradients or attention)."""

    method: str
    model_id: str
    head: str
    target: str
    target_index: int
    text: str
    words: list[Word]
    pieces: list[tuple[str, int, int, float]]
    special_score: float = 0.0
    logit: float | None = None
    baseline_logit: float | None = None
    delta: float | None = None
    outside_gap: float = 0.0
    outputs: dict[str, float] = field(default_factory=dict)
    n_steps: int = 0
    settings: str = ""
    truncated: bool = False
    n_tokens: int = 0
    seconds: float = 0.0
    layer_totals: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Sum of all attributions (words + special tokens)."""
        return sum(p[3] for p in self.pieces)

    @property
    def relative_delta(self) -> float | None:
        """``|delta|`` relative to ``|F(x) - F(baseline)|`` (None for attention)."""
        if self.delta is None or self.logit is None or self.baseline_logit is None:
            return None
        return abs(self.delta) / max(abs(self.logit - self.baseline_logit), MIN_LOGIT_GAP)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (round-trips through :meth:`from_dict`)."""
        out = asdict(self)
        out["pieces"] = [list(p) for p in self.pieces]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Explanation":
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["words"] = [Word(**w) for w in data["words"]]
        data["pieces"] = [tuple(p) for p in data["pieces"]]
        return cls(**data)


@dataclass
class Encoded:
    """One review tokenized for the model, with the spans and flags the explainers need."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    offsets: list[tuple[int, int]]
    special: list[bool]
    tokens: list[str]
    truncated: bool
    seen_until: int


def encode_review(model: Any, text: str, max_length: int) -> Encoded:
    """Tokenize ``text`` (truncated to ``max_length`` tokens) with offsets and special flags."""
    if not isinstance(text, str) or not text.strip():
        raise ExplainError("There is no text to explain (the review is empty).")
    tok = model.tokenizer_
    own = int(getattr(model, "max_length", 0) or max_length)
    limit = max(4, min(int(max_length), own))
    enc = tok(
        text, truncation=True, max_length=limit, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    ids = list(enc["input_ids"])
    offsets = [tuple(map(int, o)) for o in enc["offset_mapping"]]
    special = [bool(s) for s in enc["special_tokens_mask"]]
    if all(special):
        raise ExplainError("The model's tokenizer finds no words in this text.")
    seen_until = max(e for (s, e), sp in zip(offsets, special) if not sp)
    rest = text[seen_until : seen_until + 2000]
    truncated = bool(rest.strip()) and bool(tok(rest, add_special_tokens=False)["input_ids"])
    device = model_device(model)
    tensor = torch.tensor([ids], dtype=torch.long, device=device)
    return Encoded(
        tensor,
        torch.ones_like(tensor),
        offsets,
        special,
        tok.convert_ids_to_tokens(ids),
        truncated,
        seen_until,
    )


def model_device(model: Any) -> torch.device:
    """The device of the model's weights (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def pad_baseline(model: Any, enc: Encoded) -> torch.Tensor:
    """The reference input: every non-special piece replaced by [PAD]."""
    pad = model.tokenizer_.pad_token_id
    if pad is None:
        raise ExplainError("The model's tokenizer has no [PAD] token for the baseline.")
    keep = torch.tensor([enc.special], device=enc.input_ids.device)
    return torch.where(keep, enc.input_ids, torch.full_like(enc.input_ids, int(pad)))


def resolve_target(model: Any, head: str, target: str | int | None, logits: torch.Tensor) -> tuple[int, str]:
    """Label index and name to explain; None: the predicted (highest-logit) label."""
    heads = model.heads_
    if head not in heads:
        raise ExplainError(f"Unknown head {head!r}; the model has {', '.join(heads)}.")
    labels = heads[head]
    if target is None or target == "":
        index = int(torch.argmax(logits).item())
    elif isinstance(target, int):
        index = target
    elif target in labels:
        index = labels.index(target)
    else:
        raise ExplainError(f"Unknown label {target!r} for head {head!r}; choose one of {', '.join(labels)}.")
    if not 0 <= index < logits.numel():
        raise ExplainError(f"Label index {index} is out of range for head {head!r}.")
    name = labels[index] if index < len(labels) else str(index)
    return index, name


def head_outputs(model: Any, head: str, logits: torch.Tensor) -> dict[str, float]:
    """Readable outputs of one head: softmax (multiclass), sigmoid (multilabel) or raw values."""
    kind = model.head_kinds_.get(head, "multiclass")
    if kind == "multiclass":
        values = torch.softmax(logits.float(), dim=-1)
    elif kind == "multilabel":
        values = torch.sigmoid(logits.float())
    else:
        values = logits.float()
    labels = model.heads_[head]
    return {str(labels[i]) if i < len(labels) else str(i): float(v) for i, v in enumerate(values.tolist())}


def layer_names(model: Any, layers: Sequence[torch.nn.Module]) -> list[str]:
    """Dotted names of the attribution layers inside ``model`` (class names as a fallback)."""
    by_id = {}
    if hasattr(model, "named_modules"):
        by_id = {id(m): n for n, m in model.named_modules()}
    return [by_id.get(id(layer)) or type(layer).__name__ for layer in layers]


def explain_review(
    model: Any,
    text: str,
    head: str,
    target: str | int | None = None,
    settings: IGSettings | None = None,
    **overrides: Any,
) -> Explanation:
    """Integrated-gradients attribution of one head's logit to the words of ``text``.

    ``target``: a label of ``head`` (name or index); None explains the predicted
    label (multiclass) or the highest-scoring label (multilabel). ``settings`` or
    keyword overrides (``n_steps=``, ``segments=``, ``method=``, ``max_steps=``,
    ``rel_tol=``, ``max_length=``, ``internal_batch_size=``, ``threads=``) control the
    integration.

    This is layer integrated gradients over all of ``model.attribution_layers()``:
    one forward pass captures the layers' outputs for the text and the baseline
    (and gives ``F(x)``, ``F(baseline)`` and the predicted label), then Captum's
    ``IntegratedGradients`` integrates between them with the outputs injected
    back into the layers, one path segment per batch row. With ``segments=1`` the
    result is exactly Captum's ``LayerIntegratedGradients`` with the same
    ``n_steps`` and ``method``, which runs two more forward passes per call.
    """
    cfg = settings or IGSettings()
    if overrides:
        cfg = IGSettings(**{**asdict(cfg), **overrides})
    t0 = time.perf_counter()
    if head not in model.heads_:
        raise ExplainError(f"Unknown head {head!r}; the model has {', '.join(model.heads_)}.")
    enc = encode_review(model, text, cfg.max_length)
    base = pad_baseline(model, enc)
    layers = list(model.attribution_layers())
    with LayerTap(layers) as tap, eval_mode(model), torch_threads(cfg.threads):
        fx, fb, f_ids, index, label, logits = _endpoints(model, tap, head, target, enc, base)
        allowed = cfg.rel_tol * max(abs(fx - fb), MIN_LOGIT_GAP)
        segments = cfg.segments
        while True:
            per_layer = _integrate(model, tap, head, enc, index, segments, cfg)
            scores = torch.stack(per_layer).sum(0)
            delta = float(scores.sum()) - (fx - fb)
            steps = segments * cfg.per_segment
            if abs(delta) <= allowed or steps * 2 > cfg.max_steps:
                break
            segments *= 2
    values = scores.tolist()
    words, special = merge_pieces(text, enc.offsets, values, enc.seen_until if enc.truncated else None)
    return Explanation(
        method=IG_METHOD,
        model_id=str(model.model_id_),
        head=head,
        target=label,
        target_index=index,
        text=text,
        words=words,
        pieces=[(t, s, e, v) for t, (s, e), v in zip(enc.tokens, enc.offsets, values)],
        special_score=special,
        logit=fx,
        baseline_logit=fb,
        delta=delta,
        outside_gap=fb - f_ids,
        outputs=head_outputs(model, head, logits),
        n_steps=steps,
        settings=cfg.key(),
        truncated=enc.truncated,
        n_tokens=len(values),
        seconds=time.perf_counter() - t0,
        layer_totals={n: float(a.sum()) for n, a in zip(layer_names(model, layers), per_layer)},
    )


def _endpoints(
    model: Any, tap: "LayerTap", head: str, target: str | int | None, enc: Encoded, base: torch.Tensor
) -> tuple[float, float, float, int, str, torch.Tensor]:
    """One forward pass of [text, baseline ids, text with the baseline's layer outputs].

    Captures the layers' outputs of the text and the baseline (``tap.inputs``,
    ``tap.baselines``) and returns ``F(x)``, ``F(path start)``, ``F(baseline ids)``,
    the target index and label, and the text's logits. The path start equals the
    baseline ids' output unless something reaches the heads from the ids outside
    the attribution layers (the difference is reported as ``outside_gap``).
    """
    ids = torch.cat([enc.input_ids, base, enc.input_ids])
    mask = enc.attention_mask.repeat(3, 1)
    tap.copy_row = (1, 2)
    try:
        with torch.no_grad():
            logits = model.forward_logits(ids, mask)[head]
    finally:
        tap.copy_row = None
    index, label = resolve_target(model, head, target, logits[0])
    fx, f_ids, fb = (float(logits[i, index]) for i in range(3))
    return fx, fb, f_ids, index, label, logits[0]


def _integrate(
    model: Any, tap: "LayerTap", head: str, enc: Encoded, index: int, segments: int, cfg: IGSettings
) -> list[torch.Tensor]:
    """Per-layer attributions summed over the hidden dimension, each ``(seq,)`` float64.

    Segment ``j`` of the straight path runs from ``B + j/k (X - B)`` to
    ``B + (j+1)/k (X - B)``; Captum integrates all segments as one batch and the
    segment attributions add up to the whole path's.
    """
    from captum.attr import IntegratedGradients

    cuts = torch.linspace(0.0, 1.0, segments + 1, dtype=torch.float32)
    starts, ends = [], []
    for x, b in zip(tap.inputs, tap.baselines):
        shape = (-1,) + (1,) * (x.dim() - 1)
        starts.append(b + cuts[:-1].view(shape).to(x) * (x - b))
        ends.append(b + cuts[1:].view(shape).to(x) * (x - b))

    def forward(*args: torch.Tensor) -> torch.Tensor:
        *layer_values, ids, mask = args
        tap.replace = layer_values
        try:
            return model.forward_logits(ids, mask)[head]
        finally:
            tap.replace = None

    attrs = IntegratedGradients(forward).attribute(
        tuple(ends),
        baselines=tuple(starts),
        target=index,
        additional_forward_args=(enc.input_ids.repeat(segments, 1), enc.attention_mask.repeat(segments, 1)),
        n_steps=cfg.per_segment,
        method=cfg.method,
        internal_batch_size=cfg.internal_batch_size or None,
    )
    return [a.detach().double().sum(-1).sum(0).cpu() for a in attrs]


class LayerTap:
    """Forward hooks on the attribution layers: capture their outputs, or replace them.

    Only the thread that opened the tap is affected, so another app session
    scoring with the same model object at the same time sees the plain model.
    While ``copy_row = (src, dst)`` the hooks record rows 0 and ``src`` of each
    output (the text's and the baseline's) and overwrite row ``dst`` with row ``src``;
    while ``replace`` is set they return those tensors instead of the outputs.
    """

    def __init__(self, layers: Sequence[torch.nn.Module]) -> None:
        self.layers = list(layers)
        self.inputs: list[torch.Tensor] = [torch.empty(0)] * len(self.layers)
        self.baselines: list[torch.Tensor] = [torch.empty(0)] * len(self.layers)
        self.copy_row: tuple[int, int] | None = None
        self.replace: Sequence[torch.Tensor] | None = None
        self._owner = threading.get_ident()
        self._handles: list[Any] = []

    def __enter__(self) -> "LayerTap":
        if not self.layers:
            raise ExplainError("The model declares no attribution layers.")
        for i, layer in enumerate(self.layers):
            self._handles.append(layer.register_forward_hook(functools.partial(self._hook, i)))
        return self

    def __exit__(self, *exc: object) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _hook(self, i: int, module: torch.nn.Module, args: Any, output: Any) -> Any:
        if threading.get_ident() != self._owner:
            return None
        if not isinstance(output, torch.Tensor) or output.dim() != 3:
            raise ExplainError(
                f"Attribution layer {type(module).__name__} must output (batch, seq, dim) tensors."
            )
        if self.replace is not None:
            return self.replace[i]
        if self.copy_row is not None:
            src, dst = self.copy_row
            self.inputs[i] = output[0:1].detach()
            self.baselines[i] = output[src : src + 1].detach()
            out = output.clone()
            out[dst] = output[src]
            return out
        return None


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads (0: unchanged), restoring the setting after.

    One explanation is a small batch: on a shared 2-core CPU one thread measured
    0.7 s where two threads took 3.1 s (they spin-wait for the busy cores).
    """
    before = torch.get_num_threads()
    if n and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n and n != before:
            torch.set_num_threads(before)


class eval_mode:
    """Put a module in eval mode for a block and restore its training flag after."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.was_training = bool(getattr(model, "training", False))

    def __enter__(self) -> None:
        if self.was_training:
            self.model.eval()

    def __exit__(self, *exc: object) -> None:
        if self.was_training:
            self.model.train()
