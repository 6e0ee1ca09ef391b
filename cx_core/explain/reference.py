"""A small reference model that implements :class:`~cx_core.explain.protocol.ExplainableModel`.

``EncoderHeadModel`` is a Hugging Face encoder, mean pooling over the attention
mask, L2 normalisation (as sentence-transformers' all-MiniLM-L6-v2 does) and
linear heads; optionally a hashed word-piece "lexical" embedding whose
masked mean is concatenated to the sentence embedding (a second attribution
layer, the shape of a wide-and-deep review model). It is what the explainer's
tests and benchmark run on; the app explains the trained review model of
``cx_core.reviews``.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn


class LexicalEmbedding(nn.Module):
    """Per-token embeddings of hashed word-piece ids (one bucket per id modulo ``buckets``).

    Special tokens ([CLS], [SEP], [PAD]) map to the all-zero bucket 0, so they add
    nothing and an all-[PAD] baseline has a zero lexical vector.
    """

    def __init__(self, buckets: int, dim: int, special_ids: Sequence[int]) -> None:
        super().__init__()
        self.buckets = buckets
        self.embedding = nn.Embedding(buckets, dim, padding_idx=0)
        ids = torch.tensor(sorted(set(special_ids)), dtype=torch.long)
        self.register_buffer("special_ids", ids, persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``(batch, seq)`` ids -> ``(batch, seq, dim)`` embeddings."""
        bucket = 1 + input_ids % (self.buckets - 1)
        bucket = torch.where(torch.isin(input_ids, self.special_ids), 0, bucket)
        return self.embedding(bucket)


class EncoderHeadModel(nn.Module):
    """HF encoder + mean pooling (+ optional lexical part) + linear heads (explainable)."""

    def __init__(
        self,
        encoder: nn.Module,
        tokenizer: Any,
        heads: dict[str, list[str]],
        head_kinds: dict[str, str] | None = None,
        max_length: int = 256,
        lexical_dim: int = 0,
        lexical_buckets: int = 4096,
        model_id: str = "",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("the explainer needs a fast (Rust) tokenizer for character offsets")
        self.encoder = encoder
        self.tokenizer_ = tokenizer
        self.max_length = int(max_length)
        self.heads_ = {k: list(v) for k, v in heads.items()}
        self.head_kinds_ = {k: (head_kinds or {}).get(k, "multiclass") for k in heads}
        gen = torch.Generator().manual_seed(seed)
        hidden = int(encoder.config.hidden_size)
        self.lexical = (
            LexicalEmbedding(lexical_buckets, lexical_dim, tokenizer.all_special_ids) if lexical_dim else None
        )
        if self.lexical is not None:
            with torch.no_grad():
                self.lexical.embedding.weight.normal_(0.0, 0.5, generator=gen)
                self.lexical.embedding.weight[0].zero_()
        features = hidden + lexical_dim
        self.head_layers = nn.ModuleDict({k: nn.Linear(features, len(v)) for k, v in heads.items()})
        with torch.no_grad():
            for layer in self.head_layers.values():
                layer.weight.normal_(0.0, 1.0 / features**0.5, generator=gen)
                layer.bias.zero_()
        self.model_id_ = model_id or _weights_id(self)
        self.eval()

    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The pooled features the heads see: unit sentence embedding (+ lexical mean)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
        denom = weights.sum(1).clamp_min(1e-9)
        pooled = nn.functional.normalize((hidden * weights).sum(1) / denom, p=2, dim=1)
        if self.lexical is None:
            return pooled
        lex = (self.lexical(input_ids) * weights).sum(1) / denom
        return torch.cat([pooled, lex], dim=1)

    def forward_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Logits per head, each ``(batch, n_labels)``."""
        feats = self.features(input_ids, attention_mask)
        return {name: layer(feats) for name, layer in self.head_layers.items()}

    def attribution_layers(self) -> list[nn.Module]:
        """The word-piece embedding table (and the lexical embedding, when there is one)."""
        layers: list[nn.Module] = [self.encoder.get_input_embeddings()]
        if self.lexical is not None:
            layers.append(self.lexical)
        return layers

    def attention_encoder(self) -> nn.Module:
        """The HF encoder (its self-attention maps feed the attention view)."""
        return self.encoder

    @torch.no_grad()
    def pooled_features(self, texts: Sequence[str], batch: int = 16) -> np.ndarray:
        """:meth:`features` of ``texts`` as a float32 array (to fit heads on)."""
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tokenizer_(
                list(texts[i : i + batch]),
                truncation=True,
                padding=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
            out.append(self.features(enc["input_ids"], enc["attention_mask"]).float().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    def fit_head(
        self, head: str, features: np.ndarray, labels: np.ndarray, c: float = 1.0
    ) -> "EncoderHeadModel":
        """Set one multiclass head from a multinomial logistic regression on pooled features."""
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(features, labels)
        layer = self.head_layers[head]
        n = layer.out_features
        coef = np.zeros((n, features.shape[1]), dtype=np.float32)
        bias = np.zeros(n, dtype=np.float32)
        if len(lr.classes_) == 2 and lr.coef_.shape[0] == 1:  # binary: +/- half logit
            coef[lr.classes_] = np.stack([-lr.coef_[0] / 2, lr.coef_[0] / 2])
            bias[lr.classes_] = [-lr.intercept_[0] / 2, lr.intercept_[0] / 2]
        else:
            coef[lr.classes_] = lr.coef_
            bias[lr.classes_] = lr.intercept_
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(coef))
            layer.bias.copy_(torch.from_numpy(bias))
        self.model_id_ = _weights_id(self)
        return self


def _weights_id(model: nn.Module) -> str:
    """A content id of the head weights (the encoder is identified by its class and size)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.startswith("encoder."):
            continue
        h.update(name.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    enc = getattr(model, "encoder", None)
    cfg = getattr(enc, "config", None)
    h.update(
        f"{type(enc).__name__}:{getattr(cfg, 'hidden_size', '')}:"
        f"{getattr(cfg, 'num_hidden_layers', '')}:{getattr(cfg, 'vocab_size', '')}".encode()
    )
    return "ref:" + h.hexdigest()[:16]


def load_minilm(model_dir: str = "") -> tuple[nn.Module, Any]:
    """The packaged all-MiniLM-L6-v2 (or ``model_dir``) encoder and fast tokenizer (fp32)."""
    from transformers import AutoModel, AutoTokenizer

    from cx_core.text.encoder import default_model_dir, validate_model_dir

    path = str(validate_model_dir(model_dir or default_model_dir()))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    enc = AutoModel.from_pretrained(
        path, local_files_only=True, attn_implementation="sdpa", dtype=torch.float32
    )
    return enc.eval(), tok


def tiny_bert(tokenizer: Any, seed: int = 0, hidden: int = 32, layers: int = 2) -> nn.Module:
    """A randomly initialised small BERT over ``tokenizer``'s vocabulary (for fast tests)."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=hidden * 2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id or 0,
        attn_implementation="sdpa",
    )
    return BertModel(cfg).eval()
