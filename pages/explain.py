"""Explain: which words made the model score one review the way it did."""

from __future__ import annotations

import streamlit as st

from cx_core.explain import browse, loader
from cx_core.explain.cache import attention_cached, explain_cached, settings_from_config
from cx_core.explain.render import to_html, top_words_figure
from cx_core.ingest.pii import mask_text
from cx_core.store import runs
from pages._run import progress_block, run_stage
from pages._ui import get_config, get_workspace, how_computed, mask_pii_toggle, md, user_errors

PREDICTED = "(predicted label)"

st.title("Explain")
st.caption(
    "Which words made the model read a review the way it did: green words pushed it towards the "
    "label, red words pushed it away. The second view shows which words the model paid most "
    "attention to."
)
HOW = (
    "Integrated gradients (Captum) attribute the model's logit for one label to the words of a "
    "review: the words add up to the logit's change from an empty review, up to the convergence "
    "delta. The attention view is attention rollout over the encoder's layers."
)
cfg = get_config()
ws = get_workspace()


@st.cache_resource(show_spinner="Loading the model")
def _model(key: str):
    """One loaded model per folder (or the zero-shot model) per app process."""
    if key == loader.ZERO_SHOT:
        return loader.zero_shot_model(get_config())
    return loader.load_trained(key)


def _model_picker() -> str | None:
    models = browse.trained_models(ws)
    if not models:
        st.info(
            "No trained review model yet: train one on the **Model** page (or run "
            "`python -m cx_core train`). Until then you can explain sentiment with the "
            "zero-shot model, which needs no training."
        )
    keys = [m.model_dir for m in models] + [loader.ZERO_SHOT]
    names = {m.model_dir: f"{m.model_id} (trained {m.trained_at[:16]})" for m in models}
    names[loader.ZERO_SHOT] = "Zero-shot sentiment (no training)"
    return st.selectbox("Model", keys, format_func=names.get, key="explain_model")


def _review_picker(run: tuple[str, str] | None, mask: bool):
    search = st.text_input("Search review text, or paste a review id", key="explain_search")
    rows = browse.pick_reviews(ws, search, limit=200, run_id=run[0] if run else None)
    if rows.empty:
        st.warning("No review matches that search.")
        return None
    shown = lambda t: mask_text(t) if mask else t
    label = lambda i: shown(str(rows.at[i, "text"]))[:100]  # the text, not its id
    pick = st.selectbox(
        "Review" + (" (most negative first)" if run else ""),
        rows.index,
        format_func=label,
        key="explain_review",
    )
    return rows.loc[pick]


def _scores(run: tuple[str, str] | None, row) -> None:
    stored = None
    if run:
        stored = browse.review_scores_row(ws, run[0], row["dataset_id"], row["review_id"])
    if not stored:
        st.caption("This review has no stored scores yet (score reviews on the **Reviews** page).")
        return
    cols = st.columns(4)
    cols[0].metric("Sentiment", str(stored["sentiment"]))
    cols[1].metric("Sentiment (−1 to +1)", f"{stored['sentiment_score']:+.2f}")
    rating = stored.get("rating_pred")
    no_rating = rating is None or rating != rating  # None or NaN
    cols[2].metric("Predicted rating", "—" if no_rating else f"{rating:.1f}")
    cols[3].metric("Complaint risk", f"{stored['risk']:.0%}" if stored.get("risk") is not None else "—")
    found = stored.get("aspects")
    aspects = ", ".join(md(a) for a in (found if found is not None else []))
    st.caption(f"Aspects: {aspects or 'none'}.")


def _show(result, mask: bool, what: str) -> None:
    expl = result.explanation
    st.html(to_html(expl, mask_pii=mask))
    st.plotly_chart(top_words_figure(expl, mask_pii=mask), width="stretch", key=f"fig_{what}")
    origin = "from the cache" if result.hit else f"computed in {expl.seconds:.1f} s"
    st.caption(f"{expl.n_tokens} words and word pieces, {origin}.")


scored = runs.latest(ws, runs.StageName.REVIEW_SCORES)
run = None if scored is None else (scored.run_id, str(scored.config.get("model_id", "")))
if browse.count_reviews(ws) == 0:
    st.info("No reviews yet: load reviews on the **Data** page.")
    st.stop()
key = _model_picker()
mask = mask_pii_toggle("explain_mask")
row = _review_picker(run, mask)
if row is None or key is None:
    st.stop()
_scores(run, row)
model = None
with user_errors():
    model = _model(key)
if model is None:
    st.stop()
if key == loader.ZERO_SHOT:
    st.warning(
        "Rough and untrained: zero-shot sentiment compares each review with a few label phrases. "
        "It has never seen your data and often misreads sarcasm, negation and strong words. "
        "Train the review model on your ratings (or sentiment labels) for scores and explanations you "
        "can rely on."
    )
    if st.button("Train on your ratings", key="explain_train"):
        done = run_stage("review_model")
        if done is not None:
            st.success(f"Trained model {md(done.result_run_id)}: pick it above.")
c1, c2 = st.columns(2)
head = c1.selectbox("What to explain", list(model.heads_), key="explain_head")
label = c2.selectbox("Label to explain", [PREDICTED, *model.heads_[head]], key="explain_label")
state_key = (model.model_id_, row["dataset_id"], row["review_id"], head, label)
if st.button("Explain this review", type="primary"):
    with user_errors():
        with progress_block("Integrated gradients") as progress:
            target = None if label == PREDICTED else label
            ig = explain_cached(ws, model, str(row["text"]), head, target, settings_from_config(cfg.explain))
            progress(0.7, "Attention rollout")
            att = attention_cached(ws, model, str(row["text"]), cfg.explain.max_length)
        st.session_state["explain_result"] = (state_key, ig, att)
saved = st.session_state.get("explain_result")
if not saved or saved[0] != state_key:
    st.info("Press **Explain this review** (about a second on a CPU; cached afterwards).")
    st.stop()
_, ig, att = saved
expl = ig.explanation
probs = ", ".join(f"{md(k)} {v:.0%}" for k, v in expl.outputs.items())
st.subheader("Words that decided it")
st.markdown(f"Explaining **{md(expl.head)}: {md(expl.target)}** · the model's confidence: {probs}")
if expl.relative_delta is not None and expl.relative_delta > cfg.explain.rel_tol:
    st.warning("For this review the word colours are approximate: read them as a rough guide.")
details = [f"Scored by model {md(run[1])}." if run else "", HOW]
if expl.relative_delta is not None:
    details.append(
        f"Convergence delta: {expl.relative_delta:.0%} of the logit change ({expl.n_steps} steps)."
    )
if abs(expl.outside_gap) > 1e-3:
    details.append(
        f"{expl.outside_gap:+.3f} of the logit change reaches the head outside the "
        "attributed layers and is not split over words."
    )
how_computed(*[d for d in details if d])
_show(ig, mask, "ig")
st.subheader("Where the model looked")
_show(att, mask, "att")
