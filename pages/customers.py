"""Customers: RFM profiles and lifetime value per customer, and one customer's history."""

from __future__ import annotations

import streamlit as st

from cx_core.customers.churn import evaluation_line
from cx_core.customers.profiles import ProfileSettings, customer_detail, load_profiles
from cx_core.customers.text_profile import signal_rows
from cx_core.ingest.datasets import dataset_version
from cx_core.ingest.pii import mask_frame, mask_text
from cx_core.plots.charts import rfm_segment_figure
from cx_core.plots.format import fmt_value, money, pct, readable_frame
from cx_core.store import runs
from pages._run import missing_inputs, run_stage, running_notice
from pages._ui import (
    currency,
    get_config,
    get_workspace,
    how_computed,
    mask_pii_toggle,
    md,
    show_table,
)

#: the columns a marketer reads first in the customer table
FIRST = (
    "customer_id",
    "name",
    "email",
    "rfm_segment",
    "n_orders",
    "revenue",
    "aov",
    "recency_days",
    "clv",
    "churn_prob",
    "p_alive",
)
CHURN_HELP = "Share of profiled customers whose chance of churning is 50 % or more."

st.title("Customers")
running_notice("profiles")
ws = get_workspace()


@st.cache_data(show_spinner=False)
def _profiles(run_id: str):
    return load_profiles(ws, run_id)


def _window_text(churn: dict) -> str:
    """ "in the next 90 days" from the churn metrics' horizon ("in the churn window" without one)."""
    days = churn.get("horizon_days")
    return f"in the next {days} days" if days else "in the churn window"


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
cur = currency()
bg = metrics.get("bgnbd", {})
churn = metrics.get("churn", {})
st.caption(f"Orders from {metrics.get('window_start')} to {metrics.get('window_end')}.")

cols = st.columns(5)
cols[0].metric("Customers profiled", f"{len(df):,}")
cols[1].metric("Predicted lifetime value (total)", money(df["clv"].sum(), cur))
orders = df["n_orders"].sum() if "n_orders" in df else 0
cols[2].metric("Avg order value", money(df["revenue"].sum() / orders, cur, 2) if orders else "—")
cols[3].metric("Repeat buyers", f"{(df['frequency'] > 0).mean():.0%}")
has_churn = df["churn_prob"].notna().any()
cols[4].metric(
    "Likely to churn", f"{(df['churn_prob'] >= 0.5).mean():.0%}" if has_churn else "—", help=CHURN_HELP
)
if has_churn:
    st.caption(
        md(
            f"Likely to churn = customers whose chance of not buying {_window_text(churn)} is 50 % or "
            "more. 'Chance still active' in the table is a different question (will they ever buy "
            "again?), so a customer can be still active and yet likely to churn in that window."
        )
    )
st.plotly_chart(rfm_segment_figure(df), width="stretch")
how_computed(
    f"Lifetime value: {md(metrics.get('method', ''))}. Run {md(run_id)}.",
    *["⚠ " + md(w) for w in bg.get("warnings", [])],
    f"Churn: {md(churn.get('window', 'not scored'))}. {md(evaluation_line(churn))}",
    "Chance still active = the BG/NBD model's P(alive): the chance that the customer has not "
    "left for good, from how often and how recently they bought. Chance of churning = a "
    "classifier's chance of no purchase in the churn window (or 1 − P(alive) without one).",
)

mask = mask_pii_toggle("customers_mask")
view = mask_frame(df, {"name": "name", "email": "email"}) if mask else df
show_table(
    view[[c for c in FIRST if c in view] + [c for c in view if c not in FIRST]], "customers_table", height=360
)

st.subheader("One customer")
cid = st.selectbox("Customer", df["customer_id"].tolist(), key="customer_pick")
if cid:
    detail = customer_detail(ws, cid)
    row = df[df["customer_id"] == cid].iloc[0]
    c1, c2, c3 = st.columns(3)
    c1.metric("Chance of churning", pct(row["churn_prob"]))
    c2.metric("Predicted lifetime value", fmt_value("clv", row["clv"], cur))
    c3.metric("Customer group", str(row["rfm_segment"]))
    st.markdown("**What they write**")
    st.dataframe(signal_rows(row.to_dict()), hide_index=True)
    one = readable_frame(view[view["customer_id"] == cid], cur).T
    st.dataframe(one.astype(object).where(one.notna(), "—").astype(str).set_axis(["value"], axis=1))
    st.markdown("**Orders**")
    show_table(detail["orders"], "customer_orders")
    st.markdown("**Reviews**")
    reviews = detail["reviews"]
    if mask and not reviews.empty:
        reviews = reviews.assign(text=reviews["text"].map(mask_text))
    show_table(reviews, "customer_reviews")
