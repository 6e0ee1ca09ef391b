"""Per-review explanations: Captum integrated gradients and attention rollout."""
