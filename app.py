"""CX Insight: the Streamlit entry point. Run with `streamlit run app.py`."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="CX Insight", page_icon="📊", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/data.py", title="Data", icon="📂"),
    st.Page("pages/customers.py", title="Customers", icon="👥"),
]

st.navigation(PAGES).run()
