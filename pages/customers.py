"""Customers: RFM profiles and lifetime value per customer, and one customer's history."""

from __future__ import annotations

import streamlit as st

from cx_core.browse import dataset_version
from cx_core.charts import rfm_segment_figure
from cx_core.pii import mask_frame, mask_text
from cx_core.profiles import (ProfileSettings, build_profiles, customer_detail, latest_run,
                              load_profiles)
from pages._ui import get_workspace, mask_pii_toggle, md, user_errors

st.title("Customers")
ws = get_workspace()


@st.cache_data(show_spinner=False)
def _profiles(run_id: str):
    return load_profiles(ws, run_id)


def _compute_form() -> None:
    with st.form("profiles"):
        st.markdown("**Compute customer profiles** from the loaded orders")
        c1, c2 = st.columns(2)
        horizon = c1.number_input("CLV horizon (weeks)", 4, 260, 52, step=4)
        rate = c2.number_input("Yearly discount rate", 0.0, 0.5, 0.10, step=0.01, format="%.2f")
        if st.form_submit_button("Compute profiles", type="primary"):
            with user_errors():
                bar = st.progress(0.0, text="Starting")
                build_profiles(ws, ProfileSettings(int(horizon), float(rate)),
                               lambda f, m: bar.progress(f, text=m))
                bar.empty()
                st.rerun()


run = latest_run(ws)
with st.expander("Settings and recompute", expanded=run is None):
    _compute_form()
if run is None:
    st.info("No profiles yet: press **Compute profiles** (a few seconds).")
    st.stop()

run_id, metrics, data_key = run
if data_key != dataset_version(ws):
    st.warning("Data changed since these profiles were computed: recompute to include it.")
df = _profiles(run_id)
bg = metrics.get("bgnbd", {})
st.caption(f"Method: {md(metrics.get('method', ''))}. Data window {metrics.get('window_start')} → "
           f"{metrics.get('window_end')}. Run {run_id}.")
for w in bg.get("warnings", []):
    st.caption("⚠ " + md(w))

cols = st.columns(4)
cols[0].metric("Customers profiled", f"{len(df):,}")
cols[1].metric("Predicted CLV (total)", f"{df['clv'].sum():,.0f}")
cols[2].metric("Mean P(alive)", f"{df['p_alive'].mean():.2f}")
cols[3].metric("Repeat buyers", f"{(df['frequency'] > 0).mean():.0%}")
st.plotly_chart(rfm_segment_figure(df), width="stretch")

mask = mask_pii_toggle("customers_mask")
view = mask_frame(df, {"name": "name", "email": "email"}) if mask else df
st.dataframe(view, hide_index=True, height=360)

st.subheader("One customer")
cid = st.selectbox("Customer", df["customer_id"].tolist(), key="customer_pick")
if cid:
    detail = customer_detail(ws, cid)
    st.dataframe(df[df["customer_id"] == cid].T.astype(str).rename(columns=lambda c: "value"))
    st.markdown("**Orders**")
    st.dataframe(detail["orders"], hide_index=True)
    st.markdown("**Reviews**")
    reviews = detail["reviews"]
    if mask and not reviews.empty:
        reviews = reviews.assign(text=reviews["text"].map(mask_text))
    st.dataframe(reviews, hide_index=True)
