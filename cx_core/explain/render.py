"""Explanations as escaped HTML (the review with coloured words) and as a plotly bar chart.

Every piece of user text (the review, head and label names) is escaped with
:func:`cx_core.safe.html_escape` before it is placed in HTML; the only markup
is the fixed spans built here. The figure escapes its labels too (plotly reads
a subset of HTML in text).
"""

from __future__ import annotations

import plotly.graph_objects as go

from cx_core.explain.integrated import IG_METHOD, Explanation
from cx_core.explain.words import content_words
from cx_core.ingest.pii import EMAIL_RE, PHONE_RE, is_phone
from cx_core.safe import html_escape

POSITIVE = (22, 163, 74)  # green: pushed the explained logit up
NEGATIVE = (220, 38, 38)  # red: pushed it down
ATTENTION = (37, 99, 235)  # blue: attention share (no direction)
MAX_ALPHA = 0.8


def display_text(text: str, mask_pii: bool) -> str:
    """``text`` with emails and phone numbers blotted out character by character (same length)."""
    if not mask_pii:
        return text
    chars = list(text)
    spans = [m.span() for m in EMAIL_RE.finditer(text)]
    spans += [m.span() for m in PHONE_RE.finditer(text) if is_phone(m.group(0))]
    for start, end in spans:
        for i in range(start, end):
            if not chars[i].isspace():
                chars[i] = "\u2022"
    return "".join(chars)


def _scale(expl: Explanation) -> float:
    scores = [abs(w.score) for w in expl.words if w.score is not None]
    return max(scores, default=0.0)


def word_colour(score: float | None, scale: float, signed: bool = True) -> str:
    """CSS background for a word: red/green (signed) or blue, alpha by |score| / scale."""
    if score is None:
        return "rgba(148,163,184,0.25)"
    if scale <= 0:
        return "transparent"
    rgb = ATTENTION if not signed else (POSITIVE if score >= 0 else NEGATIVE)
    alpha = min(1.0, abs(score) / scale) * MAX_ALPHA
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.3f})"


def _gap(text: str) -> str:
    return html_escape(text).replace("\r\n", "\n").replace("\n", "<br>")


def highlighted_text(expl: Explanation, mask_pii: bool = False) -> str:
    """The review as HTML: each word in a span coloured by its score, everything escaped."""
    signed = expl.method == IG_METHOD
    scale = _scale(expl)
    text = display_text(expl.text, mask_pii)
    parts, pos = [], 0
    for w in expl.words:
        word = html_escape(text[w.start : w.end])
        parts.append(_gap(text[pos : w.start]))
        tip = "not seen by the model (text truncated)" if w.score is None else f"{w.score:+.4f}"
        parts.append(
            f'<span style="background:{word_colour(w.score, scale, signed)};'
            f'border-radius:3px;padding:1px 2px" title="{word}: {tip}">{word}</span>'
        )
        pos = w.end
    parts.append(_gap(text[pos:]))
    return "".join(parts)


def legend(expl: Explanation) -> str:
    """One escaped paragraph saying what the colours mean, with the convergence delta."""
    if expl.method != IG_METHOD:
        text = (
            "Blue: share of the model's attention (rollout over all layers, averaged over "
            "heads); it says where the model looked, not in which direction. "
            f"Special tokens hold {expl.special_score:.0%} of it."
        )
        return f'<p style="font-size:0.85rem;opacity:0.8">{html_escape(text)}</p>'
    label = f"{expl.head}: {expl.target}"
    rel = expl.relative_delta
    text = (
        f"Green words raised, red words lowered the logit of \u00ab{label}\u00bb "
        f"(the score before softmax/sigmoid). Logit {expl.logit:+.3f} vs "
        f"{expl.baseline_logit:+.3f} for the baseline (all words replaced by [PAD]); "
        f"the words add up to {expl.total:+.3f}. Convergence delta {expl.delta:+.4f}"
        + (f" ({rel:.1%} of the gap)" if rel is not None else "")
        + f", {expl.n_steps} integration steps."
    )
    return f'<p style="font-size:0.85rem;opacity:0.8">{html_escape(text)}</p>'


def to_html(expl: Explanation, mask_pii: bool = False) -> str:
    """The whole explanation block: highlighted review, truncation note and legend (escaped).

    ``mask_pii`` blots out emails and phone numbers in what is shown (the model
    read the original text).
    """
    note = ""
    if expl.truncated:
        note = f'<p style="font-size:0.85rem;opacity:0.8">{html_escape(_truncation_note(expl))}</p>'
    body = highlighted_text(expl, mask_pii)
    return f'<div class="cx-explain" style="line-height:1.9;font-size:1rem">{body}</div>{note}{legend(expl)}'


def _truncation_note(expl: Explanation) -> str:
    return (
        f"The review is longer than the model reads: only its first {expl.n_tokens} tokens "
        "were used; the grey words were not seen."
    )


def top_words_figure(expl: Explanation, k: int = 15, mask_pii: bool = False) -> go.Figure:
    """Horizontal bars of the ``k`` words with the largest |score| (labels escaped); punctuation,
    HTML entities and special tokens are never listed."""
    text = display_text(expl.text, mask_pii)
    scored = [w for w in content_words(expl.text, expl.words) if w.score is not None]
    ranked = sorted(scored, key=lambda w: abs(w.score), reverse=True)[:k]
    ranked.reverse()  # largest on top
    signed = expl.method == IG_METHOD
    ids = [f"w{i}" for i in range(len(ranked))]
    colours = [f"rgb{(POSITIVE if w.score >= 0 else NEGATIVE) if signed else ATTENTION}" for w in ranked]
    fig = go.Figure(
        go.Bar(
            x=[w.score for w in ranked],
            y=ids,
            orientation="h",
            marker_color=colours,
            customdata=[html_escape(text[w.start : w.end]) for w in ranked],
            hovertemplate="%{customdata}: %{x:.4f}<extra></extra>",
        )
    )
    title = (
        f"Top words for {expl.head}: {expl.target} (attribution to the logit)"
        if signed
        else "Top words by attention share"
    )
    fig.update_layout(
        title=html_escape(title),
        height=max(220, 28 * len(ranked) + 90),
        margin=dict(l=10, r=10, t=50, b=30),
        xaxis_title="attribution" if signed else "share",
        yaxis=dict(
            tickmode="array", tickvals=ids, ticktext=[html_escape(text[w.start : w.end]) for w in ranked]
        ),
    )
    return fig
