"""The Segments page's "why" section: the words that pushed each segment's reviews towards
negative or positive sentiment, next to its representative reviews with per-word highlighting."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import streamlit as st

from cx_core.explain.render import highlighted_text
from cx_core.ingest.pii_scrub import mask_name
from cx_core.pipeline.jobs import describe_eta
from cx_core.segments.reasons import (
    NEGATIVE,
    POSITIVE,
    ReasonSettings,
    latest_reasons,
    representative_explanation,
    seconds_per_review,
)
from pages._run import run_stage
from pages._ui import get_config, get_workspace, how_computed, md

#: a first guess of the cost of one review on a 2-core CPU before this machine measured one
FIRST_GUESS_S = 1.0


def _word_list(words: pd.DataFrame, direction: str, mask: bool) -> str:
    rows = words[words["direction"] == direction].sort_values("rank")
    shown = [f"**{md(mask_name(w) if mask else w)}** ({n})" for w, n in zip(rows["word"], rows["reviews"])]
    return ", ".join(shown) or "—"


SAMPLE_SIZES = (25, 50, 100, 200)


def _estimate(info: pd.DataFrame, per_segment: int, per: float | None) -> str:
    """ "up to 430 reviews, about 4 min (measured on this machine)" for one sample size."""
    segments = int((info["segment_id"] >= 0).sum())
    reps = int(info.loc[info["segment_id"] >= 0, "representatives"].map(len).sum())
    reviews = segments * per_segment + reps
    eta = describe_eta(reviews * (per or FIRST_GUESS_S))
    source = "measured on this machine" if per else "a first guess"
    return f"up to {reviews:,} reviews, {eta} ({source})"


def _start(ws, run_id: str, info: pd.DataFrame, label: str, key: str) -> None:
    """A sample-size choice with the estimated time of each, and the button that starts the job."""
    default = ReasonSettings.from_config(get_config()).reviews_per_segment
    sizes = sorted({default, *SAMPLE_SIZES} - {0})
    per_review = seconds_per_review(ws)  # one query, not one per option
    c1, c2 = st.columns([2, 1])
    per = c1.selectbox(
        "Reviews per segment",
        sizes,
        index=sizes.index(default) if default in sizes else 0,
        format_func=lambda n: f"{n} — {_estimate(info, n, per_review)}",
        key=f"{key}_size",
        help="More reviews give steadier word lists and take proportionally longer.",
    )
    if c2.button(label, key=key):
        settings = replace(
            ReasonSettings.from_config(get_config()), segment_run=run_id, reviews_per_segment=per
        )
        if run_stage("segment_reasons", settings) is not None:
            st.rerun()


@st.cache_data(show_spinner=False, max_entries=2000)
def _explained(reasons_run: str, model_id: str, settings_json: str, text: str):
    """A representative's stored explanation; a reasons run never changes, so its id keys the cache
    and reruns of the page do not query again."""
    meta = {"model_id": model_id, "settings": json.loads(settings_json)}
    return representative_explanation(get_workspace(), meta, text)


def _segment_block(ws, meta: dict, row: pd.Series, words: pd.DataFrame, mask: bool) -> None:
    mine = words[words["segment_id"] == row.segment_id]
    sampled = int(mine["sampled"].max()) if len(mine) else 0
    name = mask_name(row["name"]) if mask else row["name"]
    with st.expander(md(f"{row.segment_id} · {name}"), expanded=False):
        c1, c2 = st.columns(2)
        c1.markdown("Pushed towards **negative**: " + _word_list(mine, NEGATIVE, mask))
        c2.markdown("Pushed towards **positive**: " + _word_list(mine, POSITIVE, mask))
        st.caption(f"From {sampled:,} sampled reviews; (n) = reviews with the word.")
        for rep in row.representatives:
            settings = json.dumps(meta.get("settings") or {}, sort_keys=True)
            expl = _explained(meta["run_id"], str(meta.get("model_id")), settings, str(rep.get("text", "")))
            if expl is not None:
                st.html(f'<div style="line-height:1.8">{highlighted_text(expl, mask_pii=mask)}</div>')


def reasons_section(ws, run_id: str, info: pd.DataFrame, mask: bool) -> None:
    """Per segment: the words that pushed its reviews' sentiment, and its representative reviews
    coloured word by word (red: towards negative, green: towards positive); a job button when
    they were not computed for this run yet."""
    st.subheader("Why each segment feels the way it does")
    meta, words = latest_reasons(ws, run_id)
    if meta is None:
        st.info(
            "Find the words that made each segment's reviews positive or negative: the review model "
            "explains a sample of every segment's reviews. It runs in the background; you can leave "
            "this page."
        )
        _start(ws, run_id, info, "Find the words behind each segment", "seg_reasons_run")
        return
    if str(meta.get("model_id", "")).startswith("zero-shot"):
        st.warning(
            "Rough: these words come from the untrained zero-shot sentiment model. Train the review "
            "model on your ratings (Model page) and run this again for words you can rely on."
        )
    for _, row in info[info["segment_id"] >= 0].iterrows():
        _segment_block(ws, meta, row, words, mask)
    m = meta.get("metrics", {})
    how_computed(
        "Integrated gradients (Captum) attribute the review model's positive-minus-negative sentiment "
        "score to each word of a seeded sample of every segment's reviews; a word's figure is its summed "
        "push divided by the sample size, and it must occur in at least two sampled reviews. "
        "Emails, phone numbers, long digit runs and punctuation are never listed.",
        f"{int(m.get('reviews', 0)):,} reviews took {float(m.get('seconds', 0)):,.0f} s "
        f"({float(m.get('seconds_per_review', 0)):.2f} s each) with model {md(str(meta.get('model_id', '')))}.",
    )
    _start(ws, run_id, info, "Compute again", "seg_reasons_again")
