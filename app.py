"""CX Insight: the Streamlit entry point. Run with `streamlit run app.py`."""

from __future__ import annotations

import streamlit as st

from pages._auth import gate_pages, page_allowed
from pages._run import first_start, jobs_sidebar

st.set_page_config(page_title="CX Insight", page_icon="📊", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/data.py", title="Data", icon=":material/folder_open:"),
    st.Page("pages/customers.py", title="Customers", icon=":material/group:"),
    st.Page("pages/segments.py", title="Segments", icon=":material/bubble_chart:"),
    st.Page("pages/reviews.py", title="Reviews", icon=":material/reviews:"),
    st.Page("pages/model.py", title="Model", icon=":material/model_training:"),
    st.Page("pages/themes.py", title="Themes", icon=":material/topic:"),
    st.Page("pages/explain.py", title="Explain", icon=":material/manage_search:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
    st.Page("pages/recommend.py", title="Recommend", icon=":material/shopping_cart:"),
]

# Decided before navigation: served beyond loopback without login, or not signed in, a session
# gets only the setup / sign-in page (the address comes from server.address).
page = st.navigation(gate_pages(PAGES, st.get_option("server.address")))
if page_allowed():
    first_start()  # a brand-new workspace: demo store loaded, then analysed as a job (once)
    jobs_sidebar()  # every running job, on every page, in every tab
page.run()
