"""Model: train the review model, compare it with the TF-IDF baseline, edit the aspect taxonomy."""

from __future__ import annotations

import streamlit as st

from cx_core.ingest.datasets import count_rows, dataset_labels
from cx_core.reviews.modes import MODES, describe_seconds, estimate_modes, mode_results, winner
from cx_core.reviews.report import (
    confusion_frame,
    data_notes,
    evaluation_table,
    label_table,
    language_warning,
    per_class_table,
)
from cx_core.reviews.store import latest_model
from cx_core.reviews.taxonomy import (
    TaxonomyError,
    add_aspect,
    apply_starter,
    current_starter,
    remove_aspect,
    reset_taxonomy,
    starter_coverage,
    taxonomy_frame,
)
from pages._run import embedding_estimate, run_stage, running_notice
from pages._ui import get_config, get_workspace, how_computed, md

st.title("Model")
running_notice("review_model")
st.caption(
    "One model scores every review: sentiment, star rating, aspects and complaint risk. "
    "It learns sentiment from a sentiment label column (binary or 3-class) or your star "
    "ratings; without enough of either, sentiment is zero-shot."
)
ws = get_workspace()
cfg = get_config()


def _mode_estimates() -> dict[str, float | None]:
    """Seconds each training mode should take here (measured rates; None: not measured yet)."""
    from cx_core.text.embeddings import make_encoder
    from cx_core.text.speed import estimate

    try:
        speed = estimate(ws, make_encoder(cfg.model).identify())
    except (OSError, ValueError):
        return {m: None for m in MODES}
    return estimate_modes(ws, cfg.reviews, count_rows(ws, "reviews"), speed.seconds, speed.rate)


def _mode_table(est: dict[str, float | None], results: dict, win: str | None) -> None:
    st.dataframe(
        [
            {
                "mode": m,
                "estimated time here": describe_seconds(est.get(m)),
                "last macro-F1": f"{results[m].macro_f1:.3f}" if m in results and results[m].macro_f1 else "",
                "won on this data": "✓" if m == win else "",
            }
            for m in MODES
        ],
        hide_index=True,
        width="stretch",
    )


def _train_form() -> None:
    labels = {"all reviews": "all reviews", **dataset_labels(ws, "reviews")}
    est, results = _mode_estimates(), mode_results(ws)
    win = winner(results)
    st.markdown(
        "**Modes**: *frozen* trains the heads on cached MiniLM embeddings; *finetune* also trains "
        f"the encoder's top {cfg.reviews.finetune_layers} block(s) on states of the lower blocks "
        f"computed once (at most {cfg.reviews.finetune_epochs} epochs, "
        f"{cfg.reviews.finetune_minutes:g} min), keeping the epoch that scores best on a slice of "
        "the training reviews. "
        + ("The mode that scored best here is preselected." if win else "Train both to compare them.")
    )
    _mode_table(est, results, win)
    with st.form("train_model"):
        c1, c2 = st.columns(2)
        modes = list(MODES)
        mode = c1.selectbox(
            "Mode",
            modes,
            index=modes.index(win or cfg.reviews.mode),
            format_func=lambda m: f"{m} ({describe_seconds(est.get(m))})",
            key="train_mode",
        )
        dataset = c2.selectbox("Reviews", list(labels), format_func=labels.__getitem__)
        st.caption(
            md(
                embedding_estimate() + " Training runs as a job: you can leave this page or close "
                "the tab; the sidebar shows its progress on every page."
            )
        )
        if st.form_submit_button("Train model", type="primary"):
            done = run_stage(
                "review_model", {"mode": mode, "dataset_id": None if dataset == "all reviews" else dataset}
            )
            if done is not None:
                st.success(f"Trained model {md(done.result_run_id)}.")


