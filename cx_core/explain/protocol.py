"""What an explainer needs from a review model (the contract between scoring and explaining).

The review model (``cx_core.reviews``) implements this; tests may use any small
module that does. Everything the heads see must be computed inside
``forward_logits`` from the token ids, and every input-dependent path must pass
through one of ``attribution_layers()`` (modules whose output is per token,
``(batch, seq, dim)``), so that integrated gradients over those layers are
complete: the attributions sum to ``F(x) - F(baseline)`` up to the convergence
delta.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import torch


@runtime_checkable
class ExplainableModel(Protocol):
    """A review model that can be explained token by token."""

    model_id_: str
    #: head name -> output labels; "multiclass" heads take a softmax over their labels,
    #: "multilabel" heads have one independent logit per label
    heads_: dict[str, list[str]]
    head_kinds_: dict[str, str]
    tokenizer_: Any  # a Hugging Face *fast* tokenizer (offsets, special token ids)
    max_length: int

    def forward_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Logits per head, each ``(batch, n_labels)``; differentiable."""

    def attribution_layers(self) -> Sequence[torch.nn.Module]:
        """Per-token layers whose outputs carry every path from the input ids to the heads."""

    def attention_encoder(self) -> torch.nn.Module:
        """The Hugging Face encoder whose self-attention maps the attention view uses."""
