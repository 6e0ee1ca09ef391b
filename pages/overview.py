"""Overview: headline numbers and monthly activity for what is loaded."""

from __future__ import annotations

import streamlit as st

from cx_core.browse import dataset_version, monthly_activity, overview_kpis
from cx_core.charts import activity_figure
from pages._ui import get_workspace

st.title("Overview")
ws = get_workspace()


@st.cache_data(show_spinner=False)
def _kpis(version: str) -> dict:
    return overview_kpis(ws)


@st.cache_data(show_spinner=False)
def _activity(version: str):
    return monthly_activity(ws)


version = dataset_version(ws)
k = _kpis(version)
if not any(k[x] for x in ("customers", "orders", "reviews")):
    st.info("No data loaded yet. Open the **Data** page to upload customers, orders or reviews.")
    st.stop()

cols = st.columns(5)
cols[0].metric("Customers", f"{k['customers']:,}")
cols[1].metric("Orders", f"{k['orders']:,}")
cols[2].metric("Revenue", f"{k['revenue']:,.0f}")
cols[3].metric("Reviews", f"{k['reviews']:,}")
cols[4].metric("Mean rating", "–" if k["mean_rating"] is None else f"{k['mean_rating']:.2f}")
st.plotly_chart(activity_figure(_activity(version)), width="stretch")
st.caption("Review scoring, customer profiles and segments are computed from the other pages.")
