"""The Overview and Customers pages run under streamlit.testing.v1.AppTest against a fresh workspace
(the shared set-up is in tests/app_fixtures.py; the Data page tests are in test_page_data.py)."""

from __future__ import annotations

from tests.app_fixtures import app_env, new_app  # noqa: F401  (app_env is a fixture)


def test_overview_shows_demo_kpis(app_env):
    at = new_app()
    labels = {m.label: m.value for m in at.metric}
    assert int(labels["Customers"].replace(",", "")) == 600
    assert int(labels["Reviews"].replace(",", "")) > 0
    assert at.title[0].value == "Overview"


def test_customers_page_compute_and_show_profiles(app_env):
    at = new_app()
    at.switch_page("pages/customers.py").run()
    assert not at.exception, at.exception
    assert any("No profiles yet" in i.value for i in at.info)
    at.button[0].click().run()  # the form's "Compute profiles"
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Customers profiled"].replace(",", "")) > 300
    assert float(metrics["Predicted lifetime value (total)"].replace(",", "")) > 0
    table = at.dataframe[0].value
    assert table["Email"].replace("", None).dropna().str.contains("•••").all()
    assert any("Lifetime value:" in c.value for c in at.caption)  # under "How this was computed"
