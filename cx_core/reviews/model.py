"""The multi-task review model: one shared MiniLM encoder, a lexical n-gram part, several heads.

``ReviewModel`` is a "wide & deep" network computed entirely from token ids:

* **deep**: the encoder's mean-pooled, L2-normalised sentence embedding (exactly
  what :class:`~cx_core.text.encoder.TextEncoder` returns and the embedding cache
  stores, so frozen-mode training and scoring reuse cached vectors);
* **wide**: a fastText-like bag of hashed word-piece unigrams and bigrams
  (:class:`LexicalNgrams`, one vector per token, masked mean per review);
* **heads**: one linear layer per task over ``[deep, wide]`` — sentiment
  (negative / neutral / positive, or negative / positive for binary labels), rating (1-5), aspects (multi-label over the
  taxonomy) and risk (``at_risk`` plus flags such as refund or cancel).

It implements :class:`cx_core.explain.protocol.ExplainableModel`: every path
from the ids to the heads passes through the encoder's word embeddings or the
lexical n-gram embeddings (:meth:`ReviewModel.attribution_layers`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from cx_core.text.encoder import TextEncoder, default_model_dir

SENTIMENT_LABELS = ["negative", "neutral", "positive"]
#: the sentiment head of a binary label set (no neutral class)
BINARY_SENTIMENT_LABELS = ["negative", "positive"]
RATING_LABELS = ["1", "2", "3", "4", "5"]
RISK_LABELS = ["at_risk", "refund", "return", "cancel", "never_again", "damaged"]
MULTICLASS, MULTILABEL = "multiclass", "multilabel"
FORMAT_VERSION = 1
WEIGHTS_FILE = "heads.safetensors"
_BIGRAM_PRIME = 1_000_003


def pool_hidden(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """Mean (over the mask) or CLS pooling of ``(batch, seq, dim)`` states, L2-normalised."""
    if pooling == "cls":
        pooled = hidden[:, 0]
    else:
        w = attention_mask.to(hidden.dtype).unsqueeze(-1)
        pooled = (hidden * w).sum(1) / w.sum(1).clamp_min(1e-9)
    return nn.functional.normalize(pooled, p=2, dim=1)


class LexicalNgrams(nn.Module):
    """Per-token hashed n-gram embeddings, ``(batch, seq) -> (batch, seq, dim)``.

    Position ``i`` holds the embedding of word piece ``i`` plus the hashed bigram
    (piece ``i``, piece ``i + 1``); so a bigram's contribution is attributed to
    its first token.
    """

    def __init__(self, vocab_size: int, buckets: int, dim: int, zero_ids: Sequence[int] = ()) -> None:
        super().__init__()
        self.buckets = int(buckets)
        # special and padding tokens give exactly zero vectors *inside* the layer, so an all-[PAD]
        # baseline has a zero output and integrated gradients over this layer are complete
        self.register_buffer(
            "zero_ids", torch.tensor(sorted(set(zero_ids)), dtype=torch.long), persistent=False
        )
        # sparse gradients: a training step touches only the rows in the batch (6x faster on CPU)
        self.unigram = nn.Embedding(int(vocab_size), int(dim), sparse=True)
        self.bigram = nn.Embedding(self.buckets, int(dim), sparse=True)
        nn.init.normal_(self.unigram.weight, std=0.02)
        nn.init.normal_(self.bigram.weight, std=0.02)

    def bigram_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Bucket of the bigram starting at each position (the last one pairs with 0)."""
        nxt = torch.zeros_like(input_ids)
        nxt[:, :-1] = input_ids[:, 1:]
        return (input_ids * _BIGRAM_PRIME + nxt) % self.buckets

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Unigram + bigram vectors per position (zero at special and padding tokens)."""
        vecs = self.unigram(input_ids) + self.bigram(self.bigram_ids(input_ids))
        if self.zero_ids.numel():
            vecs = vecs * (~torch.isin(input_ids, self.zero_ids)).unsqueeze(-1).to(vecs.dtype)
        return vecs


class ReviewModel(nn.Module):
    """Shared encoder + lexical n-grams + one linear head per task (see module docstring).

    Build one with :func:`build_review_model` (fresh heads) or
    :func:`load_review_model` (a saved model); train with
    :class:`cx_core.reviews.train.ReviewTrainer`.
    """

    def __init__(
        self,
        text_encoder: TextEncoder,
        heads: dict[str, list[str]],
        head_kinds: dict[str, str],
        use_deep: bool = True,
        lexical_dim: int = 32,
        lexical_buckets: int = 1 << 18,
        max_length: int | None = None,
        mode: str = "frozen",
        meta: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        text_encoder.load()
        if not use_deep and lexical_dim <= 0:
            raise ValueError("a review model needs the encoder part, the lexical part or both")
        self.text_encoder_ = text_encoder
        self.encoder = text_encoder.model_
        self.tokenizer_ = text_encoder.tokenizer_
        self.pooling_ = text_encoder.pooling_
        self.encoder_id_ = text_encoder.identify()
        self.max_length = int(max_length or text_encoder.max_length_)
        self.mode = mode
        self.use_deep = bool(use_deep)
        self.deep_dim_ = int(text_encoder.dim_)
        self.lexical_dim = max(0, int(lexical_dim))
        self.lexical_buckets = int(lexical_buckets)
        self.lexical = (
            LexicalNgrams(
                len(self.tokenizer_), lexical_buckets, self.lexical_dim, self.tokenizer_.all_special_ids
            )
            if self.lexical_dim
            else None
        )
        in_dim = self.deep_dim_ * self.use_deep + self.lexical_dim
        self.heads = nn.ModuleDict({h: nn.Linear(in_dim, len(labels)) for h, labels in heads.items()})
        self.heads_ = {h: list(v) for h, v in heads.items()}
        self.head_kinds_ = dict(head_kinds)
        self.meta_ = dict(meta or {})
        self.model_id_ = self.meta_.get("model_id", "untrained")
        self.special_ids_ = sorted(set(self.tokenizer_.all_special_ids))
        self.set_encoder_trainable(mode == "finetune")

    # -- setup -----------------------------------------------------------------------
    def set_encoder_trainable(self, trainable: bool) -> None:
        """Freeze (frozen mode) or unfreeze (finetune mode) the encoder's weights."""
        for p in self.encoder.parameters():
            p.requires_grad_(trainable)

    @property
    def device(self) -> torch.device:
        """Where the heads live."""
        return next(self.heads.parameters()).device

    # -- features --------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ``(input_ids, attention_mask)`` of ``texts``, truncated at ``max_length``."""
        enc = self.tokenizer_(
            [t or "" for t in texts],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return enc["input_ids"], enc["attention_mask"]

    def deep_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The encoder's pooled, L2-normalised sentence vector ``(batch, deep_dim)`` (float32)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0].float()
        return pool_hidden(hidden, attention_mask, self.pooling_)

    def lexical_mask(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """1.0 on real word pieces, 0.0 on padding and special tokens."""
        special = torch.tensor(self.special_ids_, device=input_ids.device)
        keep = attention_mask.bool() & ~torch.isin(input_ids, special)
        return keep.to(torch.float32)

    def lexical_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Masked mean of the per-token n-gram vectors ``(batch, lexical_dim)``."""
        vecs = self.lexical(input_ids)
        w = self.lexical_mask(input_ids, attention_mask).unsqueeze(-1)
        return (vecs * w).sum(1) / w.sum(1).clamp_min(1.0)

    def logits_from_features(
        self, deep: torch.Tensor | None, lexical: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """Head logits from precomputed parts (deep may be cached embeddings)."""
        parts = ([deep] if self.use_deep else []) + ([lexical] if self.lexical is not None else [])
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return {name: head(x) for name, head in self.heads.items()}

    # -- the ExplainableModel contract ----------------------------------------------
    def forward_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Logits per head ``(batch, n_labels)``, computed from the token ids only."""
        deep = self.deep_features(input_ids, attention_mask) if self.use_deep else None
        lex = self.lexical_features(input_ids, attention_mask) if self.lexical is not None else None
        return self.logits_from_features(deep, lex)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Same as :meth:`forward_logits`."""
        return self.forward_logits(input_ids, attention_mask)

    def attribution_layers(self) -> list[nn.Module]:
        """The encoder's word embeddings and (when present) the lexical n-gram module."""
        layers: list[nn.Module] = [self.encoder.get_input_embeddings()] if self.use_deep else []
        return layers + ([self.lexical] if self.lexical is not None else [])

    def attention_encoder(self) -> nn.Module:
        """The Hugging Face encoder (for attention maps)."""
        return self.encoder

    # -- probabilities ---------------------------------------------------------------
    def probabilities(self, logits: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        """Softmax (multiclass) or sigmoid (multilabel) of each head, as numpy."""
        out = {}
        for name, z in logits.items():
            p = z.softmax(-1) if self.head_kinds_[name] == MULTICLASS else z.sigmoid()
            out[name] = p.detach().float().cpu().numpy()
        return out

    @torch.no_grad()
    def predict_texts(self, texts: Sequence[str], batch_size: int = 32) -> dict[str, np.ndarray]:
        """Head probabilities for raw texts, running the encoder (no cache)."""
        self.eval()
        texts = list(texts)
        order = np.argsort([-len(t or "") for t in texts], kind="stable")  # little padding per batch
        chunks: dict[str, list[np.ndarray]] = {h: [] for h in self.heads_}
        for lo in range(0, len(texts), batch_size):
            ids, mask = self.tokenize([texts[i] for i in order[lo : lo + batch_size]])
            probs = self.probabilities(self.forward_logits(ids.to(self.device), mask.to(self.device)))
            for h, p in probs.items():
                chunks[h].append(p)
        return in_input_order(chunks, order, self.heads_)

    # -- saving ----------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        """Everything needed to rebuild the model (weights aside)."""
        enc = self.text_encoder_
        return {
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id_,
            "mode": self.mode,
            "heads": self.heads_,
            "head_kinds": self.head_kinds_,
            "use_deep": self.use_deep,
            "lexical_dim": self.lexical_dim,
            "lexical_buckets": self.lexical_buckets,
            "max_length": self.max_length,
            "encoder": {
                "model_dir": str(enc.model_dir),
                "resolved_dir": str(enc.model_dir_),
                "encoder_id": self.encoder_id_,
                "dtype": str(enc.dtype),
                "pooling": self.pooling_,
                "max_length": enc.max_length_,
            },
            "meta": self.meta_,
        }

    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write config.json, heads.safetensors (+ encoder/ when fine-tuned) and metrics.json."""
        from safetensors.torch import save_file

        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        state = {
            k: v.detach().cpu().contiguous()
            for k, v in self.state_dict().items()
            if not k.startswith("encoder.")
        }
        save_file(state, str(out / WEIGHTS_FILE))
        if self.mode == "finetune":
            self.encoder.save_pretrained(str(out / "encoder"), safe_serialization=True)
            self.tokenizer_.save_pretrained(str(out / "encoder"))
        (out / "config.json").write_text(json.dumps(self.config_dict(), indent=2), encoding="utf-8")
        if metrics is not None:
            (out / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        return out


def in_input_order(
    chunks: dict[str, list[np.ndarray]], order: np.ndarray, heads: dict[str, list[str]]
) -> dict[str, np.ndarray]:
    """Per-head probability chunks computed in ``order`` (e.g. sorted by length) put back into the
    input order: row ``order[i]`` of the result is the ``i``-th computed row."""
    out = {}
    for h, parts in chunks.items():
        proba = np.concatenate(parts) if parts else np.zeros((0, len(heads[h])), np.float32)
        out[h] = np.empty_like(proba)
        out[h][order] = proba
    return out


def sentiment_columns(labels: Sequence[str]) -> tuple[int, int | None, int]:
    """Positions of negative, neutral (None in a binary head) and positive in a sentiment head."""
    labels = list(labels)
    return (
        labels.index("negative"),
        labels.index("neutral") if "neutral" in labels else None,
        labels.index("positive"),
    )


def sentiment_parts(labels: Sequence[str], proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(p_negative, p_neutral, p_positive)`` columns of a sentiment head's probabilities;
    p_neutral is NaN for a binary head."""
    neg, neu, pos = sentiment_columns(labels)
    p = np.asarray(proba)
    return p[:, neg], (p[:, neu] if neu is not None else np.full(len(p), np.nan)), p[:, pos]


def default_heads(
    aspects: Sequence[str], with_rating: bool = True, sentiment_labels: Sequence[str] | None = None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The standard heads and their kinds for a taxonomy's aspects (3-class sentiment unless
    ``sentiment_labels`` says otherwise, e.g. :data:`BINARY_SENTIMENT_LABELS`)."""
    heads = {"sentiment": list(sentiment_labels or SENTIMENT_LABELS)}
    if with_rating:
        heads["rating"] = list(RATING_LABELS)
    heads["aspects"] = list(aspects)
    heads["risk"] = list(RISK_LABELS)
    kinds = {h: MULTILABEL if h in ("aspects", "risk") else MULTICLASS for h in heads}
    return heads, kinds


def build_review_model(
    text_encoder: TextEncoder,
    aspects: Sequence[str],
    mode: str = "frozen",
    with_rating: bool = True,
    sentiment_labels: Sequence[str] | None = None,
    **kwargs: Any,
) -> ReviewModel:
    """A fresh (untrained) model with the standard heads over ``aspects`` (sentiment over
    ``sentiment_labels``, by default negative / neutral / positive).

    In ``finetune`` mode the encoder is copied first, so a shared (cached)
    encoder is never changed.
    """
    if mode not in ("frozen", "finetune"):
        raise ValueError(f"mode must be 'frozen' or 'finetune', got {mode!r}")
    if mode == "finetune":
        text_encoder = _private_fp32_copy(text_encoder, kwargs.get("max_length"))
    heads, kinds = default_heads(aspects, with_rating, sentiment_labels)
    return ReviewModel(text_encoder, heads, kinds, mode=mode, **kwargs)


def _private_fp32_copy(text_encoder: TextEncoder, max_length: int | None = None) -> TextEncoder:
    """A float32 copy of an encoder whose weights can be trained without touching the original
    (cutting texts at ``max_length`` tokens, so cached vectors match ``forward_logits``)."""
    fresh = TextEncoder(
        model_dir=str(
            text_encoder.model_dir_ if hasattr(text_encoder, "model_dir_") else text_encoder.model_dir
        ),
        device=text_encoder.device,
        dtype="float32",
        max_length=int(max_length or text_encoder.max_length),
        batch_tokens=text_encoder.batch_tokens,
        threads=text_encoder.threads,
    )
    return fresh.load()  # its own model instance: training it leaves the original alone


def load_review_model(path: str | Path, device: str = "cpu") -> ReviewModel:
    """Load a model saved by :meth:`ReviewModel.save` (eval mode).

    Frozen-mode models re-load the encoder they were trained on and refuse a
    different one (the cached embeddings would not match).
    """
    from safetensors.torch import load_file

    src = Path(path)
    if not (src / "config.json").is_file():
        raise ValueError(f"not a saved review model (no config.json): {src}")
    cfg = json.loads((src / "config.json").read_text(encoding="utf-8"))
    enc_cfg = cfg["encoder"]
    if cfg["mode"] == "finetune":
        model_dir, dtype = str(src / "encoder"), "float32"
    else:
        model_dir, dtype = enc_cfg["model_dir"] or default_model_dir(), enc_cfg["dtype"]
    encoder = TextEncoder(model_dir=model_dir, device=device, dtype=dtype, max_length=enc_cfg["max_length"])
    if cfg["mode"] != "finetune" and encoder.identify() != enc_cfg["encoder_id"]:
        raise ValueError(
            f"the encoder changed since this model was trained "
            f"({encoder.identify()} != {enc_cfg['encoder_id']}): train it again"
        )
    model = ReviewModel(
        encoder,
        cfg["heads"],
        cfg["head_kinds"],
        use_deep=cfg["use_deep"],
        lexical_dim=cfg["lexical_dim"],
        lexical_buckets=cfg["lexical_buckets"],
        max_length=cfg["max_length"],
        mode=cfg["mode"],
        meta=cfg["meta"],
    )
    model.model_id_ = cfg["model_id"]
    missing, unexpected = model.load_state_dict(load_file(str(src / WEIGHTS_FILE)), strict=False)
    missing = [k for k in missing if not k.startswith("encoder.")]
    if missing or unexpected:
        raise ValueError(f"saved weights do not fit the model: missing {missing}, unexpected {unexpected}")
    return model.to(encoder.device_).eval()


def read_metrics(path: str | Path) -> dict:
    """The metrics.json saved next to a model ({} when absent)."""
    f = Path(path) / "metrics.json"
    return json.loads(f.read_text(encoding="utf-8")) if f.is_file() else {}
