"""Recommend: items per customer (ALS on order history, review text for reviewers without orders)
with the reason for each."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cx_core.ingest.datasets import dataset_version
from cx_core.recommend.store import load_recommendations, purchase_history, recommended_customers
from cx_core.recommend.text import is_anonymous, item_label, reviewer_label
from cx_core.recommend.text_inputs import reviewer_reviews
from cx_core.store import runs
from pages import _recommend_segment
from pages._run import missing_note, run_stage, running_notice
from pages._ui import get_workspace, how_computed, md, show_table

st.title("Recommend")
running_notice("recommend")
ws = get_workspace()
if st.radio("Recommend for", ["Customer", "Segment"], horizontal=True, key="recommend_mode") == "Segment":
    _recommend_segment.render(ws)
    st.stop()


METHODS = {
    "auto": "Auto: ALS for customers with orders, review text for the others",
    "text": "Text: items praised like the reviews the customer praised",
    "als": "ALS (collaborative filtering on orders)",
    "popularity": "Popularity (baseline)",
}
SOURCES = {"als": "order history", "popularity": "best sellers", "text": "review text"}


@st.cache_data(show_spinner=False)
def _customers(run_id: str) -> list[str]:
    return recommended_customers(ws, run_id)


def _compute_form() -> None:
    with st.form("recommend"):
        st.markdown("**Compute recommendations** for every customer from the loaded orders and reviews")
        c1, c2 = st.columns(2)
        method = c1.selectbox("Method", list(METHODS), format_func=METHODS.get, key="recommend_method")
        n = c2.number_input("Items per customer", 1, 50, 10)
        if st.form_submit_button("Compute recommendations", type="primary"):
            if run_stage("recommend", {"method": method, "n": int(n)}) is not None:
                st.rerun()


run = runs.latest(ws, runs.StageName.RECOMMEND)
missing = missing_note("recommend", "Recommendations")
if missing:  # no button without its inputs: say what is missing instead
    st.info(missing)
    if run is None:
        st.stop()
else:
    with st.expander("Compute", expanded=run is None):
        _compute_form()
if run is None:
    st.info("No recommendations yet: press **Compute recommendations** (seconds).")
    st.stop()

run_id, metrics, data_key = run.run_id, run.metrics, run.dataset_key
if data_key != dataset_version(ws):
    st.warning("Data changed since these recommendations were computed: recompute to include it.")
st.caption(
    f"{metrics.get('customers', 0):,} customers, {metrics.get('items', 0):,} items. Items a customer "
    "already bought are never recommended, and cancelled or returned purchases are not counted."
)
how_computed(
    "Customers with orders: ALS (collaborative filtering) on who bought what; customers with reviews "
    "only: items praised in reviews like theirs; everyone else: best sellers.",
    f"Run {md(run_id)}, {metrics.get('seconds', 0)} s.",
)
customers = _customers(run_id)
cid = st.selectbox("Customer", customers, key="recommend_pick", format_func=reviewer_label)
if cid:
    recs = load_recommendations(ws, run_id, cid)
    st.subheader(f"For {md(reviewer_label(cid))}")
    for r in recs.itertuples():
        src = SOURCES.get(getattr(r, "source", None) or "", "")
        name, item_id = item_label(r.item, r.item_name)
        st.markdown(
            f"{r.rank}. **{md(name)}**"
            + (f" ({md(item_id)})" if item_id else "")
            + f": {md(r.reason)}"
            + (f" _(from {src})_" if src else "")
        )
    bought = pd.DataFrame() if is_anonymous(cid) else purchase_history(ws, cid)
    if not bought.empty:
        st.markdown("**What they bought**")
        show_table(bought, "recommend_bought")
    else:
        st.markdown("**What they praised** (their reviews)")
        for rv in reviewer_reviews(ws, cid).itertuples():
            stars = f"{rv.rating:g}★ " if pd.notna(rv.rating) else ""
            title = f"**{md(rv.title)}** " if isinstance(rv.title, str) and rv.title else ""
            st.markdown(f"- {stars}{md(rv.item or '')}: {title}{md(rv.text)}")