def _evaluation(found: dict) -> None:
    m = found["metrics"]
    st.subheader("Held-out evaluation")
    st.caption(
        f"Trained on {m.get('n_train', 0):,} reviews and checked on {m.get('n_test', 0):,} other reviews "
        "it never saw, next to a simple word-count model trained on the same reviews."
    )
    how_computed(
        f"Model {md(found['model_id'])}: {md(m.get('mode', ''))} mode, sentiment "
        f"{md(m.get('sentiment_method', ''))}. The baseline is TF-IDF word 1-2 grams + logistic regression "
        "with balanced class weights and C chosen by cross-validation, on the same split; exact-duplicate "
        "texts are removed before the split. Aspects and risk are compared with their weak labels."
    )
    if language_warning(m):
        st.warning(md(language_warning(m)))
    if m.get("note"):
        st.info(md(m["note"]))
    for note in data_notes(m):
        st.caption(md(note))
    st.dataframe(evaluation_table(m), hide_index=True, width="stretch")
    if "sentiment" in m:
        st.markdown("**Sentiment per class** (precision, recall, F1 on the held-out reviews)")
        st.dataframe(per_class_table(m), hide_index=True, width="stretch")
    if "sentiment" in m:
        c1, c2 = st.columns(2)
        c1.markdown("**Sentiment confusion, ours**")
        c1.dataframe(confusion_frame(m, "sentiment"), width="stretch")
        if "baseline" in m:
            c2.markdown("**Sentiment confusion, baseline**")
            c2.dataframe(confusion_frame(m, "sentiment", baseline=True), width="stretch")
    with st.expander("Aspects and risk flags, per label"):
        for head in ("aspects", "risk"):
            st.dataframe(label_table(m, head), hide_index=True, width="stretch")


def _coverage_rows() -> list:
    """Starter lists' coverage of the reviews (measured once per review count, ~5 s)."""
    key = ("starter_coverage", count_rows(ws, "reviews"))
    if st.session_state.get("_starter_key") != key:
        st.session_state["_starter_rows"] = starter_coverage(ws)
        st.session_state["_starter_key"] = key
    return st.session_state["_starter_rows"]


def _starter_lists() -> None:
    ranked = _coverage_rows()
    if not ranked:
        return
    current = current_starter(ws)
    st.markdown(
        "**Industry starter lists**: share of your reviews that name at least one of "
        "each list's seed phrases. The best one is chosen automatically until you edit "
        "the list or pick one."
    )
    st.dataframe(
        [
            {
                "list": c.name,
                "coverage": f"{c.coverage:.0%}",
                "aspects": c.aspects,
                "in use": "✓" if c.name == current else "",
                "most named": ", ".join(f"{a} {v:.0%}" for a, v in c.top_aspects.items()),
            }
            for c in ranked
        ],
        hide_index=True,
        width="stretch",
    )
    c1, c2 = st.columns([3, 1])
    names = [c.name for c in ranked]
    pick = c1.selectbox(
        "Use another list", names, key="starter_pick", index=names.index(current) if current in names else 0
    )
    if c2.button("Use this list", key="starter_use"):
        apply_starter(ws, pick)
        st.rerun()


def _taxonomy_editor() -> None:
    st.subheader("Aspect taxonomy")
    st.caption(
        "Aspects the model detects, each with seed phrases that mention it. Retrain the model after a change."
    )
    _starter_lists()
    with st.form("add_aspect", clear_on_submit=True):
        c1, c2 = st.columns([1, 3])
        name = c1.text_input("Aspect")
        seeds = c2.text_input(
            "Seed phrases (comma separated)",
            help="An existing aspect's name replaces its seed phrases: copy them "
            "from the table below and edit.",
        )
        if st.form_submit_button("Add or update aspect"):
            try:
                stored = add_aspect(ws, name, seeds.split(","))
                st.success(f"Saved aspect {md(stored)}.")
            except TaxonomyError as exc:
                st.error(md(str(exc)))
    frame = taxonomy_frame(ws)
    st.dataframe(frame, hide_index=True, width="stretch")
    c1, c2 = st.columns([3, 1])
    gone = c1.selectbox("Remove an aspect", frame["aspect"].tolist(), key="remove_aspect")
    if c2.button("Remove", key="remove_aspect_btn") and gone:
        remove_aspect(ws, gone)
        st.rerun()
    if st.button("Reset to the default taxonomy", key="reset_taxonomy"):
        reset_taxonomy(ws)
        st.rerun()


with st.expander("Train", expanded=latest_model(ws) is None):
    _train_form()
found = latest_model(ws)
if found is None:
    st.info(
        "No model trained yet: press **Train model** (frozen mode takes about a minute on the "
        "demo store, most of it embedding the reviews once)."
    )
else:
    _evaluation(found)
_taxonomy_editor()
