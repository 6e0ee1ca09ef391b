"""Customers: RFM profiles and lifetime value per customer, and one customer's history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cx_core.customers.churn import evaluation_line
from cx_core.customers.profiles import ProfileSettings, customer_detail, load_profiles
from cx_core.customers.text_profile import signal_rows
from cx_core.ingest.datasets import dataset_version
from cx_core.ingest.pii import mask_frame, mask_text
from cx_core.plots.charts import rfm_segment_figure
from cx_core.store import runs
from pages._run import missing_inputs, run_stage, running_notice
from pages._ui import get_config, get_workspace, mask_pii_toggle, md

st.title("Customers")
running_notice("profiles")
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
            settings = ProfileSettings.from_config(
                get_config().customers, horizon_weeks=int(horizon), annual_discount_rate=float(rate)
            )
            if run_stage("profiles", settings) is not None:
                st.rerun()


run = runs.latest(ws, runs.StageName.PROFILES)
missing = missing_inputs("profiles")
if missing:  # no button without its inputs: say what is missing instead
    st.info(md(missing[0].upper() + missing[1:] + "."))
    if run is None:
        st.stop()
else:
    with st.expander("Settings and recompute", expanded=run is None):
        _compute_form()
if run is None:
    st.info("No profiles yet: press **Compute profiles** (a few seconds).")
    st.stop()

run_id, metrics, data_key = run.run_id, run.metrics, run.dataset_key
if data_key != dataset_version(ws):
    st.warning("Data changed since these profiles were computed: recompute to include it.")
df = _profiles(run_id)
bg = metrics.get("bgnbd", {})
st.caption(
    f"Method: {md(metrics.get('method', ''))}. Data window {metrics.get('window_start')} → "
    f"{metrics.get('window_end')}. Run {run_id}."
)
for w in bg.get("warnings", []):
    st.caption("⚠ " + md(w))
churn = metrics.get("churn", {})
st.caption(f"Churn: {md(churn.get('window', 'not scored'))}. {md(evaluation_line(churn))}")

cols = st.columns(5)
cols[0].metric("Customers profiled", f"{len(df):,}")
cols[1].metric("Predicted CLV (total)", f"{df['clv'].sum():,.0f}")
cols[2].metric("Mean P(alive)", f"{df['p_alive'].mean():.2f}")
cols[3].metric("Repeat buyers", f"{(df['frequency'] > 0).mean():.0%}")
cols[4].metric(
    "Likely to churn (≥ 50%)",
    f"{(df['churn_prob'] >= 0.5).mean():.0%}" if df["churn_prob"].notna().any() else "—",
)
st.plotly_chart(rfm_segment_figure(df), width="stretch")

mask = mask_pii_toggle("customers_mask")
view = mask_frame(df, {"name": "name", "email": "email"}) if mask else df
st.dataframe(view, hide_index=True, height=360)

st.subheader("One customer")
cid = st.selectbox("Customer", df["customer_id"].tolist(), key="customer_pick")
if cid:
    detail = customer_detail(ws, cid)
    row = df[df["customer_id"] == cid].iloc[0]
    c1, c2, c3 = st.columns(3)
    c1.metric("Churn probability", "—" if pd.isna(row["churn_prob"]) else f"{row['churn_prob']:.0%}")
    c2.metric("Predicted CLV", "—" if pd.isna(row["clv"]) else f"{row['clv']:,.0f}")
    c3.metric("RFM segment", str(row["rfm_segment"]))
    if isinstance(row["churn_window"], str):
        st.caption(f"Churn = {md(row['churn_window'])}. Method: {md(row['churn_method'])}.")
    st.markdown("**What they write**")
    st.dataframe(signal_rows(row.to_dict()), hide_index=True)
    st.dataframe(view[view["customer_id"] == cid].T.astype(str).rename(columns=lambda c: "value"))
    st.markdown("**Orders**")
    st.dataframe(detail["orders"], hide_index=True)
    st.markdown("**Reviews**")
    reviews = detail["reviews"]
    if mask and not reviews.empty:
        reviews = reviews.assign(text=reviews["text"].map(mask_text))
    st.dataframe(reviews, hide_index=True)
