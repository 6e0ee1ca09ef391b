"""Per-review explanations: Captum integrated gradients and attention rollout.

``integrated.explain_review`` (which words raised or lowered a head's logit),
``rollout.explain_attention`` (where the encoder looked), ``render`` (escaped
HTML and a plotly figure), ``cache`` (the ``explanations`` table), ``browse`` and
``loader`` (what the Explain page picks from). ``protocol.ExplainableModel`` is
the contract a review model implements to be explained.
"""
