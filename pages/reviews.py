"""Reviews: every review with its sentiment, aspects and risk; filter, sort, score."""

from __future__ import annotations

import streamlit as st

from cx_core.ingest.pii import mask_text
from cx_core.reviews.browse import (
    ReviewFilter,
    aspect_names,
    count_reviews,
    date_bounds,
    filter_reviews,
    segment_options,
    unscored_reviews,
)
from cx_core.reviews.model import SENTIMENT_LABELS
from cx_core.reviews.store import latest_model_dir
from cx_core.store import runs
from pages._run import embedding_estimate, missing_note, run_stage, running_notice
from pages._ui import get_config, get_workspace, how_computed, mask_pii_toggle, md, show_table, user_errors

st.title("Reviews")
running_notice("review_scores", "review_model")
ws = get_workspace()
cfg = get_config()


def _score_button(label: str, primary: bool) -> None:
    """Score every review (a model is trained first when there is none: the stage needs one)."""
    if st.button(label, type="primary" if primary else "secondary", key="score_reviews"):
        if latest_model_dir(ws) is None and run_stage("review_model") is None:
            return
        if run_stage("review_scores") is not None:
            st.rerun()


run = runs.latest(ws, runs.StageName.REVIEW_SCORES)
missing = missing_note("review_model", "Scoring reviews")
if missing and run is None:  # no button without its inputs: say what is missing instead
    st.info(missing)
    st.stop()
if run is None:
    st.info(
        "No review scores yet. **Score reviews** trains a model first when there is none, then "
        "scores every review, as a job that goes on when you leave the page."
    )
    st.caption(md(embedding_estimate()))
    _score_button("Score reviews", True)
    st.stop()

run_id = run.run_id
counts = count_reviews(ws, run_id)
labels = run.config.get("sentiment_labels") or SENTIMENT_LABELS  # 2 for a binary model
cols = st.columns(1 + len(labels))
cols[0].metric("Scored reviews", f"{sum(counts.values()):,}")
for col, label in zip(cols[1:], labels):
    col.metric(label.capitalize(), f"{counts.get(label, 0):,}")
st.caption(f"Scored {run.finished_at:%Y-%m-%d %H:%M}.")
how_computed(
    "One review model reads each review and gives its sentiment (negative, neutral, positive and a "
    "score from −1 to +1), a predicted star rating, the aspects it mentions and a complaint risk.",
    f"Run {md(run_id)} with model {md(run.config.get('model_id', '?'))}, sentiment method "
    f"{md(run.config.get('sentiment_method', '?'))}.",
)
new_reviews = unscored_reviews(ws, run_id)
if new_reviews:
    st.warning(
        f"Data changed since these scores were computed: {new_reviews:,} "
        f"{'review is' if new_reviews == 1 else 'reviews are'} not scored yet. "
        "Score again to include the new reviews."
    )
_score_button("Score again with the newest model", False)

with st.expander("Filters", expanded=True):
    c1, c2, c3 = st.columns(3)
    sentiments = c1.multiselect("Sentiment", labels, key="rv_sentiment")
    lo, hi = c2.slider("Sentiment score", -1.0, 1.0, (-1.0, 1.0), step=0.05, key="rv_score")
    aspects = aspect_names(ws, run_id)
    aspect = c3.selectbox("Aspect", ["any", *aspects], key="rv_aspect")
    c4, c5 = st.columns(2)
    segs = segment_options(ws)
    segment_id = None
    if segs.empty:
        c4.caption("Segments: none computed yet (the Segments page builds them).")
    else:
        names = {f"{int(r.segment_id)}: {r.name}": int(r.segment_id) for r in segs.itertuples()}
        picked = c4.selectbox("Segment", ["any", *names], key="rv_segment")
        segment_id = names.get(picked)
    first, last = date_bounds(ws)
    dates = c5.date_input("Dates", (first, last), key="rv_dates") if first else ()
mask = mask_pii_toggle("rv_mask")
f = ReviewFilter(
    sentiments=tuple(sentiments),
    score_min=lo,
    score_max=hi,
    aspect=None if aspect == "any" else aspect,
    segment_id=segment_id,
    date_from=dates[0] if len(dates) > 0 else None,
    date_to=dates[1] if len(dates) > 1 else None,
    limit=cfg.ui.sample_rows * 20,
)
with user_errors():
    df = filter_reviews(ws, run_id, f)
    if mask:
        df["text"] = df["text"].map(mask_text)
        df["title"] = df["title"].map(mask_text)
    st.caption(
        f"{len(df):,} reviews shown (most negative first, at most {f.limit:,}); "
        "click a column header to sort."
    )
    show_table(df, "reviews_table", width="stretch")
