"""CX Insight: the Streamlit entry point. Run with `streamlit run app.py`."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="CX Insight", page_icon="📊", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/data.py", title="Data", icon="📂"),
    st.Page("pages/customers.py", title="Customers", icon="👥"),
    st.Page("pages/segments.py", title="Segments", icon="🧩"),
    st.Page("pages/reviews.py", title="Reviews", icon="💬"),
    st.Page("pages/model.py", title="Model", icon="🧠"),
    st.Page("pages/themes.py", title="Themes", icon="🧵"),
    st.Page("pages/explain.py", title="Explain", icon="🔍"),
    st.Page("pages/export.py", title="Export", icon="📤"),
    st.Page("pages/recommend.py", title="Recommend", icon="🛒"),
]

st.navigation(PAGES).run()
